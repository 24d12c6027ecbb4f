//! Small PromQL queries against a big head, through the HTTP API: writes `--series` series
//! (default 200,000, [`strata_benches::series_labels`]: 1,000 per host, 64 metrics) with
//! `--samples` samples 15 s apart by remote-write to a running server, then times a set of
//! instant queries that each match few or no series: the per-query cost a Grafana dashboard
//! refresh pays dozens of times. Prints one JSON object: per query, the median, p90 and
//! minimum of `--runs` timed runs (after 5 untimed ones), and the number of series answered;
//! then the same for the cardinality endpoint, `GET /api/v1/status/tsdb?limit=10` and with
//! `focusLabel=host` (under `"status"`, with the head's series count it reported). Any
//! server with Prometheus's remote-write receiver and API can be measured the same way.
//!
//! ```text
//! bench-head-queries [--url http://127.0.0.1:9090] [--series 200000] [--samples 4]
//!                    [--runs 200] [--skip-load]
//! ```
//!
//! One keep-alive connection; each query is a `GET /api/v1/query` at the last sample's time.
//! The server must accept the series (raise `limits.max_active_series` and
//! `limits.max_series_per_metric`) and keep them in its head for the run (any flush
//! interval: series stay in the head after a flush).

use std::time::{Duration, Instant};

use prost::Message;
use serde_json::{Value, json};
use strata_benches::http_client::{Conn, HttpError, encode_query_value};
use strata_benches::{BASE_TS, arg, flag, series_labels};
use strata_server::remote_write::proto::{Label, Sample, TimeSeries, WriteRequest};

/// Series per remote-write request.
const BATCH: usize = 1_000;

/// Why the run failed.
#[derive(Debug, thiserror::Error)]
enum RunError {
    #[error("{0}")]
    Http(#[from] HttpError),
    #[error("{what}: HTTP {status}: {body}")]
    Status {
        what: String,
        status: u16,
        body: String,
    },
    #[error("{what}: {detail}")]
    Bad { what: String, detail: String },
}

fn main() {
    if let Err(e) = run() {
        eprintln!("bench-head-queries: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), RunError> {
    let args: Vec<String> = std::env::args().collect();
    let url: String = arg(&args, "--url", "http://127.0.0.1:9090".to_owned());
    let series: usize = arg(&args, "--series", 200_000);
    let samples: i64 = arg(&args, "--samples", 4);
    let runs: usize = arg(&args, "--runs", 200);
    let mut conn = Conn::new(&url)?;
    let last_ts = BASE_TS + (samples - 1) * 15_000;
    let mut out = json!({ "series": series, "samples_per_series": samples, "runs": runs });
    if !flag(&args, "--skip-load") {
        let t0 = Instant::now();
        load(&mut conn, series, samples)?;
        out["load_seconds"] = json!(t0.elapsed().as_secs_f64());
    }
    let queries = [
        ("vector_1", "vector(1)".to_owned()),
        (
            "one_series",
            r#"node_bench_metric_3{host="host-00007",series="3"}"#.to_owned(),
        ),
        (
            "absent_missing",
            r#"absent(nonexistent_metric{job="x"})"#.to_owned(),
        ),
        (
            "metric_of_one_host",
            r#"node_bench_metric_3{host="host-00007"}"#.to_owned(),
        ),
        (
            "host_alternatives",
            r#"sum by (zone) (node_bench_metric_3{host=~"host-00001|host-00002|host-00003"})"#
                .to_owned(),
        ),
        ("count_one_metric", "count(node_bench_metric_3)".to_owned()),
    ];
    let mut results = serde_json::Map::new();
    for (name, q) in &queries {
        let path = format!(
            "/api/v1/query?query={}&time={}",
            encode_query_value(q),
            last_ts as f64 / 1000.0
        );
        let mut answered = 0;
        for _ in 0..5 {
            answered = query(&mut conn, &path, name)?;
        }
        let mut times: Vec<Duration> = Vec::with_capacity(runs);
        for _ in 0..runs {
            let t = Instant::now();
            query(&mut conn, &path, name)?;
            times.push(t.elapsed());
        }
        times.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        results.insert(
            (*name).to_owned(),
            json!({
                "query": q,
                "series_answered": answered,
                "median_ms": ms(times[times.len() / 2]),
                "p90_ms": ms(times[times.len() * 9 / 10]),
                "min_ms": ms(times[0]),
            }),
        );
    }
    out["queries"] = Value::Object(results);
    // The cardinality endpoint (`/api/v1/status/tsdb`, Prometheus's; Strata's adds the
    // focus label and the series each label adds).
    let status = [
        ("tsdb_limit_10", "/api/v1/status/tsdb?limit=10"),
        (
            "tsdb_focus_host",
            "/api/v1/status/tsdb?limit=10&focusLabel=host",
        ),
    ];
    let mut results = serde_json::Map::new();
    for (name, path) in status {
        // The first call is timed alone: Prometheus answers later ones from a 30 s cache.
        let t = Instant::now();
        let mut head = status_call(&mut conn, path, name)?;
        let first = t.elapsed();
        for _ in 0..2 {
            head = status_call(&mut conn, path, name)?;
        }
        let mut times: Vec<Duration> = Vec::with_capacity(runs);
        for _ in 0..runs {
            let t = Instant::now();
            status_call(&mut conn, path, name)?;
            times.push(t.elapsed());
        }
        times.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        results.insert(
            name.to_owned(),
            json!({
                "path": path,
                "head_series": head,
                "median_ms": ms(times[times.len() / 2]),
                "p90_ms": ms(times[times.len() * 9 / 10]),
                "min_ms": ms(times[0]),
                "first_ms": ms(first),
            }),
        );
    }
    out["status"] = Value::Object(results);
    println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
    Ok(())
}

/// Writes `series` series with `samples` samples each, one request per 1,000 series and step.
fn load(conn: &mut Conn, series: usize, samples: i64) -> Result<(), RunError> {
    for step in 0..samples {
        for target in 0..series.div_ceil(BATCH) {
            let n = BATCH.min(series - target * BATCH);
            let timeseries = (0..n)
                .map(|i| TimeSeries {
                    labels: series_labels(target, i)
                        .into_iter()
                        .map(|(name, value)| Label {
                            name: name.into_bytes(),
                            value: value.into_bytes(),
                        })
                        .collect(),
                    samples: vec![Sample {
                        value: (step * (i as i64 % 7 + 1)) as f64,
                        timestamp: BASE_TS + step * 15_000,
                    }],
                    histograms: Vec::new(),
                    exemplars: Vec::new(),
                })
                .collect();
            let body = snap::raw::Encoder::new()
                .compress_vec(
                    &WriteRequest {
                        timeseries,
                        metadata: Vec::new(),
                    }
                    .encode_to_vec(),
                )
                .map_err(|e| RunError::Bad {
                    what: "snappy".into(),
                    detail: e.to_string(),
                })?;
            let headers = [
                ("Content-Type", "application/x-protobuf"),
                ("Content-Encoding", "snappy"),
                ("X-Prometheus-Remote-Write-Version", "0.1.0"),
            ];
            let r = conn.post("/api/v1/write", &headers, &body)?;
            if !(200..300).contains(&r.status) {
                return Err(RunError::Status {
                    what: format!("remote-write of host {target}, step {step}"),
                    status: r.status,
                    body: String::from_utf8_lossy(&r.body).into_owned(),
                });
            }
        }
    }
    Ok(())
}

/// Calls a status endpoint; returns the head's series count it reports.
fn status_call(conn: &mut Conn, path: &str, name: &str) -> Result<u64, RunError> {
    let r = conn.get(path, &[])?;
    if r.status != 200 {
        return Err(RunError::Status {
            what: format!("status {name}"),
            status: r.status,
            body: String::from_utf8_lossy(&r.body).into_owned(),
        });
    }
    let v: Value = serde_json::from_slice(&r.body).map_err(|e| RunError::Bad {
        what: format!("status {name}"),
        detail: e.to_string(),
    })?;
    v["data"]["headStats"]["numSeries"]
        .as_u64()
        .ok_or_else(|| RunError::Bad {
            what: format!("status {name}"),
            detail: "no data.headStats.numSeries".into(),
        })
}

/// Runs one query; returns the number of series in its answer.
fn query(conn: &mut Conn, path: &str, name: &str) -> Result<usize, RunError> {
    let r = conn.get(path, &[])?;
    if r.status != 200 {
        return Err(RunError::Status {
            what: format!("query {name}"),
            status: r.status,
            body: String::from_utf8_lossy(&r.body).into_owned(),
        });
    }
    let v: Value = serde_json::from_slice(&r.body).map_err(|e| RunError::Bad {
        what: format!("query {name}"),
        detail: e.to_string(),
    })?;
    v["data"]["result"]
        .as_array()
        .map(Vec::len)
        .ok_or_else(|| RunError::Bad {
            what: format!("query {name}"),
            detail: "no data.result array".into(),
        })
}
