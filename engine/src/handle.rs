//! [`Engine`]: the handle an embedding program holds, and its background flusher.

use std::path::Path;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Sender, select};
use tracing::{error, warn};

use crate::engine::Core;
use crate::{
    Clock, EngineConfig, Error, FlushStats, FlushStop, Matcher, Result, SeriesData, SeriesSamples,
    SystemClock, TenantId, TenantStats, WriteOutcome,
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
        let (stop_tx, stop_rx) = crossbeam_channel::bounded::<()>(1);
        let bg = core.clone();
        let tick = (core.config.flush_interval / 4)
            .clamp(Duration::from_millis(50), Duration::from_secs(5));
        let handle = std::thread::Builder::new()
            .name("strata-flush".into())
            .spawn(move || {
                loop {
                    select! {
                        recv(stop_rx) -> _ => return,
                        recv(bg.kick.1) -> _ => {}
                        default(tick) => {}
                    }
                    if bg.poisoned.get().is_none()
                        && bg.needs_flush()
                        && let Err(e) = bg.flush_until(FlushStop::Never)
                    {
                        error!(error = %e, "background flush failed");
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
        self.core.select(tenant, matchers, start, end)
    }

    /// Label names of `tenant`'s series with samples in `[start, end]`, sorted.
    pub fn label_names(&self, tenant: &TenantId, start: i64, end: i64) -> Result<Vec<String>> {
        self.core.label_names(tenant, start, end)
    }

    /// Values of label `name` among `tenant`'s series with samples in `[start, end]`, sorted.
    pub fn label_values(
        &self,
        tenant: &TenantId,
        name: &str,
        start: i64,
        end: i64,
    ) -> Result<Vec<String>> {
        self.core.label_values(tenant, name, start, end)
    }

    /// Number of series `tenant` has.
    pub fn series_count(&self, tenant: &TenantId) -> usize {
        self.core.series_count(tenant)
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

    fn stop_flusher(&mut self) {
        if let Some((stop, handle)) = self.flusher.take() {
            let _ = stop.send(());
            if handle.join().is_err() {
                warn!("background flusher panicked");
            }
        }
    }

    /// Clean shutdown: stops the flusher, flushes, and closes the WAL.
    pub fn close(mut self) -> Result<()> {
        self.stop_flusher();
        if self.core.poisoned.get().is_none() {
            self.core.flush_until(FlushStop::Never)?;
        }
        let core = self.core.clone();
        drop(self);
        match Arc::try_unwrap(core) {
            Ok(core) => core.wal.close().map_err(Error::from),
            Err(_) => Ok(()), // unreachable: the flusher is joined and self is gone
        }
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.stop_flusher();
    }
}

fn dir_of(core: &Core) -> std::path::PathBuf {
    core.dir.clone()
}
