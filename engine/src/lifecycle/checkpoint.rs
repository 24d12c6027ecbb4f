//! Checkpoints: a consistent copy of the data directory, taken while the engine runs, that
//! [`crate::Engine::open`] opens as a data directory of its own.
//!
//! The protocol, and why it is consistent and complete:
//!
//! 1. **Flush** (unless the caller skips the head): every write acknowledged before the
//!    call placed its samples and records in memory before its acknowledgement, so the
//!    flush's cut takes them (or an earlier flush did), and once the flush returns they
//!    are in committed files. Writes acknowledged after the flush's cut are in the WAL,
//!    whose tail step 4 copies.
//! 2. **Take the committed sets** of every signal, and the `FLUSHED` value, under the
//!    flush lock. Every change to the sets holds that lock (a flush publishes its sets and
//!    then moves the marker; a compaction swaps a manifest; retention drops one), so what
//!    is taken is one committed state: each set listed has `flush` at or below the marker.
//!    The sets are held as `Arc`s: a set compaction or retention retires meanwhile keeps
//!    its files on disk until the checkpoint lets go (`PartFile`'s drop), so nothing is
//!    deleted between reading the state and linking its files.
//! 3. **Link** each set's files (immutable once listed: written under a temporary name,
//!    renamed, never written again) into the same partition path under `dest`, or copy
//!    them where linking fails; the derived files (`*.tid`, `*.sum`) too when present
//!    (they are rebuilt when missing). Then each partition's `manifest.json` is written
//!    anew from the entries taken, not copied: the source's manifest may already list a
//!    compaction that happened after step 2.
//! 4. **Commit marker and WAL:** `metrics/FLUSHED` with the marker taken, and a WAL whose
//!    next LSN is that marker (`strata_wal::Wal::create_at`), into which every record of
//!    the engine's WAL from the marker on is copied under its own LSN (unless the caller
//!    skips the head): the writes acknowledged after the flush's cut, up to this step. The
//!    flush lock is held from step 2 to here, so no flush truncates those records first.
//!    An empty WAL starting at 1 would let the copy's next flush use a boundary below the
//!    marker (and reuse file names of sets it holds): its next open would then drop those
//!    sets as uncommitted.
//! 5. **fsync** every directory written, deepest first. A failure removes what was
//!    written, so a partial checkpoint is never left to be opened.
//!
//! Writes go on during all of it. Every write acknowledged before the WAL copy began (the
//! checkpoint's last step) is in the checkpoint: in its files if the flush's cut took it,
//! else in its WAL; a write acknowledged while the copy runs may or may not be.
//!
//! **One tenant's checkpoint** ([`CheckpointOptions::tenant`]) is the same protocol over
//! that tenant's partitions only (a `tenant=<t>` component in their path, the downsampled
//! tiers' included) and that tenant's WAL records only (every record names its tenant in
//! its first bytes, `docs/formats/engine-wal.md`). Those records keep their order but
//! are numbered again from the marker on: the copy's open replays every record at or above
//! its marker, whatever its number, and each tenant's records depend only on its own (a
//! series a record uses is defined by an earlier record of the same tenant, or is in the
//! tenant's files).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use tracing::{info, warn};

use crate::lifecycle::Core;
use crate::metrics::flush::FlushStop;
use crate::signal_kind::Signal;
use crate::storage::checkpoint::{Placed, dirs_up_to, link_or_copy, prepare_dest, sync_dirs};
use crate::storage::fs::io;
use crate::storage::partition::{
    self, Flushed, MARKER, METRICS_FORMAT, Manifest, PartFile, derived_paths,
};
use crate::{Error, FlushStats, Result};

/// What a checkpoint takes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckpointOptions {
    /// Leave out what is not flushed yet, and do not flush (Prometheus's `skip_head`).
    pub skip_head: bool,
    /// Only this tenant's partitions and WAL records; `None`: every tenant's.
    pub tenant: Option<crate::TenantId>,
}

/// What a checkpoint holds and how it was made.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckpointStats {
    /// What the flush before it wrote (nothing when the head was skipped).
    pub flush: FlushStats,
    /// Partitions (of every signal and tenant) in the checkpoint.
    pub partitions: usize,
    /// File sets in the checkpoint.
    pub file_sets: usize,
    /// Files hard-linked.
    pub files_linked: usize,
    /// Files copied (linking failed: another file system).
    pub files_copied: usize,
    /// Bytes of the files, linked or copied.
    pub bytes: u64,
    /// The checkpoint's `FLUSHED` marker: every WAL record below it was in its files.
    pub flushed_below_lsn: u64,
    /// WAL records copied: writes acknowledged after the flush's cut (none with
    /// `skip_head`), replayed when the checkpoint is opened.
    pub wal_records: u64,
}

impl Core {
    /// See [`crate::Engine::checkpoint_with`].
    pub(crate) fn checkpoint(
        &self,
        dest: &Path,
        options: &CheckpointOptions,
    ) -> Result<CheckpointStats> {
        self.writable()?;
        let created = prepare_dest(dest)?;
        match self.checkpoint_into(dest, options) {
            Ok(stats) => {
                info!(dest = %dest.display(), partitions = stats.partitions,
                      file_sets = stats.file_sets, linked = stats.files_linked,
                      copied = stats.files_copied, bytes = stats.bytes,
                      flushed_below_lsn = stats.flushed_below_lsn, "checkpoint written");
                Ok(stats)
            }
            Err(e) => {
                // Leave no partial checkpoint to be opened by mistake.
                if let Err(r) = remove_written(dest, created) {
                    warn!(dest = %dest.display(), error = %r, "removing a failed checkpoint");
                }
                Err(e)
            }
        }
    }

    fn checkpoint_into(&self, dest: &Path, options: &CheckpointOptions) -> Result<CheckpointStats> {
        let skip_head = options.skip_head;
        let tenant_dir = options.tenant.as_ref().map(|t| format!("tenant={t}"));
        let wanted = |dir: &Path| match &tenant_dir {
            None => true,
            Some(t) => dir
                .strip_prefix(&self.dir)
                .is_ok_and(|rel| rel.components().any(|c| c.as_os_str() == t.as_str())),
        };
        let flush = if skip_head {
            FlushStats::default()
        } else {
            self.flush_until(FlushStop::Never)?
        };
        // Held to the end: no flush publishes, and no WAL segment at or above the marker is
        // truncated, until the WAL's tail has been read (step 4).
        let state = self.flush_lock.lock().unwrap_or_else(|p| p.into_inner());
        let (sets, marker) = {
            let mut sets: BTreeMap<PathBuf, (Signal, Vec<Arc<PartFile>>)> = BTreeMap::new();
            // The downsampled tiers' partitions are metrics partitions of their own trees.
            let tiers = (Signal::Metrics, &self.metrics.tier_files);
            for (signal, map) in self.file_maps().into_iter().chain([tiers]) {
                let files = map.read().unwrap_or_else(|p| p.into_inner());
                for f in files.values().flatten().filter(|f| wanted(&f.dir)) {
                    sets.entry(f.dir.clone())
                        .or_insert_with(|| (signal, Vec::new()))
                        .1
                        .push(f.clone());
                }
            }
            (sets, self.flushed_below.load(Ordering::Acquire))
        };
        let mut stats = CheckpointStats {
            flush,
            flushed_below_lsn: marker,
            ..CheckpointStats::default()
        };
        let mut written = Vec::new();
        for (dir, (signal, mut parts)) in sets {
            let rel = dir.strip_prefix(&self.dir).map_err(|_| Error::Io {
                path: dir.clone(),
                source: std::io::Error::other("a partition outside the data directory"),
            })?;
            let out = dest.join(rel);
            std::fs::create_dir_all(&out).map_err(io(&out))?;
            parts.sort_by_key(|f| f.entry.flush);
            for f in &parts {
                // A local copy a bounded cache evicted comes back from the bucket.
                f.ensure_data()?;
                for name in f.entry.names() {
                    place(&dir.join(name), &out.join(name), &mut stats)?;
                }
                for d in derived_paths(&f.entry.samples) {
                    // Derived: rebuilt by the copy's maintenance when missing.
                    if dir.join(&d).exists() {
                        place(&dir.join(&d), &out.join(&d), &mut stats)?;
                    }
                }
            }
            let manifest = Manifest {
                version: if signal == Signal::Metrics {
                    METRICS_FORMAT
                } else {
                    1
                },
                files: parts.iter().map(|f| f.entry.clone()).collect(),
            };
            partition::write_json(&out.join("manifest.json"), &manifest)?;
            stats.partitions += 1;
            stats.file_sets += parts.len();
            written.push(out);
        }
        let metrics = partition::metrics_dir(dest);
        std::fs::create_dir_all(&metrics).map_err(io(&metrics))?;
        partition::write_json(
            &metrics.join(MARKER),
            &Flushed {
                flushed_below_lsn: marker,
            },
        )?;
        let wal_dir = dest.join("wal");
        strata_wal::Wal::create_at(&wal_dir, marker.max(1))?;
        if !skip_head {
            let tenant = options.tenant.as_ref().map(|t| t.as_str().as_bytes());
            stats.wal_records = self.copy_wal_tail(&wal_dir, marker.max(1), tenant)?;
        }
        drop(state);
        written.push(metrics);
        sync_dirs(&dirs_up_to(dest, written))?;
        if let Some(parent) = dest.parent().filter(|p| !p.as_os_str().is_empty()) {
            crate::storage::fs::sync_dir(parent)?;
        }
        Ok(stats)
    }
}

impl Core {
    /// Appends to the checkpoint's WAL at `wal_dir` (empty, numbered from `from`) every
    /// record of the engine's WAL from `from` on, as written up to now, under the same
    /// LSNs: the writes acknowledged after the flush's cut, until the checkpoint's last
    /// step, which the copy's open replays. Returns how many records were copied. With
    /// `tenant`, only that tenant's records, numbered again from `from`.
    fn copy_wal_tail(&self, wal_dir: &Path, from: u64, tenant: Option<&[u8]>) -> Result<u64> {
        let reader = self.wal.reader(from.max(self.wal.first_lsn()))?;
        let options = strata_wal::WalOptions {
            durability: strata_wal::Durability::None,
            ..strata_wal::WalOptions::default()
        };
        let copy = strata_wal::Wal::open(wal_dir, options)?;
        let mut n = 0;
        for record in reader {
            let record = record?;
            if tenant
                .is_some_and(|t| crate::wal_records::frame::tenant_of(&record.payload) != Some(t))
            {
                continue;
            }
            let lsn = copy.append(record.payload)?;
            if tenant.is_none() && lsn != record.lsn {
                return Err(Error::Io {
                    path: wal_dir.to_owned(),
                    source: std::io::Error::other(format!(
                        "the checkpoint's WAL numbered record {} as {lsn}",
                        record.lsn
                    )),
                });
            }
            n += 1;
        }
        copy.sync()?;
        copy.close()?;
        Ok(n)
    }
}

/// Links or copies one file into the checkpoint, counting it.
fn place(src: &Path, dst: &Path, stats: &mut CheckpointStats) -> Result<()> {
    let (how, len) = link_or_copy(src, dst)?;
    match how {
        Placed::Linked => stats.files_linked += 1,
        Placed::Copied => stats.files_copied += 1,
    }
    stats.bytes += len;
    Ok(())
}

/// Removes what a failed checkpoint wrote into `dest` (and `dest` itself if it made it).
fn remove_written(dest: &Path, created: bool) -> std::io::Result<()> {
    if created {
        return std::fs::remove_dir_all(dest);
    }
    for e in std::fs::read_dir(dest)? {
        let path = e?.path();
        if path.is_dir() {
            std::fs::remove_dir_all(&path)?;
        } else {
            std::fs::remove_file(&path)?;
        }
    }
    Ok(())
}
