//! [`PendingWrite`]: a write placed in memory and handed to the WAL, not yet acknowledged.

use strata_wal::Ticket;

use crate::Result;

/// A write whose records are in the WAL's queue. Its outcome is final, but nothing of it
/// counts as stored until [`PendingWrite::wait`] or [`PendingWrite::acked`] returns `Ok`;
/// an `Err` there means nothing of the write was acknowledged (the WAL failed and the
/// engine is poisoned until reopened).
///
/// Splitting a write this way lets an async caller do the CPU work on one thread and wait
/// for the fsync without holding any thread (see [`crate::Engine::submit_keyed`]).
/// Dropping it does not cancel the write: the records are written all the same.
#[derive(Debug)]
#[must_use = "a write is acknowledged only once it is waited for"]
pub struct PendingWrite<O> {
    outcome: O,
    /// The last record's ticket (the WAL acks in order); `None` when nothing was logged.
    ticket: Option<Ticket>,
}

impl<O> PendingWrite<O> {
    pub(crate) fn new(outcome: O, ticket: Option<Ticket>) -> Self {
        Self { outcome, ticket }
    }

    /// Blocks until the write is acknowledged under the WAL's durability mode.
    pub fn wait(self) -> Result<O> {
        if let Some(t) = self.ticket {
            t.wait()?;
        }
        Ok(self.outcome)
    }

    /// [`PendingWrite::wait`] without blocking a thread.
    pub async fn acked(self) -> Result<O> {
        if let Some(t) = self.ticket {
            t.await?;
        }
        Ok(self.outcome)
    }
}
