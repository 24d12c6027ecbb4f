//! Named snapshots: checkpoints (`checkpoint.rs`) kept under `<data>/snapshots/<name>`,
//! each with a `snapshot.json` saying whose data it holds, and listed, measured and removed
//! by name.
//!
//! A name is the UTC time it was taken and 16 random hex digits
//! (`20260301T120000Z-5f1c0e9a2b7d4c31`, Prometheus's form), so names sort by age. The
//! description is written after the checkpoint is complete (and synced): a snapshot
//! without one (a crash in between, or one taken by an older Strata) is listed as every
//! tenant's, dated by its directory. A removal first renames the directory to a hidden
//! name, so a crash part-way never leaves a partial snapshot listed; the next removal
//! clears such leftovers.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::lifecycle::Core;
use crate::lifecycle::checkpoint::{CheckpointOptions, CheckpointStats};
use crate::storage::fs::io;
use crate::storage::partition;
use crate::{Error, Result, TenantId};

/// The directory under the data directory that holds the snapshots (Prometheus's name).
pub const SNAPSHOTS_DIR: &str = "snapshots";
/// A snapshot's description, in its directory.
const META: &str = "snapshot.json";
/// How long a measurement of the snapshots serves telemetry before it is taken again.
const MEASURE_TTL: Duration = Duration::from_secs(60);

/// One snapshot, as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotInfo {
    /// Its name: its directory under `<data>/snapshots/`.
    pub name: String,
    /// The tenant whose data it holds; `None`: every tenant's.
    pub tenant: Option<TenantId>,
    /// When it was taken (ms since the epoch).
    pub created_ms: i64,
    /// Taken without what was in memory ([`CheckpointOptions::skip_head`]).
    pub skip_head: bool,
    /// Files in it.
    pub files: u64,
    /// Bytes of those files.
    pub bytes: u64,
    /// Of `bytes`, those of files no other path links to: what removing the snapshot
    /// frees. The rest are hard links to files the engine (or another snapshot) still
    /// holds, and cost nothing until compaction or retention delete those.
    pub exclusive_bytes: u64,
}

/// `snapshot.json`.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Meta {
    tenant: Option<String>,
    created_ms: i64,
    skip_head: bool,
}

/// The last measurement of every snapshot, for telemetry.
#[derive(Debug, Default)]
pub(crate) struct Measured(Mutex<Option<(Instant, Vec<SnapshotInfo>)>>);

impl Core {
    fn snapshots_dir(&self) -> PathBuf {
        self.dir.join(SNAPSHOTS_DIR)
    }

    /// See [`crate::Engine::take_snapshot`].
    pub(crate) fn take_snapshot(
        &self,
        options: &CheckpointOptions,
    ) -> Result<(SnapshotInfo, CheckpointStats)> {
        let now = self.clock.now_ms();
        let (y, m, d) = partition::civil_from_days(now.div_euclid(86_400_000));
        let secs = now.rem_euclid(86_400_000) / 1_000;
        let name = format!(
            "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z-{:016x}",
            secs / 3_600,
            secs / 60 % 60,
            secs % 60,
            random_u64()
        );
        let dest = self.snapshots_dir().join(&name);
        let stats = self.checkpoint(&dest, options)?;
        let meta = Meta {
            tenant: options.tenant.as_ref().map(|t| t.as_str().to_owned()),
            created_ms: now,
            skip_head: options.skip_head,
        };
        partition::write_json(&dest.join(META), &meta)?;
        crate::storage::fs::sync_dir(&dest)?;
        self.forget_measure();
        Ok((describe(&dest, name)?, stats))
    }

    /// See [`crate::Engine::snapshots`].
    pub(crate) fn snapshots(&self) -> Result<Vec<SnapshotInfo>> {
        let dir = self.snapshots_dir();
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io(&dir)(e)),
        };
        let mut out = Vec::new();
        for e in entries {
            let e = e.map_err(io(&dir))?;
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') || !e.path().is_dir() {
                continue;
            }
            match describe(&e.path(), name) {
                Ok(s) => out.push(s),
                // Removed meanwhile.
                Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        out.sort_by(|a, b| (a.created_ms, &a.name).cmp(&(b.created_ms, &b.name)));
        Ok(out)
    }

    /// The snapshots as measured at most a minute ago (taking and removing one measure
    /// again), for telemetry; empty when they cannot be read.
    pub(crate) fn snapshots_measured(&self) -> Vec<SnapshotInfo> {
        let mut m = self
            .snapshots_measure
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some((at, list)) = m.as_ref()
            && at.elapsed() < MEASURE_TTL
        {
            return list.clone();
        }
        let list = self.snapshots().unwrap_or_default();
        *m = Some((Instant::now(), list.clone()));
        list
    }

    fn forget_measure(&self) {
        *self
            .snapshots_measure
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// See [`crate::Engine::remove_snapshot`].
    pub(crate) fn remove_snapshot(&self, name: &str) -> Result<bool> {
        check_name(name)?;
        let dir = self.snapshots_dir();
        let path = dir.join(name);
        if !path.is_dir() {
            return Ok(false);
        }
        let hidden = dir.join(format!(".{name}.removing"));
        std::fs::rename(&path, &hidden).map_err(io(&path))?;
        crate::storage::fs::sync_dir(&dir)?;
        self.forget_measure();
        // This one, and any a crash left half-removed.
        for e in std::fs::read_dir(&dir).map_err(io(&dir))? {
            let p = e.map_err(io(&dir))?.path();
            let leftover = p
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with('.') && n.ends_with(".removing"));
            if leftover {
                std::fs::remove_dir_all(&p).map_err(io(&p))?;
            }
        }
        Ok(true)
    }
}

/// A snapshot name as this engine writes them: letters, digits, `-`, `_`, `.`, not
/// starting with a dot (no path, no hidden leftover).
fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidRequest {
            reason: format!("{name:?} is not a snapshot name"),
        })
    }
}

/// Reads a snapshot's description and measures its files.
fn describe(dir: &Path, name: String) -> Result<SnapshotInfo> {
    let meta: Meta = partition::read_json(&dir.join(META))?;
    let created_ms = if meta.created_ms != 0 {
        meta.created_ms
    } else {
        let modified = std::fs::metadata(dir).and_then(|m| m.modified());
        modified
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_millis() as i64)
    };
    let tenant = meta.tenant.as_deref().and_then(|t| TenantId::new(t).ok());
    let mut info = SnapshotInfo {
        name,
        tenant,
        created_ms,
        skip_head: meta.skip_head,
        files: 0,
        bytes: 0,
        exclusive_bytes: 0,
    };
    measure(dir, &mut info)?;
    Ok(info)
}

/// Adds the files below `dir` to `info`'s counts.
fn measure(dir: &Path, info: &mut SnapshotInfo) -> Result<()> {
    for e in std::fs::read_dir(dir).map_err(io(dir))? {
        let e = e.map_err(io(dir))?;
        let path = e.path();
        let meta = std::fs::symlink_metadata(&path).map_err(io(&path))?;
        if meta.is_dir() {
            measure(&path, info)?;
        } else if meta.is_file() {
            info.files += 1;
            info.bytes += meta.len();
            if links(&meta) <= 1 {
                info.exclusive_bytes += meta.len();
            }
        }
    }
    Ok(())
}

#[cfg(unix)]
fn links(meta: &std::fs::Metadata) -> u64 {
    std::os::unix::fs::MetadataExt::nlink(meta)
}

#[cfg(not(unix))]
fn links(_: &std::fs::Metadata) -> u64 {
    1
}

/// 64 random bits (the standard library's per-process random hasher keys, and the time).
fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::check_name;

    #[test]
    fn names_are_single_plain_components() {
        assert!(check_name("20260301T120000Z-5f1c0e9a2b7d4c31").is_ok());
        for bad in ["", "..", ".x.removing", "a/b", "../data", "a b", "é"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }
}
