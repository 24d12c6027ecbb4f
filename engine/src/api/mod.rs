//! [`Engine`]: the handle an embedding program holds, and its background flusher.

use std::path::Path;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Sender, select};
use tracing::{error, warn};

pub(crate) mod admin;
pub(crate) mod exemplars;
pub(crate) mod metadata;
pub(crate) mod metrics;
pub(crate) mod spans_logs;
pub(crate) mod status;
pub(crate) mod telemetry;

use crate::lifecycle::Core;
use crate::metrics::compact::Scope;
use crate::metrics::read::ReadLimit;
use crate::{
    Clock, CompactStats, EngineConfig, Error, FlushStats, FlushStop, KeyedSeries, KnownSeries,
    LogRecord, Matcher, PendingWrite, Result, RetentionStats, ScanStats, SeriesData,
    SeriesHistograms, SeriesRef, SeriesSamples, SignalOutcome, SpanRecord, SystemClock, TenantId,
    TenantStats, WriteOutcome,
};

/// The storage engine over one data directory.
///
/// `Engine` is `Send + Sync`; share it (e.g. in an `Arc`) and write from many threads. A
/// background thread flushes memory to Parquet partitions when `flush_head_samples` are
/// held or the oldest unflushed sample is `flush_interval` old. [`Engine::close`] flushes;
/// dropping without closing loses nothing either (the WAL has it all), but the next open
/// replays more.
#[derive(Debug)]
pub struct Engine {
    core: Arc<Core>,
    flusher: Option<(Sender<()>, JoinHandle<()>)>,
}

impl Engine {
    /// Opens (creating if needed) the engine in `dir`: loads committed partitions, replays the
    /// WAL, starts the background flusher.
    pub fn open(dir: impl AsRef<Path>, config: EngineConfig) -> Result<Self> {
        Self::open_with_clock(dir, config, SystemClock)
    }

    /// [`Engine::open`] with the wall clock of the time-based limits replaced (for tests:
    /// [`crate::ManualClock`]).
    pub fn open_with_clock(
        dir: impl AsRef<Path>,
        config: EngineConfig,
        clock: impl Clock,
    ) -> Result<Self> {
        let core = Arc::new(Core::open(dir, config, clock)?);
        if core.reader.is_some() {
            let flusher = Some(refresher(&core)?);
            return Ok(Self { core, flusher });
        }
        // Expired partitions go before anything can read them.
        core.apply_retention()?;
        let (stop_tx, stop_rx) = crossbeam_channel::bounded::<()>(1);
        let bg = core.clone();
        let tick = (core.config.flush_interval / 4)
            .clamp(Duration::from_millis(50), Duration::from_secs(5));
        let maintenance = core.config.maintenance_interval;
        let handle = std::thread::Builder::new()
            .name("strata-flush".into())
            .spawn(move || {
                let mut last_maintenance = Instant::now();
                // When the last flush that wrote something ended, while the memory it
                // freed has not been released yet.
                let mut unreleased: Option<Instant> = None;
                loop {
                    select! {
                        recv(stop_rx) -> _ => return,
                        recv(bg.kick.1) -> _ => {}
                        default(tick) => {}
                    }
                    if bg.poisoned.get().is_some() {
                        continue;
                    }
                    // Local copies the mirror published become evictable.
                    bg.adopt_mirrored();
                    if bg.needs_flush() {
                        match bg.flush_until(FlushStop::Never) {
                            Ok(s) if s.samples + s.spans + s.logs > 0 => {
                                unreleased = Some(Instant::now());
                            }
                            Ok(_) => {}
                            Err(e) => error!(error = %e, "background flush failed"),
                        }
                    } else if unreleased
                        .is_some_and(|t| t.elapsed() >= crate::memory::RELEASE_QUIET)
                    {
                        crate::memory::release_memory();
                        unreleased = None;
                    }
                    if last_maintenance.elapsed() >= maintenance {
                        last_maintenance = Instant::now();
                        bg.maintain();
                        crate::memory::release_memory();
                        unreleased = None;
                    }
                }
            })
            .map_err(|source| Error::Io {
                path: dir_of(&core),
                source,
            })?;
        Ok(Self {
            core,
            flusher: Some((stop_tx, handle)),
        })
    }

    /// Writes samples for `tenant`. Returns once the accepted samples are durable (per the
    /// WAL's durability mode), with exact counts of what was accepted, duplicated and
    /// rejected by reason. Rejected samples are never stored; the rest of the batch is.
    ///
    /// An `Err` means nothing of this call was stored: the engine is poisoned (a WAL or
    /// flush failure; reopen to recover) or over its memory budget (retry shortly).
    pub fn write(&self, tenant: &TenantId, batch: &[SeriesSamples]) -> Result<WriteOutcome> {
        self.core.write(tenant, batch)
    }

    /// [`Engine::write`] for series whose labels and samples are borrowed (e.g. from a
    /// decoded request buffer), so the caller needs no allocation per label.
    ///
    /// ```
    /// use strata_engine::{Clock, Engine, EngineConfig, Sample, SeriesRef, SystemClock, TenantId};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let engine = Engine::open(dir.path(), EngineConfig::default())?;
    /// let labels = [("job", "api"), ("__name__", "up")];
    /// let samples = [Sample { ts: SystemClock.now_ms(), value: 1.0 }];
    /// let series = SeriesRef { labels: &labels, samples: &samples };
    /// let outcome = engine.write_refs(&TenantId::new("acme")?, &[series])?;
    /// assert_eq!(outcome.accepted, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn write_refs(&self, tenant: &TenantId, batch: &[SeriesRef<'_>]) -> Result<WriteOutcome> {
        self.core.write(tenant, batch)
    }

    /// Writes native histogram samples for `tenant`, as [`Engine::write`] does floats, in
    /// one WAL record. Each histogram is validated (Prometheus's checks) outside the
    /// tenant's locks: one that fails is rejected as `invalid_histogram`; a schema in
    /// 9..=52 is stored reduced to 8, and one with more buckets than
    /// [`crate::Limits::max_native_histogram_buckets`] is stored at a lower resolution, or
    /// rejected as `too_many_buckets` when none fits. A histogram counts as one sample for
    /// the rate limit and in the outcome (see [`WriteOutcome::accepted_histograms`]). A
    /// float and a histogram at the same series and timestamp conflict; an identical
    /// histogram (same encoding) is a duplicate.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use strata_engine::{Clock, Counts, Engine, EngineConfig, Histogram, HistogramSample};
    /// use strata_engine::{ResetHint, SeriesHistograms, Span, SystemClock, TenantId};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let engine = Engine::open(dir.path(), EngineConfig::default())?;
    /// let h = Histogram {
    ///     schema: 0, zero_threshold: 0.001, sum: 5.0, reset_hint: ResetHint::Unknown,
    ///     positive_spans: vec![Span { offset: 0, length: 2 }], negative_spans: vec![],
    ///     custom_values: vec![],
    ///     counts: Counts::Int { count: 3, zero_count: 0, positive_deltas: vec![1, 1], negative_deltas: vec![] },
    /// };
    /// let series = SeriesHistograms {
    ///     labels: vec![("__name__".into(), "latency".into())],
    ///     histograms: vec![HistogramSample { ts: SystemClock.now_ms(), h: Arc::new(h) }],
    /// };
    /// let outcome = engine.write_histograms(&TenantId::new("acme")?, &[series])?;
    /// assert_eq!((outcome.accepted, outcome.accepted_histograms), (1, 1));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn write_histograms(
        &self,
        tenant: &TenantId,
        batch: &[SeriesHistograms],
    ) -> Result<WriteOutcome> {
        self.core.write(tenant, batch)
    }

    /// Looks up series by the raw label bytes a writer gave [`Engine::write_keyed`] before:
    /// one entry per key, `None` where the key is unknown (or was forgotten: the map is
    /// bounded). A writer that sees the same series repeatedly (remote-write) then decodes
    /// labels only for the misses.
    ///
    /// ```
    /// use strata_engine::{Clock, Engine, EngineConfig, KeyedSeries, Sample, SystemClock, TenantId};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let engine = Engine::open(dir.path(), EngineConfig::default())?;
    /// let tenant = TenantId::new("acme")?;
    /// let raw: &[u8] = b"job=api,__name__=up"; // any bytes that determine the labels
    /// let now = SystemClock.now_ms();
    /// for ts in [now - 1, now] {
    ///     let known = engine.known_series(&tenant, &[raw])?[0];
    ///     // Labels are only decoded (here: given) when the engine does not know the key.
    ///     let labels: &[(&str, &str)] = if known.is_some() { &[] } else { &[("job", "api"), ("__name__", "up")] };
    ///     let samples = [Sample { ts, value: 1.0 }];
    ///     let series = KeyedSeries { key: raw, by_symbols: false, known, labels, samples: &samples, histograms: &[], sample_starts: &[], histogram_starts: &[] };
    ///     assert_eq!(engine.write_keyed(&tenant, &[series])?.accepted, 1);
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn known_series(
        &self,
        tenant: &TenantId,
        keys: &[&[u8]],
    ) -> Result<Vec<Option<KnownSeries>>> {
        Ok(self.core.known_series(tenant, keys))
    }

    /// [`Engine::known_series`] for a writer whose requests hold a table of strings and
    /// series as references into it (remote-write 2.0's symbols): each of `series` is its
    /// labels as references into `strings`, name then value, in the writer's order. A
    /// series is found if it was written with [`KeyedSeries::by_symbols`] and these very
    /// labels in this order; the table is looked up once and series are compared as
    /// numbers, so no key is built. `None` where the series is unknown (or forgotten: the
    /// memory is bounded) or a reference is outside `strings`.
    ///
    /// ```
    /// use strata_engine::{Clock, Engine, EngineConfig, KeyedSeries, Sample, SystemClock, TenantId};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let engine = Engine::open(dir.path(), EngineConfig::default())?;
    /// let tenant = TenantId::new("acme")?;
    /// let now = SystemClock.now_ms();
    /// // Two requests with their own tables, naming {__name__="up", job="api"}.
    /// for (ts, table, refs) in [
    ///     (now - 1, vec!["", "__name__", "up", "job", "api"], vec![1, 2, 3, 4]),
    ///     (now, vec!["", "job", "api", "up", "__name__"], vec![4, 3, 1, 2]),
    /// ] {
    ///     let known = engine.known_series_symbols(&tenant, &table, &[&refs])?[0];
    ///     assert_eq!(known.is_some(), ts == now, "found the second time");
    ///     let labels: Vec<(&str, &str)> =
    ///         refs.chunks(2).map(|c| (table[c[0] as usize], table[c[1] as usize])).collect();
    ///     let samples = [Sample { ts, value: 1.0 }];
    ///     let series = KeyedSeries { key: &[], by_symbols: true, known, labels: &labels, samples: &samples, histograms: &[], sample_starts: &[], histogram_starts: &[] };
    ///     assert_eq!(engine.write_keyed(&tenant, &[series])?.accepted, 1);
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn known_series_symbols(
        &self,
        tenant: &TenantId,
        strings: &[&str],
        series: &[&[u32]],
    ) -> Result<Vec<Option<KnownSeries>>> {
        Ok(self.core.known_series_symbols(tenant, strings, series))
    }

    /// [`Engine::write_refs`] for series identified by raw label bytes (see
    /// [`Engine::known_series`]): known series skip the label checks, the others are
    /// checked and remembered under their key once stored. Fails with
    /// [`crate::Error::ForeignSeries`], storing nothing, when a [`KnownSeries`] was found
    /// for another tenant.
    pub fn write_keyed(
        &self,
        tenant: &TenantId,
        batch: &[KeyedSeries<'_>],
    ) -> Result<WriteOutcome> {
        self.core.write(tenant, batch)
    }

    /// [`Engine::write_keyed`] without the wait: returns once the samples are placed and
    /// their WAL record is queued, with the write's final outcome inside a
    /// [`PendingWrite`]. Nothing of it is acknowledged until that is waited for or awaited:
    /// an async server does the CPU work on one thread and awaits the fsync without holding
    /// any.
    ///
    /// ```
    /// use strata_engine::{Clock, Engine, EngineConfig, KeyedSeries, Sample, SystemClock, TenantId};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let engine = Engine::open(dir.path(), EngineConfig::default())?;
    /// let tenant = TenantId::new("acme")?;
    /// let samples = [Sample { ts: SystemClock.now_ms(), value: 1.0 }];
    /// let labels = [("__name__", "up")];
    /// let series = KeyedSeries { key: b"up", by_symbols: false, known: None, labels: &labels, samples: &samples, histograms: &[], sample_starts: &[], histogram_starts: &[] };
    /// let pending = engine.submit_keyed(&tenant, &[series])?;
    /// assert_eq!(pending.wait()?.accepted, 1); // or `pending.acked().await`
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn submit_keyed(
        &self,
        tenant: &TenantId,
        batch: &[KeyedSeries<'_>],
    ) -> Result<PendingWrite<WriteOutcome>> {
        self.core.submit(tenant, batch)
    }

    /// Writes spans for `tenant`. Returns once the accepted spans are durable (per the WAL's
    /// durability mode), with exact counts: accepted, rejected by reason (invalid ids or
    /// times, out of retention, over the records/s or bytes/s rate), and the truncations
    /// the attribute caps made to accepted spans. Rejected spans are never stored; the rest
    /// of the batch is. Spans are not deduplicated: a re-sent span is stored again.
    ///
    /// An `Err` means nothing of this call was stored, as for [`Engine::write`].
    ///
    /// ```
    /// use strata_engine::{AnyValue, Engine, EngineConfig, SpanRecord, TenantId};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let engine = Engine::open(dir.path(), EngineConfig::default())?;
    /// let t = TenantId::new("acme")?;
    /// let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?;
    /// let start_ns = now.as_nanos() as i64;
    /// let span = SpanRecord {
    ///     trace_id: [7; 16],
    ///     span_id: [1; 8],
    ///     service_name: "api".into(),
    ///     name: "GET /users".into(),
    ///     start_ns,
    ///     end_ns: start_ns + 1_500_000,
    ///     attributes: vec![("http.route".into(), AnyValue::String("/users".into()))],
    ///     ..SpanRecord::default()
    /// };
    /// let outcome = engine.write_spans(&t, &[span.clone()])?;
    /// assert_eq!(outcome.accepted, 1);
    /// let found = engine.find_trace(&t, [7; 16], start_ns - 1_000, start_ns + 1_000)?;
    /// assert_eq!(found, vec![span]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn write_spans(&self, tenant: &TenantId, spans: &[SpanRecord]) -> Result<SignalOutcome> {
        self.core.write_signal(&self.core.traces, tenant, spans)
    }

    /// Writes log records for `tenant`, as [`Engine::write_spans`] does spans. A record
    /// without a time is stored with its observed time.
    pub fn write_logs(&self, tenant: &TenantId, logs: &[LogRecord]) -> Result<SignalOutcome> {
        self.core.write_signal(&self.core.logs, tenant, logs)
    }

    /// The series of `tenant` matching every matcher, with their samples in `[start, end]`
    /// (milliseconds, both inclusive) from memory and Parquet, sorted by labels. Series with
    /// no sample in the range are left out.
    pub fn select(
        &self,
        tenant: &TenantId,
        matchers: &[Matcher],
        start: i64,
        end: i64,
    ) -> Result<Vec<SeriesData>> {
        let limit = ReadLimit::none();
        Ok(self
            .core
            .metrics
            .select(tenant, matchers, start, end, &limit)?
            .0)
    }

    /// [`Engine::select`], gathering at most `max_bytes` of samples (16 bytes a float
    /// sample, 256 a native histogram one): a read that would gather more stops about
    /// there, holding one decoded page at a time beyond what it gathered, and fails with
    /// [`Error::ReadLimit`](crate::Error::ReadLimit). For a query under a memory budget.
    ///
    /// ```
    /// use strata_engine::{Clock, Engine, EngineConfig, Error, Sample, SeriesSamples};
    /// use strata_engine::{SystemClock, TenantId};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let t = TenantId::new("acme")?;
    /// let engine = Engine::open(dir.path(), EngineConfig::default())?;
    /// let now = SystemClock.now_ms();
    /// let up = SeriesSamples {
    ///     labels: vec![("__name__".into(), "up".into())],
    ///     samples: (0..100).map(|i| Sample { ts: now - 100 + i, value: 1.0 }).collect(),
    /// };
    /// engine.write(&t, &[up])?;
    /// assert_eq!(engine.select_within(&t, &[], now - 1_000, now, 1_600)?.len(), 1);
    /// let over = engine.select_within(&t, &[], now - 1_000, now, 1_599);
    /// assert!(matches!(over, Err(Error::ReadLimit { limit: 1_599 })));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn select_within(
        &self,
        tenant: &TenantId,
        matchers: &[Matcher],
        start: i64,
        end: i64,
        max_bytes: usize,
    ) -> Result<Vec<SeriesData>> {
        let limit = ReadLimit::new(max_bytes);
        Ok(self
            .core
            .metrics
            .select(tenant, matchers, start, end, &limit)?
            .0)
    }

    /// [`Engine::select_within`] (or [`Engine::select`] with `max_bytes` `None`) for a
    /// reader that takes native histograms column by column: a series' histograms of one
    /// layout in a file set may come as one [`crate::HistogramRun`] in
    /// [`SeriesData::histogram_runs`] instead of a [`crate::HistogramSample`] each, where
    /// no other sample of the series (a float, or a histogram of another source) meets the
    /// run in time. The samples are the same either way.
    pub fn select_histogram_runs(
        &self,
        tenant: &TenantId,
        matchers: &[Matcher],
        (start, end): (i64, i64),
        max_bytes: Option<usize>,
    ) -> Result<Vec<SeriesData>> {
        let limit = max_bytes.map_or_else(ReadLimit::none, ReadLimit::new);
        let window = (start, end);
        let metrics = &self.core.metrics;
        Ok(metrics
            .select_shaped(tenant, matchers, window, &limit, true)?
            .0)
    }

    /// [`Engine::select`], also returning what the read touched: file sets met and skipped
    /// through their index, bytes fetched from samples files (only the pages that can hold
    /// a matching series in the range are), rows decoded.
    ///
    /// ```
    /// use strata_engine::{Clock, Engine, EngineConfig, MatchOp, Matcher, Sample, SeriesSamples};
    /// use strata_engine::{SystemClock, TenantId};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let t = TenantId::new("acme")?;
    /// let engine = Engine::open(dir.path(), EngineConfig::default())?;
    /// let now = SystemClock.now_ms();
    /// let up = |job: &str| SeriesSamples {
    ///     labels: vec![("__name__".into(), "up".into()), ("job".into(), job.into())],
    ///     samples: vec![Sample { ts: now, value: 1.0 }],
    /// };
    /// engine.write(&t, &[up("api"), up("db")])?;
    /// engine.flush()?;
    /// let m = Matcher::new("job", MatchOp::Equal, "db")?;
    /// let (series, stats) = engine.select_with_stats(&t, &[m], now - 1_000, now)?;
    /// assert_eq!(series.len(), 1);
    /// assert_eq!((stats.file_sets, stats.samples), (1, 1));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn select_with_stats(
        &self,
        tenant: &TenantId,
        matchers: &[Matcher],
        start: i64,
        end: i64,
    ) -> Result<(Vec<SeriesData>, ScanStats)> {
        self.core
            .metrics
            .select(tenant, matchers, start, end, &ReadLimit::none())
    }

    /// Label names of `tenant`'s series with samples in `[start, end]`, sorted.
    pub fn label_names(&self, tenant: &TenantId, start: i64, end: i64) -> Result<Vec<String>> {
        self.core.metrics.label_names(tenant, start, end)
    }

    /// Values of label `name` among `tenant`'s series with samples in `[start, end]`, sorted.
    pub fn label_values(
        &self,
        tenant: &TenantId,
        name: &str,
        start: i64,
        end: i64,
    ) -> Result<Vec<String>> {
        self.core.metrics.label_values(tenant, name, start, end)
    }

    /// Number of series `tenant` has.
    pub fn series_count(&self, tenant: &TenantId) -> usize {
        self.core.metrics.series_count(tenant)
    }

    /// Counters of `tenant`, for self-metrics.
    pub fn tenant_stats(&self, tenant: &TenantId) -> TenantStats {
        self.core.tenant_stats(tenant)
    }

    /// Tenants with data in memory or in partitions, sorted.
    pub fn tenants(&self) -> Vec<TenantId> {
        self.core.tenants()
    }

    /// Writes everything in memory to Parquet partitions, commits it, and truncates the WAL
    /// below it. Writes proceed during a flush, except for one WAL fsync at its start. A
    /// failure poisons the engine (see [`Error::Poisoned`]).
    pub fn flush(&self) -> Result<FlushStats> {
        self.core.flush_until(FlushStop::Never)
    }

    /// [`Engine::flush`] that stops where a crash could; for crash tests.
    #[doc(hidden)]
    pub fn flush_until(&self, stop: FlushStop) -> Result<FlushStats> {
        self.core.flush_until(stop)
    }

    pub(crate) fn core(&self) -> &Core {
        &self.core
    }

    fn stop_flusher(&mut self) {
        if let Some((stop, handle)) = self.flusher.take() {
            let _ = stop.send(());
            if handle.join().is_err() {
                warn!("background flusher panicked");
            }
        }
    }

    /// Compacts every closed partition (its end is more than the out-of-order window ago)
    /// that holds more than one file set into one sorted, deduplicated set; a metrics
    /// partition whose one set a flush wrote is rewritten as a compacted set too (compacted
    /// samples files are smaller: `docs/formats/partitions.md`). The background
    /// thread does this every `maintenance_interval`; queries in flight keep reading the
    /// sets they started with. A spans or logs partition is merged whole once its files
    /// have not changed for two `flush_interval`s; until then a file holding more rows
    /// than all its smaller ones together is left out of the merge
    /// (`spans_logs::compact::pick_inputs`), so late records do not rewrite the whole hour on
    /// every pass.
    pub fn compact(&self) -> Result<CompactStats> {
        self.core.compact(Scope::Closed)
    }

    /// [`Engine::compact`] for every partition it would compact, closed or not
    /// (for tools and benchmarks: a later flush may add a set to an open partition again).
    pub fn compact_all(&self) -> Result<CompactStats> {
        self.core.compact(Scope::All)
    }

    /// Builds the trace-id filter file (`docs/formats/spans-logs.md`) of every committed
    /// spans file that lacks one, as the background thread does every
    /// `maintenance_interval`: files written by a version without them, or whose filter a
    /// crash lost. Until then, trace lookups check those files' row-group filters (same
    /// answers, slower). Returns how many it built; a file that fails is logged.
    pub fn build_trace_filters(&self) -> usize {
        self.core.build_trace_filters()
    }

    /// Builds the summary of every committed spans file that lacks one (what maintenance
    /// does each pass); returns how many it built. Until then, a TraceQL search reads the
    /// hours of those files.
    pub fn build_span_summaries(&self) -> usize {
        self.core.build_span_summaries()
    }

    /// Builds the summary of every committed logs file that lacks one (what maintenance
    /// does each pass); returns how many it built.
    pub fn build_log_summaries(&self) -> usize {
        self.core.build_log_summaries()
    }

    /// Drops every partition past its tenant's `metrics_retention`, then the oldest
    /// partitions of tenants over their `disk_budget`, whole. The background thread does this
    /// every `maintenance_interval`. Queries in flight keep reading what they started with;
    /// a crash at any point never brings a dropped partition back.
    pub fn apply_retention(&self) -> Result<RetentionStats> {
        self.core.apply_retention()
    }

    /// Clean shutdown: stops the flusher, flushes, drops the WAL segments the flush made
    /// redundant (all of them when no write raced the close), and closes the WAL.
    pub fn close(mut self) -> Result<()> {
        self.stop_flusher();
        if self.core.poisoned.get().is_none() && self.core.reader.is_none() {
            self.core.flush_until(FlushStop::Never)?;
            self.core.release_flushed_wal()?;
        }
        if let Some(r) = &self.core.remote {
            // A last mirror pass; what it cannot do now, the next open finishes.
            if let Err(e) = r.sync_now() {
                warn!(error = %e, "mirroring to the object store at close failed");
            }
            r.stop();
        }
        let core = self.core.clone();
        drop(self);
        match Arc::try_unwrap(core) {
            Ok(core) => core.wal.close().map_err(Error::from),
            Err(_) => Ok(()), // unreachable: the flusher is joined and self is gone
        }
    }
}

impl Engine {
    /// Mirrors every partition changed since the last pass to the object store now
    /// (`EngineConfig::remote`), and deletes objects unlisted past their grace; `None`
    /// without an object store. The background mirror does the same on its own.
    pub fn sync_remote(&self) -> Result<Option<crate::RemoteStats>> {
        match &self.core.remote {
            Some(r) => {
                let stats = r.sync_now()?;
                self.core.adopt_mirrored();
                Ok(Some(stats))
            }
            None => Ok(None),
        }
    }

    /// The object-storage mirror's counters, if one is configured.
    pub fn remote_stats(&self) -> Option<crate::RemoteStats> {
        self.core.remote.as_ref().map(|r| r.stats())
    }

    /// Whether this engine reads a bucket (`EngineConfig::reader`): a query process's,
    /// which refuses writes with [`Error::ReadOnly`].
    pub fn is_reader(&self) -> bool {
        self.core.reader.is_some()
    }

    /// Lists the bucket now and swaps in what changed (`EngineConfig::reader`); whether
    /// anything did. The background thread does this every `refresh`. Fails (keeping
    /// the last view) if the bucket cannot be read; an engine of its own data directory
    /// has nothing to refresh (`Ok(false)`).
    pub fn refresh(&self) -> Result<bool> {
        self.core.refresh_reader()
    }

    /// The data directory (for a query process or a worker: its cache of the bucket).
    pub fn data_dir(&self) -> &Path {
        &self.core.dir
    }

    /// The data file at `key` (its path below the data directory, `/` separated),
    /// fetched into the cache and held while the returned file is: how a worker reads a
    /// file another process of the query planned over. A key this engine does not hold is
    /// looked up again after a refresh (a worker's view may lag); `None` if the bucket no
    /// longer publishes it, or this engine does not read a bucket.
    pub fn bucket_file(&self, key: &str) -> Result<Option<crate::SnapshotFile>> {
        if self.core.reader().is_none() {
            return Ok(None);
        }
        let part = match self.core.set_of(key) {
            Some(p) => Some(p),
            None => {
                self.core.refresh_reader()?;
                self.core.set_of(key)
            }
        };
        part.map(crate::SnapshotFile::new).transpose()
    }

    /// The reader's counters, if this engine reads a bucket.
    pub fn reader_stats(&self) -> Option<crate::ReaderStats> {
        self.core.reader().map(|r| r.stats())
    }
}

/// A query process's background thread: a refresh every `refresh` (a failure is logged
/// and counted, and the next one retries).
fn refresher(core: &Arc<Core>) -> Result<(Sender<()>, JoinHandle<()>)> {
    let (stop_tx, stop_rx) = crossbeam_channel::bounded::<()>(1);
    let bg = core.clone();
    let every = core
        .reader()
        .map_or(Duration::from_secs(10), |r| r.interval());
    let handle = std::thread::Builder::new()
        .name("strata-refresh".into())
        .spawn(move || {
            loop {
                select! {
                    recv(stop_rx) -> _ => return,
                    default(every) => {}
                }
                if let Err(e) = bg.refresh_reader() {
                    warn!(error = %e, "reading the object store failed; keeping the last view");
                }
            }
        })
        .map_err(|source| Error::Io {
            path: dir_of(core),
            source,
        })?;
    Ok((stop_tx, handle))
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.stop_flusher();
    }
}

fn dir_of(core: &Core) -> std::path::PathBuf {
    core.dir.clone()
}
