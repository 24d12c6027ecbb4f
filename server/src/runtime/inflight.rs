//! The ingest memory budget (`server.max_inflight_bytes`): how much memory the ingest
//! requests being decoded and written may hold at once.
//!
//! `server.max_body_bytes` and the record limits of one request (`ingest/otlp/request_items.rs`,
//! `ingest/remote_write/wire.rs`) bound a request, not how many run together: a request decodes
//! to ~3× its bytes for typical spans, and up to ~150× for tiny records (an empty span is
//! 2 bytes of protobuf and a few hundred bytes as a record), so a handful of large requests
//! at once could take gigabytes. Each ingest request is therefore admitted with an
//! estimate of its peak memory ([`request_cost`]) before it is decoded, and holds that
//! much of the budget until it is answered. A request that does not fit waits, in arrival
//! order, up to [`ADMIT_WAIT`]; past that it is answered 503 with Retry-After (OTLP/gRPC:
//! `UNAVAILABLE` with `RetryInfo`), which OTel exporters, Prometheus and vmagent retry.
//! Nothing of a refused request is stored.
//!
//! An HTTP request is admitted twice. Before its body is read it is charged from its
//! declared `Content-Length` ([`declared_cost`]: a compressed body is assumed to inflate
//! [`INFLATE_GUESS`] times), so bodies being read count too; once the body is read and
//! inflated, its charge is set to the real estimate ([`Inflight::resize`]), giving back
//! what was over and waiting, as above, for what was under. A request of tiny records or
//! a body that inflates more than the guess can thus wait while holding its first share;
//! if many do at once they are answered 503 after the wait and retried, rather than held.
//!
//! A compressed body's share is also set, before its inflated buffer is allocated, to the
//! estimate with that buffer's size (`ingest/otlp/inflate.rs`). When that needs more than
//! is free, the request gives back what it holds and waits for the whole share
//! ([`Inflight::resize_requeued`]), so that bodies which all inflate past the guess at
//! once (a burst of gzip bombs) take turns instead of each holding part of the budget.
//!
//! An HTTP body sent without `Content-Length` (chunked) is admitted on one unit and its
//! share grows as it is read, to the cost of at least twice what it was charged before
//! (`Ingest::read_ingest_body`), each grow waiting as an admission does.
//!
//! A gRPC request is admitted the same way, on the length its message's 5-byte prefix
//! declares, as soon as that prefix has arrived and before the rest is read
//! (`ingest/otlp/grpc.rs`), then set to the real estimate by its handler.
//!
//! A request larger than the whole budget is charged the whole budget, so it runs alone
//! rather than never. What the budget does not cover: the records once written, which the
//! engine's head holds and bounds (`engine.max_head_bytes`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::http::error::{ApiError, RETRY_AFTER_SECS};
use crate::runtime::self_metrics::exposition::{header, line};

/// How long a request waits for budget before it is refused.
pub(crate) const ADMIT_WAIT: Duration = Duration::from_secs(5);

/// Budget unit: permits are KiB, so a `u32` request covers up to 4 TiB.
const UNIT: u64 = 1024;

/// Memory a decoded record takes at least, whatever its wire size: an empty span or log
/// record is ~300 bytes as a struct with its vectors, a data point or sample less.
pub const RECORD_FLOOR_BYTES: u64 = 320;

/// Decoded memory per byte of the uncompressed body: a typical span is 286.5 bytes of
/// protobuf and ~833 bytes in memory (`docs/benchmarks-history.md`).
pub const DECODE_FACTOR: u64 = 3;

/// Estimated peak memory of an ingest request: the body as received (`wire` bytes), its
/// decompressed copy (`plain` bytes, the same buffer when the body was not compressed)
/// and what it decodes to: the larger of [`DECODE_FACTOR`] × `plain` and
/// [`RECORD_FLOOR_BYTES`] per record (`records`: spans, log records or data points, when
/// counted before decoding; 0 otherwise).
///
/// ```
/// use strata_server::inflight::request_cost;
/// // 1,000 typical spans, uncompressed: the body and ~3x it decoded.
/// assert_eq!(request_cost(286_500, 286_500, false, 1_000), 286_500 * 4);
/// // 500,000 empty spans (2 bytes each): the records dominate.
/// assert_eq!(request_cost(1_000_010, 1_000_010, false, 500_000), 1_000_010 + 160_000_000);
/// ```
pub fn request_cost(wire: u64, plain: u64, compressed: bool, records: u64) -> u64 {
    let copy = if compressed { wire } else { 0 };
    let decoded = plain
        .saturating_mul(DECODE_FACTOR)
        .max(records.saturating_mul(RECORD_FLOOR_BYTES));
    copy.saturating_add(plain).saturating_add(decoded)
}

/// Plain bytes per compressed byte assumed for a compressed body before it is read and
/// inflated: OTLP spans and logs gzip 5-10 times, remote-write's snappy 2-5 times; a
/// guess over the truth is given back as soon as the body is inflated.
pub const INFLATE_GUESS: u64 = 8;

/// Estimated cost of a body declared `wire` bytes long, before it is read: the
/// [`request_cost`] of a plain copy of `wire` bytes, or [`INFLATE_GUESS`] × `wire` when
/// `compressed`, and no record count.
///
/// ```
/// use strata_server::inflight::{declared_cost, request_cost};
/// assert_eq!(declared_cost(1_000, false), request_cost(1_000, 1_000, false, 0));
/// assert_eq!(declared_cost(1_000, true), request_cost(1_000, 8_000, true, 0));
/// ```
pub fn declared_cost(wire: u64, compressed: bool) -> u64 {
    let plain = if compressed {
        wire.saturating_mul(INFLATE_GUESS)
    } else {
        wire
    };
    request_cost(wire, plain, compressed, 0)
}

/// The budget, shared by every ingest handler.
#[derive(Debug)]
pub(crate) struct Inflight {
    permits: Arc<Semaphore>,
    /// The budget in units.
    units: u32,
    wait: Duration,
    waited: AtomicU64,
    refused: AtomicU64,
    /// Memory pressure refuses requests before they are charged (`runtime/pressure.rs`).
    pressure: Option<super::pressure::Pressure>,
}

/// A request's share of the budget, given back when dropped.
#[derive(Debug)]
#[must_use = "the budget is held only while the permit lives"]
pub(crate) struct InflightPermit(#[allow(dead_code)] OwnedSemaphorePermit);

/// An admitted request's permit carried from the gRPC service, which admits a message on
/// its declared length before reading it (`ingest/otlp/grpc.rs`), to the handler, which
/// sets it to the real estimate: an `http` extension must be `Clone`, a permit is not, so
/// the first [`PermitSlot::take`] has it.
#[derive(Clone, Debug)]
pub(crate) struct PermitSlot(Arc<std::sync::Mutex<Option<InflightPermit>>>);

impl PermitSlot {
    /// A slot holding `permit`.
    pub(crate) fn new(permit: InflightPermit) -> Self {
        Self(Arc::new(std::sync::Mutex::new(Some(permit))))
    }

    /// The permit, once.
    pub(crate) fn take(&self) -> Option<InflightPermit> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
    }
}

impl Inflight {
    /// A budget of `bytes` (at least one unit), admitting waiters for up to `wait`.
    pub(crate) fn new(bytes: u64, wait: Duration) -> Self {
        let units = u32::try_from(bytes.div_ceil(UNIT))
            .unwrap_or(u32::MAX)
            .max(1);
        Self {
            permits: Arc::new(Semaphore::new(units as usize)),
            units,
            wait,
            waited: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            pressure: None,
        }
    }

    /// The budget, refusing every request at once (503) while `pressure` says so.
    pub(crate) fn with_pressure(mut self, pressure: super::pressure::Pressure) -> Self {
        self.pressure = Some(pressure);
        self
    }

    /// Admits a request estimated to hold `cost` bytes: at once if the budget has room,
    /// else after the requests ahead of it give theirs back, or 503 after the wait.
    pub(crate) async fn admit(&self, cost: u64) -> Result<InflightPermit, ApiError> {
        if let Some(p) = &self.pressure {
            p.check_ingest()?;
        }
        let want = self.units_for(cost);
        Ok(InflightPermit(self.acquire(want, want).await?))
    }

    /// Sets what an admitted request holds to `cost` bytes: gives back what it holds over
    /// that at once, or waits for the rest as [`Inflight::admit`] does (503 after the
    /// wait, the permit left as it was).
    pub(crate) async fn resize(
        &self,
        permit: &mut InflightPermit,
        cost: u64,
    ) -> Result<(), ApiError> {
        let want = self.units_for(cost);
        let held = u32::try_from(permit.0.num_permits()).unwrap_or(u32::MAX);
        if want < held {
            drop(permit.0.split((held - want) as usize));
        } else if want > held {
            let more = self.acquire(want - held, want).await?;
            permit.0.merge(more);
        }
        Ok(())
    }

    /// Sets what an admitted request holds to `cost` bytes as [`Inflight::resize`] does,
    /// except when there is no room for more at once: then the request gives back all it
    /// holds and waits, in arrival order, for the whole of `cost` (503 after the wait,
    /// holding nothing). For a request about to allocate that much (an inflated body):
    /// requests that all grow at once would otherwise each hold part of the budget and
    /// wait on each other until the wait ran out. What it had already allocated (its
    /// compressed body) is not counted while it waits.
    pub(crate) async fn resize_requeued(
        &self,
        permit: &mut InflightPermit,
        cost: u64,
    ) -> Result<(), ApiError> {
        let want = self.units_for(cost);
        let held = u32::try_from(permit.0.num_permits()).unwrap_or(u32::MAX);
        if want <= held {
            return self.resize(permit, cost).await;
        }
        if let Ok(more) = Arc::clone(&self.permits).try_acquire_many_owned(want - held) {
            permit.0.merge(more);
            return Ok(());
        }
        drop(permit.0.split(held as usize));
        let share = self.acquire(want, want).await?;
        permit.0.merge(share);
        Ok(())
    }

    /// Budget units for `cost` bytes: at least one, at most the whole budget.
    fn units_for(&self, cost: u64) -> u32 {
        u32::try_from(cost.div_ceil(UNIT))
            .unwrap_or(u32::MAX)
            .clamp(1, self.units)
    }

    /// Takes `want` units: at once, or after waiting up to the admission wait (the
    /// request needs `total` units in all, for the refusal's message).
    async fn acquire(&self, want: u32, total: u32) -> Result<OwnedSemaphorePermit, ApiError> {
        if let Ok(p) = Arc::clone(&self.permits).try_acquire_many_owned(want) {
            return Ok(p);
        }
        self.waited.fetch_add(1, Ordering::Relaxed);
        let acquire = Arc::clone(&self.permits).acquire_many_owned(want);
        match tokio::time::timeout(self.wait, acquire).await {
            Ok(Ok(p)) => Ok(p),
            // Timed out (the semaphore is never closed).
            _ => {
                self.refused.fetch_add(1, Ordering::Relaxed);
                Err(ApiError::Unavailable {
                    message: format!(
                        "ingest memory budget in use: this request needs ~{} MiB, and requests \
                         in progress hold {} of {} MiB (server.max_inflight_bytes); retry",
                        mib(u64::from(total) * UNIT),
                        mib(self.in_use_bytes()),
                        mib(self.budget_bytes()),
                    ),
                    retry_after: RETRY_AFTER_SECS,
                })
            }
        }
    }

    /// The budget in bytes (rounded up to KiB).
    pub(crate) fn budget_bytes(&self) -> u64 {
        u64::from(self.units) * UNIT
    }

    /// Bytes held by requests in progress.
    pub(crate) fn in_use_bytes(&self) -> u64 {
        let free = self.permits.available_permits() as u64;
        (u64::from(self.units).saturating_sub(free)) * UNIT
    }

    /// Requests that had to wait for budget (admitted or not).
    pub(crate) fn waited(&self) -> u64 {
        self.waited.load(Ordering::Relaxed)
    }

    /// Requests refused after waiting.
    pub(crate) fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// The budget's self-metrics, in the text exposition format.
    pub(crate) fn render(&self, out: &mut String) {
        let gauges = [
            (
                "strata_ingest_inflight_bytes",
                "gauge",
                "Estimated memory held by the ingest requests in progress.",
                self.in_use_bytes(),
            ),
            (
                "strata_ingest_inflight_budget_bytes",
                "gauge",
                "The ingest memory budget (server.max_inflight_bytes).",
                self.budget_bytes(),
            ),
            (
                "strata_ingest_inflight_waits_total",
                "counter",
                "Ingest requests that waited for room in the ingest memory budget.",
                self.waited(),
            ),
            (
                "strata_ingest_inflight_refused_total",
                "counter",
                "Ingest requests answered 503 after waiting for the ingest memory budget.",
                self.refused(),
            ),
        ];
        for (name, kind, help, value) in gauges {
            header(out, name, kind, help);
            line(out, name, &[], value as f64);
        }
    }
}

fn mib(bytes: u64) -> String {
    format!("{:.1}", bytes as f64 / (1u64 << 20) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn admits_while_there_is_room_and_gives_back_on_drop() {
        let b = Inflight::new(10 * UNIT, Duration::from_millis(50));
        let a = b.admit(4 * UNIT).await.unwrap();
        let c = b.admit(6 * UNIT).await.unwrap();
        assert_eq!(b.in_use_bytes(), 10 * UNIT);
        assert_eq!(b.waited(), 0);
        drop(a);
        assert_eq!(b.in_use_bytes(), 6 * UNIT);
        drop(c);
        assert_eq!(b.in_use_bytes(), 0);
    }

    #[tokio::test]
    async fn a_request_that_does_not_fit_is_refused_after_the_wait_and_holds_nothing() {
        let b = Inflight::new(10 * UNIT, Duration::from_millis(50));
        let held = b.admit(8 * UNIT).await.unwrap();
        let e = b.admit(3 * UNIT).await.unwrap_err();
        assert!(
            matches!(&e, ApiError::Unavailable { message, retry_after: 1 }
                if message.contains("server.max_inflight_bytes")),
            "{e:?}"
        );
        assert_eq!((b.waited(), b.refused()), (1, 1));
        assert_eq!(
            b.in_use_bytes(),
            8 * UNIT,
            "the refused request holds nothing"
        );
        // A request that fits in what is left still goes through at once.
        let small = b.admit(2 * UNIT).await.unwrap();
        drop((held, small));
        assert_eq!(b.in_use_bytes(), 0);
    }

    #[tokio::test]
    async fn a_waiting_request_is_admitted_when_budget_comes_back() {
        let b = Arc::new(Inflight::new(10 * UNIT, Duration::from_secs(30)));
        let held = b.admit(10 * UNIT).await.unwrap();
        let b2 = Arc::clone(&b);
        let waiter = tokio::spawn(async move { b2.admit(5 * UNIT).await.map(|_| ()) });
        while b.waited() == 0 {
            tokio::task::yield_now().await;
        }
        drop(held);
        waiter.await.unwrap().unwrap();
        assert_eq!((b.waited(), b.refused()), (1, 0));
    }

    #[tokio::test]
    async fn a_request_over_the_whole_budget_runs_alone() {
        let b = Inflight::new(10 * UNIT, Duration::from_millis(50));
        let big = b.admit(1 << 40).await.unwrap();
        assert_eq!(b.in_use_bytes(), b.budget_bytes());
        assert!(b.admit(1).await.is_err());
        drop(big);
        let _again = b.admit(1 << 40).await.unwrap();
    }

    #[tokio::test]
    async fn resizing_gives_back_at_once_and_waits_for_more() {
        let b = Inflight::new(10 * UNIT, Duration::from_millis(50));
        let mut p = b.admit(6 * UNIT).await.unwrap();
        b.resize(&mut p, 2 * UNIT).await.unwrap();
        assert_eq!(b.in_use_bytes(), 2 * UNIT, "shrinking gives back");
        let other = b.admit(7 * UNIT).await.unwrap();
        b.resize(&mut p, 3 * UNIT).await.unwrap();
        assert_eq!(b.in_use_bytes(), 10 * UNIT, "growing into what is free");
        assert_eq!(b.waited(), 0);
        // No room for 2 more: refused after the wait, the permit as it was.
        let e = b.resize(&mut p, 5 * UNIT).await.unwrap_err();
        assert!(
            matches!(&e, ApiError::Unavailable { message, .. } if message.contains("server.max_inflight_bytes")),
            "{e:?}"
        );
        assert_eq!((b.waited(), b.refused()), (1, 1));
        assert_eq!(b.in_use_bytes(), 10 * UNIT);
        drop(other);
        b.resize(&mut p, 5 * UNIT).await.unwrap();
        assert_eq!(b.in_use_bytes(), 5 * UNIT);
        // Never more than the whole budget, and the same size is no change.
        b.resize(&mut p, 1 << 40).await.unwrap();
        b.resize(&mut p, 1 << 40).await.unwrap();
        assert_eq!(b.in_use_bytes(), b.budget_bytes());
        drop(p);
        assert_eq!(b.in_use_bytes(), 0);
    }

    #[tokio::test]
    async fn a_resize_waiting_for_more_is_served_when_budget_comes_back() {
        let b = Arc::new(Inflight::new(10 * UNIT, Duration::from_secs(30)));
        let mut p = b.admit(4 * UNIT).await.unwrap();
        let other = b.admit(6 * UNIT).await.unwrap();
        let b2 = Arc::clone(&b);
        let grow = tokio::spawn(async move { b2.resize(&mut p, 9 * UNIT).await.map(|()| p) });
        while b.waited() == 0 {
            tokio::task::yield_now().await;
        }
        drop(other);
        let p = grow.await.unwrap().unwrap();
        assert_eq!(b.in_use_bytes(), 9 * UNIT);
        drop(p);
        assert_eq!(b.in_use_bytes(), 0);
    }

    /// Two requests holding 4 of 10 units each grow to 8: with `resize` each would hold its
    /// 4 (and the first whatever came free) while waiting for the rest, until the wait ran
    /// out; requeued, the second gives its share back, the first grows with it, and the
    /// second follows once the first is done.
    #[tokio::test]
    async fn growing_requeued_does_not_wait_on_what_the_others_hold() {
        let b = Arc::new(Inflight::new(10 * UNIT, Duration::from_secs(30)));
        let grow = |mut p: InflightPermit| {
            let b = Arc::clone(&b);
            tokio::spawn(async move { b.resize_requeued(&mut p, 8 * UNIT).await.map(|()| p) })
        };
        let first = b.admit(4 * UNIT).await.unwrap();
        let second = b.admit(4 * UNIT).await.unwrap();
        let first = grow(first);
        while b.waited() == 0 {
            tokio::task::yield_now().await;
        }
        let second = grow(second);
        let first = first.await.unwrap().unwrap();
        drop(first);
        let mut second = second.await.unwrap().unwrap();
        assert_eq!(b.in_use_bytes(), 8 * UNIT);
        assert_eq!((b.waited(), b.refused()), (2, 0));
        // Shrinking is `resize`'s.
        b.resize_requeued(&mut second, 6 * UNIT).await.unwrap();
        assert_eq!(b.in_use_bytes(), 6 * UNIT);
        drop(second);
        assert_eq!(b.in_use_bytes(), 0);
        // Refused after the wait, it holds nothing.
        let b = Inflight::new(10 * UNIT, Duration::from_millis(50));
        let held = b.admit(6 * UNIT).await.unwrap();
        let mut p = b.admit(2 * UNIT).await.unwrap();
        assert!(b.resize_requeued(&mut p, 5 * UNIT).await.is_err());
        assert_eq!(b.in_use_bytes(), 6 * UNIT);
        drop((held, p));
    }

    #[test]
    fn the_cost_counts_the_compressed_copy_and_the_record_floor() {
        assert_eq!(request_cost(100, 1_000, true, 0), 100 + 1_000 + 3_000);
        assert_eq!(request_cost(1_000, 1_000, false, 0), 4_000);
        assert_eq!(request_cost(20, 20, false, 10), 20 + 3_200);
        assert_eq!(request_cost(u64::MAX, u64::MAX, true, u64::MAX), u64::MAX);
    }
}
