//! Criterion benchmark of typical dashboard SQL over one day of metrics through the embedded
//! API (`Strata::sql_async` on a 2-worker tokio runtime): 500 series of
//! `http_requests_total` (10 jobs x 50 instances) scraped every 60 s for 24 h (720,000
//! samples), flushed and compacted into 24 hourly partitions. Queries:
//!
//! - `avg_by_job_5m_24h`: 5-minute buckets of avg(value) by job over the whole day;
//! - `sum_by_job_1h_6h`: hourly sum by job over the last 6 hours (prunes 18 partitions);
//! - `one_instance_1h`: the raw points of one instance over the last hour.
//!
//! Throughput is the samples in each query's time range. Run with
//! `cargo bench -p strata-benches --bench sql`.

use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use strata_benches::bench_config;
use strata_engine::{Engine, ManualClock, Sample, SeriesSamples, TenantId};
use strata_query::Strata;
use strata_query::promql::QueryOptions;
use strata_query::sql::SqlConfig;

/// 2025-01-01T00:00:00Z.
const T0: i64 = 1_735_689_600_000;
const MINUTES: i64 = 24 * 60;
const JOBS: usize = 10;
const INSTANCES: usize = 50;

fn dataset(dir: &std::path::Path, tenant: &TenantId) -> Arc<Engine> {
    let clock = ManualClock::new(T0 + MINUTES * 60_000);
    let engine = Engine::open_with_clock(dir, bench_config(), clock).expect("open engine");
    // An hour at a time, so samples stay inside the out-of-order window.
    for hour in 0..24 {
        let batch: Vec<SeriesSamples> = (0..JOBS * INSTANCES)
            .map(|s| SeriesSamples {
                labels: vec![
                    ("__name__".into(), "http_requests_total".into()),
                    ("job".into(), format!("job-{}", s % JOBS)),
                    ("instance".into(), format!("host-{}:9100", s / JOBS)),
                ],
                samples: (hour * 60..(hour + 1) * 60)
                    .map(|m| Sample {
                        ts: T0 + m * 60_000,
                        value: (m * (s as i64 + 1)) as f64,
                    })
                    .collect(),
            })
            .collect();
        engine.write(tenant, &batch).expect("write");
    }
    engine.flush().expect("flush");
    engine.compact_all().expect("compact");
    Arc::new(engine)
}

fn ts(minute: i64) -> String {
    let h = minute / 60;
    let m = minute % 60;
    format!("'2025-01-01T{h:02}:{m:02}:00Z'")
}

fn sql(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let tenant = TenantId::new("bench").expect("valid tenant");
    let engine = dataset(dir.path(), &tenant);
    let db = Strata::with_engine(engine, SqlConfig::default(), QueryOptions::default());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .expect("runtime");
    let series = (JOBS * INSTANCES) as u64;
    let queries = [
        (
            "avg_by_job_5m_24h",
            format!(
                "SELECT date_bin(INTERVAL '5 minutes', ts) AS t, labels['job'] AS job, avg(value) \
                 FROM metrics WHERE metric = 'http_requests_total' \
                 AND ts >= {} AND ts <= '2025-01-01T23:59:00Z' GROUP BY t, job",
                ts(0)
            ),
            series * MINUTES as u64,
        ),
        (
            "sum_by_job_1h_6h",
            format!(
                "SELECT date_bin(INTERVAL '1 hour', ts) AS t, labels['job'] AS job, sum(value) \
                 FROM metrics WHERE metric = 'http_requests_total' AND ts >= {} \
                 GROUP BY t, job",
                ts(18 * 60)
            ),
            series * 6 * 60,
        ),
        (
            "one_instance_1h",
            format!(
                "SELECT ts, value FROM metrics WHERE labels['instance'] = 'host-7:9100' \
                 AND labels['job'] = 'job-3' AND ts >= {} ORDER BY ts",
                ts(23 * 60)
            ),
            series * 60,
        ),
    ];
    let mut g = c.benchmark_group("sql_dashboard");
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    for (name, query, samples) in &queries {
        g.throughput(Throughput::Elements(*samples));
        g.bench_function(*name, |b| {
            b.iter(|| {
                let rows: usize = rt
                    .block_on(db.sql_async(&tenant, query))
                    .expect("query")
                    .iter()
                    .map(|b| b.num_rows())
                    .sum();
                assert!(rows > 0, "{name} returned nothing");
            })
        });
    }
    g.finish();
}

criterion_group!(benches, sql);
criterion_main!(benches);
