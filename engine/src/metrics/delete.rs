//! Deleting samples from a committed file set: the set is written again without them,
//! under new names, and the manifest swap that commits a compaction commits it
//! (`lifecycle/delete.rs`). A set holds only the series it has samples of: a series whose
//! samples all go leaves the new set's series table and index too.
//!
//! The new set keeps the old one's `flush` (and `flushes`), so it takes the old one's
//! place in the order readers merge sets in. Its names carry a token (`d<16 hex>`), so they
//! never meet a name used before (`docs/formats/partitions.md`, "Deletes"), and end in
//! `-c.parquet`, or `-cold.parquet` for a cold set: it is written in the old set's layout,
//! at least compaction's, so compaction has no reason to rewrite it alone.

use std::path::Path;

use arrow::array::{Float64Array, TimestampMillisecondArray, UInt64Array};

use crate::Matcher;
use crate::Result;
use crate::metrics::files::MetricsFile;
use crate::metrics::index::PartIndex;
use crate::metrics::scan::{ScanStats, read_samples_cached};
use crate::model::series::SeriesId;
use crate::storage::histograms::merge::{Input, rewrite_files};
use crate::storage::histograms::read::read_histograms;
use crate::storage::parquet_io::{self, DurableWriter, WrittenBy, column};
use crate::storage::partition::{FileEntry, PartFile};

/// Rows per batch handed to the writer.
const OUT_BATCH: usize = 64 * 1024;

/// The ids, sorted, of the series in `part` that pass every matcher (by its index).
pub(crate) fn matching_ids(part: &PartFile, matchers: &[Matcher]) -> Result<Vec<SeriesId>> {
    let rows = part.index(&mut 0)?.select(matchers);
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let all = part.series_ids(&mut 0)?;
    let mut ids: Vec<SeriesId> = rows
        .iter()
        .filter_map(|r| all.get(r as usize).copied())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}

/// How many samples of the series `ids` (sorted) `part` holds in `[start, end]`, reading
/// only the pages that can hold one.
pub(crate) fn count_samples(
    part: &PartFile,
    ids: &[SeriesId],
    start: i64,
    end: i64,
) -> Result<u64> {
    let mut n = 0u64;
    read_samples_cached(
        &part.samples_path(),
        &part.samples_meta,
        None,
        ids,
        start,
        end,
        &mut ScanStats::default(),
        |_, ts, _| n += ts.len() as u64,
    )?;
    if let Some(path) = part.histograms_path() {
        let buckets = part.histogram_buckets_path();
        n += read_histograms(&path, buckets.as_deref(), ids, start, end, |_, _| {})?.samples;
    }
    Ok(n)
}

/// The set a rewrite wrote, and what it left out.
#[derive(Debug)]
pub(crate) struct Rewritten {
    /// The new set's entry; `None` when no sample was left (nothing written).
    pub(crate) entry: Option<FileEntry>,
    /// Samples left out.
    pub(crate) deleted: u64,
}

/// Writes `part`'s set again without the samples (floats and native histograms) of the
/// series `ids` (sorted) in `[start, end]`, durably, as a set named by `token` in the same directory, listed
/// nowhere yet: see the module docs.
pub(crate) fn rewrite_without(
    part: &PartFile,
    ids: &[SeriesId],
    (start, end): (i64, i64),
    token: &str,
) -> Result<Rewritten> {
    let flush = part.entry.flush;
    let by = part.entry.layout().max(WrittenBy::Compaction);
    let s = by.suffix();
    let mut entry = FileEntry {
        flush,
        samples: format!("samples-{flush}-d{token}{s}.parquet"),
        series: format!("series-{flush}-d{token}{s}.parquet"),
        index: format!("index-{flush}-d{token}{s}.parquet"),
        exemplars: String::new(),
        histograms: String::new(),
        histogram_rows: 0,
        histogram_buckets: String::new(),
        histogram_bucket_rows: 0,
        rows: 0,
        min_ts: i64::MAX,
        max_ts: i64::MIN,
        bytes: 0,
        flushes: part.entry.flushes,
    };
    let out = part.dir.join(&entry.samples);
    let src = part.samples_path();
    let mut writer: Option<DurableWriter> = None;
    let mut kept: (Vec<SeriesId>, Vec<i64>, Vec<f64>) = Default::default();
    // The series left, in id order (rows are sorted by id).
    let mut present: Vec<SeriesId> = Vec::new();
    let mut deleted = 0u64;
    for batch in parquet_io::open_batches(&src)? {
        let batch = batch?;
        let id_col = column::<UInt64Array>(&batch, 0, &src)?.values();
        let ts_col = column::<TimestampMillisecondArray>(&batch, 1, &src)?.values();
        let values = column::<Float64Array>(&batch, 2, &src)?.values();
        for r in 0..batch.num_rows() {
            let (id, ts) = (id_col[r], ts_col[r]);
            if (start..=end).contains(&ts) && ids.binary_search(&id).is_ok() {
                deleted += 1;
                continue;
            }
            if present.last() != Some(&id) {
                present.push(id);
            }
            entry.min_ts = entry.min_ts.min(ts);
            entry.max_ts = entry.max_ts.max(ts);
            entry.rows += 1;
            kept.0.push(id);
            kept.1.push(ts);
            kept.2.push(values[r]);
            if kept.0.len() >= OUT_BATCH {
                write_rows(&mut writer, &out, by, std::mem::take(&mut kept))?;
            }
        }
    }
    if !kept.0.is_empty() {
        write_rows(&mut writer, &out, by, kept)?;
    }
    // The set's native histograms, rewritten with the same predicate.
    if let Some(histograms) = part.histograms_path() {
        let input = Input {
            histograms,
            buckets: part.histogram_buckets_path(),
        };
        let name = format!("histograms-{flush}-d{token}{s}.parquet");
        let buckets = format!("histogram_buckets-{flush}-d{token}{s}.parquet");
        let done = rewrite_files(
            &input,
            &part.dir.join(&name),
            &part.dir.join(&buckets),
            by,
            |id, ts| {
                let keep = !((start..=end).contains(&ts) && ids.binary_search(&id).is_ok());
                if keep && present.last() != Some(&id) {
                    present.push(id);
                }
                keep
            },
        )?;
        let kept = done.histograms.map_or(0, |h| h.rows_out);
        deleted += part.entry.histogram_rows.saturating_sub(kept);
        if let Some(h) = done.histograms {
            entry.histograms = name;
            entry.histogram_rows = h.rows_out;
            entry.bytes += h.bytes;
            entry.min_ts = entry.min_ts.min(h.min_ts);
            entry.max_ts = entry.max_ts.max(h.max_ts);
        }
        if let Some(b) = done.buckets {
            entry.histogram_buckets = buckets;
            entry.histogram_bucket_rows = b.rows_out;
            entry.bytes += b.bytes;
        }
        present.sort_unstable();
        present.dedup();
    }
    let writer = match writer {
        Some(w) => w,
        // Histograms only: the set keeps an empty samples file, as a flush writes one.
        None if !entry.histograms.is_empty() => parquet_io::samples_writer(&out, by)?,
        None => {
            return Ok(Rewritten {
                entry: None,
                deleted,
            });
        }
    };
    entry.bytes += writer.finish()?;
    let defs: Vec<_> = parquet_io::read_series_keys(&part.series_path())?
        .into_iter()
        .filter(|(id, _)| present.binary_search(id).is_ok())
        .collect();
    entry.bytes += parquet_io::write_series(&part.dir.join(&entry.series), &defs)?;
    entry.bytes += PartIndex::build(&defs).write(&part.dir.join(&entry.index))?;
    Ok(Rewritten {
        entry: Some(entry),
        deleted,
    })
}

/// Writes the rows `(ids, ts, values)` to the samples file `out`, created on first use in
/// layout `by`.
fn write_rows(
    writer: &mut Option<DurableWriter>,
    out: &Path,
    by: WrittenBy,
    (ids, ts, values): (Vec<SeriesId>, Vec<i64>, Vec<f64>),
) -> Result<()> {
    let w = match writer {
        Some(w) => w,
        None => writer.insert(parquet_io::samples_writer(out, by)?),
    };
    w.write(&parquet_io::samples_batch(ids, ts, values, out)?)
}
