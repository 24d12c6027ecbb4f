//! VictoriaMetrics's JSON lines (`/api/v1/import`, and what `/api/v1/export` writes): one
//! series per line, `{"metric":{"__name__":"up","job":"a"},"values":[1,1],"timestamps":[1700000000000,1700000015000]}`.
//! A value is a number, `null` (skipped) or a string a float parses from (`"NaN"`,
//! `"+Inf"`); timestamps are integer milliseconds; the two arrays are as long as each other.

use std::collections::BTreeMap;

use serde::Deserialize;
use strata_engine::{Sample, SeriesSamples};

#[derive(Deserialize)]
struct Line {
    metric: BTreeMap<String, String>,
    values: Vec<Option<serde_json::Value>>,
    timestamps: Vec<i64>,
}

/// One line's series, or why it is refused.
pub(crate) fn parse_line(line: &[u8]) -> Result<SeriesSamples, String> {
    let l: Line = serde_json::from_slice(line).map_err(|e| format!("not a series: {e}"))?;
    if l.values.len() != l.timestamps.len() {
        return Err(format!(
            "{} values for {} timestamps",
            l.values.len(),
            l.timestamps.len()
        ));
    }
    if !l.metric.contains_key("__name__") {
        return Err("the metric has no __name__".into());
    }
    let mut samples = Vec::with_capacity(l.values.len());
    for (v, ts) in l.values.into_iter().zip(l.timestamps) {
        let value = match v {
            None | Some(serde_json::Value::Null) => continue,
            Some(serde_json::Value::Number(n)) => n.as_f64().ok_or("a value out of range")?,
            Some(serde_json::Value::String(s)) => {
                parse_float(&s).ok_or_else(|| format!("value {s:?} is not a number"))?
            }
            Some(other) => return Err(format!("value {other} is not a number")),
        };
        samples.push(Sample { ts, value });
    }
    Ok(SeriesSamples {
        labels: l.metric.into_iter().collect(),
        samples,
    })
}

fn parse_float(s: &str) -> Option<f64> {
    match s.to_ascii_lowercase().as_str() {
        "nan" => Some(f64::NAN),
        "inf" | "+inf" => Some(f64::INFINITY),
        "-inf" => Some(f64::NEG_INFINITY),
        _ => s.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_parse_and_bad_ones_say_why() {
        let s = parse_line(br#"{"metric":{"__name__":"up","job":"a"},"values":[1,null,"NaN",2.5],"timestamps":[1,2,3,4]}"#).unwrap();
        assert_eq!(
            s.labels,
            vec![("__name__".into(), "up".into()), ("job".into(), "a".into())]
        );
        let got: Vec<(i64, String)> = s
            .samples
            .iter()
            .map(|p| (p.ts, p.value.to_string()))
            .collect();
        assert_eq!(got, [(1, "1".into()), (3, "NaN".into()), (4, "2.5".into())]);
        let e = |l: &str| parse_line(l.as_bytes()).unwrap_err();
        assert!(
            e(r#"{"metric":{"__name__":"up"},"values":[1],"timestamps":[]}"#)
                .contains("1 values for 0")
        );
        assert!(e(r#"{"metric":{"job":"a"},"values":[],"timestamps":[]}"#).contains("__name__"));
        assert!(
            e(r#"{"metric":{"__name__":"up"},"values":["x"],"timestamps":[1]}"#)
                .contains("not a number")
        );
        assert!(e("{not json").contains("not a series"));
    }
}
