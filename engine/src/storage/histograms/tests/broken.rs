//! A histograms file and a bucket file that do not agree, and bucket rows that do not fit
//! their histogram: errors naming the series and ts, never a panic or a wrong sample.

use super::*;

/// Writes `runs` as set `name` in `dir`.
fn written(dir: &Path, name: &str, runs: &[(SeriesId, Vec<HistogramSample>)]) -> Input {
    let mut files = set(dir, name);
    write(&mut files, WrittenBy::Flush, runs);
    files
}

/// The error of reading every series of `h`'s histograms with `b`'s buckets.
fn mixed_error(h: &Input, b: &Input) -> String {
    let files = Input {
        histograms: h.histograms.clone(),
        buckets: b.buckets.clone(),
    };
    read(&files, &ids_in(&h.histograms), i64::MIN, i64::MAX)
        .expect_err("refused")
        .to_string()
}

#[test]
fn a_histogram_whose_buckets_differ_from_the_bucket_file_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let narrow = vec![(10, vec![sample(0, int_h(1)), sample(15, int_h(2))])];
    let wide = vec![(10, vec![sample(0, int_h(1)), sample(15, wide_h(2))])];
    let (n, w) = (
        written(dir.path(), "n", &narrow),
        written(dir.path(), "w", &wide),
    );
    // Spans of int_h, buckets of wide_h at 15: more bucket rows than the spans cover.
    let msg = mixed_error(&n, &w);
    assert!(msg.contains("series 10 at 15"), "{msg}");
    // And the other way round: fewer.
    let msg = mixed_error(&w, &n);
    assert!(msg.contains("series 10 at 15"), "{msg}");
}

#[test]
fn bucket_rows_without_a_histogram_are_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let two = written(
        dir.path(),
        "two",
        &[
            (10, vec![sample(0, int_h(1)), sample(15, int_h(2))]),
            (20, vec![sample(0, int_h(1))]),
        ],
    );
    // Series 10 at 15 only in the bucket file.
    let one = written(dir.path(), "one", &[(10, vec![sample(0, int_h(1))])]);
    let msg = mixed_error(&one, &two);
    assert!(
        msg.contains("series 10 at 15") && msg.contains("without a histogram"),
        "{msg}"
    );
    // Series 20 only in the bucket file, after every series of the histograms file.
    let files = Input {
        histograms: one.histograms.clone(),
        buckets: two.buckets.clone(),
    };
    let err = read(&files, &[10, 20], 0, 0).expect_err("refused");
    assert!(err.to_string().contains("series 20 at 0"), "{err}");
    // Outside the range read, or not asked for, it is not looked at.
    assert_eq!(read(&files, &[10], 0, 0).expect("read").0.len(), 1);
    // No bucket file where the histograms have buckets.
    let files = Input {
        histograms: two.histograms.clone(),
        buckets: None,
    };
    let err = read(&files, &[10], 0, 0).expect_err("refused");
    assert!(err.to_string().contains("series 10 at 0"), "{err}");
}

#[test]
fn a_bucket_row_of_the_wrong_kind_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    // The same spans, one integer and one float: counts in the other column.
    let float = Histogram {
        counts: Counts::Float {
            count: 1.0,
            zero_count: 0.0,
            positive: vec![1.0; 5],
            negative: vec![0.5],
        },
        ..int_h(1)
    };
    let i = written(dir.path(), "i", &[(10, vec![sample(0, int_h(1))])]);
    let f = written(dir.path(), "f", &[(10, vec![sample(0, float)])]);
    let msg = mixed_error(&i, &f);
    assert!(
        msg.contains("series 10 at 0") && msg.contains("count"),
        "{msg}"
    );
    let msg = mixed_error(&f, &i);
    assert!(
        msg.contains("series 10 at 0") && msg.contains("count_float"),
        "{msg}"
    );
}

#[test]
fn a_histogram_whose_spans_do_not_match_its_counts_is_not_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    let short = Histogram {
        positive_spans: spans(&[(0, 2)]),
        ..int_h(1)
    };
    let overlapping = Histogram {
        positive_spans: spans(&[(0, 3), (-2, 2)]),
        ..int_h(1)
    };
    for (name, h) in [("short", short), ("overlap", overlapping)] {
        let files = set(dir.path(), name);
        let run = [sample(45, h)];
        let err = write_runs(
            &files.histograms,
            files.buckets.as_deref().expect("path"),
            WrittenBy::Flush,
            &[(9, &run[..])],
        )
        .expect_err("refused");
        assert!(err.to_string().contains("series 9 at 45"), "{name}: {err}");
    }
}

#[test]
fn a_truncated_bucket_file_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let files = written(dir.path(), "t", &runs(2, 10));
    let b = files.buckets.clone().expect("buckets");
    let bytes = std::fs::read(&b).expect("read");
    std::fs::write(&b, &bytes[..bytes.len() / 2]).expect("write");
    assert!(read(&files, &[10, 20], i64::MIN, i64::MAX).is_err());
}
