//! The waiting side of an append: block on it, or `.await` it.

use std::future::Future;
use std::ops::Range;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use crate::error::Result;
use crate::record::Lsn;

#[derive(Debug, Default)]
struct Slot {
    result: Option<Result<Range<Lsn>>>,
    waker: Option<Waker>,
}

/// Shared between an appender and the writer thread; completed exactly once.
#[derive(Debug, Default)]
pub(crate) struct Completion {
    slot: Mutex<Slot>,
    ready: Condvar,
}

impl Completion {
    fn slot(&self) -> MutexGuard<'_, Slot> {
        // The slot holds plain data; a panic elsewhere cannot leave it half-written.
        self.slot.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn complete(&self, result: Result<Range<Lsn>>) {
        let waker = {
            let mut slot = self.slot();
            slot.result = Some(result);
            slot.waker.take()
        };
        self.ready.notify_all();
        if let Some(w) = waker {
            w.wake();
        }
    }
}

/// An append handed to the writer. [`Ticket::wait`] blocks until it is acknowledged under the
/// WAL's [`crate::Durability`]; awaiting it does the same without blocking a thread.
///
/// Dropping a ticket does not cancel the append: it is written all the same.
#[derive(Debug)]
#[must_use = "an append is acknowledged only once its ticket completes"]
pub struct Ticket {
    pub(crate) done: Arc<Completion>,
}

impl Ticket {
    /// Blocks until the append is acknowledged; returns the LSNs of its records.
    pub fn wait(self) -> Result<Range<Lsn>> {
        let mut slot = self.done.slot();
        loop {
            if let Some(r) = slot.result.take() {
                return r;
            }
            slot = self
                .done
                .ready
                .wait(slot)
                .unwrap_or_else(|p| p.into_inner());
        }
    }
}

impl Future for Ticket {
    type Output = Result<Range<Lsn>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut slot = self.done.slot();
        match slot.result.take() {
            Some(r) => Poll::Ready(r),
            None => {
                slot.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}
