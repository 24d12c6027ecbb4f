//! Memory pressure: the budgets are estimates, so a watch compares what the process really
//! holds (its anonymous resident memory, which the kernel cannot take back without swap)
//! with the limit, and sheds the cheap things first:
//!
//! | anonymous RSS | what happens |
//! |---|---|
//! | ≥ 100 % of the limit | the page and footer caches are dropped and the allocator returns its free memory (at most once every 2 s) |
//! | ≥ 110 % | new queries are refused: 503 + Retry-After (`strata_queries_refused_total{reason="pressure"}`), and the query memory pools close: a running query fails (422) at its next allocation and gives its memory back |
//! | ≥ 120 % | ingest is refused too: 503 + Retry-After (`strata_ingest_refused_pressure_total`); senders retry, nothing acknowledged is lost |
//!
//! The limit is 0.75 of the container's limit by default, so the last step starts at 90 %
//! of what the kernel allows. Each level ends when the memory falls back under its mark.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::http::error::ApiError;

/// How often the watch reads the process's memory.
const TICK: Duration = Duration::from_millis(20);

/// The shortest time between two sheds.
const SHED_EVERY: Duration = Duration::from_secs(2);

/// Seconds a client refused under pressure is told to wait.
const PRESSURE_RETRY_AFTER_SECS: u64 = 2;

/// How far memory is over the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub(crate) enum Level {
    /// Under the limit.
    Normal = 0,
    /// At the limit: caches are shed.
    Shed = 1,
    /// 10 % over: queries are refused.
    Queries = 2,
    /// 20 % over: ingest is refused too.
    Ingest = 3,
}

impl Level {
    fn of(anon: u64, limit: u64) -> Self {
        let pct = anon.saturating_mul(100) / limit.max(1);
        match pct {
            0..100 => Self::Normal,
            100..110 => Self::Shed,
            110..120 => Self::Queries,
            _ => Self::Ingest,
        }
    }
}

/// The shared pressure state; cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct Pressure(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    limit: u64,
    level: AtomicU8,
    sheds: AtomicU64,
    shed_bytes: AtomicU64,
    refused_queries: AtomicU64,
    refused_ingest: AtomicU64,
}

impl Pressure {
    /// A watch against `limit` bytes (not started: see [`Pressure::watch`]).
    pub(crate) fn new(limit: u64) -> Self {
        Self(Arc::new(Inner {
            limit,
            level: AtomicU8::new(Level::Normal as u8),
            sheds: AtomicU64::new(0),
            shed_bytes: AtomicU64::new(0),
            refused_queries: AtomicU64::new(0),
            refused_ingest: AtomicU64::new(0),
        }))
    }

    /// The level now.
    pub(crate) fn level(&self) -> Level {
        match self.0.level.load(Ordering::Relaxed) {
            0 => Level::Normal,
            1 => Level::Shed,
            2 => Level::Queries,
            _ => Level::Ingest,
        }
    }

    /// Sets the level from `anon` bytes held; returns it.
    pub(crate) fn update(&self, anon: u64) -> Level {
        let level = Level::of(anon, self.0.limit);
        self.0.level.store(level as u8, Ordering::Relaxed);
        level
    }

    /// Counts a shed that freed `bytes` of caches.
    pub(crate) fn shed(&self, bytes: u64) {
        self.0.sheds.fetch_add(1, Ordering::Relaxed);
        self.0.shed_bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    fn refusal(&self, what: &str) -> ApiError {
        ApiError::Unavailable {
            message: format!(
                "memory pressure: the process holds more than {}% of its memory limit ({}, server.memory_limit) and refuses {what} until it is back under; retry later",
                if what == "queries" { 110 } else { 120 },
                crate::memory::size(self.0.limit)
            ),
            retry_after: PRESSURE_RETRY_AFTER_SECS,
        }
    }

    /// `Err(503)` when queries are refused now.
    pub(crate) fn check_query(&self) -> Result<(), ApiError> {
        if self.level() >= Level::Queries {
            self.0.refused_queries.fetch_add(1, Ordering::Relaxed);
            return Err(self.refusal("queries"));
        }
        Ok(())
    }

    /// `Err(503)` when ingest is refused now.
    pub(crate) fn check_ingest(&self) -> Result<(), ApiError> {
        if self.level() >= Level::Ingest {
            self.0.refused_ingest.fetch_add(1, Ordering::Relaxed);
            return Err(self.refusal("writes"));
        }
        Ok(())
    }

    /// Queries refused under pressure.
    pub(crate) fn refused_queries(&self) -> u64 {
        self.0.refused_queries.load(Ordering::Relaxed)
    }

    /// Appends the pressure self-metrics to `out`.
    pub(crate) fn render(&self, out: &mut String) {
        use super::self_metrics::exposition::{header, line};
        let i = &self.0;
        for (name, kind, help, v) in [
            (
                "strata_memory_pressure_level",
                "gauge",
                "0 under the memory limit; 1 caches shed; 2 queries refused; 3 ingest refused too.",
                self.level() as u64,
            ),
            (
                "strata_memory_sheds_total",
                "counter",
                "Times the page and footer caches were dropped under memory pressure.",
                i.sheds.load(Ordering::Relaxed),
            ),
            (
                "strata_memory_shed_bytes_total",
                "counter",
                "Bytes of caches dropped under memory pressure.",
                i.shed_bytes.load(Ordering::Relaxed),
            ),
            (
                "strata_ingest_refused_pressure_total",
                "counter",
                "Ingest requests answered 503 under memory pressure.",
                i.refused_ingest.load(Ordering::Relaxed),
            ),
        ] {
            header(out, name, kind, help);
            line(out, name, &[], v as f64);
        }
    }

    /// Runs the watch on a thread of its own until the process ends: every [`TICK`], the
    /// level from the anonymous resident memory; at [`Level::Shed`] or above, `shed` (at
    /// most every [`SHED_EVERY`]), which drops caches and returns the bytes it freed;
    /// `changed` is told each new level.
    pub(crate) fn watch(
        &self,
        changed: impl Fn(Level) + Send + 'static,
        shed: impl Fn() -> u64 + Send + 'static,
    ) -> std::io::Result<()> {
        let me = self.clone();
        std::thread::Builder::new()
            .name("strata-pressure".into())
            .spawn(move || {
                let mut last_shed: Option<Instant> = None;
                let mut last = Level::Normal;
                let statm = Statm::open();
                loop {
                    if let Some(anon) = statm.anonymous_bytes().or_else(anonymous_bytes) {
                        let level = me.update(anon);
                        if level != last {
                            changed(level);
                            last = level;
                        }
                        if level >= Level::Shed
                            && last_shed.is_none_or(|t| t.elapsed() >= SHED_EVERY)
                        {
                            let freed = shed();
                            me.shed(freed);
                            last_shed = Some(Instant::now());
                            tracing::warn!(
                                anon_mib = anon >> 20,
                                limit_mib = me.0.limit >> 20,
                                freed_mib = freed >> 20,
                                "memory pressure: caches dropped"
                            );
                        }
                    }
                    std::thread::sleep(TICK);
                }
            })
            .map(|_| ())
    }
}

/// `/proc/self/statm`, held open for the watch: it reads the process's memory 50 times a
/// second, and `/proc/self/status` (opened each time, fifty lines formatted by the kernel)
/// cost about 0.7 % of a core on an idle server.
struct Statm {
    file: Option<std::fs::File>,
    page: u64,
}

impl Statm {
    #[allow(unsafe_code)]
    fn open() -> Self {
        // Safety: sysconf reads a constant of the system; it has no preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        Self {
            file: std::fs::File::open("/proc/self/statm").ok(),
            page: u64::try_from(page).unwrap_or(4096),
        }
    }

    /// Resident minus shared pages (file-backed and shmem), in bytes: what `RssAnon` of
    /// `/proc/self/status` counts. `None` where the file cannot be read.
    fn anonymous_bytes(&self) -> Option<u64> {
        use std::os::unix::fs::FileExt;
        let mut buf = [0u8; 160];
        let n = self.file.as_ref()?.read_at(&mut buf, 0).ok()?;
        let text = std::str::from_utf8(buf.get(..n)?).ok()?;
        let mut fields = text.split_ascii_whitespace().skip(1);
        let resident: u64 = fields.next()?.parse().ok()?;
        let shared: u64 = fields.next()?.parse().ok()?;
        Some(resident.saturating_sub(shared) * self.page)
    }
}

/// The process's anonymous resident memory (`RssAnon` of `/proc/self/status`), bytes.
pub(crate) fn anonymous_bytes() -> Option<u64> {
    let [anon] = status_bytes(["RssAnon:"]);
    anon
}

/// The `kB` fields `keys` of `/proc/self/status` (`VmRSS:`, `RssAnon:`, ...), in bytes, from
/// one read of the file; `None` for a field it lacks (or off Linux).
pub(crate) fn status_bytes<const N: usize>(keys: [&str; N]) -> [Option<u64>; N] {
    let text = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    keys.map(|key| {
        text.lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kb| kb * 1024)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_shed_then_refuse_queries_then_ingest() {
        let p = Pressure::new(1000);
        assert_eq!(p.update(999), Level::Normal);
        assert!(p.check_query().is_ok() && p.check_ingest().is_ok());
        assert_eq!(p.update(1000), Level::Shed);
        assert!(p.check_query().is_ok());
        assert_eq!(p.update(1100), Level::Queries);
        let e = p.check_query().expect_err("queries refused");
        assert_eq!(e.status(), axum::http::StatusCode::SERVICE_UNAVAILABLE);
        assert!(e.to_string().contains("server.memory_limit"), "{e}");
        assert!(p.check_ingest().is_ok(), "ingest still taken");
        assert_eq!(p.update(1200), Level::Ingest);
        assert!(p.check_ingest().is_err());
        assert_eq!(p.update(10), Level::Normal);
        assert!(p.check_query().is_ok() && p.check_ingest().is_ok());
        assert_eq!(p.refused_queries(), 1);
        p.shed(5);
        let mut text = String::new();
        p.render(&mut text);
        assert!(text.contains("strata_memory_shed_bytes_total 5"), "{text}");
        assert!(
            text.contains("strata_ingest_refused_pressure_total 1"),
            "{text}"
        );
        assert!(anonymous_bytes().is_some_and(|b| b > 0));
        // statm, read again through one open file, follows status as memory grows.
        let statm = Statm::open();
        let before = statm.anonymous_bytes().expect("statm");
        let held: Vec<u8> = vec![1; 64 << 20];
        let (fast, slow) = (statm.anonymous_bytes(), anonymous_bytes());
        let (fast, slow) = (fast.expect("statm"), slow.expect("status"));
        assert!(fast >= before + (32 << 20), "{before} then {fast}");
        assert!(
            fast.abs_diff(slow) < 8 << 20,
            "statm {fast} against status {slow}"
        );
        assert_eq!(held.iter().map(|&b| u64::from(b)).sum::<u64>(), 64 << 20);
    }
}
