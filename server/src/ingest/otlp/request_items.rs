//! How many records an OTLP request holds, counted before it is decoded.
//!
//! A record costs far more in memory than on the wire: an empty log record is 2 bytes of
//! protobuf and ~200 bytes as a struct, so one 60 MB body of them made the server peak at
//! 6.2 GB, a body of empty gauge points at 2.9 GB (`docs/benchmarks-history.md`, "Request bombs").
//! [`check`] refuses a request with more than [`MAX_RECORDS`] spans, log records or data
//! points (protobuf), or more than [`MAX_JSON_OBJECTS`] JSON objects, before anything is
//! decoded: 413 / `RESOURCE_EXHAUSTED`, counted like any answer
//! (`strata_http_requests_total`, `strata_grpc_requests_total`), and nothing stored.

use super::error::OtlpError;
use crate::ingest::protobuf::{DEPTH, LEN, Reader, WireError};

/// Spans, log records or metric data points one request may hold: ~60× an OpenTelemetry
/// Collector's default batch (8,192), and ~100-250 MB of records at most in memory.
pub(crate) const MAX_RECORDS: usize = 500_000;

/// JSON objects (`{`, counted without parsing) one OTLP/JSON request may hold. A span with
/// ten attributes is ~25 objects, so this admits ~160 k such spans.
pub(crate) const MAX_JSON_OBJECTS: usize = 4_000_000;

/// The fields to descend into at each level of an export request, down to its records.
pub(crate) type Path = &'static [&'static [u32]];

/// `ExportTraceServiceRequest.resource_spans` → `scope_spans` → `spans`.
pub(crate) const SPANS: Path = &[&[1], &[2], &[2]];
/// `ExportLogsServiceRequest.resource_logs` → `scope_logs` → `log_records`.
pub(crate) const LOGS: Path = &[&[1], &[2], &[2]];
/// `ExportMetricsServiceRequest.resource_metrics` → `scope_metrics` → `metrics` → the
/// gauge, sum, histogram, exponential histogram or summary → `data_points`.
pub(crate) const POINTS: Path = &[&[1], &[2], &[2], &[5, 7, 9, 10, 11], &[1]];

/// The records of a protobuf request along `path`, or `None` when its framing is malformed
/// (the decoder then refuses it with its own error).
pub(crate) fn protobuf_records(body: &[u8], path: Path) -> Option<usize> {
    let mut n = 0;
    walk(body, path, &mut n).ok()?;
    Some(n)
}

/// The records before the framing of a protobuf request goes wrong, if it does: a decoder
/// reads them all before it meets the error.
fn records_before_any_error(body: &[u8], path: Path) -> (usize, bool) {
    let mut n = 0;
    let ok = walk(body, path, &mut n).is_ok();
    (n, ok)
}

/// Adds to `n` the fields at the end of `path` below `bytes`.
fn walk(bytes: &[u8], path: Path, n: &mut usize) -> Result<(), WireError> {
    let Some((fields, below)) = path.split_first() else {
        return Ok(());
    };
    let mut r = Reader { rest: bytes };
    while !r.is_empty() {
        let (tag, wire) = r.key()?;
        if wire == LEN && fields.contains(&tag) {
            let inner = r.len_delimited()?;
            if below.is_empty() {
                *n += 1;
            } else {
                walk(inner, below, n)?;
            }
        } else {
            r.skip(tag, wire, DEPTH)?;
        }
    }
    Ok(())
}

/// Refuses a request whose records would be too many to decode: more than [`MAX_RECORDS`]
/// along `path` in a protobuf body, more than [`MAX_JSON_OBJECTS`] objects in a JSON one.
/// A malformed protobuf body is counted up to its error, since a decoder builds everything
/// before it. Returns the protobuf count, if the whole framing could be read.
pub(crate) fn check(
    body: &[u8],
    json: bool,
    path: Path,
    what: &'static str,
) -> Result<Option<usize>, OtlpError> {
    if json {
        let objects = body.iter().filter(|&&b| b == b'{').count();
        if objects > MAX_JSON_OBJECTS {
            return Err(OtlpError::TooManyItems {
                count: objects,
                what: "JSON objects",
                limit: MAX_JSON_OBJECTS,
            });
        }
        return Ok(None);
    }
    let (count, whole) = records_before_any_error(body, path);
    if count > MAX_RECORDS {
        return Err(OtlpError::TooManyItems {
            count,
            what,
            limit: MAX_RECORDS,
        });
    }
    Ok(whole.then_some(count))
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
    use opentelemetry_proto::tonic::metrics::v1::{
        Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics,
        ScopeMetrics, Sum, metric::Data,
    };
    use prost::Message;

    fn metric(data: Data) -> Metric {
        Metric {
            name: "m".into(),
            data: Some(data),
            ..Default::default()
        }
    }

    #[test]
    fn counts_the_data_points_of_every_metric_type() {
        let points = |n| vec![NumberDataPoint::default(); n];
        let req = ExportMetricsServiceRequest {
            resource_metrics: vec![
                ResourceMetrics {
                    scope_metrics: vec![ScopeMetrics {
                        metrics: vec![
                            metric(Data::Gauge(Gauge {
                                data_points: points(3),
                            })),
                            metric(Data::Sum(Sum {
                                data_points: points(4),
                                aggregation_temporality: 2,
                                is_monotonic: true,
                            })),
                        ],
                        ..Default::default()
                    }],
                    ..Default::default()
                },
                ResourceMetrics {
                    scope_metrics: vec![ScopeMetrics {
                        metrics: vec![metric(Data::Histogram(Histogram {
                            data_points: vec![HistogramDataPoint::default(); 5],
                            aggregation_temporality: 1,
                        }))],
                        ..Default::default()
                    }],
                    ..Default::default()
                },
            ],
        };
        assert_eq!(protobuf_records(&req.encode_to_vec(), POINTS), Some(12));
        assert_eq!(
            protobuf_records(&[0x0a, 0x05, 0x12], POINTS),
            None,
            "cut short"
        );
    }

    #[test]
    fn refuses_more_records_than_the_limit_before_decoding() {
        // ExportLogsServiceRequest { resource_logs: [{ scope_logs: [{ log_records: [{}; n] }] }] }
        let body = |n: usize| {
            let scope_logs = [0x12, 0x00].repeat(n);
            let resource_logs = [&[0x12][..], &varint(scope_logs.len()), &scope_logs].concat();
            [&[0x0a][..], &varint(resource_logs.len()), &resource_logs].concat()
        };
        assert_eq!(
            check(&body(MAX_RECORDS), false, LOGS, "log records").unwrap(),
            Some(MAX_RECORDS)
        );
        let e = check(&body(MAX_RECORDS + 1), false, LOGS, "log records").unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "request holds {} log records, over the limit of {MAX_RECORDS} per request: send smaller batches",
                MAX_RECORDS + 1
            )
        );
        // Cut short at the end: the records before the damage count.
        let mut cut = body(MAX_RECORDS + 1);
        cut.push(0x0a);
        assert!(check(&cut, false, LOGS, "log records").is_err());
        let mut cut = body(3);
        cut.push(0x0a);
        assert_eq!(check(&cut, false, LOGS, "log records").unwrap(), None);
        let json = "{}".repeat(MAX_JSON_OBJECTS + 1);
        assert!(check(json.as_bytes(), true, LOGS, "log records").is_err());
        assert_eq!(
            check(b"{\"resourceLogs\":[]}", true, LOGS, "log records").unwrap(),
            None
        );
    }

    fn varint(n: usize) -> Vec<u8> {
        let mut out = Vec::new();
        prost::encoding::encode_varint(n as u64, &mut out);
        out
    }
}
