//! Metric and label names: OTLP names to Prometheus names, as Prometheus 3.x's OTLP receiver
//! builds them with its default `translation_strategy` (`UnderscoreEscapingWithSuffixes`) and
//! its default label options (`label_name_underscore_sanitization: true`,
//! `label_name_preserve_multiple_underscores: true`).
//!
//! The rules are those of the `github.com/prometheus/otlptranslator` package (`MetricNamer`,
//! `LabelNamer`, `buildUnitSuffixes`), re-implemented here.

use super::super::error::OtlpError;

/// The kind of an OTLP metric, as far as naming is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MetricKind {
    /// A gauge: unit `1` adds `_ratio`.
    Gauge,
    /// A monotonic sum: `_total` is appended.
    MonotonicCounter,
    /// A non-monotonic sum: a Prometheus gauge, but no `_ratio`.
    NonMonotonicCounter,
    /// An explicit-bucket histogram.
    Histogram,
    /// A summary.
    Summary,
}

/// OTLP (UCUM) units to Prometheus base-unit words.
fn unit_word(unit: &str) -> &str {
    match unit {
        "d" => "days",
        "h" => "hours",
        "min" => "minutes",
        "s" => "seconds",
        "ms" => "milliseconds",
        "us" => "microseconds",
        "ns" => "nanoseconds",
        "By" => "bytes",
        "KiBy" => "kibibytes",
        "MiBy" => "mebibytes",
        "GiBy" => "gibibytes",
        "TiBy" => "tibibytes",
        "KBy" => "kilobytes",
        "MBy" => "megabytes",
        "GBy" => "gigabytes",
        "TBy" => "terabytes",
        "m" => "meters",
        "V" => "volts",
        "A" => "amperes",
        "J" => "joules",
        "W" => "watts",
        "g" => "grams",
        "Cel" => "celsius",
        "Hz" => "hertz",
        "1" => "",
        "%" => "percent",
        other => other,
    }
}

/// The denominator of a `x/y` unit, singular.
fn per_unit_word(unit: &str) -> &str {
    match unit {
        "s" => "second",
        "m" => "minute",
        "h" => "hour",
        "d" => "day",
        "w" => "week",
        "mo" => "month",
        "y" => "year",
        other => other,
    }
}

/// `[a-zA-Z0-9:]`: the characters a metric name token keeps (`_` separates tokens).
fn is_metric_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == ':'
}

/// The main and `per_` unit suffixes of a unit, before clean-up. Units in braces
/// (`{requests}`) are annotations and give no suffix.
fn unit_suffixes(unit: &str) -> (String, String) {
    let mut parts = unit.splitn(2, '/');
    let main = parts.next().unwrap_or("").trim();
    let main = if main.is_empty() || main.contains(['{', '}']) {
        String::new()
    } else {
        unit_word(main).to_owned()
    };
    let per = match parts.next() {
        Some(per) if !per.is_empty() => {
            let per = per.trim();
            if per.is_empty() || per.contains(['{', '}']) {
                String::new()
            } else {
                let word = per_unit_word(per);
                if word.is_empty() {
                    String::new()
                } else {
                    format!("per_{word}")
                }
            }
        }
        _ => String::new(),
    };
    (main, per)
}

/// [`unit_suffixes`] of `unit`, each cleaned ([`clean_unit`]): the unit words metadata
/// carries (`metrics/metadata.rs`).
pub(crate) fn unit_suffixes_clean(unit: &str) -> (String, String) {
    let (main, per) = unit_suffixes(unit);
    (clean_unit(&main), clean_unit(&per))
}

/// Invalid characters to `_`, runs of `_` collapsed, one leading `_` dropped.
fn clean_unit(unit: &str) -> String {
    let mut out = String::with_capacity(unit.len());
    for c in unit.chars() {
        let c = if is_metric_char(c) { c } else { '_' };
        if c == '_' && out.ends_with('_') {
            continue;
        }
        out.push(c);
    }
    match out.strip_prefix('_') {
        Some(rest) => rest.to_owned(),
        None => out,
    }
}

/// The Prometheus metric family name of an OTLP metric: the name split into tokens at every
/// character outside `[a-zA-Z0-9:]`, the unit's suffixes appended unless already a token,
/// `_total` for monotonic sums, `_ratio` for gauges with unit `1`, joined by `_`, and a `_`
/// prefix when it would start with a digit.
pub(crate) fn metric_name(name: &str, unit: &str, kind: MetricKind) -> Result<String, OtlpError> {
    let mut tokens: Vec<String> = name
        .split(|c: char| !is_metric_char(c))
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect();

    let (main, per) = unit_suffixes(unit);
    let mut main = clean_unit(&main);
    let mut per = clean_unit(&per);
    if tokens.contains(&main) {
        main.clear();
    }
    if per == "per_" {
        per.clear();
    } else {
        if let Some(trimmed) = per.strip_suffix('_') {
            per = trimmed.to_owned();
        }
        if tokens.contains(&per) {
            per.clear();
        }
    }
    if !per.is_empty()
        && let Some(trimmed) = main.strip_suffix('_')
    {
        main = trimmed.to_owned();
    }
    if !main.is_empty() {
        tokens.push(main);
    }
    if !per.is_empty() {
        tokens.push(per);
    }

    if kind == MetricKind::MonotonicCounter {
        tokens.retain(|t| t != "total");
        tokens.push("total".to_owned());
    }
    if unit == "1" && kind == MetricKind::Gauge {
        tokens.retain(|t| t != "ratio");
        tokens.push("ratio".to_owned());
    }

    let mut normalized = tokens.join("_");
    if normalized.starts_with(|c: char| c.is_ascii_digit()) {
        normalized.insert(0, '_');
    }
    if normalized.is_empty() || (normalized != name && normalized.chars().all(|c| c == '_')) {
        return Err(OtlpError::InvalidMetricName {
            name: name.to_owned(),
            normalized,
        });
    }
    Ok(normalized)
}

/// The Prometheus label name of an OTLP attribute key: every character outside
/// `[a-zA-Z0-9_]` becomes `_`, then `key_` is prepended to a name starting with a digit and
/// `key` to one starting with a single `_` (`__reserved` names are kept).
pub(crate) fn label_name(key: &str) -> Result<String, OtlpError> {
    if key.is_empty() {
        return Err(OtlpError::InvalidLabelName {
            key: String::new(),
            normalized: String::new(),
        });
    }
    let mut normalized: String = key
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if normalized.starts_with(|c: char| c.is_ascii_digit()) {
        normalized.insert_str(0, "key_");
    } else if normalized.starts_with('_') && !normalized.starts_with("__") {
        normalized.insert_str(0, "key");
    }
    if normalized.chars().all(|c| c == '_') {
        return Err(OtlpError::InvalidLabelName {
            key: key.to_owned(),
            normalized,
        });
    }
    Ok(normalized)
}

#[cfg(test)]
mod tests {
    use super::MetricKind::*;
    use super::*;

    fn name(n: &str, unit: &str, kind: MetricKind) -> String {
        match metric_name(n, unit, kind) {
            Ok(s) => s,
            Err(e) => panic!("{n:?} {unit:?}: {e}"),
        }
    }

    #[test]
    fn dots_and_invalid_characters_become_single_underscores() {
        assert_eq!(
            name("http.server.active_requests", "", Gauge),
            "http_server_active_requests"
        );
        assert_eq!(name("a..b__c-d", "", Gauge), "a_b_c_d");
        assert_eq!(
            name("_leading.and.trailing_", "", Gauge),
            "leading_and_trailing"
        );
        assert_eq!(name("ns:sub.metric", "", Gauge), "ns:sub_metric");
        assert_eq!(name("système.cpu", "", Gauge), "syst_me_cpu");
    }

    #[test]
    fn leading_digit_gets_an_underscore() {
        assert_eq!(name("2xx.responses", "", Gauge), "_2xx_responses");
    }

    #[test]
    fn unit_suffixes_from_the_unit_table() {
        assert_eq!(
            name("http.server.request.duration", "s", Histogram),
            "http_server_request_duration_seconds"
        );
        assert_eq!(name("memory.usage", "By", Gauge), "memory_usage_bytes");
        assert_eq!(name("heap", "MiBy", Gauge), "heap_mebibytes");
        assert_eq!(name("temp", "Cel", Gauge), "temp_celsius");
        assert_eq!(name("load", "%", Gauge), "load_percent");
        // Not in the table: used as it is, cleaned.
        assert_eq!(name("queue", "widgets", Gauge), "queue_widgets");
        assert_eq!(name("queue", "wid.gets", Gauge), "queue_wid_gets");
    }

    #[test]
    fn unit_already_in_the_name_is_not_repeated() {
        assert_eq!(
            name("request.duration.seconds", "s", Histogram),
            "request_duration_seconds"
        );
        assert_eq!(name("seconds.spent", "s", Gauge), "seconds_spent");
    }

    #[test]
    fn per_units() {
        assert_eq!(
            name("throughput", "By/s", Gauge),
            "throughput_bytes_per_second"
        );
        assert_eq!(name("rate", "1/s", Gauge), "rate_per_second");
        assert_eq!(name("rate", "{req}/min", Gauge), "rate_per_min");
        assert_eq!(name("speed", "m/h", Gauge), "speed_meters_per_hour");
    }

    #[test]
    fn brace_annotations_give_no_suffix() {
        assert_eq!(
            name(
                "http.server.active_requests",
                "{request}",
                NonMonotonicCounter
            ),
            "http_server_active_requests"
        );
        assert_eq!(
            name("packets", "{packets}", MonotonicCounter),
            "packets_total"
        );
    }

    #[test]
    fn total_for_monotonic_sums_only() {
        assert_eq!(name("requests", "", MonotonicCounter), "requests_total");
        assert_eq!(
            name("requests.total", "", MonotonicCounter),
            "requests_total"
        );
        assert_eq!(
            name("total.requests", "", MonotonicCounter),
            "requests_total"
        );
        assert_eq!(
            name("cpu.time", "s", MonotonicCounter),
            "cpu_time_seconds_total"
        );
        assert_eq!(name("requests", "", NonMonotonicCounter), "requests");
        assert_eq!(name("requests", "", Gauge), "requests");
    }

    #[test]
    fn ratio_for_gauges_with_unit_one_only() {
        assert_eq!(name("cpu.utilization", "1", Gauge), "cpu_utilization_ratio");
        assert_eq!(name("hit.ratio", "1", Gauge), "hit_ratio");
        assert_eq!(name("errors", "1", MonotonicCounter), "errors_total");
        assert_eq!(name("items", "1", NonMonotonicCounter), "items");
    }

    #[test]
    fn names_with_nothing_left_are_errors() {
        assert!(metric_name("", "", Gauge).is_err());
        assert!(metric_name("...", "", Gauge).is_err());
        assert!(metric_name("éé", "", Gauge).is_err());
        // A unit alone still makes a name.
        assert_eq!(name("", "s", Gauge), "seconds");
    }

    fn label(k: &str) -> String {
        match label_name(k) {
            Ok(s) => s,
            Err(e) => panic!("{k:?}: {e}"),
        }
    }

    #[test]
    fn label_names_are_sanitised() {
        assert_eq!(label("http.request.method"), "http_request_method");
        assert_eq!(label("a..b"), "a__b"); // runs are kept (Prometheus 3.x default)
        assert_eq!(label("k8s.pod.name"), "k8s_pod_name");
        assert_eq!(label("0day"), "key_0day");
        assert_eq!(label("_private"), "key_private");
        assert_eq!(label(".hidden"), "key_hidden");
        assert_eq!(label("__reserved__"), "__reserved__");
        assert_eq!(label("ключ.x"), "_____x"); // starts with `__`: no `key` prefix
    }

    #[test]
    fn empty_or_underscore_only_label_names_are_errors() {
        assert!(label_name("").is_err());
        assert!(label_name("__").is_err());
        assert!(label_name("..").is_err());
    }
}
