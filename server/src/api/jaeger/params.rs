//! Query parameters of the Jaeger API: Go durations (`minDuration=1.5ms`), the `tags`
//! filter (a JSON object, as Jaeger's UI sends it, or logfmt `k=v k2="v 2"`), and times in
//! microseconds since the epoch.

use std::collections::BTreeMap;

/// Nanoseconds of a Go duration (`1.5ms`, `1h30m`): [`crate::http::duration`].
pub(crate) fn go_duration_ns(text: &str) -> Result<i64, String> {
    crate::http::duration::duration_ns(text, crate::http::duration::Units::Go)
}

/// The `tags` parameter: a JSON object of strings (`{"http.status_code":"500"}`), or logfmt
/// (`error=true http.route="/a b"`).
pub(crate) fn tags(text: &str) -> Result<Vec<(String, String)>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(Vec::new());
    }
    if text.starts_with('{') {
        let map: BTreeMap<String, serde_json::Value> =
            serde_json::from_str(text).map_err(|e| format!("malformed tags JSON {text:?}: {e}"))?;
        return Ok(map
            .into_iter()
            .map(|(k, v)| {
                let v = match v {
                    serde_json::Value::String(s) => s,
                    other => other.to_string(),
                };
                (k, v)
            })
            .collect());
    }
    logfmt(text)
}

fn logfmt(text: &str) -> Result<Vec<(String, String)>, String> {
    let bad = |why: &str| format!("malformed tags {text:?}: {why}; use k=v k2=\"v 2\" or JSON");
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            return Ok(out);
        }
        let key: String =
            std::iter::from_fn(|| chars.next_if(|&c| c != '=' && !c.is_whitespace())).collect();
        if chars.next() != Some('=') || key.is_empty() {
            return Err(bad("a key without =value"));
        }
        let value = if chars.peek() == Some(&'"') {
            chars.next();
            let mut v = String::new();
            loop {
                match chars.next() {
                    Some('"') => break,
                    Some('\\') => v.push(chars.next().ok_or_else(|| bad("unterminated quote"))?),
                    Some(c) => v.push(c),
                    None => return Err(bad("unterminated quote")),
                }
            }
            v
        } else {
            std::iter::from_fn(|| chars.next_if(|c| !c.is_whitespace())).collect()
        };
        out.push((key, value));
    }
}

/// A time parameter in microseconds since the epoch, as nanoseconds.
pub(crate) fn micros_param(name: &str, text: &str) -> Result<i64, String> {
    let us: i64 = text
        .trim()
        .parse()
        .map_err(|_| format!("invalid {name} {text:?}: microseconds since the epoch"))?;
    us.checked_mul(1_000)
        .ok_or_else(|| format!("{name} {text:?} is out of range"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(go_duration_ns("1.5ms"), Ok(1_500_000));
        assert_eq!(go_duration_ns("1m30s"), Ok(90_000_000_000));
        assert_eq!(go_duration_ns("250us"), Ok(250_000));
        assert_eq!(go_duration_ns("0"), Ok(0));
        for bad in ["", "5", "1x", "ms", "1.2.3s", "9999999999h"] {
            assert!(go_duration_ns(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn tags_in_json_and_logfmt() {
        let want = vec![
            ("error".to_owned(), "true".to_owned()),
            ("http.route".to_owned(), "/a b".to_owned()),
        ];
        assert_eq!(
            tags(r#"{"http.route":"/a b","error":true}"#),
            Ok(want.clone())
        );
        assert_eq!(tags(r#"error=true http.route="/a b""#), Ok(want));
        assert_eq!(tags("  "), Ok(vec![]));
        assert!(tags("novalue").is_err());
        assert!(tags(r#"k="open"#).is_err());
        assert!(tags("{not json").is_err());
    }
}
