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
use crate::{Error, Result, TenantId};

/// Milliseconds in a day: the width of a tier partition.
pub(crate) const DAY_MS: i64 = 86_400_000;

/// `res` (ms) as written in names: `30s`, `5m`, `1h`, `1d`.
pub fn format_resolution(res: i64) -> String {
    for (unit, ms) in [("d", DAY_MS), ("h", 3_600_000), ("m", 60_000), ("s", 1_000)] {
        if res % ms == 0 {
            return format!("{}{unit}", res / ms);
        }
    }
    format!("{res}ms")
}

/// The resolution (ms) named by `s` ([`format_resolution`]'s output).
pub(crate) fn parse_resolution(s: &str) -> Option<i64> {
    let split = s.find(|c: char| !c.is_ascii_digit())?;
    let (n, unit) = s.split_at(split);
    let n: i64 = n.parse().ok()?;
    let ms = match unit {
        "d" => DAY_MS,
        "h" => 3_600_000,
        "m" => 60_000,
        "s" => 1_000,
        "ms" => 1,
        _ => return None,
    };
    n.checked_mul(ms).filter(|&r| r > 0)
}

/// The directory under the data directory holding tier `res`.
pub(crate) fn tier_root(res: i64) -> String {
    format!("metrics_{}", format_resolution(res))
}

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

/// The tier resolutions present under `root` (`metrics_<res>` directories), ascending.
pub(crate) fn tiers_on_disk(root: &Path) -> Result<Vec<i64>> {
    let entries = match std::fs::read_dir(root) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(Error::Io {
                path: root.to_owned(),
                source,
            });
        }
    };
    let mut out = Vec::new();
    for e in entries.flatten() {
        let name = e.file_name();
        if let Some(res) = name
            .to_str()
            .and_then(|n| n.strip_prefix("metrics_"))
            .and_then(parse_resolution)
        {
            out.push(res);
        }
    }
    out.sort_unstable();
    Ok(out)
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
