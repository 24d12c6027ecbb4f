//! The object-storage counters in `/metrics` (`[storage]`, `docs/scale-out.md`): the
//! writer's mirror (`strata_remote_*`) and a query process's reader (`strata_reader_*`).

use super::exposition::{header, line};

/// The object-storage mirror's counters (`[storage]`, `docs/scale-out.md`).
pub(crate) fn render_remote(o: &mut String, r: &strata_engine::RemoteStats) {
    for (name, kind, help, v) in [
        (
            "strata_remote_uploaded_objects_total",
            "counter",
            "Objects uploaded to the bucket.",
            r.uploaded_objects,
        ),
        (
            "strata_remote_uploaded_bytes_total",
            "counter",
            "Bytes uploaded to the bucket.",
            r.uploaded_bytes,
        ),
        (
            "strata_remote_manifests_put_total",
            "counter",
            "Partition manifests written to the bucket.",
            r.manifests_put,
        ),
        (
            "strata_remote_deleted_objects_total",
            "counter",
            "Objects deleted from the bucket (unlisted past the grace, dropped partitions).",
            r.deleted_objects,
        ),
        (
            "strata_remote_failed_passes_total",
            "counter",
            "Mirror passes that failed (retried with backoff).",
            r.failed_passes,
        ),
        (
            "strata_remote_pending_partitions",
            "gauge",
            "Partitions changed locally and not yet mirrored.",
            r.pending_partitions,
        ),
        (
            "strata_remote_cached_bytes",
            "gauge",
            "Bytes of mirrored data files on the local disk, when storage.cache_bytes bounds them (else 0).",
            r.cached_bytes,
        ),
        (
            "strata_remote_evicted_total",
            "counter",
            "Local copies of mirrored data files evicted to stay within storage.cache_bytes.",
            r.evicted,
        ),
        (
            "strata_remote_fetched_back_total",
            "counter",
            "Evicted data files fetched back from the bucket to be read.",
            r.fetched_back,
        ),
    ] {
        header(o, name, kind, help);
        line(o, name, &[], v as f64);
    }
    let name = "strata_remote_healthy";
    header(o, name, "gauge", "1 when the last mirror pass succeeded.");
    line(o, name, &[], if r.last_error.is_none() { 1.0 } else { 0.0 });
}

/// A query process's reader of the bucket (`--role query`).
pub(crate) fn render_reader(o: &mut String, r: &strata_engine::ReaderStats) {
    for (name, kind, help, v) in [
        (
            "strata_reader_refreshes_total",
            "counter",
            "Listings of the bucket for changed manifests.",
            r.refreshes,
        ),
        (
            "strata_reader_failed_refreshes_total",
            "counter",
            "Refreshes that failed (the last view is kept).",
            r.failed_refreshes,
        ),
        (
            "strata_reader_listings_total",
            "counter",
            "Refreshes that listed the whole prefix (the bucket had no writer's catalog).",
            r.listings,
        ),
        (
            "strata_reader_catalog_reads_total",
            "counter",
            "Conditional reads of the writer's catalog (unchanged costs no body).",
            r.catalog_reads,
        ),
        (
            "strata_reader_partitions",
            "gauge",
            "Partitions the bucket publishes, as of the last refresh.",
            r.partitions,
        ),
        (
            "strata_reader_fetched_objects_total",
            "counter",
            "Objects downloaded from the bucket.",
            r.fetched_objects,
        ),
        (
            "strata_reader_fetched_bytes_total",
            "counter",
            "Bytes downloaded from the bucket.",
            r.fetched_bytes,
        ),
        (
            "strata_reader_cache_hits_total",
            "counter",
            "Data files a query found in the local cache.",
            r.cache_hits,
        ),
        (
            "strata_reader_cache_misses_total",
            "counter",
            "Data files a query had to download.",
            r.cache_misses,
        ),
        (
            "strata_reader_ranged_gets_total",
            "counter",
            "Ranged GETs of data files not in the local cache (trace lookups read the footer and pages they need).",
            r.ranged_gets,
        ),
        (
            "strata_reader_ranged_bytes_total",
            "counter",
            "Bytes read by ranged GETs of data files not in the local cache.",
            r.ranged_bytes,
        ),
        (
            "strata_reader_evicted_total",
            "counter",
            "Data files evicted to stay within storage.cache_bytes.",
            r.evicted,
        ),
        (
            "strata_reader_cached_bytes",
            "gauge",
            "Bytes of data files in the local cache.",
            r.cached_bytes,
        ),
    ] {
        header(o, name, kind, help);
        line(o, name, &[], v as f64);
    }
    let name = "strata_reader_seconds_since_refresh";
    header(
        o,
        name,
        "gauge",
        "Seconds since the last refresh that succeeded (how stale answers can be).",
    );
    let age = r.since_refresh.map_or(f64::INFINITY, |d| d.as_secs_f64());
    line(o, name, &[], age);
}
