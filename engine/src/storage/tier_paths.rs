//! Where downsampled tiers live under the data directory (`docs/formats/partitions.md`,
//! "Tiers"): `metrics_<res>/`, `<res>` a resolution as configured (`5m`, `1h`, `1d`). The
//! names only; `metrics/tiers.rs` loads and reads them.

use std::path::Path;

use crate::{Error, Result};

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
