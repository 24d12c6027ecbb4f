//! The self-metrics: what `/metrics` exposes about Strata itself, in the Prometheus text
//! format (not OTLP metrics ingest, `ingest/otlp/metrics/`, nor the engine's samples store).
//! Here the registry: ingest and rejection counters by tenant, signal and reason, request
//! counts and latency per endpoint, and what the engine exposes (series and active series
//! per tenant, its own rejection counters). Its children: rule evaluation and notifications
//! (`rules.rs`), memory and admission (`memory.rs`), the bucket (`bucket.rs`), and the
//! format's writers (`exposition.rs`).

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use strata_engine::{DiskUsage, Engine, EngineTelemetry, SignalOutcome, TenantId, WriteOutcome};
use strata_wal::LatencyHistogram;

use exposition::{header, histogram, line};

mod bucket;
pub(crate) mod exposition;
pub(crate) mod memory;
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

    /// The text exposition. With `only`, per-tenant series are limited to that tenant (a
    /// token bound to one tenant sees nothing of the others).
    pub fn render(&self, engine: Option<&Engine>, only: Option<&TenantId>) -> String {
        let shown = |t: &str| only.is_none_or(|o| o.as_str() == t);
        let c = self.lock();
        let mut out = String::new();
        let o = &mut out;
        header(
            o,
            "strata_build_info",
            "gauge",
            "Version of this strata binary.",
        );
        line(
            o,
            "strata_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))],
            1.0,
        );
        header(
            o,
            "strata_ready",
            "gauge",
            "1 once the engine has opened (recovery done).",
        );
        line(
            o,
            "strata_ready",
            &[],
            if engine.is_some() { 1.0 } else { 0.0 },
        );
        let name = "strata_sql_footer_cache_bytes";
        header(
            o,
            name,
            "gauge",
            "Decoded Parquet footers and page indexes kept between queries (sql.metadata_cache_bytes).",
        );
        line(o, name, &[], strata_query::sql::footer_cache_bytes() as f64);
        #[cfg(feature = "alloc-stats")]
        {
            let name = "strata_allocator_live_bytes";
            header(
                o,
                name,
                "gauge",
                "Heap bytes allocated and not yet freed (feature alloc-stats).",
            );
            line(o, name, &[], crate::runtime::allocator::live_bytes() as f64);
        }
        if let Some(s) = c.engine_open_seconds {
            header(
                o,
                "strata_engine_open_seconds",
                "gauge",
                "Seconds the engine took to open, WAL replay included.",
            );
            line(o, "strata_engine_open_seconds", &[], s);
        }

        let name = "strata_tls_handshake_failures_total";
        header(
            o,
            name,
            "counter",
            "TLS handshakes that failed or timed out (plaintext or untrusted clients), both listeners.",
        );
        let failed =
            crate::tls::listen::HANDSHAKE_FAILURES.load(std::sync::atomic::Ordering::Relaxed);
        line(o, name, &[], failed as f64);

        let name = "strata_ingested_samples_total";
        header(o, name, "counter", "Items stored, by tenant and signal.");
        for ((t, s), n) in c.accepted.iter().filter(|((t, _), _)| shown(t)) {
            line(
                o,
                name,
                &[("tenant", t.as_str()), ("signal", s.as_str())],
                *n as f64,
            );
        }
        let name = "strata_duplicate_samples_total";
        header(o, name, "counter", "Identical re-sends, stored once.");
        for ((t, s), n) in c.duplicates.iter().filter(|((t, _), _)| shown(t)) {
            line(
                o,
                name,
                &[("tenant", t.as_str()), ("signal", s.as_str())],
                *n as f64,
            );
        }
        let name = "strata_rejected_samples_total";
        header(
            o,
            name,
            "counter",
            "Items refused, by tenant, signal and reason.",
        );
        for ((t, s, r), n) in c.rejected.iter().filter(|((t, _, _), _)| shown(t)) {
            let labels = [
                ("tenant", t.as_str()),
                ("signal", s.as_str()),
                ("reason", r.as_str()),
            ];
            line(o, name, &labels, *n as f64);
        }
        let name = "strata_exemplars_accepted_total";
        header(o, name, "counter", "Exemplars stored, by tenant.");
        for (t, n) in c.exemplars_accepted.iter().filter(|(t, _)| shown(t)) {
            line(o, name, &[("tenant", t.as_str())], *n as f64);
        }
        let name = "strata_exemplars_rejected_total";
        header(
            o,
            name,
            "counter",
            "Exemplars refused, by tenant and reason (their samples are stored regardless).",
        );
        for ((t, r), n) in c.exemplars_rejected.iter().filter(|((t, _), _)| shown(t)) {
            line(
                o,
                name,
                &[("tenant", t.as_str()), ("reason", r.as_str())],
                *n as f64,
            );
        }
        let name = "strata_metadata_stored_total";
        header(
            o,
            name,
            "counter",
            "Metric metadata entries stored (new for their metric; re-sent ones are not counted), by tenant.",
        );
        for (t, n) in c.metadata_stored.iter().filter(|(t, _)| shown(t)) {
            line(o, name, &[("tenant", t.as_str())], *n as f64);
        }
        let name = "strata_metadata_rejected_total";
        header(
            o,
            name,
            "counter",
            "Metric metadata entries refused, by tenant and reason (their samples are stored regardless).",
        );
        for ((t, r), n) in c.metadata_rejected.iter().filter(|((t, _), _)| shown(t)) {
            line(
                o,
                name,
                &[("tenant", t.as_str()), ("reason", r.as_str())],
                *n as f64,
            );
        }
        let name = "strata_truncated_total";
        header(
            o,
            name,
            "counter",
            "Changes made to stored items, by kind: attribute caps on spans and log records, remote-write 2.0 start timestamps not stored.",
        );
        for ((t, s, k), n) in c.truncated.iter().filter(|((t, _, _), _)| shown(t)) {
            let labels = [("tenant", t.as_str()), ("signal", s.as_str()), ("kind", k)];
            line(o, name, &labels, *n as f64);
        }

        let name = "strata_relabel_total";
        header(
            o,
            name,
            "counter",
            "What [relabel] rules did, by tenant, signal and rule: samples of dropped series (metrics), attributes dropped or rewritten (traces, logs).",
        );
        for ((t, s, r), n) in c.relabeled.iter().filter(|((t, _, _), _)| shown(t)) {
            let labels = [
                ("tenant", t.as_str()),
                ("signal", s.as_str()),
                ("rule", r.as_str()),
            ];
            line(o, name, &labels, *n as f64);
        }
        self.rules.render(o, &shown, only.is_none());

        if let Some(engine) = engine {
            let tenants: Vec<TenantId> = engine
                .tenants()
                .into_iter()
                .filter(|t| shown(t.as_str()))
                .collect();
            let stats: Vec<_> = tenants
                .iter()
                .map(|t| (t, engine.tenant_stats(t)))
                .collect();
            let name = "strata_series";
            header(o, name, "gauge", "Series held in memory, per tenant.");
            for (t, s) in &stats {
                line(o, name, &[("tenant", t.as_str())], s.series as f64);
            }
            let name = "strata_active_series";
            header(
                o,
                name,
                "gauge",
                "Active series (counted against max_active_series).",
            );
            for (t, s) in &stats {
                line(o, name, &[("tenant", t.as_str())], s.active_series as f64);
            }
            let name = "strata_records_memory_bytes";
            header(
                o,
                name,
                "gauge",
                "Bytes unflushed spans and log records hold in memory, counted against max_head_bytes, per tenant and signal.",
            );
            for (t, s) in &stats {
                for (signal, bytes) in [("traces", s.spans_memory), ("logs", s.logs_memory)] {
                    line(
                        o,
                        name,
                        &[("tenant", t.as_str()), ("signal", signal)],
                        bytes as f64,
                    );
                }
            }
            let name = "strata_series_memory_bytes";
            header(
                o,
                name,
                "gauge",
                "Estimated bytes of the series structures in memory (samples not included), per tenant and part.",
            );
            for (t, s) in &stats {
                let m = &s.memory;
                for (part, bytes) in [
                    ("series_table", m.series_table),
                    ("series_keys", m.series_keys),
                    ("postings", m.postings),
                    ("raw_keys", m.raw_keys),
                    ("flushing_table", m.flushing_table),
                ] {
                    line(
                        o,
                        name,
                        &[("tenant", t.as_str()), ("part", part)],
                        bytes as f64,
                    );
                }
            }
            let name = "strata_engine_rejected_samples_total";
            header(
                o,
                name,
                "counter",
                "Samples the engine rejected since it opened.",
            );
            for (t, s) in &stats {
                for (reason, n) in &s.rejected {
                    let labels = [("tenant", t.as_str()), ("reason", reason.as_str())];
                    line(o, name, &labels, *n as f64);
                }
            }
            let name = "strata_engine_exemplars_rejected_total";
            header(
                o,
                name,
                "counter",
                "Exemplars the engine refused since it opened, by reason.",
            );
            for (t, s) in &stats {
                for (reason, n) in &s.exemplars_rejected {
                    let labels = [("tenant", t.as_str()), ("reason", reason.as_str())];
                    line(o, name, &labels, *n as f64);
                }
            }
            let name = "strata_exemplars_evicted_total";
            header(
                o,
                name,
                "counter",
                "Exemplars pushed out of memory over max_exemplars before a flush wrote them.",
            );
            for (t, s) in &stats {
                line(
                    o,
                    name,
                    &[("tenant", t.as_str())],
                    s.exemplars_evicted as f64,
                );
            }
            let name = "strata_exemplars_in_memory";
            header(
                o,
                name,
                "gauge",
                "Exemplars held in memory (at most max_exemplars).",
            );
            for (t, s) in &stats {
                line(
                    o,
                    name,
                    &[("tenant", t.as_str())],
                    s.exemplars_memory as f64,
                );
            }
        }

        if let Some(engine) = engine {
            render_engine_telemetry(o, &engine.telemetry(), &shown);
            if only.is_none() {
                if let Some(r) = engine.remote_stats() {
                    bucket::render_remote(o, &r);
                }
                if let Some(r) = engine.reader_stats() {
                    bucket::render_reader(o, &r);
                }
            }
        }

        let name = "strata_http_requests_total";
        header(
            o,
            name,
            "counter",
            "HTTP requests by endpoint and status code.",
        );
        for ((e, code), n) in &c.requests {
            line(
                o,
                name,
                &[
                    ("endpoint", e.as_str()),
                    ("code", code.to_string().as_str()),
                ],
                *n as f64,
            );
        }
        let name = "strata_http_request_duration_seconds";
        header(o, name, "histogram", "HTTP request latency by endpoint.");
        for (e, h) in &c.latency {
            let h = h.snapshot();
            let buckets = h.buckets.iter().copied();
            histogram(o, name, ("endpoint", e), buckets, h.count, h.sum_seconds);
        }
        let name = "strata_grpc_requests_total";
        header(o, name, "counter", "gRPC calls by service and status code.");
        for ((service, code), n) in &c.grpc {
            line(o, name, &[("service", service), ("code", code)], *n as f64);
        }
        let name = "strata_grpc_request_duration_seconds";
        header(o, name, "histogram", "gRPC call latency by service.");
        for (service, h) in &c.grpc_latency {
            let h = h.snapshot();
            let buckets = h.buckets.iter().copied();
            histogram(
                o,
                name,
                ("service", service),
                buckets,
                h.count,
                h.sum_seconds,
            );
        }
        out
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

/// The engine's own measurements: background work durations, the WAL, disk per tenant.
fn render_engine_telemetry(o: &mut String, t: &EngineTelemetry, shown: &dyn Fn(&str) -> bool) {
    for (name, help, h) in [
        (
            "strata_wal_fsync_duration_seconds",
            "fsyncs of WAL segment data (one per group commit).",
            &t.wal_fsync,
        ),
        (
            "strata_flush_duration_seconds",
            "Flushes of memory to Parquet, failed ones included.",
            &t.flush,
        ),
        (
            "strata_compaction_duration_seconds",
            "Compaction passes over sealed partitions.",
            &t.compaction,
        ),
        (
            "strata_retention_duration_seconds",
            "Retention passes (partition drops).",
            &t.retention,
        ),
    ] {
        header(o, name, "histogram", help);
        let buckets = h.buckets.iter().copied();
        histogram(o, name, ("", ""), buckets, h.count, h.sum_seconds);
    }
    for (name, help, v) in [
        (
            "strata_wal_appends_total",
            "WAL append batches written.",
            t.wal.appends,
        ),
        (
            "strata_wal_records_total",
            "WAL records written.",
            t.wal.records,
        ),
        (
            "strata_wal_bytes_total",
            "WAL bytes written, frames included.",
            t.wal.bytes,
        ),
        (
            "strata_wal_fsyncs_total",
            "fsyncs of WAL segment data.",
            t.wal.syncs,
        ),
    ] {
        header(o, name, "counter", help);
        line(o, name, &[], v as f64);
    }
    let disk: Vec<_> = t
        .disk
        .iter()
        .filter(|((id, _), _)| shown(id.as_str()))
        .collect();
    for (name, help, get) in [
        (
            "strata_partitions",
            "Partition directories with committed data, per tenant and signal.",
            (|d: &DiskUsage| d.partitions as f64) as fn(&DiskUsage) -> f64,
        ),
        (
            "strata_file_sets",
            "Committed Parquet file sets, per tenant and signal (compaction merges them).",
            |d: &DiskUsage| d.file_sets as f64,
        ),
        (
            "strata_disk_bytes",
            "Bytes of committed Parquet files, per tenant and signal (the WAL is not included).",
            |d: &DiskUsage| d.bytes as f64,
        ),
    ] {
        header(o, name, "gauge", help);
        for ((id, signal), d) in &disk {
            line(
                o,
                name,
                &[("tenant", id.as_str()), ("signal", signal)],
                get(d),
            );
        }
    }
}

#[cfg(test)]
mod tests;
