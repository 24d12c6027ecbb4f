//! Tests of the self-metrics registry and its text exposition.

use super::*;
use strata_engine::RejectReason;

#[test]
fn renders_counters_and_filters_by_tenant() {
    let m = Metrics::default();
    let a = TenantId::new("a").unwrap();
    let b = TenantId::new("b").unwrap();
    let mut outcome = WriteOutcome {
        accepted: 3,
        ..WriteOutcome::default()
    };
    outcome.rejected.insert(RejectReason::TooOld, 2);
    m.record_write(&a, Signal::Metrics, &outcome);
    m.record_write(&b, Signal::Metrics, &outcome);
    m.record_request("/api/v1/write", 204, Duration::from_millis(3));
    let all = m.render(None, None);
    assert!(
        all.contains("strata_ingested_samples_total{tenant=\"a\",signal=\"metrics\"} 3\n"),
        "{all}"
    );
    assert!(all.contains(
        "strata_rejected_samples_total{tenant=\"b\",signal=\"metrics\",reason=\"too_old\"} 2\n"
    ));
    assert!(all.contains(
        "strata_http_request_duration_seconds_bucket{endpoint=\"/api/v1/write\",le=\"0.005\"} 1\n"
    ));
    assert!(all.contains(
        "strata_http_request_duration_seconds_bucket{endpoint=\"/api/v1/write\",le=\"0.001\"} 0\n"
    ));
    assert!(all.contains("strata_ready 0\n"));
    let only_a = m.render(None, Some(&a));
    assert!(only_a.contains("tenant=\"a\""));
    assert!(!only_a.contains("tenant=\"b\""), "{only_a}");
}

#[test]
fn span_and_log_writes_count_rejections_and_truncations() {
    use strata_engine::{SignalReject, Truncation};
    let m = Metrics::default();
    let a = TenantId::new("a").unwrap();
    let mut outcome = SignalOutcome {
        accepted: 4,
        ..SignalOutcome::default()
    };
    outcome.rejected.insert(SignalReject::InvalidSpanId, 1);
    outcome.truncated.insert(Truncation::ValueTruncated, 2);
    m.record_write(&a, Signal::Traces, &outcome);
    m.record_write(&a, Signal::Logs, &outcome);
    let all = m.render(None, None);
    for line in [
        "strata_ingested_samples_total{tenant=\"a\",signal=\"traces\"} 4\n",
        "strata_rejected_samples_total{tenant=\"a\",signal=\"logs\",reason=\"invalid_span_id\"} 1\n",
        "strata_truncated_total{tenant=\"a\",signal=\"traces\",kind=\"value_truncated\"} 2\n",
    ] {
        assert!(all.contains(line), "{line} in {all}");
    }
}
