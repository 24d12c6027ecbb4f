//! [`AnyValue`]: OTLP's attribute value, every type kept, and its stored form: a text
//! form (what the `attributes` maps hold, so SQL can compare strings directly) plus a type
//! name for every non-string value (the `attribute_types` maps). See
//! `docs/formats/spans-logs.md`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value};

/// An attribute value with every OTLP `AnyValue` type.
#[derive(Debug, Clone, PartialEq)]
pub enum AnyValue {
    /// A UTF-8 string.
    String(String),
    /// A boolean.
    Bool(bool),
    /// A signed 64-bit integer.
    Int(i64),
    /// A 64-bit float (NaN and infinities included; a NaN's payload is not kept).
    Double(f64),
    /// Raw bytes.
    Bytes(Vec<u8>),
    /// An array of values, each of any type.
    Array(Vec<AnyValue>),
    /// A list of key-value pairs (a map), in the order given.
    KvList(Vec<(String, AnyValue)>),
}

/// Attributes of a span, event, link, log record or resource, in the order given.
pub type Attributes = Vec<(String, AnyValue)>;

/// Why a stored value could not be turned back into an [`AnyValue`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("stored attribute value of type {type_name:?} is malformed: {reason}")]
pub struct AnyValueError {
    /// The stored type name.
    pub type_name: String,
    /// What is wrong.
    pub reason: String,
}

impl AnyValue {
    /// The stored type name: `None` for strings (the default type), else one of `bool`,
    /// `int`, `double`, `bytes`, `array`, `kvlist`.
    pub fn type_name(&self) -> Option<&'static str> {
        match self {
            Self::String(_) => None,
            Self::Bool(_) => Some("bool"),
            Self::Int(_) => Some("int"),
            Self::Double(_) => Some("double"),
            Self::Bytes(_) => Some("bytes"),
            Self::Array(_) => Some("array"),
            Self::KvList(_) => Some("kvlist"),
        }
    }

    /// The text form: strings as they are; `true`/`false`; decimal integers; doubles in
    /// Rust's shortest round-trip form (`1.5`, `1e300`, `NaN`, `inf`, `-inf`); bytes in
    /// standard base64; arrays and kvlists as OTLP/JSON (`[{"intValue":"1"}, ...]`,
    /// `[{"key":"k","value":{...}}, ...]`), doubles in them as strings of the same form but with the infinities spelled
    /// `Infinity` and `-Infinity`.
    pub fn to_text(&self) -> String {
        match self {
            Self::String(s) => s.clone(),
            other => {
                let mut out = String::new();
                // Writing to a String cannot fail.
                let _ = other.write_text(&mut out);
                out
            }
        }
    }

    /// Writes the text form ([`AnyValue::to_text`]) to `out` without building it first
    /// (what the flush does for every attribute value).
    pub fn write_text(&self, out: &mut impl std::fmt::Write) -> std::fmt::Result {
        match self {
            Self::String(s) => out.write_str(s),
            Self::Bool(b) => write!(out, "{b}"),
            Self::Int(i) => write!(out, "{i}"),
            Self::Double(d) => write!(out, "{d:?}"),
            Self::Bytes(b) => out.write_str(&STANDARD.encode(b)),
            Self::Array(items) => {
                write!(out, "{}", Value::Array(items.iter().map(to_json).collect()))
            }
            Self::KvList(kvs) => write!(out, "{}", kvlist_json(kvs)),
        }
    }

    /// The value back from its text form and type name (`None`: a string).
    pub fn from_text(text: &str, type_name: Option<&str>) -> Result<Self, AnyValueError> {
        let bad = |reason: String| AnyValueError {
            type_name: type_name.unwrap_or("string").to_owned(),
            reason,
        };
        Ok(match type_name {
            None | Some("string") => Self::String(text.to_owned()),
            Some("bool") => match text {
                "true" => Self::Bool(true),
                "false" => Self::Bool(false),
                other => return Err(bad(format!("{other:?} is not a bool"))),
            },
            Some("int") => Self::Int(text.parse().map_err(|e| bad(format!("{e}")))?),
            Some("double") => Self::Double(text.parse().map_err(|e| bad(format!("{e}")))?),
            Some("bytes") => Self::Bytes(STANDARD.decode(text).map_err(|e| bad(e.to_string()))?),
            Some(t @ ("array" | "kvlist")) => {
                let v: Value = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
                let wrapped = if t == "array" {
                    Value::Object(Map::from_iter([(
                        "arrayValue".to_owned(),
                        Value::Object(Map::from_iter([("values".to_owned(), v)])),
                    )]))
                } else {
                    Value::Object(Map::from_iter([(
                        "kvlistValue".to_owned(),
                        Value::Object(Map::from_iter([("values".to_owned(), v)])),
                    )]))
                };
                from_json(&wrapped).map_err(bad)?
            }
            Some(other) => return Err(bad(format!("unknown type {other:?}"))),
        })
    }

    /// Whether the value nests deeper than `max` levels (a scalar is 1 level, an array of
    /// scalars 2). Descends at most `max + 1` levels, so any depth is safe to check.
    pub fn deeper_than(&self, max: usize) -> bool {
        if max == 0 {
            return true;
        }
        match self {
            Self::Array(items) => items.iter().any(|v| v.deeper_than(max - 1)),
            Self::KvList(kvs) => kvs.iter().any(|(_, v)| v.deeper_than(max - 1)),
            _ => false,
        }
    }
}

/// An [`AnyValue`] as an OTLP/JSON object.
fn to_json(v: &AnyValue) -> Value {
    let (key, inner) = match v {
        AnyValue::String(s) => ("stringValue", Value::String(s.clone())),
        AnyValue::Bool(b) => ("boolValue", Value::Bool(*b)),
        // OTLP/JSON writes 64-bit integers as strings.
        AnyValue::Int(i) => ("intValue", Value::String(i.to_string())),
        // A string, as proto3's JSON mapping allows: exact (a JSON number goes through
        // serde_json's approximate float parser), and it spells NaN and the infinities.
        AnyValue::Double(d) => (
            "doubleValue",
            Value::String(if d.is_nan() {
                "NaN".to_owned()
            } else if d.is_infinite() {
                if *d > 0.0 { "Infinity" } else { "-Infinity" }.to_owned()
            } else {
                format!("{d:?}")
            }),
        ),
        AnyValue::Bytes(b) => ("bytesValue", Value::String(STANDARD.encode(b))),
        AnyValue::Array(items) => (
            "arrayValue",
            Value::Object(Map::from_iter([(
                "values".to_owned(),
                Value::Array(items.iter().map(to_json).collect()),
            )])),
        ),
        AnyValue::KvList(kvs) => (
            "kvlistValue",
            Value::Object(Map::from_iter([("values".to_owned(), kvlist_json(kvs))])),
        ),
    };
    Value::Object(Map::from_iter([(key.to_owned(), inner)]))
}

fn kvlist_json(kvs: &[(String, AnyValue)]) -> Value {
    Value::Array(
        kvs.iter()
            .map(|(k, v)| {
                Value::Object(Map::from_iter([
                    ("key".to_owned(), Value::String(k.clone())),
                    ("value".to_owned(), to_json(v)),
                ]))
            })
            .collect(),
    )
}

/// An OTLP/JSON object back to an [`AnyValue`].
fn from_json(v: &Value) -> Result<AnyValue, String> {
    let obj = v.as_object().ok_or("a value is not a JSON object")?;
    let (key, inner) = obj
        .iter()
        .next()
        .filter(|_| obj.len() == 1)
        .ok_or("a value object must have exactly one key")?;
    let string = || {
        inner
            .as_str()
            .ok_or_else(|| format!("{key} is not a string"))
    };
    let values = || {
        inner
            .get("values")
            .and_then(Value::as_array)
            .ok_or_else(|| format!("{key} has no values array"))
    };
    Ok(match key.as_str() {
        "stringValue" => AnyValue::String(string()?.to_owned()),
        "boolValue" => AnyValue::Bool(inner.as_bool().ok_or("boolValue is not a bool")?),
        "intValue" => AnyValue::Int(string()?.parse().map_err(|e| format!("intValue: {e}"))?),
        "doubleValue" => AnyValue::Double(match inner {
            Value::Number(n) => n.as_f64().ok_or("doubleValue out of range")?,
            Value::String(s) => match s.as_str() {
                "NaN" => f64::NAN,
                "Infinity" => f64::INFINITY,
                "-Infinity" => f64::NEG_INFINITY,
                other => other
                    .parse()
                    .map_err(|e| format!("doubleValue {other:?}: {e}"))?,
            },
            _ => return Err("doubleValue is not a number".into()),
        }),
        "bytesValue" => AnyValue::Bytes(
            STANDARD
                .decode(string()?)
                .map_err(|e| format!("bytesValue: {e}"))?,
        ),
        "arrayValue" => AnyValue::Array(values()?.iter().map(from_json).collect::<Result<_, _>>()?),
        "kvlistValue" => AnyValue::KvList(
            values()?
                .iter()
                .map(|kv| {
                    let k = kv
                        .get("key")
                        .and_then(Value::as_str)
                        .ok_or("a kvlist entry has no key")?;
                    let v = kv.get("value").ok_or("a kvlist entry has no value")?;
                    Ok((k.to_owned(), from_json(v)?))
                })
                .collect::<Result<_, String>>()?,
        ),
        other => return Err(format!("unknown value key {other:?}")),
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use proptest::prelude::*;

    use super::*;

    pub(crate) fn any_value() -> impl Strategy<Value = AnyValue> {
        let leaf = prop_oneof![
            "[ -~é✓]{0,12}".prop_map(AnyValue::String),
            any::<bool>().prop_map(AnyValue::Bool),
            any::<i64>().prop_map(AnyValue::Int),
            // NaN compares unequal; it is tested on its own below.
            any::<f64>()
                .prop_filter("not NaN", |d| !d.is_nan())
                .prop_map(AnyValue::Double),
            prop::collection::vec(any::<u8>(), 0..8).prop_map(AnyValue::Bytes),
        ];
        leaf.prop_recursive(3, 16, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(AnyValue::Array),
                prop::collection::vec(("[a-z.]{1,6}", inner), 0..4).prop_map(AnyValue::KvList),
            ]
        })
    }

    proptest! {
        #[test]
        fn text_form_round_trips_every_type(v in any_value()) {
            let back = AnyValue::from_text(&v.to_text(), v.type_name()).unwrap();
            prop_assert_eq!(back, v);
        }
    }

    #[test]
    fn special_doubles_and_nested_ones_survive() {
        for d in [f64::INFINITY, f64::NEG_INFINITY, -0.0, 1e300, 5e-324] {
            let v = AnyValue::Array(vec![AnyValue::Double(d)]);
            assert_eq!(AnyValue::from_text(&v.to_text(), Some("array")).unwrap(), v);
            let v = AnyValue::Double(d);
            let back = AnyValue::from_text(&v.to_text(), Some("double")).unwrap();
            assert_eq!(back, v);
        }
        let nan = AnyValue::from_text(&AnyValue::Double(f64::NAN).to_text(), Some("double"));
        assert!(matches!(nan, Ok(AnyValue::Double(d)) if d.is_nan()));
        assert_eq!(AnyValue::Int(-5).to_text(), "-5");
        assert_eq!(AnyValue::Bytes(vec![1, 2, 3]).to_text(), "AQID");
        assert_eq!(
            AnyValue::KvList(vec![("a".into(), AnyValue::Int(1))]).to_text(),
            r#"[{"key":"a","value":{"intValue":"1"}}]"#
        );
    }

    #[test]
    fn malformed_stored_values_are_errors() {
        for (text, t) in [
            ("maybe", "bool"),
            ("1.5", "int"),
            ("x", "double"),
            ("!!", "bytes"),
            ("{", "array"),
            (r#"[{"a":1,"b":2}]"#, "array"),
            ("1", "tuple"),
        ] {
            assert!(AnyValue::from_text(text, Some(t)).is_err(), "{text} as {t}");
        }
    }
}
