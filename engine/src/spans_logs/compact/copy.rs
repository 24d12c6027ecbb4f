//! Writing the compacted file of a spans or logs partition: the inputs' big row groups are
//! copied as they are encoded (column chunks spliced byte for byte with their statistics,
//! `trace_id` bloom filter, column index and offset index, the offsets moved to where the
//! chunks land), and only the small ones are decoded and merged, by the signal's sort key,
//! into new row groups (`spans_logs/compact/merge.rs`).
//!
//! Each row group of a spans or logs file is sorted by the key and declares it (Parquet's
//! `sorting_columns` is a row-group field); a file with copied row groups is sorted within
//! each row group, not across them. Every reader here works per row group (the trace
//! lookup's bloom filters and `trace_id` page index, the search's row-group statistics),
//! and the merge reads each row group of an input as its own sorted run.
//!
//! A row group is copied when its file declares the current key on every row group, has
//! the output's schema (Arrow and Parquet), and it holds at least [`COPY_MIN_ROWS`] rows.
//! Files that do not (written by an older version) go through the merge whole: a file not
//! sorted by the current key is sorted in memory first, as before.
//!
//! The output takes the newest layout among the inputs': columns are only ever added, at
//! the end of a table and nullable (`docs/formats/spans-logs.md`), so that is the input
//! schema with the most columns, and an input without some of them is read with those
//! columns null, as SQL reads such a file.
//!
//! Memory: a copy streams each chunk through a buffer (`std::io::copy`); a row group's
//! bloom filter, column index and offset index are held until the file is closed, as the
//! writer does for the row groups it encodes. The merge holds a bounded number of rows per
//! run (`spans_logs/compact/merge.rs`).

use std::fs::File;
use std::path::{Path, PathBuf};

use arrow::array::{RecordBatch, new_null_array};
use arrow::compute::concat_batches;
use arrow::datatypes::SchemaRef;
use parquet::arrow::ArrowSchemaConverter;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
};
use parquet::bloom_filter::Sbbf;
use parquet::column::writer::ColumnCloseResult;
use parquet::file::metadata::PageIndexPolicy;
use parquet::file::page_index::column_index::ColumnIndexMetaData;
use parquet::file::writer::SerializedFileWriter;

use crate::spans_logs::compact::merge::{self, BatchStream, MergeStats};
use crate::storage::parquet_io::{self, SIGNAL_ROW_GROUP, WrittenBy, bad};
use crate::{Error, Result};

/// Row groups with at least this many rows are copied; smaller ones are decoded and merged
/// into new row groups. Half the row-group size: a compacted file's row groups then hold at
/// least half of [`SIGNAL_ROW_GROUP`] rows (but one merged remainder), so a trace lookup
/// checks at most about twice the bloom filters (and pays twice their false positives) it
/// would over a file rewritten whole; and the rows decoded per input file are at most its
/// last, partial row group (a flush's or a merge's remainder) plus late small flushes.
pub(crate) const COPY_MIN_ROWS: usize = SIGNAL_ROW_GROUP / 2;

/// Rows the merge's inputs hold at once, all runs together (each reads batches of this
/// divided by the number of runs, within [`MIN_BATCH`, `MAX_BATCH`]).
const MERGE_ROWS: usize = 128 * 1024;
/// Fewest rows per run batch.
const MIN_BATCH: usize = 256;
/// Most rows per run batch.
const MAX_BATCH: usize = 8192;
/// Rows per output batch of the merge.
const OUT_ROWS: usize = 8192;

/// What writing a compacted file did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct CopyStats {
    /// Rows merged (decoded and encoded again), and what the merge held.
    pub(crate) merged: MergeStats,
    /// Rows copied encoded.
    pub(crate) copied_rows: u64,
    /// Row groups copied encoded.
    pub(crate) copied_groups: usize,
}

impl CopyStats {
    /// Rows written.
    pub(crate) fn rows(&self) -> u64 {
        self.merged.rows + self.copied_rows
    }
}

/// One input file: its footer with the page index, and whether every row group declares
/// the file sorted by the key.
pub(crate) struct Input {
    path: PathBuf,
    file: File,
    meta: ArrowReaderMetadata,
    /// Every row group declares the key as its sorting columns.
    pub(crate) sorted: bool,
}

impl Input {
    /// Opens the spans or logs file at `path`, checking its row groups' declared sort
    /// against `key`.
    pub(crate) fn open(path: &Path, key: &[&str]) -> Result<Self> {
        let file = File::open(path).map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })?;
        let options = ArrowReaderOptions::new().with_page_index_policy(PageIndexPolicy::Optional);
        let meta = ArrowReaderMetadata::load(&file, options).map_err(|e| bad(path, e))?;
        let want = parquet_io::signal_sorting(meta.schema(), key);
        let sorted = want.is_some()
            && meta
                .metadata()
                .row_groups()
                .iter()
                .all(|rg| rg.sorting_columns() == want.as_ref());
        Ok(Self {
            path: path.to_owned(),
            file,
            meta,
            sorted,
        })
    }

    /// The file's Arrow schema.
    pub(crate) fn schema(&self) -> &SchemaRef {
        self.meta.schema()
    }

    /// Row groups `groups` read as batches of `rows`, in order.
    pub(crate) fn batches(&self, groups: Vec<usize>, rows: usize) -> Result<BatchStream> {
        let file = self.file.try_clone().map_err(|source| Error::Io {
            path: self.path.clone(),
            source,
        })?;
        let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(file, self.meta.clone())
            .with_row_groups(groups)
            .with_batch_size(rows.max(1))
            .build()
            .map_err(|e| bad(&self.path, e))?;
        let path = self.path.clone();
        Ok(Box::new(reader.map(move |b| b.map_err(|e| bad(&path, e)))))
    }

    /// Row groups in the file.
    pub(crate) fn row_groups(&self) -> usize {
        self.meta.metadata().num_row_groups()
    }

    fn group_rows(&self, g: usize) -> usize {
        usize::try_from(self.meta.metadata().row_group(g).num_rows()).unwrap_or(0)
    }

    /// Whether this file's row groups can be spliced into a file of `schema` (whose
    /// Parquet schema is `descr`) sorted by the key.
    fn copyable(
        &self,
        schema: &SchemaRef,
        descr: &parquet::schema::types::SchemaDescriptor,
    ) -> bool {
        self.sorted
            && self.schema() == schema
            && self
                .meta
                .metadata()
                .file_metadata()
                .schema_descr()
                .root_schema()
                == descr.root_schema()
    }

    /// Appends row group `g` to `w` as it is encoded, with its bloom filters and page
    /// index. `out` names the output in errors.
    fn copy_group(&self, g: usize, w: &mut SerializedFileWriter<File>, out: &Path) -> Result<()> {
        let md = self.meta.metadata();
        let rg = md.row_group(g);
        let rows = u64::try_from(rg.num_rows()).unwrap_or(0);
        let mut rgw = w.next_row_group().map_err(|e| bad(out, e))?;
        for (c, chunk) in rg.columns().iter().enumerate() {
            let bloom_filter =
                Sbbf::read_from_column_chunk(chunk, &self.file).map_err(|e| bad(&self.path, e))?;
            let column_index = md
                .column_index()
                .and_then(|i| i.get(g))
                .and_then(|i| i.get(c))
                .filter(|i| !matches!(i, ColumnIndexMetaData::NONE))
                .cloned();
            let offset_index = md
                .offset_index()
                .and_then(|i| i.get(g))
                .and_then(|i| i.get(c))
                .cloned();
            let close = ColumnCloseResult {
                bytes_written: u64::try_from(chunk.compressed_size()).unwrap_or(0),
                rows_written: rows,
                metadata: chunk.clone(),
                bloom_filter,
                column_index,
                offset_index,
            };
            rgw.append_column(&self.file, close)
                .map_err(|e| bad(out, format!("copying {}: {e}", self.path.display())))?;
        }
        rgw.close().map_err(|e| bad(out, e))?;
        Ok(())
    }
}

/// Rows each of `runs` merge runs reads at a time.
pub(crate) fn batch_rows(runs: usize) -> usize {
    (MERGE_ROWS / runs.max(1)).clamp(MIN_BATCH, MAX_BATCH)
}

/// Writes the spans or logs files `inputs` (oldest first) as one new file `out` (schema of
/// the first input, row groups sorted by `key`) in layout `by`, durably (not yet listed
/// anywhere): the big row groups of files that allow it copied, the rest merged; in the
/// cold layout every row group is merged, so every page is compressed again at the cold
/// level (`parquet_io::signal_writer_by`). Returns its size and what it did.
pub(crate) fn compact_files_by(
    inputs: &[impl AsRef<Path>],
    key: &[&str],
    out: &Path,
    by: WrittenBy,
) -> Result<(u64, CopyStats)> {
    let min_rows = if by == WrittenBy::Cold {
        usize::MAX
    } else {
        COPY_MIN_ROWS
    };
    compact_files_copying(inputs, key, out, min_rows, by)
}

/// [`compact_files_by`], copying row groups of at least `min_rows` rows.
fn compact_files_copying(
    inputs: &[impl AsRef<Path>],
    key: &[&str],
    out: &Path,
    min_rows: usize,
    by: WrittenBy,
) -> Result<(u64, CopyStats)> {
    let inputs = inputs
        .iter()
        .map(|p| Input::open(p.as_ref(), key))
        .collect::<Result<Vec<_>>>()?;
    // The first input's schema unless a later one has more columns (a newer layout).
    let mut widest: Option<&SchemaRef> = None;
    for s in inputs.iter().map(Input::schema) {
        if widest.is_none_or(|w| w.fields().len() < s.fields().len()) {
            widest = Some(s);
        }
    }
    let Some(schema) = widest.cloned() else {
        return Err(bad(out, "nothing to compact"));
    };
    let descr = ArrowSchemaConverter::new()
        .convert(&schema)
        .map_err(|e| bad(out, e))?;
    // Per input: the row groups copied, and the runs merged (each a list of row groups
    // read in order; a file not sorted by `key` is one run sorted in memory).
    let mut copies: Vec<(usize, Vec<usize>)> = Vec::new();
    let mut runs: Vec<(usize, Vec<usize>)> = Vec::new();
    for (i, input) in inputs.iter().enumerate() {
        if !input.sorted {
            runs.push((i, (0..input.row_groups()).collect()));
            continue;
        }
        let copyable = input.copyable(&schema, &descr);
        let mut copied = Vec::new();
        for g in 0..input.row_groups() {
            let n = input.group_rows(g);
            if n == 0 {
                continue;
            }
            if copyable && n >= min_rows {
                copied.push(g);
            } else {
                runs.push((i, vec![g]));
            }
        }
        if !copied.is_empty() {
            copies.push((i, copied));
        }
    }
    let rows = batch_rows(runs.len());
    let mut streams: Vec<BatchStream> = Vec::with_capacity(runs.len());
    for (i, groups) in runs {
        let input = &inputs[i];
        let mut stream = input.batches(groups, rows)?;
        if !input.sorted {
            stream = sorted_in_memory(&input.path, input.schema(), stream, key, rows)?;
        }
        if input.schema() != &schema {
            let (path, schema) = (input.path.clone(), schema.clone());
            stream = Box::new(stream.map(move |b| conform(&b?, &schema, &path)));
        }
        streams.push(stream);
    }
    let mut writer = parquet_io::signal_writer_by(out, schema, key, by)?;
    let mut stats = CopyStats {
        merged: merge::merge_sorted(streams, key, OUT_ROWS, out, |b| writer.write(&b))?,
        ..CopyStats::default()
    };
    let bytes = writer.finish_appending(|w, tmp| {
        for (i, groups) in &copies {
            for &g in groups {
                inputs[*i].copy_group(g, w, tmp)?;
                stats.copied_rows += inputs[*i].group_rows(g) as u64;
                stats.copied_groups += 1;
            }
        }
        Ok(())
    })?;
    Ok((bytes, stats))
}

/// `batch`, of a file written before some of `schema`'s columns existed, with `schema`'s
/// columns: its own, by name, and nulls for those it lacks (each must be nullable, as
/// every column added to a table is). `path` names the file in errors.
pub(crate) fn conform(batch: &RecordBatch, schema: &SchemaRef, path: &Path) -> Result<RecordBatch> {
    let rows = batch.num_rows();
    let columns = schema
        .fields()
        .iter()
        .map(|f| match batch.column_by_name(f.name()) {
            Some(c) => Ok(c.clone()),
            None if f.is_nullable() => Ok(new_null_array(f.data_type(), rows)),
            None => Err(bad(path, format!("column {} is missing", f.name()))),
        })
        .collect::<Result<Vec<_>>>()?;
    RecordBatch::try_new(schema.clone(), columns).map_err(|e| bad(path, e))
}

/// The whole of an input not sorted by `key`, sorted, as batches of `rows`.
fn sorted_in_memory(
    path: &Path,
    schema: &SchemaRef,
    stream: BatchStream,
    key: &[&str],
    rows: usize,
) -> Result<BatchStream> {
    let batches = stream.collect::<Result<Vec<_>>>()?;
    let all = concat_batches(schema, &batches).map_err(|e| bad(path, e))?;
    drop(batches);
    let sorted = merge::sort_batch(&all, key)?;
    let n = sorted.num_rows();
    let slices: Vec<_> = (0..n)
        .step_by(rows.max(1))
        .map(|at| Ok(sorted.slice(at, rows.min(n - at))))
        .collect();
    Ok(Box::new(slices.into_iter()))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use parquet::file::reader::{FileReader, SerializedFileReader};
    use parquet::file::serialized_reader::ReadOptionsBuilder;

    use super::*;
    use crate::model::records::{LogRecord, SpanRecord};
    use crate::signal_kind::Signal;
    use crate::spans_logs::bloom::FileBlooms;
    use crate::spans_logs::meta::SpansFileMeta;
    use crate::spans_logs::order::sort_key;
    use crate::spans_logs::read::{TraceLookupStats, read_traces};
    use crate::spans_logs::store::StoredRecord;
    use crate::{AnyValue, TraceId};

    /// `n` spans of traces of 3 spans, ids and times mixed by `seed`.
    fn spans(seed: u64, n: u64) -> Vec<SpanRecord> {
        (0..n)
            .map(|i| {
                let t = (i / 3)
                    .wrapping_add(seed << 32)
                    .wrapping_mul(0x9E37_79B9_7F4A_7C15);
                let mut trace_id = [0u8; 16];
                trace_id[..8].copy_from_slice(&t.to_be_bytes());
                trace_id[8..].copy_from_slice(&seed.to_be_bytes());
                let start_ns = 1_000_000 * i64::try_from((t >> 40) % 3_600_000).unwrap();
                SpanRecord {
                    trace_id,
                    span_id: (seed << 40 | i).to_le_bytes(),
                    service_name: ["web", "api", "db"][(t % 3) as usize].into(),
                    name: format!("op{}", i % 7),
                    start_ns,
                    end_ns: start_ns + i64::try_from(i % 1000).unwrap(),
                    attributes: vec![("i".into(), AnyValue::Int(i64::try_from(i).unwrap()))],
                    ..SpanRecord::default()
                }
            })
            .collect()
    }

    /// Writes `recs` as a spans or logs file sorted (and declared sorted) by the key.
    fn write<R: StoredRecord>(path: &Path, recs: &[R]) {
        let refs: Vec<&R> = recs.iter().collect();
        let key = sort_key(R::SIGNAL);
        let batch = merge::sort_batch(&R::to_batch(&refs).unwrap(), key).unwrap();
        parquet_io::write_signal_file(path, &batch, key).unwrap();
    }

    /// Writes each set as its own input file `in<i>.parquet` in `dir`, in order.
    fn write_inputs<R: StoredRecord>(dir: &Path, sets: &[Vec<R>]) -> Vec<std::path::PathBuf> {
        let paths: Vec<_> = (0..sets.len())
            .map(|i| dir.join(format!("in{i}.parquet")))
            .collect();
        for (p, s) in paths.iter().zip(sets) {
            write(p, s);
        }
        paths
    }

    /// Every record of the file, per row group.
    fn read_groups<R: StoredRecord>(path: &Path) -> Vec<Vec<R>> {
        let input = Input::open(path, sort_key(R::SIGNAL)).unwrap();
        (0..input.row_groups())
            .map(|g| {
                let mut recs = Vec::new();
                for b in input.batches(vec![g], 1000).unwrap() {
                    recs.extend(R::from_batch(&b.unwrap(), path).unwrap());
                }
                recs
            })
            .collect()
    }

    fn by_trace(spans: &[SpanRecord]) -> BTreeMap<TraceId, Vec<SpanRecord>> {
        let mut out: BTreeMap<TraceId, Vec<SpanRecord>> = BTreeMap::new();
        for s in spans {
            out.entry(s.trace_id).or_default().push(s.clone());
        }
        for v in out.values_mut() {
            v.sort_by_key(|s| s.span_id);
        }
        out
    }

    /// Each row group of `path` is in key order (spans: (trace_id, start_time)).
    fn assert_groups_sorted(groups: &[Vec<SpanRecord>]) {
        for g in groups {
            let keys: Vec<_> = g.iter().map(|s| (s.trace_id, s.start_ns)).collect();
            assert!(
                keys.windows(2).all(|w| w[0] <= w[1]),
                "row group in key order"
            );
        }
    }

    #[test]
    fn big_row_groups_are_copied_with_bloom_filters_and_page_index_small_ones_merged() {
        let dir = tempfile::tempdir().unwrap();
        let key = sort_key(Signal::Traces);
        // Two big files (one row group each, over `min_rows`), two small ones.
        let sets = [
            spans(1, 6_000),
            spans(2, 300),
            spans(3, 4_500),
            spans(4, 40),
        ];
        let paths = write_inputs(dir.path(), &sets);
        let out = dir.path().join("out.parquet");
        let (bytes, stats) =
            compact_files_copying(&paths, key, &out, 1_000, WrittenBy::Compaction).unwrap();
        assert_eq!(bytes, std::fs::metadata(&out).unwrap().len());
        assert_eq!(
            (stats.copied_groups, stats.copied_rows, stats.merged.rows),
            (2, 10_500, 340),
            "{stats:?}"
        );
        // Row groups: the merged one first, then the copied ones as they were.
        let groups = read_groups::<SpanRecord>(&out);
        let sizes: Vec<usize> = groups.iter().map(Vec::len).collect();
        assert_eq!(sizes, [340, 6_000, 4_500]);
        assert_eq!(groups[1], read_groups::<SpanRecord>(&paths[0])[0]);
        assert_eq!(groups[2], read_groups::<SpanRecord>(&paths[2])[0]);
        assert_groups_sorted(&groups);
        let all: Vec<SpanRecord> = sets.concat();
        let got: Vec<SpanRecord> = groups.concat();
        assert_eq!(by_trace(&got), by_trace(&all), "every span once");

        // Every row group declares the key, has its trace_id bloom filter, a column index
        // on trace_id and an offset index on every column, as the flush writes them.
        assert!(Input::open(&out, key).unwrap().sorted);
        let options = ReadOptionsBuilder::new()
            .with_page_index()
            .with_reader_properties(
                parquet::file::properties::ReaderProperties::builder()
                    .set_read_bloom_filter(true)
                    .build(),
            )
            .build();
        let reader =
            SerializedFileReader::new_with_options(File::open(&out).unwrap(), options).unwrap();
        let md = reader.metadata();
        let leaf = md
            .file_metadata()
            .schema_descr()
            .columns()
            .iter()
            .position(|c| c.path().string() == "trace_id")
            .unwrap();
        for (g, recs) in groups.iter().enumerate() {
            let rg = reader.get_row_group(g).unwrap();
            let bloom = rg.get_column_bloom_filter(leaf).expect("a bloom filter");
            assert!(recs.iter().all(|s| bloom.check(&s.trace_id[..])));
            let index = &md.column_index().unwrap()[g][leaf];
            assert!(!matches!(index, ColumnIndexMetaData::NONE), "row group {g}");
            for (c, offsets) in md.offset_index().unwrap()[g].iter().enumerate() {
                let first = offsets.page_locations()[0].offset;
                let chunk = md.row_group(g).column(c);
                assert_eq!(
                    first,
                    chunk.data_page_offset(),
                    "row group {g} column {c}: the offset index points at the chunk's data pages"
                );
            }
        }

        // The tail a lookup reads ahead holds the copied row groups' page index.
        let blooms = FileBlooms::open(&out).unwrap();
        crate::spans_logs::bloom::assert_tail_holds_the_page_index(&out, &blooms);

        // The trace lookup (bloom blocks in place, trace_id pages by the page index,
        // rows by the offset index) finds every trace of the inputs, whole.
        let meta = SpansFileMeta::load(&out).unwrap();
        let want = by_trace(&all);
        let ids: Vec<TraceId> = want.keys().copied().collect();
        let mut lookup = TraceLookupStats::default();
        for chunk in ids.chunks(500) {
            let found = read_traces(&out, Some(&meta), &blooms, chunk, &mut lookup, None).unwrap();
            let found = by_trace(&found);
            for id in chunk {
                assert_eq!(found.get(id), want.get(id), "trace {id:?}");
            }
        }
        // One id, alone: the copied row groups it is not in are skipped by their filters.
        let id = sets[0][0].trace_id;
        let mut one = TraceLookupStats::default();
        let found = read_traces(&out, Some(&meta), &blooms, &[id], &mut one, None).unwrap();
        assert_eq!(by_trace(&found).get(&id), want.get(&id));
        assert_eq!(one.row_groups, 3);
        assert!(one.row_groups_read < 3, "{one:?}");
    }

    #[test]
    fn a_file_with_copied_row_groups_merges_again_by_row_group() {
        let dir = tempfile::tempdir().unwrap();
        let key = sort_key(Signal::Traces);
        let sets = [spans(5, 2_000), spans(6, 1_500), spans(7, 100)];
        let paths = write_inputs(dir.path(), &sets);
        let first = dir.path().join("first.parquet");
        let (_, stats) =
            compact_files_copying(&paths, key, &first, 1_000, WrittenBy::Compaction).unwrap();
        assert_eq!(stats.copied_groups, 2);
        // Sorted within row groups, not across them: the merge reads each row group as a
        // run of its own, so copying nothing (every row group under the threshold) gives
        // one sorted row group.
        let late = dir.path().join("late.parquet");
        write(&late, &spans(8, 10));
        let second = dir.path().join("second.parquet");
        let (_, stats) = compact_files_copying(
            &[&first, &late],
            key,
            &second,
            10_000,
            WrittenBy::Compaction,
        )
        .unwrap();
        assert_eq!((stats.copied_groups, stats.merged.rows), (0, 3_610));
        let groups = read_groups::<SpanRecord>(&second);
        assert_eq!(groups.len(), 1);
        assert_groups_sorted(&groups);
        let mut all = sets.concat();
        all.extend(spans(8, 10));
        assert_eq!(by_trace(&groups.concat()), by_trace(&all));
    }

    #[test]
    fn a_file_sorted_by_an_older_key_is_never_copied_but_sorted_and_merged() {
        let dir = tempfile::tempdir().unwrap();
        let key = sort_key(Signal::Traces);
        let old_key = ["service_name", "start_time"];
        let sets = [spans(9, 2_000), spans(10, 2_500), spans(11, 1_800)];
        let paths: Vec<_> = (0..sets.len())
            .map(|i| dir.path().join(format!("in{i}.parquet")))
            .collect();
        write(&paths[0], &sets[0]);
        let refs: Vec<&SpanRecord> = sets[1].iter().collect();
        let batch = merge::sort_batch(&SpanRecord::to_batch(&refs).unwrap(), &old_key);
        parquet_io::write_signal_file(&paths[1], &batch.unwrap(), &old_key).unwrap();
        write(&paths[2], &sets[2]);
        assert!(!Input::open(&paths[1], key).unwrap().sorted);
        let out = dir.path().join("out.parquet");
        let (_, stats) =
            compact_files_copying(&paths, key, &out, 1, WrittenBy::Compaction).unwrap();
        assert_eq!(
            (stats.copied_groups, stats.copied_rows, stats.merged.rows),
            (2, 3_800, 2_500)
        );
        let groups = read_groups::<SpanRecord>(&out);
        assert_eq!(groups.len(), 3);
        assert_groups_sorted(&groups);
        assert_eq!(by_trace(&groups.concat()), by_trace(&sets.concat()));
        assert!(Input::open(&out, key).unwrap().sorted);
    }

    /// A file written before the scope attribute columns merges with one of the newer
    /// layout, in either order, into a file of the newer layout: its rows with the new
    /// columns null (read back: no scope attributes), the newer file's row groups copied.
    #[test]
    fn a_file_of_an_older_layout_merges_into_the_newer_layout() {
        let dir = tempfile::tempdir().unwrap();
        let key = sort_key(Signal::Traces);
        let scope = Arc::new(crate::Scope {
            name: "lib".into(),
            attributes: vec![("team".into(), AnyValue::String("core".into()))],
            ..crate::Scope::default()
        });
        let mut new = spans(2, 2_000);
        for s in &mut new {
            s.scope = scope.clone();
        }
        let old = spans(1, 1_500);
        let refs: Vec<&SpanRecord> = old.iter().collect();
        let batch = merge::sort_batch(&SpanRecord::to_batch(&refs).unwrap(), key).unwrap();
        let n = batch.num_columns();
        let old_layout = batch.project(&(0..n - 2).collect::<Vec<_>>()).unwrap();
        let old_path = dir.path().join("old.parquet");
        parquet_io::write_signal_file(&old_path, &old_layout, key).unwrap();
        let new_path = dir.path().join("new.parquet");
        write(&new_path, &new);
        let all = by_trace(&[old.clone(), new.clone()].concat());
        for (i, inputs) in [[&old_path, &new_path], [&new_path, &old_path]]
            .iter()
            .enumerate()
        {
            let out = dir.path().join(format!("out{i}.parquet"));
            let (_, stats) =
                compact_files_copying(inputs, key, &out, 1_000, WrittenBy::Compaction).unwrap();
            assert_eq!((stats.copied_rows, stats.merged.rows), (2_000, 1_500));
            assert_eq!(Input::open(&out, key).unwrap().schema(), &batch.schema());
            assert_eq!(by_trace(&read_groups::<SpanRecord>(&out).concat()), all);
        }
    }

    #[test]
    fn logs_row_groups_are_copied_and_merged_too() {
        let dir = tempfile::tempdir().unwrap();
        let logs = |seed: i64, n: i64| -> Vec<LogRecord> {
            (0..n)
                .map(|i| LogRecord {
                    time_ns: 1_000 * ((i * 7_919 + seed) % 5_000),
                    service_name: ["web", "api"][usize::try_from(i % 2).unwrap()].into(),
                    severity_text: format!("s{seed}-{i}"),
                    ..LogRecord::default()
                })
                .collect()
        };
        let sets = [logs(1, 3_000), logs(2, 50), logs(3, 1_200)];
        let paths = write_inputs(dir.path(), &sets);
        let out = dir.path().join("out.parquet");
        let key = sort_key(Signal::Logs);
        let (_, stats) =
            compact_files_copying(&paths, key, &out, 1_000, WrittenBy::Compaction).unwrap();
        assert_eq!((stats.copied_groups, stats.merged.rows), (2, 50));
        let groups = read_groups::<LogRecord>(&out);
        for g in &groups {
            let keys: Vec<_> = g
                .iter()
                .map(|l| (l.service_name.clone(), l.time_ns))
                .collect();
            assert!(keys.windows(2).all(|w| w[0] <= w[1]));
        }
        let text = |v: Vec<LogRecord>| {
            let mut t: Vec<String> = v.iter().map(|l| format!("{l:?}")).collect();
            t.sort();
            t
        };
        assert_eq!(text(groups.concat()), text(sets.concat()));
    }
}
