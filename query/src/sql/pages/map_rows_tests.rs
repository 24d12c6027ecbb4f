//! Tests of the in-place map reader (`map_rows.rs`): over files the parquet crate writes
//! in every layout it reads (pages v1 and v2, dictionary and `PLAIN`, zstd and none, small
//! and large pages), the rows it returns are exactly those the parquet crate's reader
//! returns; a layout it does not read answers `None`.

use std::fs::File;
use std::path::{Path, PathBuf};

use datafusion::arrow::array::{Array, Int64Array, MapBuilder, MapFieldNames, RecordBatch};
use datafusion::arrow::datatypes::{Field, Schema};
use datafusion::datasource::physical_plan::parquet::RowGroupAccess;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::arrow::ProjectionMask;
use datafusion::parquet::arrow::arrow_reader::{
    ArrowReaderOptions, ParquetRecordBatchReaderBuilder, RowSelection, RowSelector,
};
use datafusion::parquet::basic::{Compression, ZstdLevel};
use datafusion::parquet::file::metadata::PageIndexPolicy;
use datafusion::parquet::file::properties::{WriterProperties, WriterVersion};

use super::*;

/// Row `i`'s entries: none for some rows (in runs and scattered), up to 9 others, some
/// values null, keys and values from small sets (a dictionary) or all distinct.
fn entries(i: usize, distinct: bool) -> Vec<(String, Option<String>)> {
    if (300..340).contains(&(i % 1000)) || i % 13 == 5 {
        return Vec::new();
    }
    (0..(i * 7 % 10))
        .map(|k| {
            let value = if (i + k) % 9 == 4 {
                None
            } else if distinct {
                Some(format!("value {i} {k}"))
            } else {
                Some(format!("v{}", (i + k) % 6))
            };
            (format!("key{k}"), value)
        })
        .collect()
}

/// A file of `rows` rows (`id`, `attrs`) in row groups of 2,000 rows.
fn write(dir: &Path, name: &str, props: WriterProperties, rows: usize, distinct: bool) -> PathBuf {
    let path = dir.join(format!("{name}.parquet"));
    let names = MapFieldNames {
        entry: "entries".into(),
        key: "keys".into(),
        value: "values".into(),
    };
    let mut probe = MapBuilder::new(
        Some(names.clone()),
        StringBuilder::new(),
        StringBuilder::new(),
    );
    let map_type = probe.finish().data_type().clone();
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("attrs", map_type, false),
    ]));
    let file = File::create(&path).expect("create");
    let mut w = ArrowWriter::try_new(file, schema.clone(), Some(props)).expect("writer");
    for start in (0..rows).step_by(700) {
        let end = (start + 700).min(rows);
        let mut maps = MapBuilder::new(
            Some(names.clone()),
            StringBuilder::new(),
            StringBuilder::new(),
        );
        for i in start..end {
            for (k, v) in entries(i, distinct) {
                maps.keys().append_value(k);
                maps.values().append_option(v);
            }
            maps.append(true).expect("map");
        }
        let ids = Int64Array::from_iter_values((start..end).map(|i| i as i64));
        let cols: Vec<ArrayRef> = vec![Arc::new(ids), Arc::new(maps.finish())];
        w.write(&RecordBatch::try_new(schema.clone(), cols).expect("batch"))
            .expect("write");
    }
    w.close().expect("close");
    path
}

/// Writer properties; without a dictionary, values `PLAIN` (pages v2 would otherwise be
/// `DELTA_BYTE_ARRAY`).
fn props(
    version: WriterVersion,
    codec: Compression,
    dictionary: bool,
    page: usize,
) -> WriterProperties {
    let b = WriterProperties::builder()
        .set_writer_version(version)
        .set_compression(codec)
        .set_dictionary_enabled(dictionary)
        .set_max_row_group_row_count(Some(2000))
        .set_data_page_row_count_limit(page)
        .set_write_batch_size(page.min(64));
    if dictionary {
        b
    } else {
        b.set_encoding(Encoding::PLAIN)
    }
    .build()
}

fn open(path: &Path) -> ArrowReaderMetadata {
    let options = ArrowReaderOptions::new().with_page_index_policy(PageIndexPolicy::Required);
    ArrowReaderMetadata::load(&File::open(path).expect("open"), options).expect("footer")
}

/// An access plan of `rows` (sorted, of the file), and the same as a row selection.
fn plan_of(meta: &ParquetMetaData, rows: &[usize]) -> (ParquetAccessPlan, RowSelection) {
    let mut access = Vec::new();
    let mut all = Vec::new();
    let mut base = 0usize;
    for g in 0..meta.num_row_groups() {
        let n = meta.row_group(g).num_rows() as usize;
        let mut sel = Vec::new();
        let mut at = 0;
        for &r in rows.iter().filter(|&&r| base <= r && r < base + n) {
            if r - base > at {
                sel.push(RowSelector::skip(r - base - at));
            }
            sel.push(RowSelector::select(1));
            at = r - base + 1;
        }
        if n > at {
            sel.push(RowSelector::skip(n - at));
        }
        all.extend(sel.iter().cloned());
        access.push(if sel.iter().any(|s| !s.skip) {
            RowGroupAccess::Selection(RowSelection::from(sel))
        } else {
            RowGroupAccess::Skip
        });
        base += n;
    }
    (ParquetAccessPlan::new(access), RowSelection::from(all))
}

/// The maps of `rows` as the parquet crate's reader gives them.
fn expected(path: &Path, meta: &ArrowReaderMetadata, selection: RowSelection) -> Vec<ArrayRef> {
    let mask = ProjectionMask::roots(meta.metadata().file_metadata().schema_descr(), [1]);
    let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(
        File::open(path).expect("open"),
        meta.clone(),
    )
    .with_projection(mask)
    .with_row_selection(selection)
    .build()
    .expect("reader");
    reader
        .map(|b| b.expect("batch").column(0).clone())
        .collect()
}

/// Rows of a file of `n` rows: the first and last, page and row-group edges, and a
/// scattered sample.
fn sample(n: usize) -> Vec<usize> {
    let mut rows: Vec<usize> = vec![0, 1, 63, 64, 65, 1999, 2000, 2001, n - 1];
    rows.extend((0..n).filter(|i| i * 7919 % 97 == 3));
    rows.extend(300..340);
    rows.sort_unstable();
    rows.dedup();
    rows.retain(|&r| r < n);
    rows
}

#[test]
fn maps_read_in_place_are_those_the_parquet_reader_reads() {
    let dir = tempfile::tempdir().expect("temp dir");
    let zstd = Compression::ZSTD(ZstdLevel::default());
    let n = 5_000;
    let mut cases = 0;
    for version in [WriterVersion::PARQUET_1_0, WriterVersion::PARQUET_2_0] {
        for codec in [zstd, Compression::UNCOMPRESSED] {
            for dictionary in [true, false] {
                for (page, distinct) in [(64, false), (4096, true), (700, false)] {
                    let name = format!("{version:?}-{codec}-{dictionary}-{page}-{distinct}");
                    let p = props(version, codec, dictionary, page);
                    let path = write(dir.path(), &name, p, n, distinct);
                    let meta = open(&path);
                    let column = map_column(&meta, "attrs").expect("a map column");
                    let rows = sample(n);
                    let (plan, selection) = plan_of(meta.metadata(), &rows);
                    let pread = Pread::open(&path).expect("open");
                    let got = read_maps(&pread, meta.metadata(), &plan, &[column])
                        .expect("read")
                        .expect("read in place");
                    let want = expected(&path, &meta, selection);
                    let want: Vec<&dyn Array> = want.iter().map(|a| a.as_ref()).collect();
                    let want = datafusion::arrow::compute::concat(&want).expect("concat");
                    assert_eq!(got[0].len(), rows.len(), "{name}");
                    assert_eq!(got[0].as_ref(), want.as_ref(), "{name}");
                    cases += 1;
                }
            }
        }
    }
    assert_eq!(cases, 24);
}

#[test]
fn other_codecs_and_columns_are_left_to_the_parquet_reader() {
    let dir = tempfile::tempdir().expect("temp dir");
    let p = props(WriterVersion::PARQUET_1_0, Compression::SNAPPY, true, 64);
    let path = write(dir.path(), "snappy", p, 3000, false);
    let meta = open(&path);
    assert!(map_column(&meta, "id").is_none());
    assert!(map_column(&meta, "nothing").is_none());
    let column = map_column(&meta, "attrs").expect("a map column");
    let (plan, _) = plan_of(meta.metadata(), &[5, 2500]);
    let pread = Pread::open(&path).expect("open");
    let got = read_maps(&pread, meta.metadata(), &plan, &[column]).expect("read");
    assert!(got.is_none());
    // Values in another encoding.
    let p = WriterProperties::builder()
        .set_writer_version(WriterVersion::PARQUET_2_0)
        .set_dictionary_enabled(false)
        .set_max_row_group_row_count(Some(2000))
        .build();
    let path = write(dir.path(), "delta", p, 3000, false);
    let meta = open(&path);
    let column = map_column(&meta, "attrs").expect("a map column");
    let (plan, _) = plan_of(meta.metadata(), &[5, 2500]);
    let pread = Pread::open(&path).expect("open");
    let got = read_maps(&pread, meta.metadata(), &plan, &[column]).expect("read");
    assert!(got.is_none());
}

#[test]
fn a_damaged_page_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().expect("temp dir");
    let p = props(
        WriterVersion::PARQUET_1_0,
        Compression::UNCOMPRESSED,
        true,
        4096,
    );
    let path = write(dir.path(), "plain", p, 2000, false);
    let meta = open(&path);
    let column = map_column(&meta, "attrs").expect("a map column");
    let rows = sample(2000);
    let (plan, _) = plan_of(meta.metadata(), &rows);
    // Overwrite the values' first data page after its header with bytes of all ones.
    let chunk = meta.metadata().row_group(0).column(2);
    let start = chunk.data_page_offset() as u64 + 24;
    let bytes = std::fs::read(&path).expect("read");
    let mut damaged = bytes.clone();
    for b in damaged.iter_mut().skip(start as usize).take(64) {
        *b = 0xff;
    }
    std::fs::write(&path, &damaged).expect("write");
    let pread = Pread::open(&path).expect("open");
    let got = read_maps(&pread, meta.metadata(), &plan, &[column]);
    assert!(got.is_err(), "{got:?}");
}
