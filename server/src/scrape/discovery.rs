//! file_sd: target groups from JSON or YAML files (`file_sd_configs`), as Prometheus reads
//! them: each file a list of `{targets: [...], labels: {...}}`, globs in `files`, and the
//! label `__meta_filepath` on every target. Files are checked every few seconds (a
//! changed size or modification time is read again) and read again whole every
//! `refresh_interval`. A file that cannot be read or parsed keeps its last good groups
//! (logged), as Prometheus keeps them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};

use tracing::warn;

use super::config::{self, StaticYaml};
use super::target::LabelSet;

/// One file as last read.
struct Read {
    stamp: (Option<SystemTime>, u64),
    groups: Vec<StaticYaml>,
}

/// A job's file_sd files and their groups.
pub(super) struct FileSd {
    configs: Vec<config::FileSd>,
    files: BTreeMap<PathBuf, Read>,
    last_full: Option<Instant>,
}

impl FileSd {
    pub(super) fn new(configs: &[config::FileSd]) -> Self {
        Self {
            configs: configs.to_vec(),
            files: BTreeMap::new(),
            last_full: None,
        }
    }

    /// Checks the files; whether any group changed.
    pub(super) fn refresh(&mut self) -> bool {
        if self.configs.is_empty() {
            return false;
        }
        let refresh = self
            .configs
            .iter()
            .map(|c| c.refresh)
            .min()
            .unwrap_or_default();
        let full = self.last_full.is_none_or(|t| t.elapsed() >= refresh);
        if full {
            self.last_full = Some(Instant::now());
        }
        let mut matched: Vec<PathBuf> = Vec::new();
        for c in &self.configs {
            for p in &c.patterns {
                match config::glob_files(Path::new(""), &p.to_string_lossy()) {
                    Ok(found) => matched.extend(found),
                    Err(e) => warn!(pattern = %p.display(), error = %e, "file_sd: bad pattern"),
                }
            }
        }
        matched.sort();
        matched.dedup();
        let mut changed = false;
        let before = self.files.len();
        self.files.retain(|p, _| matched.contains(p));
        changed |= self.files.len() != before;
        for path in matched {
            let stamp = stamp(&path);
            let known = self.files.get(&path);
            if !full && known.is_some_and(|r| r.stamp == stamp) {
                continue;
            }
            match read(&path) {
                Ok(groups) => {
                    if known.is_none_or(|r| r.groups != groups) {
                        changed = true;
                    }
                    self.files.insert(path, Read { stamp, groups });
                }
                Err(e) => {
                    warn!(file = %path.display(), error = %e, "file_sd: keeping the file's last targets");
                    if let Some(r) = self.files.get_mut(&path) {
                        r.stamp = stamp;
                    }
                }
            }
        }
        changed
    }

    /// Every group read, with its `__meta_filepath`.
    pub(super) fn groups(&self) -> Vec<(StaticYaml, LabelSet)> {
        self.files
            .iter()
            .flat_map(|(path, r)| {
                let meta = vec![("__meta_filepath".to_owned(), path.display().to_string())];
                r.groups.iter().map(move |g| (g.clone(), meta.clone()))
            })
            .collect()
    }
}

impl PartialEq for StaticYaml {
    fn eq(&self, other: &Self) -> bool {
        self.targets == other.targets && self.labels == other.labels
    }
}

fn stamp(path: &Path) -> (Option<SystemTime>, u64) {
    match std::fs::metadata(path) {
        Ok(m) => (m.modified().ok(), m.len()),
        Err(_) => (None, 0),
    }
}

/// A file's groups: JSON for `.json`, YAML otherwise.
pub(crate) fn read(path: &Path) -> Result<Vec<StaticYaml>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let groups: Vec<StaticYaml> = if path.extension().is_some_and(|e| e == "json") {
        serde_json::from_str(&text).map_err(|e| e.to_string())?
    } else if text.trim().is_empty() {
        Vec::new()
    } else {
        serde_saphyr::from_str(&text).map_err(|e| e.to_string())?
    };
    Ok(groups)
}
