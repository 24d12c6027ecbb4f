//! A query process's engine: read-only over a bucket a writer mirrors to
//! (`storage/remote/reader.rs`). Each refresh that finds the bucket changed swaps in the
//! partitions it publishes: a set already held is kept (with what queries cached of it),
//! a new one is added (its metrics series restored into the index, as an open does), and
//! one the bucket no longer publishes is retired, its cached files deleted once the last
//! query reading it lets go. Downsampled tiers come as the raw partitions do.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

use crate::lifecycle::Core;
use crate::signal_kind::Signal;
use crate::storage::parquet_io;
use crate::storage::partition::{self, FileMap, PartFile};
use crate::storage::remote::reader::Reader;
use crate::storage::tier_paths;
use crate::{Error, Result};

/// Where a refresh puts the downsampled tiers' sets among its maps.
const TIER_MAP: usize = 3;

impl Core {
    /// The reader, when this engine reads a bucket.
    pub(crate) fn reader(&self) -> Option<&Reader> {
        self.reader.as_deref()
    }

    /// Refuses what only a writer does.
    pub(crate) fn writable(&self) -> Result<()> {
        match self.reader {
            Some(_) => Err(Error::ReadOnly),
            None => Ok(()),
        }
    }

    /// Lists the bucket and swaps in what changed; whether anything did. A failure keeps
    /// the partitions of the last refresh.
    pub(crate) fn refresh_reader(&self) -> Result<bool> {
        let Some(reader) = self.reader() else {
            return Ok(false);
        };
        let Some(published) = reader.refresh()? else {
            return Ok(false);
        };
        // The signals' maps, then the downsampled tiers' (all resolutions in one).
        let maps = [
            (Signal::Metrics, &self.metrics.files),
            (Signal::Traces, &self.traces.files),
            (Signal::Logs, &self.logs.files),
            (Signal::Metrics, &self.metrics.tier_files),
        ];
        let mut held: HashMap<(PathBuf, String), Arc<PartFile>> = HashMap::new();
        for (_, map) in &maps {
            let map = map.read().unwrap_or_else(|p| p.into_inner());
            for f in map.values().flatten() {
                held.insert((f.dir.clone(), f.entry.samples.clone()), f.clone());
            }
        }
        let mut next: [FileMap; 4] = Default::default();
        for p in published {
            if p.signal == Signal::Metrics && p.version != partition::METRICS_FORMAT {
                return Err(Error::DataFormat {
                    path: p.dir.join("manifest.json"),
                    found: p.version,
                    expected: partition::METRICS_FORMAT,
                });
            }
            for (entry, len) in p.files {
                let key = (p.dir.clone(), entry.samples.clone());
                let part = match held.remove(&key) {
                    Some(f) if f.entry == entry => f,
                    replaced => {
                        if let Some(old) = replaced {
                            old.retire();
                        }
                        if p.signal == Signal::Metrics {
                            self.restore_series(&p.tenant, &p.dir.join(&entry.series))?;
                        }
                        let source = reader.cache.clone();
                        let part = Arc::new(PartFile::remote(p.dir.clone(), entry, source, len));
                        // Cached by an earlier run of this process.
                        reader.cache.adopt(&part, len);
                        part
                    }
                };
                let i = match p.tier {
                    Some(_) => TIER_MAP,
                    None => maps.iter().position(|(s, _)| *s == p.signal).unwrap_or(0),
                };
                next[i].entry(p.tenant.clone()).or_default().push(part);
            }
        }
        for map in &mut next {
            for list in map.values_mut() {
                list.sort_by_key(|f| f.entry.flush);
            }
        }
        for ((_, map), files) in maps.iter().zip(next) {
            *map.write().unwrap_or_else(|p| p.into_inner()) = files;
        }
        // Gone from the bucket: their cached files go when the last query lets go.
        for f in held.into_values() {
            f.retire();
        }
        Ok(true)
    }

    /// Deletes the files below the partition directories that no set held now names (what
    /// an earlier run cached of sets since gone, downloads a kill interrupted), then brings
    /// the cache within its bound. Run once, after the first refresh.
    pub(crate) fn sweep_cache(&self) -> Result<()> {
        let Some(reader) = self.reader() else {
            return Ok(());
        };
        let mut keep: HashSet<PathBuf> = HashSet::new();
        for map in [
            &self.metrics.files,
            &self.traces.files,
            &self.logs.files,
            &self.metrics.tier_files,
        ] {
            let map = map.read().unwrap_or_else(|p| p.into_inner());
            for f in map.values().flatten() {
                keep.extend(f.entry.names().map(|n| f.dir.join(n)));
                for derived in partition::derived_paths(&f.entry.samples) {
                    keep.insert(f.dir.join(derived));
                }
            }
        }
        let io = |path: &std::path::Path| {
            let path = path.to_owned();
            move |source| Error::Io { path, source }
        };
        let mut dirs: Vec<PathBuf> = [Signal::Metrics, Signal::Traces, Signal::Logs]
            .iter()
            .map(|s| self.dir.join(s.dir()))
            .chain(
                tier_paths::tiers_on_disk(&self.dir)?
                    .into_iter()
                    .map(|res| self.dir.join(tier_paths::tier_root(res))),
            )
            .filter(|d| d.is_dir())
            .collect();
        while let Some(dir) = dirs.pop() {
            for e in std::fs::read_dir(&dir).map_err(io(&dir))? {
                let path = e.map_err(io(&dir))?.path();
                if path.is_dir() {
                    dirs.push(path);
                } else if !keep.contains(&path) {
                    std::fs::remove_file(&path).map_err(io(&path))?;
                }
            }
        }
        reader.cache.trim();
        Ok(())
    }

    /// The set held now whose data file is `key` (its path below the data directory, `/`
    /// separated), if any.
    pub(crate) fn set_of(&self, key: &str) -> Option<Arc<PartFile>> {
        let path = self.dir.join(key);
        for map in [
            &self.metrics.files,
            &self.traces.files,
            &self.logs.files,
            &self.metrics.tier_files,
        ] {
            let map = map.read().unwrap_or_else(|p| p.into_inner());
            if let Some(f) = map.values().flatten().find(|f| f.samples_path() == path) {
                return Some(f.clone());
            }
        }
        None
    }

    /// Adds a metrics series file's series to the tenant's index, as an open does.
    fn restore_series(&self, tenant: &crate::TenantId, path: &std::path::Path) -> Result<()> {
        let head = self.metrics.head(tenant);
        for (id, key) in parquet_io::read_series_keys(path)? {
            if !head.restore_series(id, key.bytes()) {
                return Err(Error::Io {
                    path: path.to_owned(),
                    source: std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!("series id {id} is stored for two label sets"),
                    ),
                });
            }
        }
        Ok(())
    }

    /// Opens the reader of `config`'s bucket over the data directory and loads what it
    /// publishes: the open fails if the bucket cannot be read.
    pub(crate) fn open_reader(
        dir: &std::path::Path,
        config: &crate::EngineConfig,
    ) -> Result<Option<Arc<Reader>>> {
        match &config.reader {
            Some(r) => Ok(Some(Arc::new(Reader::new(dir, r.clone())?))),
            None => Ok(None),
        }
    }
}
