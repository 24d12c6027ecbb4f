//! OTLP request bodies, once decompressed ([`super::inflate`]): protobuf or OTLP/JSON.
//!
//! JSON goes through opentelemetry-proto's `with-serde` types, which follow OTLP/JSON:
//! lowerCamelCase keys, trace and span ids as hex, 64-bit integers as strings or numbers,
//! enums as integers, unknown keys ignored, and (through [`json_nonfinite`]) the quoted
//! doubles `"NaN"`, `"Infinity"` and `"-Infinity"` wherever a double is expected.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use serde::de::DeserializeOwned;

use super::error::OtlpError;
use super::json_nonfinite;
use super::request_items::{self, POINTS};

/// How a body (request or response) is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encoding {
    /// Binary protobuf, `application/x-protobuf` (and OTLP/gRPC).
    Protobuf,
    /// OTLP/JSON, `application/json`.
    Json,
}

impl Encoding {
    /// The encoding for a `Content-Type` header value (parameters such as `charset` are
    /// ignored), or `None` when OTLP/HTTP does not define it (the server answers 415).
    pub(crate) fn from_content_type(content_type: &str) -> Option<Self> {
        let essence = content_type.split(';').next().unwrap_or("").trim();
        if essence.eq_ignore_ascii_case("application/x-protobuf") {
            Some(Self::Protobuf)
        } else if essence.eq_ignore_ascii_case("application/json") {
            Some(Self::Json)
        } else {
            None
        }
    }

    /// The `Content-Type` of a response in this encoding.
    pub(crate) fn content_type(self) -> &'static str {
        match self {
            Self::Protobuf => "application/x-protobuf",
            Self::Json => "application/json",
        }
    }
}

fn decode<T: Message + Default + DeserializeOwned>(
    body: &[u8],
    encoding: Encoding,
    signal: &'static str,
    restore: fn(&mut T, &json_nonfinite::Sentinels),
) -> Result<T, OtlpError> {
    let json_error = |source| OtlpError::Json { signal, source };
    match encoding {
        Encoding::Protobuf => {
            T::decode(body).map_err(|source| OtlpError::Protobuf { signal, source })
        }
        Encoding::Json => {
            // `"NaN"`/`"Infinity"` doubles: see `json_nonfinite`. A body that is not JSON
            // falls through to the plain decode, which reports it.
            if json_nonfinite::may_hold_nonfinite(body)
                && let Ok(Some((rewritten, sentinels))) = json_nonfinite::rewrite(body)
            {
                let mut req: T = serde_json::from_slice(&rewritten).map_err(json_error)?;
                restore(&mut req, &sentinels);
                return Ok(req);
            }
            serde_json::from_slice(body).map_err(json_error)
        }
    }
}

/// An `ExportMetricsServiceRequest` from a (decompressed) body.
pub(crate) fn decode_metrics(
    body: &[u8],
    encoding: Encoding,
) -> Result<ExportMetricsServiceRequest, OtlpError> {
    request_items::check(body, encoding == Encoding::Json, POINTS, "data points")?;
    let req: ExportMetricsServiceRequest =
        decode(body, encoding, "metrics", json_nonfinite::restore_metrics)?;
    if encoding == Encoding::Json {
        check_json_metric_data(body, &req)?;
    }
    Ok(req)
}

/// The metric types, as OTLP/JSON keys.
const DATA_KEYS: [&str; 5] = [
    "gauge",
    "sum",
    "histogram",
    "exponentialHistogram",
    "summary",
];

/// opentelemetry-proto decodes a metric whose `gauge`/`sum`/... object does not match the
/// schema as a metric without data (serde's flattened `Option` swallows the error). When a
/// decoded metric has no data, look at the JSON again: if it has one of those keys, the body
/// is malformed. Costs a second parse only for such bodies.
fn check_json_metric_data(body: &[u8], req: &ExportMetricsServiceRequest) -> Result<(), OtlpError> {
    let mut json: Option<serde_json::Value> = None;
    for (i, rm) in req.resource_metrics.iter().enumerate() {
        for (j, sm) in rm.scope_metrics.iter().enumerate() {
            for (k, metric) in sm.metrics.iter().enumerate() {
                if metric.data.is_some() {
                    continue;
                }
                if json.is_none() {
                    json =
                        Some(
                            serde_json::from_slice(body).map_err(|source| OtlpError::Json {
                                signal: "metrics",
                                source,
                            })?,
                        );
                }
                let Some(value) = &json else { continue };
                let m = &value["resourceMetrics"][i]["scopeMetrics"][j]["metrics"][k];
                if let Some(key) = DATA_KEYS.iter().find(|key| m.get(**key).is_some()) {
                    return Err(OtlpError::MalformedMetricData {
                        name: metric.name.clone(),
                        kind: key,
                    });
                }
            }
        }
    }
    Ok(())
}

/// An `ExportTraceServiceRequest` from a (decompressed) body.
pub(crate) fn decode_traces(
    body: &[u8],
    encoding: Encoding,
) -> Result<ExportTraceServiceRequest, OtlpError> {
    decode(body, encoding, "traces", json_nonfinite::restore_traces)
}

/// An `ExportLogsServiceRequest` from a (decompressed) body.
pub(crate) fn decode_logs_request(
    body: &[u8],
    encoding: Encoding,
) -> Result<ExportLogsServiceRequest, OtlpError> {
    decode(body, encoding, "logs", json_nonfinite::restore_logs)
}

#[cfg(test)]
#[path = "decode_tests.rs"]
mod tests;
