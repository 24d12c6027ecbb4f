//! The registry's text exposition ([`Metrics::render`]), family by family: the process,
//! ingest (items, exemplars and metadata, what caps and relabel rules changed), rules, the
//! engine (per-tenant memory and refusals, its telemetry, the bucket), HTTP and gRPC
//! requests.

use strata_engine::{DiskUsage, Engine, EngineTelemetry, SnapshotInfo, TenantId, TenantStats};

use super::exposition::{header, histogram, line};
use super::{Counters, Metrics, bucket};

/// Which tenants' per-tenant series are shown.
type Shown<'a> = &'a dyn Fn(&str) -> bool;

impl Metrics {
    /// The text exposition. With `only`, per-tenant series are limited to that tenant (a
    /// token bound to one tenant sees nothing of the others).
    pub fn render(&self, engine: Option<&Engine>, only: Option<&TenantId>) -> String {
        let shown = |t: &str| only.is_none_or(|o| o.as_str() == t);
        let c = self.lock();
        let mut out = String::new();
        let o = &mut out;
        process(o, &c, engine.is_some());
        items(o, &c, &shown);
        exemplars_and_metadata(o, &c, &shown);
        changes(o, &c, &shown);
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
            tenant_memory(o, &stats);
            tenant_refusals(o, &stats);
            engine_telemetry(o, &engine.telemetry(), &shown);
            snapshots(o, &engine.snapshots_measured(), only);
            if only.is_none() {
                if let Some(r) = engine.remote_stats() {
                    bucket::render_remote(o, &r);
                }
                if let Some(r) = engine.reader_stats() {
                    bucket::render_reader(o, &r);
                }
            }
        }
        requests(o, &c);
        out
    }
}

/// The process: its version, readiness, the footer cache, the allocator (feature
/// `alloc-stats`), how long the engine took to open, failed TLS handshakes.
fn process(o: &mut String, c: &Counters, ready: bool) {
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
    line(o, "strata_ready", &[], if ready { 1.0 } else { 0.0 });
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
    let failed = crate::tls::listen::HANDSHAKE_FAILURES.load(std::sync::atomic::Ordering::Relaxed);
    line(o, name, &[], failed as f64);
}

/// Items stored, re-sent and refused, by tenant and signal.
fn items(o: &mut String, c: &Counters, shown: Shown) {
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
}

/// Exemplars and metric metadata stored and refused, by tenant.
fn exemplars_and_metadata(o: &mut String, c: &Counters, shown: Shown) {
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
}

/// What the caps and the `[relabel]` rules changed in stored items.
fn changes(o: &mut String, c: &Counters, shown: Shown) {
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

    let name = "strata_otlp_delta_converted_samples_total";
    header(
        o,
        name,
        "counter",
        "OTLP delta samples stored as their series' running totals ([otlp] delta_to_cumulative), by tenant; the ones dropped are in strata_rejected_samples_total (delta_out_of_order, delta_streams_limit).",
    );
    for (t, n) in c.delta_converted.iter().filter(|(t, _)| shown(t)) {
        line(o, name, &[("tenant", t.as_str())], *n as f64);
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
}

/// What each shown tenant holds in memory: series, active series, records, series
/// structures.
fn tenant_memory(o: &mut String, stats: &[(&TenantId, TenantStats)]) {
    let name = "strata_series";
    header(o, name, "gauge", "Series held in memory, per tenant.");
    for (t, s) in stats {
        line(o, name, &[("tenant", t.as_str())], s.series as f64);
    }
    let name = "strata_active_series";
    header(
        o,
        name,
        "gauge",
        "Active series (counted against max_active_series).",
    );
    for (t, s) in stats {
        line(o, name, &[("tenant", t.as_str())], s.active_series as f64);
    }
    let name = "strata_records_memory_bytes";
    header(
        o,
        name,
        "gauge",
        "Bytes unflushed spans and log records hold in memory, counted against max_head_bytes, per tenant and signal.",
    );
    for (t, s) in stats {
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
    for (t, s) in stats {
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
}

/// What the engine refused per tenant since it opened, and its exemplars evicted and held.
fn tenant_refusals(o: &mut String, stats: &[(&TenantId, TenantStats)]) {
    let name = "strata_engine_rejected_samples_total";
    header(
        o,
        name,
        "counter",
        "Samples the engine rejected since it opened.",
    );
    for (t, s) in stats {
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
    for (t, s) in stats {
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
    for (t, s) in stats {
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
    for (t, s) in stats {
        line(
            o,
            name,
            &[("tenant", t.as_str())],
            s.exemplars_memory as f64,
        );
    }
}

/// Each snapshot under `<data>/snapshots` (a tenant-bound viewer sees its tenant's only):
/// its bytes, and those only it holds (what removing it frees). Measured at most a minute
/// ago.
fn snapshots(o: &mut String, list: &[SnapshotInfo], only: Option<&TenantId>) {
    let shown: Vec<_> = list
        .iter()
        .filter(|s| only.is_none() || s.tenant.as_ref() == only)
        .collect();
    for (name, help, get) in [
        (
            "strata_snapshot_bytes",
            "Bytes of the files of each snapshot (hard links included), by name and tenant (none: every tenant's).",
            (|s: &SnapshotInfo| s.bytes) as fn(&SnapshotInfo) -> u64,
        ),
        (
            "strata_snapshot_exclusive_bytes",
            "Of strata_snapshot_bytes, the bytes of files no live data shares: what removing the snapshot frees.",
            |s: &SnapshotInfo| s.exclusive_bytes,
        ),
    ] {
        header(o, name, "gauge", help);
        for s in &shown {
            let tenant = s.tenant.as_ref().map_or("", |t| t.as_str());
            let labels = [("snapshot", s.name.as_str()), ("tenant", tenant)];
            let labels = if tenant.is_empty() {
                &labels[..1]
            } else {
                &labels[..]
            };
            line(o, name, labels, get(s) as f64);
        }
    }
}

/// The engine's own measurements: background work durations, the WAL, disk per tenant.
fn engine_telemetry(o: &mut String, t: &EngineTelemetry, shown: Shown) {
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
        (
            "strata_disk_cold_bytes",
            "Of strata_disk_bytes, the bytes of partitions in the cold layout (older than cold_after).",
            |d: &DiskUsage| d.cold_bytes as f64,
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
    let name = "strata_retention_filtered_samples_total";
    header(
        o,
        name,
        "counter",
        "Samples the retention filters removed, per filter (its selector), all tenants.",
    );
    for (filter, n) in &t.retention_filtered {
        line(o, name, &[("filter", filter.as_str())], *n as f64);
    }
    let d = &t.downsampled;
    for (name, help, v) in [
        (
            "strata_downsample_days_total",
            "Tier partitions (a tier's day of a tenant) downsampling wrote ([[retention.downsampling]]).",
            d.days as f64,
        ),
        (
            "strata_downsample_source_rows_total",
            "Rows downsampling read: raw samples, or a finer tier's rows.",
            d.rows_in as f64,
        ),
        (
            "strata_downsample_rows_total",
            "Tier rows downsampling wrote (one per series and interval).",
            d.rows_out as f64,
        ),
        (
            "strata_downsample_dropped_total",
            "Source partitions dropped once their tier was committed.",
            d.dropped as f64,
        ),
    ] {
        header(o, name, "counter", help);
        line(o, name, &[], v);
    }
}

/// HTTP requests and gRPC calls: counts by status and latency histograms.
fn requests(o: &mut String, c: &Counters) {
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
}
