//! Downsampled tiers on disk (`docs/formats/partitions.md`, "Tiers"): where a tier's
//! partitions live, how its file sets are named, and loading them on open.
//!
//! ```text
//! <data>/metrics_<res>/tenant=<t>/date=YYYY-MM-DD/   one tier partition: one UTC day
//!     manifest.json                                 as a metrics partition's (format 2)
//!     samples-<B>-<res>.parquet                     one row per series and interval (storage/tier_file.rs)
//!     series-<B>-<res>.parquet, index-<B>-<res>.parquet
//! ```
//!
//! A day's partition holds the intervals ending in `(day start, day end]`. `<res>` is the
//! resolution as configured (`5m`, `1h`, `1d`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::metrics::flush::committed_sets_of;
use crate::storage::partition::{self, FileMap, PartFile};
pub use crate::storage::tier_paths::format_resolution;
pub(crate) use crate::storage::tier_paths::{DAY_MS, parse_resolution, tier_root, tiers_on_disk};
use crate::{Result, TenantId};

/// [`tier_root`] as a `&'static str` (for telemetry keyed by signal): interned, so each
/// distinct resolution is allocated once for the life of the process.
pub(crate) fn tier_signal(res: i64) -> &'static str {
    static NAMES: std::sync::Mutex<Vec<&'static str>> = std::sync::Mutex::new(Vec::new());
    let name = tier_root(res);
    let mut names = NAMES.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(n) = names.iter().find(|n| **n == name) {
        return n;
    }
    let leaked: &'static str = Box::leak(name.into_boxed_str());
    names.push(leaked);
    leaked
}

/// The directory of tenant `t`'s partition of tier `res` for the day starting at `day`.
pub(crate) fn tier_dir(root: &Path, res: i64, t: &TenantId, day: i64) -> PathBuf {
    // A metrics partition's directory is `.../date=D/hour=HH`: the day's is its parent.
    let hour = partition::signal_partition_dir(root, crate::signal_kind::Signal::Metrics, t, day);
    let date = hour.parent().and_then(Path::file_name).map(PathBuf::from);
    root.join(tier_root(res))
        .join(format!("tenant={t}"))
        .join(date.unwrap_or_default())
}

/// The resolution of the tier a file set belongs to, from its data file's name
/// (`samples-<B>-<res>.parquet`); `None` for a raw set.
pub(crate) fn resolution_of(part: &PartFile) -> Option<i64> {
    let stem = part.entry.samples.strip_suffix(".parquet")?;
    let res = stem.rsplit('-').next()?;
    if res == "c" || res == "cold" {
        return None;
    }
    parse_resolution(res)
}

/// The start of the day holding `ts`.
pub(crate) fn day_start(ts: i64) -> i64 {
    ts.div_euclid(DAY_MS) * DAY_MS
}

/// The committed sets of every tier partition under `root`, by tenant, finer tiers first.
pub(crate) fn load(root: &Path, committed_below: u64) -> Result<FileMap> {
    let mut files = FileMap::new();
    for res in tiers_on_disk(root)? {
        let dir = root.join(tier_root(res));
        let dirs = partition::list_partitions(&dir, false)?;
        for (tenant, pdir, _version, entries) in committed_sets_of(dirs, committed_below)? {
            let list = files.entry(tenant).or_default();
            list.extend(
                entries
                    .into_iter()
                    .map(|e| Arc::new(PartFile::new(pdir.clone(), e))),
            );
        }
    }
    Ok(files)
}
