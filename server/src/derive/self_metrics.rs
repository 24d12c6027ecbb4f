//! The derivation's self-metrics, rendered on `/metrics` with the rest: span names
//! collapsed, halves dropped and expired, edges made, derived samples written and refused.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use strata_engine::TenantId;

use super::labels::kind_name;
use super::{TenantState, lock};
use crate::runtime::self_metrics::exposition::{header, line};

/// A tenant's counters.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    collapsed: AtomicU64,
    edges: AtomicU64,
    dropped: AtomicU64,
    /// Expired halves by OTLP span kind number.
    expired: [AtomicU64; 6],
    written: AtomicU64,
    /// Refused derived samples by reason.
    rejected: std::sync::Mutex<BTreeMap<&'static str, u64>>,
}

impl Counters {
    pub(crate) fn add_collapsed(&self, n: u64) {
        if n > 0 {
            self.collapsed.fetch_add(n, Ordering::Relaxed);
        }
    }

    pub(crate) fn add_edges(&self, new: u64, dropped: u64) {
        self.edges.fetch_add(new, Ordering::Relaxed);
        self.dropped.fetch_add(dropped, Ordering::Relaxed);
    }

    pub(crate) fn add_expired(&self, by_kind: &[u64; 6]) {
        for (c, n) in self.expired.iter().zip(by_kind) {
            c.fetch_add(*n, Ordering::Relaxed);
        }
    }

    pub(crate) fn add_written(&self, n: u64) {
        self.written.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn add_rejected(&self, reason: &'static str, n: u64) {
        if n > 0 {
            *lock(&self.rejected).entry(reason).or_default() += n;
        }
    }
}

/// A per-tenant series: name, type, help, and its value.
type Gauge = (
    &'static str,
    &'static str,
    &'static str,
    fn(&TenantState) -> f64,
);

/// Appends the counters of `tenants` (only `only`'s, when given) to `out`.
pub(crate) fn render(tenants: &[Arc<TenantState>], out: &mut String, only: Option<&TenantId>) {
    let mut shown: Vec<&TenantState> = tenants
        .iter()
        .map(|t| &**t)
        .filter(|t| only.is_none_or(|o| *o == t.tenant))
        .collect();
    shown.sort_by(|a, b| a.tenant.as_str().cmp(b.tenant.as_str()));
    let simple: [Gauge; 6] = [
        (
            "strata_derived_span_names_collapsed_total",
            "counter",
            "Spans counted under span_name=\"__overflow__\": their service had max_span_names_per_service names already.",
            |t| t.counters.collapsed.load(Ordering::Relaxed) as f64,
        ),
        (
            "strata_derived_samples_written_total",
            "counter",
            "Samples of derived series (traces_spanmetrics_*, traces_service_graph_*) stored.",
            |t| t.counters.written.load(Ordering::Relaxed) as f64,
        ),
        (
            "strata_derived_series",
            "gauge",
            "Derived series kept in memory (a histogram counts once).",
            |t| (t.table.read().map_or(0, |s| s.series.len()) + lock(&t.edges).len()) as f64,
        ),
        (
            "strata_service_graph_edges_total",
            "counter",
            "Edges started (Tempo's metrics_generator_processor_service_graphs_edges).",
            |t| t.counters.edges.load(Ordering::Relaxed) as f64,
        ),
        (
            "strata_service_graph_dropped_spans_total",
            "counter",
            "Halves of edges dropped because service_graph_max_items halves were waiting.",
            |t| t.counters.dropped.load(Ordering::Relaxed) as f64,
        ),
        (
            "strata_service_graph_waiting",
            "gauge",
            "Halves of edges waiting for their other half.",
            |t| lock(&t.store).len() as f64,
        ),
    ];
    for (name, kind, help, value) in simple {
        header(out, name, kind, help);
        for t in &shown {
            line(out, name, &[("tenant", t.tenant.as_str())], value(t));
        }
    }
    let name = "strata_derived_samples_rejected_total";
    header(
        out,
        name,
        "counter",
        "Samples of derived series the metrics write path refused (the tenant's series caps, rate), by reason.",
    );
    for t in &shown {
        for (reason, n) in lock(&t.counters.rejected).iter() {
            line(
                out,
                name,
                &[("tenant", t.tenant.as_str()), ("reason", reason)],
                *n as f64,
            );
        }
    }
    let name = "strata_service_graph_expired_edges_total";
    header(
        out,
        name,
        "counter",
        "Halves of edges that waited service_graph_wait without a match and made no edge, by the kind of the span that came (Tempo's expired_edges).",
    );
    for t in &shown {
        for (kind, c) in t.counters.expired.iter().enumerate() {
            let n = c.load(Ordering::Relaxed);
            if n > 0 {
                let k = kind_name(kind as i32);
                line(
                    out,
                    name,
                    &[("tenant", t.tenant.as_str()), ("unmatched_span_kind", k)],
                    n as f64,
                );
            }
        }
    }
}
