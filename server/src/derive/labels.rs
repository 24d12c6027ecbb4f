//! Label names and values of the derived series, as Tempo's metrics-generator writes them
//! (`modules/generator/processor/spanmetrics/spanmetrics.go`, `.../validation/sanitize.go`,
//! `pkg/util/attributes.go`), and the 64-bit hash a series is known by.

use std::hash::Hasher as _;

use strata_engine::{AnyValue, Attributes};
use twox_hash::XxHash3_64;

/// The intrinsic span-metrics dimensions (Tempo's `SupportedIntrinsicDimensions`): a
/// configured dimension sanitized to one of these gets a `__` prefix.
const INTRINSIC: [&str; 5] = [
    "service",
    "span_name",
    "span_kind",
    "status_code",
    "status_message",
];

/// The span name that new names of a service over `max_span_names_per_service` get.
pub(crate) const OVERFLOW_SPAN_NAME: &str = "__overflow__";

/// Tempo's label for a span's `kind` (OTLP enum names; an unknown number is left as
/// `SPAN_KIND_UNSPECIFIED`).
pub(crate) fn kind_name(kind: i32) -> &'static str {
    match kind {
        1 => "SPAN_KIND_INTERNAL",
        2 => "SPAN_KIND_SERVER",
        3 => "SPAN_KIND_CLIENT",
        4 => "SPAN_KIND_PRODUCER",
        5 => "SPAN_KIND_CONSUMER",
        _ => "SPAN_KIND_UNSPECIFIED",
    }
}

/// Tempo's label for a span's status code.
pub(crate) fn status_name(code: i32) -> &'static str {
    match code {
        1 => "STATUS_CODE_OK",
        2 => "STATUS_CODE_ERROR",
        _ => "STATUS_CODE_UNSET",
    }
}

/// Prometheus's `strutil.SanitizeLabelName` (every character outside `[a-zA-Z0-9_]`
/// becomes `_`), then Tempo's `SanitizeLabelNameWithCollisions`: a name equal to an
/// intrinsic dimension gets a `__` prefix.
pub(crate) fn sanitize(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if INTRINSIC.contains(&s.as_str()) {
        format!("__{s}")
    } else {
        s
    }
}

/// A configured extra dimension: the attribute key and its label name.
#[derive(Debug, Clone)]
pub(crate) struct Dimension {
    /// The attribute key, looked up in the resource's attributes, then the span's.
    pub(crate) key: String,
    /// The sanitized label name.
    pub(crate) label: String,
}

/// The dimensions of `keys`, in order.
pub(crate) fn dimensions(keys: &[String]) -> Vec<Dimension> {
    keys.iter()
        .map(|k| Dimension {
            key: k.clone(),
            label: sanitize(k),
        })
        .collect()
}

/// The first value of `key` in each list in turn (Tempo's `FindAttributeValue`).
pub(crate) fn find<'a>(key: &str, lists: &[&'a Attributes]) -> Option<&'a AnyValue> {
    lists
        .iter()
        .find_map(|l| l.iter().find(|(k, _)| k == key).map(|(_, v)| v))
}

/// A value as a label value (Tempo's `StringifyAnyValue`): a string as it is; a bool,
/// integer or float in Go's formatting; arrays and maps flattened; bytes empty.
/// Borrows a string value; writes any other into `scratch`.
pub(crate) fn text<'a>(v: &'a AnyValue, scratch: &'a mut String) -> &'a str {
    match v {
        AnyValue::String(s) => s,
        other => {
            scratch.clear();
            stringify(other, scratch);
            scratch
        }
    }
}

fn stringify(v: &AnyValue, out: &mut String) {
    use std::fmt::Write as _;
    match v {
        AnyValue::String(s) => out.push_str(s),
        AnyValue::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        AnyValue::Int(i) => {
            let _ = write!(out, "{i}");
        }
        AnyValue::Double(d) => out.push_str(&go_float(*d)),
        AnyValue::Bytes(_) => {}
        AnyValue::Array(items) => {
            out.push('[');
            for i in items {
                stringify(i, out);
            }
            out.push(']');
        }
        AnyValue::KvList(kvs) => {
            out.push('{');
            for (k, v) in kvs {
                out.push_str(k);
                out.push(':');
                stringify(v, out);
            }
            out.push('}');
        }
    }
}

/// Go's `strconv.FormatFloat(v, 'f', -1, 64)`: the shortest decimal, no exponent
/// (`+Inf`, `-Inf`, `NaN` for the special values).
pub(crate) fn go_float(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    // Rust's Display is the shortest round-tripping decimal without an exponent.
    format!("{v}")
}

/// The hash a series' label values are known by (the label names are fixed per metric
/// and tenant). Each value is followed by a byte no UTF-8 text holds, so no two lists
/// run together.
#[derive(Default)]
pub(crate) struct KeyHash(XxHash3_64);

impl KeyHash {
    /// Adds a value.
    pub(crate) fn add(&mut self, value: &str) {
        self.0.write(value.as_bytes());
        self.0.write_u8(0xff);
    }

    /// The hash.
    pub(crate) fn finish(&self) -> u64 {
        self.0.finish()
    }
}

/// The hash of one value alone (a service or a span name).
pub(crate) fn hash_one(value: &str) -> u64 {
    let mut h = KeyHash::default();
    h.add(value);
    h.finish()
}

/// A hasher for maps keyed by a hash already computed.
#[derive(Default, Clone, Copy)]
pub(crate) struct Prehashed(u64);

impl std::hash::Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// A map keyed by a [`KeyHash`].
pub(crate) type HashMapU64<V> =
    std::collections::HashMap<u64, V, std::hash::BuildHasherDefault<Prehashed>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_sanitized_as_tempo_does() {
        assert_eq!(sanitize("http.method"), "http_method");
        assert_eq!(sanitize("k8s-pod/name"), "k8s_pod_name");
        assert_eq!(sanitize("span.name"), "__span_name");
        // Collides with an intrinsic dimension.
        assert_eq!(sanitize("service"), "__service");
        assert_eq!(sanitize("status.code"), "__status_code");
    }

    #[test]
    fn floats_and_values_print_as_go_does() {
        assert_eq!(go_float(0.002), "0.002");
        assert_eq!(go_float(16.384), "16.384");
        assert_eq!(go_float(12.8), "12.8");
        assert_eq!(go_float(1.0), "1");
        assert_eq!(go_float(f64::INFINITY), "+Inf");
        let mut s = String::new();
        assert_eq!(text(&AnyValue::Int(-3), &mut s), "-3");
        assert_eq!(text(&AnyValue::Bool(true), &mut s), "true");
        let arr = AnyValue::Array(vec![AnyValue::Int(1), AnyValue::String("a".into())]);
        assert_eq!(text(&arr, &mut s), "[1a]");
    }
}
