//! The engine's write path end to end on a real directory: restart round trips, the
//! out-of-order and duplicate policy, special values, tenant isolation, label limits.

mod common;

use std::collections::BTreeMap;

use strata_engine::{
    Engine, EngineConfig, Limits, MatchOp, Matcher, RejectReason, Sample, SeriesSamples, TenantId,
};

fn series(name: &str, extra: &[(&str, &str)], samples: &[(i64, f64)]) -> SeriesSamples {
    let mut labels = vec![("__name__".to_owned(), name.to_owned())];
    labels.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    SeriesSamples {
        labels,
        samples: samples
            .iter()
            .map(|&(ts, value)| Sample { ts, value })
            .collect(),
    }
}

fn tenant(t: &str) -> TenantId {
    TenantId::new(t).unwrap()
}

/// Everything a tenant has, as (series text, [(ts, value bits)]).
fn dump(engine: &Engine, t: &TenantId) -> BTreeMap<String, Vec<(i64, u64)>> {
    engine
        .select(t, &[], i64::MIN, i64::MAX)
        .unwrap()
        .into_iter()
        .map(|s| {
            let samples = s
                .samples
                .iter()
                .map(|x| (x.ts, x.value.to_bits()))
                .collect();
            (s.labels.to_string(), samples)
        })
        .collect()
}

#[test]
fn restart_reads_back_exactly_what_was_written() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path(), common::config()).unwrap();
    let stale = f64::from_bits(0x7FF0_0000_0000_0002);
    let (a, b) = (tenant("a"), tenant("b"));
    for i in 0..50i64 {
        let batch = [
            series("cpu", &[("host", "x")], &[(i * 1000, i as f64 * 0.5)]),
            series("cpu", &[("host", "y")], &[(i * 1000, -(i as f64))]),
            series(
                "odd",
                &[],
                &[(
                    i,
                    [f64::NAN, stale, f64::INFINITY, f64::NEG_INFINITY, -0.0][i as usize % 5],
                )],
            ),
        ];
        let out = engine
            .write(if i % 2 == 0 { &a } else { &b }, &batch)
            .unwrap();
        assert_eq!(out.accepted, 3);
    }
    let before = (dump(&engine, &a), dump(&engine, &b));
    assert_eq!(before.0.len(), 3);
    assert_eq!(before.0[r#"cpu{host="x"}"#].len(), 25);
    engine.close().unwrap();

    let engine = Engine::open(dir.path(), common::config()).unwrap();
    assert_eq!(
        (dump(&engine, &a), dump(&engine, &b)),
        before,
        "identical after replay"
    );
    // Special values survive bit for bit, the staleness marker included.
    let odd = &dump(&engine, &a)["odd{}"];
    assert!(odd.iter().any(|&(_, bits)| bits == stale.to_bits()));
    assert!(odd.iter().any(|&(_, bits)| bits == f64::NAN.to_bits()));
    assert_eq!(engine.tenants(), [a, b]);
}

#[test]
fn out_of_order_duplicates_and_conflicts_follow_the_policy() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path(), common::config()).unwrap(); // 1 h window
    let t = tenant("t");
    let hour = 3_600_000;
    let newest = 10 * hour;
    engine
        .write(&t, &[series("m", &[], &[(newest, 1.0)])])
        .unwrap();

    let out = engine
        .write(
            &t,
            &[series(
                "m",
                &[],
                &[
                    (newest - hour, 2.0),     // at the window edge: accepted
                    (newest - hour - 1, 3.0), // past it: too old
                    (newest, 1.0),            // identical re-send: duplicate
                    (newest, 9.0),            // different value, same ts: conflict
                    (newest - 5, 4.0),        // inside the window: accepted, in order
                ],
            )],
        )
        .unwrap();
    assert_eq!(out.accepted, 2);
    assert_eq!(out.duplicates, 1);
    assert_eq!(
        out.rejected,
        BTreeMap::from([
            (RejectReason::TooOld, 1),
            (RejectReason::ConflictingValue, 1)
        ])
    );
    assert!(out.messages[&RejectReason::TooOld].contains("out-of-order window (3600000 ms)"));
    assert!(out.messages[&RejectReason::ConflictingValue].contains(&newest.to_string()));

    let got: Vec<(i64, f64)> = engine.select(&t, &[], 0, i64::MAX).unwrap()[0]
        .samples
        .iter()
        .map(|s| (s.ts, s.value))
        .collect();
    assert_eq!(
        got,
        [(newest - hour, 2.0), (newest - 5, 4.0), (newest, 1.0)]
    );

    // Re-sending a whole batch is harmless and shows each sample once.
    let again = engine
        .write(&t, &[series("m", &[], &[(newest - 5, 4.0), (newest, 1.0)])])
        .unwrap();
    assert_eq!(
        (again.accepted, again.duplicates, again.rejected_total()),
        (0, 2, 0)
    );
    engine.close().unwrap();
    let engine = Engine::open(dir.path(), common::config()).unwrap();
    assert_eq!(
        engine.select(&t, &[], 0, i64::MAX).unwrap()[0]
            .samples
            .len(),
        3
    );
}

#[test]
fn tenants_never_see_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path(), common::config()).unwrap();
    let (a, b) = (tenant("a"), tenant("b"));
    engine
        .write(&a, &[series("secret", &[("k", "a")], &[(1, 1.0)])])
        .unwrap();
    engine
        .write(&b, &[series("secret", &[("k", "b")], &[(1, 2.0)])])
        .unwrap();
    let only = |t: &TenantId| {
        let s = engine
            .select(
                t,
                &[Matcher::new("__name__", MatchOp::Equal, "secret").unwrap()],
                0,
                10,
            )
            .unwrap();
        s.iter()
            .map(|x| x.labels.get("k").unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(only(&a), ["a"]);
    assert_eq!(only(&b), ["b"]);
    assert_eq!(engine.label_values(&a, "k", 0, 10).unwrap(), ["a"]);
    assert!(
        engine
            .select(&tenant("c"), &[], i64::MIN, i64::MAX)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn label_limits_reject_exactly_the_offending_series() {
    let dir = tempfile::tempdir().unwrap();
    let config = EngineConfig {
        limits: Limits {
            max_labels_per_series: 3,
            max_label_name_len: 8,
            max_label_value_len: 10,
            ..common::limits()
        },
        ..common::config()
    };
    let engine = Engine::open(dir.path(), config).unwrap();
    let t = tenant("t");
    let batch = [
        series("ok", &[("a", "1")], &[(1, 1.0), (2, 2.0)]),
        series(
            "many",
            &[("a", "1"), ("b", "2"), ("c", "3")],
            &[(1, 1.0), (2, 2.0), (3, 3.0)],
        ),
        series("longname", &[("abcdefghi", "1")], &[(1, 1.0)]),
        series("longval", &[("a", "12345678901")], &[(1, 1.0), (2, 1.0)]),
        series("nameless", &[], &[(1, 1.0)]),
    ];
    let mut batch = batch.to_vec();
    batch[4].labels.clear();
    batch[4].labels.push(("job".into(), "x".into()));
    let out = engine.write(&t, &batch).unwrap();
    assert_eq!(out.accepted, 2);
    assert_eq!(
        out.rejected,
        BTreeMap::from([
            (RejectReason::TooManyLabels, 3),
            (RejectReason::LabelNameTooLong, 1),
            (RejectReason::LabelValueTooLong, 2),
            (RejectReason::MissingMetricName, 1),
        ])
    );
    assert!(
        out.messages[&RejectReason::TooManyLabels].contains("max_labels_per_series = 3"),
        "{out:?}"
    );
    assert!(out.messages[&RejectReason::LabelValueTooLong].contains("max_label_value_len = 10"));
    assert_eq!(
        engine.series_count(&t),
        1,
        "rejected series are not registered"
    );
    assert_eq!(engine.label_values(&t, "__name__", 0, 10).unwrap(), ["ok"]);
}

#[test]
fn matchers_select_like_promql() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path(), common::config()).unwrap();
    let t = tenant("t");
    let batch: Vec<_> = ["api", "web", "db"]
        .iter()
        .map(|job| series("up", &[("job", job)], &[(100, 1.0), (200, 0.0)]))
        .chain([series("up", &[], &[(100, 1.0)])])
        .collect();
    engine.write(&t, &batch).unwrap();
    let jobs = |m: Vec<Matcher>, start, end| {
        engine
            .select(&t, &m, start, end)
            .unwrap()
            .iter()
            .map(|s| s.labels.get("job").unwrap_or("-").to_owned())
            .collect::<Vec<_>>()
    };
    let m = |n, op, v| Matcher::new(n, op, v).unwrap();
    assert_eq!(
        jobs(vec![m("job", MatchOp::Regex, "a.*|db")], 0, 1000),
        ["api", "db"]
    );
    assert_eq!(
        jobs(vec![m("job", MatchOp::NotEqual, "api")], 0, 1000),
        ["-", "db", "web"]
    );
    assert_eq!(jobs(vec![m("job", MatchOp::Equal, "")], 0, 1000), ["-"]);
    assert_eq!(
        jobs(vec![m("job", MatchOp::NotRegex, "")], 0, 1000),
        ["api", "db", "web"]
    );
    // Time range is inclusive at both ends; series without samples in range are left out.
    assert_eq!(jobs(vec![], 200, 200), ["api", "db", "web"]);
    assert_eq!(engine.select(&t, &[], 101, 199).unwrap().len(), 0);
    assert_eq!(
        engine.label_names(&t, 0, 1000).unwrap(),
        ["__name__", "job"]
    );
}
