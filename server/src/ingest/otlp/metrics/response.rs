//! The `ExportMetricsServiceResponse`: `partial_success` from what translation and the engine
//! rejected, encoded like the request.

use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsPartialSuccess, ExportMetricsServiceResponse,
};
use prost::Message;
use strata_engine::{ExemplarOutcome, WriteOutcome};

use super::super::decode::Encoding;
use super::super::error::OtlpError;
use super::translate::Translated;

/// The response to an OTLP metrics export after `translated` was written with `outcome`.
///
/// `rejected_data_points` is the number of OTLP points translation rejected plus the number
/// of samples the engine rejected, capped at the number of points in the request: the engine
/// counts Prometheus samples, and a histogram point is several samples, so when the engine
/// rejects part of a histogram the count is an upper bound. `partial_success` is left unset
/// when nothing was rejected and there is nothing to warn about (a warning, such as a metric
/// without points, comes with `rejected_data_points` 0, as the OTLP spec allows).
pub(crate) fn partial_success(
    translated: &Translated,
    outcome: &WriteOutcome,
) -> ExportMetricsServiceResponse {
    let engine_rejected = outcome.rejected_total();
    let rejected = translated
        .rejected_points
        .saturating_add(engine_rejected)
        .min(translated.points);
    if rejected == 0 && translated.errors.is_empty() {
        return ExportMetricsServiceResponse {
            partial_success: None,
        };
    }
    let mut parts: Vec<String> = Vec::new();
    if translated.rejected_points > 0 || !translated.errors.is_empty() {
        parts.push(format!(
            "{} data points could not be mapped to Prometheus series: {}",
            translated.rejected_points,
            translated.errors.join("; ")
        ));
    }
    for (reason, n) in &outcome.rejected {
        let detail = outcome
            .messages
            .get(reason)
            .map(|m| format!(" ({m})"))
            .unwrap_or_default();
        parts.push(format!("{n} samples rejected: {reason}{detail}"));
    }
    ExportMetricsServiceResponse {
        partial_success: Some(ExportMetricsPartialSuccess {
            rejected_data_points: i64::try_from(rejected).unwrap_or(i64::MAX),
            error_message: parts.join("; "),
        }),
    }
}

/// `resp` with the exemplars the engine refused reported in `partial_success` (as a
/// warning: their data points were stored, so `rejected_data_points` does not change).
pub(crate) fn with_exemplars(
    mut resp: ExportMetricsServiceResponse,
    exemplars: &ExemplarOutcome,
) -> ExportMetricsServiceResponse {
    let Some(message) = exemplars.message() else {
        return resp;
    };
    let partial = resp
        .partial_success
        .get_or_insert_with(ExportMetricsPartialSuccess::default);
    if !partial.error_message.is_empty() {
        partial.error_message.push_str("; ");
    }
    partial
        .error_message
        .push_str(&format!("{message} (their data points were stored)"));
    resp
}

/// `resp` with the refused metric metadata entries, if any, in `partial_success`'s
/// message (no data point was refused for them).
pub(crate) fn with_metadata(
    mut resp: ExportMetricsServiceResponse,
    metadata: &strata_engine::MetadataOutcome,
) -> ExportMetricsServiceResponse {
    let Some(message) = metadata.message() else {
        return resp;
    };
    let partial = resp
        .partial_success
        .get_or_insert_with(ExportMetricsPartialSuccess::default);
    if !partial.error_message.is_empty() {
        partial.error_message.push_str("; ");
    }
    partial
        .error_message
        .push_str(&format!("{message} (their data points were stored)"));
    resp
}

/// The response body in `encoding`. In JSON an unset `partialSuccess` is left out (`{}`) and
/// the int64 count is written as a number: proto3 JSON parsers must accept numbers as well as
/// strings for int64, and opentelemetry-proto's Rust types accept only numbers.
pub(crate) fn encode_response(
    resp: &ExportMetricsServiceResponse,
    encoding: Encoding,
) -> Result<Vec<u8>, OtlpError> {
    match encoding {
        Encoding::Protobuf => Ok(resp.encode_to_vec()),
        Encoding::Json => {
            let value = match &resp.partial_success {
                None => serde_json::json!({}),
                Some(p) => serde_json::json!({
                    "partialSuccess": {
                        "rejectedDataPoints": p.rejected_data_points,
                        "errorMessage": p.error_message,
                    }
                }),
            };
            serde_json::to_vec(&value).map_err(|source| OtlpError::EncodeJson { source })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata_engine::RejectReason;

    fn translated(points: u64, rejected: u64, errors: &[&str]) -> Translated {
        Translated {
            series: Vec::new(),
            histograms: Vec::new(),
            points,
            rejected_points: rejected,
            errors: errors.iter().map(|s| (*s).to_owned()).collect(),
            exemplars: Vec::new(),
            metadata: Vec::new(),
            delta_series: Vec::new(),
            delta_histograms: Vec::new(),
        }
    }

    #[test]
    fn nothing_rejected_leaves_partial_success_unset() {
        let resp = partial_success(
            &translated(10, 0, &[]),
            &WriteOutcome {
                accepted: 10,
                ..Default::default()
            },
        );
        assert_eq!(resp.partial_success, None);
        assert_eq!(
            encode_response(&resp, Encoding::Json).ok(),
            Some(b"{}".to_vec())
        );
        assert_eq!(
            encode_response(&resp, Encoding::Protobuf).ok(),
            Some(Vec::new())
        );
    }

    #[test]
    fn translation_and_engine_rejections_add_up_with_reasons() {
        let mut outcome = WriteOutcome {
            accepted: 5,
            ..Default::default()
        };
        outcome.rejected.insert(RejectReason::TooOld, 2);
        outcome.messages.insert(
            RejectReason::TooOld,
            "sample at 1000 is older than the window".into(),
        );
        let t = translated(10, 3, &["metric \"x\": delta temporality is not supported"]);
        let resp = partial_success(&t, &outcome);
        let p = resp.partial_success.clone().expect("partial success set");
        assert_eq!(p.rejected_data_points, 5);
        assert!(
            p.error_message.contains("delta temporality"),
            "{}",
            p.error_message
        );
        assert!(
            p.error_message
                .contains("2 samples rejected: too_old (sample at 1000"),
            "{}",
            p.error_message
        );

        let json = encode_response(&resp, Encoding::Json).expect("json");
        let v: serde_json::Value = serde_json::from_slice(&json).expect("valid json");
        assert_eq!(v["partialSuccess"]["rejectedDataPoints"], 5);
        // The protobuf form decodes back to the same response.
        let pb = encode_response(&resp, Encoding::Protobuf).expect("protobuf");
        assert_eq!(
            ExportMetricsServiceResponse::decode(pb.as_slice()).ok(),
            Some(resp.clone())
        );
        // And the JSON form is read back by opentelemetry-proto's own JSON types.
        let back: ExportMetricsServiceResponse = serde_json::from_slice(&json).expect("otlp json");
        assert_eq!(back, resp);
    }

    #[test]
    fn rejected_count_is_capped_at_the_points_sent() {
        let mut outcome = WriteOutcome::default();
        // One histogram point made 12 samples, all over the series limit.
        outcome.rejected.insert(RejectReason::SeriesLimit, 12);
        let resp = partial_success(&translated(1, 0, &[]), &outcome);
        assert_eq!(
            resp.partial_success.map(|p| p.rejected_data_points),
            Some(1)
        );
    }

    #[test]
    fn warnings_alone_are_reported_with_zero_rejected() {
        let resp = partial_success(
            &translated(0, 0, &["metric \"m\": empty data points, dropped"]),
            &WriteOutcome::default(),
        );
        let p = resp.partial_success.expect("set for a warning");
        assert_eq!(p.rejected_data_points, 0);
        assert!(p.error_message.contains("empty data points"));
    }
}
