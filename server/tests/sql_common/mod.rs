//! Shared by the SQL tests (`sql_api.rs`, `cli_sql.rs`): reading `metric, labels, ts,
//! value` rows back out of the JSON, CSV and Arrow IPC a query answered, independently of
//! the server's writers (serde_json, a CSV parser written here, arrow's IPC reader).

#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, Float64Type, TimestampMillisecondType};
use strata_tests::remote_write::TestSeries;

/// The query every format is checked with: all samples of the tenant.
pub const ALL_ROWS: &str = "SELECT metric, labels, ts, value FROM metrics";

/// Series as compared: sorted labels (`__name__` included) -> (ts ms, value) in time order.
pub type Rows = BTreeMap<Vec<(String, String)>, Vec<(i64, f64)>>;

/// What `series` should read back as.
pub fn expected(series: &[TestSeries]) -> Rows {
    series
        .iter()
        .map(|s| (s.labels.clone(), s.samples.clone()))
        .collect()
}

fn add(rows: &mut Rows, metric: String, labels: Vec<(String, String)>, ts: i64, value: f64) {
    let mut key = labels;
    key.push(("__name__".into(), metric));
    key.sort();
    rows.entry(key).or_default().push((ts, value));
}

fn sorted(mut rows: Rows) -> Rows {
    for samples in rows.values_mut() {
        samples.sort_by_key(|(t, _)| *t);
    }
    rows
}

/// Whether two sample lists are equal: same timestamps, and values with the same bits, or
/// (when `nan_payloads` is false, for the text formats) both NaN.
pub fn same_samples(a: &[(i64, f64)], b: &[(i64, f64)], nan_payloads: bool) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|((ta, va), (tb, vb))| {
            ta == tb
                && (va.to_bits() == vb.to_bits() || (!nan_payloads && va.is_nan() && vb.is_nan()))
        })
}

/// Asserts `got` holds exactly the series and samples of `want`.
pub fn assert_rows(got: &Rows, want: &Rows, nan_payloads: bool, what: &str) {
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>(),
        "{what}: series"
    );
    for (labels, samples) in want {
        assert!(
            same_samples(&got[labels], samples, nan_payloads),
            "{what}: series {labels:?}: got {:?}, want {samples:?}",
            got[labels]
        );
    }
}

/// RFC 3339 to Unix ms.
pub fn parse_ts(text: &str) -> i64 {
    let t = humantime::parse_rfc3339(text).unwrap_or_else(|e| panic!("timestamp {text:?}: {e}"));
    match t.duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => d.as_millis() as i64,
        Err(e) => -(e.duration().as_millis() as i64),
    }
}

/// Marks a number's text in [`exact_numbers`].
const NUMBER: &str = "#number:";

/// `json` with every number turned into the string `"#number:<its text>"`: serde_json
/// (without its `float_roundtrip` feature) may parse a float one ulp off, and the test must
/// see the exact digits the server wrote.
pub fn exact_numbers(json: &str) -> String {
    let mut out = String::with_capacity(json.len() * 2);
    let (mut in_string, mut escaped, mut in_number) = (false, false, false);
    for c in json.chars() {
        if in_number && !(c.is_ascii_digit() || "+-.eE".contains(c)) {
            out.push('"');
            in_number = false;
        }
        if in_string {
            in_string = escaped || c != '"';
            escaped = !escaped && c == '\\';
        } else if c == '"' {
            in_string = true;
        } else if !in_number && (c == '-' || c.is_ascii_digit()) {
            out.push('"');
            out.push_str(NUMBER);
            in_number = true;
        }
        out.push(c);
    }
    if in_number {
        out.push('"');
    }
    out
}

/// A number marked by [`exact_numbers`], or one of the strings the API writes for
/// non-finite floats.
pub fn json_float(v: &serde_json::Value) -> f64 {
    match v {
        serde_json::Value::String(s) if s.starts_with(NUMBER) => s[NUMBER.len()..]
            .parse()
            .unwrap_or_else(|e| panic!("float {s}: {e}")),
        serde_json::Value::String(s) if s == "NaN" => f64::NAN,
        serde_json::Value::String(s) if s == "Infinity" => f64::INFINITY,
        serde_json::Value::String(s) if s == "-Infinity" => f64::NEG_INFINITY,
        other => panic!("not a float: {other}"),
    }
}

/// Rows of an `application/json` answer to [`ALL_ROWS`].
pub fn from_json(body: &[u8]) -> Rows {
    let text = exact_numbers(std::str::from_utf8(body).expect("UTF-8 JSON"));
    let rows: Vec<serde_json::Map<String, serde_json::Value>> =
        serde_json::from_str(&text).expect("a JSON array of objects");
    let mut out = Rows::new();
    for r in rows {
        let labels = r["labels"]
            .as_object()
            .expect("labels is an object")
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().expect("label value").to_owned()))
            .collect();
        let metric = r["metric"].as_str().expect("metric").to_owned();
        let ts = parse_ts(r["ts"].as_str().expect("ts is a string"));
        add(&mut out, metric, labels, ts, json_float(&r["value"]));
    }
    sorted(out)
}

/// RFC 4180 records (quoted fields with doubled quotes; no quoted line breaks needed here).
pub fn parse_csv(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .map(|line| {
            let mut fields = Vec::new();
            let mut field = String::new();
            let mut quoted = false;
            let mut chars = line.chars().peekable();
            while let Some(c) = chars.next() {
                match (c, quoted) {
                    ('"', true) if chars.peek() == Some(&'"') => {
                        field.push('"');
                        chars.next();
                    }
                    ('"', _) => quoted = !quoted,
                    (',', false) => fields.push(std::mem::take(&mut field)),
                    (c, _) => field.push(c),
                }
            }
            fields.push(field);
            fields
        })
        .collect()
}

/// A CSV float: Rust's syntax, which covers `NaN`, `inf` and `-inf`.
pub fn csv_float(text: &str) -> f64 {
    text.parse()
        .unwrap_or_else(|e| panic!("float {text:?}: {e}"))
}

/// Rows of a `text/csv` answer to [`ALL_ROWS`] (the header checked).
pub fn from_csv(body: &[u8]) -> Rows {
    let text = std::str::from_utf8(body).expect("UTF-8 CSV");
    let records = parse_csv(text);
    assert_eq!(records[0], ["metric", "labels", "ts", "value"], "header");
    let mut out = Rows::new();
    for r in &records[1..] {
        let labels: BTreeMap<String, String> =
            serde_json::from_str(&r[1]).expect("labels as JSON text");
        add(
            &mut out,
            r[0].clone(),
            labels.into_iter().collect(),
            parse_ts(&r[2]),
            csv_float(&r[3]),
        );
    }
    sorted(out)
}

/// Rows of an Arrow IPC stream answering [`ALL_ROWS`], with the column types checked.
pub fn from_arrow(body: &[u8]) -> Rows {
    let reader = arrow::ipc::reader::StreamReader::try_new(body, None).expect("an IPC stream");
    let schema = reader.schema();
    let types: Vec<&DataType> = schema.fields().iter().map(|f| f.data_type()).collect();
    assert!(matches!(types[0], DataType::Utf8), "{schema:?}");
    assert!(matches!(types[1], DataType::Map(..)), "{schema:?}");
    assert!(
        matches!(types[2], DataType::Timestamp(arrow::datatypes::TimeUnit::Millisecond, Some(tz)) if tz.as_ref() == "UTC"),
        "{schema:?}"
    );
    assert_eq!(types[3], &DataType::Float64);
    let mut out = Rows::new();
    for batch in reader {
        let batch = batch.expect("a batch");
        let metric = batch.column(0).as_string::<i32>();
        let labels = batch.column(1).as_map();
        let ts = batch.column(2).as_primitive::<TimestampMillisecondType>();
        let value = batch.column(3).as_primitive::<Float64Type>();
        for i in 0..batch.num_rows() {
            let entry = labels.value(i);
            let keys = entry.column(0).as_string::<i32>();
            let values = entry.column(1).as_string::<i32>();
            let l = (0..entry.len())
                .map(|j| (keys.value(j).to_owned(), values.value(j).to_owned()))
                .collect();
            add(
                &mut out,
                metric.value(i).to_owned(),
                l,
                ts.value(i),
                value.value(i),
            );
        }
    }
    sorted(out)
}
