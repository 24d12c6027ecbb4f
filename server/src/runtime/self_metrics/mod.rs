//! The self-metrics: what `/metrics` exposes about Strata itself, in the Prometheus text
//! format (not OTLP metrics ingest, `ingest/otlp/metrics/`, nor the engine's samples store).
//! Here the registry: ingest and rejection counters by tenant, signal and reason, request
//! counts and latency per endpoint. Its children: the registry's exposition with what the
//! engine exposes (`render.rs`), rule evaluation and notifications (`rules.rs`), memory and
//! admission (`memory.rs`), the bucket (`bucket.rs`), and the format's writers
//! (`exposition.rs`).

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use strata_engine::{SignalOutcome, TenantId, WriteOutcome};
use strata_wal::LatencyHistogram;

mod bucket;
pub(crate) mod exposition;
pub(crate) mod memory;
mod render;
pub(crate) mod rules;

/// A telemetry signal, for the `signal` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Signal {
    /// Metric samples.
    Metrics,
    /// Spans.
    Traces,
    /// Log records.
    Logs,
}

impl Signal {
    /// `metrics`, `traces` or `logs`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Metrics => "metrics",
            Self::Traces => "traces",
            Self::Logs => "logs",
        }
    }
}

/// What a write stored, refused and changed, as [`Metrics::record_write`] counts it: the
/// engine's [`WriteOutcome`] (samples) and [`SignalOutcome`] (spans, log records).
pub trait Counts {
    /// Items stored.
    fn accepted(&self) -> u64;
    /// Identical re-sends, stored once.
    fn duplicates(&self) -> u64;
    /// Items refused, by reason.
    fn rejected(&self) -> Vec<(&'static str, u64)>;
    /// Changes made to stored items, by kind.
    fn truncated(&self) -> Vec<(&'static str, u64)>;
}

impl Counts for WriteOutcome {
    fn accepted(&self) -> u64 {
        self.accepted
    }
    fn duplicates(&self) -> u64 {
        self.duplicates
    }
    fn rejected(&self) -> Vec<(&'static str, u64)> {
        self.rejected
            .iter()
            .map(|(r, n)| (r.as_str(), *n))
            .collect()
    }
    fn truncated(&self) -> Vec<(&'static str, u64)> {
        Vec::new()
    }
}

impl Counts for SignalOutcome {
    fn accepted(&self) -> u64 {
        self.accepted
    }
    fn duplicates(&self) -> u64 {
        0
    }
    fn rejected(&self) -> Vec<(&'static str, u64)> {
        self.rejected
            .iter()
            .map(|(r, n)| (r.as_str(), *n))
            .collect()
    }
    fn truncated(&self) -> Vec<(&'static str, u64)> {
        self.truncated
            .iter()
            .map(|(t, n)| (t.as_str(), *n))
            .collect()
    }
}

#[derive(Debug, Default)]
struct Counters {
    /// (tenant, signal) -> stored items.
    accepted: BTreeMap<(String, Signal), u64>,
    /// (tenant, signal) -> harmless duplicates.
    duplicates: BTreeMap<(String, Signal), u64>,
    /// (tenant, signal, reason) -> rejected items.
    rejected: BTreeMap<(String, Signal, String), u64>,
    /// (tenant, signal, kind) -> changes the engine's caps made to stored items.
    truncated: BTreeMap<(String, Signal, &'static str), u64>,
    /// (endpoint, status) -> requests.
    requests: BTreeMap<(String, u16), u64>,
    /// endpoint -> latency.
    latency: BTreeMap<String, LatencyHistogram>,
    /// (gRPC service, status code) -> calls.
    grpc: BTreeMap<(&'static str, &'static str), u64>,
    /// gRPC service -> latency.
    grpc_latency: BTreeMap<&'static str, LatencyHistogram>,
    /// Seconds the engine took to open (recovery included).
    engine_open_seconds: Option<f64>,
    /// (tenant, signal, rule) -> samples dropped (metrics) or attributes dropped or
    /// rewritten (traces, logs) by `[relabel]` rules.
    relabeled: BTreeMap<(String, Signal, String), u64>,
    /// OTLP delta samples stored as running totals, by tenant (`[otlp] delta_to_cumulative`).
    delta_converted: BTreeMap<String, u64>,
    /// tenant -> exemplars stored.
    exemplars_accepted: BTreeMap<String, u64>,
    /// (tenant, reason) -> exemplars refused.
    exemplars_rejected: BTreeMap<(String, String), u64>,
    /// tenant -> metadata entries stored (new for their metric).
    metadata_stored: BTreeMap<String, u64>,
    /// (tenant, reason) -> metadata entries refused.
    metadata_rejected: BTreeMap<(String, String), u64>,
}

/// The registry. Counters live behind one mutex: each update is a few map operations,
/// far below the cost of the request that makes it.
#[derive(Debug, Default)]
pub struct Metrics {
    counters: Mutex<Counters>,
    rules: rules::RuleMetrics,
}

impl Metrics {
    fn lock(&self) -> std::sync::MutexGuard<'_, Counters> {
        self.counters.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Rule evaluation and notification counters.
    pub fn rules(&self) -> &rules::RuleMetrics {
        &self.rules
    }

    /// Counts a write's outcome.
    pub fn record_write(&self, tenant: &TenantId, signal: Signal, outcome: &impl Counts) {
        let mut c = self.lock();
        let t = tenant.as_str();
        *c.accepted.entry((t.to_owned(), signal)).or_default() += outcome.accepted();
        *c.duplicates.entry((t.to_owned(), signal)).or_default() += outcome.duplicates();
        for (reason, n) in outcome.rejected() {
            *c.rejected
                .entry((t.to_owned(), signal, reason.to_owned()))
                .or_default() += n;
        }
        for (kind, n) in outcome.truncated() {
            *c.truncated.entry((t.to_owned(), signal, kind)).or_default() += n;
        }
    }

    /// Counts a write of exemplars: stored, and refused by reason.
    pub fn record_exemplars(&self, tenant: &TenantId, outcome: &strata_engine::ExemplarOutcome) {
        let mut c = self.lock();
        let t = tenant.as_str();
        if outcome.accepted > 0 {
            *c.exemplars_accepted.entry(t.to_owned()).or_default() += outcome.accepted;
        }
        for (reason, n) in &outcome.rejected {
            *c.exemplars_rejected
                .entry((t.to_owned(), reason.as_str().to_owned()))
                .or_default() += n;
        }
    }

    /// Counts what one metadata write stored and refused (the engine's outcome, or a
    /// decoder's refusals).
    pub fn record_metadata(&self, tenant: &TenantId, outcome: &strata_engine::MetadataOutcome) {
        let mut c = self.lock();
        let t = tenant.as_str();
        if outcome.stored > 0 {
            *c.metadata_stored.entry(t.to_owned()).or_default() += outcome.stored;
        }
        for (reason, n) in &outcome.rejected {
            *c.metadata_rejected
                .entry((t.to_owned(), reason.as_str().to_owned()))
                .or_default() += n;
        }
    }

    /// Counts items refused by the server before they reached the engine (e.g.
    /// `otlp_unmapped`, remote-write 2.0's `invalid_symbol_refs`).
    pub fn record_rejected(&self, tenant: &TenantId, signal: Signal, reason: &str, n: u64) {
        if n == 0 {
            return;
        }
        *self
            .lock()
            .rejected
            .entry((tenant.as_str().to_owned(), signal, reason.to_owned()))
            .or_default() += n;
    }

    /// Counts `n` OTLP delta samples of `tenant` made cumulative.
    pub fn record_delta_converted(&self, tenant: &TenantId, n: u64) {
        if n > 0 {
            *self
                .lock()
                .delta_converted
                .entry(tenant.as_str().to_owned())
                .or_default() += n;
        }
    }

    /// Counts what the `[relabel]` rule `rule` did to `tenant`'s `signal` in one write.
    pub fn record_relabel(&self, tenant: &TenantId, signal: Signal, rule: &str, n: u64) {
        *self
            .lock()
            .relabeled
            .entry((tenant.as_str().to_owned(), signal, rule.to_owned()))
            .or_default() += n;
    }

    /// Counts one request to `endpoint` (its route pattern) that answered `status`.
    pub fn record_request(&self, endpoint: &str, status: u16, took: Duration) {
        let mut c = self.lock();
        *c.requests.entry((endpoint.to_owned(), status)).or_default() += 1;
        c.latency
            .entry(endpoint.to_owned())
            .or_default()
            .record(took);
    }

    /// Counts a gRPC call to `service` answered with `code`, with its latency.
    pub fn record_grpc(&self, service: &'static str, code: tonic::Code, took: Duration) {
        let mut c = self.lock();
        *c.grpc.entry((service, grpc_code_name(code))).or_default() += 1;
        c.grpc_latency.entry(service).or_default().record(took);
    }

    /// Every tenant's counters since start, for the ingest history (`history.rs`).
    pub(crate) fn tenant_totals(&self) -> BTreeMap<String, crate::runtime::history::Totals> {
        let c = self.lock();
        let mut out: BTreeMap<String, crate::runtime::history::Totals> = BTreeMap::new();
        for ((t, s), n) in &c.accepted {
            out.entry(t.clone()).or_default().accepted[*s as usize] += n;
        }
        for ((t, s, r), n) in &c.rejected {
            let e = out.entry(t.clone()).or_default();
            *e.rejected.entry((s.as_str(), r.clone())).or_default() += n;
        }
        for ((t, r), n) in &c.exemplars_rejected {
            let e = out.entry(t.clone()).or_default();
            *e.rejected.entry(("exemplars", r.clone())).or_default() += n;
        }
        out
    }

    /// Records how long the engine took to open.
    pub fn record_engine_open(&self, took: Duration) {
        self.lock().engine_open_seconds = Some(took.as_secs_f64());
    }
}

/// The status code as gRPC spells it (`OK`, `INVALID_ARGUMENT`, ...).
fn grpc_code_name(code: tonic::Code) -> &'static str {
    use tonic::Code::*;
    match code {
        Ok => "OK",
        Cancelled => "CANCELLED",
        Unknown => "UNKNOWN",
        InvalidArgument => "INVALID_ARGUMENT",
        DeadlineExceeded => "DEADLINE_EXCEEDED",
        NotFound => "NOT_FOUND",
        AlreadyExists => "ALREADY_EXISTS",
        PermissionDenied => "PERMISSION_DENIED",
        ResourceExhausted => "RESOURCE_EXHAUSTED",
        FailedPrecondition => "FAILED_PRECONDITION",
        Aborted => "ABORTED",
        OutOfRange => "OUT_OF_RANGE",
        Unimplemented => "UNIMPLEMENTED",
        Internal => "INTERNAL",
        Unavailable => "UNAVAILABLE",
        DataLoss => "DATA_LOSS",
        Unauthenticated => "UNAUTHENTICATED",
    }
}

#[cfg(test)]
mod tests;
