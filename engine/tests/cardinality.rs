//! `Engine::cardinality` and `Engine::disk_partitions`: the figures equal what the test
//! wrote (counted here from the label sets, not by the engine), with and without
//! selectors, a focus label and a limit; and the partitions listed are the hours written.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use strata_engine::{
    Cardinality, CardinalityQuery, Engine, EngineConfig, ManualClock, MatchOp, Matcher, NamedCount,
    Sample, SeriesSamples, SpanRecord, TenantId,
};

const NOW: i64 = 1_763_683_200_000; // 2025-11-21T00:00:00Z, an hour boundary

type LabelSet = Vec<(String, String)>;

fn set(pairs: &[(&str, &str)]) -> LabelSet {
    let mut v: LabelSet = pairs
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect();
    v.sort();
    v
}

/// 100 `http_requests_total` (50 pods × 2 methods, job=api), 10 `up` (jobs api and db ×
/// 5 instances), 5 `node_load1` (job=node × 5 instances).
fn fixture() -> Vec<LabelSet> {
    let mut out = Vec::new();
    for pod in 0..50 {
        for method in ["GET", "POST"] {
            let pod = format!("pod-{pod}");
            out.push(set(&[
                ("__name__", "http_requests_total"),
                ("job", "api"),
                ("pod", &pod),
                ("method", method),
            ]));
        }
    }
    for job in ["api", "db"] {
        for i in 0..5 {
            let inst = format!("i{i}");
            out.push(set(&[
                ("__name__", "up"),
                ("job", job),
                ("instance", &inst),
            ]));
        }
    }
    for i in 0..5 {
        let inst = format!("i{i}");
        out.push(set(&[
            ("__name__", "node_load1"),
            ("job", "node"),
            ("instance", &inst),
        ]));
    }
    out
}

fn open(dir: &std::path::Path) -> Engine {
    let clock = Arc::new(ManualClock::new(NOW + 60_000));
    Engine::open_with_clock(dir, EngineConfig::default(), clock).expect("open")
}

fn write(engine: &Engine, t: &TenantId, sets: &[LabelSet], ts: &[i64]) {
    let batch: Vec<SeriesSamples> = sets
        .iter()
        .map(|labels| SeriesSamples {
            labels: labels.clone(),
            samples: ts.iter().map(|&ts| Sample { ts, value: 1.0 }).collect(),
        })
        .collect();
    let out = engine.write(t, &batch).expect("write");
    assert_eq!(out.accepted, (sets.len() * ts.len()) as u64, "{out:?}");
}

fn nc(name: &str, value: u64) -> NamedCount {
    NamedCount {
        name: name.to_owned(),
        value,
    }
}

fn q(limit: usize) -> CardinalityQuery {
    CardinalityQuery {
        limit,
        ..CardinalityQuery::default()
    }
}

fn m(name: &str, op: MatchOp, value: &str) -> Matcher {
    Matcher::new(name, op, value).expect("matcher")
}

/// The figures, counted from `sets` directly: what the engine must answer.
fn brute(sets: &[LabelSet], focus: Option<&str>, limit: usize) -> Cardinality {
    let mut values: BTreeMap<&str, BTreeMap<&str, u64>> = BTreeMap::new();
    for s in sets {
        for (n, v) in s {
            *values.entry(n).or_default().entry(v).or_default() += 1;
        }
    }
    let sorted = |mut v: Vec<NamedCount>, limit: usize| {
        v.sort_by(|a, b| b.value.cmp(&a.value).then_with(|| a.name.cmp(&b.name)));
        v.truncate(limit);
        v
    };
    let per_name = |f: &dyn Fn(&str, &BTreeMap<&str, u64>) -> u64| {
        sorted(
            values.iter().map(|(n, vs)| nc(n, f(n, vs))).collect(),
            limit,
        )
    };
    let values_by_label = per_name(&|_, vs| vs.len() as u64);
    let of = |name: &str| -> Vec<NamedCount> {
        sorted(
            values
                .get(name)
                .map(|vs| vs.iter().map(|(v, c)| nc(v, *c)).collect())
                .unwrap_or_default(),
            limit,
        )
    };
    let mut added_labels: Vec<String> = values_by_label
        .iter()
        .map(|n| n.name.clone())
        .filter(|n| n != "__name__")
        .collect();
    if let Some(f) = focus
        && !added_labels.iter().any(|n| n == f)
        && values.contains_key(f)
    {
        added_labels.push(f.to_owned());
    }
    let added = added_labels
        .iter()
        .map(|l| {
            let without: BTreeSet<LabelSet> = sets
                .iter()
                .map(|s| s.iter().filter(|(n, _)| n != l).cloned().collect())
                .collect();
            nc(l, (sets.len() - without.len()) as u64)
        })
        .collect();
    Cardinality {
        series: sets.len() as u64,
        label_pairs: values.values().map(|vs| vs.len() as u64).sum(),
        series_by_metric: of("__name__"),
        values_by_label,
        bytes_by_label: per_name(&|n, vs| {
            vs.iter()
                .map(|(v, c)| (8 + n.len() + v.len()) as u64 * c)
                .sum()
        }),
        series_by_pair: sorted(
            values
                .iter()
                .flat_map(|(n, vs)| vs.iter().map(move |(v, c)| nc(&format!("{n}={v}"), *c)))
                .collect(),
            limit,
        ),
        series_by_label: per_name(&|_, vs| vs.values().sum()),
        series_by_focus_value: focus.map(of).unwrap_or_default(),
        series_added_by_label: sorted(added, usize::MAX),
        ..Cardinality::default()
    }
}

/// `got` without what `brute` does not compute (the head summary, active series).
fn lists(mut got: Cardinality) -> Cardinality {
    got.head = Default::default();
    got.active_series = 0;
    got
}

#[test]
fn figures_equal_what_was_written() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    let t = TenantId::new("t").unwrap();
    let sets = fixture();
    write(&engine, &t, &sets, &[NOW, NOW + 15_000]);

    let c = engine.cardinality(&t, &q(10)).unwrap();
    // The head as a whole: 115 series, 3 + 3 + 50 + 2 + 5 label pairs.
    assert_eq!(c.head.series, 115);
    assert_eq!(c.head.label_pairs, 63);
    assert_eq!(c.head.series_with_samples, 115);
    assert_eq!(
        (c.head.min_time, c.head.max_time),
        (Some(NOW), Some(NOW + 15_000))
    );
    assert_eq!(c.active_series, 115);
    // Spelled out once, from the fixture's description.
    assert_eq!(
        c.series_by_metric,
        vec![
            nc("http_requests_total", 100),
            nc("up", 10),
            nc("node_load1", 5)
        ]
    );
    assert_eq!(
        c.values_by_label,
        vec![
            nc("pod", 50),
            nc("instance", 5),
            nc("__name__", 3),
            nc("job", 3),
            nc("method", 2)
        ]
    );
    assert_eq!(c.series_by_pair[0], nc("job=api", 105));
    assert_eq!(c.series_by_pair[1], nc("__name__=http_requests_total", 100));
    // pod: 100 series become {job, method}: 2. method: 50. instance: up 10 -> 2, node 5 -> 1.
    // job: up's api and db of one instance merge: 5.
    assert_eq!(
        c.series_added_by_label,
        vec![
            nc("pod", 98),
            nc("method", 50),
            nc("instance", 12),
            nc("job", 5)
        ]
    );
    // pods 0-9 take 8 + 3 + 5 bytes per series, pods 10-49 one more; 2 series each.
    assert_eq!(
        c.bytes_by_label.iter().find(|n| n.name == "pod"),
        Some(&nc("pod", 10 * 16 * 2 + 40 * 17 * 2))
    );
    assert_eq!(lists(c), brute(&sets, None, 10));

    // A limit and a focus label.
    let focus = CardinalityQuery {
        limit: 3,
        focus_label: Some("pod".into()),
        ..CardinalityQuery::default()
    };
    let c = engine.cardinality(&t, &focus).unwrap();
    assert_eq!(
        c.series_by_focus_value,
        vec![nc("pod-0", 2), nc("pod-1", 2), nc("pod-10", 2)]
    );
    assert_eq!(c.series_by_metric.len(), 3);
    assert_eq!(c.values_by_label.len(), 3);
    assert_eq!(lists(c), brute(&sets, Some("pod"), 3));

    // Selectors: series matching any.
    let sel = CardinalityQuery {
        limit: 10,
        selectors: vec![
            vec![m("__name__", MatchOp::Equal, "up")],
            vec![m("job", MatchOp::Equal, "node")],
        ],
        focus_label: Some("job".into()),
    };
    let c = engine.cardinality(&t, &sel).unwrap();
    assert_eq!(c.series, 15);
    assert_eq!(c.head.series, 115, "the head summary ignores selectors");
    let picked: Vec<LabelSet> = sets
        .iter()
        .filter(|s| {
            s.contains(&("__name__".into(), "up".into()))
                || s.contains(&("job".into(), "node".into()))
        })
        .cloned()
        .collect();
    assert_eq!(picked.len(), 15);
    assert_eq!(lists(c), brute(&picked, Some("job"), 10));

    // A selector matching nothing, a tenant with nothing, a limit of 0.
    let none = CardinalityQuery {
        limit: 10,
        selectors: vec![vec![m("job", MatchOp::Equal, "nope")]],
        focus_label: None,
    };
    let c = engine.cardinality(&t, &none).unwrap();
    assert_eq!(
        (
            c.series,
            c.series_by_metric.len(),
            c.series_added_by_label.len()
        ),
        (0, 0, 0)
    );
    let other = TenantId::new("other").unwrap();
    assert_eq!(engine.cardinality(&other, &q(10)).unwrap().series, 0);
    assert!(engine.cardinality(&t, &q(0)).is_err());

    // After a flush the series stay in the head, their samples do not.
    engine.flush().unwrap();
    let c = engine.cardinality(&t, &q(10)).unwrap();
    assert_eq!((c.head.series, c.head.series_with_samples), (115, 0));
    assert_eq!((c.head.min_time, c.head.max_time), (None, None));
    assert_eq!(c.series, 115);
}

/// Many series over all shards, labels often absent, values shared across metrics: the
/// engine's figures equal a count over the label sets.
#[test]
fn figures_match_a_count_over_many_irregular_series() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    let t = TenantId::new("t").unwrap();
    let mut x: u64 = 42;
    let mut next = |n: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n
    };
    let mut sets: HashMap<LabelSet, ()> = HashMap::new();
    while sets.len() < 3_000 {
        let metric = format!("m{}", next(40));
        let mut pairs = vec![("__name__".to_owned(), metric)];
        for (name, n) in [("a", 3), ("b", 50), ("c", 7), ("d", 400)] {
            if next(4) > 0 {
                pairs.push((name.to_owned(), format!("v{}", next(n))));
            }
        }
        pairs.sort();
        sets.insert(pairs, ());
    }
    let sets: Vec<LabelSet> = sets.into_keys().collect();
    write(&engine, &t, &sets, &[NOW]);
    for focus in [None, Some("c"), Some("a")] {
        let query = CardinalityQuery {
            limit: 25,
            focus_label: focus.map(str::to_owned),
            ..CardinalityQuery::default()
        };
        let got = engine.cardinality(&t, &query).unwrap();
        assert_eq!(lists(got), brute(&sets, focus, 25), "focus {focus:?}");
    }
    let sel = CardinalityQuery {
        limit: 25,
        selectors: vec![vec![
            m("b", MatchOp::Regex, "v1.*"),
            m("d", MatchOp::NotEqual, "v3"),
        ]],
        focus_label: Some("d".into()),
    };
    let picked: Vec<LabelSet> = sets
        .iter()
        .filter(|s| {
            let get = |n: &str| s.iter().find(|p| p.0 == n).map_or("", |p| p.1.as_str());
            get("b").starts_with("v1") && get("d") != "v3"
        })
        .cloned()
        .collect();
    assert!(picked.len() > 100, "{}", picked.len());
    assert_eq!(
        lists(engine.cardinality(&t, &sel).unwrap()),
        brute(&picked, Some("d"), 25)
    );
}

#[test]
fn disk_partitions_list_the_hours_written() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    let t = TenantId::new("t").unwrap();
    let hour = 3_600_000;
    let before: Vec<_> = engine.disk_partitions(&t);
    assert_eq!(before.len(), 3);
    assert!(
        before
            .iter()
            .all(|s| s.partitions.is_empty() && s.bytes == 0)
    );

    write(
        &engine,
        &t,
        &fixture(),
        &[NOW - 2 * hour + 5, NOW - hour + 7],
    );
    let span = SpanRecord {
        trace_id: [7; 16],
        span_id: [1; 8],
        service_name: "api".into(),
        name: "GET /".into(),
        start_ns: (NOW - hour) * 1_000_000 + 1,
        end_ns: (NOW - hour) * 1_000_000 + 2_000,
        ..SpanRecord::default()
    };
    assert_eq!(engine.write_spans(&t, &[span]).unwrap().accepted, 1);
    engine.flush().unwrap();

    let disk = engine.disk_partitions(&t);
    let signals: Vec<&str> = disk.iter().map(|s| s.signal).collect();
    assert_eq!(signals, ["metrics", "traces", "logs"]);
    let starts = |i: usize| -> Vec<(i64, i64)> {
        disk[i]
            .partitions
            .iter()
            .map(|p| (p.start, p.end))
            .collect()
    };
    assert_eq!(
        starts(0),
        vec![(NOW - 2 * hour, NOW - hour), (NOW - hour, NOW)]
    );
    assert_eq!(starts(1), vec![(NOW - hour, NOW)]);
    assert!(disk[2].partitions.is_empty());
    assert_eq!(disk[0].retention_ms, 30 * 86_400_000);
    assert_eq!(disk[1].retention_ms, 7 * 86_400_000);
    // The bytes are the engine's telemetry's (the files' sizes), split by hour.
    let tel = engine.telemetry();
    for s in &disk[..2] {
        assert!(s.partitions.iter().all(|p| p.file_sets >= 1 && p.bytes > 0));
        assert_eq!(s.bytes, s.partitions.iter().map(|p| p.bytes).sum::<u64>());
        assert_eq!(
            Some(s.bytes),
            tel.disk.get(&(t.clone(), s.signal)).map(|d| d.bytes)
        );
    }
    assert!(
        engine
            .disk_partitions(&TenantId::new("other").unwrap())
            .iter()
            .all(|s| s.partitions.is_empty())
    );
}
