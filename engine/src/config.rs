//! Engine configuration.

use std::collections::BTreeMap;
use std::time::Duration;

use strata_wal::WalOptions;

use crate::{Error, Result, TenantId};

/// One label matcher of a tier's selector, as text ([`Downsampling::matchers`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TierMatch {
    /// The label's name.
    pub name: String,
    /// `=`, `!=`, `=~` or `!~`.
    pub op: String,
    /// The value, or the regex (fully anchored, as in PromQL).
    pub value: String,
}

/// One downsampled tier ([`Limits::downsampling`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Downsampling {
    /// Age at which a day's data moves into this tier: once the day ended this long ago.
    pub after: Duration,
    /// Interval length: one row per series and interval.
    pub resolution: Duration,
    /// The series the tier takes (a series selector's matchers; empty: every series). The
    /// others stay where they are (raw, or the finer tier) until the metrics retention
    /// drops them, as VictoriaMetrics's `-downsampling.period` filters do.
    pub matchers: Vec<TierMatch>,
}

impl Downsampling {
    /// The resolution in milliseconds.
    pub fn resolution_ms(&self) -> i64 {
        i64::try_from(self.resolution.as_millis()).unwrap_or(i64::MAX)
    }

    /// `after` in milliseconds.
    pub fn after_ms(&self) -> i64 {
        i64::try_from(self.after.as_millis()).unwrap_or(i64::MAX)
    }
}

/// Per-tenant limits checked on every write. Defaults follow Prometheus's and the brief's.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// Most active series (a series is active while it received a sample within
    /// `active_series_window`). A write introducing more is rejected for the new series only;
    /// series already active keep ingesting. Default 150,000.
    pub max_active_series: usize,
    /// Most active series with one metric name. Default 50,000.
    pub max_series_per_metric: usize,
    /// How long a series stays active after its last sample was received. Default 1 h.
    pub active_series_window: Duration,
    /// Sustained ingest rate in samples per second (token bucket). Default 100,000.
    pub ingest_rate: f64,
    /// Bucket size: samples that may arrive at once after a quiet spell. Default 200,000.
    pub ingest_burst: f64,
    /// Most labels a series may have, `__name__` included. Default 30.
    pub max_labels_per_series: usize,
    /// Longest label name in bytes. Default 1024.
    pub max_label_name_len: usize,
    /// Longest label value in bytes. Default 2048.
    pub max_label_value_len: usize,
    /// How long metrics are kept: a partition is dropped, whole, once its end is this long
    /// ago; samples older than this are rejected on write. Default 30 days.
    pub metrics_retention: Duration,
    /// Most bytes of Parquet files (metrics, spans and logs together) the tenant may keep;
    /// over it, its oldest partitions are dropped, whole, until it fits (possibly all of
    /// them): oldest hour first, and within an hour metrics, then traces, then logs.
    /// Default: no budget.
    pub disk_budget: Option<u64>,
    /// How long spans are kept: a `traces/` partition is dropped, whole, once its end is
    /// this long ago; spans starting before that are rejected on write. Default 7 days.
    pub traces_retention: Duration,
    /// How long log records are kept, as `traces_retention` for `logs/`. Default 7 days.
    pub logs_retention: Duration,
    /// Age at which a metrics partition turns cold: once its end is this long ago,
    /// compaction rewrites it in the dense layout (`docs/formats/partitions.md`), smaller
    /// and slower to read. Default 24 hours; zero makes every closed partition cold.
    pub cold_after: Duration,
    /// Downsampled tiers (`docs/retention.md`), finest first: once a UTC day of metrics
    /// ends `after` ago, its samples are summarised per series and `resolution` interval
    /// into the tier, and the finer data of that day is dropped. Default: none.
    pub downsampling: Vec<Downsampling>,
    /// Sustained span or log record rate, records per second (one token bucket per tenant
    /// and signal). Default 100,000.
    pub signal_record_rate: f64,
    /// Records that may arrive at once after a quiet spell. Default 200,000.
    pub signal_record_burst: f64,
    /// Sustained span or log ingest in bytes per second, measured as the records' encoded
    /// (WAL) size (one token bucket per tenant and signal). Default 64 MiB/s.
    pub signal_byte_rate: f64,
    /// Bytes that may arrive at once after a quiet spell. Default 128 MiB.
    pub signal_byte_burst: f64,
    /// Most attributes kept per span, event, link, log record or resource; the rest are
    /// dropped and counted (`dropped_attributes_count`, and the write's outcome); also the
    /// most elements kept in one array or kvlist value. Default 128 (OTel SDKs' default).
    pub max_attributes: usize,
    /// Longest string or bytes value kept (attribute values, array elements, log bodies,
    /// span and event names), in bytes; longer ones are cut and counted. Default 16 KiB.
    pub max_attribute_value_len: usize,
    /// Deepest nesting of arrays and kvlists in one value (a scalar is 1); deeper
    /// attributes are dropped and counted. Default 8.
    pub max_attribute_depth: usize,
    /// Most events kept per span (the rest dropped and counted). Default 128.
    pub max_events: usize,
    /// Most links kept per span (the rest dropped and counted). Default 128.
    pub max_links: usize,
    /// Most exemplars kept in memory for the tenant, as Prometheus's
    /// `storage.exemplars.max_exemplars`: a circular buffer in which, over the limit, the
    /// oldest go (those a flush already wrote stay in their files). 0 turns exemplar storage
    /// off (every exemplar is refused as `disabled`). Default 100,000.
    pub max_exemplars: usize,
    /// Most buckets (positive plus negative) a native histogram sample may have, as
    /// Prometheus's `native_histogram_bucket_limit`: a histogram over it has its resolution
    /// reduced (schema lowered one step at a time) until it fits, or is rejected as
    /// `too_many_buckets` when it cannot (schema -4 reached, or custom buckets). 0: no
    /// limit. Default 0.
    pub max_native_histogram_buckets: usize,
}

impl Limits {
    /// Rejects values that cannot work, naming the key.
    pub fn validate(&self) -> Result<()> {
        let bad = |key, reason: &str| {
            Err(Error::InvalidConfig {
                key,
                reason: reason.to_owned(),
            })
        };
        if self.max_labels_per_series == 0 {
            return bad(
                "limits.max_labels_per_series",
                "must be at least 1 (for __name__)",
            );
        }
        if self.max_label_name_len == 0 || self.max_label_value_len == 0 {
            return bad(
                "limits.max_label_name_len/max_label_value_len",
                "must be at least 1",
            );
        }
        if !(self.ingest_rate.is_finite() && self.ingest_rate > 0.0) {
            return bad(
                "limits.ingest_rate",
                "must be a positive number of samples/s",
            );
        }
        if !(self.ingest_burst.is_finite() && self.ingest_burst >= 1.0) {
            return bad("limits.ingest_burst", "must be at least 1 sample");
        }
        if self.metrics_retention.is_zero() {
            return bad("limits.metrics_retention", "must be longer than zero");
        }
        if self.active_series_window.is_zero() {
            return bad("limits.active_series_window", "must be longer than zero");
        }
        if self.traces_retention.is_zero() || self.logs_retention.is_zero() {
            return bad(
                "limits.traces_retention/logs_retention",
                "must be longer than zero",
            );
        }
        for (key, rate, min) in [
            ("limits.signal_record_rate", self.signal_record_rate, 0.0),
            ("limits.signal_byte_rate", self.signal_byte_rate, 0.0),
            ("limits.signal_record_burst", self.signal_record_burst, 1.0),
            ("limits.signal_byte_burst", self.signal_byte_burst, 1.0),
        ] {
            if !(rate.is_finite() && rate > min) {
                return bad(key, "must be a positive number, bursts at least 1");
            }
        }
        if self.max_attribute_value_len == 0 {
            return bad("limits.max_attribute_value_len", "must be at least 1");
        }
        if !(1..=64).contains(&self.max_attribute_depth) {
            return bad("limits.max_attribute_depth", "must be 1 to 64");
        }
        self.validate_downsampling()
    }

    /// [`Limits::downsampling`] checked: resolutions of whole seconds that divide a day,
    /// each a multiple of the one before, `after` growing.
    fn validate_downsampling(&self) -> Result<()> {
        let bad = |reason: String| {
            Err(Error::InvalidConfig {
                key: "retention.downsampling",
                reason,
            })
        };
        let mut prev: Option<&Downsampling> = None;
        for d in &self.downsampling {
            let res = d.resolution_ms();
            if let Some(m) = d
                .matchers
                .iter()
                .find(|m| !["=", "!=", "=~", "!~"].contains(&m.op.as_str()))
            {
                return bad(format!(
                    "match: operator {:?} of label {:?} is not =, !=, =~ or !~",
                    m.op, m.name
                ));
            }
            if res < 1_000 || res % 1_000 != 0 || 86_400_000 % res != 0 {
                return bad(format!(
                    "resolution {:?} must be whole seconds that divide a day (e.g. 5m, 1h)",
                    d.resolution
                ));
            }
            if let Some(p) = prev {
                if res <= p.resolution_ms() || res % p.resolution_ms() != 0 {
                    return bad(format!(
                        "resolution {:?} must be a multiple of the previous tier's {:?}",
                        d.resolution, p.resolution
                    ));
                }
                if d.after <= p.after {
                    return bad(format!(
                        "after {:?} must be later than the previous tier's {:?}",
                        d.after, p.after
                    ));
                }
            }
            prev = Some(d);
        }
        Ok(())
    }

    /// [`Limits::cold_after`] in milliseconds.
    pub(crate) fn cold_after_ms(&self) -> i64 {
        i64::try_from(self.cold_after.as_millis()).unwrap_or(i64::MAX)
    }

    pub(crate) fn retention_ms(&self) -> i64 {
        i64::try_from(self.metrics_retention.as_millis()).unwrap_or(i64::MAX)
    }

    /// Retention of `signal` in ms.
    pub(crate) fn signal_retention_ms(&self, signal: crate::signal_kind::Signal) -> i64 {
        let d = match signal {
            crate::signal_kind::Signal::Metrics => self.metrics_retention,
            crate::signal_kind::Signal::Traces => self.traces_retention,
            crate::signal_kind::Signal::Logs => self.logs_retention,
        };
        i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
    }

    pub(crate) fn active_window_ms(&self) -> i64 {
        i64::try_from(self.active_series_window.as_millis()).unwrap_or(i64::MAX)
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_active_series: 150_000,
            max_series_per_metric: 50_000,
            active_series_window: Duration::from_secs(3600),
            ingest_rate: 100_000.0,
            ingest_burst: 200_000.0,
            max_labels_per_series: 30,
            max_label_name_len: 1024,
            max_label_value_len: 2048,
            metrics_retention: Duration::from_secs(30 * 86_400),
            disk_budget: None,
            traces_retention: Duration::from_secs(7 * 86_400),
            logs_retention: Duration::from_secs(7 * 86_400),
            cold_after: Duration::from_secs(86_400),
            downsampling: Vec::new(),
            signal_record_rate: 100_000.0,
            signal_record_burst: 200_000.0,
            signal_byte_rate: f64::from(64u32 << 20),
            signal_byte_burst: f64::from(128u32 << 20),
            max_attributes: 128,
            max_attribute_value_len: 16 << 10,
            max_attribute_depth: 8,
            max_events: 128,
            max_links: 128,
            max_exemplars: 100_000,
            max_native_histogram_buckets: 0,
        }
    }
}

/// Configuration of an [`crate::Engine`].
#[derive(Debug, Clone, PartialEq)]
pub struct EngineConfig {
    /// The write-ahead log's options; its durability decides when a write returns.
    pub wal: WalOptions,
    /// How far behind a series' newest sample a sample may be and still be accepted.
    /// Default 1 h.
    pub out_of_order_window: Duration,
    /// Limits applied to every tenant without an override.
    pub limits: Limits,
    /// Per-tenant limits, by tenant id, replacing `limits` for that tenant.
    pub tenant_limits: BTreeMap<String, Limits>,
    /// Flush when the oldest unflushed sample arrived this long ago. Default 10 min.
    pub flush_interval: Duration,
    /// Flush when this many samples are in memory, or when unflushed spans and log records
    /// hold as many bytes as that many samples (16 each). Default 4 M (~64 MiB).
    pub flush_head_samples: u64,
    /// Refuse writes (retryable `OverCapacity`) while unflushed samples (16 bytes each)
    /// and the memory unflushed spans and log records hold take more than this many
    /// bytes. Default 512 MiB.
    pub max_head_bytes: u64,
    /// How often the background thread compacts closed partitions and applies retention.
    /// Default 1 min.
    pub maintenance_interval: Duration,
    /// Most bytes of decoded samples pages kept between queries (16 bytes per sample; the
    /// least recently used go first). 0 keeps none. Default 128 MiB.
    pub page_cache_bytes: u64,
    /// Mirror every committed partition to an object store (`storage/remote`); `None`
    /// keeps everything on the local disk only. Default `None`.
    pub remote: Option<RemoteConfig>,
    /// Open read-only over a bucket a writer mirrors to (a query process:
    /// `storage/remote/reader.rs`): the data directory then holds a cache of it, writes
    /// are refused, and the bucket's manifests are followed. Default `None`.
    pub reader: Option<ReaderConfig>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            wal: WalOptions::default(),
            out_of_order_window: Duration::from_secs(3600),
            limits: Limits::default(),
            tenant_limits: BTreeMap::new(),
            flush_interval: Duration::from_secs(600),
            flush_head_samples: 4_000_000,
            max_head_bytes: 512 << 20,
            maintenance_interval: Duration::from_secs(60),
            page_cache_bytes: 128 << 20,
            remote: None,
            reader: None,
        }
    }
}

impl EngineConfig {
    /// Rejects values that cannot work, naming the key.
    pub fn validate(&self) -> Result<()> {
        let bad = |key, reason: &str| {
            Err(Error::InvalidConfig {
                key,
                reason: reason.to_owned(),
            })
        };
        for (tenant, limits) in std::iter::once(("", &self.limits))
            .chain(self.tenant_limits.iter().map(|(t, l)| (t.as_str(), l)))
        {
            if !tenant.is_empty() {
                TenantId::new(tenant)?;
            }
            limits.validate()?;
        }
        if let Some(r) = &self.remote {
            if r.prefix.starts_with('/') || r.prefix.ends_with('/') {
                return bad("storage.prefix", "no leading or trailing '/'");
            }
            if r.interval.is_zero() {
                return bad("storage.interval", "must be above zero");
            }
        }
        if let Some(r) = &self.reader {
            if self.remote.is_some() {
                return bad(
                    "storage.role",
                    "a process either writes a bucket or reads it",
                );
            }
            if r.prefix.starts_with('/') || r.prefix.ends_with('/') {
                return bad("storage.prefix", "no leading or trailing '/'");
            }
            if r.refresh.is_zero() {
                return bad("storage.interval", "must be above zero");
            }
        }
        if self.flush_interval.is_zero() {
            return bad("flush_interval", "must be longer than zero");
        }
        if self.maintenance_interval.is_zero() {
            return bad("maintenance_interval", "must be longer than zero");
        }
        if self.flush_head_samples == 0 {
            return bad("flush_head_samples", "must be at least 1");
        }
        if self.max_head_bytes < self.flush_head_samples.saturating_mul(16) {
            return bad(
                "max_head_bytes",
                "must hold at least flush_head_samples (16 bytes each), or writes stall before a flush starts",
            );
        }
        if self.out_of_order_window.as_millis() > i64::MAX as u128 {
            return bad("out_of_order_window", "too large");
        }
        self.wal.validate().map_err(Error::from)
    }

    /// The limits in force for `tenant`.
    pub fn limits_for(&self, tenant: &TenantId) -> &Limits {
        self.tenant_limits
            .get(tenant.as_str())
            .unwrap_or(&self.limits)
    }

    pub(crate) fn window_ms(&self) -> i64 {
        // Checked by validate().
        i64::try_from(self.out_of_order_window.as_millis()).unwrap_or(i64::MAX)
    }
}

/// Where and how a writer mirrors its partitions ([`crate::EngineConfig::remote`]).
#[derive(Clone)]
pub struct RemoteConfig {
    /// The bucket (any `object_store` store: S3, a local directory, memory).
    pub store: std::sync::Arc<dyn object_store::ObjectStore>,
    /// The key prefix under which the data directory's layout is mirrored (no leading or
    /// trailing `/`; empty for the bucket's root).
    pub prefix: String,
    /// How long an object no manifest lists stays before it is deleted. Default 10 min.
    pub delete_grace: Duration,
    /// How often the mirror looks for work besides being woken by a commit. Default 10 s.
    pub interval: Duration,
    /// Keep at most this many bytes of mirrored data files on the local disk, the least
    /// recently used evicted first and fetched back from the bucket when read: the
    /// partitions then outgrow the disk, and the bucket holds the only copy of what was
    /// evicted. `None` (the default) keeps every local copy.
    pub cache_bytes: Option<u64>,
}

impl RemoteConfig {
    /// Mirrors to `store` under `prefix`, with the default grace and interval.
    pub fn new(
        store: std::sync::Arc<dyn object_store::ObjectStore>,
        prefix: impl Into<String>,
    ) -> Self {
        Self {
            store,
            prefix: prefix.into(),
            delete_grace: Duration::from_secs(600),
            interval: Duration::from_secs(10),
            cache_bytes: None,
        }
    }
}

impl std::fmt::Debug for RemoteConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteConfig")
            .field("store", &self.store.to_string())
            .field("prefix", &self.prefix)
            .field("delete_grace", &self.delete_grace)
            .field("interval", &self.interval)
            .field("cache_bytes", &self.cache_bytes)
            .finish()
    }
}

impl PartialEq for RemoteConfig {
    fn eq(&self, other: &Self) -> bool {
        std::sync::Arc::ptr_eq(&self.store, &other.store)
            && self.prefix == other.prefix
            && self.delete_grace == other.delete_grace
            && self.interval == other.interval
            && self.cache_bytes == other.cache_bytes
    }
}

/// How a query process reads a bucket a writer mirrors to ([`crate::EngineConfig::reader`]).
#[derive(Clone)]
pub struct ReaderConfig {
    /// The bucket (any `object_store` store: S3, a local directory, memory).
    pub store: std::sync::Arc<dyn object_store::ObjectStore>,
    /// The key prefix the writer mirrors under ([`RemoteConfig::prefix`]).
    pub prefix: String,
    /// Most bytes of data files kept in the local cache, the least recently used evicted
    /// first (a file a query is reading stays until it is done). The manifests, the
    /// metrics series and index files and the trace-id filters and logs summaries are
    /// kept whole besides. Default 2 GiB.
    pub cache_bytes: u64,
    /// How often the bucket is listed for changed manifests. Default 10 s.
    pub refresh: Duration,
}

impl ReaderConfig {
    /// Reads `store` under `prefix`, with the default cache size and refresh interval.
    pub fn new(
        store: std::sync::Arc<dyn object_store::ObjectStore>,
        prefix: impl Into<String>,
    ) -> Self {
        Self {
            store,
            prefix: prefix.into(),
            cache_bytes: 2 << 30,
            refresh: Duration::from_secs(10),
        }
    }
}

impl std::fmt::Debug for ReaderConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReaderConfig")
            .field("store", &self.store.to_string())
            .field("prefix", &self.prefix)
            .field("cache_bytes", &self.cache_bytes)
            .field("refresh", &self.refresh)
            .finish()
    }
}

impl PartialEq for ReaderConfig {
    fn eq(&self, other: &Self) -> bool {
        std::sync::Arc::ptr_eq(&self.store, &other.store)
            && self.prefix == other.prefix
            && self.cache_bytes == other.cache_bytes
            && self.refresh == other.refresh
    }
}
