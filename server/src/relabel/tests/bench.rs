//! A micro benchmark, ignored by default (no timing is asserted):
//! `cargo test --release -- --ignored --nocapture relabel_micro_benchmark`.
//! The rule sets are Prometheus's `BenchmarkRelabel` ones.

use std::hint::black_box;
use std::time::Instant;

use super::{Outcome, compile, labels};

const KUBERNETES: &str = r#"
[[rules]]
source_labels = ["__meta_kubernetes_pod_container_port_name"]
regex = ".*-metrics"
action = "keep"
[[rules]]
source_labels = ["__meta_kubernetes_pod_label_name"]
action = "drop"
regex = ""
[[rules]]
source_labels = ["__meta_kubernetes_pod_phase"]
regex = "Succeeded|Failed"
action = "drop"
[[rules]]
source_labels = ["__meta_kubernetes_pod_annotation_prometheus_io_scrape"]
regex = "false"
action = "drop"
[[rules]]
source_labels = ["__meta_kubernetes_pod_annotation_prometheus_io_scheme"]
target_label = "__scheme__"
regex = "(https?)"
replacement = "$1"
[[rules]]
source_labels = ["__meta_kubernetes_pod_annotation_prometheus_io_path"]
target_label = "__metrics_path__"
regex = "(.+)"
replacement = "$1"
[[rules]]
source_labels = ["__address__", "__meta_kubernetes_pod_annotation_prometheus_io_port"]
target_label = "__address__"
regex = '(.+?)(\:\d+)?;(\d+)'
replacement = "$1:$3"
[[rules]]
regex = "__meta_kubernetes_pod_annotation_prometheus_io_param_(.+)"
replacement = "__param_$1"
action = "labelmap"
[[rules]]
regex = "__meta_kubernetes_pod_label_prometheus_io_label_(.+)"
action = "labelmap"
[[rules]]
regex = "__meta_kubernetes_pod_annotation_prometheus_io_label_(.+)"
action = "labelmap"
[[rules]]
source_labels = ["__meta_kubernetes_namespace", "__meta_kubernetes_pod_label_name"]
separator = "/"
target_label = "job"
replacement = "$1"
[[rules]]
source_labels = ["__meta_kubernetes_namespace"]
target_label = "namespace"
[[rules]]
source_labels = ["__meta_kubernetes_pod_name"]
target_label = "pod"
[[rules]]
source_labels = ["__meta_kubernetes_pod_container_name"]
target_label = "container"
[[rules]]
source_labels = ["__meta_kubernetes_pod_name", "__meta_kubernetes_pod_container_name", "__meta_kubernetes_pod_container_port_name"]
separator = ":"
target_label = "instance"
[[rules]]
target_label = "cluster"
replacement = "dev-us-central-0"
[[rules]]
source_labels = ["__meta_kubernetes_namespace"]
regex = "hosted-grafana"
action = "drop"
[[rules]]
source_labels = ["__address__"]
target_label = "__tmp_hash"
modulus = 3
action = "hashmod"
[[rules]]
source_labels = ["__tmp_hash"]
regex = "^0$"
action = "keep"
[[rules]]
regex = "__tmp_hash"
action = "labeldrop"
"#;

const KUBERNETES_LABELS: [(&str, &str); 29] = [
    ("__address__", "10.132.183.40:80"),
    ("__meta_kubernetes_namespace", "loki-boltdb-shipper"),
    (
        "__meta_kubernetes_pod_annotation_promtail_loki_boltdb_shipper_hash",
        "50523b9759094a144adcec2eae0aa4ad",
    ),
    (
        "__meta_kubernetes_pod_annotationpresent_promtail_loki_boltdb_shipper_hash",
        "true",
    ),
    ("__meta_kubernetes_pod_container_init", "false"),
    ("__meta_kubernetes_pod_container_name", "promtail"),
    ("__meta_kubernetes_pod_container_port_name", "http-metrics"),
    ("__meta_kubernetes_pod_container_port_number", "80"),
    ("__meta_kubernetes_pod_container_port_protocol", "TCP"),
    ("__meta_kubernetes_pod_controller_kind", "DaemonSet"),
    (
        "__meta_kubernetes_pod_controller_name",
        "promtail-loki-boltdb-shipper",
    ),
    ("__meta_kubernetes_pod_host_ip", "10.128.0.178"),
    ("__meta_kubernetes_pod_ip", "10.132.183.40"),
    (
        "__meta_kubernetes_pod_label_controller_revision_hash",
        "555b77cd7d",
    ),
    (
        "__meta_kubernetes_pod_label_name",
        "promtail-loki-boltdb-shipper",
    ),
    ("__meta_kubernetes_pod_label_pod_template_generation", "45"),
    (
        "__meta_kubernetes_pod_labelpresent_controller_revision_hash",
        "true",
    ),
    ("__meta_kubernetes_pod_labelpresent_name", "true"),
    (
        "__meta_kubernetes_pod_labelpresent_pod_template_generation",
        "true",
    ),
    (
        "__meta_kubernetes_pod_name",
        "promtail-loki-boltdb-shipper-jgtr7",
    ),
    (
        "__meta_kubernetes_pod_node_name",
        "gke-dev-us-central-0-main-n2s8-2-14d53341-9hkr",
    ),
    ("__meta_kubernetes_pod_phase", "Running"),
    ("__meta_kubernetes_pod_ready", "true"),
    (
        "__meta_kubernetes_pod_uid",
        "4c586419-7f6c-448d-aeec-ca4fa5b05e60",
    ),
    ("__metrics_path__", "/metrics"),
    ("__scheme__", "http"),
    ("__scrape_interval__", "15s"),
    ("__scrape_timeout__", "10s"),
    ("job", "kubernetes-pods"),
];

const SERIES: [(&str, &str); 8] = [
    ("__name__", "http_requests_total"),
    ("code", "200"),
    ("instance", "10.0.0.1:9100"),
    ("job", "api"),
    ("method", "GET"),
    ("path", "/api/v1/query"),
    ("peer_id", "p-1234"),
    ("zone", "eu-west-1a"),
];

#[test]
fn kubernetes_rules_give_prometheus_result() {
    let relabel = compile(KUBERNETES);
    // sum64(md5("10.132.183.40:80")) % 3 is 1 (checked with Python): `^0$` drops.
    let mut l = labels(&KUBERNETES_LABELS);
    assert_eq!(relabel.apply(&mut l), Outcome::Dropped { rule: 18 });
    let get =
        |l: &[(String, String)], n: &str| l.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
    assert_eq!(get(&l, "__tmp_hash").as_deref(), Some("1"));
    // For .42 it is 0: kept, with the temporary label gone.
    let mut l = labels(&KUBERNETES_LABELS);
    l.retain(|(n, _)| n != "__address__");
    l.push(("__address__".into(), "10.132.183.42:80".into()));
    assert_eq!(relabel.apply(&mut l), Outcome::Kept);
    assert_eq!(get(&l, "__tmp_hash"), None);
    let want = [
        ("job", "loki-boltdb-shipper/promtail-loki-boltdb-shipper"),
        ("namespace", "loki-boltdb-shipper"),
        ("pod", "promtail-loki-boltdb-shipper-jgtr7"),
        ("container", "promtail"),
        (
            "instance",
            "promtail-loki-boltdb-shipper-jgtr7:promtail:http-metrics",
        ),
        ("cluster", "dev-us-central-0"),
        ("__address__", "10.132.183.42:80"),
        ("__scheme__", "http"),
        ("__metrics_path__", "/metrics"),
    ];
    for (n, v) in want {
        assert_eq!(get(&l, n).as_deref(), Some(v), "{n}");
    }
    assert_eq!(l.len(), KUBERNETES_LABELS.len() + 5);
}

/// Nanoseconds per call of `f`, best of five rounds.
fn ns_per(iters: u32, mut f: impl FnMut()) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..5 {
        let start = Instant::now();
        for _ in 0..iters {
            f();
        }
        best = best.min(start.elapsed().as_nanos() as f64 / f64::from(iters));
    }
    best
}

/// Resets `l` to `base`, reusing its strings (a tuple's `clone_from` would not).
fn reset(l: &mut Vec<(String, String)>, base: &[(String, String)]) {
    l.truncate(base.len());
    for ((n, v), (bn, bv)) in l.iter_mut().zip(base) {
        n.clone_from(bn);
        v.clone_from(bv);
    }
    l.extend(base.iter().skip(l.len()).cloned());
}

fn time(name: &str, src: &str, input: &[(&str, &str)]) {
    let relabel = compile(src);
    let base = labels(input);
    let mut l = base.clone();
    let iters = 50_000;
    let copy = ns_per(iters, || reset(&mut l, black_box(&base)));
    let total = ns_per(iters, || {
        reset(&mut l, black_box(&base));
        let _ = black_box(relabel.apply(black_box(&mut l)));
    });
    println!(
        "{name:>28}: {:>6.0} ns per series ({} labels; {total:.0} ns with {copy:.0} ns resetting them)",
        total - copy,
        input.len(),
    );
}

#[test]
#[ignore = "micro benchmark; run with --ignored --nocapture"]
fn relabel_micro_benchmark() {
    time("no rules", "", &SERIES);
    time(
        "labeldrop peer_id",
        "[[rules]]\naction = \"labeldrop\"\nregex = \"peer_id\"\n",
        &SERIES,
    );
    let noop = "[[rules]]\nsource_labels = [\"job\"]\ntarget_label = \"job\"\n\
                [[rules]]\nsource_labels = [\"__name__\"]\nregex = \"go_.*\"\naction = \"drop\"\n";
    time("copy-to-self + drop no-match", noop, &SERIES);
    let copy = "[[rules]]\nsource_labels = [\"job\"]\ntarget_label = \"job\"\n";
    time("copy-to-self", copy, &SERIES);
    let drop = "[[rules]]\nsource_labels = [\"__name__\"]\nregex = \"go_.*\"\naction = \"drop\"\n";
    time("drop no-match", drop, &SERIES);
    let drop =
        "[[rules]]\nsource_labels = [\"__name__\"]\nregex = \"http_.*_bytes\"\naction = \"drop\"\n";
    time("drop no-match (regex runs)", drop, &SERIES);
    time("kubernetes (20 rules)", KUBERNETES, &KUBERNETES_LABELS);
}
