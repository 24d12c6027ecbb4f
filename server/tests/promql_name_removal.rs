//! The `promql.delayed_name_removal` key reaches the Prometheus API of the real `strata`
//! binary: without it, `rate` drops `__name__` before an enclosing
//! `label_replace` reads it, as Prometheus does by default; with it, the name is read and
//! dropped at the end, as Prometheus's `promql-delayed-name-removal` does.

mod common;

use strata_engine::{Engine, EngineConfig, Sample, SeriesSamples, TenantId};
use strata_tests::server::Server;

/// Writes `requests_total{job="api"}`, +1 a second for ten minutes up to `now_ms`, into
/// the data directory (the server replays it from the WAL).
fn write_counter(dir: &std::path::Path, now_ms: i64) {
    let engine = Engine::open(dir, EngineConfig::default()).expect("open");
    let series = SeriesSamples {
        labels: vec![
            ("__name__".into(), "requests_total".into()),
            ("job".into(), "api".into()),
        ],
        samples: (0..600)
            .map(|k| Sample {
                ts: now_ms - (600 - k) * 1000,
                value: k as f64,
            })
            .collect(),
    };
    let out = engine
        .write(&TenantId::default_tenant(), &[series])
        .expect("write");
    assert_eq!(out.accepted, 600, "{out:?}");
    engine.close().expect("close");
}

/// The body of an instant query of `q` at `t_ms`.
fn query(server: &Server, q: &str, t_ms: i64) -> String {
    server.instant_query(q, t_ms, &[]).text()
}

#[test]
fn the_config_key_switches_when_label_replace_stops_seeing_the_name() {
    let q = r#"label_replace(rate(requests_total[5m]), "x", "$1", "__name__", "(.+)")"#;
    for (config, want_x) in [
        ("", false),
        ("[promql]\ndelayed_name_removal = false\n", false),
        ("[promql]\ndelayed_name_removal = true\n", true),
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        let now = common::now_ms();
        write_counter(&strata_tests::server::data_dir(dir.path()), now);
        let server = Server::start(common::bin(), dir.path(), config);
        server.wait_ready(common::READY);
        let body = query(&server, q, now);
        assert!(body.contains(r#""job":"api""#), "{config:?}: {body}");
        assert!(!body.contains("__name__"), "{config:?}: {body}");
        assert_eq!(
            body.contains(r#""x":"requests_total""#),
            want_x,
            "{config:?}: {body}"
        );
        // The rate itself is the same in both modes: 1 per second.
        let value = body
            .split(r#""value":["#)
            .nth(1)
            .and_then(|v| v.split('"').nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or_else(|| panic!("{config:?}: no value in {body}"));
        assert!((value - 1.0).abs() < 1e-9, "{config:?}: {value}");
    }
}
