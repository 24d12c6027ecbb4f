//! Histograms files: bit-exact round trips, the pruned reader, the compaction merge and the
//! filtered rewrite; DuckDB and pyarrow reading a file ([`python`]); the size probe
//! ([`size`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use parquet::basic::Encoding;
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::file::serialized_reader::ReadOptionsBuilder;

use super::merge::{merge_files, rewrite_file};
use super::read::read_histograms;
use super::rows::{RowsBuilder, decode, write_runs};
use super::*;
use crate::model::histogram::{Counts, Histogram, HistogramSample, ResetHint, Span};
use crate::model::series::SeriesId;
use crate::storage::parquet_io::{WrittenBy, open_batches};

mod python;
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

fn write(path: &Path, by: WrittenBy, runs: &[(SeriesId, Vec<HistogramSample>)]) -> u64 {
    let refs: Vec<(SeriesId, &[HistogramSample])> =
        runs.iter().map(|(id, s)| (*id, &s[..])).collect();
    write_runs(path, by, &refs).expect("write")
}

fn all_rows(path: &Path) -> Vec<(SeriesId, i64, String)> {
    let mut out = Vec::new();
    for b in open_batches(path).expect("open") {
        for (id, s) in decode(&b.expect("batch"), path).expect("decode") {
            out.push((id, s.ts, bits(&s.h)));
        }
    }
    out
}

fn flat(runs: &[(SeriesId, Vec<HistogramSample>)]) -> Vec<(SeriesId, i64, String)> {
    runs.iter()
        .flat_map(|(id, s)| s.iter().map(move |s| (*id, s.ts, bits(&s.h))))
        .collect()
}

#[test]
fn round_trip_is_bit_exact_across_batches_and_pages() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(file_name(7, false));
    // 5 series x 2,000 rows: several writer batches (8,192 rows) and pages (1,024 rows).
    let runs = runs(5, 2_000);
    write(&path, WrittenBy::Flush, &runs);
    let got = all_rows(&path);
    assert_eq!(got.len(), 10_000);
    assert!(got == flat(&runs), "rows differ from what was written");
    // The stale marker's exact NaN payload came back.
    let stale = got
        .iter()
        .find(|r| r.0 == 10 && r.1 == 1_000 + 15_000)
        .expect("series 10's second row");
    assert!(stale.2.contains(&STALE_NAN.to_string()), "{}", stale.2);
}

#[test]
fn the_file_declares_the_schema_encodings_and_sort_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("h.parquet");
    write(&path, WrittenBy::Compaction, &runs(3, 50));
    let file = std::fs::File::open(&path).expect("open");
    let options = ReadOptionsBuilder::new().with_page_index().build();
    let reader = SerializedFileReader::new_with_options(file, options).expect("reader");
    let md = reader.metadata();
    let rg = md.row_group(0);
    let sorting = rg.sorting_columns().expect("sorting columns");
    assert_eq!(
        sorting.iter().map(|c| c.column_idx).collect::<Vec<_>>(),
        [0, 1]
    );
    let enc = |name: &str| {
        rg.columns()
            .iter()
            .find(|c| c.column_path().string() == name)
            .unwrap_or_else(|| panic!("no column {name}"))
            .encodings()
            .collect::<Vec<_>>()
    };
    assert!(enc("ts").contains(&Encoding::DELTA_BINARY_PACKED));
    assert!(enc("sum").contains(&Encoding::BYTE_STREAM_SPLIT));
    assert!(enc("positive_deltas.list.item").contains(&Encoding::DELTA_BINARY_PACKED));
    assert!(enc("positive_counts.list.item").contains(&Encoding::BYTE_STREAM_SPLIT));
    assert!(enc("positive_spans.list.item.offset").contains(&Encoding::DELTA_BINARY_PACKED));
    assert!(enc("schema").contains(&Encoding::RLE_DICTIONARY));
    assert!(!enc("series_id").contains(&Encoding::RLE_DICTIONARY));
    // The file records zstd but not its level: the writer's properties carry that (flush 3,
    // compaction 12, as the samples files beside them).
    assert!(matches!(
        rg.column(0).compression(),
        parquet::basic::Compression::ZSTD(_)
    ));
    let level = |by| match histograms_props(by).compression(&ColumnPath::from("sum")) {
        parquet::basic::Compression::ZSTD(l) => l.compression_level(),
        other => panic!("not zstd: {other:?}"),
    };
    assert_eq!(
        (level(WrittenBy::Flush), level(WrittenBy::Compaction)),
        (3, 12)
    );
    assert!(md.column_index().is_some() && md.offset_index().is_some());
    let arrow = parquet::arrow::parquet_to_arrow_schema(
        md.file_metadata().schema_descr(),
        md.file_metadata().key_value_metadata(),
    )
    .expect("arrow schema");
    assert_eq!(arrow.fields(), histograms_schema().fields());
}

#[test]
fn the_reader_returns_the_wanted_series_and_range_and_skips_pages() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("h.parquet");
    let runs = runs(40, 1_000);
    write(&path, WrittenBy::Flush, &runs);
    let (lo, hi) = (1_000 + 100 * 15_000, 1_000 + 199 * 15_000);
    let ids = [30, 310];
    let mut got = Vec::new();
    let stats = read_histograms(&path, &ids, lo, hi, |id, s| {
        got.push((id, s.ts, bits(&s.h)))
    })
    .expect("read");
    let want: Vec<_> = flat(&runs)
        .into_iter()
        .filter(|r| ids.contains(&r.0) && (lo..=hi).contains(&r.1))
        .collect();
    assert_eq!(want.len(), 200);
    assert!(got == want, "wrong rows: {} of {}", got.len(), want.len());
    assert_eq!(stats.samples, 200);
    // 40,000 rows in pages of 1,024: the two series' 100-row slices touch at most 4 pages.
    assert!(stats.rows_decoded <= 4 * 1_024, "{stats:?}");
    // An id between two stored ones, and a range before the data: nothing, nothing read.
    let none = read_histograms(&path, &[15], 0, i64::MAX, |_, _| panic!("no row")).expect("read");
    assert_eq!(none.samples, 0);
    let none = read_histograms(&path, &[10], -10, 999, |_, _| panic!("no row")).expect("read");
    assert_eq!(none.rows_decoded, 0);
}

#[test]
fn merge_sorts_and_keeps_the_oldest_flush_on_duplicates() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = |n: &str| dir.path().join(n);
    // Oldest flush: series 10 at t=0,30 and 20 at t=0. Newer: 10 at t=15,30 (30 again,
    // other value), 5 at 0. Newest: 20 at t=0 (again) and 40.
    let a = vec![
        (10, vec![sample(0, int_h(1)), sample(30, int_h(2))]),
        (20, vec![sample(0, int_h(3))]),
    ];
    let b = vec![
        (5, vec![sample(0, odd_ones()[3].clone())]),
        (10, vec![sample(15, int_h(4)), sample(30, int_h(99))]),
    ];
    let c = vec![(
        20,
        vec![sample(0, odd_ones()[0].clone()), sample(40, int_h(6))],
    )];
    write(&p("a"), WrittenBy::Flush, &a);
    write(&p("b"), WrittenBy::Flush, &b);
    write(&p("c"), WrittenBy::Flush, &c);
    let out = p(&file_name(9, true));
    let done = merge_files(&[p("a"), p("b"), p("c")], &out, WrittenBy::Compaction)
        .expect("merge")
        .expect("rows");
    let h = |x: &Histogram| bits(x);
    let want = vec![
        (5, 0, h(&odd_ones()[3])),
        (10, 0, h(&int_h(1))),
        (10, 15, h(&int_h(4))),
        (10, 30, h(&int_h(2))),
        (20, 0, h(&int_h(3))),
        (20, 40, h(&int_h(6))),
    ];
    assert_eq!(all_rows(&out), want);
    assert_eq!(
        (done.rows_in, done.rows_out, done.min_ts, done.max_ts),
        (8, 6, 0, 40)
    );
    assert_eq!(done.bytes, std::fs::metadata(&out).expect("out").len());
}

#[test]
fn merge_of_many_batches_equals_the_sorted_union() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Three files of interleaved series (ids 10..400 step 10 split by residue), each
    // larger than a merge batch, so outputs are cut while inputs refill.
    let all = runs(40, 300);
    let mut inputs: Vec<PathBuf> = Vec::new();
    for r in 0..3u64 {
        let part: Vec<_> = all
            .iter()
            .filter(|(id, _)| (id / 10) % 3 == r)
            .cloned()
            .collect();
        let path = dir.path().join(format!("in{r}"));
        write(&path, WrittenBy::Flush, &part);
        inputs.push(path);
    }
    let out = dir.path().join("out");
    let done = merge_files(&inputs, &out, WrittenBy::Compaction)
        .expect("merge")
        .expect("rows");
    assert_eq!((done.rows_in, done.rows_out), (12_000, 12_000));
    assert!(
        all_rows(&out) == flat(&all),
        "merged rows differ from the union"
    );
}

#[test]
fn rewrite_keeps_the_matching_rows_or_writes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("in");
    let all = runs(4, 100);
    write(&input, WrittenBy::Compaction, &all);
    let out = dir.path().join("out");
    let cut = 1_000 + 50 * 15_000;
    let done = rewrite_file(&input, &out, WrittenBy::Compaction, |id, ts| {
        id != 20 && ts >= cut
    })
    .expect("rewrite")
    .expect("rows");
    let want: Vec<_> = flat(&all)
        .into_iter()
        .filter(|r| r.0 != 20 && r.1 >= cut)
        .collect();
    assert_eq!(want.len(), 150);
    assert_eq!(all_rows(&out), want);
    assert_eq!((done.rows_in, done.rows_out, done.min_ts), (400, 150, cut));
    let empty = dir.path().join("empty");
    let none = rewrite_file(&input, &empty, WrittenBy::Compaction, |_, _| false).expect("rewrite");
    assert!(none.is_none() && !empty.exists());
    assert!(!dir.path().join("empty.parquet.tmp").exists());
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
