//! Reassembly from bucket rows in the bucket file's order and in any other order.

use super::*;
use crate::storage::histograms::assemble::assemble_series;
use crate::storage::histograms::buckets::{BucketRow, rows_of};

/// `h` as the histograms file holds it: bucket lists empty.
fn head(h: &Histogram) -> Histogram {
    let mut h = h.clone();
    match &mut h.counts {
        Counts::Int {
            positive_deltas,
            negative_deltas,
            ..
        } => (positive_deltas.clear(), negative_deltas.clear()),
        Counts::Float {
            positive, negative, ..
        } => (positive.clear(), negative.clear()),
    };
    h
}

fn assemble(samples: &[(i64, Histogram)], mut rows: Vec<BucketRow>) -> crate::Result<Vec<String>> {
    let heads = samples.iter().map(|(ts, h)| (*ts, head(h))).collect();
    let mut out = Vec::new();
    assemble_series(7, heads, &mut rows, Path::new("b.parquet"), &mut |id, s| {
        out.push(format!("{id} {} {}", s.ts, bits(&s.h)))
    })?;
    Ok(out)
}

/// What reading `samples` of series 7 must give, and their bucket rows in the bucket
/// file's order, (negative, bucket, ts).
fn expected(samples: &[(i64, Histogram)]) -> (Vec<String>, Vec<BucketRow>) {
    let want = samples
        .iter()
        .map(|(ts, h)| format!("7 {ts} {}", bits(h)))
        .collect();
    let mut rows = Vec::new();
    for (ts, h) in samples {
        rows_of(7, *ts, h, &mut rows).expect("valid histogram");
    }
    rows.sort_by_key(|r| (r.negative, r.bucket, r.ts));
    (want, rows)
}

#[test]
fn rows_in_file_order_or_shuffled_give_the_same_histograms() {
    let mut samples: Vec<(i64, Histogram)> = (0..40).map(|k| (k * 15_000, int_h(k))).collect();
    for (k, h) in odd_ones().into_iter().enumerate() {
        samples.push((1_000_000 + k as i64, h));
    }
    let want: Vec<String> = samples
        .iter()
        .map(|(ts, h)| format!("7 {ts} {}", bits(h)))
        .collect();
    let mut rows = Vec::new();
    for (ts, h) in &samples {
        rows_of(7, *ts, h, &mut rows).expect("valid histogram");
    }
    // The bucket file's order: (negative, bucket, ts).
    let mut file_order = rows.clone();
    file_order.sort_by_key(|r| (r.negative, r.bucket, r.ts));
    assert_eq!(assemble(&samples, file_order).expect("file order"), want);
    // Sample by sample (as rows_of made them), and reversed.
    assert_eq!(
        assemble(&samples, rows.clone()).expect("sample order"),
        want
    );
    rows.reverse();
    assert_eq!(assemble(&samples, rows.clone()).expect("reversed"), want);
    // A row at a time without a histogram (none is 7 ms off another) is an error.
    let mut orphan = rows.clone();
    orphan[3].ts += 7;
    let err = assemble(&samples, orphan).expect_err("orphan row");
    assert!(
        err.to_string().contains("bucket rows without a histogram"),
        "{err}"
    );
    // A missing row, a duplicate, a row moved to another bucket or another side, a count
    // of the other kind: each an error naming the series and the sample.
    type Damage = Box<dyn Fn(&mut Vec<BucketRow>)>;
    let broken: [(&str, Damage); 5] = [
        (
            "spans cover",
            Box::new(|r| {
                r.remove(5);
            }),
        ),
        ("", Box::new(|r| r.push(r[5]))),
        ("expected bucket", Box::new(|r| r[5].bucket += 1000)),
        ("", Box::new(|r| r[5].negative = !r[5].negative)),
        ("without count", Box::new(|r| r[5].count = None)),
    ];
    let ints = &samples[..40];
    let mut int_rows = Vec::new();
    for (ts, h) in ints {
        rows_of(7, *ts, h, &mut int_rows).expect("valid histogram");
    }
    assert!(assemble(ints, int_rows.clone()).is_ok());
    for (what, damage) in broken {
        let mut bad = int_rows.clone();
        damage(&mut bad);
        let err = assemble(ints, bad).expect_err(what).to_string();
        assert!(
            err.contains("histogram of series 7 at ") && err.contains(what),
            "{what}: {err}"
        );
    }
}

/// Samples that share their spans and kind of counts (custom buckets, float counts), as
/// the reader's runs hold them, reassemble sample by sample too (the reader's fallback);
/// rows shaped like that but wrong in one place get the walk's error, and spans that change
/// mid-series are placed by it.
#[test]
fn samples_sharing_their_spans_reassemble_run_by_run() {
    let nhcb = |k: i64| Histogram {
        schema: -53,
        zero_threshold: 0.0,
        sum: k as f64,
        reset_hint: ResetHint::NotReset,
        positive_spans: spans(&[(0, 4)]),
        negative_spans: Vec::new(),
        custom_values: vec![0.1, 0.5, 1.0],
        counts: Counts::Float {
            count: 4.0 * k as f64,
            zero_count: 0.0,
            positive: vec![k as f64, 0.5, -0.0, f64::from_bits(STALE_NAN)],
            negative: Vec::new(),
        },
    };
    let samples: Vec<(i64, Histogram)> = (0..30).map(|k| (k * 15_000, nhcb(k))).collect();
    let (want, rows) = expected(&samples);
    assert_eq!(assemble(&samples, rows.clone()).expect("runs"), want);
    // As many rows as the runs need, one wrong: a count missing, a row off its sample.
    let mut missing = rows.clone();
    missing[40].count_float = None;
    let err = assemble(&samples, missing).expect_err("a row without its count");
    assert!(err.to_string().contains("without count_float"), "{err}");
    let mut moved = rows.clone();
    moved[31].ts += 1;
    let err = assemble(&samples, moved).expect_err("a row off its sample");
    assert!(err.to_string().contains("at 15001"), "{err}");
    // A bucket more from the tenth sample on: the walk places both layouts.
    let mut grown = samples.clone();
    for (ts, h) in grown.iter_mut().skip(10) {
        h.positive_spans = spans(&[(0, 5)]);
        if let Counts::Float { positive, .. } = &mut h.counts {
            positive.push(*ts as f64);
        }
    }
    let (want, rows) = expected(&grown);
    assert_eq!(assemble(&grown, rows).expect("grown"), want);
}

/// The leaf columns a read of all of `path`'s row groups decodes, by name.
fn projected(path: &Path, counts: &[&str]) -> Vec<String> {
    use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions};
    let file = std::fs::File::open(path).expect("open");
    let meta = ArrowReaderMetadata::load(&file, ArrowReaderOptions::new()).expect("footer");
    let groups: Vec<usize> = (0..meta.metadata().num_row_groups()).collect();
    let mask = crate::storage::histograms::nullable::projection(&meta, &groups, counts);
    let schema = meta.metadata().file_metadata().schema_descr();
    (0..schema.num_columns())
        .filter(|&i| mask.as_ref().is_none_or(|m| m.leaf_included(i)))
        .map(|i| schema.column(i).path().string())
        .collect()
}

/// A set of integer histograms only: a read leaves out the all-null float count columns of
/// both files and still gives back every sample; a set with a float histogram decodes
/// every column.
#[test]
fn all_null_count_columns_are_left_out_of_a_read() {
    let hist_counts = [
        "count_int",
        "count_float",
        "zero_count_int",
        "zero_count_float",
    ];
    let bucket_counts = ["count", "count_float"];
    let dir = tempfile::tempdir().expect("tempdir");
    let ints: Vec<(SeriesId, Vec<HistogramSample>)> = (1..=4u64)
        .map(|s| {
            let samples = (0..300).map(|i| sample(1_000 + i * 15_000, int_h(i + s as i64)));
            (s * 10, samples.collect())
        })
        .collect();
    let mut files = set(dir.path(), "ints");
    write(&mut files, WrittenBy::Flush, &ints);
    let h = projected(&files.histograms, &hist_counts);
    assert!(!h.iter().any(|c| c.contains("float")), "{h:?}");
    assert!(
        h.contains(&"count_int".to_string()) && h.contains(&"custom_values.list.item".to_string()),
        "{h:?}"
    );
    let b = projected(files.buckets.as_ref().expect("buckets"), &bucket_counts);
    assert_eq!(b, ["series_id", "ts", "negative", "bucket", "count"]);
    assert!(
        all_rows(&files) == flat(&ints),
        "samples differ from what was written"
    );

    // The odd ones hold float histograms: nothing is left out, and all reads back.
    let mixed = runs(3, 40);
    let mut files = set(dir.path(), "mixed");
    write(&mut files, WrittenBy::Flush, &mixed);
    assert_eq!(
        projected(&files.histograms, &hist_counts).len(),
        15,
        "all 15 leaves"
    );
    assert!(
        all_rows(&files) == flat(&mixed),
        "samples differ from what was written"
    );
}
