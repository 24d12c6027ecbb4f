//! Positioned reads of a local Parquet file for the parquet crate's readers, counting
//! the bytes read (`bytes_scanned`): line searches, their lookups and the attribute maps
//! they return read a file this way, without a shared cursor.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use datafusion::parquet::errors::ParquetError;
use datafusion::parquet::file::reader::{ChunkReader, Length};

type Result<T> = std::result::Result<T, ParquetError>;

/// A file read with positioned reads (no shared cursor), counting the bytes read (clones
/// share the file and the count).
#[derive(Clone)]
pub(crate) struct Pread {
    file: Arc<File>,
    path: PathBuf,
    len: u64,
    read: Arc<std::sync::atomic::AtomicU64>,
}

impl Pread {
    /// Opens the file at `path`.
    pub(crate) fn open(path: &Path) -> Result<Self> {
        let file = File::open(path)
            .map_err(|e| ParquetError::General(format!("{}: {e}", path.display())))?;
        Self::from_file(file, path)
    }

    /// Reads `file`, opened at `path`.
    pub(crate) fn from_file(file: File, path: &Path) -> Result<Self> {
        let len = file
            .metadata()
            .map_err(|e| ParquetError::General(format!("{}: {e}", path.display())))?
            .len();
        Ok(Self {
            file: Arc::new(file),
            path: path.to_owned(),
            len,
            read: Default::default(),
        })
    }

    /// The bytes read so far.
    pub(crate) fn read(&self) -> u64 {
        self.read.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl Length for Pread {
    fn len(&self) -> u64 {
        self.len
    }
}

impl ChunkReader for Pread {
    type T = std::io::BufReader<PreadAt>;

    fn get_read(&self, start: u64) -> Result<Self::T> {
        // Small: what is read this way is a page header (the page itself comes through
        // `get_bytes`).
        Ok(std::io::BufReader::with_capacity(
            512,
            PreadAt {
                file: self.clone(),
                at: start,
            },
        ))
    }

    fn get_bytes(&self, start: u64, length: usize) -> Result<Bytes> {
        let mut buf = vec![0u8; length];
        self.file.read_exact_at(&mut buf, start).map_err(|e| {
            ParquetError::General(format!("cannot read {}: {e}", self.path.display()))
        })?;
        self.read
            .fetch_add(length as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(Bytes::from(buf))
    }
}

/// A [`Pread`]'s file read on from an offset, as far as it is asked (the parquet crate
/// reads a column chunk this way when the file has no offset index).
pub(crate) struct PreadAt {
    file: Pread,
    at: u64,
}

impl std::io::Read for PreadAt {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.file.file.read_at(buf, self.at)?;
        self.at += n as u64;
        self.file
            .read
            .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(n)
    }
}
