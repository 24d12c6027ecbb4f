//! The writer and notifier threads: group commit.
//!
//! The writer thread owns the active segment. It takes whatever appends are queued (up to
//! `max_group_bytes`), frames them into one buffer, writes it with one call and, in `Fsync`
//! mode, runs one `fdatasync`. It then hands the group's waiters to the notifier thread and
//! goes straight back for the next group. Waking a thread costs several microseconds (a
//! cross-CPU wakeup, dearer still in a VM), so waking group N on the notifier while the
//! writer writes and syncs group N+1 keeps the disk busy; waking them on the writer left it
//! idle for most of each cycle (measured: docs/benchmarks-history.md). Appends that arrive while
//! the writer is in `fdatasync` queue up and form the next group.
//!
//! A failed write or fsync poisons the WAL: the waiters involved fail, and so does every
//! later append. Nothing is retried.

use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use bytes::Bytes;
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

use crate::error::{Error, Result};
use crate::format::{SEGMENT_HEADER_LEN, encode_batch, framed_len};
use crate::options::Durability;
use crate::record::Lsn;
use crate::recovery::{create_segment, segment_name};
use crate::shared::Shared;
use crate::storage::WalFile;
use crate::ticket::Completion;

pub(crate) enum Request {
    Append {
        records: Vec<Bytes>,
        done: Arc<Completion>,
    },
    /// fsync everything written so far.
    Sync { done: Arc<Completion> },
    /// fsync, and start a new segment if the active one holds any record.
    Rotate { done: Arc<Completion> },
}

/// Groups with more waiters than this are woken by the notifier thread, smaller ones by the
/// writer itself. Chosen by `cargo bench -p strata-benches --bench wal` (docs/benchmarks-history.md).
const NOTIFY_HANDOVER_MIN: usize = 8;

/// Completions to deliver, in commit order.
type Outcomes = Vec<(Arc<Completion>, Result<Range<Lsn>>)>;

pub(crate) struct Writer {
    shared: Arc<Shared>,
    file: Arc<dyn WalFile>,
    /// First LSN of the active segment.
    active_first: Lsn,
    /// Bytes in the active segment, written and buffered.
    active_len: u64,
    /// LSN the next record gets.
    next_lsn: Lsn,
    /// Frames not yet written.
    buf: Vec<u8>,
    /// Time of the first write not yet fsynced.
    dirty_since: Option<Instant>,
}

impl Writer {
    pub(crate) fn new(
        shared: Arc<Shared>,
        file: Arc<dyn WalFile>,
        active_first: Lsn,
        active_len: u64,
        next_lsn: Lsn,
    ) -> Self {
        Self {
            shared,
            file,
            active_first,
            active_len,
            next_lsn,
            buf: Vec::with_capacity(1 << 20),
            dirty_since: None,
        }
    }

    pub(crate) fn run(mut self, rx: Receiver<Request>) {
        let (notify_tx, notify_rx) = crossbeam_channel::unbounded::<Outcomes>();
        std::thread::scope(|s| {
            let notifier = std::thread::Builder::new()
                .name("strata-wal-notify".into())
                .spawn_scoped(s, move || {
                    for outcomes in notify_rx {
                        for (done, result) in outcomes {
                            done.complete(result);
                        }
                    }
                });
            // Without a notifier, the writer delivers completions itself.
            let notify = notifier.is_ok().then_some(&notify_tx);
            self.write_loop(&rx, notify);
            // Clean close: everything written is made durable, whatever the mode.
            if self.shared.poisoned.get().is_none()
                && let Err(e) = self.sync()
            {
                self.shared.poison(e);
            }
            drop(notify_tx); // the notifier delivers what is queued and stops
        });
    }

    fn write_loop(&mut self, rx: &Receiver<Request>, notify: Option<&Sender<Outcomes>>) {
        let interval = match self.shared.options.durability {
            Durability::Interval(d) => Some(d),
            _ => None,
        };
        loop {
            // Interval mode: what is written is fsynced once its interval is up, also when
            // requests never stop coming (a receive returns a waiting request even after
            // its deadline, so the deadline alone would wait for a pause).
            if let (Some(every), Some(since)) = (interval, self.dirty_since)
                && Instant::now() >= since + every
            {
                self.sync_or_poison();
            }
            let first = match (interval, self.dirty_since) {
                (Some(every), Some(since)) => match rx.recv_deadline(since + every) {
                    Ok(r) => r,
                    Err(RecvTimeoutError::Timeout) => {
                        self.sync_or_poison();
                        continue;
                    }
                    Err(RecvTimeoutError::Disconnected) => return,
                },
                _ => match rx.recv() {
                    Ok(r) => r,
                    Err(_) => return,
                },
            };
            let mut group = vec![first];
            let mut bytes = group_bytes(&group[0]);
            while bytes < self.shared.options.max_group_bytes {
                match rx.try_recv() {
                    Ok(r) => {
                        bytes += group_bytes(&r);
                        group.push(r);
                    }
                    Err(_) => break,
                }
            }
            let outcomes = self.commit(group);
            // Few waiters are cheaper to wake here than to hand over (the handover is a
            // wakeup too, and delays them, shrinking the next group).
            match notify {
                Some(tx) if outcomes.len() > NOTIFY_HANDOVER_MIN => {
                    if let Err(unsent) = tx.send(outcomes) {
                        deliver(unsent.0);
                    }
                }
                _ => deliver(outcomes),
            }
        }
    }

    /// Writes a group and syncs it as the mode requires; returns what each waiter gets.
    fn commit(&mut self, group: Vec<Request>) -> Outcomes {
        let mut outcomes = Vec::with_capacity(group.len());
        if let Some(cause) = self.shared.poisoned.get() {
            for req in group {
                let (Request::Append { done, .. }
                | Request::Sync { done }
                | Request::Rotate { done }) = req;
                let source = cause.clone();
                outcomes.push((done, Err(Error::Poisoned { source })));
            }
            return outcomes;
        }
        let mut must_sync = self.shared.options.durability == Durability::Fsync;
        let mut result = Ok(());
        for req in group {
            let (done, range) = match req {
                Request::Append { records, done } => {
                    let size = framed_len(&records) as u64;
                    if result.is_ok()
                        && self.active_len > SEGMENT_HEADER_LEN as u64
                        && self.active_len + size > self.shared.options.segment_size
                    {
                        result = self.rotate();
                    }
                    if result.is_err() {
                        outcomes.push((done, Ok(0..0))); // replaced by the error below
                        continue;
                    }
                    let first = self.next_lsn;
                    encode_batch(&mut self.buf, first, &records);
                    self.next_lsn += records.len() as u64;
                    self.active_len += size;
                    self.shared.stats.record_append(records.len(), size);
                    (done, first..self.next_lsn)
                }
                Request::Sync { done } => {
                    must_sync = true;
                    (done, self.next_lsn..self.next_lsn)
                }
                Request::Rotate { done } => {
                    if result.is_ok() && self.active_first < self.next_lsn {
                        result = self.rotate();
                    }
                    (done, self.next_lsn..self.next_lsn)
                }
            };
            outcomes.push((done, Ok(range)));
        }
        if result.is_ok() {
            result = self.flush();
        }
        if result.is_ok() && must_sync {
            result = self.sync();
        }
        if let Err(e) = result {
            let cause = self.shared.poison(e);
            self.dirty_since = None;
            for (_, outcome) in &mut outcomes {
                *outcome = Err(Error::Poisoned {
                    source: cause.clone(),
                });
            }
        }
        outcomes
    }

    /// Writes the buffer to the active segment and publishes the new end.
    fn flush(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        self.file
            .write_all(&self.buf)
            .map_err(|e| describe(e, "write", &self.active_path()))?;
        self.buf.clear();
        self.dirty_since.get_or_insert_with(Instant::now);
        self.shared
            .published(self.active_first, self.active_len, self.next_lsn);
        Ok(())
    }

    /// [`Self::sync`]; a failure poisons the log (which then writes nothing more, so there
    /// is nothing left to sync).
    fn sync_or_poison(&mut self) {
        if let Err(e) = self.sync() {
            self.shared.poison(e);
            self.dirty_since = None;
        }
    }

    /// fsyncs what was written, if anything.
    fn sync(&mut self) -> std::io::Result<()> {
        if self.dirty_since.is_none() {
            return Ok(());
        }
        let started = std::time::Instant::now();
        self.file
            .sync_data()
            .map_err(|e| describe(e, "fsync", &self.active_path()))?;
        self.shared.stats.sync_latency.record(started.elapsed());
        self.dirty_since = None;
        self.shared.stats.syncs.fetch_add(1, Ordering::Relaxed);
        self.shared
            .durable_lsn
            .store(self.next_lsn, Ordering::Release);
        Ok(())
    }

    /// Closes the active segment (written and fsynced, in every mode, so that only the last
    /// segment can ever hold a torn tail) and starts the next one.
    fn rotate(&mut self) -> std::io::Result<()> {
        self.flush()?;
        self.sync()?;
        let (file, meta) = create_segment(&*self.shared.storage, &self.shared.dir, self.next_lsn)
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        self.file = file;
        self.active_first = meta.first_lsn;
        self.active_len = meta.len;
        self.shared.add_segment(meta);
        Ok(())
    }

    fn active_path(&self) -> PathBuf {
        self.shared.dir.join(segment_name(self.active_first))
    }
}

fn deliver(outcomes: Outcomes) {
    for (done, result) in outcomes {
        done.complete(result);
    }
}

fn group_bytes(r: &Request) -> usize {
    match r {
        Request::Append { records, .. } => framed_len(records),
        Request::Sync { .. } | Request::Rotate { .. } => 0,
    }
}

fn describe(e: std::io::Error, op: &str, path: &std::path::Path) -> std::io::Error {
    std::io::Error::new(e.kind(), format!("{op} {}: {e}", path.display()))
}
