//! The query memory accountant: one pool that every query of every language charges.
//!
//! [`QueryMemory`] is the process's pool (`server.query_memory_bytes`). Each query takes a
//! [`QueryBudget`] from it with [`QueryMemory::query`]: a share of at most
//! [`QueryMemory::per_query`] bytes, and never more than the pool has left. SQL hands the
//! budget to DataFusion as the query's [`MemoryPool`], so hash tables, sorts and joins are
//! charged to it (and spill or fail when it is full); PromQL, LogQL and TraceQL charge the
//! bytes of the series, samples and tables they hold through a [`Charge`]. A query that
//! would go over its share is refused with a [`MemoryError`] naming the limit, never
//! answered in part.
//!
//! DataFusion's operators report what they hold after they have grown (a hash table is
//! resized, then its new size reserved), so while one grows it holds its old and new
//! tables beside what it reported, and an aggregate's partial states are copied when they
//! are merged: measured on the small-box bench, a `count(DISTINCT value)` over 5.7 M
//! samples held about 2.9 times its largest reservation. Their reservations are therefore charged
//! [`OPERATOR_FACTOR`] times; Strata's own consumers ([`own_consumer`]) charge what they
//! hold before holding it, once.
//!
//! ```
//! use strata_query::memory::QueryMemory;
//!
//! let pool = QueryMemory::new(64 << 20, 16 << 20);
//! let budget = pool.query();
//! let mut charge = budget.charge("example");
//! charge.add(10 << 20).unwrap();            // 10 MiB held
//! assert_eq!(pool.used(), 10 << 20);
//! let err = charge.add(10 << 20).unwrap_err(); // 20 MiB: over the 16 MiB share
//! assert!(err.to_string().contains("16777216"));
//! drop(charge);
//! assert_eq!(pool.used(), 0);              // released with the query
//! assert_eq!(pool.refused(), 1);
//! ```

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use std::path::Path;

use datafusion::common::DataFusionError;
use datafusion::execution::disk_manager::{DiskManager, DiskManagerBuilder, DiskManagerMode};
use datafusion::execution::memory_pool::{
    MemoryConsumer, MemoryLimit, MemoryPool, MemoryReservation,
};

/// How many times a DataFusion operator's reservation is charged (see the module docs):
/// the 2.9 measured, rounded up.
pub const OPERATOR_FACTOR: usize = 3;

/// The name prefix of Strata's own memory consumers, charged once.
const OWN: &str = "strata: ";

/// A memory consumer of Strata's own code (charged what it reserves, not
/// [`OPERATOR_FACTOR`] times): for code that reserves before it allocates.
pub fn own_consumer(name: &str) -> MemoryConsumer {
    MemoryConsumer::new(format!("{OWN}{name}"))
}

/// What `reservation` is charged for `bytes` reserved.
fn charged(reservation: &MemoryReservation, bytes: usize) -> usize {
    if reservation.consumer().name().starts_with(OWN) {
        bytes
    } else {
        bytes.saturating_mul(OPERATOR_FACTOR)
    }
}

/// A query asked for more memory than it may hold: its share, or what the shared pool had
/// left. The message names the setting that raises it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "query needs more memory than it may hold: {consumer} asked for {asked} more bytes with {held} held, over {}; raise server.memory_limit (or server.query_memory_bytes), or ask for less: a shorter range, a larger step, fewer series",
    limit_text(*share, *pool_left)
)]
pub struct MemoryError {
    /// What asked (`promql series`, `logql streams`, a DataFusion operator).
    pub consumer: String,
    /// The bytes asked for.
    pub asked: usize,
    /// The bytes the query held already.
    pub held: usize,
    /// The query's share (`server.query_memory_bytes / server.max_concurrent_queries`).
    pub share: usize,
    /// What the shared pool had left when the query was over it, if that was the limit hit.
    pub pool_left: Option<usize>,
}

fn limit_text(share: usize, pool_left: Option<usize>) -> String {
    match pool_left {
        None => format!("its share of the query memory pool, {share} bytes"),
        Some(left) => format!(
            "the {left} bytes left in the query memory pool shared with the queries running now (share {share} bytes)"
        ),
    }
}

/// The pool itself, shared by every [`QueryBudget`].
#[derive(Debug)]
struct Shared {
    total: usize,
    per_query: usize,
    used: AtomicUsize,
    peak: AtomicUsize,
    refused: AtomicU64,
    /// Set under memory pressure: every query's next charge is refused.
    closed: AtomicBool,
    /// Where SQL operators spill (`None`: nothing spills), shared so its size bound is the
    /// process's.
    spill: Option<Arc<DiskManager>>,
}

impl Shared {
    fn take(&self, n: usize) -> Result<(), usize> {
        if n > 0 && self.closed.load(Ordering::Relaxed) {
            return Err(0);
        }
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |u| {
                u.checked_add(n).filter(|v| *v <= self.total)
            })
            .map(|prev| {
                self.peak.fetch_max(prev + n, Ordering::Relaxed);
            })
            .map_err(|u| self.total.saturating_sub(u))
    }

    fn peak(&self) -> usize {
        self.peak.load(Ordering::Relaxed)
    }

    fn put(&self, n: usize) {
        self.used.fetch_sub(n, Ordering::AcqRel);
    }
}

/// The process's query memory pool. Cheap to clone: clones share one pool.
#[derive(Clone)]
pub struct QueryMemory(Arc<Shared>);

impl QueryMemory {
    /// A pool of `total` bytes in which one query may hold at most `per_query` (clamped to
    /// `1..=total`).
    pub fn new(total: usize, per_query: usize) -> Self {
        let total = total.max(1);
        Self(Arc::new(Shared {
            total,
            per_query: per_query.clamp(1, total),
            used: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
            refused: AtomicU64::new(0),
            closed: AtomicBool::new(false),
            spill: None,
        }))
    }

    /// The same pool, with SQL's sorts, hash aggregations and hash joins spilling to
    /// temporary files under `dir` (at most `max_bytes` at once, all queries together)
    /// instead of failing when their share is full. Call before cloning.
    pub fn spilling_to(self, dir: &Path, max_bytes: u64) -> Result<Self, std::io::Error> {
        std::fs::create_dir_all(dir)?;
        let disk = DiskManagerBuilder::default()
            .with_mode(DiskManagerMode::Directories(vec![dir.to_owned()]))
            .with_max_temp_directory_size(max_bytes)
            .build()
            .map_err(std::io::Error::other)?;
        let s = &self.0;
        Ok(Self(Arc::new(Shared {
            total: s.total,
            per_query: s.per_query,
            used: AtomicUsize::new(s.used.load(Ordering::Acquire)),
            peak: AtomicUsize::new(s.peak()),
            refused: AtomicU64::new(s.refused.load(Ordering::Relaxed)),
            closed: AtomicBool::new(s.closed.load(Ordering::Relaxed)),
            spill: Some(Arc::new(disk)),
        })))
    }

    /// The spill files' manager, if SQL spills.
    pub fn spill(&self) -> Option<&Arc<DiskManager>> {
        self.0.spill.as_ref()
    }

    /// A budget for one query: dropping it (and the reservations made through it) gives its
    /// bytes back.
    pub fn query(&self) -> QueryBudget {
        self.query_capped(usize::MAX)
    }

    /// [`Self::query`] with the share lowered to `cap` (`sql.memory_pool_bytes` set
    /// explicitly).
    pub fn query_capped(&self, cap: usize) -> QueryBudget {
        QueryBudget(Arc::new(Budget {
            shared: self.0.clone(),
            share: self.0.per_query.min(cap.max(1)),
            used: AtomicUsize::new(0),
            refused: AtomicBool::new(false),
        }))
    }

    /// A budget that may hold the whole pool (a worker's tasks of every query together).
    pub fn whole(&self) -> QueryBudget {
        QueryBudget(Arc::new(Budget {
            shared: self.0.clone(),
            share: self.0.total,
            used: AtomicUsize::new(0),
            refused: AtomicBool::new(false),
        }))
    }

    /// The pool's size in bytes.
    pub fn total(&self) -> usize {
        self.0.total
    }

    /// The most one query may hold.
    pub fn per_query(&self) -> usize {
        self.0.per_query
    }

    /// Bytes the running queries hold now.
    pub fn used(&self) -> usize {
        self.0.used.load(Ordering::Acquire)
    }

    /// The most bytes held at once since start.
    pub fn peak(&self) -> usize {
        self.0.peak.load(Ordering::Relaxed)
    }

    /// Closes the pool (`true`: every charge of every query is refused, so running queries
    /// fail at their next allocation and give their memory back) or opens it again. The
    /// server closes it under memory pressure.
    pub fn set_closed(&self, closed: bool) {
        self.0.closed.store(closed, Ordering::Relaxed);
    }

    /// Queries refused for memory since start (each counted once, at its first refusal).
    pub fn refused(&self) -> u64 {
        self.0.refused.load(Ordering::Relaxed)
    }
}

impl Default for QueryMemory {
    /// 1 GiB, of which one query may hold all: what one SQL query could hold before the
    /// pool was shared (a library embedding that sets nothing).
    fn default() -> Self {
        Self::new(1 << 30, 1 << 30)
    }
}

impl fmt::Debug for QueryMemory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QueryMemory")
            .field("total", &self.0.total)
            .field("per_query", &self.0.per_query)
            .field("used", &self.used())
            .finish()
    }
}

impl PartialEq for QueryMemory {
    /// The same pool.
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for QueryMemory {}

#[derive(Debug)]
struct Budget {
    shared: Arc<Shared>,
    share: usize,
    used: AtomicUsize,
    refused: AtomicBool,
}

impl Budget {
    fn try_take(&self, consumer: &str, n: usize) -> Result<(), MemoryError> {
        let refuse = |held: usize, pool_left: Option<usize>| {
            // Counted once per query, at its first refusal.
            if !self.refused.swap(true, Ordering::Relaxed) {
                self.shared.refused.fetch_add(1, Ordering::Relaxed);
            }
            MemoryError {
                consumer: consumer.to_owned(),
                asked: n,
                held,
                share: self.share,
                pool_left,
            }
        };
        let held = self
            .used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |u| {
                u.checked_add(n).filter(|v| *v <= self.share)
            })
            .map_err(|held| refuse(held, None))?;
        if let Err(left) = self.shared.take(n) {
            self.used.fetch_sub(n, Ordering::AcqRel);
            return Err(refuse(held, Some(left)));
        }
        Ok(())
    }

    fn give(&self, n: usize) {
        self.used.fetch_sub(n, Ordering::AcqRel);
        self.shared.put(n);
    }
}

/// One query's share of the [`QueryMemory`] pool. Clones share the query's account. As a
/// DataFusion [`MemoryPool`] (through [`QueryBudget::pool`]) it is the query's pool.
#[derive(Debug, Clone)]
pub struct QueryBudget(Arc<Budget>);

impl QueryBudget {
    /// The most bytes this query may hold.
    pub fn share(&self) -> usize {
        self.0.share
    }

    /// Bytes the query holds now.
    pub fn used(&self) -> usize {
        self.0.used.load(Ordering::Acquire)
    }

    /// A charge for `consumer` (named in the refusal): the bytes added to it are held until
    /// it is dropped or [`Charge::set`] lowers them.
    pub fn charge(&self, consumer: &'static str) -> Charge {
        Charge {
            budget: self.clone(),
            consumer,
            held: 0,
        }
    }

    /// The budget as DataFusion's memory pool of the query.
    pub fn pool(&self) -> Arc<dyn MemoryPool> {
        Arc::new(self.clone())
    }

    /// A budget with no pool behind it, `share` bytes: for tests and one-off commands.
    pub fn standalone(share: usize) -> Self {
        QueryMemory::new(share, share).query()
    }
}

impl fmt::Display for QueryBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "query share (used {} of {} bytes; pool {} of {})",
            self.used(),
            self.0.share,
            self.0.shared.used.load(Ordering::Relaxed),
            self.0.shared.total
        )
    }
}

impl MemoryPool for QueryBudget {
    fn name(&self) -> &str {
        "strata query share"
    }

    fn grow(&self, reservation: &MemoryReservation, additional: usize) {
        let n = charged(reservation, additional);
        self.0.used.fetch_add(n, Ordering::AcqRel);
        self.0.shared.used.fetch_add(n, Ordering::AcqRel);
    }

    fn shrink(&self, reservation: &MemoryReservation, shrink: usize) {
        self.0.give(charged(reservation, shrink));
    }

    fn try_grow(
        &self,
        reservation: &MemoryReservation,
        additional: usize,
    ) -> datafusion::common::Result<()> {
        let name = reservation.consumer().name();
        self.0
            .try_take(
                name.strip_prefix(OWN).unwrap_or(name),
                charged(reservation, additional),
            )
            .map_err(|e| DataFusionError::ResourcesExhausted(e.to_string()))
    }

    fn reserved(&self) -> usize {
        self.used()
    }

    fn memory_limit(&self) -> MemoryLimit {
        MemoryLimit::Finite(self.0.share)
    }
}

/// Bytes one part of a query holds, charged to its [`QueryBudget`]; given back on drop.
#[derive(Debug)]
pub struct Charge {
    budget: QueryBudget,
    consumer: &'static str,
    held: usize,
}

impl Charge {
    /// Holds `n` more bytes, or refuses.
    pub fn add(&mut self, n: usize) -> Result<(), MemoryError> {
        self.budget.0.try_take(self.consumer, n)?;
        self.held += n;
        Ok(())
    }

    /// Holds exactly `n` bytes: more are charged (or refused), fewer given back.
    pub fn set(&mut self, n: usize) -> Result<(), MemoryError> {
        if n > self.held {
            self.add(n - self.held)
        } else {
            self.budget.0.give(self.held - n);
            self.held = n;
            Ok(())
        }
    }

    /// The bytes held.
    pub fn held(&self) -> usize {
        self.held
    }

    /// What the query may still hold: its share less what it holds in all.
    pub fn remaining(&self) -> usize {
        self.budget.0.share.saturating_sub(self.budget.used())
    }

    /// The refusal for asking `asked` bytes more than [`Self::remaining`] (an estimate of
    /// what a load would hold, refused before it is made); counted as a refusal.
    pub fn refuse(&self, asked: usize) -> MemoryError {
        let b = &self.budget.0;
        if !b.refused.swap(true, Ordering::Relaxed) {
            b.shared.refused.fetch_add(1, Ordering::Relaxed);
        }
        MemoryError {
            consumer: self.consumer.to_owned(),
            asked,
            held: self.budget.used(),
            share: b.share,
            pool_left: None,
        }
    }
}

impl Drop for Charge {
    fn drop(&mut self) {
        if self.held > 0 {
            self.budget.0.give(self.held);
        }
    }
}

/// Bytes held outside DataFusion's operators by a query that runs in a SQL session (LogQL,
/// TraceQL), charged to the session's pool: the query's [`QueryBudget`].
#[derive(Debug)]
pub struct SessionCharge {
    reservation: MemoryReservation,
    share: usize,
}

impl SessionCharge {
    /// A charge named `consumer` on `ctx`'s memory pool.
    pub fn new(ctx: &datafusion::prelude::SessionContext, consumer: &str) -> Self {
        let pool = ctx.runtime_env().memory_pool.clone();
        let share = match pool.memory_limit() {
            MemoryLimit::Finite(n) => n,
            _ => usize::MAX,
        };
        Self {
            reservation: own_consumer(consumer).register(&pool),
            share,
        }
    }

    /// Holds exactly `bytes`, or fails with the pool's refusal (which `sql::Error` turns
    /// into the error a SQL query over its budget fails with).
    pub fn set(&mut self, bytes: usize) -> Result<(), SessionChargeError> {
        self.reservation
            .try_resize(bytes)
            .map_err(|error| SessionChargeError {
                error,
                share: self.share,
            })
    }
}

/// A [`SessionCharge`] the session's memory pool refused to let grow.
#[derive(Debug, thiserror::Error)]
#[error("{error}")]
pub struct SessionChargeError {
    /// The pool's refusal (DataFusion's account of who asked for how much).
    pub error: DataFusionError,
    /// The query's share: the session's memory pool limit.
    pub share: usize,
}

/// A DataFusion reservation of `name` on `budget`'s pool (for code that holds a
/// `MemoryReservation`, such as the SQL tables' scans).
pub fn reservation(budget: &QueryBudget, name: &str) -> MemoryReservation {
    own_consumer(name).register(&budget.pool())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_is_refused_over_its_share_and_the_pool_over_its_total() {
        let pool = QueryMemory::new(100, 60);
        let a = pool.query();
        let b = pool.query();
        let mut ca = a.charge("a");
        ca.add(60).unwrap();
        let e = ca.add(1).unwrap_err();
        assert_eq!((e.held, e.share, e.pool_left), (60, 60, None));
        let mut cb = b.charge("b");
        let e = cb.add(50).unwrap_err();
        assert_eq!(e.pool_left, Some(40), "{e}");
        assert!(e.to_string().contains("server.memory_limit"), "{e}");
        cb.add(40).unwrap();
        assert_eq!(pool.used(), 100);
        assert_eq!(pool.peak(), 100);
        assert_eq!(pool.refused(), 2);
        cb.set(10).unwrap();
        assert_eq!(pool.used(), 70);
        drop(ca);
        drop(cb);
        assert_eq!(pool.used(), 0);
    }

    #[test]
    fn datafusion_reservations_charge_the_same_account() {
        let pool = QueryMemory::new(1000, 500);
        let q = pool.query();
        let r = reservation(&q, "HashAggregate");
        r.try_grow(400).unwrap();
        let mut c = q.charge("promql series");
        let e = c.add(200).unwrap_err();
        assert_eq!(e.held, 400);
        let err = r.try_grow(200).unwrap_err().to_string();
        assert!(err.contains("HashAggregate"), "{err}");
        r.grow(50); // infallible growth is still counted
        assert_eq!(pool.used(), 450);
        drop(r);
        assert_eq!((pool.used(), q.used()), (0, 0));
    }

    #[test]
    fn an_operators_reservation_is_charged_three_times_and_our_own_once() {
        let pool = QueryMemory::new(1000, 1000);
        let q = pool.query();
        let op = MemoryConsumer::new("HashAggregate").register(&q.pool());
        op.try_grow(200).unwrap();
        assert_eq!(pool.used(), 600);
        let err = op.try_grow(134).unwrap_err().to_string();
        assert!(err.contains("HashAggregate asked for 402"), "{err}");
        let own = reservation(&q, "logql series");
        own.try_grow(400).unwrap();
        assert_eq!(pool.used(), 1000);
        let err = own.try_grow(1).unwrap_err().to_string();
        assert!(err.contains(": logql series asked for 1 "), "{err}");
        op.shrink(100);
        assert_eq!(pool.used(), 700);
        drop((op, own));
        assert_eq!(pool.used(), 0);
    }

    #[test]
    fn a_closed_pool_refuses_every_charge_until_opened() {
        let pool = QueryMemory::new(1000, 500);
        let mut c = pool.query().charge("x");
        c.add(10).unwrap();
        pool.set_closed(true);
        assert_eq!(c.add(1).unwrap_err().pool_left, Some(0));
        c.set(0).unwrap(); // giving back still works
        pool.set_closed(false);
        c.add(100).unwrap();
        assert_eq!(c.remaining(), 400);
        assert_eq!(c.refuse(1000).asked, 1000);
    }

    #[test]
    fn a_capped_query_gets_the_smaller_share() {
        let pool = QueryMemory::new(1000, 500);
        assert_eq!(pool.query_capped(100).share(), 100);
        assert_eq!(pool.query_capped(10_000).share(), 500);
        assert_eq!(QueryMemory::new(10, 50).per_query(), 10);
    }
}
