//! The [`Wal`] handle: open, append, sync, read, truncate, close.

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;

use bytes::Bytes;
use crossbeam_channel::Sender;
use tracing::warn;

use crate::error::{Error, Result, io_err};
use crate::format::MAX_RECORD_LEN;
use crate::latency::LatencySnapshot;
use crate::options::WalOptions;
use crate::reader::Reader;
use crate::record::Lsn;
use crate::recovery::{RecoveryReport, SegmentMeta, recover};
use crate::shared::Shared;
use crate::storage::{OsStorage, Storage};
use crate::ticket::{Completion, Ticket};
use crate::writer::{Request, Writer};

/// Counters of what the WAL has done since it was opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WalStats {
    /// Append calls (batches) written.
    pub appends: u64,
    /// Records written.
    pub records: u64,
    /// Bytes written, frames included.
    pub bytes: u64,
    /// fsyncs of segment data.
    pub syncs: u64,
}

/// A write-ahead log in one directory.
///
/// `Wal` is `Send + Sync`: share it (e.g. in an `Arc`) and append from many threads; their
/// appends are committed together (group commit). Dropping it closes it like [`Wal::close`],
/// logging instead of returning a failure.
#[derive(Debug)]
pub struct Wal {
    shared: Arc<Shared>,
    tx: Option<Sender<Request>>,
    writer: Option<JoinHandle<()>>,
    report: RecoveryReport,
    _lock: DirLock,
}

/// Holds the directory lock until dropped.
struct DirLock(#[allow(dead_code)] Box<dyn Send + Sync>);

impl std::fmt::Debug for DirLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DirLock")
    }
}

impl Wal {
    /// Opens (creating if needed) the WAL in `dir` on the real file system, recovering it per
    /// `options.recovery`.
    pub fn open(dir: impl AsRef<Path>, options: WalOptions) -> Result<Self> {
        Self::open_with_storage(Arc::new(OsStorage), dir, options)
    }

    /// Creates, durably, a WAL in `dir` that holds no record and whose next record gets LSN
    /// `first_lsn`: one segment with only its header, named by `first_lsn`, then the
    /// directory fsynced. For a copy of a log's owner that carries on a log's numbering
    /// without its records (a snapshot whose records are all stored elsewhere up to
    /// `first_lsn`). Fails if `dir` already holds a segment, or `first_lsn` is 0.
    pub fn create_at(dir: impl AsRef<Path>, first_lsn: Lsn) -> Result<()> {
        let dir = dir.as_ref();
        let storage = OsStorage;
        storage
            .create_dir_all(dir)
            .map_err(io_err("create directory", dir))?;
        let refuse = |reason: &str| Error::Io {
            op: "create a WAL at an LSN",
            path: dir.to_owned(),
            source: std::io::Error::new(std::io::ErrorKind::AlreadyExists, reason.to_owned()),
        };
        if first_lsn == 0 {
            return Err(Error::InvalidOption {
                name: "first_lsn",
                reason: "LSNs start at 1".into(),
            });
        }
        let names = storage.list(dir).map_err(io_err("list directory", dir))?;
        if names.iter().any(|n| n.ends_with(".wal")) {
            return Err(refuse("the directory already holds WAL segments"));
        }
        crate::recovery::create_segment(&storage, dir, first_lsn)?;
        Ok(())
    }

    /// Opens the WAL in `dir` on any [`Storage`] (for example [`crate::sim::SimStorage`]).
    pub fn open_with_storage(
        storage: Arc<dyn Storage>,
        dir: impl AsRef<Path>,
        options: WalOptions,
    ) -> Result<Self> {
        options.validate()?;
        let dir = dir.as_ref().to_path_buf();
        storage
            .create_dir_all(&dir)
            .map_err(io_err("create directory", &dir))?;
        let lock = storage.lock_dir(&dir).map_err(|e| {
            if e.kind() == std::io::ErrorKind::WouldBlock {
                Error::Locked {
                    path: dir.join("LOCK"),
                }
            } else {
                io_err("lock directory", &dir)(e)
            }
        })?;
        let (segments, report) = recover(&*storage, &dir, options.recovery)?;
        let active = segments[segments.len() - 1].clone();
        let file = storage
            .open_append(&active.path)
            .map_err(io_err("open segment", &active.path))?;
        let (tx, rx) = crossbeam_channel::bounded(options.queue_capacity);
        let shared = Arc::new(Shared::new(
            storage,
            dir,
            options,
            segments,
            active.next_lsn,
        ));
        let writer = Writer::new(
            shared.clone(),
            file,
            active.first_lsn,
            active.len,
            active.next_lsn,
        );
        let handle = std::thread::Builder::new()
            .name("strata-wal-writer".into())
            .spawn(move || writer.run(rx))
            .map_err(io_err("spawn writer thread", &shared.dir))?;
        Ok(Self {
            shared,
            tx: Some(tx),
            writer: Some(handle),
            report,
            _lock: DirLock(lock),
        })
    }

    /// Hands a batch of records to the writer and returns at once. The batch is atomic: after
    /// a crash, recovery finds all of its records or none. Its records get consecutive LSNs.
    ///
    /// Blocks only while the writer's queue is full (`queue_capacity`).
    pub fn submit<I, B>(&self, records: I) -> Result<Ticket>
    where
        I: IntoIterator<Item = B>,
        B: Into<Bytes>,
    {
        let records: Vec<Bytes> = records.into_iter().map(Into::into).collect();
        if records.is_empty() {
            return Err(Error::EmptyBatch);
        }
        if let Some(r) = records.iter().find(|r| r.len() > MAX_RECORD_LEN) {
            return Err(Error::RecordTooLarge {
                len: r.len(),
                max: MAX_RECORD_LEN,
            });
        }
        self.send(|done| Request::Append { records, done })
    }

    /// Appends a batch and waits until it is acknowledged (see [`crate::Durability`]).
    /// Returns the LSNs of its records.
    pub fn append_batch<I, B>(&self, records: I) -> Result<Range<Lsn>>
    where
        I: IntoIterator<Item = B>,
        B: Into<Bytes>,
    {
        self.submit(records)?.wait()
    }

    /// Appends one record and waits until it is acknowledged. Returns its LSN.
    pub fn append(&self, record: impl Into<Bytes>) -> Result<Lsn> {
        Ok(self.append_batch([record.into()])?.start)
    }

    /// Makes everything appended so far durable, whatever the mode. Returns the LSN after
    /// the last durable record.
    pub fn sync(&self) -> Result<Lsn> {
        let ticket = self.send(|done| Request::Sync { done })?;
        Ok(ticket.wait()?.end)
    }

    /// Makes everything appended so far durable and, if the active segment holds any record,
    /// closes it and starts a new one, so that [`Wal::truncate_below`] can then drop every
    /// record written so far. Returns the first LSN of the (new) active segment.
    ///
    /// An owner that has copied every record elsewhere calls this before closing, so that a
    /// clean shutdown leaves no WAL to read at the next open.
    pub fn rotate(&self) -> Result<Lsn> {
        let ticket = self.send(|done| Request::Rotate { done })?;
        Ok(ticket.wait()?.end)
    }

    fn send(&self, request: impl FnOnce(Arc<Completion>) -> Request) -> Result<Ticket> {
        if let Some(cause) = self.shared.poisoned.get() {
            return Err(Error::Poisoned {
                source: cause.clone(),
            });
        }
        let done = Arc::new(Completion::default());
        let tx = self.tx.as_ref().ok_or(Error::Closed)?;
        tx.send(request(done.clone())).map_err(|_| Error::Closed)?;
        Ok(Ticket { done })
    }

    /// A reader over the records from `from` on, up to the last batch written when it is
    /// created. `from` below [`Wal::first_lsn`] is an error (those records were truncated);
    /// at or past the end it reads nothing.
    pub fn reader(&self, from: Lsn) -> Result<Reader> {
        let segs = self.shared.segments();
        let oldest = segs[0].first_lsn;
        if from < oldest {
            return Err(Error::Truncated {
                requested: from,
                oldest,
            });
        }
        // Map while holding the lock, so truncation cannot remove a file in between.
        let mut parts = Vec::new();
        for seg in segs.iter().filter(|s| s.next_lsn > from) {
            let data = self
                .shared
                .storage
                .read(&seg.path)
                .map_err(io_err("read segment", &seg.path))?;
            parts.push((seg.clone(), data));
        }
        drop(segs);
        Ok(Reader::new(parts, from))
    }

    /// Deletes every segment whose records all have LSNs below `lsn` (never the segment being
    /// appended to). Call it once everything below `lsn` is stored elsewhere. Returns the
    /// number of segments deleted.
    ///
    /// Segments go oldest first with the directory fsynced after each, so a crash part-way
    /// leaves a contiguous log.
    pub fn truncate_below(&self, lsn: Lsn) -> Result<usize> {
        let doomed: Vec<SegmentMeta> = {
            let mut segs = self.shared.segments();
            let n = segs[..segs.len() - 1]
                .iter()
                .take_while(|s| s.next_lsn <= lsn)
                .count();
            segs.drain(..n).collect()
        };
        let dir = &self.shared.dir;
        for (i, seg) in doomed.iter().enumerate() {
            let removed = self
                .shared
                .storage
                .remove(&seg.path)
                .map_err(io_err("remove segment", &seg.path))
                .and_then(|()| {
                    self.shared
                        .storage
                        .sync_dir(dir)
                        .map_err(io_err("fsync directory", dir))
                });
            if let Err(e) = removed {
                // Put back what is still there, so the in-memory list matches the disk.
                let mut segs = self.shared.segments();
                for (j, s) in doomed[i..].iter().enumerate() {
                    segs.insert(j, s.clone());
                }
                return Err(e);
            }
        }
        Ok(doomed.len())
    }

    /// Oldest LSN still readable.
    pub fn first_lsn(&self) -> Lsn {
        self.shared.segments()[0].first_lsn
    }

    /// LSN after the last record written (not necessarily durable yet).
    pub fn next_lsn(&self) -> Lsn {
        let segs = self.shared.segments();
        segs[segs.len() - 1].next_lsn
    }

    /// LSN after the last record known to be fsynced.
    pub fn durable_lsn(&self) -> Lsn {
        self.shared.durable_lsn.load(Ordering::Acquire)
    }

    /// Number of segment files in the log.
    pub fn segment_count(&self) -> usize {
        self.shared.segments().len()
    }

    /// What recovery found and repaired when this WAL was opened.
    pub fn recovery_report(&self) -> &RecoveryReport {
        &self.report
    }

    /// Counters since open.
    pub fn stats(&self) -> WalStats {
        let c = &self.shared.stats;
        WalStats {
            appends: c.appends.load(Ordering::Relaxed),
            records: c.records.load(Ordering::Relaxed),
            bytes: c.bytes.load(Ordering::Relaxed),
            syncs: c.syncs.load(Ordering::Relaxed),
        }
    }

    /// How long the fsyncs of segment data took (each one, group commits included).
    pub fn fsync_latency(&self) -> LatencySnapshot {
        self.shared.stats.sync_latency.snapshot()
    }

    /// Lets queued appends finish, fsyncs, and stops the writer. Returns the poisoning error
    /// if a write or fsync ever failed.
    pub fn close(mut self) -> Result<()> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<()> {
        drop(self.tx.take());
        if let Some(h) = self.writer.take()
            && h.join().is_err()
        {
            return Err(Error::Closed);
        }
        match self.shared.poisoned.get() {
            Some(cause) => Err(Error::Poisoned {
                source: cause.clone(),
            }),
            None => Ok(()),
        }
    }
}

impl Drop for Wal {
    fn drop(&mut self) {
        if let Err(e) = self.shutdown() {
            warn!(error = %e, dir = %self.shared.dir.display(), "WAL closed with an error");
        }
    }
}
