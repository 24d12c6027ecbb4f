//! How a stored log record becomes a LogQL entry: its stream labels, its structured
//! metadata, its line (`docs/logql.md`, "Streams and labels").
//!
//! - Stream labels: `service_name` (the record's column); every resource attribute that Loki
//!   indexes by default for OTLP ([`INDEXED_RESOURCE_ATTRIBUTES`]), dots as underscores; every
//!   resource attribute whose key is already a label name (all labels of a Loki push are).
//! - Structured metadata: the record's attributes and the other resource attributes (dots
//!   and other characters not allowed in label names as underscores), `trace_id` and
//!   `span_id` in hex when set, `detected_level` from the severity (as Loki adds it), and
//!   `severity_text` when one was stored and no `level` label says it already.

use std::sync::Arc;

/// Label pairs sorted by name, names unique.
pub type Labels = Vec<(String, String)>;

/// The resource attributes Loki makes stream labels of by default
/// (`distributor.otlp.default_resource_attributes_as_index_labels`).
pub const INDEXED_RESOURCE_ATTRIBUTES: [&str; 18] = [
    "service.name",
    "service.namespace",
    "service.instance.id",
    "deployment.environment",
    "deployment.environment.name",
    "cloud.region",
    "cloud.availability_zone",
    "k8s.cluster.name",
    "k8s.namespace.name",
    "k8s.pod.name",
    "k8s.container.name",
    "container.name",
    "k8s.replicaset.name",
    "k8s.deployment.name",
    "k8s.statefulset.name",
    "k8s.daemonset.name",
    "k8s.cronjob.name",
    "k8s.job.name",
];

/// Whether `s` is a Prometheus/Loki label name: `[a-zA-Z_][a-zA-Z0-9_]*`.
pub fn is_label_name(s: &str) -> bool {
    let mut bytes = s.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// `s` with every character not allowed in a label name as `_` (and a leading digit
/// prefixed with `_`), as Loki turns OTLP attribute names into labels.
pub fn label_name(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.starts_with(|c: char| c.is_ascii_digit()) || out.is_empty() {
        out.insert(0, '_');
    }
    out
}

/// Loki's `detected_level` of an OTLP severity number (`0`: from the text).
pub fn detected_level(severity_number: i32, severity_text: &str) -> &'static str {
    match severity_number {
        1..=4 => "trace",
        5..=8 => "debug",
        9..=12 => "info",
        13..=16 => "warn",
        17..=20 => "error",
        21..=24 => "fatal",
        _ => level_of_text(severity_text),
    }
}

/// A level name as Loki normalises it, or `unknown`.
pub fn level_of_text(text: &str) -> &'static str {
    match text.to_ascii_lowercase().as_str() {
        "trace" | "trc" => "trace",
        "debug" | "dbg" => "debug",
        "info" | "inf" | "information" | "informational" | "notice" => "info",
        "warn" | "warning" | "wrn" => "warn",
        "error" | "err" | "eror" => "error",
        "critical" | "crit" => "critical",
        "fatal" | "panic" | "emergency" | "alert" => "fatal",
        _ => "unknown",
    }
}

/// A record's stream labels (from its `service_name` column and resource attributes), and
/// the resource attributes that are structured metadata instead (names already turned
/// into label names).
pub fn stream_labels<'a>(
    service_name: &str,
    resource: impl Iterator<Item = (&'a str, &'a str)>,
) -> (Labels, Vec<(String, String)>) {
    let mut labels: Labels = Vec::with_capacity(8);
    let mut metadata = Vec::new();
    for (k, v) in resource {
        if INDEXED_RESOURCE_ATTRIBUTES.contains(&k) || is_label_name(k) {
            labels.push((label_name(k), v.to_owned()));
        } else {
            metadata.push((label_name(k), v.to_owned()));
        }
    }
    if !labels.iter().any(|(k, _)| k == "service_name") {
        labels.push(("service_name".into(), service_name.to_owned()));
    }
    labels.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    labels.dedup_by(|a, b| a.0 == b.0);
    (labels, metadata)
}

/// The structured metadata a record's severity adds: `detected_level`, and
/// `severity_text` unless the stream has a `level` label (which a Loki push stores as the
/// severity text too). `has` says whether a name is already a label or metadata.
pub fn severity_metadata(
    severity_number: i32,
    severity_text: &str,
    has: impl Fn(&str) -> bool,
) -> Vec<(String, String)> {
    let mut out = Vec::with_capacity(2);
    if !has("detected_level") {
        let level = detected_level(severity_number, severity_text);
        out.push(("detected_level".to_owned(), level.to_owned()));
    }
    if !severity_text.is_empty() && !has("level") && !has("severity_text") {
        out.push(("severity_text".to_owned(), severity_text.to_owned()));
    }
    out
}

/// One entry as the pipeline starts from it.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Nanoseconds since the epoch.
    pub ts_ns: i64,
    /// The line (the body's text form; empty when the record has none).
    pub line: String,
    /// Stream labels (shared by the entries of one stream).
    pub stream: Arc<Labels>,
    /// Structured metadata, in stored order.
    pub metadata: Vec<(String, String)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn otlp_resource_attributes_and_push_labels() {
        let resource = [
            ("service.name", "shop"),
            ("k8s.namespace.name", "prod"),
            ("telemetry.sdk.version", "1.2"),
            ("app", "web"),
        ];
        let (labels, metadata) = stream_labels("shop", resource.into_iter());
        let want: Labels = [
            ("app", "web"),
            ("k8s_namespace_name", "prod"),
            ("service_name", "shop"),
        ]
        .iter()
        .map(|(k, v)| ((*k).into(), (*v).into()))
        .collect();
        assert_eq!(labels, want);
        assert_eq!(
            metadata,
            vec![("telemetry_sdk_version".to_owned(), "1.2".to_owned())]
        );
        let sev = severity_metadata(17, "ERROR", |_| false);
        assert_eq!(
            sev,
            vec![
                ("detected_level".to_owned(), "error".to_owned()),
                ("severity_text".to_owned(), "ERROR".to_owned())
            ]
        );
        assert_eq!(severity_metadata(9, "info", |n| n == "level").len(), 1);
    }

    #[test]
    fn levels_and_names() {
        assert_eq!(detected_level(0, "Warning"), "warn");
        assert_eq!(detected_level(0, ""), "unknown");
        assert_eq!(detected_level(22, ""), "fatal");
        assert_eq!(label_name("http.status-code"), "http_status_code");
        assert_eq!(label_name("9lives"), "_9lives");
        assert!(is_label_name("_a9") && !is_label_name("9a") && !is_label_name("a.b"));
    }
}
