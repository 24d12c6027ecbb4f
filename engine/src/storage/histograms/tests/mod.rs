//! Histograms and bucket files: bit-exact round trips, the pruned reader, the compaction
//! merge and the filtered rewrite, inconsistent files ([`broken`]); DuckDB and pyarrow
//! reading both files ([`python`]); the size probes ([`size`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use parquet::basic::Encoding;
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::file::serialized_reader::ReadOptionsBuilder;

use super::merge::{Done, Input, merge_files, rewrite_files};
use super::read::{Footers, Read, ReadStats, read_histograms, read_histograms_cached};
use super::rows::{RowsBuilder, decode};
use super::write::{Written, write_runs};
use super::*;
use crate::model::histogram::{Counts, Histogram, HistogramSample, ResetHint, Span};
use crate::model::series::SeriesId;
use crate::storage::parquet_io::{WrittenBy, open_batches};

mod broken;
mod python;
mod reassembly;
mod repeats;
mod size;

/// Prometheus's stale marker (`model/value.StaleNaN`).
const STALE_NAN: u64 = 0x7ff0_0000_0000_0002;

fn spans(v: &[(i32, u32)]) -> Vec<Span> {
    v.iter()
        .map(|&(offset, length)| Span { offset, length })
        .collect()
}

/// An integer histogram of schema 3 whose counts grow with `k`.
fn int_h(k: i64) -> Histogram {
    let deltas = vec![k + 1, 2, -1, 0, 3];
    let negs = vec![k % 4];
    let buckets: i64 = {
        let mut run = 0;
        deltas
            .iter()
            .map(|d| {
                run += d;
                run
            })
            .sum::<i64>()
    } + k % 4;
    Histogram {
        schema: 3,
        zero_threshold: 1e-128,
        sum: k as f64 * 1.5,
        reset_hint: ResetHint::NotReset,
        positive_spans: spans(&[(-2, 3), (4, 2)]),
        negative_spans: spans(&[(1, 1)]),
        custom_values: Vec::new(),
        counts: Counts::Int {
            count: (buckets + 7) as u64,
            zero_count: 7,
            positive_deltas: deltas,
            negative_deltas: negs,
        },
    }
}

/// Histograms that test every column's edge: float counts, NaN and stale sums, -0.0,
/// schema -53 with bounds, no buckets, every reset hint, schema -4 and 8.
fn odd_ones() -> Vec<Histogram> {
    let float = Histogram {
        schema: -4,
        zero_threshold: -0.0,
        sum: -0.0,
        reset_hint: ResetHint::Gauge,
        positive_spans: spans(&[(0, 2)]),
        negative_spans: spans(&[(-3, 1), (0, 0)]),
        custom_values: Vec::new(),
        counts: Counts::Float {
            count: 3.5,
            zero_count: -0.0,
            positive: vec![0.5, f64::MIN_POSITIVE],
            negative: vec![3.0],
        },
    };
    let stale = Histogram {
        sum: f64::from_bits(STALE_NAN),
        reset_hint: ResetHint::Unknown,
        ..int_h(3)
    };
    let nan = Histogram {
        schema: 8,
        sum: f64::NAN,
        reset_hint: ResetHint::Reset,
        ..int_h(9)
    };
    let custom = Histogram {
        schema: -53,
        zero_threshold: 0.0,
        sum: 12.25,
        reset_hint: ResetHint::NotReset,
        positive_spans: spans(&[(0, 2), (1, 1)]),
        negative_spans: Vec::new(),
        custom_values: vec![0.1, 0.25, 1.0, 2.5],
        counts: Counts::Int {
            count: 9,
            zero_count: 0,
            positive_deltas: vec![4, -2, 1],
            negative_deltas: Vec::new(),
        },
    };
    let empty = Histogram {
        schema: 0,
        zero_threshold: 0.001,
        sum: 0.0,
        reset_hint: ResetHint::Unknown,
        positive_spans: Vec::new(),
        negative_spans: Vec::new(),
        custom_values: Vec::new(),
        counts: Counts::Float {
            count: f64::from_bits(STALE_NAN),
            zero_count: 0.0,
            positive: Vec::new(),
            negative: Vec::new(),
        },
    };
    vec![float, stale, nan, custom, empty]
}

/// Everything of a histogram, floats as their bits: equal iff bit-exact.
fn bits(h: &Histogram) -> String {
    let f = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    let counts = match &h.counts {
        Counts::Int {
            count,
            zero_count,
            positive_deltas,
            negative_deltas,
        } => format!("int {count} {zero_count} {positive_deltas:?} {negative_deltas:?}"),
        Counts::Float {
            count,
            zero_count,
            positive,
            negative,
        } => format!(
            "float {} {} {:?} {:?}",
            count.to_bits(),
            zero_count.to_bits(),
            f(positive),
            f(negative)
        ),
    };
    format!(
        "{} {} {} {:?} {:?} {:?} {:?} {counts}",
        h.schema,
        h.zero_threshold.to_bits(),
        h.sum.to_bits(),
        h.reset_hint,
        h.positive_spans,
        h.negative_spans,
        f(&h.custom_values),
    )
}

fn sample(ts: i64, h: Histogram) -> HistogramSample {
    HistogramSample { ts, h: Arc::new(h) }
}

/// `n` series (ids 10, 20, ...) of `per` samples each, 15 s apart, the odd ones mixed in.
fn runs(n: u64, per: i64) -> Vec<(SeriesId, Vec<HistogramSample>)> {
    let odd = odd_ones();
    (1..=n)
        .map(|s| {
            let samples = (0..per)
                .map(|i| {
                    let h = if (i as usize) < odd.len() && s % 2 == 1 {
                        odd[i as usize].clone()
                    } else {
                        int_h(i + s as i64)
                    };
                    sample(1_000 + i * 15_000, h)
                })
                .collect();
            (s * 10, samples)
        })
        .collect()
}

/// A set's two files in `dir`, named by `name`.
fn set(dir: &Path, name: &str) -> Input {
    Input {
        histograms: dir.join(format!("{name}.h.parquet")),
        buckets: Some(dir.join(format!("{name}.b.parquet"))),
    }
}

/// Writes `runs` to `files`; drops `files.buckets` if no bucket file was written.
fn write(files: &mut Input, by: WrittenBy, runs: &[(SeriesId, Vec<HistogramSample>)]) -> Written {
    let refs: Vec<(SeriesId, &[HistogramSample])> =
        runs.iter().map(|(id, s)| (*id, &s[..])).collect();
    let b = files.buckets.clone().expect("a bucket path");
    let w = write_runs(&files.histograms, &b, by, &refs).expect("write");
    if w.bucket_rows == 0 {
        assert!(!b.exists(), "no bucket rows, yet a bucket file");
        files.buckets = None;
    }
    w
}

/// Every series id of a histograms file.
fn ids_in(path: &Path) -> Vec<SeriesId> {
    let mut ids = Vec::new();
    for b in super::repeat::read_full(path).expect("read") {
        for (id, _, _) in decode(&b, path).expect("decode") {
            if ids.last() != Some(&id) {
                ids.push(id);
            }
        }
    }
    ids
}

/// A sample as (series, ts, [`bits`]).
type Row = (SeriesId, i64, String);

/// Reads `ids` in `[lo, hi]` from `files`, checking that a read in runs mode (runs
/// expanded) gives the same samples, or fails with the same error.
fn read(files: &Input, ids: &[SeriesId], lo: i64, hi: i64) -> crate::Result<(Vec<Row>, ReadStats)> {
    let mut out = Vec::new();
    let plain = read_histograms(
        &files.histograms,
        files.buckets.as_deref(),
        ids,
        lo,
        hi,
        |id, s| out.push((id, s.ts, bits(&s.h))),
    );
    let mut runs = Vec::new();
    let in_runs = read_histograms_cached(
        &files.histograms,
        files.buckets.as_deref(),
        &Footers::default(),
        (ids, lo, hi),
        true,
        |id, r| match r {
            Read::Sample(s) => runs.push((id, s.ts, bits(&s.h))),
            Read::Run(r) => runs.extend(r.samples().map(|s| (id, s.ts, bits(&s.h)))),
        },
    );
    match (&plain, &in_runs) {
        (Ok(a), Ok(b)) => assert_eq!((&out, a), (&runs, b), "runs mode"),
        (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "runs mode"),
        _ => panic!("runs mode: {plain:?} against {in_runs:?}"),
    }
    Ok((out, plain?))
}

/// Every sample of `files`, reassembled.
fn all_rows(files: &Input) -> Vec<(SeriesId, i64, String)> {
    read(files, &ids_in(&files.histograms), i64::MIN, i64::MAX)
        .expect("read")
        .0
}

fn flat(runs: &[(SeriesId, Vec<HistogramSample>)]) -> Vec<(SeriesId, i64, String)> {
    runs.iter()
        .flat_map(|(id, s)| s.iter().map(move |s| (*id, s.ts, bits(&s.h))))
        .collect()
}

/// Buckets (spans' bucket count) of a histogram.
fn bucket_count(h: &Histogram) -> u64 {
    h.positive_spans
        .iter()
        .chain(&h.negative_spans)
        .map(|s| u64::from(s.length))
        .sum()
}

#[test]
fn round_trip_is_bit_exact_across_batches_and_pages() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut files = Input {
        histograms: dir.path().join(file_name(7, WrittenBy::Flush)),
        buckets: Some(dir.path().join(buckets_file_name(7, WrittenBy::Flush))),
    };
    // 5 series x 2,000 rows: two writer batches (8,192 rows) and pages (8,192 rows);
    // ~60,000 bucket rows: several bucket pages (16,384 rows).
    let runs = runs(5, 2_000);
    let w = write(&mut files, WrittenBy::Flush, &runs);
    let want_buckets: u64 = runs
        .iter()
        .flat_map(|(_, s)| s.iter().map(|s| bucket_count(&s.h)))
        .sum();
    assert_eq!((w.rows, w.bucket_rows), (10_000, want_buckets));
    assert_eq!(
        w.bucket_bytes,
        std::fs::metadata(files.buckets.as_ref().expect("buckets"))
            .expect("size")
            .len()
    );
    let got = all_rows(&files);
    assert_eq!(got.len(), 10_000);
    assert!(got == flat(&runs), "samples differ from what was written");
    // The stale marker's exact NaN payload came back.
    let stale = got
        .iter()
        .find(|r| r.0 == 10 && r.1 == 1_000 + 15_000)
        .expect("series 10's second row");
    assert!(stale.2.contains(&STALE_NAN.to_string()), "{}", stale.2);
}

#[test]
fn histograms_without_buckets_need_no_bucket_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut files = set(dir.path(), "e");
    let empty = odd_ones()[4].clone();
    assert_eq!(bucket_count(&empty), 0);
    let runs = vec![(3, vec![sample(1, empty.clone()), sample(2, empty)])];
    let w = write(&mut files, WrittenBy::Flush, &runs);
    assert_eq!((w.rows, w.bucket_rows, w.bucket_bytes), (2, 0, 0));
    assert_eq!(files.buckets, None);
    assert_eq!(all_rows(&files), flat(&runs));
}

/// The column chunk metadata of `name` in the first row group of the file at `path`.
fn encodings(path: &Path, name: &str) -> Vec<Encoding> {
    let file = std::fs::File::open(path).expect("open");
    let reader = SerializedFileReader::new(file).expect("reader");
    let rg = reader.metadata().row_group(0);
    rg.columns()
        .iter()
        .find(|c| c.column_path().string() == name)
        .unwrap_or_else(|| panic!("no column {name}"))
        .encodings()
        .collect()
}

/// The sorting columns, page index presence and Arrow schema of the file at `path`.
fn layout(path: &Path) -> (Vec<i32>, bool, arrow::datatypes::Fields) {
    let file = std::fs::File::open(path).expect("open");
    let options = ReadOptionsBuilder::new().with_page_index().build();
    let reader = SerializedFileReader::new_with_options(file, options).expect("reader");
    let md = reader.metadata();
    let rg = md.row_group(0);
    let sorting = rg.sorting_columns().expect("sorting columns");
    assert!(matches!(
        rg.column(0).compression(),
        parquet::basic::Compression::ZSTD(_)
    ));
    let arrow = parquet::arrow::parquet_to_arrow_schema(
        md.file_metadata().schema_descr(),
        md.file_metadata().key_value_metadata(),
    )
    .expect("arrow schema");
    (
        sorting.iter().map(|c| c.column_idx).collect(),
        md.column_index().is_some() && md.offset_index().is_some(),
        arrow.fields().clone(),
    )
}

#[test]
fn the_files_declare_their_schema_encodings_and_sort_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut files = set(dir.path(), "s");
    write(&mut files, WrittenBy::Compaction, &runs(3, 50));
    let (h, b) = (&files.histograms, files.buckets.as_ref().expect("buckets"));
    let (sorting, page_index, fields) = layout(h);
    assert_eq!(sorting, [0, 1]);
    assert!(page_index);
    assert_eq!(&fields, super::repeat::file_schema().fields());
    let file = std::fs::File::open(h).expect("open");
    let footer = parquet::file::reader::SerializedFileReader::new(file).expect("footer");
    let meta = parquet::file::reader::FileReader::metadata(&footer).file_metadata();
    assert_eq!(super::repeat::version(meta, h).expect("version"), 2);
    assert!(
        !fields
            .iter()
            .any(|f| f.name().contains("deltas") || f.name().contains("counts")),
        "bucket counts belong in the bucket file"
    );
    // The bucket file: sorted by (series_id, negative, bucket, ts).
    let (sorting, page_index, fields) = layout(b);
    assert_eq!(sorting, [0, 2, 3, 1]);
    assert!(page_index);
    assert_eq!(&fields, buckets_schema().fields());
    assert!(encodings(h, "ts").contains(&Encoding::DELTA_BINARY_PACKED));
    assert!(encodings(h, "sum").contains(&Encoding::BYTE_STREAM_SPLIT));
    assert!(
        encodings(h, "positive_spans.list.item.offset").contains(&Encoding::DELTA_BINARY_PACKED)
    );
    assert!(encodings(h, "schema").contains(&Encoding::RLE_DICTIONARY));
    assert!(!encodings(h, "series_id").contains(&Encoding::RLE_DICTIONARY));
    for c in ["ts", "bucket", "count"] {
        assert!(
            encodings(b, c).contains(&Encoding::DELTA_BINARY_PACKED),
            "{c}"
        );
    }
    assert!(encodings(b, "count_float").contains(&Encoding::BYTE_STREAM_SPLIT));
    assert!(encodings(b, "negative").contains(&Encoding::RLE));
    assert!(!encodings(b, "series_id").contains(&Encoding::RLE_DICTIONARY));
    // The file records zstd but not its level: the writer's properties carry that (flush 3,
    // compaction 12, as the samples files beside them).
    let level = |props: WriterProperties, col: &str| match props.compression(&ColumnPath::from(col))
    {
        parquet::basic::Compression::ZSTD(l) => l.compression_level(),
        other => panic!("not zstd: {other:?}"),
    };
    assert_eq!(
        (
            level(histograms_props(WrittenBy::Flush), "sum"),
            level(histograms_props(WrittenBy::Compaction), "sum"),
            level(buckets_props(WrittenBy::Flush, BUCKETS_PAGE_ROWS), "count"),
            level(
                buckets_props(WrittenBy::Compaction, BUCKETS_PAGE_ROWS),
                "count"
            ),
        ),
        (3, 12, 3, 12)
    );
}

#[test]
fn the_reader_returns_the_wanted_series_and_range_and_skips_pages() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut files = set(dir.path(), "r");
    let runs = runs(40, 1_000);
    let w = write(&mut files, WrittenBy::Flush, &runs);
    let (lo, hi) = (1_000 + 100 * 15_000, 1_000 + 199 * 15_000);
    let ids = [30, 310];
    let (got, stats) = read(&files, &ids, lo, hi).expect("read");
    let want: Vec<_> = flat(&runs)
        .into_iter()
        .filter(|r| ids.contains(&r.0) && (lo..=hi).contains(&r.1))
        .collect();
    assert_eq!(want.len(), 200);
    assert!(got == want, "wrong rows: {} of {}", got.len(), want.len());
    assert_eq!(stats.samples, 200);
    // 40,000 rows in pages of 8,192: each series' 100-row slice lies in one page.
    assert!(
        stats.rows_decoded <= 2 * HISTOGRAMS_PAGE_ROWS as u64,
        "{stats:?}"
    );
    // ~240,000 bucket rows, ~6,000 per series, in pages of 16,384: at most 2 pages each.
    assert!(w.bucket_rows > 200_000, "{w:?}");
    assert!(
        stats.bucket_rows_decoded <= 4 * BUCKETS_PAGE_ROWS as u64,
        "{stats:?}"
    );
    // An id between two stored ones, and a range before the data: nothing, nothing read.
    let (none, stats) = read(&files, &[15], 0, i64::MAX).expect("read");
    assert!(none.is_empty() && stats.samples == 0);
    let (none, stats) = read(&files, &[10], -10, 999).expect("read");
    assert!(none.is_empty());
    assert_eq!((stats.rows_decoded, stats.bucket_rows_decoded), (0, 0));
}

/// `int_h(k)` with more buckets: spans (-2, 4), (4, 3) and a second negative bucket.
fn wide_h(k: i64) -> Histogram {
    Histogram {
        positive_spans: spans(&[(-2, 4), (4, 3)]),
        negative_spans: spans(&[(1, 2)]),
        counts: Counts::Int {
            count: 100,
            zero_count: 7,
            positive_deltas: vec![k, 1, 1, 1, 1, 1, 1],
            negative_deltas: vec![2, 5],
        },
        ..int_h(k)
    }
}

#[test]
fn merge_sorts_and_keeps_the_oldest_flush_with_its_buckets_on_duplicates() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Oldest flush: series 10 at t=0,30 and 20 at t=0. Newer: 10 at t=15,30 (30 again,
    // more buckets), 5 at 0. Newest: 20 at t=0 (again, a float histogram with other
    // buckets) and 40, and 10 at t=0 with no buckets at all.
    let a = vec![
        (10, vec![sample(0, int_h(1)), sample(30, int_h(2))]),
        (20, vec![sample(0, int_h(3))]),
    ];
    let b = vec![
        (5, vec![sample(0, odd_ones()[3].clone())]),
        (10, vec![sample(15, int_h(4)), sample(30, wide_h(99))]),
    ];
    let c = vec![
        (10, vec![sample(0, odd_ones()[4].clone())]),
        (
            20,
            vec![sample(0, odd_ones()[0].clone()), sample(40, wide_h(6))],
        ),
    ];
    let mut inputs = Vec::new();
    for (name, runs) in [("a", &a), ("b", &b), ("c", &c)] {
        let mut files = set(dir.path(), name);
        write(&mut files, WrittenBy::Flush, runs);
        inputs.push(files);
    }
    let out = set(dir.path(), "out");
    let out_b = out.buckets.clone().expect("path");
    let done = merge_files(&inputs, &out.histograms, &out_b, WrittenBy::Compaction).expect("merge");
    let want = [
        (5, 0, odd_ones()[3].clone()),
        (10, 0, int_h(1)),
        (10, 15, int_h(4)),
        (10, 30, int_h(2)),
        (20, 0, int_h(3)),
        (20, 40, wide_h(6)),
    ];
    let want_rows: Vec<_> = want.iter().map(|(id, ts, h)| (*id, *ts, bits(h))).collect();
    assert_eq!(all_rows(&out), want_rows);
    let h = done.histograms.expect("histograms");
    assert_eq!((h.rows_in, h.rows_out, h.min_ts, h.max_ts), (9, 6, 0, 40));
    assert_eq!(
        h.bytes,
        std::fs::metadata(&out.histograms).expect("out").len()
    );
    // Exactly the winners' buckets: the losers' (wide_h(99): 9, the float one: 3) are gone.
    let bk = done.buckets.expect("buckets");
    let all_in: u64 = [&a, &b, &c]
        .iter()
        .flat_map(|r| {
            r.iter()
                .flat_map(|(_, s)| s.iter().map(|s| bucket_count(&s.h)))
        })
        .sum();
    let kept: u64 = want.iter().map(|(_, _, h)| bucket_count(h)).sum();
    assert_eq!((bk.rows_in, bk.rows_out), (all_in, kept));
    assert_eq!(bk.bytes, std::fs::metadata(&out_b).expect("out").len());
}

#[test]
fn merge_of_many_batches_equals_the_sorted_union() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Three sets of interleaved series (ids 10..400 step 10 split by residue), each
    // larger than a merge batch, so outputs are cut while inputs refill.
    let all = runs(40, 300);
    let mut inputs = Vec::new();
    for r in 0..3u64 {
        let part: Vec<_> = all
            .iter()
            .filter(|(id, _)| (id / 10) % 3 == r)
            .cloned()
            .collect();
        let mut files = set(dir.path(), &format!("in{r}"));
        write(&mut files, WrittenBy::Flush, &part);
        inputs.push(files);
    }
    let out = set(dir.path(), "out");
    let done = merge_files(
        &inputs,
        &out.histograms,
        out.buckets.as_deref().expect("path"),
        WrittenBy::Compaction,
    )
    .expect("merge");
    let h = done.histograms.expect("rows");
    assert_eq!((h.rows_in, h.rows_out), (12_000, 12_000));
    let b = done.buckets.expect("bucket rows");
    assert_eq!(b.rows_in, b.rows_out);
    assert!(
        all_rows(&out) == flat(&all),
        "merged rows differ from the union"
    );
}

#[test]
fn rewrite_keeps_the_matching_rows_of_both_files_or_writes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut input = set(dir.path(), "in");
    let all = runs(4, 100);
    write(&mut input, WrittenBy::Compaction, &all);
    let out = set(dir.path(), "out");
    let out_b = out.buckets.clone().expect("path");
    let cut = 1_000 + 50 * 15_000;
    let done = rewrite_files(
        &input,
        &out.histograms,
        &out_b,
        WrittenBy::Compaction,
        |id, ts| id != 20 && ts >= cut,
    )
    .expect("rewrite");
    let kept: Vec<_> = all
        .iter()
        .flat_map(|(id, s)| s.iter().map(move |s| (*id, s)))
        .filter(|(id, s)| *id != 20 && s.ts >= cut)
        .collect();
    assert_eq!(kept.len(), 150);
    let want: Vec<_> = kept.iter().map(|(id, s)| (*id, s.ts, bits(&s.h))).collect();
    assert_eq!(all_rows(&out), want);
    let h = done.histograms.expect("rows");
    assert_eq!((h.rows_in, h.rows_out, h.min_ts), (400, 150, cut));
    let b = done.buckets.expect("bucket rows");
    let kept_buckets: u64 = kept.iter().map(|(_, s)| bucket_count(&s.h)).sum();
    assert_eq!((b.rows_out, b.min_ts), (kept_buckets, cut));
    let empty = set(dir.path(), "empty");
    let none = rewrite_files(
        &input,
        &empty.histograms,
        empty.buckets.as_deref().expect("path"),
        WrittenBy::Compaction,
        |_, _| false,
    )
    .expect("rewrite");
    assert_eq!(none, Done::default());
    assert!(!empty.histograms.exists() && !empty.buckets.expect("path").exists());
}

#[test]
fn a_damaged_row_is_an_error_naming_the_row() {
    let mut b = RowsBuilder::new();
    b.push(7, 5, &int_h(1)).expect("push");
    let batch = b.finish().expect("batch");
    // reset_hint 9 is not a hint.
    let mut cols = batch.columns().to_vec();
    cols[3] = Arc::new(arrow::array::UInt8Array::from(vec![9u8]));
    let bad = arrow::record_batch::RecordBatch::try_new(batch.schema(), cols).expect("batch");
    let err = decode(&bad, Path::new("x.parquet")).expect_err("refused");
    let msg = err.to_string();
    assert!(
        msg.contains("series 7 at 5") && msg.contains("reset_hint"),
        "{msg}"
    );
    // A schema beyond i8 cannot be stored.
    let wide = Histogram {
        schema: 200,
        ..int_h(1)
    };
    assert!(RowsBuilder::new().push(1, 1, &wide).is_err());
}
