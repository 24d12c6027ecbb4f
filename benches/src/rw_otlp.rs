//! Turns the peer dataset's remote-write requests (`rw/*.rwb`: snappy block format around a
//! `prometheus.WriteRequest`) into OTLP `ExportMetricsServiceRequest`s carrying the same
//! samples, for `bench-otlp-load`.
//!
//! Mapping, chosen so that Strata's OTLP translation (`docs/otlp-mapping.md`) stores exactly
//! the series and samples remote-write would:
//! - one `ResourceMetrics` with no resource attributes (so no `job`/`instance` override and
//!   no `target_info` series), one `ScopeMetrics` (scope `bench-otlp-load`, not promoted);
//! - one `Metric` per `__name__` in the request, in order of first appearance, as a
//!   **gauge** with empty unit and description: the dataset's names are already Prometheus
//!   names, and a gauge gets no `_total`/unit/`_ratio` suffix, so the stored name is
//!   `__name__` unchanged;
//! - one `NumberDataPoint` per sample: the other labels as string attributes in label order
//!   (the dataset's label names are valid Prometheus names and stay as they are),
//!   `time_unix_nano` = timestamp ms × 10⁶, `start_time_unix_nano` 0, value `as_double`.

use std::collections::HashMap;

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{
    Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, metric, number_data_point,
};
use prost::Message;
use strata_server::remote_write::proto::WriteRequest;

/// Why a remote-write request could not be converted.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    /// The snappy block is corrupt.
    #[error("snappy: {0}")]
    Snappy(#[from] snap::Error),
    /// The protobuf does not decode as a `WriteRequest`.
    #[error("protobuf: {0}")]
    Protobuf(#[from] prost::DecodeError),
    /// A series has no `__name__` label.
    #[error("series {index} has no __name__ label")]
    NoName {
        /// Position of the series in the request.
        index: usize,
    },
    /// A label name or value is not UTF-8.
    #[error("series {index}: label is not UTF-8")]
    NotUtf8 {
        /// Position of the series in the request.
        index: usize,
    },
    /// A timestamp before 1970 (OTLP times are unsigned).
    #[error("series {index}: negative timestamp {ts}")]
    NegativeTimestamp {
        /// Position of the series in the request.
        index: usize,
        /// The timestamp in ms.
        ts: i64,
    },
}

/// One converted request.
#[derive(Debug, Clone, PartialEq)]
pub struct Converted {
    /// The OTLP request.
    pub request: ExportMetricsServiceRequest,
    /// Series in the remote-write request.
    pub series: u64,
    /// Samples (= data points).
    pub samples: u64,
}

/// Decodes a `.rwb` file's bytes (snappy + protobuf).
pub fn decode_rwb(bytes: &[u8]) -> Result<WriteRequest, ConvertError> {
    let raw = snap::raw::Decoder::new().decompress_vec(bytes)?;
    Ok(WriteRequest::decode(raw.as_slice())?)
}

/// Converts a remote-write request as described in the module documentation.
pub fn to_otlp(req: &WriteRequest) -> Result<Converted, ConvertError> {
    let mut groups: Vec<(String, Vec<NumberDataPoint>)> = Vec::new();
    let mut by_name: HashMap<String, usize> = HashMap::new();
    let mut samples = 0u64;
    for (index, ts) in req.timeseries.iter().enumerate() {
        let utf8 = |b: &[u8]| {
            std::str::from_utf8(b)
                .map(str::to_owned)
                .map_err(|_| ConvertError::NotUtf8 { index })
        };
        let mut name = None;
        let mut attributes = Vec::with_capacity(ts.labels.len());
        for l in &ts.labels {
            if l.name == b"__name__" {
                name = Some(utf8(&l.value)?);
            } else {
                attributes.push(KeyValue {
                    key: utf8(&l.name)?,
                    value: Some(AnyValue {
                        value: Some(any_value::Value::StringValue(utf8(&l.value)?)),
                    }),
                    ..Default::default()
                });
            }
        }
        let name = name.ok_or(ConvertError::NoName { index })?;
        let slot = *by_name.entry(name.clone()).or_insert_with(|| {
            groups.push((name, Vec::new()));
            groups.len() - 1
        });
        let points = &mut groups[slot].1;
        for s in &ts.samples {
            let ms = u64::try_from(s.timestamp).map_err(|_| ConvertError::NegativeTimestamp {
                index,
                ts: s.timestamp,
            })?;
            points.push(NumberDataPoint {
                attributes: attributes.clone(),
                time_unix_nano: ms * 1_000_000,
                value: Some(number_data_point::Value::AsDouble(s.value)),
                ..Default::default()
            });
            samples += 1;
        }
    }
    let metrics = groups
        .into_iter()
        .map(|(name, data_points)| Metric {
            name,
            data: Some(metric::Data::Gauge(Gauge { data_points })),
            ..Default::default()
        })
        .collect();
    let request = ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: None,
            scope_metrics: vec![ScopeMetrics {
                scope: Some(InstrumentationScope {
                    name: "bench-otlp-load".to_owned(),
                    ..Default::default()
                }),
                metrics,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    };
    Ok(Converted {
        request,
        series: req.timeseries.len() as u64,
        samples,
    })
}

#[cfg(test)]
mod tests {
    use strata_server::remote_write::proto::{Label, Sample, TimeSeries};

    use super::*;

    fn series(labels: &[(&str, &str)], samples: &[(i64, f64)]) -> TimeSeries {
        TimeSeries {
            labels: labels
                .iter()
                .map(|(n, v)| Label {
                    name: n.as_bytes().to_vec(),
                    value: v.as_bytes().to_vec(),
                })
                .collect(),
            samples: samples
                .iter()
                .map(|&(timestamp, value)| Sample { value, timestamp })
                .collect(),
            histograms: Vec::new(),
            exemplars: Vec::new(),
        }
    }

    fn attrs(p: &NumberDataPoint) -> Vec<(String, String)> {
        p.attributes
            .iter()
            .map(
                |kv| match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                    Some(any_value::Value::StringValue(s)) => (kv.key.clone(), s.clone()),
                    other => panic!("not a string attribute: {other:?}"),
                },
            )
            .collect()
    }

    #[test]
    fn groups_points_by_name_keeps_labels_times_and_values() {
        let req = WriteRequest {
            metadata: Vec::new(),
            timeseries: vec![
                series(
                    &[("__name__", "up"), ("job", "api"), ("host", "h1")],
                    &[(1_704_067_200_438, 1.0), (1_704_067_215_438, 0.0)],
                ),
                series(&[("__name__", "load"), ("job", "node")], &[(5, 0.25)]),
                series(&[("job", "api"), ("__name__", "up")], &[(7, 1.0)]),
            ],
        };
        let body = snap::raw::Encoder::new()
            .compress_vec(&req.encode_to_vec())
            .expect("snappy compresses");
        let decoded = decode_rwb(&body).expect("valid rwb");
        assert_eq!(decoded, req);

        let c = to_otlp(&decoded).expect("converts");
        assert_eq!((c.series, c.samples), (3, 4));
        let rm = &c.request.resource_metrics;
        assert_eq!(rm.len(), 1);
        assert!(rm[0].resource.is_none());
        let metrics = &rm[0].scope_metrics[0].metrics;
        let names: Vec<_> = metrics.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["up", "load"]);
        let points = |m: &Metric| match &m.data {
            Some(metric::Data::Gauge(g)) => g.data_points.clone(),
            other => panic!("not a gauge: {other:?}"),
        };
        let up = points(&metrics[0]);
        assert_eq!(up.len(), 3);
        assert_eq!(
            attrs(&up[0]),
            [("job".into(), "api".into()), ("host".into(), "h1".into())]
        );
        assert_eq!(up[1].time_unix_nano, 1_704_067_215_438_000_000);
        assert_eq!(up[1].value, Some(number_data_point::Value::AsDouble(0.0)));
        assert_eq!(attrs(&up[2]), [("job".into(), "api".into())]);
        assert_eq!(points(&metrics[1])[0].time_unix_nano, 5_000_000);
        // It survives its own encoding.
        let bytes = c.request.encode_to_vec();
        assert_eq!(
            ExportMetricsServiceRequest::decode(bytes.as_slice()).expect("decodes"),
            c.request
        );
    }

    #[test]
    fn rejects_nameless_series_and_corrupt_input() {
        let req = WriteRequest {
            metadata: Vec::new(),
            timeseries: vec![series(&[("job", "x")], &[(1, 1.0)])],
        };
        assert!(matches!(
            to_otlp(&req),
            Err(ConvertError::NoName { index: 0 })
        ));
        assert!(matches!(
            decode_rwb(b"not snappy at all"),
            Err(ConvertError::Snappy(_))
        ));
    }
}
