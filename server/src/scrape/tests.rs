//! The scrape cache's path against a real engine: what a body stores the first time (by
//! labels) and after (by handles), markers, drops, duplicates, a forgotten handle and a
//! handle of another tenant.

use std::sync::Arc;

use strata_engine::{Engine, EngineConfig, MatchOp, Matcher, SeriesData, TenantId};

use super::batch::{self, Batch};
use super::cache::SeriesCache;
use super::config;
use super::process::{self, STALE_NAN};
use super::target::{self, Built, Target};

const YML: &str = "scrape_configs:
  - job_name: app
    static_configs:
      - targets: ['127.0.0.1:9']
        labels: {env: prod}
    metric_relabel_configs:
      - source_labels: [__name__]
        regex: dropped_.*
        action: drop
";

fn target(dir: &std::path::Path) -> Target {
    let path = dir.join("prometheus.yml");
    std::fs::write(&path, YML).expect("write the file");
    let job = config::load(&path, false)
        .expect("the file loads")
        .remove(0);
    let job = Arc::new(job);
    match target::build(&job, &job.statics[0], &[]).remove(0) {
        Built::Active(t) => t,
        Built::Dropped(l) => panic!("dropped: {l:?}"),
    }
}

/// Processes `body` at `ts` and writes it, as a scrape does (no report series).
fn scrape(
    engine: &Engine,
    tenant: &TenantId,
    target: &Target,
    cache: &mut SeriesCache,
    body: &str,
    ts: i64,
) -> process::Made {
    let mut batch = Batch::default();
    let made = process::process(target, body.as_bytes(), None, ts, cache, &mut batch)
        .expect("the body is taken");
    let format = cache.format();
    let (pending, _) = batch::write(&mut batch, engine, tenant, None, cache, |s| {
        process::labels_of(target, format, s)
    });
    let outcome = pending.expect("something to write").expect("submitted");
    outcome.wait().expect("acknowledged");
    made
}

fn stored(engine: &Engine, tenant: &TenantId) -> Vec<SeriesData> {
    let m = Matcher::new("job", MatchOp::Equal, "app").expect("a matcher");
    engine.select(tenant, &[m], 0, i64::MAX).expect("select")
}

/// (name, value bits of each sample) per stored series.
fn summary(series: &[SeriesData]) -> Vec<(String, Vec<u64>)> {
    series
        .iter()
        .map(|s| {
            let name = s.labels.get("__name__").unwrap_or_default().to_owned();
            (name, s.samples.iter().map(|x| x.value.to_bits()).collect())
        })
        .collect()
}

#[test]
fn known_series_go_by_handle_and_end_with_markers() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let engine = Engine::open(dir.path().join("data"), EngineConfig::default()).expect("open");
    let tenant = TenantId::new("acme").expect("a tenant");
    let t = target(dir.path());
    let mut cache = SeriesCache::default();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("a clock")
        .as_millis() as i64;

    let body = "a{x=\"1\"} 1\nb 2\ndropped_c 3\na{x=\"1\"} 9\n";
    let made = scrape(&engine, &tenant, &t, &mut cache, body, now);
    assert_eq!((made.scraped, made.post_relabel, made.added), (4, 3, 2));
    assert_eq!(made.duplicates, 1, "the second a{{x=\"1\"}} is a duplicate");
    let first = stored(&engine, &tenant);
    assert_eq!(
        summary(&first),
        [
            ("a".into(), vec![1f64.to_bits()]),
            ("b".into(), vec![2f64.to_bits()])
        ]
    );
    let a = &first[0].labels;
    assert_eq!(
        (a.get("x"), a.get("env"), a.get("instance")),
        (Some("1"), Some("prod"), Some("127.0.0.1:9"))
    );
    for series in [&b"a{x=\"1\"}"[..], b"b"] {
        let e = cache.get_mut(series).expect("cached");
        assert!(e.known.is_some(), "a handle for {series:?} once stored");
    }
    assert!(cache.get_mut(b"dropped_c").expect("cached").dropped);

    // The same series again, by handle: the same two series, a sample more each.
    let made = scrape(
        &engine,
        &tenant,
        &t,
        &mut cache,
        "a{x=\"1\"} 4\nb 5\ndropped_c 6\n",
        now + 15_000,
    );
    assert_eq!((made.added, made.stale), (0, 0));
    assert_eq!(
        summary(&stored(&engine, &tenant)),
        [
            ("a".into(), vec![1f64.to_bits(), 4f64.to_bits()]),
            ("b".into(), vec![2f64.to_bits(), 5f64.to_bits()])
        ]
    );

    // A forgotten handle: the series is found by its labels again.
    cache.forget_known();
    let made = scrape(&engine, &tenant, &t, &mut cache, "b 7\n", now + 30_000);
    assert_eq!((made.added, made.stale), (0, 1), "a{{x=\"1\"}} is gone");
    let after = summary(&stored(&engine, &tenant));
    assert_eq!(after.len(), 2, "{after:?}");
    assert_eq!(after[0].1.last(), Some(&STALE_NAN), "a's marker");
    assert_eq!(after[1].1.last(), Some(&7f64.to_bits()));
    assert!(cache.get_mut(b"b").expect("cached").known.is_some());

    // Handles of another tenant: refused by the engine, so the scrape goes by labels.
    let other = TenantId::new("other").expect("a tenant");
    scrape(&engine, &other, &t, &mut cache, "b 8\n", now + 45_000);
    assert_eq!(
        summary(&stored(&engine, &other)),
        [("b".into(), vec![8f64.to_bits()])]
    );
    assert_eq!(
        summary(&stored(&engine, &tenant))[1].1.len(),
        3,
        "acme's b untouched"
    );
}
