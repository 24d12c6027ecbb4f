//! A writer whose local copies of mirrored data files are a bounded cache
//! (`RemoteConfig::cache_bytes`): once a manifest in the bucket names a set's data file,
//! the set is marked as in the bucket ([`PartFile::set_remote`]) and its local copy joins
//! the cache, which evicts the least recently used past its bound. A read, a compaction
//! or a filter build of an evicted set fetches it back first (`PartFile::ensure_data`).
//! Sets not mirrored yet are never evicted, so nothing exists only in memory or nowhere.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use tracing::warn;

use crate::lifecycle::Core;
use crate::storage::partition::PartFile;

impl Core {
    /// Marks the sets whose data files the mirror found in the bucket since the last call,
    /// and brings the cache within its bound. Cheap when there is nothing new.
    pub(crate) fn adopt_mirrored(&self) {
        let Some(remote) = &self.remote else { return };
        let Some(cache) = &remote.cache else { return };
        let mirrored = remote.take_mirrored();
        if !mirrored.is_empty() {
            let sizes: HashMap<PathBuf, u64> = mirrored
                .into_iter()
                .map(|(key, size)| (self.dir.join(key), size))
                .collect();
            for map in [&self.metrics.files, &self.traces.files, &self.logs.files] {
                let parts: Vec<Arc<PartFile>> = map
                    .read()
                    .unwrap_or_else(|p| p.into_inner())
                    .values()
                    .flatten()
                    .filter(|f| !f.is_remote())
                    .cloned()
                    .collect();
                for part in parts {
                    if let Some(&len) = sizes.get(&part.samples_path())
                        && part.set_remote(cache.clone(), len)
                    {
                        // A copy evicted before a restart is fetched when read.
                        cache.adopt(&part, len);
                    }
                }
            }
        }
        cache.trim();
    }

    /// At open, when local copies are a cache and some set's data file is not on the disk
    /// (evicted before the restart): a mirror pass now, so those sets are marked as in
    /// the bucket before anything reads them. If the bucket cannot be reached, they stay
    /// unreadable until a later pass (logged).
    pub(crate) fn find_evicted(&self) {
        let Some(remote) = &self.remote else { return };
        if remote.cache.is_none() {
            return;
        }
        let missing = [&self.metrics.files, &self.traces.files, &self.logs.files]
            .iter()
            .any(|m| {
                m.read()
                    .unwrap_or_else(|p| p.into_inner())
                    .values()
                    .flatten()
                    .any(|f| !f.samples_path().exists())
            });
        if missing {
            if let Err(e) = remote.sync_now() {
                warn!(error = %e, "evicted data files cannot be marked as in the bucket yet: reading them fails until a mirror pass succeeds");
            }
            self.adopt_mirrored();
        }
    }
}
