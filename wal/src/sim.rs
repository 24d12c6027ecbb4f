//! An in-memory [`Storage`] that models what a power cut does to a file system, and that can
//! fail writes and fsyncs on demand. Like SQLite's crash-test VFS: data written but not yet
//! fsynced may, after [`SimStorage::power_cut`], be lost, cut short, zeroed or garbled page by
//! page; directory changes not yet fsynced survive only as a prefix of the order they were
//! made in (as a metadata journal replays them).
//!
//! Public so that tests of crates built on the WAL can crash it too.
//!
//! ```
//! use strata_wal::sim::{CrashRng, SimStorage};
//! use strata_wal::{Wal, WalOptions};
//! use std::sync::Arc;
//!
//! let sim = SimStorage::new();
//! let wal = Wal::open_with_storage(Arc::new(sim.clone()), "/wal", WalOptions::default())?;
//! let lsn = wal.append(&b"acknowledged"[..])?;
//! drop(wal);
//! let after = sim.power_cut(&mut CrashRng::new(7));
//! let wal = Wal::open_with_storage(Arc::new(after), "/wal", WalOptions::default())?;
//! let first = wal.reader(lsn)?.next().unwrap()?;
//! assert_eq!(&first.payload[..], b"acknowledged");
//! # Ok::<(), strata_wal::Error>(())
//! ```

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;

use crate::storage::{Storage, WalFile};

const PAGE: usize = 4096;

/// A small deterministic random source for crash simulation (xorshift64*), so a failing seed
/// replays exactly.
#[derive(Debug, Clone)]
pub struct CrashRng(u64);

impl CrashRng {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// Which call an injected fault hits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultOp {
    /// [`WalFile::write_all`]; half the buffer is written before the error.
    Write,
    /// [`WalFile::sync_data`].
    Sync,
}

#[derive(Debug, Clone, Default)]
struct Inode {
    data: Vec<u8>,
    /// Length of the prefix made durable by the last sync (files are only appended to, so
    /// that prefix never changes afterwards).
    durable_len: usize,
}

#[derive(Debug, Clone)]
enum DirOp {
    Link(PathBuf, u64),
    Unlink(PathBuf),
    Rename(PathBuf, PathBuf),
}

#[derive(Debug, Default)]
struct State {
    inodes: HashMap<u64, Inode>,
    next_ino: u64,
    /// The namespace as a running program sees it.
    live: BTreeMap<PathBuf, u64>,
    /// The namespace as of the last directory syncs.
    durable: BTreeMap<PathBuf, u64>,
    /// Directory changes not yet made durable, oldest first.
    pending: Vec<DirOp>,
    faults: Vec<(FaultOp, usize, io::ErrorKind)>,
}

impl State {
    /// Counts down the faults for `op`; returns the error of one that fires.
    fn fault(&mut self, op: FaultOp) -> Option<io::Error> {
        let mut fired = None;
        self.faults.retain_mut(|(o, n, kind)| {
            if *o != op || fired.is_some() {
                return true;
            }
            if *n == 0 {
                fired = Some(*kind);
                return false;
            }
            *n -= 1;
            true
        });
        fired.map(io::Error::from)
    }
}

fn apply(ns: &mut BTreeMap<PathBuf, u64>, op: &DirOp) {
    match op {
        DirOp::Link(p, ino) => {
            ns.insert(p.clone(), *ino);
        }
        DirOp::Unlink(p) => {
            ns.remove(p);
        }
        DirOp::Rename(from, to) => {
            if let Some(ino) = ns.remove(from) {
                ns.insert(to.clone(), ino);
            }
        }
    }
}

/// A simulated file system; clones share the same state.
#[derive(Debug, Clone, Default)]
pub struct SimStorage {
    state: Arc<Mutex<State>>,
}

impl SimStorage {
    /// An empty file system.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain data behind; keep using it.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Makes the `(skip + 1)`-th next call of `op` fail with `kind` (e.g.
    /// [`io::ErrorKind::StorageFull`] for ENOSPC, [`io::ErrorKind::Other`] for EIO).
    pub fn inject_fault(&self, op: FaultOp, skip: usize, kind: io::ErrorKind) {
        self.lock().faults.push((op, skip, kind));
    }

    /// The current bytes of a file, as the running program sees them.
    pub fn file(&self, path: &Path) -> Option<Vec<u8>> {
        let s = self.lock();
        let ino = s.live.get(path)?;
        s.inodes.get(ino).map(|i| i.data.clone())
    }

    /// Replaces a file's bytes (and makes them durable), for corruption tests.
    pub fn set_file(&self, path: &Path, data: Vec<u8>) {
        let mut s = self.lock();
        if let Some(&ino) = s.live.get(path) {
            let len = data.len();
            s.inodes.insert(
                ino,
                Inode {
                    data,
                    durable_len: len,
                },
            );
        }
    }

    /// The file system as it might be found after losing power now: a new, independent
    /// `SimStorage`. Every fsynced byte and every synced directory entry survives; of the
    /// rest, directory changes survive as an ordered prefix, and each file keeps a random
    /// prefix of its unsynced bytes with each 4 KiB page of it intact, zeroed or garbled.
    pub fn power_cut(&self, rng: &mut CrashRng) -> SimStorage {
        let s = self.lock();
        let mut ns = s.durable.clone();
        let keep = rng.below(s.pending.len() as u64 + 1) as usize;
        for op in &s.pending[..keep] {
            apply(&mut ns, op);
        }
        let mut inodes = HashMap::new();
        for &ino in ns.values() {
            let Some(old) = s.inodes.get(&ino) else {
                continue;
            };
            let mut data = old.data[..old.durable_len].to_vec();
            let unsynced = &old.data[old.durable_len..];
            let cut = rng.below(unsynced.len() as u64 + 1) as usize;
            let mut off = 0;
            while off < cut {
                // Pages are aligned to file offsets, as the page cache's are.
                let page_end = ((old.durable_len + off) / PAGE + 1) * PAGE - old.durable_len;
                let end = page_end.min(cut);
                match rng.below(4) {
                    0 => data.extend(std::iter::repeat_n(0u8, end - off)),
                    1 => data.extend((off..end).map(|_| rng.next_u64() as u8)),
                    _ => data.extend_from_slice(&unsynced[off..end]),
                }
                off = end;
            }
            let len = data.len();
            inodes.insert(
                ino,
                Inode {
                    data,
                    durable_len: len,
                },
            );
        }
        SimStorage {
            state: Arc::new(Mutex::new(State {
                inodes,
                next_ino: s.next_ino,
                live: ns.clone(),
                durable: ns,
                pending: Vec::new(),
                faults: Vec::new(),
            })),
        }
    }
}

fn not_found(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::NotFound,
        format!("{}: no such file", path.display()),
    )
}

struct SimFile {
    storage: SimStorage,
    ino: u64,
}

impl WalFile for SimFile {
    fn write_all(&self, buf: &[u8]) -> io::Result<()> {
        let mut s = self.storage.lock();
        let fault = s.fault(FaultOp::Write);
        let n = if fault.is_some() {
            buf.len() / 2
        } else {
            buf.len()
        };
        let inode = s.inodes.entry(self.ino).or_default();
        inode.data.extend_from_slice(&buf[..n]);
        fault.map_or(Ok(()), Err)
    }

    fn sync_data(&self) -> io::Result<()> {
        let mut s = self.storage.lock();
        if let Some(e) = s.fault(FaultOp::Sync) {
            return Err(e);
        }
        let inode = s.inodes.entry(self.ino).or_default();
        inode.durable_len = inode.data.len();
        Ok(())
    }
}

impl Storage for SimStorage {
    fn create_dir_all(&self, _dir: &Path) -> io::Result<()> {
        Ok(())
    }

    fn lock_dir(&self, _dir: &Path) -> io::Result<Box<dyn Send + Sync>> {
        Ok(Box::new(()))
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let s = self.lock();
        Ok(s.live
            .keys()
            .filter(|p| p.parent() == Some(dir))
            .filter_map(|p| p.file_name()?.to_str().map(str::to_owned))
            .collect())
    }

    fn create(&self, path: &Path) -> io::Result<Arc<dyn WalFile>> {
        let mut s = self.lock();
        if s.live.contains_key(path) {
            return Err(io::ErrorKind::AlreadyExists.into());
        }
        let ino = s.next_ino;
        s.next_ino += 1;
        s.inodes.insert(ino, Inode::default());
        s.live.insert(path.to_owned(), ino);
        s.pending.push(DirOp::Link(path.to_owned(), ino));
        Ok(Arc::new(SimFile {
            storage: self.clone(),
            ino,
        }))
    }

    fn open_append(&self, path: &Path) -> io::Result<Arc<dyn WalFile>> {
        let s = self.lock();
        let ino = *s.live.get(path).ok_or_else(|| not_found(path))?;
        Ok(Arc::new(SimFile {
            storage: self.clone(),
            ino,
        }))
    }

    fn read(&self, path: &Path) -> io::Result<Bytes> {
        let s = self.lock();
        let ino = s.live.get(path).ok_or_else(|| not_found(path))?;
        Ok(Bytes::copy_from_slice(&s.inodes[ino].data))
    }

    fn truncate(&self, path: &Path, len: u64) -> io::Result<()> {
        let mut s = self.lock();
        let ino = *s.live.get(path).ok_or_else(|| not_found(path))?;
        let inode = s.inodes.entry(ino).or_default();
        let len = usize::try_from(len).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        inode.data.resize(len, 0);
        inode.durable_len = len;
        Ok(())
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        let mut s = self.lock();
        s.live.remove(path).ok_or_else(|| not_found(path))?;
        s.pending.push(DirOp::Unlink(path.to_owned()));
        Ok(())
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let mut s = self.lock();
        let ino = s.live.remove(from).ok_or_else(|| not_found(from))?;
        s.live.insert(to.to_owned(), ino);
        s.pending
            .push(DirOp::Rename(from.to_owned(), to.to_owned()));
        Ok(())
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        let mut s = self.lock();
        let pending = std::mem::take(&mut s.pending);
        let (mine, others): (Vec<_>, Vec<_>) = pending.into_iter().partition(|op| {
            let p = match op {
                DirOp::Link(p, _) | DirOp::Unlink(p) | DirOp::Rename(p, _) => p,
            };
            p.parent() == Some(dir)
        });
        for op in &mine {
            apply(&mut s.durable, op);
        }
        s.pending = others;
        Ok(())
    }
}
