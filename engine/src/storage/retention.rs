//! Retention: dropping whole partitions once they are older than a tenant's retention for
//! their signal (`metrics_retention`, `traces_retention`, `logs_retention`), or while the
//! tenant's Parquet bytes of all signals and downsampled tiers are over its `disk_budget`
//! (oldest partition first, whatever the signal; a tier's partition is a day).
//!
//! A drop is one atomic, durable step: the partition's `manifest.json` is renamed to
//! `DROPPED` and the directory fsynced. From then on no open loads its files (a partition
//! without a manifest has none), so a crash at any later point cannot bring them back. The
//! sets are then taken from the readers' list and retired: a query that took them before
//! keeps reading, and the files go when it lets go. The `DROPPED` marker and the emptied
//! directory are removed once the files are gone, by this pass or the next, or on open.
//!
//! A later flush may write into the same hour again (samples accepted before it expired);
//! it starts a new `manifest.json`, and the next pass drops that too.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use crate::storage::fs::sync_dir;
use crate::storage::partition::FileMap;
use crate::storage::partition::{self, PartFile, partition_start};
use crate::{Error, Result, TenantId};

/// The marker a dropped partition's manifest is renamed to.
pub(crate) const DROPPED: &str = "DROPPED";

/// A partition's directory and its file sets.
type Partition = (PathBuf, Vec<Arc<PartFile>>);

/// A partition that outlived expiry: (start, index into `file_maps`, dir, sets, bytes).
pub(crate) type Kept = (i64, usize, PathBuf, Vec<Arc<PartFile>>, u64);

/// One signal's committed partitions per tenant, by start.
pub(crate) fn partitions(
    file_map: &RwLock<FileMap>,
) -> BTreeMap<TenantId, BTreeMap<i64, Partition>> {
    let mut tenants: BTreeMap<TenantId, BTreeMap<i64, Partition>> = BTreeMap::new();
    let files = file_map.read().unwrap_or_else(|p| p.into_inner());
    for (tenant, list) in files.iter() {
        let parts = tenants.entry(tenant.clone()).or_default();
        for f in list {
            let start = partition_start(f.entry.min_ts);
            let e = parts
                .entry(start)
                .or_insert_with(|| (f.dir.clone(), Vec::new()));
            e.1.push(f.clone());
        }
    }
    tenants
}

/// What a retention pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetentionStats {
    /// Partitions dropped because they are older than the retention.
    pub expired: usize,
    /// Partitions dropped to bring a tenant under its disk budget.
    pub over_budget: usize,
    /// Bytes of Parquet files given up.
    pub bytes: u64,
}

/// If `dir` holds only a `DROPPED` marker (its files are gone), removes the marker, then the
/// directory if nothing else is in it (a later flush may have started a new manifest), and
/// its parent date directory if that is empty too. Returns whether the drop is finished.
pub(crate) fn clean_dropped(dir: &Path) -> Result<bool> {
    let io = |source| Error::Io {
        path: dir.to_owned(),
        source,
    };
    let names: Vec<String> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
            .collect::<std::io::Result<_>>()
            .map_err(io)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(true),
        Err(e) => return Err(io(e)),
    };
    let listed: Vec<String> = if names.iter().any(|n| n == DROPPED) {
        let m: partition::Manifest = partition::read_json(&dir.join(DROPPED))?;
        m.files
            .iter()
            .flat_map(|f| f.names().map(str::to_owned))
            .collect()
    } else {
        Vec::new()
    };
    if names.iter().any(|n| listed.contains(n)) {
        return Ok(false); // a query still holds some
    }
    if names.iter().any(|n| n == DROPPED) {
        std::fs::remove_file(dir.join(DROPPED)).map_err(io)?;
        sync_dir(dir)?;
    }
    remove_if_empty(dir)?;
    if let Some(date) = dir.parent() {
        remove_if_empty(date)?;
    }
    Ok(true)
}

/// Removes `dir` if it is empty, fsyncing its parent.
fn remove_if_empty(dir: &Path) -> Result<()> {
    use std::io::ErrorKind::{DirectoryNotEmpty, NotFound};
    match std::fs::remove_dir(dir) {
        Ok(()) => sync_dir(dir.parent().unwrap_or(Path::new("."))),
        Err(e) if matches!(e.kind(), DirectoryNotEmpty | NotFound) => Ok(()),
        Err(source) => Err(Error::Io {
            path: dir.to_owned(),
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use crate::lifecycle::Core;
    use crate::storage::partition::PARTITION_MS;
    use std::time::Duration;

    use super::*;
    use crate::metrics::scan::{self, ScanStats};
    use crate::{EngineConfig, FlushStop, ManualClock, Sample, SeriesSamples, storage::parquet_io};

    #[test]
    fn a_query_in_flight_during_a_drop_reads_to_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let day = 1_763_683_200_000; // 2025-11-21
        let clock = Arc::new(ManualClock::new(day + 1_000));
        let mut config = EngineConfig::default();
        config.limits.metrics_retention = Duration::from_secs(86_400);
        let core = Core::open(dir.path(), config, clock.clone()).unwrap();
        let t = TenantId::new("t").unwrap();
        let s = SeriesSamples {
            labels: vec![("__name__".into(), "up".into())],
            samples: vec![Sample {
                ts: day,
                value: 1.0,
            }],
        };
        core.write(&t, &[s]).unwrap();
        core.flush_until(FlushStop::Never).unwrap();
        let held = core.metrics.file_sets(&t, day, day);
        assert_eq!(held.len(), 1);
        let part = held[0].dir.clone();

        clock.set(day + 86_400_000 + PARTITION_MS);
        assert_eq!(core.apply_retention().unwrap().expired, 1);
        assert!(
            core.metrics.file_sets(&t, day, day).is_empty(),
            "new queries see nothing"
        );
        assert!(part.join(DROPPED).exists(), "dropped durably");
        let ids = parquet_io::read_series_ids(&held[0].series_path()).unwrap();
        let mut n = 0;
        let mut stats = ScanStats::default();
        scan::read_samples(
            &held[0].samples_path(),
            &ids,
            day,
            day,
            &mut stats,
            |_, _| n += 1,
        )
        .unwrap();
        assert_eq!(n, 1, "the query in flight still reads its partition");

        drop(held);
        core.finish_drops();
        assert!(!part.exists(), "gone once the query let go");
    }
}
