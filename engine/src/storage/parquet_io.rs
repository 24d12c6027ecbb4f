//! Reading and writing the Parquet files of a partition.
//!
//! Samples: `series_id UInt64, ts Timestamp(ms, UTC), value Float64`, sorted by
//! (series_id, ts); timestamps delta-encoded, values byte-stream-split, zstd, page-level
//! statistics and the page index, so a reader can skip to one series' pages; compacted
//! files use a higher zstd level, and cold ones (partitions older than `cold_after`) the
//! densest settings ([`WrittenBy`]).
//! Series: `series_id UInt64, metric Utf8, labels Map<Utf8, Utf8>` (all labels but
//! `__name__`), sorted by series_id. Both are plain Parquet that DuckDB and pyarrow read.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, Float64Array, MapArray, MapBuilder, StringArray, StringBuilder,
    TimestampMillisecondArray, UInt64Array,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::record_batch::RecordBatch;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::{ArrowSchemaConverter, ArrowWriter, ProjectionMask};
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::file::metadata::SortingColumn;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::ColumnPath;

use crate::model::series::SeriesId;
use crate::model::series_key::{LabelPairs, SeriesKey};
use crate::storage::fs::sync_dir;
use crate::{Error, Labels, METRIC_NAME, Sample};

pub(crate) fn bad(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Io {
        path: path.to_owned(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()),
    }
}

pub(crate) fn samples_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("series_id", DataType::UInt64, false),
        Field::new(
            "ts",
            DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
            false,
        ),
        Field::new("value", DataType::Float64, false),
    ]))
}

/// Who writes a metrics file set, which sets its layout: a flush, compaction of a young
/// partition, or compaction of a cold one (older than `cold_after`). Ordered from the
/// least to the most compact: compaction rewrites a set whose layout is below the one its
/// partition's age asks for, never the other way.
///
/// A flush's file is written once and soon merged away; a compacted file is written once
/// per partition and read until the partition turns cold, so compaction spends more CPU on
/// a smaller file: zstd level [`COMPACTED_ZSTD_LEVEL`] instead of [`FLUSH_ZSTD_LEVEL`], the
/// same schema, encodings and pages (`docs/formats/partitions.md`). A cold file is read
/// rarely (dashboards look at the last day) and kept longest, so it takes the densest
/// plain-Parquet layout measured: zstd [`COLD_ZSTD_LEVEL`] and `value` pages of
/// [`COLD_VALUE_PAGE_ROWS`] rows (a one-series read decompresses a whole page: 1.4-3.6 ×
/// slower for one series' day, `docs/benchmarks-history.md`, "The disk decision"). The
/// series and index files keep zstd 3 in every layout (zstd 15 made their first read
/// ~0.2 ms longer per partition).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum WrittenBy {
    /// A flush's file set.
    Flush,
    /// A compacted partition's file set (`-c` in the file names).
    Compaction,
    /// A cold partition's file set (`-cold` in the file names).
    Cold,
}

impl WrittenBy {
    /// The compression of the samples file it writes (and of the histograms file beside it:
    /// `storage/histograms`).
    pub(crate) fn samples_zstd(self) -> Compression {
        let level = match self {
            WrittenBy::Flush => FLUSH_ZSTD_LEVEL,
            WrittenBy::Compaction => COMPACTED_ZSTD_LEVEL,
            WrittenBy::Cold => COLD_ZSTD_LEVEL,
        };
        Compression::ZSTD(ZstdLevel::try_new(level).unwrap_or_default())
    }

    /// What the names of the files it writes end with before `.parquet`.
    pub(crate) fn suffix(self) -> &'static str {
        match self {
            WrittenBy::Flush => "",
            WrittenBy::Compaction => "-c",
            WrittenBy::Cold => "-cold",
        }
    }

    /// The layout of a file set whose data file is named `name`.
    pub(crate) fn of_file(name: &str) -> WrittenBy {
        if name.ends_with("-cold.parquet") {
            WrittenBy::Cold
        } else if name.ends_with("-c.parquet") {
            WrittenBy::Compaction
        } else {
            WrittenBy::Flush
        }
    }
}

/// zstd level of a flush's samples file.
pub(crate) const FLUSH_ZSTD_LEVEL: i32 = 3;

/// zstd level of a compacted samples file: a smaller file for CPU paid once per partition,
/// read as fast as level 3's. On the benchmark's dataset 12 takes the samples files from
/// 2.24 to 2.17 B/sample; 15 and 19 reach 2.12 and 2.11 but their files decoded ~7% slower
/// (and cost ~6× and ~60× level 3's encoding CPU) (`docs/benchmarks-history.md`, "The disk
/// decision").
pub(crate) const COMPACTED_ZSTD_LEVEL: i32 = 12;

/// zstd level of a cold samples file: with [`COLD_VALUE_PAGE_ROWS`], 1.975 against 2.26
/// B/sample on the benchmark's dataset, for ~10 × level 12's encoding CPU, paid once.
pub(crate) const COLD_ZSTD_LEVEL: i32 = 19;

/// Rows per data page of a samples file: the unit a one-series read decodes.
pub(crate) const SAMPLES_PAGE_ROWS: usize = 8192;

/// Rows per `ts` and `value` page of a cold samples file. Its `series_id` pages keep
/// [`SAMPLES_PAGE_ROWS`] rows (by their byte size: 8 bytes a row), so the page index
/// still narrows a one-series read to 8,192-row units; the larger `value` page under them
/// is decompressed whole.
pub(crate) const COLD_VALUE_PAGE_ROWS: usize = 65_536;

fn samples_props(by: WrittenBy) -> WriterProperties {
    let b = WriterProperties::builder();
    let b = if by == WrittenBy::Cold {
        b.set_data_page_row_count_limit(COLD_VALUE_PAGE_ROWS)
            .set_column_data_page_size_limit(ColumnPath::from("series_id"), SAMPLES_PAGE_ROWS * 8)
            .set_column_data_page_size_limit(
                ColumnPath::from("value"),
                COLD_VALUE_PAGE_ROWS * 8 + 1,
            )
    } else {
        b.set_data_page_row_count_limit(SAMPLES_PAGE_ROWS)
    };
    b.set_compression(by.samples_zstd())
        .set_statistics_enabled(EnabledStatistics::Page)
        // No dictionary: a reader of one page would have to fetch the whole dictionary
        // (8 bytes per series of the file) too. Runs of one id compress to a few bytes under
        // zstd; PLAIN came out smaller than both the dictionary and DELTA_BINARY_PACKED
        // (engine/tests/scan.rs data: 226 KB vs 244 KB and 257 KB).
        .set_column_dictionary_enabled(ColumnPath::from("series_id"), false)
        .set_column_encoding(ColumnPath::from("series_id"), Encoding::PLAIN)
        .set_column_dictionary_enabled(ColumnPath::from("ts"), false)
        .set_column_encoding(ColumnPath::from("ts"), Encoding::DELTA_BINARY_PACKED)
        .set_column_dictionary_enabled(ColumnPath::from("value"), false)
        .set_column_encoding(ColumnPath::from("value"), Encoding::BYTE_STREAM_SPLIT)
        .build()
}

/// A Parquet file being written batch by batch, made durable by [`DurableWriter::finish`]:
/// written to `<path>.tmp`, fsynced, renamed, directory fsynced. Dropped unfinished, it
/// leaves only the temp file, which the next open deletes.
pub(crate) struct DurableWriter {
    path: PathBuf,
    tmp: PathBuf,
    w: ArrowWriter<File>,
}

impl DurableWriter {
    pub(crate) fn create(
        path: &Path,
        schema: SchemaRef,
        props: WriterProperties,
    ) -> Result<Self, Error> {
        let tmp = path.with_extension("parquet.tmp");
        let file = File::create(&tmp).map_err(|source| Error::Io {
            path: tmp.clone(),
            source,
        })?;
        let w = ArrowWriter::try_new(file, schema, Some(props)).map_err(|e| bad(&tmp, e))?;
        Ok(Self {
            path: path.to_owned(),
            tmp,
            w,
        })
    }

    pub(crate) fn write(&mut self, batch: &RecordBatch) -> Result<(), Error> {
        self.w.write(batch).map_err(|e| bad(&self.tmp, e))
    }

    /// Closes the row group being written (if it holds a row), so the next batch starts a
    /// new one.
    pub(crate) fn end_row_group(&mut self) -> Result<(), Error> {
        self.w.flush().map_err(|e| bad(&self.tmp, e))
    }

    /// Closes, fsyncs and renames the file into place; returns its size.
    pub(crate) fn finish(self) -> Result<u64, Error> {
        self.finish_appending(|_, _| Ok(()))
    }

    /// Closes the row group being written, lets `append` add more row groups to the file
    /// (already encoded ones: `SerializedRowGroupWriter::append_column`), then closes,
    /// fsyncs and renames the file into place as [`DurableWriter::finish`] does.
    pub(crate) fn finish_appending(
        self,
        append: impl FnOnce(&mut SerializedFileWriter<File>, &Path) -> Result<(), Error>,
    ) -> Result<u64, Error> {
        let tmp = self.tmp;
        let (mut w, _) = self.w.into_serialized_writer().map_err(|e| bad(&tmp, e))?;
        append(&mut w, &tmp)?;
        let file = w.into_inner().map_err(|e| bad(&tmp, e))?;
        publish(&tmp, &self.path, file)
    }
}

/// Makes a file written at `tmp` durable at `path`: fsync, rename, fsync of the directory.
/// Returns its size.
pub(crate) fn publish(tmp: &Path, path: &Path, file: File) -> Result<u64, Error> {
    let io = |source| Error::Io {
        path: tmp.to_owned(),
        source,
    };
    file.sync_all().map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    std::fs::rename(tmp, path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })?;
    sync_dir(path.parent().unwrap_or(Path::new(".")))?;
    Ok(len)
}

/// Writes `batch` to `path` durably: temp file, fsync, rename, fsync dir.
pub(crate) fn write_file(
    path: &Path,
    batch: &RecordBatch,
    props: WriterProperties,
) -> Result<u64, Error> {
    let mut w = DurableWriter::create(path, batch.schema(), props)?;
    w.write(batch)?;
    w.finish()
}

/// A batch of samples rows in the samples schema.
pub(crate) fn samples_batch(
    ids: Vec<SeriesId>,
    ts: Vec<i64>,
    values: Vec<f64>,
    path: &Path,
) -> Result<RecordBatch, Error> {
    let ids: ArrayRef = Arc::new(UInt64Array::from(ids));
    let ts: ArrayRef = Arc::new(TimestampMillisecondArray::from(ts).with_timezone("UTC"));
    let values: ArrayRef = Arc::new(Float64Array::from(values));
    RecordBatch::try_new(samples_schema(), vec![ids, ts, values]).map_err(|e| bad(path, e))
}

/// A writer for a samples file (see the module docs and [`WrittenBy`]).
pub(crate) fn samples_writer(path: &Path, by: WrittenBy) -> Result<DurableWriter, Error> {
    DurableWriter::create(path, samples_schema(), samples_props(by))
}

/// Rows per batch handed to the Parquet writer by [`write_sample_runs`]: bounds what a flush
/// holds besides the samples it writes (24 bytes a row, 1.5 MiB per batch).
const FLUSH_BATCH_ROWS: usize = 65_536;

/// Writes one flush's samples of a partition: `runs` in series id order, each run's samples
/// in time order, so the rows come out sorted by (series id, ts). The rows are copied into
/// the writer [`FLUSH_BATCH_ROWS`] at a time, never all at once.
pub(crate) fn write_sample_runs(path: &Path, runs: &[(SeriesId, &[Sample])]) -> Result<u64, Error> {
    let mut w = samples_writer(path, WrittenBy::Flush)?;
    let mut ids = Vec::with_capacity(FLUSH_BATCH_ROWS);
    let mut ts = Vec::with_capacity(FLUSH_BATCH_ROWS);
    let mut values = Vec::with_capacity(FLUSH_BATCH_ROWS);
    for &(id, run) in runs {
        let mut rest = run;
        while !rest.is_empty() {
            let n = rest.len().min(FLUSH_BATCH_ROWS - ids.len());
            ids.extend(std::iter::repeat_n(id, n));
            ts.extend(rest[..n].iter().map(|s| s.ts));
            values.extend(rest[..n].iter().map(|s| s.value));
            rest = &rest[n..];
            if ids.len() == FLUSH_BATCH_ROWS {
                let full = FLUSH_BATCH_ROWS;
                let batch = samples_batch(
                    std::mem::replace(&mut ids, Vec::with_capacity(full)),
                    std::mem::replace(&mut ts, Vec::with_capacity(full)),
                    std::mem::replace(&mut values, Vec::with_capacity(full)),
                    path,
                )?;
                w.write(&batch)?;
            }
        }
    }
    if !ids.is_empty() {
        w.write(&samples_batch(ids, ts, values, path)?)?;
    }
    w.finish()
}

/// Writes the series table for the series in a flush file, sorted by id.
pub(crate) fn write_series(
    path: &Path,
    series: &[(SeriesId, impl LabelPairs)],
) -> Result<u64, Error> {
    let ids = UInt64Array::from_iter_values(series.iter().map(|s| s.0));
    let metrics = StringArray::from_iter_values(series.iter().map(|s| s.1.metric()));
    let mut map = MapBuilder::new(None, StringBuilder::new(), StringBuilder::new());
    for (_, labels) in series {
        for (n, v) in labels.label_pairs().filter(|(n, _)| *n != METRIC_NAME) {
            map.keys().append_value(n);
            map.values().append_value(v);
        }
        map.append(true).map_err(|e| bad(path, e))?;
    }
    let map = map.finish();
    let schema = Arc::new(Schema::new(vec![
        Field::new("series_id", DataType::UInt64, false),
        Field::new("metric", DataType::Utf8, false),
        Field::new("labels", map.data_type().clone(), false),
    ]));
    let cols: Vec<ArrayRef> = vec![Arc::new(ids), Arc::new(metrics), Arc::new(map)];
    let batch = RecordBatch::try_new(schema, cols).map_err(|e| bad(path, e))?;
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .build();
    write_file(path, &batch, props)
}

pub(crate) fn open_batches(
    path: &Path,
) -> Result<impl Iterator<Item = Result<RecordBatch, Error>> + '_, Error> {
    let file = File::open(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .and_then(|b| b.build())
        .map_err(|e| bad(path, e))?;
    Ok(reader.map(move |b| b.map_err(|e| bad(path, e))))
}

pub(crate) fn column<'a, T: 'static>(
    batch: &'a RecordBatch,
    i: usize,
    path: &Path,
) -> Result<&'a T, Error> {
    batch
        .column(i)
        .as_any()
        .downcast_ref::<T>()
        .ok_or_else(|| bad(path, format!("column {i} has an unexpected type")))
}

/// Reads the `series_id` column of a series table: the id of each row, ascending.
pub(crate) fn read_series_ids(path: &Path) -> Result<Vec<SeriesId>, Error> {
    let file = File::open(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| bad(path, e))?;
    let mask = ProjectionMask::roots(builder.parquet_schema(), [0]);
    let reader = builder
        .with_projection(mask)
        .build()
        .map_err(|e| bad(path, e))?;
    let mut out = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| bad(path, e))?;
        out.extend(
            column::<UInt64Array>(&batch, 0, path)?
                .values()
                .iter()
                .copied(),
        );
    }
    Ok(out)
}

/// Reads a series table.
pub(crate) fn read_series(path: &Path) -> Result<Vec<(SeriesId, Labels)>, Error> {
    let mut out = Vec::new();
    visit_series(path, |id, labels| out.push((id, labels)))?;
    Ok(out)
}

/// Reads a series table as the head's compact keys: ~1/4 of the memory of
/// [`read_series`]'s labels (one allocation per series, not two per label).
pub(crate) fn read_series_keys(path: &Path) -> Result<Vec<(SeriesId, SeriesKey)>, Error> {
    let mut out = Vec::new();
    visit_series(path, |id, labels| {
        out.push((id, SeriesKey::from_labels(&labels)))
    })?;
    Ok(out)
}

/// Calls `visit` with each row of a series table.
fn visit_series(path: &Path, mut visit: impl FnMut(SeriesId, Labels)) -> Result<(), Error> {
    for batch in open_batches(path)? {
        let batch = batch?;
        let ids = column::<UInt64Array>(&batch, 0, path)?;
        let metrics = column::<StringArray>(&batch, 1, path)?;
        let maps = column::<MapArray>(&batch, 2, path)?;
        for i in 0..batch.num_rows() {
            let entry = maps.value(i);
            let strings = |j: usize| {
                entry
                    .column(j)
                    .as_any()
                    .downcast_ref::<StringArray>()
                    .cloned()
                    .ok_or_else(|| bad(path, "labels map is not utf8 -> utf8"))
            };
            let (keys, values) = (strings(0)?, strings(1)?);
            let pairs = (0..keys.len())
                .map(|j| (keys.value(j), values.value(j)))
                .chain([(METRIC_NAME, metrics.value(i))]);
            let labels = Labels::from_pairs(pairs).map_err(|r| bad(path, r))?;
            visit(ids.value(i), labels);
        }
    }
    Ok(())
}

/// Rows per row group of spans and logs files: each row group has its own bloom filter
/// on `trace_id`, so a trace lookup reads the row groups that may hold the id and no other.
pub(crate) const SIGNAL_ROW_GROUP: usize = 64 * 1024;

/// Writer properties of spans and logs files (`docs/formats/spans-logs.md`): zstd, chunk
/// statistics on the top-level columns, page statistics and the page index on
/// [`SIGNAL_PAGE_STATS_COLUMNS`], sorted by `key` (declared as
/// the row groups' sorting columns), a bloom filter on `trace_id` per row group
/// ([`SIGNAL_BLOOM_FPP`]; sized for a full row group of distinct ids, then folded down to
/// what the row group holds), no dictionary for ids.
pub(crate) fn signal_props(schema: &Schema, key: &[&str]) -> WriterProperties {
    let zstd = ZstdLevel::try_new(3).unwrap_or_default();
    let sorting = signal_sorting(schema, key);
    let trace_id = ColumnPath::from("trace_id");
    let mut b = WriterProperties::builder()
        .set_compression(Compression::ZSTD(zstd))
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_max_row_group_row_count(Some(SIGNAL_ROW_GROUP))
        // Small pages: a trace lookup decodes, of every column, only the pages holding the
        // trace's rows (by the offset index), so their size is what it pays per row group.
        .set_data_page_row_count_limit(SIGNAL_PAGE_ROWS)
        .set_sorting_columns(sorting)
        .set_column_bloom_filter_enabled(trace_id.clone(), true)
        .set_column_bloom_filter_fpp(trace_id.clone(), SIGNAL_BLOOM_FPP)
        .set_column_bloom_filter_max_ndv(trace_id.clone(), SIGNAL_ROW_GROUP as u64)
        .set_column_dictionary_enabled(trace_id, false)
        .set_column_dictionary_enabled(ColumnPath::from("span_id"), false);
    // No statistics (chunk or page) on the leaves of nested columns (attribute maps, events,
    // links): nothing prunes by them, and min/max of every map key and value was writer
    // CPU. The top-level columns keep chunk statistics; page statistics (the column index)
    // only those a reader looks pages up by ([`SIGNAL_PAGE_STATS_COLUMNS`]): the others'
    // per-page min/max was ~15% of a span flush's CPU (`docs/benchmarks-history.md`).
    // Columns zstd does not shrink are stored as they are ([`SIGNAL_RAW_COLUMNS`]).
    let logs = schema.index_of("body").is_ok();
    if let Ok(descr) = ArrowSchemaConverter::new().convert(schema) {
        for leaf in descr.columns() {
            let path = leaf.path();
            let name = path.string();
            if stored_raw(&name) || (logs && LOG_RAW_COLUMNS.contains(&name.as_str())) {
                b = b.set_column_compression(path.clone(), Compression::UNCOMPRESSED);
            }
            let stats = if path.parts().len() > 1 {
                EnabledStatistics::None
            } else if SIGNAL_PAGE_STATS_COLUMNS.contains(&name.as_str()) {
                continue;
            } else {
                EnabledStatistics::Chunk
            };
            b = b.set_column_statistics_enabled(path.clone(), stats);
        }
    }
    // Logs' lines in small pages: a line search decodes only the pages whose blocks of
    // their summary's line filter may hold the substring (`spans_logs/logs/summary/lines.rs`:
    // a block per page, cut every 512 records). The writer checks the page size every
    // `write_batch_size` rows; the parquet crate (59) cuts each such batch at the page's
    // byte budget, so pages hold ~290 records of ~110-byte lines.
    // No dictionary: lines seldom repeat whole, so it filled (1 MiB) and fell back within
    // each row group, and a search touching a row group decoded that megabyte first.
    if logs {
        let body = ColumnPath::from("body");
        b = b
            .set_write_batch_size(LOG_BODY_PAGE_ROWS)
            .set_column_dictionary_enabled(body.clone(), false)
            .set_column_data_page_size_limit(body, LOG_BODY_PAGE_BYTES);
    }
    // Nanosecond times: nearly unique, so a dictionary only falls back to plain 8-byte
    // values; deltas are small (the sort column's) or at least far below 64 bits.
    for col in SIGNAL_DELTA_COLUMNS {
        if schema
            .index_of(col.split('.').next().unwrap_or(col))
            .is_ok()
        {
            let path = ColumnPath::new(col.split('.').map(str::to_owned).collect());
            b = b
                .set_column_dictionary_enabled(path.clone(), false)
                .set_column_encoding(path, Encoding::DELTA_BINARY_PACKED);
        }
    }
    b.build()
}

/// False-positive rate of each row group's `trace_id` bloom filter. A trace lookup over a
/// week of hourly files checks thousands of row groups (168 files of up to ~55 each at
/// 1,000 spans/s), and each false positive costs reading a row group's `trace_id` column:
/// 1 in 10,000 keeps that under one per lookup, for ~2.2x the bits of 1 in 100.
pub(crate) const SIGNAL_BLOOM_FPP: f64 = 0.0001;

/// Rows the writer adds between page-size checks, for logs (the parquet crate cuts them
/// at a `body` page's byte budget, [`LOG_BODY_PAGE_BYTES`]).
pub(crate) const LOG_BODY_PAGE_ROWS: usize = 512;
/// Bytes (before compression) at which a logs file's `body` page ends: ~290 lines of
/// ~110 bytes.
const LOG_BODY_PAGE_BYTES: usize = 32 * 1024;

/// Rows per data page of spans and logs files (at most; pages also end at 1 MiB).
const SIGNAL_PAGE_ROWS: usize = 4096;

/// Top-level columns of spans and logs files with page statistics (and so a column index):
/// the sort keys, times and durations, service and operation. The trace lookup selects
/// pages by `trace_id`'s; the rest have chunk statistics only.
const SIGNAL_PAGE_STATS_COLUMNS: [&str; 8] = [
    "trace_id",
    "service_name",
    "name",
    "start_time",
    "end_time",
    "duration_ns",
    "time",
    "observed_time",
];

/// Leaf columns of spans and logs files stored uncompressed (all others: zstd). Their
/// values are already entropy-coded (dictionary indices of a few names, deltas of sorted
/// or nearly sorted times), random (span ids), or nearly always null (links, dropped
/// counts, scope): on the benchmark's dense hour zstd took at most 18% off each of them,
/// 0.6 B of 41 B per span in all, and made the mostly-null ones larger. Each compressed
/// column chunk costs its reader a zstd compression and decompression context (the
/// parquet crate's codec makes both) and the decompression: a trace lookup opens every
/// leaf of a row group, the search scans `service_name`, `name`, `start_time` and
/// `duration_ns` (`docs/benchmarks-history.md`, "Columns stored uncompressed").
const SIGNAL_RAW_COLUMNS: [&str; 24] = [
    "span_id",
    "trace_state",
    "service_name",
    "name",
    "start_time",
    "end_time",
    "duration_ns",
    "status_code",
    "status_message",
    "scope_name",
    "scope_version",
    "dropped_attributes_count",
    "dropped_events_count",
    "dropped_links_count",
    "http_request_method",
    "http_route",
    "http_response_status_code",
    "db_system",
    "rpc_method",
    "error_type",
    "attribute_types.entries.keys",
    "events.list.item.time",
    "time",
    "observed_time",
];

/// Leaf columns of logs files stored uncompressed besides [`SIGNAL_RAW_COLUMNS`]: a few
/// dictionary indices (severity), nearly constant values (`flags`, `body_type`) and
/// `trace_id`, random and in no order in a logs file (spans files keep zstd on theirs:
/// sorted by trace, a trace's ids repeat side by side). On the LogQL benchmark's day zstd
/// took nothing off `trace_id`, made `flags` and `body_type` larger and took 21% off the
/// severity columns: uncompressed, the logs files are 0.28% larger. A log search that
/// returns a row reads every output column of its row group, and each compressed one cost
/// it a zstd context pair: 6% of the needle query's CPU (`docs/benchmarks-history.md`,
/// "Logs columns stored uncompressed").
const LOG_RAW_COLUMNS: [&str; 5] = [
    "severity_number",
    "severity_text",
    "body_type",
    "flags",
    "trace_id",
];

/// Whether the leaf at `path` (dotted) is stored uncompressed ([`SIGNAL_RAW_COLUMNS`],
/// and every leaf of `links`, `resource_attribute_types` and `scope_attribute_types`).
fn stored_raw(path: &str) -> bool {
    SIGNAL_RAW_COLUMNS.contains(&path)
        || path.starts_with("links.")
        || path.starts_with("resource_attribute_types.")
        || path.starts_with("scope_attribute_types.")
}

/// Integer time columns of spans and logs files written as deltas (leaf paths).
const SIGNAL_DELTA_COLUMNS: [&str; 6] = [
    "start_time",
    "end_time",
    "duration_ns",
    "events.list.item.time",
    "time",
    "observed_time",
];

/// The sorting columns a spans or logs file sorted by `key` declares: the key columns
/// come before any nested column, so their top-level index is their leaf index, which is
/// what Parquet's sorting columns name. None if a key column is missing.
pub(crate) fn signal_sorting(schema: &Schema, key: &[&str]) -> Option<Vec<SortingColumn>> {
    key.iter()
        .map(|name| {
            schema.index_of(name).ok().map(|i| SortingColumn {
                column_idx: i as i32,
                descending: false,
                nulls_first: false,
            })
        })
        .collect()
}

/// Writes a spans or logs file (rows already sorted by `key`) from one batch (tests; the
/// flush writes bounded batches through [`signal_writer`]).
#[cfg(test)]
pub(crate) fn write_signal_file(
    path: &Path,
    batch: &RecordBatch,
    key: &[&str],
) -> Result<u64, Error> {
    let props = signal_props(&batch.schema(), key);
    write_file(path, batch, props)
}

/// The codec of the leaf column `name` (dotted) in a row group (tests).
#[cfg(test)]
pub(crate) fn codec_of(rg: &parquet::file::metadata::RowGroupMetaData, name: &str) -> Compression {
    rg.columns()
        .iter()
        .find(|c| c.column_path().string() == name)
        .map(|c| c.compression())
        .unwrap_or_else(|| panic!("no column {name}"))
}

/// A spans or logs file written batch by batch (batches in `key` order).
pub(crate) fn signal_writer(
    path: &Path,
    schema: SchemaRef,
    key: &[&str],
) -> Result<DurableWriter, Error> {
    signal_writer_by(path, schema, key, WrittenBy::Compaction)
}

/// zstd level of a cold logs file (a logs partition older than `cold_after`, rewritten
/// once): 12 % smaller than level 3 on the benchmark's logs hour, its reads as fast, for
/// ~5 × the CPU of a level-3 write (`docs/benchmarks-history.md`, "Spans and logs at
/// higher zstd levels"). Spans gain ~3 % at any level and keep level 3.
pub(crate) const COLD_LOGS_ZSTD_LEVEL: i32 = 12;

/// [`signal_writer`] in layout `by`: a cold logs file takes [`COLD_LOGS_ZSTD_LEVEL`]
/// wherever the signal's settings compress, pages and row groups unchanged.
pub(crate) fn signal_writer_by(
    path: &Path,
    schema: SchemaRef,
    key: &[&str],
    by: WrittenBy,
) -> Result<DurableWriter, Error> {
    let mut props = signal_props(&schema, key);
    if by == WrittenBy::Cold {
        // The default level only: the columns stored raw keep their own setting.
        let level = ZstdLevel::try_new(COLD_LOGS_ZSTD_LEVEL).unwrap_or_default();
        props = props
            .into_builder()
            .set_compression(Compression::ZSTD(level))
            .build();
    }
    DurableWriter::create(path, schema, props)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Float64Array, TimestampMillisecondArray, UInt64Array};

    /// Runs that span several writer batches (and a run cut across a batch boundary) come
    /// back as exactly the rows, in order.
    #[test]
    fn sample_runs_are_written_in_bounded_batches_and_read_back_in_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("samples.parquet");
        let lens = [3, FLUSH_BATCH_ROWS - 1, 2, FLUSH_BATCH_ROWS + 5, 1];
        let runs_owned: Vec<(SeriesId, Vec<Sample>)> = lens
            .iter()
            .enumerate()
            .map(|(i, &n)| {
                let samples = (0..n as i64)
                    .map(|t| Sample {
                        ts: 1_000 + t * 15,
                        value: (i as f64) * 1e6 + t as f64,
                    })
                    .collect();
                (10 + i as u64, samples)
            })
            .collect();
        let runs: Vec<(SeriesId, &[Sample])> =
            runs_owned.iter().map(|(id, s)| (*id, &s[..])).collect();
        write_sample_runs(&path, &runs).expect("write");

        let mut got = Vec::new();
        for b in open_batches(&path).expect("open") {
            let b = b.expect("batch");
            let ids = column::<UInt64Array>(&b, 0, &path).expect("ids");
            let ts = column::<TimestampMillisecondArray>(&b, 1, &path).expect("ts");
            let vs = column::<Float64Array>(&b, 2, &path).expect("values");
            for i in 0..b.num_rows() {
                got.push((ids.value(i), ts.value(i), vs.value(i)));
            }
        }
        let want: Vec<(u64, i64, f64)> = runs_owned
            .iter()
            .flat_map(|(id, s)| s.iter().map(move |s| (*id, s.ts, s.value)))
            .collect();
        assert_eq!(got.len(), lens.iter().sum::<usize>());
        assert!(got == want, "rows differ from the runs written");
    }
}
