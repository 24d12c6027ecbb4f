//! File I/O behind a small trait, so tests can tear writes, drop unsynced data and inject
//! errors (see [`crate::sim`]), and the real thing ([`OsStorage`]).

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;

/// The handful of file-system calls the WAL makes. Paths are those the WAL builds from the
/// directory it was opened on.
pub trait Storage: Send + Sync + fmt::Debug + 'static {
    /// Creates `dir` and its parents if missing.
    fn create_dir_all(&self, dir: &Path) -> io::Result<()>;
    /// Takes an exclusive lock on `dir` for as long as the returned guard lives.
    fn lock_dir(&self, dir: &Path) -> io::Result<Box<dyn Send + Sync>>;
    /// File names (not paths) in `dir`.
    fn list(&self, dir: &Path) -> io::Result<Vec<String>>;
    /// Creates a new, empty file for appending; fails if it exists.
    fn create(&self, path: &Path) -> io::Result<Arc<dyn WalFile>>;
    /// Opens an existing file for appending at its end.
    fn open_append(&self, path: &Path) -> io::Result<Arc<dyn WalFile>>;
    /// The whole current contents of a file.
    fn read(&self, path: &Path) -> io::Result<Bytes>;
    /// Cuts a file to `len` bytes and makes that durable.
    fn truncate(&self, path: &Path, len: u64) -> io::Result<()>;
    /// Removes a file (durable after [`Storage::sync_dir`]).
    fn remove(&self, path: &Path) -> io::Result<()>;
    /// Renames a file (durable after [`Storage::sync_dir`]).
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Makes creations, removals and renames in `dir` durable.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
}

/// A file open for appending. One thread appends while another may fsync it (the WAL's
/// pipelined group commit), so both take `&self`.
pub trait WalFile: Send + Sync {
    /// Appends all of `buf`.
    fn write_all(&self, buf: &[u8]) -> io::Result<()>;
    /// Makes everything appended before this call durable (`fdatasync`).
    fn sync_data(&self) -> io::Result<()>;
}

/// The real file system. Segments are read through memory maps.
#[derive(Debug, Default, Clone, Copy)]
pub struct OsStorage;

struct OsFile(File);

impl WalFile for OsFile {
    fn write_all(&self, buf: &[u8]) -> io::Result<()> {
        (&self.0).write_all(buf)
    }

    fn sync_data(&self) -> io::Result<()> {
        self.0.sync_data()
    }
}

impl Storage for OsStorage {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        fs::create_dir_all(dir)
    }

    fn lock_dir(&self, dir: &Path) -> io::Result<Box<dyn Send + Sync>> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join("LOCK"))?;
        file.try_lock().map_err(|e| match e {
            fs::TryLockError::WouldBlock => io::Error::from(io::ErrorKind::WouldBlock),
            fs::TryLockError::Error(e) => e,
        })?;
        Ok(Box::new(file))
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in fs::read_dir(dir)? {
            if let Some(name) = entry?.file_name().to_str() {
                names.push(name.to_owned());
            }
        }
        Ok(names)
    }

    fn create(&self, path: &Path) -> io::Result<Arc<dyn WalFile>> {
        let f = OpenOptions::new()
            .append(true)
            .create_new(true)
            .open(path)?;
        Ok(Arc::new(OsFile(f)))
    }

    fn open_append(&self, path: &Path) -> io::Result<Arc<dyn WalFile>> {
        Ok(Arc::new(OsFile(
            OpenOptions::new().append(true).open(path)?,
        )))
    }

    fn read(&self, path: &Path) -> io::Result<Bytes> {
        let file = File::open(path)?;
        if file.metadata()?.len() == 0 {
            return Ok(Bytes::new()); // mapping zero bytes is an error on Linux
        }
        #[allow(unsafe_code)]
        // Safety: a mapped segment must not shrink below the bytes read through the map, or
        // touching the lost pages raises SIGBUS. Only one WAL writes its directory (it holds
        // the directory lock for its whole life, see `lock_dir`). Its writer only appends.
        // Recovery truncates a segment only after dropping its own mapping, and only past
        // the last complete batch, while every reader touches bytes below the length
        // published for complete batches (so even a `Reader` that outlives its `Wal` across a
        // reopen stays within the file). Truncation of old segments unlinks them, which
        // leaves existing mappings valid.
        let map = unsafe { memmap2::Mmap::map(&file)? };
        Ok(Bytes::from_owner(map))
    }

    fn truncate(&self, path: &Path, len: u64) -> io::Result<()> {
        let f = OpenOptions::new().write(true).open(path)?;
        f.set_len(len)?;
        f.sync_all()
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        fs::remove_file(path)
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        fs::rename(from, to)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        File::open(dir)?.sync_all()
    }
}
