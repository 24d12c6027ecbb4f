//! Criterion benchmark of selecting series from the head (`Engine::select`), at 10 k, 100 k
//! and 1 M series in memory: one series by its labels, a metric that does not exist (what
//! `absent()` asks), one metric of one host (the shape of a dashboard panel's selector), and a
//! regex of literal alternatives (a Grafana multi-value variable). With the head's postings
//! the cost follows what a selector matches, so each case should stay flat as the head grows.
//! Results in `docs/benchmarks.md`. Run with `cargo bench -p strata-benches --bench select`.

use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use strata_benches::{BASE_TS, no_flush_config, scrape_batch, set_samples};
use strata_engine::{Engine, MatchOp, Matcher, TenantId};

/// Series per write (one scrape target).
const BATCH: usize = 1_000;

fn m(name: &str, op: MatchOp, value: &str) -> Matcher {
    Matcher::new(name, op, value).expect("valid matcher")
}

fn select(c: &mut Criterion) {
    let mut g = c.benchmark_group("engine_select");
    g.sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    let tenant = TenantId::new("bench").expect("valid tenant");
    let cases: [(&str, Vec<Matcher>); 4] = [
        (
            "one_series",
            vec![
                m("__name__", MatchOp::Equal, "node_bench_metric_3"),
                m("host", MatchOp::Equal, "host-00007"),
                m("series", MatchOp::Equal, "3"),
            ],
        ),
        (
            "missing_metric",
            vec![
                m("__name__", MatchOp::Equal, "nonexistent_metric"),
                m("job", MatchOp::Equal, "x"),
            ],
        ),
        (
            "metric_of_one_host",
            vec![
                m("__name__", MatchOp::Equal, "node_bench_metric_3"),
                m("host", MatchOp::Equal, "host-00007"),
            ],
        ),
        (
            "host_alternatives",
            vec![
                m("__name__", MatchOp::Equal, "node_bench_metric_3"),
                m("host", MatchOp::Regex, "host-00001|host-00002|host-00003"),
                m("zone", MatchOp::NotEqual, "eu-west-1c"),
            ],
        ),
    ];
    for series in [10_000usize, 100_000, 1_000_000] {
        let dir = tempfile::tempdir().expect("tempdir");
        let engine = Engine::open(dir.path(), no_flush_config()).expect("open engine");
        for round in 0..2u64 {
            for t in 0..series / BATCH {
                let mut batch = scrape_batch(t, BATCH);
                set_samples(&mut batch, BASE_TS + round as i64 * 15_000, round);
                engine.write(&tenant, &batch).expect("write");
            }
        }
        let (start, end) = (BASE_TS, BASE_TS + 15_000);
        for (name, matchers) in &cases {
            let found = engine
                .select(&tenant, matchers, start, end)
                .expect("select")
                .len();
            // What each case selects, whatever the head's size (16 of the 1,000 series of a
            // host carry each metric; two of three hosts are outside eu-west-1c).
            let want = match *name {
                "one_series" => 1,
                "missing_metric" => 0,
                "metric_of_one_host" => 16,
                _ => 32,
            };
            assert_eq!(found, want, "{name} at {series} series");
            g.bench_function(BenchmarkId::new(*name, series), |b| {
                b.iter(|| {
                    engine
                        .select(&tenant, matchers, start, end)
                        .expect("select")
                })
            });
        }
        engine.close().expect("close");
    }
    g.finish();
}

criterion_group!(benches, select);
criterion_main!(benches);
