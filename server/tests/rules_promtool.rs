//! Rule evaluation against Prometheus's own: the same rule file over the same samples,
//! evaluated at the same instants by Strata (in process, on a real engine) and by Debian's
//! `promtool test rules` (Prometheus 2.42's rule manager and PromQL engine). Strata's
//! results become the expectations of a promtool unit test: the firing alerts with their
//! expanded labels and annotations at every evaluation, and the recorded series, `ALERTS`
//! and `ALERTS_FOR_STATE` at every evaluation time. promtool passes only if Prometheus
//! computes exactly the same.
//!
//! Range windows are not whole multiples of the samples' step: Prometheus 2.42 (Debian's)
//! takes a window's first instant in, Prometheus 3 and Strata leave it out, so a sample on
//! the boundary would be a difference, and it is not the rules'. For the same reason the
//! counter starts far from zero (see `input`). promtool orders groups at random unless told
//! (`group_eval_order`): the file's order is given, the order Strata evaluates them in.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use strata_engine::{Engine, EngineConfig, ManualClock, Sample, SeriesSamples, TenantId};
use strata_query::promql::{EngineSource, PromqlEngine, QueryOptions, Value};
use strata_server::rules::alert::State;
use strata_server::rules::env::Env;
use strata_server::rules::file::{self, Lang};
use strata_server::rules::group::{Group, Shared};
use strata_server::{AppState, Auth, Config};

const STEP_MS: i64 = 60_000;
const STEPS: usize = 24;

const RULES: &str = r#"groups:
  - name: recording
    rules:
      - record: job:errors:rate2m
        expr: sum by (job) (rate(errors_total[150s]))
      - record: job:up:count
        expr: count by (job) (up == 1)
        labels:
          team: ops
      - record: job:errors:ratio
        expr: job:errors:rate2m / on (job) group_left job:up:count
  - name: alerting
    rules:
      - alert: InstanceDown
        expr: up == 0
        for: 3m
        labels:
          severity: page
          down: "{{ $labels.instance }}"
        annotations:
          summary: "{{ $labels.instance }} of {{ $labels.job }} is down"
          value: "{{ $value }} {{ humanize $value }}"
      - alert: HighErrors
        expr: job:errors:rate2m > 0.05
        for: 2m
        keep_firing_for: 3m
        annotations:
          rate: '{{ printf "%.4f" $value }}/s ({{ humanizePercentage $value }})'
          link: "{{ $externalURL }}/alerts?job={{ $labels.job }}"
      - alert: NoErrors
        expr: absent(errors_total{job="db"})
        labels:
          severity: info
"#;

/// A series of the input: name, labels, one value per step (`None`: no sample).
type InputSeries = (
    &'static str,
    BTreeMap<&'static str, &'static str>,
    Vec<Option<f64>>,
);

/// The input.
fn input() -> Vec<InputSeries> {
    let up_a: Vec<Option<f64>> = (0..STEPS)
        .map(|i| Some(if (4..13).contains(&i) { 0.0 } else { 1.0 }))
        .collect();
    let up_b: Vec<Option<f64>> = (0..STEPS).map(|i| (i != 7).then_some(1.0)).collect();
    // Far from zero: Prometheus 2.42 and 3 extrapolate a counter's rate towards its zero
    // point differently (the order of two checks), which is not the rules' business either.
    let mut total = 1000.0;
    let errors: Vec<Option<f64>> = (0..STEPS)
        .map(|i| {
            total += if (6..15).contains(&i) { 9.0 } else { 1.0 };
            Some(total)
        })
        .collect();
    vec![
        (
            "up",
            BTreeMap::from([("job", "api"), ("instance", "a")]),
            up_a,
        ),
        (
            "up",
            BTreeMap::from([("job", "api"), ("instance", "b")]),
            up_b,
        ),
        ("errors_total", BTreeMap::from([("job", "api")]), errors),
    ]
}

fn series_text(name: &str, labels: &BTreeMap<&str, &str>) -> String {
    let inner: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{name}{{{}}}", inner.join(", "))
}

/// YAML for a label map (JSON strings are YAML strings).
fn yaml_map(m: &BTreeMap<String, String>) -> String {
    serde_json::to_string(m).expect("labels as JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strata_evaluates_rules_as_prometheus_does() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rules_path = dir.path().join("rules.yml");
    std::fs::write(&rules_path, RULES).expect("rule file");

    // Strata: the samples into an engine whose clock is just past them.
    let clock = ManualClock::new(STEPS as i64 * STEP_MS + 60_000);
    let engine = Engine::open_with_clock(dir.path().join("data"), EngineConfig::default(), clock)
        .expect("engine");
    let tenant = TenantId::default_tenant();
    let batch = input_batch();
    let out = engine.write(&tenant, &batch).expect("write");
    assert_eq!(out.rejected_total(), 0, "{:?}", out.messages);
    let engine = Arc::new(engine);
    let state = AppState::new(Auth::new(&[]).expect("auth"), &Config::default());
    state.set_engine(engine.clone());
    let env = Env {
        state,
        tenant: tenant.clone(),
    };
    let shared = Shared {
        external_labels: BTreeMap::new(),
        external_url: "http://strata.example".into(),
    };
    let spec = file::load(&rules_path, Lang::Promql).expect("rules load");
    let interval = Duration::from_millis(STEP_MS as u64);
    let mut groups: Vec<Group> = spec
        .groups
        .into_iter()
        .map(|g| Group::new(rules_path.clone(), Lang::Promql, g, interval, true))
        .collect();

    // Evaluate as promtool does: every group in order at 0, 1m, ... and record what fires.
    let mut alert_tests = String::new();
    let mut fired = 0;
    for step in 0..STEPS {
        let ts = step as i64 * STEP_MS;
        for g in &mut groups {
            let failed = g.eval(&env, &shared, ts, ts).await;
            assert_eq!(
                failed,
                0,
                "at {ts}: {:?}",
                g.rules.iter().map(|r| &r.last_error).collect::<Vec<_>>()
            );
        }
        for rule in groups[1].rules.iter() {
            let _ = writeln!(
                alert_tests,
                "      - eval_time: {}m\n        alertname: {}\n        exp_alerts:",
                step,
                rule.spec.name()
            );
            let firing: Vec<_> = rule
                .alerts
                .current()
                .filter(|a| a.state == State::Firing)
                .collect();
            fired += firing.len();
            if firing.is_empty() {
                alert_tests.push_str("          []\n");
            }
            for a in firing {
                let labels: BTreeMap<String, String> = a
                    .labels
                    .iter()
                    .filter(|(k, _)| *k != "alertname")
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .collect();
                let _ = writeln!(
                    alert_tests,
                    "          - exp_labels: {}\n            exp_annotations: {}",
                    yaml_map(&labels),
                    yaml_map(&a.annotations)
                );
            }
        }
    }
    assert!(
        fired > 10,
        "the data makes alerts fire ({fired} firing alert-steps)"
    );

    // What Strata stored, read back with PromQL at every evaluation time.
    let promql = PromqlEngine::new(QueryOptions::default());
    let mut expr_tests = String::new();
    let mut samples_seen = 0;
    for step in 0..STEPS {
        let ts = step as i64 * STEP_MS;
        for expr in [
            "job:errors:rate2m",
            "job:up:count",
            "job:errors:ratio",
            "ALERTS",
            "ALERTS_FOR_STATE",
        ] {
            let source = EngineSource::new(&engine, &tenant);
            let res = promql.instant(&source, expr, ts).expect("query");
            let Value::Vector(v) = res.value else {
                panic!("not a vector")
            };
            let _ = writeln!(
                expr_tests,
                "      - expr: {expr}\n        eval_time: {step}m\n        exp_samples:"
            );
            if v.is_empty() {
                expr_tests.push_str("          []\n");
            }
            for s in v {
                samples_seen += 1;
                let labels: BTreeMap<String, String> = s
                    .labels
                    .iter()
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .collect();
                let name = labels.get("__name__").cloned().unwrap_or_default();
                let rest: BTreeMap<&str, &str> = labels
                    .iter()
                    .filter(|(k, _)| *k != "__name__")
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                let _ = writeln!(
                    expr_tests,
                    "          - labels: {}\n            value: {:?}",
                    serde_json::to_string(&series_text(&name, &rest)).expect("json"),
                    s.value
                );
            }
        }
    }
    assert!(
        samples_seen > 50,
        "recorded series and ALERTS were read back ({samples_seen})"
    );

    let test = promtool_unit_test(&alert_tests, &expr_tests);
    let test_path = dir.path().join("test.yml");
    std::fs::write(&test_path, &test).expect("test file");
    promtool_agrees(dir.path(), &test);
}

fn promtool_agrees(dir: &Path, test: &str) {
    let out = Command::new("promtool")
        .current_dir(dir)
        .args(["test", "rules", "test.yml"])
        .output()
        .expect("promtool (Debian's prometheus package; .ci/test.sh installs it)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "Prometheus disagrees with Strata:\n{stdout}\n{stderr}\n--- the test file ---\n{test}"
    );
    assert!(stdout.contains("SUCCESS"), "{stdout}");
}

/// The input series as one batch for the engine, a sample a step (`None` is a gap).
fn input_batch() -> Vec<SeriesSamples> {
    input()
        .into_iter()
        .map(|(name, labels, values)| SeriesSamples {
            labels: std::iter::once(("__name__".to_owned(), name.to_owned()))
                .chain(labels.iter().map(|(k, v)| (k.to_string(), v.to_string())))
                .collect(),
            samples: values
                .iter()
                .enumerate()
                .filter_map(|(i, v)| {
                    v.map(|value| Sample {
                        ts: i as i64 * STEP_MS,
                        value,
                    })
                })
                .collect(),
        })
        .collect()
}

/// The same as a promtool unit test whose expectations are Strata's results.
fn promtool_unit_test(alert_tests: &str, expr_tests: &str) -> String {
    let mut test = String::new();
    let _ = writeln!(
        test,
        "rule_files:\n  - rules.yml\nevaluation_interval: 1m\ngroup_eval_order: [recording, alerting]\ntests:\n  - interval: 1m\n    external_url: http://strata.example\n    input_series:"
    );
    for (name, labels, values) in input() {
        let v: Vec<String> = values
            .iter()
            .map(|v| v.map_or_else(|| "_".to_owned(), |x| format!("{x}")))
            .collect();
        let _ = writeln!(
            test,
            "      - series: {}\n        values: \"{}\"",
            serde_json::to_string(&series_text(name, &labels)).expect("json"),
            v.join(" ")
        );
    }
    test.push_str("    alert_rule_test:\n");
    test.push_str(alert_tests);
    test.push_str("    promql_expr_test:\n");
    test.push_str(expr_tests);
    test
}
