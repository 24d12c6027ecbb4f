//! Reading one set's histograms file and bucket file for a set of series and a time range,
//! decoding only the row groups and pages that can hold them ([`crate::storage::prune`],
//! as the samples reader): both files are pruned alike and read side by side, series by
//! series ([`super::assemble`]).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use arrow::array::RecordBatch;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder,
};

use super::assemble::assemble_series;
use super::buckets::BucketColumns;
use super::gathered::Gathered;
use super::repeat;
use super::rows::{Columns, Lists, ListsAt};
use crate::model::histogram::{Counts, Histogram, HistogramRun, HistogramSample, RunCounts};
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

/// What a read hands over for a series: a sample, or (in runs mode) a run of samples of one
/// layout.
#[derive(Debug)]
pub(crate) enum Read {
    /// One histogram sample.
    Sample(HistogramSample),
    /// Samples of one layout, column by column.
    Run(Box<HistogramRun>),
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
    mut visit: impl FnMut(SeriesId, HistogramSample),
) -> Result<ReadStats> {
    let footers = Footers::default();
    let w = (ids, start, end);
    read_histograms_cached(path, buckets, &footers, w, false, |id, r| match r {
        Read::Sample(s) => visit(id, s),
        Read::Run(r) => r.samples().for_each(|s| visit(id, s)),
    })
}

/// A series' samples gathered from the histograms file: histograms without their bucket
/// counts, or (while each row is well formed) runs of one layout each without them, a new
/// run where the layout changes. Runs filled from the bucket rows (the common case) go out
/// whole or as their samples; anything else is reassembled sample by sample.
enum Pending {
    Heads(Vec<(i64, Histogram)>),
    Runs(Vec<HistogramRun>),
}

impl Pending {
    /// One histogram each.
    fn into_heads(self) -> Vec<(i64, Histogram)> {
        match self {
            Self::Heads(h) => h,
            Self::Runs(mut runs) => runs
                .iter_mut()
                .flat_map(|r| {
                    // Without bucket counts, which the walk fills in.
                    match &mut r.counts {
                        RunCounts::Int { buckets, .. } => buckets.clear(),
                        RunCounts::Float { buckets, .. } => buckets.clear(),
                    }
                    r.samples().collect::<Vec<_>>()
                })
                .map(|s| (s.ts, Arc::unwrap_or_clone(s.h)))
                .collect(),
        }
    }
}

/// [`read_histograms`] over `(ids, start, end)`, taking the files' footers and page
/// indexes from `footers`; with `want_runs`, a series' samples in the set come as a
/// [`Read::Run`] per stretch of one layout, without a histogram per sample.
pub(crate) fn read_histograms_cached(
    path: &Path,
    buckets: Option<&Path>,
    footers: &Footers,
    (ids, start, end): (&[SeriesId], i64, i64),
    want_runs: bool,
    mut visit: impl FnMut(SeriesId, Read),
) -> Result<ReadStats> {
    let mut stats = ReadStats::default();
    if ids.is_empty() || start > end {
        return Ok(stats);
    }
    let w = Wanted { ids, start, end };
    let Some(reader) = pruned(path, &footers.histograms, &w, HISTOGRAM_COUNTS)? else {
        return Ok(stats);
    };
    let mut cursor = Cursor {
        reader: match buckets {
            Some(b) => pruned(b, &footers.buckets, &w, BUCKET_COUNTS)?,
            None => None,
        },
        path: buckets.unwrap_or(path).to_owned(),
        batch: RecordBatch::new_empty(super::buckets_schema()),
        pos: 0,
        decoded: 0,
    };
    let mut pending: Option<(SeriesId, Pending)> = None;
    let mut rows = Gathered::default();
    let mut emit = |cursor: &mut Cursor, id: SeriesId, p: Pending| {
        rows.clear();
        cursor.take(Some(id), ids, start, end, &mut rows)?;
        let heads = match p {
            Pending::Heads(h) => h,
            Pending::Runs(mut runs) => {
                if rows.fill_runs(&mut runs) {
                    for run in runs {
                        if want_runs {
                            visit(id, Read::Run(Box::new(run)));
                        } else {
                            run.samples().for_each(|s| visit(id, Read::Sample(s)));
                        }
                    }
                    return Ok(());
                }
                Pending::Runs(runs).into_heads()
            }
        };
        assemble_series(id, heads, &mut rows.rows(), &cursor.path, &mut |id, s| {
            visit(id, Read::Sample(s))
        })
    };
    // The lists of the last series of the batch before, which its rows in the next may
    // repeat ([`super::repeat`]).
    let mut carry: Option<(SeriesId, Lists)> = None;
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
                let mut at = lists_before(&c, (from, lo), id, &carry);
                if pending.is_none() {
                    let p = if lo < hi {
                        let first = if c.repeats(lo) {
                            at
                        } else {
                            Some(ListsAt::Row(lo))
                        };
                        start_pending(&c, lo, first)?
                    } else {
                        Pending::Heads(Vec::new())
                    };
                    pending = Some((id, p));
                }
                if let Some((_, p)) = &mut pending {
                    for i in lo..hi {
                        if !c.repeats(i) {
                            at = Some(ListsAt::Row(i));
                        }
                        add_row(&c, i, at, p)?;
                    }
                }
                stats.samples += (hi - lo) as u64;
            }
            from = to;
        }
        carry = carried(&c, id_col, carry)?;
    }
    if let Some((p, heads)) = pending.take() {
        emit(&mut cursor, p, heads)?;
    }
    // The rest of the selection: no wanted series' row in the range may be left.
    cursor.take(None, ids, start, end, &mut rows)?;
    stats.bucket_rows_decoded = cursor.decoded;
    Ok(stats)
}

/// Where the lists of series `id`'s rows from row `lo` on stand before it (its rows in
/// the batch start at `from`): its last row in `from..lo` with lists of its own, else the
/// lists carried from the batch before when the series' rows open this batch.
fn lists_before<'l>(
    c: &Columns<'_>,
    (from, lo): (usize, usize),
    id: SeriesId,
    carry: &'l Option<(SeriesId, Lists)>,
) -> Option<ListsAt<'l>> {
    (from..lo)
        .rev()
        .find(|&i| !c.repeats(i))
        .map(ListsAt::Row)
        .or(match carry {
            Some((cid, l)) if from == 0 && *cid == id => Some(ListsAt::Carried(l)),
            _ => None,
        })
}

/// The lists the next batch's first rows may repeat: those of the last series of this
/// batch (`ids`: its series column), from its last row with lists of its own or, when it
/// has none here, still `carry`'s if the series was carried in.
fn carried(
    c: &Columns<'_>,
    ids: &[SeriesId],
    carry: Option<(SeriesId, Lists)>,
) -> Result<Option<(SeriesId, Lists)>> {
    let Some(&id) = ids.last() else {
        return Ok(carry);
    };
    let first = ids.len() - ids.iter().rev().take_while(|&&x| x == id).count();
    match (first..ids.len()).rev().find(|&i| !c.repeats(i)) {
        Some(j) => Ok(Some((id, c.lists(j)?))),
        None => Ok(carry.filter(|(cid, _)| first == 0 && *cid == id)),
    }
}

/// What a series' samples gather into, its first row being row `i` (its lists at `at`):
/// runs (when the row is well formed), or histograms.
fn start_pending(c: &Columns<'_>, i: usize, at: Option<ListsAt<'_>>) -> Result<Pending> {
    Ok(match new_run(c, i, at)? {
        Some(run) => Pending::Runs(vec![run]),
        None => Pending::Heads(Vec::new()),
    })
}

/// An empty run of row `i`'s layout (its lists at `at`); `None` if the row is not well
/// formed.
fn new_run(c: &Columns<'_>, i: usize, at: Option<ListsAt<'_>>) -> Result<Option<HistogramRun>> {
    let layout = c.head(i, at)?;
    if !c.same_layout(i, &layout) {
        return Ok(None);
    }
    let counts = match layout.counts {
        Counts::Int { .. } => RunCounts::Int {
            count: Vec::new(),
            zero: Vec::new(),
            buckets: Vec::new(),
        },
        Counts::Float { .. } => RunCounts::Float {
            count: Vec::new(),
            zero: Vec::new(),
            buckets: Vec::new(),
        },
    };
    Ok(Some(HistogramRun {
        layout,
        ts: Vec::new(),
        reset_hints: Vec::new(),
        sums: Vec::new(),
        counts,
    }))
}

/// Adds row `i` (its lists at `at`) to `p`, which holds the previous row of its series if
/// any: to the last run while the row shares its layout, to a new run where the layout
/// changes, or (a row not well formed turns the runs into histograms) as a histogram.
fn add_row(c: &Columns<'_>, i: usize, at: Option<ListsAt<'_>>, p: &mut Pending) -> Result<()> {
    if let Pending::Runs(runs) = p {
        if let Some(run) = runs.last_mut()
            && c.same_layout(i, &run.layout)
        {
            c.append_to(i, run);
            return Ok(());
        }
        if let Some(mut run) = new_run(c, i, at)? {
            c.append_to(i, &mut run);
            runs.push(run);
            return Ok(());
        }
        let heads = std::mem::replace(p, Pending::Heads(Vec::new())).into_heads();
        *p = Pending::Heads(heads);
    }
    if let Pending::Heads(heads) = p {
        heads.push((c.ts.value(i), c.head(i, at)?));
    }
    Ok(())
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
        out: &mut Gathered,
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
                    out.take(&c, run, (start, end));
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

/// The histograms file's count columns, one of each pair null in every row of a kind.
const HISTOGRAM_COUNTS: &[&str] = &[
    "count_int",
    "count_float",
    "zero_count_int",
    "zero_count_float",
];
/// The bucket file's count columns.
const BUCKET_COUNTS: &[&str] = &["count", "count_float"];

/// A reader of the rows of the file at `path` (histograms or bucket file) in row groups
/// and pages that can hold a series of `w` in its range; `None` if none can. The footer
/// and page index come from `meta` (loaded into it on first use). Of the columns named in
/// `counts`, those all null in every row group read are left out ([`super::nullable`]).
///
/// A histograms file of version 2 that can hold a wanted row in range is then read by
/// series only: a series' later rows may repeat the lists of its first
/// ([`super::repeat`]), so its rows are read from the first.
fn pruned(
    path: &Path,
    meta: &OnceLock<ArrowReaderMetadata>,
    w: &Wanted<'_>,
    counts: &[&str],
) -> Result<Option<ParquetRecordBatchReader>> {
    let file = File::open(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })?;
    let loaded = prune::metadata(&file, meta, path)?;
    let mut groups = prune::row_groups(&loaded, w, path)?;
    if groups.is_empty() {
        return Ok(None);
    }
    let mut selection = prune::page_selection(&loaded, &groups, w, path)?;
    if selection.as_ref().is_some_and(|s| !s.selects_any()) {
        return Ok(None);
    }
    if counts == HISTOGRAM_COUNTS && repeat::version(loaded.metadata().file_metadata(), path)? >= 2
    {
        // Some wanted row is in range: read its series whole.
        let whole = Wanted {
            ids: w.ids,
            start: i64::MIN,
            end: i64::MAX,
        };
        groups = prune::row_groups(&loaded, &whole, path)?;
        selection = prune::page_selection(&loaded, &groups, &whole, path)?;
    }
    let projection = super::nullable::projection(&loaded, &groups, counts);
    let mut builder = ParquetRecordBatchReaderBuilder::new_with_metadata(file, loaded)
        .with_row_groups(groups)
        .with_batch_size(READ_BATCH);
    if let Some(mask) = projection {
        builder = builder.with_projection(mask);
    }
    if let Some(selection) = selection {
        builder = builder.with_row_selection(selection);
    }
    builder.build().map(Some).map_err(|e| bad(path, e))
}
