//! The writer thread: group commit.
//!
//! One thread owns the active segment. It takes whatever appends are queued (up to
//! `max_group_bytes`), frames them into one buffer, writes it with one call, fsyncs once (per
//! the durability mode), and only then completes every waiter of the group. A write or fsync
//! error poisons the WAL: the group fails, and so does every later append.

use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use bytes::Bytes;
use crossbeam_channel::{Receiver, RecvTimeoutError};
use tracing::error;

use crate::format::{SEGMENT_HEADER_LEN, encode_batch, framed_len};
use crate::recovery::create_segment;
use crate::storage::WalFile;
use crate::ticket::Completion;
use crate::wal::Shared;
use crate::{Durability, Error, Lsn};

pub(crate) enum Request {
    Append {
        records: Vec<Bytes>,
        done: Arc<Completion>,
    },
    /// fsync everything written so far.
    Sync { done: Arc<Completion> },
}

/// An I/O failure inside the writer, already described.
type IoFailure = std::io::Error;

pub(crate) struct Writer {
    shared: Arc<Shared>,
    file: Box<dyn WalFile>,
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
    /// Waiters of the group being built, with their results.
    waiting: Vec<(Arc<Completion>, Range<Lsn>)>,
}

impl Writer {
    pub(crate) fn new(
        shared: Arc<Shared>,
        file: Box<dyn WalFile>,
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
            waiting: Vec::new(),
        }
    }

    pub(crate) fn run(mut self, rx: Receiver<Request>) {
        let opts = &self.shared.options;
        let interval = match opts.durability {
            Durability::Interval(d) => Some(d),
            _ => None,
        };
        loop {
            let first = match (interval, self.dirty_since) {
                (Some(every), Some(since)) => match rx.recv_deadline(since + every) {
                    Ok(r) => r,
                    Err(RecvTimeoutError::Timeout) => {
                        if let Err(e) = self.sync() {
                            self.poison(e);
                        }
                        continue;
                    }
                    Err(RecvTimeoutError::Disconnected) => break,
                },
                _ => match rx.recv() {
                    Ok(r) => r,
                    Err(_) => break,
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
            self.commit(group);
        }
        // Clean close: everything written is made durable, whatever the mode.
        if self.shared.poison.get().is_none()
            && self.dirty_since.is_some()
            && let Err(e) = self.sync()
        {
            self.poison(e);
        }
    }

    /// Writes a group, syncs it as the mode requires, and completes its waiters.
    fn commit(&mut self, group: Vec<Request>) {
        if let Some(cause) = self.shared.poison.get() {
            let cause = cause.clone();
            for req in group {
                let (Request::Append { done, .. } | Request::Sync { done }) = req;
                done.complete(Err(Error::Poisoned {
                    source: cause.clone(),
                }));
            }
            return;
        }
        let mut must_sync = self.shared.options.durability == Durability::Fsync;
        let mut result = Ok(());
        let mut failed = Vec::new();
        for req in group {
            match req {
                Request::Append { records, done } => {
                    if result.is_err() {
                        failed.push(done);
                        continue;
                    }
                    let size = framed_len(&records) as u64;
                    if self.active_len > SEGMENT_HEADER_LEN as u64
                        && self.active_len + size > self.shared.options.segment_size
                        && let Err(e) = self.rotate()
                    {
                        result = Err(e);
                        failed.push(done);
                        continue;
                    }
                    let first = self.next_lsn;
                    encode_batch(&mut self.buf, first, &records);
                    self.next_lsn += records.len() as u64;
                    self.active_len += size;
                    self.shared.stats.record_append(records.len(), size);
                    self.waiting.push((done, first..self.next_lsn));
                }
                Request::Sync { done } => {
                    must_sync = true;
                    self.waiting.push((done, self.next_lsn..self.next_lsn));
                }
            }
        }
        if result.is_ok() {
            result = self.flush();
        }
        if result.is_ok() && must_sync {
            result = self.sync();
        }
        match result {
            Ok(()) => {
                for (done, range) in self.waiting.drain(..) {
                    done.complete(Ok(range));
                }
            }
            Err(e) => {
                let cause = self.poison(e);
                let waiting = self.waiting.drain(..).map(|(d, _)| d);
                for done in waiting.chain(failed) {
                    done.complete(Err(Error::Poisoned {
                        source: cause.clone(),
                    }));
                }
            }
        }
    }

    /// Writes the buffer to the active segment and publishes the new end.
    fn flush(&mut self) -> Result<(), IoFailure> {
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

    fn sync(&mut self) -> Result<(), IoFailure> {
        if self.dirty_since.is_none() {
            return Ok(());
        }
        self.file
            .sync_data()
            .map_err(|e| describe(e, "fsync", &self.active_path()))?;
        self.dirty_since = None;
        self.shared.stats.syncs.fetch_add(1, Ordering::Relaxed);
        self.shared
            .durable_lsn
            .store(self.next_lsn, Ordering::Release);
        Ok(())
    }

    /// Closes the active segment (written and fsynced in every mode, so that only the last
    /// segment can ever hold a torn tail) and starts the next one.
    fn rotate(&mut self) -> Result<(), IoFailure> {
        self.flush()?;
        self.sync()?;
        let dir = &self.shared.dir;
        let (file, meta) = create_segment(&*self.shared.storage, dir, self.next_lsn)
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        self.file = file;
        self.active_first = meta.first_lsn;
        self.active_len = meta.len;
        self.shared.add_segment(meta);
        Ok(())
    }

    fn active_path(&self) -> PathBuf {
        self.shared
            .dir
            .join(crate::recovery::segment_name(self.active_first))
    }

    fn poison(&mut self, e: IoFailure) -> Arc<std::io::Error> {
        // Never retry: after a failed fsync the kernel may have dropped the dirty pages and
        // a second fsync can report success for data that is gone.
        self.dirty_since = None;
        error!(error = %e, "WAL write failed; poisoning the log, no further appends will be acknowledged");
        let cause = Arc::new(e);
        // First failure wins; later ones are consequences.
        let _ = self.shared.poison.set(cause.clone());
        self.shared.poison.get().cloned().unwrap_or(cause)
    }
}

fn group_bytes(r: &Request) -> usize {
    match r {
        Request::Append { records, .. } => framed_len(records),
        Request::Sync { .. } => 0,
    }
}

fn describe(e: std::io::Error, op: &str, path: &std::path::Path) -> std::io::Error {
    std::io::Error::new(e.kind(), format!("{op} {}: {e}", path.display()))
}
