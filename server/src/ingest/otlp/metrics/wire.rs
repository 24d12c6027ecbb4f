//! Reads an `ExportMetricsServiceRequest` in place, for the metrics fast path
//! ([`super::fast`]): the request's resources, scopes and metrics as byte slices of
//! the body, and the number data points of gauges and sums framed with their attribute
//! bytes, times, values and flags, without allocating a string.
//!
//! The reader is deliberately narrow. It returns `None` (and the caller decodes the body
//! with prost instead, which then accepts or refuses it with prost's own error) for anything
//! whose meaning prost's merge rules would make subtle: an unknown field, a known field with
//! the wrong wire type, a singular message field given twice, two data fields in one metric.
//! Every part it does not read itself is validated the way prost would: strings as UTF-8,
//! messages (`Resource`, `InstrumentationScope`, `KeyValue` metadata, `Exemplar`s, whole
//! histogram and summary metrics) by decoding them with prost. Data point attributes are the
//! one exception: [`super::fast`] uses their bytes only as a key that a
//! prost-decoded point with the same bytes stored before.

use std::ops::Range;

use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::metrics::v1::Exemplar;
use prost::Message;

use crate::ingest::protobuf::{FIXED64, LEN, Reader, VARINT, WireError};

/// A request read in place: its resources, scopes, metrics and number points, each level
/// in one flat list in request order (a parent holds the range of its children).
#[derive(Debug, Default)]
pub(super) struct Request<'a> {
    pub(super) resources: Vec<ResourceItem<'a>>,
    pub(super) scopes: Vec<ScopeItem<'a>>,
    pub(super) metrics: Vec<MetricItem<'a>>,
    pub(super) points: Vec<NumberPoint<'a>>,
}

/// One `ResourceMetrics`.
#[derive(Debug, Default)]
pub(super) struct ResourceItem<'a> {
    /// The `Resource` message's bytes (empty when absent).
    pub(super) resource: &'a [u8],
    /// Its scopes, in [`Request::scopes`].
    pub(super) scopes: Range<usize>,
}

/// One `ScopeMetrics`.
#[derive(Debug, Default)]
pub(super) struct ScopeItem<'a> {
    /// The `InstrumentationScope` message's bytes, when present.
    pub(super) scope: Option<&'a [u8]>,
    pub(super) schema_url: &'a str,
    /// Its metrics, in [`Request::metrics`].
    pub(super) metrics: Range<usize>,
}

/// One `Metric`.
#[derive(Debug)]
pub(super) enum MetricItem<'a> {
    /// A gauge or a sum: its number points, framed.
    Number(NumberMetric<'a>),
    /// Anything else (histograms, summaries, no data): the `Metric` message's bytes, for
    /// prost and the general translation.
    Other(&'a [u8]),
}

/// A gauge or sum metric.
#[derive(Debug)]
pub(super) struct NumberMetric<'a> {
    /// The whole `Metric` message, for the general translation when the fast path declines.
    pub(super) bytes: &'a [u8],
    pub(super) name: &'a str,
    pub(super) unit: &'a str,
    /// Its `description` (metadata's help).
    pub(super) description: &'a str,
    /// `None` for a gauge; for a sum its (aggregation temporality, is monotonic).
    pub(super) sum: Option<(i32, bool)>,
    /// Its points, in [`Request::points`].
    pub(super) points: Range<usize>,
}

/// A point's value field, as given.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum PointValue {
    Double(f64),
    Int(i64),
}

/// One `NumberDataPoint`, framed.
#[derive(Debug, Clone, Copy)]
pub(super) struct NumberPoint<'a> {
    /// The whole message, for prost when its labels are needed.
    pub(super) bytes: &'a [u8],
    /// The bytes of its `attributes` fields (tags included) when they are adjacent, else
    /// `None`.
    pub(super) attrs: Option<&'a [u8]>,
    pub(super) time_unix_nano: u64,
    pub(super) value: Option<PointValue>,
    pub(super) flags: u32,
    /// Whether it has exemplars (the fast path then leaves it to the general one).
    pub(super) exemplars: bool,
}

/// Reads the request, or `None` when the general decoder must read it.
pub(super) fn read(body: &[u8]) -> Option<Request<'_>> {
    let mut out = Request {
        // A number point takes at least 20 bytes on the wire (time, value and their tags);
        // typical ones with attributes 100-200. Reserved for the typical, grown if needed.
        points: Vec::with_capacity(body.len() / 128),
        ..Request::default()
    };
    read_request(body, &mut out).ok()?.then_some(out)
}

/// `Ok(false)`: well formed maybe, but outside what this reader handles.
type Read = Result<bool, WireError>;

fn read_request<'a>(body: &'a [u8], out: &mut Request<'a>) -> Read {
    let mut r = Reader { rest: body };
    while !r.is_empty() {
        let (tag, wire) = r.key()?;
        if tag != 1 || wire != LEN || !resource_metrics(r.len_delimited()?, out)? {
            return Ok(false);
        }
    }
    Ok(true)
}

fn resource_metrics<'a>(buf: &'a [u8], out: &mut Request<'a>) -> Read {
    let mut resource = None;
    let first_scope = out.scopes.len();
    let mut r = Reader { rest: buf };
    while !r.is_empty() {
        let (tag, wire) = r.key()?;
        match (tag, wire) {
            (1, LEN) if resource.is_none() => resource = Some(r.len_delimited()?),
            (2, LEN) => {
                if !scope_metrics(r.len_delimited()?, out)? {
                    return Ok(false);
                }
            }
            (3, LEN) => {
                utf8(r.len_delimited()?)?;
            }
            _ => return Ok(false),
        }
    }
    out.resources.push(ResourceItem {
        resource: resource.unwrap_or_default(),
        scopes: first_scope..out.scopes.len(),
    });
    Ok(true)
}

fn scope_metrics<'a>(buf: &'a [u8], out: &mut Request<'a>) -> Read {
    let mut item = ScopeItem {
        metrics: out.metrics.len()..out.metrics.len(),
        ..ScopeItem::default()
    };
    let mut r = Reader { rest: buf };
    while !r.is_empty() {
        let (tag, wire) = r.key()?;
        match (tag, wire) {
            (1, LEN) if item.scope.is_none() => item.scope = Some(r.len_delimited()?),
            (2, LEN) => {
                if !metric(r.len_delimited()?, out)? {
                    return Ok(false);
                }
            }
            (3, LEN) => item.schema_url = utf8(r.len_delimited()?)?,
            _ => return Ok(false),
        }
    }
    item.metrics.end = out.metrics.len();
    out.scopes.push(item);
    Ok(true)
}

fn metric<'a>(buf: &'a [u8], out: &mut Request<'a>) -> Read {
    let (mut name, mut unit, mut description) = ("", "", "");
    // The data field: (tag, bytes); a second one makes prost merge or replace.
    let mut data: Option<(u32, &[u8])> = None;
    let mut r = Reader { rest: buf };
    while !r.is_empty() {
        let (tag, wire) = r.key()?;
        match (tag, wire) {
            (1, LEN) => name = utf8(r.len_delimited()?)?,
            (2, LEN) => description = utf8(r.len_delimited()?)?,
            (3, LEN) => unit = utf8(r.len_delimited()?)?,
            (5 | 7 | 9 | 10 | 11, LEN) if data.is_none() => data = Some((tag, r.len_delimited()?)),
            (12, LEN) => {
                if KeyValue::decode(r.len_delimited()?).is_err() {
                    return Ok(false);
                }
            }
            _ => return Ok(false),
        }
    }
    let (tag, data) = match data {
        Some((tag @ (5 | 7), data)) => (tag, data),
        _ => {
            out.metrics.push(MetricItem::Other(buf));
            return Ok(true);
        }
    };
    let first = out.points.len();
    let mut sum = (tag == 7).then_some((0, false));
    let mut r = Reader { rest: data };
    while !r.is_empty() {
        let (field, wire) = r.key()?;
        match (field, wire, sum.as_mut()) {
            (1, LEN, _) => match number_point(r.len_delimited()?)? {
                Some(p) => out.points.push(p),
                None => return Ok(false),
            },
            // Enums and bools are varints; prost keeps the last occurrence.
            (2, VARINT, Some((temporality, _))) => *temporality = r.varint()? as i32,
            (3, VARINT, Some((_, monotonic))) => *monotonic = r.varint()? != 0,
            _ => return Ok(false),
        }
    }
    out.metrics.push(MetricItem::Number(NumberMetric {
        bytes: buf,
        name,
        unit,
        description,
        sum,
        points: first..out.points.len(),
    }));
    Ok(true)
}

/// Reads one `NumberDataPoint`. Not inlined: it runs for every point, and inlined into
/// the reader's other loops its cursor lived on the stack (the reader was 13% of the
/// server's CPU under OTLP load, most of it waiting on that cursor).
#[inline(never)]
fn number_point(buf: &[u8]) -> Result<Option<NumberPoint<'_>>, WireError> {
    let mut p = NumberPoint {
        bytes: buf,
        attrs: None,
        time_unix_nano: 0,
        value: None,
        flags: 0,
        exemplars: false,
    };
    // Byte range of the attribute fields while adjacent; None once they are not.
    let mut span = Some((0, 0));
    let mut r = Reader { rest: buf };
    while let Some(&first) = r.rest.first() {
        let at = buf.len() - r.rest.len();
        // A one-byte key (every field of a point has one, minimally encoded) without
        // `key`'s checks: tag 0 or wire types 6 and 7 fall to the `_` arm below, which
        // leaves the body to prost as `key`'s error would.
        let (tag, wire) = if first < 0x80 {
            r.rest = &r.rest[1..];
            (u32::from(first >> 3), first & 7)
        } else {
            r.key()?
        };
        match (tag, wire) {
            (7, LEN) => {
                r.len_delimited()?;
                let end = buf.len() - r.rest.len();
                span = match span {
                    Some((a, b)) if a == b => Some((at, end)),
                    Some((a, b)) if b == at => Some((a, end)),
                    _ => None,
                };
            }
            (2, FIXED64) => {
                r.fixed64()?;
            }
            (3, FIXED64) => p.time_unix_nano = r.fixed64()?,
            (4, FIXED64) => p.value = Some(PointValue::Double(f64::from_bits(r.fixed64()?))),
            (6, FIXED64) => p.value = Some(PointValue::Int(r.fixed64()? as i64)),
            (5, LEN) => {
                if Exemplar::decode(r.len_delimited()?).is_err() {
                    return Ok(None);
                }
                p.exemplars = true;
            }
            // uint32 on the wire: prost keeps the low 32 bits of the varint.
            (8, VARINT) => p.flags = r.varint()? as u32,
            _ => return Ok(None),
        }
    }
    p.attrs = span.map(|(a, b)| &buf[a..b]);
    Ok(Some(p))
}

fn utf8(bytes: &[u8]) -> Result<&str, WireError> {
    // prost refuses a string field that is not UTF-8; so does this reader's caller, by
    // handing the body to prost.
    crate::ingest::utf8::text(bytes).ok_or(WireError::Underflow)
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
    use opentelemetry_proto::tonic::common::v1::{AnyValue, any_value};
    use opentelemetry_proto::tonic::metrics::v1::{
        Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum, metric::Data,
        number_data_point,
    };

    fn kv(k: &str, v: &str) -> KeyValue {
        KeyValue {
            key: k.into(),
            value: Some(AnyValue {
                value: Some(any_value::Value::StringValue(v.into())),
            }),
            ..Default::default()
        }
    }

    fn point(t: u64, v: number_data_point::Value, attrs: Vec<KeyValue>) -> NumberDataPoint {
        NumberDataPoint {
            attributes: attrs,
            time_unix_nano: t,
            value: Some(v),
            flags: 1,
            ..Default::default()
        }
    }

    #[test]
    fn gauges_and_sums_are_framed_and_other_metrics_passed_whole() {
        let req = ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                resource: None,
                scope_metrics: vec![ScopeMetrics {
                    scope: None,
                    metrics: vec![
                        Metric {
                            name: "g".into(),
                            unit: "By".into(),
                            data: Some(Data::Gauge(Gauge {
                                data_points: vec![point(
                                    5,
                                    number_data_point::Value::AsInt(-3),
                                    vec![kv("a", "1"), kv("b", "2")],
                                )],
                            })),
                            ..Default::default()
                        },
                        Metric {
                            name: "s".into(),
                            data: Some(Data::Sum(Sum {
                                data_points: vec![point(
                                    7,
                                    number_data_point::Value::AsDouble(1.5),
                                    vec![],
                                )],
                                aggregation_temporality: 2,
                                is_monotonic: true,
                            })),
                            ..Default::default()
                        },
                        Metric {
                            name: "none".into(),
                            ..Default::default()
                        },
                    ],
                    schema_url: "u".into(),
                }],
                schema_url: String::new(),
            }],
        };
        let body = req.encode_to_vec();
        let read = read(&body).expect("read");
        assert_eq!(
            (
                read.resources[0].scopes.clone(),
                read.scopes[0].metrics.clone()
            ),
            (0..1, 0..3)
        );
        let metrics = &read.metrics;
        let MetricItem::Number(g) = &metrics[0] else {
            panic!("gauge not framed")
        };
        assert_eq!(
            (g.name, g.unit, g.sum, g.points.clone()),
            ("g", "By", None, 0..1)
        );
        let p = read.points[0];
        assert_eq!(
            (p.time_unix_nano, p.value, p.flags),
            (5, Some(PointValue::Int(-3)), 1)
        );
        let attrs = [kv("a", "1"), kv("b", "2")];
        let want: Vec<u8> = attrs
            .iter()
            .flat_map(|a| {
                let mut f = vec![0x3A];
                prost::encoding::encode_varint(a.encoded_len() as u64, &mut f);
                f.extend(a.encode_to_vec());
                f
            })
            .collect();
        assert_eq!(p.attrs, Some(&want[..]));
        let MetricItem::Number(s) = &metrics[1] else {
            panic!("sum not framed")
        };
        assert_eq!((s.sum, s.points.clone()), (Some((2, true)), 1..2));
        assert_eq!(read.points[1].value, Some(PointValue::Double(1.5)));
        assert!(matches!(metrics[2], MetricItem::Other(_)));
        assert_eq!(read.scopes[0].schema_url, "u");
    }

    #[test]
    fn unknown_fields_and_bad_strings_are_left_to_prost() {
        // An unknown field in a point (tag 15, varint).
        let mut body = ExportMetricsServiceRequest::default().encode_to_vec();
        assert!(read(&body).is_some_and(|r| r.resources.is_empty()));
        body.extend([0x78, 0x01]);
        assert!(read(&body).is_none());
        // A metric name that is not UTF-8: Metric{name: [0xff]} in a ScopeMetrics in a
        // ResourceMetrics.
        let metric = [0x0A, 0x01, 0xFF];
        let scope = [&[0x12, metric.len() as u8][..], &metric].concat();
        let rm = [&[0x12, scope.len() as u8][..], &scope].concat();
        let body = [&[0x0A, rm.len() as u8][..], &rm].concat();
        assert!(ExportMetricsServiceRequest::decode(&body[..]).is_err());
        assert!(read(&body).is_none());
    }
}
