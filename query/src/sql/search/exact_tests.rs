//! Tests of the exact line search (`exact.rs`) over files the parquet crate writes.

use std::fs::File;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::arrow::arrow_reader::{RowSelection, RowSelector};
use datafusion::parquet::basic::{Compression, ZstdLevel};
use datafusion::parquet::file::metadata::{PageIndexPolicy, ParquetMetaDataReader};
use datafusion::parquet::file::properties::{WriterProperties, WriterVersion};
use datafusion::parquet::schema::types::ColumnPath;

use super::*;

/// Row `i`'s line: `None` in runs and scattered (both level encodings), `needle` in
/// some, `other` in others.
fn line(i: usize) -> Option<String> {
    if (100..140).contains(&(i % 1000)) || i % 7 == 3 {
        return None;
    }
    let word = match i % 97 {
        0 => " needle",
        1 => " other",
        2 => " needle other",
        _ => "",
    };
    Some(format!("line {i}{word}"))
}

/// A file of `rows` rows (`id`, `body`) in row groups of 1,000, pages of ~100 rows,
/// `body` in `encoding` (`RLE_DICTIONARY`: with a dictionary).
fn write(dir: &Path, version: WriterVersion, encoding: Encoding, rows: usize) -> PathBuf {
    let path = dir.join(format!("{version:?}-{encoding}.parquet"));
    let dictionary = encoding == Encoding::RLE_DICTIONARY;
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("body", DataType::Utf8, true),
    ]));
    let props = WriterProperties::builder()
        .set_writer_version(version)
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .set_dictionary_enabled(dictionary)
        .set_column_encoding(
            ColumnPath::from("body"),
            if dictionary {
                Encoding::PLAIN
            } else {
                encoding
            },
        )
        .set_max_row_group_row_count(Some(1000))
        .set_data_page_row_count_limit(100)
        .set_write_batch_size(100)
        .build();
    let file = File::create(&path).expect("create");
    let mut w = ArrowWriter::try_new(file, schema.clone(), Some(props)).expect("writer");
    for start in (0..rows).step_by(500) {
        let ids: Vec<i64> = (start..start + 500).map(|i| i as i64).collect();
        let lines: Vec<Option<String>> = (start..start + 500).map(line).collect();
        let cols: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from(ids)),
            Arc::new(StringArray::from(lines)),
        ];
        w.write(&RecordBatch::try_new(schema.clone(), cols).expect("batch"))
            .expect("write");
    }
    w.close().expect("close");
    path
}

fn footer(path: &Path) -> ParquetMetaData {
    ParquetMetaDataReader::new()
        .with_page_index_policy(PageIndexPolicy::Required)
        .parse_and_finish(&File::open(path).expect("open"))
        .expect("footer")
}

/// A footer with its Arrow schema, as a lookup loads it.
fn arrow(meta: &Arc<ParquetMetaData>) -> ArrowReaderMetadata {
    let options = datafusion::parquet::arrow::arrow_reader::ArrowReaderOptions::new()
        .with_page_index_policy(PageIndexPolicy::Optional);
    ArrowReaderMetadata::try_new(meta.clone(), options).expect("arrow schema")
}

/// The file rows a plan selects.
fn rows_of(plan: &ParquetAccessPlan, meta: &ParquetMetaData) -> Vec<usize> {
    let mut out = Vec::new();
    let mut base = 0;
    for (g, access) in plan.inner().iter().enumerate() {
        let n = meta.row_group(g).num_rows() as usize;
        let ranges = access_ranges(access, n).unwrap_or_default();
        for (a, b) in ranges {
            out.extend(base + a..base + b);
        }
        base += n;
    }
    out
}

fn need(words: &[&[&str]]) -> Need {
    words
        .iter()
        .map(|any| any.iter().map(|w| w.as_bytes().to_vec()).collect())
        .collect()
}

#[test]
fn finds_exactly_the_matching_rows_of_v1_and_v2_pages_with_nulls() {
    let dir = tempfile::tempdir().expect("dir");
    let rows = 5_000;
    for version in [WriterVersion::PARQUET_1_0, WriterVersion::PARQUET_2_0] {
        let path = write(dir.path(), version, Encoding::PLAIN, rows);
        let meta = footer(&path);
        assert!(
            meta.row_group(0)
                .column(1)
                .dictionary_page_offset()
                .is_none()
        );
        let all = ParquetAccessPlan::new_all(meta.num_row_groups());
        for (words, test) in [
            (
                need(&[&["needle"]]),
                &(|l: &str| l.contains("needle")) as &dyn Fn(&str) -> bool,
            ),
            (need(&[&["needle"], &["other"]]), &|l| {
                l.contains("needle") && l.contains("other")
            }),
            (need(&[&["needle", "other"]]), &|l| {
                l.contains("needle") || l.contains("other")
            }),
            (need(&[&["absent"]]), &|l| l.contains("absent")),
        ] {
            let found = search_file(&path, &meta, &all, &Searcher::new(&words))
                .expect("search")
                .expect("searchable");
            let truth: Vec<usize> = (0..rows)
                .filter(|&i| line(i).is_some_and(|l| test(&l)))
                .collect();
            assert_eq!(rows_of(&found.plan, &meta), truth, "{version:?} {words:?}");
            assert_eq!(found.rows, truth.len());
            if truth.is_empty() {
                assert!(found.plan.row_group_indexes().is_empty());
            }
            assert!(found.bytes_read > 0);
        }
    }
}

#[test]
fn searches_only_the_planned_rows_and_reads_only_their_pages() {
    let dir = tempfile::tempdir().expect("dir");
    let path = write(
        dir.path(),
        WriterVersion::PARQUET_1_0,
        Encoding::PLAIN,
        5_000,
    );
    let meta = footer(&path);
    let searcher = Searcher::new(&need(&[&["needle"]]));
    let all = ParquetAccessPlan::new_all(meta.num_row_groups());
    let whole = search_file(&path, &meta, &all, &searcher)
        .expect("search")
        .expect("searchable");
    // Rows 1,000..1,300 of row group 1 and all of row group 3.
    let mut plan = ParquetAccessPlan::new_none(meta.num_row_groups());
    plan.set(
        1,
        RowGroupAccess::Selection(RowSelection::from(vec![
            RowSelector::select(300),
            RowSelector::skip(700),
        ])),
    );
    plan.scan(3);
    let part = search_file(&path, &meta, &plan, &searcher)
        .expect("search")
        .expect("searchable");
    let truth: Vec<usize> = rows_of(&whole.plan, &meta)
        .into_iter()
        .filter(|&r| (1000..1300).contains(&r) || (3000..4000).contains(&r))
        .collect();
    assert!(!truth.is_empty());
    assert_eq!(rows_of(&part.plan, &meta), truth);
    assert!(
        part.bytes_read * 3 < whole.bytes_read,
        "{} of {}",
        part.bytes_read,
        whole.bytes_read
    );
}

#[test]
fn gives_up_on_dictionaries_and_on_too_many_matches() {
    let dir = tempfile::tempdir().expect("dir");
    let searcher = Searcher::new(&need(&[&["needle"]]));
    for encoding in [Encoding::RLE_DICTIONARY, Encoding::DELTA_BYTE_ARRAY] {
        let path = write(dir.path(), WriterVersion::PARQUET_2_0, encoding, 2_000);
        let meta = footer(&path);
        let all = ParquetAccessPlan::new_all(meta.num_row_groups());
        let found = search_file(&path, &meta, &all, &searcher).expect("search");
        assert!(found.is_none(), "{encoding}");
    }
    let rows = 100_000;
    assert!((0..rows).filter(|&i| line(i).is_some()).count() > MAX_MATCHES);
    let path = write(
        dir.path(),
        WriterVersion::PARQUET_1_0,
        Encoding::PLAIN,
        rows,
    );
    let meta = footer(&path);
    let all = ParquetAccessPlan::new_all(meta.num_row_groups());
    let common = Searcher::new(&need(&[&["line"]]));
    assert!(
        search_file(&path, &meta, &all, &common)
            .expect("search")
            .is_none()
    );
}

#[test]
fn definition_levels_decode_runs_and_bit_packed_groups() {
    // A run of 3 ones, a run of 2 zeros, then one group of 8 packed: 0b1010_0110.
    let data = [3 << 1, 1, 2 << 1, 0, (1 << 1) | 1, 0b1010_0110];
    let levels = definition_levels(&data, 13).expect("levels");
    let expect = [
        true, true, true, false, false, false, true, true, false, false, true, false, true,
    ];
    assert_eq!(levels, expect);
    // Cut short: an error, not a panic.
    assert!(definition_levels(&data[..3], 13).is_err());
    assert!(definition_levels(&[0x80], 1).is_err());
}

#[test]
fn narrowing_to_services_keeps_only_their_rows() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("services.parquet");
    let schema = Arc::new(Schema::new(vec![
        Field::new("service_name", DataType::Utf8, false),
        Field::new("body", DataType::Utf8, true),
    ]));
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(1000))
        .set_data_page_row_count_limit(100)
        .set_write_batch_size(100)
        .set_column_dictionary_enabled(ColumnPath::from("body"), false)
        .build();
    let file = File::create(&path).expect("create");
    let mut w = ArrowWriter::try_new(file, schema.clone(), Some(props)).expect("writer");
    // Within each row group of 1,000: 300 rows of `a`, 700 of `b`.
    let service = |i: usize| if i % 1000 < 300 { "a" } else { "b" };
    let rows = 3_000;
    let names: Vec<&str> = (0..rows).map(service).collect();
    let lines: Vec<Option<String>> = (0..rows).map(line).collect();
    let cols: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(names)),
        Arc::new(StringArray::from(lines)),
    ];
    w.write(&RecordBatch::try_new(schema, cols).expect("batch"))
        .expect("write");
    w.close().expect("close");
    let meta = Arc::new(footer(&path));
    // Planned: row group 0 whole, rows 1,200..1,500 of row group 1.
    let mut plan = ParquetAccessPlan::new_none(meta.num_row_groups());
    plan.scan(0);
    plan.set(
        1,
        RowGroupAccess::Selection(RowSelection::from(vec![
            RowSelector::skip(200),
            RowSelector::select(300),
            RowSelector::skip(500),
        ])),
    );
    let narrowed =
        narrow_to_services(&path, &arrow(&meta), plan, &["a".to_owned()]).expect("narrow");
    let want: Vec<usize> = (0..300).chain(1200..1300).collect();
    assert_eq!(rows_of(&narrowed, &meta), want);
    let found = search_file(
        &path,
        &meta,
        &narrowed,
        &Searcher::new(&need(&[&["needle"]])),
    )
    .expect("search")
    .expect("searchable");
    let truth: Vec<usize> = want
        .into_iter()
        .filter(|&i| line(i).is_some_and(|l| l.contains("needle")))
        .collect();
    assert!(!truth.is_empty());
    assert_eq!(rows_of(&found.plan, &meta), truth);
    assert!(found.lines.iter().all(|l| l.contains("needle")));
    // A file without the column: the plan as it was.
    let other = write(
        dir.path(),
        WriterVersion::PARQUET_1_0,
        Encoding::PLAIN,
        1_000,
    );
    let other_meta = Arc::new(footer(&other));
    let all = ParquetAccessPlan::new_all(1);
    let same =
        narrow_to_services(&other, &arrow(&other_meta), all, &["a".to_owned()]).expect("narrow");
    assert_eq!(rows_of(&same, &other_meta), (0..1000).collect::<Vec<_>>());
}

#[test]
fn a_file_without_offset_index_is_read_on_demand() {
    use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    let dir = tempfile::tempdir().expect("dir");
    let path = write(
        dir.path(),
        WriterVersion::PARQUET_1_0,
        Encoding::PLAIN,
        20_000,
    );
    // Without the page index the parquet crate reads through `get_read`.
    let pread = Pread::open(&path).expect("open");
    let reader = ParquetRecordBatchReaderBuilder::try_new(pread.clone())
        .expect("footer")
        .with_row_groups(vec![2])
        .build()
        .expect("reader");
    let mut lines = Vec::new();
    for batch in reader {
        let batch = batch.expect("batch");
        let body = batch.column(1).as_string::<i32>();
        lines.extend(
            (0..batch.num_rows()).map(|i| body.is_valid(i).then(|| body.value(i).to_owned())),
        );
    }
    assert_eq!(lines, (2_000..3_000).map(line).collect::<Vec<_>>());
    // One row group of twenty (and the footer), not the rest of the file from each page.
    let len = std::fs::metadata(&path).expect("stat").len();
    assert!(pread.read() * 2 < len, "{} of {len}", pread.read());
}
