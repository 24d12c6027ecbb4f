//! `strata promql`: an offline PromQL query on a data directory, printed as a table, CSV
//! or JSON.

use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::Args;

use strata_engine::TenantId;
use strata_query::promql::{EngineSource, PromqlEngine, QueryResult, Value};

use super::OutputFormat;
use crate::config::args::ConfigArgs;
use crate::error::{Error, Result};

/// Flags of `strata promql`.
#[derive(Debug, Args)]
pub struct PromqlArgs {
    /// The configuration (the data directory, and the limits and retention it is opened with).
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Tenant to query.
    #[arg(long, default_value = "default")]
    pub tenant: String,
    /// Evaluation time of an instant query: RFC 3339 or Unix seconds [default: now].
    #[arg(long, conflicts_with = "start")]
    pub time: Option<String>,
    /// Start of a range query: RFC 3339 or Unix seconds.
    #[arg(long, requires = "end")]
    pub start: Option<String>,
    /// End of a range query.
    #[arg(long, requires = "start")]
    pub end: Option<String>,
    /// Step of a range query: a duration (15s, 1m) or seconds.
    #[arg(long, default_value = "15s")]
    pub step: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
    /// The PromQL expression.
    pub query: String,
}

/// Runs the query and prints the result to `out`.
pub fn run(args: &PromqlArgs, out: &mut dyn Write) -> Result<()> {
    let config = args.config.load()?;
    let tenant = TenantId::new(&args.tenant).map_err(|e| Error::Usage(e.to_string()))?;
    let engine = crate::offline::open_engine(&config)?;
    let source = EngineSource::new(&engine, &tenant);
    let promql = PromqlEngine::new(config.promql);
    let (result, eval_ms) = match (&args.start, &args.end) {
        (Some(start), Some(end)) => {
            let end = parse_time(end)?;
            let step = parse_step(&args.step)?;
            let r = promql.range(&source, &args.query, parse_time(start)?, end, step)?;
            (r, end)
        }
        _ => {
            let t = match &args.time {
                Some(t) => parse_time(t)?,
                None => now_ms(),
            };
            (promql.instant(&source, &args.query, t)?, t)
        }
    };
    let rows = rows(&result.value);
    match args.format {
        OutputFormat::Table => write_table(out, &rows)?,
        OutputFormat::Csv => write_csv(out, &rows)?,
        OutputFormat::Json => writeln!(out, "{}", to_json(&result, eval_ms))?,
    }
    for w in result.warnings.iter().chain(&result.infos) {
        eprintln!("{w}");
    }
    Ok(())
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// RFC 3339 or (fractional) Unix seconds, to milliseconds.
pub(crate) fn parse_time(text: &str) -> Result<i64> {
    if let Ok(secs) = text.parse::<f64>()
        && secs.is_finite()
    {
        return Ok((secs * 1000.0).round() as i64);
    }
    let t = humantime::parse_rfc3339_weak(text).map_err(|e| {
        Error::Usage(format!(
            "{text:?} is neither Unix seconds nor an RFC 3339 time: {e}"
        ))
    })?;
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => Ok(d.as_millis() as i64),
        Err(e) => Ok(-(e.duration().as_millis() as i64)),
    }
}

fn parse_step(text: &str) -> Result<i64> {
    if let Ok(secs) = text.parse::<f64>() {
        return Ok((secs * 1000.0).round() as i64);
    }
    humantime::parse_duration(text)
        .map(|d| d.as_millis() as i64)
        .map_err(|e| Error::Usage(format!("--step {text:?}: {e}")))
}

/// (series, timestamp ms, value) rows; a native histogram's value is its text form
/// (Prometheus's, e.g. `{count:3, sum:4.5, (1,2]:3}`).
fn rows(value: &Value) -> Vec<(String, i64, String)> {
    match value {
        Value::Scalar { ts, value } => vec![("scalar".into(), *ts, fmt_value(*value))],
        Value::String { ts, value } => vec![(format!("string {value:?}"), *ts, "NaN".into())],
        Value::Vector(v) => v
            .iter()
            .map(|s| {
                let value = match &s.h {
                    Some(h) => h.to_string(),
                    None => fmt_value(s.value),
                };
                (s.labels.to_string(), s.ts, value)
            })
            .collect(),
        Value::Matrix(m) => m
            .iter()
            .flat_map(|s| {
                let name = s.labels.to_string();
                let floats = s.points.iter().map(|(t, v)| (*t, fmt_value(*v)));
                let hists = s.hpoints.iter().map(|(t, h)| (*t, h.to_string()));
                let mut points: Vec<(i64, String)> = floats.chain(hists).collect();
                points.sort_by_key(|(t, _)| *t);
                points.into_iter().map(move |(t, v)| (name.clone(), t, v))
            })
            .collect(),
    }
}

/// Prometheus's spelling of a sample value.
fn fmt_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        v.to_string()
    }
}

/// Seconds with millisecond precision, as the Prometheus API writes timestamps.
fn fmt_ts(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let frac = ms.rem_euclid(1000);
    if frac == 0 {
        secs.to_string()
    } else {
        format!("{secs}.{frac:03}").trim_end_matches('0').to_owned()
    }
}

fn write_table(out: &mut dyn Write, rows: &[(String, i64, String)]) -> std::io::Result<()> {
    let cells: Vec<[String; 3]> = rows
        .iter()
        .map(|(s, t, v)| [s.clone(), fmt_ts(*t), v.clone()])
        .collect();
    let head = ["series", "timestamp", "value"].map(str::to_owned);
    let mut w = head.clone().map(|h| h.len());
    for c in &cells {
        for i in 0..3 {
            w[i] = w[i].max(c[i].chars().count());
        }
    }
    for c in std::iter::once(&head).chain(&cells) {
        writeln!(
            out,
            "{:<w0$}  {:>w1$}  {:>w2$}",
            c[0],
            c[1],
            c[2],
            w0 = w[0],
            w1 = w[1],
            w2 = w[2]
        )?;
    }
    Ok(())
}

fn write_csv(out: &mut dyn Write, rows: &[(String, i64, String)]) -> std::io::Result<()> {
    writeln!(out, "series,timestamp,value")?;
    for (s, t, v) in rows {
        // A histogram's text form holds commas: quoted like the series.
        let v = if v.contains(',') {
            format!("\"{}\"", v.replace('"', "\"\""))
        } else {
            v.clone()
        };
        writeln!(out, "\"{}\",{},{}", s.replace('"', "\"\""), fmt_ts(*t), v)?;
    }
    Ok(())
}

/// The Prometheus API's `data` object, written by the HTTP API's own writer (native
/// histograms included), plus `warnings`/`infos` when there are any.
fn to_json(r: &QueryResult, eval_ms: i64) -> serde_json::Value {
    use serde_json::json;
    let text = strata_query::prom_api::query_data_json(r, eval_ms);
    let mut data: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(
        |e| json!({"error": format!("internal: the query answer is not JSON: {e}")}),
    );
    if !r.warnings.is_empty() {
        data["warnings"] = json!(r.warnings);
    }
    if !r.infos.is_empty() {
        data["infos"] = json!(r.infos);
    }
    data
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_values_are_spelled_like_prometheus() {
        assert_eq!(parse_time("1700000000.5").unwrap(), 1_700_000_000_500);
        assert_eq!(
            parse_time("2023-11-14T22:13:20Z").unwrap(),
            1_700_000_000_000
        );
        assert!(parse_time("yesterday").is_err());
        assert_eq!(parse_step("1m").unwrap(), 60_000);
        assert_eq!(fmt_ts(1_700_000_000_500), "1700000000.5");
        assert_eq!(fmt_ts(1_700_000_000_000), "1700000000");
        assert_eq!(fmt_value(f64::NEG_INFINITY), "-Inf");
        assert_eq!(fmt_value(0.25), "0.25");
    }
}
