//! The dataset the SQL tests share: written through the engine, partly flushed, so queries
//! read Parquet file sets and memory, including a sample present in both.

#![allow(dead_code, unreachable_pub)] // each test binary uses part of it

pub mod counting_store;
pub mod histograms;
pub mod signals;

use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::physical_plan::metrics::{Metric, MetricValue};
use datafusion::physical_plan::{ExecutionPlan, collect, displayable};
use datafusion::prelude::SessionContext;
use strata_engine::{Engine, EngineConfig, ManualClock, Sample, SeriesSamples, TenantId};
use strata_query::Strata;
use strata_query::promql::QueryOptions;
use strata_query::sql::{SqlConfig, read_only, tenant_session};

/// 2025-01-01T00:00:00Z in ms.
pub const T0: i64 = 1_735_689_600_000;
pub const MINUTE: i64 = 60_000;

pub fn acme() -> TenantId {
    TenantId::new("acme").expect("valid")
}

pub fn beta() -> TenantId {
    TenantId::new("beta").expect("valid")
}

fn series(pairs: &[(&str, &str)], samples: Vec<Sample>) -> SeriesSamples {
    SeriesSamples {
        labels: pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        samples,
    }
}

/// `http_requests_total` for (job, instance) at minutes `[from, to)`: value = minute * step.
fn requests(job: &str, instance: &str, step: f64, from: i64, to: i64) -> SeriesSamples {
    let samples = (from..to)
        .map(|m| Sample {
            ts: T0 + m * MINUTE,
            value: m as f64 * step,
        })
        .collect();
    series(
        &[
            ("__name__", "http_requests_total"),
            ("job", job),
            ("instance", instance),
        ],
        samples,
    )
}

/// Writes minutes `[from, to)` of every acme and beta series.
fn write_minutes(engine: &Engine, from: i64, to: i64) {
    let acme_batch = [
        requests("api", "a", 1.0, from, to),
        requests("api", "b", 2.0, from, to),
        requests("db", "a", 10.0, from, to),
    ];
    let out = engine.write(&acme(), &acme_batch).expect("write acme");
    assert_eq!(out.accepted, 3 * (to - from) as u64, "{out:?}");
    let beta_batch = [requests("secret", "z", 1_000_000.0, from, to)];
    let out = engine.write(&beta(), &beta_batch).expect("write beta");
    assert_eq!(out.accepted, (to - from) as u64);
}

/// Opens an engine in `dir` (clock at T0 + 3 h) and writes the dataset:
///
/// - acme: `http_requests_total` {job=api,instance=a} (value = minute), {api,b} (2 x
///   minute), {db,a} (10 x minute), one sample a minute for minutes 0..180;
///   `temperature{sensor=s1}` at minutes 0..4 with 1.5, NaN, +Inf, -Inf.
/// - beta: `http_requests_total{job=secret,instance=z}` (1e6 x minute), minutes 0..180.
/// - spans and logs ([`signals`]): traces A (minute 10) and B (minute 70) and their logs
///   go to files with the first flush; trace C (minute 160) stays in memory; beta has one
///   span and one log record.
/// - hist: native histograms only ([`histograms`]): three samples flushed with the first
///   flush, one with the second, one in memory, and one flushed sample re-sent to memory.
///
/// A first flush writes minutes 0..120 (one file set in each of hours 0 and 1), a second
/// minutes 120..150 (one set in hour 2); minutes 150..180 stay in memory. After the flushes,
/// {api,a} at minute 119 is written again with 9999: the head then holds a sample whose
/// (series, ts) is also in a file; the file's (older) value must win.
pub fn dataset(dir: &std::path::Path) -> Arc<Engine> {
    let clock = ManualClock::new(T0 + 180 * MINUTE);
    let engine = Engine::open_with_clock(dir, EngineConfig::default(), clock).expect("open");
    write_minutes(&engine, 0, 120);
    let temps = [1.5, f64::NAN, f64::INFINITY, f64::NEG_INFINITY];
    let temps = series(
        &[("__name__", "temperature"), ("sensor", "s1")],
        temps
            .iter()
            .enumerate()
            .map(|(i, &value)| Sample {
                ts: T0 + i as i64 * MINUTE,
                value,
            })
            .collect(),
    );
    engine.write(&acme(), &[temps]).expect("write temps");
    signals::write_flushed(&engine);
    histograms::write_before_flush_1(&engine);
    engine.flush().expect("flush 1");
    write_minutes(&engine, 120, 150);
    histograms::write_before_flush_2(&engine);
    engine.flush().expect("flush 2");
    write_minutes(&engine, 150, 180);
    signals::write_in_memory(&engine);
    histograms::write_after_flushes(&engine);
    let again = series(
        &[
            ("__name__", "http_requests_total"),
            ("job", "api"),
            ("instance", "a"),
        ],
        vec![Sample {
            ts: T0 + 119 * MINUTE,
            value: 9999.0,
        }],
    );
    let out = engine.write(&acme(), &[again]).expect("rewrite");
    assert_eq!(out.accepted, 1, "the head does not know the flushed sample");
    Arc::new(engine)
}

/// A [`Strata`] handle over `engine` with the test SQL settings.
pub fn handle(engine: Arc<Engine>, sql: SqlConfig) -> Strata {
    Strata::with_engine(engine, sql, QueryOptions::default())
}

/// Plans and runs `sql` for acme; returns the result, the plan text and the plan (for its
/// metrics).
pub async fn run(
    engine: &Arc<Engine>,
    sql: &str,
) -> (Vec<RecordBatch>, String, Arc<dyn ExecutionPlan>) {
    let ctx = tenant_session(engine.clone(), &acme(), &SqlConfig::for_tests()).expect("session");
    run_in(&ctx, sql).await
}

/// Plans and runs `sql` in `ctx`, as [`run`].
pub async fn run_in(
    ctx: &SessionContext,
    sql: &str,
) -> (Vec<RecordBatch>, String, Arc<dyn ExecutionPlan>) {
    let frame = ctx.sql_with_options(sql, read_only()).await.expect("plan");
    let plan = frame.create_physical_plan().await.expect("physical plan");
    let batches = collect(plan.clone(), ctx.task_ctx()).await.expect("run");
    let text = displayable(plan.as_ref()).indent(true).to_string();
    (batches, text, plan)
}

/// Calls `visit` with every metric of the plan tree.
pub fn each_metric(plan: &Arc<dyn ExecutionPlan>, visit: &mut dyn FnMut(&Metric)) {
    if let Some(set) = plan.metrics() {
        for m in set.iter() {
            visit(m);
        }
    }
    for c in plan.children() {
        each_metric(c, visit);
    }
}

/// Sums a scan metric over the plan tree: counters by value, pruning metrics by pruned.
pub fn metric(plan: &Arc<dyn ExecutionPlan>, name: &str) -> usize {
    let mut total = 0;
    each_metric(plan, &mut |m| {
        if m.value().name() == name {
            total += match m.value() {
                MetricValue::PruningMetrics {
                    pruning_metrics, ..
                } => pruning_metrics.pruned(),
                v => v.as_usize(),
            };
        }
    });
    total
}
