//! Metric metadata: distinct entries per family, the bounds, reads with limits, and
//! durability through the WAL alone (a crash before a flush, flushes that truncate the WAL
//! below their cut, restarts).

use strata_engine::{
    Engine, EngineConfig, FamilyMetadata, MAX_METADATA_HELP_BYTES, MAX_METADATA_PER_METRIC,
    Metadata, MetadataReject, MetricType, Sample, SeriesSamples, TenantId,
};

fn meta(kind: MetricType, help: &str, unit: &str) -> Metadata {
    Metadata {
        kind,
        help: help.into(),
        unit: unit.into(),
    }
}

fn entry(family: &str, m: &Metadata) -> FamilyMetadata {
    FamilyMetadata {
        family: family.into(),
        metadata: m.clone(),
    }
}

fn all(engine: &Engine, t: &TenantId) -> Vec<(String, Vec<Metadata>)> {
    engine.metadata(t, None, None, None)
}

fn sample(engine: &Engine, t: &TenantId, name: &str, ts: i64) {
    let out = engine
        .write(
            t,
            &[SeriesSamples {
                labels: vec![("__name__".into(), name.into())],
                samples: vec![Sample { ts, value: 1.0 }],
            }],
        )
        .unwrap();
    assert_eq!(out.accepted, 1);
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[test]
fn distinct_entries_per_family_newest_last_with_limits() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path(), EngineConfig::default()).unwrap();
    let t = TenantId::new("a").unwrap();
    let c = meta(MetricType::Counter, "Requests served.", "");
    let g = meta(MetricType::Gauge, "Requests served.", "");
    let mem = meta(MetricType::Gauge, "Memory in use.", "bytes");
    let out = engine
        .write_metadata(
            &t,
            &[
                entry("http_requests_total", &c),
                entry("memory", &mem),
                entry("http_requests_total", &c),
                entry("http_requests_total", &g),
            ],
        )
        .unwrap();
    assert_eq!((out.stored, out.unchanged, out.evicted), (3, 1, 0));
    assert_eq!(out.rejected_total(), 0);
    // A re-send of known entries changes nothing.
    let out = engine
        .write_metadata(
            &t,
            &[entry("memory", &mem), entry("http_requests_total", &c)],
        )
        .unwrap();
    assert_eq!((out.stored, out.unchanged), (0, 2));
    let want = vec![
        (
            "http_requests_total".to_string(),
            vec![c.clone(), g.clone()],
        ),
        ("memory".to_string(), vec![mem.clone()]),
    ];
    assert_eq!(all(&engine, &t), want);
    assert_eq!(
        engine.metadata(&t, Some("memory"), None, None),
        want[1..].to_vec()
    );
    assert_eq!(engine.metadata(&t, Some("nope"), None, None), vec![]);
    assert_eq!(engine.metadata(&t, None, Some(1), None), want[..1].to_vec());
    assert_eq!(
        engine.metadata(&t, None, None, Some(1)),
        vec![
            ("http_requests_total".to_string(), vec![c.clone()]),
            ("memory".to_string(), vec![mem.clone()]),
        ]
    );
    // Another tenant sees none of it.
    let other = TenantId::new("b").unwrap();
    assert_eq!(all(&engine, &other), vec![]);
}

#[test]
fn bad_entries_are_refused_and_counted_the_rest_stored() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path(), EngineConfig::default()).unwrap();
    let t = TenantId::new("a").unwrap();
    let ok = meta(MetricType::Counter, "ok", "");
    let long_help = meta(
        MetricType::Counter,
        &"h".repeat(MAX_METADATA_HELP_BYTES + 1),
        "",
    );
    let long_unit = meta(MetricType::Counter, "", &"u".repeat(1025));
    let out = engine
        .write_metadata(
            &t,
            &[
                entry("", &ok),
                entry("x_total", &long_help),
                entry("x_total", &long_unit),
                entry("y_total", &ok),
            ],
        )
        .unwrap();
    assert_eq!(out.stored, 1);
    assert_eq!(out.rejected[&MetadataReject::BadName], 1);
    assert_eq!(out.rejected[&MetadataReject::TooLong], 2);
    let msg = out.message().unwrap();
    assert!(msg.contains("rejected 3 metadata entries"), "{msg}");
    assert!(msg.contains("x_total"), "{msg}");
    assert_eq!(all(&engine, &t), vec![("y_total".to_string(), vec![ok])]);
    // A help of exactly the limit is fine.
    let edge = meta(
        MetricType::Counter,
        &"h".repeat(MAX_METADATA_HELP_BYTES),
        "",
    );
    assert_eq!(
        engine
            .write_metadata(&t, &[entry("x_total", &edge)])
            .unwrap()
            .stored,
        1
    );
}

#[test]
fn a_family_keeps_its_newest_distinct_entries() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path(), EngineConfig::default()).unwrap();
    let t = TenantId::new("a").unwrap();
    let n = MAX_METADATA_PER_METRIC + 3;
    let entries: Vec<Metadata> = (0..n)
        .map(|i| meta(MetricType::Gauge, &format!("help {i}"), ""))
        .collect();
    let batch: Vec<FamilyMetadata> = entries.iter().map(|m| entry("g", m)).collect();
    let out = engine.write_metadata(&t, &batch).unwrap();
    assert_eq!((out.stored, out.evicted), (n as u64, 3));
    assert_eq!(
        all(&engine, &t),
        vec![("g".to_string(), entries[3..].to_vec())]
    );
    // The bound holds after a restart too (replayed from the WAL).
    drop(engine);
    let engine = Engine::open(dir.path(), EngineConfig::default()).unwrap();
    assert_eq!(
        all(&engine, &t),
        vec![("g".to_string(), entries[3..].to_vec())]
    );
}

#[test]
fn metadata_survives_a_crash_flushes_and_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let t = TenantId::new("a").unwrap();
    let u = TenantId::new("u").unwrap();
    let c = meta(MetricType::Counter, "Requests.", "");
    let h = meta(MetricType::Histogram, "Latency.", "seconds");
    let engine = Engine::open(dir.path(), EngineConfig::default()).unwrap();
    engine
        .write_metadata(&t, &[entry("req_total", &c), entry("latency_seconds", &h)])
        .unwrap();
    engine.write_metadata(&u, &[entry("other", &c)]).unwrap();
    drop(engine); // a crash: no flush, the WAL alone
    let engine = Engine::open(dir.path(), EngineConfig::default()).unwrap();
    let want = vec![
        ("latency_seconds".to_string(), vec![h.clone()]),
        ("req_total".to_string(), vec![c.clone()]),
    ];
    assert_eq!(all(&engine, &t), want);
    // Replayed entries are known: a re-send writes nothing.
    let out = engine
        .write_metadata(&t, &[entry("req_total", &c)])
        .unwrap();
    assert_eq!((out.stored, out.unchanged), (0, 1));

    // A flush truncates the WAL below its cut; the metadata was logged again above it.
    sample(&engine, &t, "req_total", now());
    let stats = engine.flush().unwrap();
    assert_eq!(stats.samples, 1);
    let g = meta(MetricType::Gauge, "Requests, as a gauge.", "");
    engine
        .write_metadata(&t, &[entry("req_total", &g)])
        .unwrap();
    drop(engine); // a crash after the flush
    let engine = Engine::open(dir.path(), EngineConfig::default()).unwrap();
    let want = vec![
        ("latency_seconds".to_string(), vec![h.clone()]),
        ("req_total".to_string(), vec![c.clone(), g.clone()]),
    ];
    assert_eq!(all(&engine, &t), want);
    assert_eq!(
        all(&engine, &u),
        vec![("other".to_string(), vec![c.clone()])]
    );

    // Two more flushes (each truncating the WAL below it) and a clean close.
    sample(&engine, &t, "req_total", now() + 1);
    engine.flush().unwrap();
    sample(&engine, &t, "req_total", now() + 2);
    engine.flush().unwrap();
    engine.close().unwrap();
    let engine = Engine::open(dir.path(), EngineConfig::default()).unwrap();
    assert_eq!(all(&engine, &t), want);
    assert_eq!(
        all(&engine, &u),
        vec![("other".to_string(), vec![c.clone()])]
    );
}
