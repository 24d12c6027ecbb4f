//! Reading the log from an LSN across segments.

use bytes::Bytes;

use crate::damage::{Damage, DamageKind};
use crate::error::{Error, Result};
use crate::record::{Lsn, Record};
use crate::recovery::SegmentMeta;
use crate::segment::SegmentReader;

/// Iterates records in LSN order from the LSN it was created at, across segments.
///
/// It covers the batches written when it was created; later appends need a new reader.
/// Segments it holds stay readable even if [`crate::Wal::truncate_below`] deletes them
/// meanwhile. A record is yielded only after its checksum, LSN and batch framing check out;
/// damage (which recovery would have repaired or refused, so it means the files changed
/// under the WAL) ends the iteration with [`Error::Corrupt`].
#[derive(Debug)]
pub struct Reader {
    parts: std::vec::IntoIter<(SegmentMeta, Bytes)>,
    current: Option<(SegmentMeta, SegmentReader)>,
    from: Lsn,
    failed: bool,
}

impl Reader {
    pub(crate) fn new(parts: Vec<(SegmentMeta, Bytes)>, from: Lsn) -> Self {
        Self {
            parts: parts.into_iter(),
            current: None,
            from,
            failed: false,
        }
    }

    fn open_next(&mut self) -> Option<Result<()>> {
        let (meta, data) = self.parts.next()?;
        let len = usize::try_from(meta.len).unwrap_or(usize::MAX);
        if data.len() < len {
            return Some(Err(Error::Corrupt {
                path: meta.path.clone(),
                damage: Damage {
                    offset: data.len() as u64,
                    kind: DamageKind::TruncatedFrameHeader,
                },
            }));
        }
        match SegmentReader::new(data.slice(..len)) {
            Ok(r) => {
                self.current = Some((meta, r));
                Some(Ok(()))
            }
            Err(damage) => Some(Err(Error::Corrupt {
                path: meta.path,
                damage,
            })),
        }
    }
}

impl Iterator for Reader {
    type Item = Result<Record>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        loop {
            let Some((meta, seg)) = self.current.as_mut() else {
                match self.open_next()? {
                    Ok(()) => continue,
                    Err(e) => {
                        self.failed = true;
                        return Some(Err(e));
                    }
                }
            };
            match seg.next() {
                Some(Ok(rec)) if rec.lsn < self.from => continue,
                Some(Ok(rec)) => return Some(Ok(rec)),
                Some(Err(damage)) => {
                    self.failed = true;
                    return Some(Err(Error::Corrupt {
                        path: meta.path.clone(),
                        damage,
                    }));
                }
                None => self.current = None,
            }
        }
    }
}
