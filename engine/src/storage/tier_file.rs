//! The data file of a downsampled tier's file set (`docs/formats/partitions.md`, "Tier
//! files"): one row per series and interval, sorted by (series_id, ts).
//!
//! Its first three columns are a samples file's (`series_id`, `ts`, `value`), holding the
//! interval's last sample, so every samples reader reads a tier file as the last samples
//! of its intervals; the columns after them summarise the interval
//! ([`crate::model::interval::Interval`]).

use std::fs::File;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use arrow::array::{Array, ArrayRef, Float64Array, TimestampMillisecondArray, UInt64Array};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::record_batch::RecordBatch;
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ParquetRecordBatchReaderBuilder};
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;

use crate::model::interval::{Interval, interval_end};
use crate::model::series::SeriesId;
use crate::storage::parquet_io::{DurableWriter, SAMPLES_PAGE_ROWS, bad, column};
use crate::storage::prune::{self, Wanted};
use crate::{Error, Result};

/// zstd level of a tier file: written once per day and tier, kept longest.
const TIER_ZSTD_LEVEL: i32 = 15;

/// Rows per batch handed to the writer.
pub(crate) const TIER_BATCH_ROWS: usize = 65_536;

fn ts_field(name: &str) -> Field {
    Field::new(
        name,
        DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
        false,
    )
}

/// The schema of a tier file. `first`, `min`, `max` and `sum` are null where they follow
/// from the other columns (most intervals), which keeps them out of the file: `first` is
/// `value` when null (the first sample's value is the last's), `min` and `max` the smaller
/// and the larger of `first` and `value` (a monotonic interval), `sum` `value × count` (a
/// constant one).
pub fn tier_schema() -> SchemaRef {
    let f = |name: &str, nullable| Field::new(name, DataType::Float64, nullable);
    Arc::new(Schema::new(vec![
        Field::new("series_id", DataType::UInt64, false),
        ts_field("ts"),
        f("value", false),
        ts_field("first_ts"),
        f("first", true),
        f("min", true),
        f("max", true),
        f("sum", true),
        Field::new("count", DataType::UInt64, false),
        f("correction", false),
    ]))
}

const FLOATS: [&str; 6] = ["value", "first", "min", "max", "sum", "correction"];

/// The stored form of an interval's `first`, `min`, `max` and `sum`: each left out (None)
/// where it follows from the others ([`tier_schema`]).
fn stored(r: &Interval) -> [Option<f64>; 4] {
    let keep = |v: f64, derived: f64| (v.to_bits() != derived.to_bits()).then_some(v);
    [
        keep(r.first, r.last),
        keep(r.min, r.first.min(r.last)),
        keep(r.max, r.first.max(r.last)),
        keep(r.sum, r.last * r.count as f64),
    ]
}

fn props() -> WriterProperties {
    let mut b = WriterProperties::builder()
        .set_data_page_row_count_limit(SAMPLES_PAGE_ROWS)
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(TIER_ZSTD_LEVEL).unwrap_or_default(),
        ))
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_dictionary_enabled(false)
        .set_column_encoding(ColumnPath::from("series_id"), Encoding::PLAIN)
        .set_column_encoding(ColumnPath::from("ts"), Encoding::DELTA_BINARY_PACKED)
        .set_column_encoding(ColumnPath::from("first_ts"), Encoding::DELTA_BINARY_PACKED)
        .set_column_encoding(ColumnPath::from("count"), Encoding::DELTA_BINARY_PACKED);
    for name in FLOATS {
        b = b.set_column_encoding(ColumnPath::from(name), Encoding::BYTE_STREAM_SPLIT);
    }
    b.build()
}

/// Writes a tier file: rows buffered and written [`TIER_BATCH_ROWS`] at a time.
pub(crate) struct TierWriter {
    w: DurableWriter,
    rows: Vec<(SeriesId, Interval)>,
    path: std::path::PathBuf,
    pub(crate) written: u64,
    pub(crate) min_ts: i64,
    pub(crate) max_ts: i64,
}

impl TierWriter {
    pub(crate) fn create(path: &Path) -> Result<Self> {
        Ok(Self {
            w: DurableWriter::create(path, tier_schema(), props())?,
            rows: Vec::with_capacity(TIER_BATCH_ROWS),
            path: path.to_owned(),
            written: 0,
            min_ts: i64::MAX,
            max_ts: i64::MIN,
        })
    }

    /// Adds one row; rows must come in (series_id, end) order.
    pub(crate) fn push(&mut self, id: SeriesId, row: Interval) -> Result<()> {
        self.min_ts = self.min_ts.min(row.first_ts);
        self.max_ts = self.max_ts.max(row.last_ts);
        self.rows.push((id, row));
        self.written += 1;
        if self.rows.len() >= TIER_BATCH_ROWS {
            self.write_batch()?;
        }
        Ok(())
    }

    fn write_batch(&mut self) -> Result<()> {
        let rows = std::mem::take(&mut self.rows);
        let ts = |f: fn(&Interval) -> i64| -> ArrayRef {
            Arc::new(
                TimestampMillisecondArray::from_iter_values(rows.iter().map(|r| f(&r.1)))
                    .with_timezone("UTC"),
            )
        };
        let fl = |f: fn(&Interval) -> f64| -> ArrayRef {
            Arc::new(Float64Array::from_iter_values(rows.iter().map(|r| f(&r.1))))
        };
        let kept: Vec<[Option<f64>; 4]> = rows.iter().map(|r| stored(&r.1)).collect();
        let opt = |i: usize| -> ArrayRef {
            Arc::new(kept.iter().map(|k| k[i]).collect::<Float64Array>())
        };
        let cols: Vec<ArrayRef> = vec![
            Arc::new(UInt64Array::from_iter_values(rows.iter().map(|r| r.0))),
            ts(|r| r.last_ts),
            fl(|r| r.last),
            ts(|r| r.first_ts),
            opt(0),
            opt(1),
            opt(2),
            opt(3),
            Arc::new(UInt64Array::from_iter_values(
                rows.iter().map(|r| r.1.count),
            )),
            fl(|r| r.correction),
        ];
        let batch = RecordBatch::try_new(tier_schema(), cols).map_err(|e| bad(&self.path, e))?;
        self.w.write(&batch)?;
        self.rows = rows;
        self.rows.clear();
        Ok(())
    }

    /// Writes what is buffered and makes the file durable; returns its size.
    pub(crate) fn finish(mut self) -> Result<u64> {
        if !self.rows.is_empty() {
            self.write_batch()?;
        }
        self.w.finish()
    }
}

/// Hands every row of a series in `ids` (sorted, distinct) whose last sample is in
/// `[start, end]` to `visit`, in file order (series, then time), reading only the row
/// groups and pages that can hold one. `res` is the tier's resolution.
pub(crate) fn read_intervals(
    path: &Path,
    meta: &OnceLock<ArrowReaderMetadata>,
    ids: &[SeriesId],
    (start, end): (i64, i64),
    res: i64,
    mut visit: impl FnMut(SeriesId, Interval),
) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let file = File::open(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })?;
    let w = Wanted { ids, start, end };
    let loaded = prune::metadata(&file, meta, path)?;
    let groups = prune::row_groups(&loaded, &w, path)?;
    if groups.is_empty() {
        return Ok(());
    }
    let mut builder = ParquetRecordBatchReaderBuilder::new_with_metadata(file, loaded.clone())
        .with_row_groups(groups.clone());
    if let Some(sel) = prune::page_selection(&loaded, &groups, &w, path)? {
        if !sel.selects_any() {
            return Ok(());
        }
        builder = builder.with_row_selection(sel);
    }
    for batch in builder.build().map_err(|e| bad(path, e))? {
        let b = batch.map_err(|e| bad(path, e))?;
        for (id, row) in rows_of(&b, res, path)? {
            if row.last_ts >= start && row.last_ts <= end && ids.binary_search(&id).is_ok() {
                visit(id, row);
            }
        }
    }
    Ok(())
}

/// The rows of a batch of a tier file of resolution `res`, the columns left out
/// ([`tier_schema`]) derived again.
fn rows_of(b: &RecordBatch, res: i64, path: &Path) -> Result<Vec<(SeriesId, Interval)>> {
    let u = |i| column::<UInt64Array>(b, i, path).map(|a| a.values().clone());
    let t = |i| column::<TimestampMillisecondArray>(b, i, path).map(|a| a.values().clone());
    let f = |i| column::<Float64Array>(b, i, path).map(|a| a.values().clone());
    let o = |i| column::<Float64Array>(b, i, path);
    let (sid, ts, last, first_ts) = (u(0)?, t(1)?, f(2)?, t(3)?);
    let (first, min, max, sum) = (o(4)?, o(5)?, o(6)?, o(7)?);
    let (count, correction) = (u(8)?, f(9)?);
    let at = |a: &Float64Array, r: usize| (!a.is_null(r)).then(|| a.value(r));
    Ok((0..b.num_rows())
        .map(|r| {
            let first_v = at(first, r).unwrap_or(last[r]);
            let row = Interval {
                end: interval_end(ts[r], res),
                resolution: res,
                first_ts: first_ts[r],
                first: first_v,
                last_ts: ts[r],
                last: last[r],
                min: at(min, r).unwrap_or(first_v.min(last[r])),
                max: at(max, r).unwrap_or(first_v.max(last[r])),
                sum: at(sum, r).unwrap_or(last[r] * count[r] as f64),
                count: count[r],
                correction: correction[r],
            };
            (sid[r], row)
        })
        .collect())
}

/// Every row of a tier file in file order, a batch at a time.
pub(crate) struct TierRows {
    reader: parquet::arrow::arrow_reader::ParquetRecordBatchReader,
    rows: std::vec::IntoIter<(SeriesId, Interval)>,
    next: Option<(SeriesId, Interval)>,
    res: i64,
    path: std::path::PathBuf,
}

impl TierRows {
    /// The rows of the tier file at `path`, of resolution `res`.
    pub(crate) fn open(path: &Path, res: i64) -> Result<Self> {
        let file = File::open(path).map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })?;
        let reader = ParquetRecordBatchReaderBuilder::try_new(file)
            .and_then(|b| b.with_batch_size(8192).build())
            .map_err(|e| bad(path, e))?;
        let mut it = Self {
            reader,
            rows: Vec::new().into_iter(),
            next: None,
            res,
            path: path.to_owned(),
        };
        it.advance()?;
        Ok(it)
    }

    /// The next row, not taken.
    pub(crate) fn peek(&self) -> Option<&(SeriesId, Interval)> {
        self.next.as_ref()
    }

    /// Takes the next row.
    pub(crate) fn take(&mut self) -> Result<Option<(SeriesId, Interval)>> {
        let out = self.next.take();
        self.advance()?;
        Ok(out)
    }

    fn advance(&mut self) -> Result<()> {
        loop {
            if let Some(r) = self.rows.next() {
                self.next = Some(r);
                return Ok(());
            }
            let Some(b) = self.reader.next() else {
                self.next = None;
                return Ok(());
            };
            let b = b.map_err(|e| bad(&self.path, e))?;
            self.rows = rows_of(&b, self.res, &self.path)?.into_iter();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::interval::summarise;

    #[test]
    fn rows_read_back_as_written_and_as_last_samples() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("samples-1-t.parquet");
        let mut w = TierWriter::create(&path).unwrap();
        let mut want = Vec::new();
        for id in [3u64, 9, 12] {
            let mut rows = Vec::new();
            summarise(
                (1..=100).map(|i| (i * 15_000, (id * 1_000 + i as u64) as f64)),
                300_000,
                &mut rows,
            );
            for r in rows {
                w.push(id, r).unwrap();
                want.push((id, r));
            }
        }
        w.finish().unwrap();
        let mut got = Vec::new();
        read_intervals(
            &path,
            &OnceLock::new(),
            &[3, 12],
            (0, i64::MAX),
            300_000,
            |id, r| got.push((id, r)),
        )
        .unwrap();
        let expect: Vec<_> = want.iter().copied().filter(|(id, _)| *id != 9).collect();
        assert_eq!(got, expect);
        // A samples reader sees (series_id, ts, value) = the last samples.
        let mut n = 0;
        crate::metrics::scan::read_samples(
            &path,
            &[9],
            0,
            i64::MAX,
            &mut Default::default(),
            |id, s| {
                assert_eq!(id, 9);
                assert_eq!(s.value, 9_000.0 + (s.ts / 15_000) as f64);
                n += 1;
            },
        )
        .unwrap();
        assert_eq!(n, want.iter().filter(|(id, _)| *id == 9).count());
    }
}
