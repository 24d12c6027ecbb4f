//! SQL scans really prune: time filters keep file sets out of the plan, and a filter on
//! `series_id` reads only the pages of that series (Parquet page index), measured through
//! the plan's text and DataFusion's scan metrics.

mod common;

use std::sync::Arc;

use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::arrow::datatypes::{Float64Type, Int64Type, UInt64Type};
use strata_engine::{Engine, EngineConfig, ManualClock, Sample, SeriesSamples};

use common::{MINUTE, T0, acme, metric, run};

fn count(batches: &[RecordBatch]) -> i64 {
    batches[0].column(0).as_primitive::<Int64Type>().value(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_filters_keep_file_sets_out_of_the_scan() {
    let dir = tempfile::tempdir().expect("temp dir");
    let engine = common::dataset(dir.path());
    // Hour 0 has one file set, hour 1 one, hour 2 one (minutes 120..150) plus memory.
    let (all, text, _) = run(&engine, "SELECT count(*) FROM samples").await;
    assert_eq!(count(&all), 544);
    assert_eq!(text.matches("samples-").count(), 3, "{text}");
    // Memory (minutes 150..180 and the re-written 119) overlaps hours 1 and 2.
    assert!(text.contains("DedupExec: sources=3"), "{text}");

    let (early, text, _) = run(
        &engine,
        "SELECT count(*) FROM samples WHERE ts < '2025-01-01T00:30:00Z'",
    )
    .await;
    assert_eq!(count(&early), 3 * 30 + 4);
    assert_eq!(text.matches("samples-").count(), 1, "only hour 0: {text}");
    assert!(!text.contains("DedupExec"), "{text}");

    // Memory only: no file is opened.
    let (late, text, _) = run(
        &engine,
        "SELECT count(*) FROM metrics WHERE ts >= '2025-01-01T02:30:00Z'",
    )
    .await;
    assert_eq!(count(&late), 90);
    assert_eq!(text.matches(".parquet").count(), 0, "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_series_filter_reads_only_that_series_pages() {
    let dir = tempfile::tempdir().expect("temp dir");
    let clock = ManualClock::new(T0 + 60 * MINUTE);
    let engine = Engine::open_with_clock(dir.path(), EngineConfig::default(), clock).expect("open");
    // 400 series x 60 samples = 24,000 rows in one file set: three 8,192-row pages.
    let batch: Vec<SeriesSamples> = (0..400)
        .map(|i| SeriesSamples {
            labels: vec![("__name__".into(), "m".into()), ("i".into(), i.to_string())],
            samples: (0..60)
                .map(|m| Sample {
                    ts: T0 + m * MINUTE,
                    value: m as f64,
                })
                .collect(),
        })
        .collect();
    engine.write(&acme(), &batch).expect("write");
    engine.flush().expect("flush");
    let engine = Arc::new(engine);

    let (ids, _, _) = run(
        &engine,
        "SELECT series_id FROM series WHERE labels['i'] = '7'",
    )
    .await;
    let id = ids[0].column(0).as_primitive::<UInt64Type>().value(0);

    let both = "SELECT sum(value), max(series_id) FROM samples";
    let (all, _, plan) = run(&engine, both).await;
    assert_eq!(all[0].num_rows(), 1);
    let bytes_all = metric(&plan, "bytes_scanned");
    assert_eq!(metric(&plan, "page_index_rows_pruned"), 0);

    let sql = format!("{both} WHERE series_id = {id}");
    let (one, text, plan) = run(&engine, &sql).await;
    assert_eq!(
        one[0].column(0).as_primitive::<Float64Type>().value(0),
        1770.0,
        "{text}"
    );
    let pruned = metric(&plan, "page_index_rows_pruned");
    let bytes_one = metric(&plan, "bytes_scanned");
    assert!(
        pruned >= 8_192,
        "pages of other series are skipped: {pruned} rows pruned"
    );
    println!("bytes_scanned: all {bytes_all}, one series {bytes_one}; rows pruned {pruned}");
    // Through the view, a label filter reaches the samples scan as the join's dynamic
    // filter on series_id.
    let by_label = "SELECT sum(value), max(metric) FROM metrics WHERE labels['i'] = '7'";
    let (m, text, plan) = run(&engine, by_label).await;
    let via_join = metric(&plan, "page_index_rows_pruned");
    println!(
        "metrics by label: rows pruned {via_join}, bytes {}",
        metric(&plan, "bytes_scanned")
    );
    assert_eq!(
        m[0].column(0).as_primitive::<Float64Type>().value(0),
        1770.0,
        "{text}"
    );
    assert!(
        via_join >= 8_192,
        "the join's filter skips pages too: {via_join} rows pruned"
    );
    assert!(
        bytes_one < bytes_all,
        "one series reads less: {bytes_one} vs {bytes_all} bytes"
    );
}
