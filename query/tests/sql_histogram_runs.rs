//! The `histograms` table gives every row its spans and custom bounds, although the
//! histograms file stores them once per run of rows that share them (repeat rows are null
//! in the file, `docs/formats/partitions.md`).

mod common;

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::util::pretty::pretty_format_batches;
use strata_engine::{
    Counts, Engine, EngineConfig, Histogram, HistogramSample, ManualClock, ResetHint,
    SeriesHistograms, Span,
};
use strata_query::sql::{SqlConfig, tenant_session};

use common::{MINUTE, T0, acme, run_in};

/// A histogram of schema -53 with `bounds`, every bucket counting `k`.
fn custom(bounds: &[f64], k: u64) -> Histogram {
    let n = bounds.len() as u32 + 1;
    let mut deltas = vec![0; n as usize];
    deltas[0] = k as i64;
    Histogram {
        schema: -53,
        zero_threshold: 0.0,
        sum: k as f64,
        reset_hint: ResetHint::NotReset,
        positive_spans: vec![Span {
            offset: 0,
            length: n,
        }],
        negative_spans: vec![],
        custom_values: bounds.to_vec(),
        counts: Counts::Int {
            count: k * u64::from(n),
            zero_count: 0,
            positive_deltas: deltas,
            negative_deltas: vec![],
        },
    }
}

/// An exponential histogram with buckets 1 and 2 counting `k`.
fn exponential(k: u64) -> Histogram {
    Histogram {
        schema: 1,
        custom_values: vec![],
        positive_spans: vec![Span {
            offset: 1,
            length: 2,
        }],
        counts: Counts::Int {
            count: 2 * k,
            zero_count: 0,
            positive_deltas: vec![k as i64, 0],
            negative_deltas: vec![],
        },
        ..custom(&[], k)
    }
}

fn series(job: &str, samples: Vec<(i64, Histogram)>) -> SeriesHistograms {
    SeriesHistograms {
        labels: vec![
            ("__name__".into(), "latency".into()),
            ("job".into(), job.into()),
        ],
        histograms: samples
            .into_iter()
            .map(|(m, h)| HistogramSample {
                ts: T0 + m * MINUTE,
                h: Arc::new(h),
            })
            .collect(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_histograms_table_gives_every_row_the_lists_its_file_stores_once_per_run() {
    let dir = tempfile::tempdir().expect("temp dir");
    let clock = ManualClock::new(T0 + 3 * 3_600_000);
    let engine = Engine::open_with_clock(dir.path(), EngineConfig::default(), clock).expect("open");
    // job=a: bounds (0.1, 0.5, 1) for minutes 0..30, then (0.1, 1, 5) until 50; job=b:
    // exponential, one layout, minutes 0..20.
    let a = (0..50)
        .map(|m| {
            let bounds: &[f64] = if m < 30 {
                &[0.1, 0.5, 1.0]
            } else {
                &[0.1, 1.0, 5.0]
            };
            (m, custom(bounds, m as u64))
        })
        .collect();
    let b = (0..20).map(|m| (m, exponential(m as u64))).collect();
    let out = engine
        .write_histograms(&acme(), &[series("a", a), series("b", b)])
        .expect("write");
    assert_eq!(out.accepted_histograms, 70, "{out:?}");
    engine.flush().expect("flush");
    // The file stores the lists of 3 rows of 70.
    let snap = engine
        .snapshot(&acme(), i64::MIN, i64::MAX)
        .expect("snapshot");
    let path = snap.files[0].histograms_path().expect("a histograms file");
    let file = std::fs::File::open(path).expect("open");
    let stored =
        datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
            .expect("footer")
            .build()
            .expect("reader")
            .map(|b| {
                let b = b.expect("batch");
                let spans = b.column_by_name("positive_spans").expect("column");
                (b.num_rows(), spans.len() - spans.null_count())
            })
            .fold((0, 0), |acc, (n, full)| (acc.0 + n, acc.1 + full));
    assert_eq!(stored, (70, 3));

    let ctx = tenant_session(Arc::new(engine), &acme(), &SqlConfig::for_tests()).expect("session");
    let (batches, _, _) = run_in(
        &ctx,
        "SELECT s.labels['job'] AS job, h.positive_spans, h.negative_spans, h.custom_values,
                count(*) AS n, min(h.ts) AS first
         FROM histograms h JOIN series s ON h.series_id = s.series_id
         GROUP BY 1, 2, 3, 4 ORDER BY 1, first",
    )
    .await;
    let text = pretty_format_batches(&batches).expect("format").to_string();
    let want = [
        "+-----+--------------------------+----------------+-----------------+----+----------------------+",
        "| job | positive_spans           | negative_spans | custom_values   | n  | first                |",
        "+-----+--------------------------+----------------+-----------------+----+----------------------+",
        "| a   | [{offset: 0, length: 4}] | []             | [0.1, 0.5, 1.0] | 30 | 2025-01-01T00:00:00Z |",
        "| a   | [{offset: 0, length: 4}] | []             | [0.1, 1.0, 5.0] | 20 | 2025-01-01T00:30:00Z |",
        "| b   | [{offset: 1, length: 2}] | []             |                 | 20 | 2025-01-01T00:00:00Z |",
        "+-----+--------------------------+----------------+-----------------+----+----------------------+",
    ]
    .join("\n");
    assert_eq!(text, want);
    // No row of the table is without its spans.
    let (batches, _, _) = run_in(
        &ctx,
        "SELECT count(*) FROM histograms WHERE positive_spans IS NULL",
    )
    .await;
    assert_eq!(
        batches[0]
            .column(0)
            .as_primitive::<datafusion::arrow::datatypes::Int64Type>()
            .value(0),
        0
    );
}
