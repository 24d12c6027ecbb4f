//! Label sets from OTLP attributes, as Prometheus's `createAttributes` builds them: data point
//! attributes sorted by key and sanitised (keys that collide after sanitisation have their
//! values joined with `;`), then scope labels (when promoted), then `job` and `instance` from
//! the resource, then the labels the mapping adds (`le`, `quantile`, `__name__`).

use std::collections::BTreeMap;

use base64::Engine as _;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};

use super::super::error::OtlpError;
use super::super::semconv::{SERVICE_INSTANCE_ID, SERVICE_NAME, SERVICE_NAMESPACE};
use super::names::label_name;

/// A label set under construction, sorted by name. Empty values are dropped at the end (the
/// engine treats an empty value as an absent label).
pub(crate) type LabelMap = BTreeMap<String, String>;

/// An attribute value as a label value, as OpenTelemetry's `pcommon.Value.AsString` writes it:
/// strings as they are, ints in decimal, doubles in the shortest form (exponent below 1e-6
/// and from 1e21), bytes in standard base64, arrays and maps as JSON, no value (or a
/// profiles-only string table reference) as "".
pub(crate) fn value_string(value: Option<&AnyValue>) -> String {
    let Some(value) = value.and_then(|v| v.value.as_ref()) else {
        return String::new();
    };
    match value {
        any_value::Value::StringValue(s) => s.clone(),
        any_value::Value::BoolValue(b) => b.to_string(),
        any_value::Value::IntValue(i) => i.to_string(),
        any_value::Value::DoubleValue(d) => double_string(*d),
        any_value::Value::BytesValue(b) => base64::engine::general_purpose::STANDARD.encode(b),
        any_value::Value::ArrayValue(_) | any_value::Value::KvlistValue(_) => {
            json_value(Some(value)).to_string()
        }
        // A profiles-only string table reference: the spec says to treat it as empty.
        any_value::Value::StringValueStrindex(_) => String::new(),
    }
}

/// Go's `float64AsString` (the ES6 number format `encoding/json` uses).
fn double_string(d: f64) -> String {
    if d.is_nan() {
        return "json: unsupported value: NaN".to_owned();
    }
    if d.is_infinite() {
        let sign = if d > 0.0 { "+" } else { "-" };
        return format!("json: unsupported value: {sign}Inf");
    }
    let abs = d.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        // Rust writes `1e21` and `1.5e-7`; Go writes `1e+21` and `1.5e-7`.
        let s = format!("{d:e}");
        match s.split_once('e') {
            Some((mantissa, exp)) if !exp.starts_with('-') => format!("{mantissa}e+{exp}"),
            _ => s,
        }
    } else {
        format!("{d}")
    }
}

fn json_value(value: Option<&any_value::Value>) -> serde_json::Value {
    use serde_json::Value as J;
    match value {
        None | Some(any_value::Value::StringValueStrindex(_)) => J::Null,
        Some(any_value::Value::StringValue(s)) => J::String(s.clone()),
        Some(any_value::Value::BoolValue(b)) => J::Bool(*b),
        Some(any_value::Value::IntValue(i)) => J::from(*i),
        Some(any_value::Value::DoubleValue(d)) => J::from(*d),
        Some(any_value::Value::BytesValue(b)) => {
            J::String(base64::engine::general_purpose::STANDARD.encode(b))
        }
        Some(any_value::Value::ArrayValue(a)) => J::Array(
            a.values
                .iter()
                .map(|v| json_value(v.value.as_ref()))
                .collect(),
        ),
        Some(any_value::Value::KvlistValue(kv)) => {
            // Sorted keys, as Go's encoding/json writes maps.
            let sorted: BTreeMap<&str, serde_json::Value> = kv
                .values
                .iter()
                .map(|kv| {
                    let v = kv.value.as_ref().and_then(|v| v.value.as_ref());
                    (kv.key.as_str(), json_value(v))
                })
                .collect();
            J::Object(sorted.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
        }
    }
}

/// The value of a resource attribute, if present.
pub(crate) fn attribute<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a KeyValue> {
    attrs.iter().find(|kv| kv.key == key)
}

/// Labels every point of a resource gets: `job` and `instance`.
#[derive(Debug, Clone, Default)]
pub(crate) struct ResourceLabels {
    /// `service.namespace/service.name`, or `service.name`; `None` without `service.name`.
    pub(crate) job: Option<String>,
    /// `service.instance.id`.
    pub(crate) instance: Option<String>,
}

impl ResourceLabels {
    /// `job` and `instance` from resource attributes.
    pub(crate) fn new(attrs: &[KeyValue]) -> Self {
        let job = attribute(attrs, SERVICE_NAME).map(|name| {
            let name = value_string(name.value.as_ref());
            match attribute(attrs, SERVICE_NAMESPACE) {
                Some(ns) => format!("{}/{name}", value_string(ns.value.as_ref())),
                None => name,
            }
        });
        let instance =
            attribute(attrs, SERVICE_INSTANCE_ID).map(|i| value_string(i.value.as_ref()));
        Self { job, instance }
    }
}

/// The `otel_scope_*` labels of a scope (Prometheus's `promote_scope_metadata`): name,
/// version, schema URL and each scope attribute as `otel_scope_<key>`. None for a scope
/// without a name.
pub(crate) fn scope_labels(
    scope: Option<&InstrumentationScope>,
    schema_url: &str,
) -> Result<Vec<(String, String)>, OtlpError> {
    let Some(scope) = scope.filter(|s| !s.name.is_empty()) else {
        return Ok(Vec::new());
    };
    let mut out = vec![
        ("otel_scope_name".to_owned(), scope.name.clone()),
        ("otel_scope_version".to_owned(), scope.version.clone()),
        ("otel_scope_schema_url".to_owned(), schema_url.to_owned()),
    ];
    for kv in &scope.attributes {
        let name = label_name(&format!("otel_scope_{}", kv.key))?;
        out.push((name, value_string(kv.value.as_ref())));
    }
    Ok(out)
}

/// The base labels of a data point: its attributes (those not in `ignore`), then `scope`,
/// then `job` and `instance`. Fails when an attribute key has nothing left after
/// sanitisation.
pub(crate) fn base_labels(
    attrs: &[KeyValue],
    ignore: &[&str],
    scope: &[(String, String)],
    resource: &ResourceLabels,
) -> Result<LabelMap, OtlpError> {
    let mut pairs: Vec<(&str, String)> = attrs
        .iter()
        .filter(|kv| !ignore.contains(&kv.key.as_str()))
        .map(|kv| (kv.key.as_str(), value_string(kv.value.as_ref())))
        .collect();
    pairs.sort_by(|a, b| a.0.cmp(b.0)); // stable: equal keys keep their order
    let mut map = LabelMap::new();
    for (key, value) in pairs {
        let name = label_name(key)?;
        match map.get_mut(&name) {
            Some(existing) => {
                existing.push(';');
                existing.push_str(&value);
            }
            None => {
                map.insert(name, value);
            }
        }
    }
    for (name, value) in scope {
        map.insert(name.clone(), value.clone());
    }
    if let Some(job) = &resource.job {
        map.insert("job".to_owned(), job.clone());
    }
    if let Some(instance) = &resource.instance {
        map.insert("instance".to_owned(), instance.clone());
    }
    Ok(map)
}

/// `base` plus `extra` labels (which override) and `__name__`, with empty values dropped,
/// sorted by name.
pub(crate) fn finish(base: &LabelMap, name: &str, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut map = base.clone();
    for (k, v) in extra {
        map.insert((*k).to_owned(), (*v).to_owned());
    }
    map.insert(strata_engine::METRIC_NAME.to_owned(), name.to_owned());
    map.into_iter().filter(|(_, v)| !v.is_empty()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::common::v1::{ArrayValue, KeyValueList};

    fn kv(key: &str, v: any_value::Value) -> KeyValue {
        KeyValue {
            key: key.to_owned(),
            value: Some(AnyValue { value: Some(v) }),
            ..Default::default()
        }
    }

    fn s(key: &str, v: &str) -> KeyValue {
        kv(key, any_value::Value::StringValue(v.to_owned()))
    }

    #[test]
    fn values_as_strings() {
        use any_value::Value as V;
        let cases: Vec<(V, &str)> = vec![
            (V::StringValue("x y".into()), "x y"),
            (V::BoolValue(true), "true"),
            (V::IntValue(-42), "-42"),
            (V::DoubleValue(3.0), "3"),
            (V::DoubleValue(0.25), "0.25"),
            (V::DoubleValue(1e21), "1e+21"),
            (V::DoubleValue(1.5e-7), "1.5e-7"),
            (V::DoubleValue(123456789.5), "123456789.5"),
            (V::BytesValue(vec![0xde, 0xad, 0xbe, 0xef]), "3q2+7w=="),
            (
                V::ArrayValue(ArrayValue {
                    values: vec![
                        AnyValue {
                            value: Some(V::IntValue(1)),
                        },
                        AnyValue {
                            value: Some(V::StringValue("a".into())),
                        },
                    ],
                }),
                r#"[1,"a"]"#,
            ),
            (
                V::KvlistValue(KeyValueList {
                    values: vec![kv("z", V::BoolValue(false)), kv("a", V::IntValue(2))],
                }),
                r#"{"a":2,"z":false}"#,
            ),
        ];
        for (v, want) in cases {
            assert_eq!(
                value_string(Some(&AnyValue {
                    value: Some(v.clone())
                })),
                want,
                "{v:?}"
            );
        }
        assert_eq!(value_string(None), "");
        assert_eq!(value_string(Some(&AnyValue { value: None })), "");
    }

    #[test]
    fn job_from_namespace_and_name_instance_from_instance_id() {
        let r = ResourceLabels::new(&[
            s(SERVICE_NAME, "checkout"),
            s(SERVICE_NAMESPACE, "shop"),
            s(SERVICE_INSTANCE_ID, "pod-7"),
        ]);
        assert_eq!(r.job.as_deref(), Some("shop/checkout"));
        assert_eq!(r.instance.as_deref(), Some("pod-7"));
        let r = ResourceLabels::new(&[s(SERVICE_NAME, "checkout")]);
        assert_eq!(r.job.as_deref(), Some("checkout"));
        assert_eq!(r.instance, None);
        // A namespace alone makes no job.
        let r = ResourceLabels::new(&[s(SERVICE_NAMESPACE, "shop")]);
        assert_eq!(r.job, None);
    }

    #[test]
    fn colliding_keys_are_joined_in_key_order() {
        let attrs = [s("a.b", "2"), s("a_b", "3"), s("a-b", "1")];
        let m = base_labels(&attrs, &[], &[], &ResourceLabels::default()).expect("valid keys");
        // Sorted by original key: "a-b" < "a.b" < "a_b".
        assert_eq!(m.get("a_b").map(String::as_str), Some("1;2;3"));
    }

    #[test]
    fn job_and_instance_override_attributes_and_extras_override_all() {
        let attrs = [
            s("job", "mine"),
            s("le", "x"),
            s("http.method", "GET"),
            s("empty", ""),
        ];
        let resource = ResourceLabels {
            job: Some("svc".into()),
            instance: Some("i-1".into()),
        };
        let base = base_labels(&attrs, &[], &[], &resource).expect("valid keys");
        let got = finish(&base, "m_bucket", &[("le", "0.5")]);
        let want: Vec<(String, String)> = [
            ("__name__", "m_bucket"),
            ("http_method", "GET"),
            ("instance", "i-1"),
            ("job", "svc"),
            ("le", "0.5"),
        ]
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn bad_attribute_key_is_an_error() {
        let r = base_labels(&[s("__", "v")], &[], &[], &ResourceLabels::default());
        assert!(
            matches!(r, Err(OtlpError::InvalidLabelName { .. })),
            "{r:?}"
        );
    }

    #[test]
    fn scope_labels_only_for_named_scopes() {
        let scope = InstrumentationScope {
            name: "io.opentelemetry.jdbc".into(),
            version: "1.2.0".into(),
            attributes: vec![s("lib.kind", "db")],
            dropped_attributes_count: 0,
        };
        let got =
            scope_labels(Some(&scope), "https://opentelemetry.io/schemas/1.24.0").expect("valid");
        assert_eq!(
            got,
            vec![
                (
                    "otel_scope_name".to_owned(),
                    "io.opentelemetry.jdbc".to_owned()
                ),
                ("otel_scope_version".to_owned(), "1.2.0".to_owned()),
                (
                    "otel_scope_schema_url".to_owned(),
                    "https://opentelemetry.io/schemas/1.24.0".to_owned()
                ),
                ("otel_scope_lib_kind".to_owned(), "db".to_owned()),
            ]
        );
        let unnamed = InstrumentationScope::default();
        assert!(scope_labels(Some(&unnamed), "").expect("valid").is_empty());
        assert!(scope_labels(None, "").expect("valid").is_empty());
    }
}
