//! What metrics keep of a committed file set once read: its inverted index and its series
//! ids in series-table order, loaded on first use and kept while the set is held (in the
//! set's [`PartFile::derived`] slot).

use std::fs;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use crate::Result;
use crate::metrics::index::PartIndex;
use crate::model::series::SeriesId;
use crate::storage::histograms::read::Footers;
use crate::storage::parquet_io::read_series_ids;
use crate::storage::partition::PartFile;

/// A metrics set's derived state.
#[derive(Default)]
pub(crate) struct MetricsDerived {
    index: OnceLock<Arc<PartIndex>>,
    series_ids: OnceLock<Arc<Vec<SeriesId>>>,
    /// Footers and page indexes of the set's histograms files.
    hist_footers: Footers,
}

/// The metrics reads of a committed file set.
pub(crate) trait MetricsFile {
    /// The set's inverted index, read on first use; `read_bytes` counts a read from disk.
    fn index(&self, read_bytes: &mut u64) -> Result<Arc<PartIndex>>;
    /// The set's series ids in series-table order, read on first use.
    fn series_ids(&self, read_bytes: &mut u64) -> Result<Arc<Vec<SeriesId>>>;
    /// The footers of the set's histograms files, loaded on first read (`None` only if
    /// the set's derived slot holds another signal's state).
    fn hist_footers(&self) -> Option<&Footers>;
}

impl MetricsFile for PartFile {
    fn index(&self, read_bytes: &mut u64) -> Result<Arc<PartIndex>> {
        let slot = self.derived::<MetricsDerived>().map(|d| &d.index);
        cached(slot, &self.index_path(), read_bytes, PartIndex::read)
    }

    fn series_ids(&self, read_bytes: &mut u64) -> Result<Arc<Vec<SeriesId>>> {
        let slot = self.derived::<MetricsDerived>().map(|d| &d.series_ids);
        cached(slot, &self.series_path(), read_bytes, read_series_ids)
    }

    fn hist_footers(&self) -> Option<&Footers> {
        self.derived::<MetricsDerived>().map(|d| &d.hist_footers)
    }
}

/// What `slot` holds, or `read` of `path` (kept in `slot` when there is one; its size
/// counted in `read_bytes`).
fn cached<T>(
    slot: Option<&OnceLock<Arc<T>>>,
    path: &Path,
    read_bytes: &mut u64,
    read: impl FnOnce(&Path) -> Result<T>,
) -> Result<Arc<T>> {
    if let Some(v) = slot.and_then(OnceLock::get) {
        return Ok(v.clone());
    }
    let value = Arc::new(read(path)?);
    *read_bytes += fs::metadata(path).map_or(0, |m| m.len());
    Ok(match slot {
        Some(slot) => slot.get_or_init(|| value).clone(),
        None => value,
    })
}
