//! Lists stored once per run (histograms files of version 2, [`super::super::repeat`]): a
//! row repeating the lists of the row before it in its series stores them as nulls, and
//! every reader (windows starting anywhere, across batches and pages, the merges of
//! compaction and deletes) gives the samples as written; version 1 files (lists in every
//! row) read as before and compact into version 2.

use arrow::array::{Array, ListArray};

use super::super::repeat::{Compact, VERSION, file_schema, version};
use super::*;
use crate::storage::parquet_io::DurableWriter;

/// `n` samples every 15 s from 0, their layout flipping between `int_h` and `wide_h` at
/// each index in `cuts`.
fn changing(n: i64, cuts: &[i64]) -> Vec<HistogramSample> {
    (0..n)
        .map(|i| {
            let flips = cuts.iter().filter(|&&c| i >= c).count();
            let h = if flips % 2 == 0 { int_h(i) } else { wide_h(i) };
            sample(i * 15_000, h)
        })
        .collect()
}

/// Rows of the histograms file at `path` that hold their lists (not repeats), and its
/// format version.
fn stored_lists(path: &Path) -> (usize, u32) {
    let mut full = 0;
    for b in open_batches(path).expect("open") {
        let b = b.expect("batch");
        let l = b
            .column_by_name("positive_spans")
            .and_then(|c| c.as_any().downcast_ref::<ListArray>())
            .expect("positive_spans");
        full += l.len() - l.null_count();
    }
    let file = std::fs::File::open(path).expect("open");
    let footer = SerializedFileReader::new(file).expect("footer");
    (
        full,
        version(footer.metadata().file_metadata(), path).expect("version"),
    )
}

/// Every sample of `runs` of a series in `ids` in `[lo, hi]`.
fn wanted(
    runs: &[(SeriesId, Vec<HistogramSample>)],
    ids: &[SeriesId],
    lo: i64,
    hi: i64,
) -> Vec<Row> {
    flat(runs)
        .into_iter()
        .filter(|r| ids.contains(&r.0) && (lo..=hi).contains(&r.1))
        .collect()
}

/// 43,000 rows: series 1 and 3 span several read batches (16,384 rows), pages (8,192) and
/// writer batches (8,192), with layout changes in their middle.
fn long_runs() -> Vec<(SeriesId, Vec<HistogramSample>)> {
    vec![
        (1, changing(20_000, &[10_000, 16_500])),
        (2, changing(3_000, &[])),
        (3, changing(20_000, &[17_000])),
    ]
}

#[test]
fn repeats_read_back_from_any_window_across_batches_and_pages() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut files = set(dir.path(), "r");
    let runs = long_runs();
    write(&mut files, WrittenBy::Flush, &runs);
    // One row with lists per run of a layout: 3 + 1 + 2.
    assert_eq!(stored_lists(&files.histograms), (6, VERSION));
    assert!(all_rows(&files) == flat(&runs), "whole file");
    let at = |i: i64| i * 15_000;
    for (ids, lo, hi) in [
        // Windows opening on a repeat whose lists are in an earlier batch and page.
        (&[1][..], at(12_000), at(17_000)),
        (&[3], at(18_000), i64::MAX),
        (&[1], at(16_500), at(16_500)),
        (&[1, 3], at(16_400), at(17_100)),
        (&[2, 3], at(2_999), at(3_000)),
    ] {
        let (got, stats) = read(&files, ids, lo, hi).expect("read");
        let want = wanted(&runs, ids, lo, hi);
        assert!(!want.is_empty());
        assert!(
            got == want,
            "{ids:?} [{lo}, {hi}]: {} of {}",
            got.len(),
            want.len()
        );
        assert_eq!(stats.samples, want.len() as u64);
    }
    // A window outside every wanted row still decodes nothing.
    let (none, stats) = read(&files, &[2], at(20_000), i64::MAX).expect("read");
    assert!(none.is_empty());
    assert_eq!((stats.rows_decoded, stats.bucket_rows_decoded), (0, 0));
}

/// Writes `runs` as a version 1 histograms file (lists in every row, no version in the
/// footer) at `path`.
fn write_version_1(path: &Path, runs: &[(SeriesId, Vec<HistogramSample>)]) {
    let props = super::super::props(
        &histograms_schema(),
        &[0, 1],
        HISTOGRAMS_PAGE_ROWS,
        WrittenBy::Flush,
    );
    let mut w = DurableWriter::create(path, histograms_schema(), props).expect("create");
    let mut b = RowsBuilder::new();
    for (id, samples) in runs {
        for s in samples {
            b.push(*id, s.ts, &s.h).expect("push");
            if b.len() >= 8_192 {
                w.write(&b.finish().expect("batch")).expect("write");
            }
        }
    }
    w.write(&b.finish().expect("batch")).expect("write");
    w.finish().expect("finish");
}

#[test]
fn version_1_files_read_as_before_and_compact_into_version_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let runs = long_runs();
    // The bucket file is the same in both versions.
    let mut v2 = set(dir.path(), "v2");
    write(&mut v2, WrittenBy::Flush, &runs);
    let v1 = Input {
        histograms: dir.path().join("v1.h.parquet"),
        buckets: v2.buckets.clone(),
    };
    write_version_1(&v1.histograms, &runs);
    assert_eq!(stored_lists(&v1.histograms), (43_000, 1));
    assert!(all_rows(&v1) == flat(&runs));
    let (lo, hi) = (15_000 * 12_000, 15_000 * 17_000);
    let (got, _) = read(&v1, &[1, 3], lo, hi).expect("read");
    assert!(got == wanted(&runs, &[1, 3], lo, hi));
    // Compaction of the old set writes the new version.
    let out = set(dir.path(), "out");
    let buckets = out.buckets.clone().expect("path");
    merge_files(&[v1], &out.histograms, &buckets, WrittenBy::Compaction).expect("merge");
    assert_eq!(stored_lists(&out.histograms), (6, VERSION));
    assert!(all_rows(&out) == flat(&runs));
}

#[test]
fn merges_and_deletes_that_drop_or_interleave_a_runs_first_row_keep_its_lists() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Series 5's samples alternate between the two inputs, each input one layout: every
    // merged row changes layout. Series 6 is in both at the same times (the oldest wins),
    // with other layouts.
    let (mut a, mut b) = (set(dir.path(), "a"), set(dir.path(), "b"));
    let even: Vec<_> = (0..40).step_by(2).map(|i| sample(i, int_h(i))).collect();
    let odd: Vec<_> = (1..40).step_by(2).map(|i| sample(i, wide_h(i))).collect();
    let six_a: Vec<_> = (0..30).map(|i| sample(i, wide_h(i))).collect();
    let six_b: Vec<_> = (0..30).map(|i| sample(i, int_h(i))).collect();
    write(
        &mut a,
        WrittenBy::Flush,
        &[(5, even.clone()), (6, six_a.clone())],
    );
    write(&mut b, WrittenBy::Flush, &[(5, odd.clone()), (6, six_b)]);
    let out = set(dir.path(), "m");
    let buckets = out.buckets.clone().expect("path");
    merge_files(
        &[a.clone(), b],
        &out.histograms,
        &buckets,
        WrittenBy::Compaction,
    )
    .expect("merge");
    let mut five: Vec<_> = even.into_iter().chain(odd).collect();
    five.sort_by_key(|s| s.ts);
    let want = vec![(5, five), (6, six_a)];
    assert!(all_rows(&out) == flat(&want), "merged");
    assert_eq!(stored_lists(&out.histograms), (41, VERSION));
    // A delete of series 6's first rows (the one holding the run's lists among them).
    let del = set(dir.path(), "d");
    let del_buckets = del.buckets.clone().expect("path");
    rewrite_files(
        &out,
        &del.histograms,
        &del_buckets,
        WrittenBy::Flush,
        |id, ts| !(id == 6 && ts < 10),
    )
    .expect("rewrite");
    let left = vec![want[0].clone(), (6, want[1].1[10..].to_vec())];
    assert!(all_rows(&del) == flat(&left), "rewritten");
    assert_eq!(stored_lists(&del.histograms), (41, VERSION));
}

#[test]
fn a_series_opening_on_a_repeat_is_an_error_naming_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let runs = vec![(9, changing(10, &[]))];
    let mut good = set(dir.path(), "g");
    write(&mut good, WrittenBy::Flush, &runs);
    // The same rows without the first: series 9 opens on a repeat.
    let mut rows = RowsBuilder::new();
    for s in &runs[0].1 {
        rows.push(9, s.ts, &s.h).expect("push");
    }
    let path = dir.path().join("bad.h.parquet");
    let full = rows.finish().expect("batch");
    let compacted = Compact::default().batch(&full, &path).expect("compact");
    assert_eq!(compacted.schema(), file_schema());
    let mut w = histograms_writer(&path, WrittenBy::Flush).expect("create");
    w.write(&compacted.slice(1, 9)).expect("write");
    w.finish().expect("finish");
    let bad = Input {
        histograms: path,
        buckets: good.buckets.clone(),
    };
    let msg = read(&bad, &[9], i64::MIN, i64::MAX)
        .expect_err("refused")
        .to_string();
    assert!(
        msg.contains("series 9 at 15000") && msg.contains("no earlier row"),
        "{msg}"
    );
    let out = set(dir.path(), "o");
    let buckets = out.buckets.clone().expect("path");
    let msg = merge_files(&[bad], &out.histograms, &buckets, WrittenBy::Compaction)
        .expect_err("refused")
        .to_string();
    assert!(
        msg.contains("series 9 at 15000") && msg.contains("no earlier row"),
        "{msg}"
    );
}
