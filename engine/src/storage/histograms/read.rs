//! Reading one set's histograms file and bucket file for a set of series and a time range,
//! decoding only the row groups and pages that can hold them ([`crate::storage::prune`],
//! as the samples reader): both files are pruned alike and read side by side, series by
//! series ([`super::assemble`]).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use arrow::array::RecordBatch;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder,
};

use super::assemble::assemble_series;
use super::buckets::{BucketColumns, BucketRow};
use super::rows::Columns;
use crate::model::histogram::{Histogram, HistogramSample};
use crate::model::series::SeriesId;
use crate::storage::parquet_io::bad;
use crate::storage::prune::{self, Wanted};
use crate::{Error, Result};

/// Rows per decoded batch: a bucket file's page, so a one-series read is a batch or two
/// and a wide one pays the per-batch costs a sixteenth as often as at the default 1,024.
const READ_BATCH: usize = super::BUCKETS_PAGE_ROWS;

/// What a read decoded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ReadStats {
    /// Histograms file rows decoded (whole selected pages).
    pub(crate) rows_decoded: u64,
    /// Bucket file rows decoded (whole selected pages).
    pub(crate) bucket_rows_decoded: u64,
    /// Samples handed to the caller.
    pub(crate) samples: u64,
}

/// The footers and page indexes of one set's two files, loaded on first use, so a file
/// set read again skips them.
#[derive(Debug, Default)]
pub(crate) struct Footers {
    histograms: OnceLock<ArrowReaderMetadata>,
    buckets: OnceLock<ArrowReaderMetadata>,
}

/// Hands every histogram sample of a series in `ids` (sorted, distinct) with `ts` in
/// `[start, end]` to `visit`, in file order (series, then time), reassembled from the
/// histograms file at `path` and the bucket file at `buckets` (`None`: the set has none,
/// so no sample may have a bucket).
pub(crate) fn read_histograms(
    path: &Path,
    buckets: Option<&Path>,
    ids: &[SeriesId],
    start: i64,
    end: i64,
    visit: impl FnMut(SeriesId, HistogramSample),
) -> Result<ReadStats> {
    read_histograms_cached(path, buckets, &Footers::default(), ids, start, end, visit)
}

/// [`read_histograms`], taking the files' footers and page indexes from `footers`.
pub(crate) fn read_histograms_cached(
    path: &Path,
    buckets: Option<&Path>,
    footers: &Footers,
    ids: &[SeriesId],
    start: i64,
    end: i64,
    mut visit: impl FnMut(SeriesId, HistogramSample),
) -> Result<ReadStats> {
    let mut stats = ReadStats::default();
    if ids.is_empty() || start > end {
        return Ok(stats);
    }
    let Some(reader) = pruned(path, &footers.histograms, ids, start, end)? else {
        return Ok(stats);
    };
    let mut cursor = Cursor {
        reader: match buckets {
            Some(b) => pruned(b, &footers.buckets, ids, start, end)?,
            None => None,
        },
        path: buckets.unwrap_or(path).to_owned(),
        batch: RecordBatch::new_empty(super::buckets_schema()),
        pos: 0,
        decoded: 0,
    };
    let mut pending: Option<(SeriesId, Vec<(i64, Histogram)>)> = None;
    let mut rows: Vec<BucketRow> = Vec::new();
    let mut emit = |cursor: &mut Cursor, id: SeriesId, heads: Vec<(i64, Histogram)>| {
        rows.clear();
        cursor.take(Some(id), ids, start, end, &mut rows)?;
        assemble_series(id, heads, &mut rows, &cursor.path, &mut visit)
    };
    for batch in reader {
        let batch = batch.map_err(|e| bad(path, e))?;
        stats.rows_decoded += batch.num_rows() as u64;
        let c = Columns::of(&batch, path)?;
        let (id_col, ts_col) = (c.ids.values(), c.ts.values());
        // Each wanted series' rows in the range are one run of the sorted rows.
        let mut from = 0;
        while from < id_col.len() {
            let id = id_col[from];
            let to = from + id_col[from..].partition_point(|&x| x == id);
            if ids.binary_search(&id).is_ok() {
                let run = &ts_col[from..to];
                let lo = from + run.partition_point(|&t| t < start);
                let hi = from + run.partition_point(|&t| t <= end);
                if pending.as_ref().is_some_and(|(p, _)| *p != id)
                    && let Some((p, heads)) = pending.take()
                {
                    emit(&mut cursor, p, heads)?;
                }
                let (_, heads) = pending.get_or_insert_with(|| (id, Vec::new()));
                for i in lo..hi {
                    heads.push((ts_col[i], c.head(i)?));
                }
                stats.samples += (hi - lo) as u64;
            }
            from = to;
        }
    }
    if let Some((p, heads)) = pending.take() {
        emit(&mut cursor, p, heads)?;
    }
    // The rest of the selection: no wanted series' row in the range may be left.
    cursor.take(None, ids, start, end, &mut rows)?;
    stats.bucket_rows_decoded = cursor.decoded;
    Ok(stats)
}

/// The bucket file's selected rows, consumed series by series.
struct Cursor {
    reader: Option<ParquetRecordBatchReader>,
    path: PathBuf,
    batch: RecordBatch,
    pos: usize,
    decoded: u64,
}

impl Cursor {
    /// Appends series `id`'s rows with ts in `[start, end]` to `out`, passing the rows
    /// before them (`None`: passes all the rest); a row of another wanted series in the
    /// range met on the way has no histogram (its series' turn is over or never came): an
    /// error.
    fn take(
        &mut self,
        id: Option<SeriesId>,
        ids: &[SeriesId],
        start: i64,
        end: i64,
        out: &mut Vec<BucketRow>,
    ) -> Result<()> {
        loop {
            if self.pos >= self.batch.num_rows() {
                let Some(reader) = &mut self.reader else {
                    return Ok(());
                };
                let Some(batch) = reader.next() else {
                    return Ok(());
                };
                self.batch = batch.map_err(|e| bad(&self.path, e))?;
                self.decoded += self.batch.num_rows() as u64;
                self.pos = 0;
                continue;
            }
            let c = BucketColumns::of(&self.batch, &self.path)?;
            let (id_col, ts_col) = (c.ids.values(), c.ts.values());
            // A run of one series' rows at a time.
            while self.pos < id_col.len() {
                let rid = id_col[self.pos];
                if id.is_some_and(|id| rid > id) {
                    return Ok(());
                }
                let to = self.pos + id_col[self.pos..].partition_point(|&x| x == rid);
                let run = self.pos..to;
                self.pos = to;
                if Some(rid) == id {
                    c.rows_in(run, (start, end), out);
                } else if ids.binary_search(&rid).is_ok()
                    && let Some(t) = ts_col[run].iter().find(|&&t| t >= start && t <= end)
                {
                    return Err(bad(
                        &self.path,
                        format!(
                            "histogram of series {rid} at {t}: bucket rows without a histogram"
                        ),
                    ));
                }
            }
        }
    }
}

/// A reader of the rows of the file at `path` (histograms or bucket file) in row groups
/// and pages that can hold a series of `ids` in `[start, end]`; `None` if none can. The
/// footer and page index come from `meta` (loaded into it on first use).
fn pruned(
    path: &Path,
    meta: &OnceLock<ArrowReaderMetadata>,
    ids: &[SeriesId],
    start: i64,
    end: i64,
) -> Result<Option<ParquetRecordBatchReader>> {
    let file = File::open(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })?;
    let w = Wanted { ids, start, end };
    let loaded = prune::metadata(&file, meta, path)?;
    let groups = prune::row_groups(&loaded, &w, path)?;
    if groups.is_empty() {
        return Ok(None);
    }
    let selection = prune::page_selection(&loaded, &groups, &w, path)?;
    let mut builder = ParquetRecordBatchReaderBuilder::new_with_metadata(file, loaded)
        .with_row_groups(groups)
        .with_batch_size(READ_BATCH);
    if let Some(selection) = selection {
        if !selection.selects_any() {
            return Ok(None);
        }
        builder = builder.with_row_selection(selection);
    }
    builder.build().map(Some).map_err(|e| bad(path, e))
}
