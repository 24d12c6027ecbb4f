//! Opening a WAL directory: find the segments, check every byte, repair what the recovery
//! mode allows, and hand the writer a clean tail to append to.
//!
//! The argument for what is repaired: the writer fsyncs a segment before it creates the next
//! one, and fsyncs a new segment's header and the directory before any record in it is
//! acknowledged. So a crash can only leave damage at the end of the last segment (records
//! that were never acknowledged in `Fsync` mode), or a last segment whose header never made
//! it. Damage anywhere else did not come from a crash, and is not repaired by default.

use std::path::{Path, PathBuf};

use tracing::{info, warn};

use crate::damage::{Damage, DamageKind};
use crate::error::{Error, Result, io_err};
use crate::format::{SEGMENT_HEADER_LEN, encode_segment_header};
use crate::options::RecoveryMode;
use crate::record::Lsn;
use crate::segment::SegmentReader;
use crate::storage::Storage;

/// A segment's place in the log.
#[derive(Debug, Clone)]
pub(crate) struct SegmentMeta {
    pub(crate) path: PathBuf,
    pub(crate) first_lsn: Lsn,
    /// LSN after its last record.
    pub(crate) next_lsn: Lsn,
    /// Bytes of the segment that hold complete batches.
    pub(crate) len: u64,
}

/// What opening the WAL found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Segments kept.
    pub segments: usize,
    /// Oldest LSN kept.
    pub first_lsn: Lsn,
    /// LSN the next append gets.
    pub next_lsn: Lsn,
    /// Damage repaired, with the segment it was in and the bytes dropped to repair it.
    pub repaired: Option<Repair>,
    /// Later segments renamed to `*.corrupt` by [`RecoveryMode::PointInTime`].
    pub quarantined: Vec<PathBuf>,
}

/// One repair made at open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repair {
    /// The segment repaired.
    pub path: PathBuf,
    /// What was wrong.
    pub damage: Damage,
    /// Length the segment was cut to (0 if the file was removed).
    pub truncated_to: u64,
    /// Bytes dropped.
    pub dropped_bytes: u64,
}

/// File name of the segment whose first record has `first_lsn`.
pub(crate) fn segment_name(first_lsn: Lsn) -> String {
    format!("{first_lsn:020}.wal")
}

fn parse_segment_name(name: &str) -> Option<Lsn> {
    let digits = name.strip_suffix(".wal")?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Creates a segment holding only its header, durably: header fsynced, then the directory.
pub(crate) fn create_segment(
    storage: &dyn Storage,
    dir: &Path,
    first_lsn: Lsn,
) -> Result<(std::sync::Arc<dyn crate::storage::WalFile>, SegmentMeta)> {
    let path = dir.join(segment_name(first_lsn));
    let file = storage
        .create(&path)
        .map_err(io_err("create segment", &path))?;
    file.write_all(&encode_segment_header(first_lsn))
        .map_err(io_err("write segment header", &path))?;
    file.sync_data().map_err(io_err("fsync segment", &path))?;
    storage
        .sync_dir(dir)
        .map_err(io_err("fsync directory", dir))?;
    let meta = SegmentMeta {
        path,
        first_lsn,
        next_lsn: first_lsn,
        len: SEGMENT_HEADER_LEN as u64,
    };
    Ok((file, meta))
}

/// The result of scanning one segment file without changing it.
struct Scan {
    meta: SegmentMeta,
    file_len: u64,
    damage: Option<Damage>,
}

fn scan(storage: &dyn Storage, path: PathBuf, name_lsn: Lsn) -> Result<Scan> {
    let data = storage.read(&path).map_err(io_err("read segment", &path))?;
    let file_len = data.len() as u64;
    let mut meta = SegmentMeta {
        path,
        first_lsn: name_lsn,
        next_lsn: name_lsn,
        len: 0,
    };
    let mut reader = match SegmentReader::new(data) {
        Ok(r) => r,
        Err(damage) => {
            return Ok(Scan {
                meta,
                file_len,
                damage: Some(damage),
            });
        }
    };
    if reader.first_lsn() != name_lsn {
        let damage = Damage {
            offset: 0,
            kind: DamageKind::SegmentLsnMismatch {
                expected: name_lsn,
                found: reader.first_lsn(),
            },
        };
        return Ok(Scan {
            meta,
            file_len,
            damage: Some(damage),
        });
    }
    let mut damage = None;
    for item in reader.by_ref() {
        if let Err(d) = item {
            damage = Some(d);
        }
    }
    meta.next_lsn = reader.next_lsn();
    meta.len = reader.valid_len();
    Ok(Scan {
        meta,
        file_len,
        damage,
    })
}

/// Scans `dir`, repairs per `mode`, and returns the segments to keep (at least one; the last
/// is the one to append to) with a report.
pub(crate) fn recover(
    storage: &dyn Storage,
    dir: &Path,
    mode: RecoveryMode,
) -> Result<(Vec<SegmentMeta>, RecoveryReport)> {
    let mut found: Vec<(Lsn, PathBuf)> = storage
        .list(dir)
        .map_err(io_err("list directory", dir))?
        .into_iter()
        .filter_map(|name| Some((parse_segment_name(&name)?, dir.join(name))))
        .collect();
    found.sort();

    let mut kept: Vec<SegmentMeta> = Vec::with_capacity(found.len());
    let mut report = RecoveryReport::default();
    for (i, (lsn, path)) in found.iter().enumerate() {
        let mut s = scan(storage, path.clone(), *lsn)?;
        if let Some(prev) = kept.last()
            && s.meta.first_lsn != prev.next_lsn
        {
            // Checked before the segment's own damage: a segment that starts in the wrong
            // place is unreachable whatever its contents.
            s.damage = Some(Damage {
                offset: 0,
                kind: DamageKind::Gap {
                    expected: prev.next_lsn,
                    found: s.meta.first_lsn,
                },
            });
        }
        let Some(damage) = s.damage.take() else {
            kept.push(s.meta);
            continue;
        };
        let later = &found[i + 1..];
        let is_last = later.is_empty();
        let repairable = match (&damage.kind, mode) {
            (DamageKind::UnsupportedVersion(_), _) | (_, RecoveryMode::Strict) => false,
            (DamageKind::Gap { .. }, RecoveryMode::TolerateTornTail) => false,
            (_, RecoveryMode::TolerateTornTail) => is_last,
            (_, RecoveryMode::PointInTime) => true,
        };
        if !repairable {
            return Err(Error::Corrupt {
                path: path.clone(),
                damage,
            });
        }
        for (_, p) in later {
            report.quarantined.push(quarantine(storage, p)?);
        }
        let header_ok = s.meta.len >= SEGMENT_HEADER_LEN as u64;
        let repair = if matches!(damage.kind, DamageKind::Gap { .. }) || (!header_ok && !is_last) {
            // Point-in-time past a gap or a bad header in an earlier segment: the file may
            // hold good records we cannot place; keep it aside for an operator.
            report.quarantined.push(quarantine(storage, path)?);
            Repair {
                path: path.clone(),
                damage,
                truncated_to: 0,
                dropped_bytes: s.file_len,
            }
        } else if !header_ok {
            // The last segment's header never became durable, so no record in it was ever
            // acknowledged (its header is fsynced before its first record is written).
            storage
                .remove(path)
                .map_err(io_err("remove segment", path))?;
            warn!(segment = %path.display(), %damage, dropped_bytes = s.file_len,
                  "removed last WAL segment whose header is damaged");
            if kept.is_empty() {
                // Keep the LSN sequence: the replacement starts where this one would have.
                kept.push(create_segment(storage, dir, s.meta.first_lsn)?.1);
            }
            Repair {
                path: path.clone(),
                damage,
                truncated_to: 0,
                dropped_bytes: s.file_len,
            }
        } else {
            storage
                .truncate(path, s.meta.len)
                .map_err(io_err("truncate segment", path))?;
            warn!(segment = %path.display(), %damage, truncated_to = s.meta.len,
                  dropped_bytes = s.file_len - s.meta.len, "truncated damaged WAL tail");
            kept.push(s.meta.clone());
            Repair {
                path: path.clone(),
                damage,
                truncated_to: s.meta.len,
                dropped_bytes: s.file_len - s.meta.len,
            }
        };
        report.repaired = Some(repair);
        storage
            .sync_dir(dir)
            .map_err(io_err("fsync directory", dir))?;
        break;
    }

    if kept.is_empty() {
        kept.push(create_segment(storage, dir, 1)?.1);
    }
    report.segments = kept.len();
    report.first_lsn = kept[0].first_lsn;
    report.next_lsn = kept[kept.len() - 1].next_lsn;
    info!(dir = %dir.display(), segments = report.segments, first_lsn = report.first_lsn,
          next_lsn = report.next_lsn, "WAL opened");
    Ok((kept, report))
}

/// Renames a segment to `<name>.corrupt`, out of the log but kept for inspection.
fn quarantine(storage: &dyn Storage, path: &Path) -> Result<PathBuf> {
    let mut to = path.as_os_str().to_owned();
    to.push(".corrupt");
    let to = PathBuf::from(to);
    storage
        .rename(path, &to)
        .map_err(io_err("rename segment", path))?;
    warn!(segment = %path.display(), to = %to.display(), "quarantined WAL segment");
    Ok(to)
}
