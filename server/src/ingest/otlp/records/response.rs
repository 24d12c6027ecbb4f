//! The `ExportTraceServiceResponse` and `ExportLogsServiceResponse`: `partial_success` from
//! the request's whole [`SignalOutcome`] (translation's rejections and the engine's), with
//! the truncations and dropped empty values named in the message, encoded like the request.

use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceResponse,
};
use prost::Message;
use strata_engine::SignalOutcome;

use super::super::decode::Encoding;
use super::super::error::OtlpError;

/// Spans or log records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SignalKind {
    /// `/v1/traces`, `TraceService`.
    Traces,
    /// `/v1/logs`, `LogsService`.
    Logs,
}

impl SignalKind {
    /// What the records are called in messages.
    pub(crate) fn unit(self) -> &'static str {
        match self {
            Self::Traces => "spans",
            Self::Logs => "log records",
        }
    }
}

/// A `partial_success`: records rejected and why, or warnings with 0 rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PartialSuccess {
    /// `rejected_spans` / `rejected_log_records`: exactly the records not stored.
    pub(crate) rejected: u64,
    /// Every rejection reason with its count and first message, then the truncations made
    /// to stored records and the empty values dropped from them.
    pub(crate) message: String,
}

/// The `partial_success` of a request with `outcome` (translation's rejections included)
/// and `empty_values` dropped by translation; `None` when everything was stored as sent.
pub(crate) fn signal_partial_success(
    kind: SignalKind,
    outcome: &SignalOutcome,
    empty_values: u64,
) -> Option<PartialSuccess> {
    let unit = kind.unit();
    let mut parts: Vec<String> = Vec::new();
    for (reason, n) in &outcome.rejected {
        let detail = outcome
            .messages
            .get(reason)
            .map(|m| format!(" ({m})"))
            .unwrap_or_default();
        parts.push(format!("{n} {unit} rejected: {reason}{detail}"));
    }
    if outcome.truncated_total() > 0 {
        let kinds: Vec<String> = outcome
            .truncated
            .iter()
            .map(|(t, n)| format!("{t} {n}"))
            .collect();
        parts.push(format!(
            "{} truncations in stored {unit} by the tenant's attribute caps (stored, not \
             rejected): {}",
            outcome.truncated_total(),
            kinds.join(", ")
        ));
    }
    if empty_values > 0 {
        parts.push(format!(
            "{empty_values} empty values (AnyValue without a value) dropped from stored \
             {unit}; dropped attributes are counted in dropped_attributes_count"
        ));
    }
    if parts.is_empty() {
        return None;
    }
    Some(PartialSuccess {
        rejected: outcome.rejected_total(),
        message: parts.join("; "),
    })
}

/// The response message in protobuf (OTLP/HTTP protobuf and gRPC).
pub(crate) fn signal_response_protobuf(kind: SignalKind, p: Option<&PartialSuccess>) -> Vec<u8> {
    let rejected = |p: &PartialSuccess| i64::try_from(p.rejected).unwrap_or(i64::MAX);
    match kind {
        SignalKind::Traces => ExportTraceServiceResponse {
            partial_success: p.map(|p| ExportTracePartialSuccess {
                rejected_spans: rejected(p),
                error_message: p.message.clone(),
            }),
        }
        .encode_to_vec(),
        SignalKind::Logs => ExportLogsServiceResponse {
            partial_success: p.map(|p| ExportLogsPartialSuccess {
                rejected_log_records: rejected(p),
                error_message: p.message.clone(),
            }),
        }
        .encode_to_vec(),
    }
}

/// The response body in `encoding`. In JSON an unset `partialSuccess` is left out (`{}`)
/// and the int64 count is a number, as for metrics (see `response::encode_response`).
pub(crate) fn encode_signal_response(
    kind: SignalKind,
    p: Option<&PartialSuccess>,
    encoding: Encoding,
) -> Result<Vec<u8>, OtlpError> {
    match encoding {
        Encoding::Protobuf => Ok(signal_response_protobuf(kind, p)),
        Encoding::Json => {
            let value = match p {
                None => serde_json::json!({}),
                Some(p) => {
                    let key = match kind {
                        SignalKind::Traces => "rejectedSpans",
                        SignalKind::Logs => "rejectedLogRecords",
                    };
                    serde_json::json!({
                        "partialSuccess": { key: p.rejected, "errorMessage": p.message }
                    })
                }
            };
            serde_json::to_vec(&value).map_err(|source| OtlpError::EncodeJson { source })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata_engine::{SignalReject, Truncation};

    fn outcome() -> SignalOutcome {
        let mut o = SignalOutcome {
            accepted: 4,
            ..Default::default()
        };
        o.rejected.insert(SignalReject::InvalidTraceId, 2);
        o.messages
            .insert(SignalReject::InvalidTraceId, "span \"a\": all zeros".into());
        o.truncated.insert(Truncation::ValueTruncated, 3);
        o.truncated.insert(Truncation::AttributeTooDeep, 1);
        o
    }

    #[test]
    fn everything_stored_as_sent_leaves_partial_success_unset() {
        let o = SignalOutcome {
            accepted: 3,
            ..Default::default()
        };
        assert_eq!(signal_partial_success(SignalKind::Traces, &o, 0), None);
        assert_eq!(
            encode_signal_response(SignalKind::Logs, None, Encoding::Json).ok(),
            Some(b"{}".to_vec())
        );
        assert_eq!(
            signal_response_protobuf(SignalKind::Traces, None),
            Vec::<u8>::new()
        );
    }

    #[test]
    fn rejections_truncations_and_empty_values_are_all_named() {
        let p = signal_partial_success(SignalKind::Traces, &outcome(), 5).expect("set");
        assert_eq!(p.rejected, 2);
        assert_eq!(
            p.message,
            "2 spans rejected: invalid_trace_id (span \"a\": all zeros); 4 truncations in \
             stored spans by the tenant's attribute caps (stored, not rejected): \
             attribute_too_deep 1, value_truncated 3; 5 empty values (AnyValue without a \
             value) dropped from stored spans; dropped attributes are counted in \
             dropped_attributes_count"
        );
        // A truncation alone is reported with 0 rejected.
        let mut o = outcome();
        o.rejected.clear();
        let p = signal_partial_success(SignalKind::Logs, &o, 0).expect("set");
        assert_eq!(p.rejected, 0);
        assert!(p.message.starts_with("4 truncations in stored log records"));
    }

    #[test]
    fn both_encodings_read_back_with_opentelemetry_proto() {
        let p = signal_partial_success(SignalKind::Traces, &outcome(), 0).expect("set");
        let pb = encode_signal_response(SignalKind::Traces, Some(&p), Encoding::Protobuf)
            .expect("protobuf");
        let back = ExportTraceServiceResponse::decode(pb.as_slice()).expect("decodes");
        let ps = back.partial_success.expect("set");
        assert_eq!(
            (ps.rejected_spans, ps.error_message),
            (2, p.message.clone())
        );
        let json =
            encode_signal_response(SignalKind::Traces, Some(&p), Encoding::Json).expect("json");
        let back: ExportTraceServiceResponse = serde_json::from_slice(&json).expect("otlp json");
        assert_eq!(back.partial_success.map(|p| p.rejected_spans), Some(2));
        let json =
            encode_signal_response(SignalKind::Logs, Some(&p), Encoding::Json).expect("json");
        let back: ExportLogsServiceResponse = serde_json::from_slice(&json).expect("otlp json");
        assert_eq!(
            back.partial_success.map(|p| p.rejected_log_records),
            Some(2)
        );
    }
}
