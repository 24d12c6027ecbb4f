//! A data file read by byte ranges from the bucket, for a trace lookup in a query
//! process that has not fetched the file: the footer, the page index and the pages of the
//! row groups that may hold the trace, instead of the whole file (`docs/scale-out.md`).
//!
//! [`RangedFile`] is a Parquet [`ChunkReader`]: each read is one ranged GET, unless it
//! lies within ranges fetched ahead ([`RangedFile::fetch_ahead`], which joins ranges
//! less than [`JOIN_GAP`] apart into one GET) or within the tail fetched before the
//! footer is read ([`RangedFile::fetch_tail`]).

use std::io::Read;
use std::ops::Range;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use parquet::errors::ParquetError;
use parquet::file::reader::{ChunkReader, Length};

use crate::Result;
use crate::storage::partition::{Fetch, PartFile};

/// Ranges fetched ahead closer than this are fetched as one (the bytes between cost less
/// than another request, and S3 charges by request): the pages a lookup needs of one row
/// group's columns come in one GET, as `object_store` joins ranges by default. Ranges
/// farther apart are fetched at once, each by its own GET.
pub(crate) const JOIN_GAP: u64 = 1 << 20;

/// Bytes of the file's end fetched before its footer is read: the footer and page index
/// of a dense hour's file fit, so reading them costs one GET (larger ones, a second).
pub(crate) const TAIL: u64 = 1 << 20;

/// Bytes a sequential reader ([`ChunkReader::get_read`]) fetches at a time.
const READ_CHUNK: u64 = 1 << 20;

/// A bucket's data file, read by ranges. Clones share what was fetched.
#[derive(Debug, Clone)]
pub(crate) struct RangedFile {
    part: Arc<PartFile>,
    source: Arc<dyn Fetch>,
    len: u64,
    /// Ranges fetched so far; reads within one are served from it.
    held: Arc<Mutex<Vec<(u64, Bytes)>>>,
}

impl RangedFile {
    /// `part`'s data file of `len` bytes, read through `source`. Nothing is fetched yet.
    pub(crate) fn new(part: Arc<PartFile>, source: Arc<dyn Fetch>, len: u64) -> Self {
        Self {
            part,
            source,
            len,
            held: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// Fetches the last [`TAIL`] bytes (the footer, and the page index of most files),
    /// before the footer is read.
    pub(crate) fn fetch_tail(&self) -> Result<()> {
        self.fetch(self.len.saturating_sub(TAIL)..self.len)
            .map(drop)
    }

    /// Fetches `range` with one GET and keeps it.
    fn fetch(&self, range: Range<u64>) -> Result<Bytes> {
        let start = range.start;
        let bytes = self
            .source
            .read_ranges(&self.part, vec![range])?
            .pop()
            .unwrap_or_default();
        self.lock().push((start, bytes.clone()));
        Ok(bytes)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(u64, Bytes)>> {
        self.held.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Fetches `ranges` ((offset, length), any order) not already held, those less than
    /// [`JOIN_GAP`] apart in one GET each.
    pub(crate) fn fetch_ahead(&self, mut ranges: Vec<(u64, u64)>) -> Result<()> {
        ranges.retain(|&(start, len)| len > 0 && self.held_slice(start, len).is_none());
        ranges.sort_unstable();
        let mut joined: Vec<Range<u64>> = Vec::new();
        for (start, len) in ranges {
            let end = start.saturating_add(len).min(self.len);
            match joined.last_mut() {
                Some(last) if start <= last.end.saturating_add(JOIN_GAP) => {
                    last.end = last.end.max(end);
                }
                _ => joined.push(start..end),
            }
        }
        let starts: Vec<u64> = joined.iter().map(|r| r.start).collect();
        let got = self.source.read_ranges(&self.part, joined)?;
        self.lock().extend(starts.into_iter().zip(got));
        Ok(())
    }

    /// Bytes `[start, start + len)` if a held range covers them.
    fn held_slice(&self, start: u64, len: u64) -> Option<Bytes> {
        let end = start.checked_add(len)?;
        self.lock().iter().find_map(|(at, b)| {
            let stop = at + b.len() as u64;
            (*at <= start && end <= stop)
                .then(|| b.slice((start - at) as usize..(end - at) as usize))
        })
    }

    /// Bytes `[start, start + len)`: held, or fetched with one GET (and kept).
    pub(crate) fn bytes(&self, start: u64, len: u64) -> Result<Bytes> {
        if let Some(b) = self.held_slice(start, len) {
            return Ok(b);
        }
        let end = start.saturating_add(len).min(self.len);
        self.fetch(start..end)
    }
}

fn parquet_error(e: crate::Error) -> ParquetError {
    ParquetError::External(Box::new(e))
}

impl Length for RangedFile {
    fn len(&self) -> u64 {
        self.len
    }
}

impl ChunkReader for RangedFile {
    type T = RangedRead;

    fn get_read(&self, start: u64) -> parquet::errors::Result<RangedRead> {
        Ok(RangedRead::new(self.clone(), start))
    }

    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<Bytes> {
        self.bytes(start, length as u64).map_err(parquet_error)
    }
}

/// A sequential reader of a [`RangedFile`] from an offset on, [`READ_CHUNK`] at a time.
pub(crate) struct RangedRead {
    file: RangedFile,
    at: u64,
    chunk: Bytes,
}

impl RangedRead {
    /// A reader of `file` from `start` on.
    pub(crate) fn new(file: RangedFile, start: u64) -> Self {
        Self {
            file,
            at: start,
            chunk: Bytes::new(),
        }
    }
}

impl Read for RangedRead {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.chunk.is_empty() {
            let left = self.file.len.saturating_sub(self.at);
            if left == 0 {
                return Ok(0);
            }
            self.chunk = self
                .file
                .bytes(self.at, left.min(READ_CHUNK))
                .map_err(std::io::Error::other)?;
        }
        let n = buf.len().min(self.chunk.len());
        buf[..n].copy_from_slice(&self.chunk[..n]);
        self.chunk = self.chunk.slice(n..);
        self.at += n as u64;
        Ok(n)
    }
}
