//! The span benchmarks of issue #6 against a running Strata (`benches/spans/run-spans-bench.sh`
//! drives it). Prints one JSON object per command.
//!
//! ```text
//! bench-spans load   --url URL --start-ms MS --end-ms MS --spans-per-s R [--threads 2]
//!                    [--traces-per-request 57] [--seed 1] [--pregen] [--ids-out FILE] [--logs]
//!                    [--grpc HOST:PORT]
//! bench-spans lookup --url URL --ids FILE [--n 500] [--absent 50] [--seed 1]
//! bench-spans search --url URL --start-ms MS --end-ms MS [--n 50] [--window-s 86400]
//!                    [--min-duration 100ms] [--limit 20] [--seed 1]
//! ```
//!
//! `load` generates traces (`strata_benches::span_gen`) whose roots start evenly over
//! `[start, end)` of simulated time at `R` spans/s on average (17.5 spans per trace), in
//! requests of `--traces-per-request` traces (~1,000 spans), and sends them as OTLP/HTTP
//! protobuf (`POST /v1/traces`, uncompressed) from `--threads` threads, each with one
//! keep-alive connection; request `k` is a function of (`--seed`, `k`), whatever the thread
//! count. With `--pregen` every request is built and encoded before the clock starts
//! (for the rate measurement); otherwise each thread builds its requests as it goes. 429
//! and 503 are retried after `Retry-After`; other failures are counted. `--ids-out` writes
//! the first trace of every request as `hex_id start_ms span_count` lines, for `lookup`.
//! With `--logs` each request is instead the log records of those traces, one per span
//! (`span_gen::logs_request`: the span's resource, attributes and ids, a text body), sent to
//! `POST /v1/logs`; the output's `spans_*` counts are then log records. With `--grpc` the
//! same messages go over OTLP/gRPC to that address instead (`Export`, uncompressed, one
//! HTTP/2 connection per thread, one call at a time; `UNAVAILABLE` retried after 100 ms).
//!
//! `lookup` picks `--n` of those ids evenly over the file plus `--absent` random ids that
//! do not exist, shuffles them, and times `GET /jaeger/api/traces/{id}` for each (no
//! `start`/`end`, as Grafana's Jaeger datasource sends it): a present id must answer 200
//! with exactly its span count, an absent one 404.
//!
//! `search` times `GET /jaeger/api/traces?service=&operation=&minDuration=&start=&end=&limit=`
//! over `--n` random windows of `--window-s` inside `[start, end)`, each with a random
//! (entry service, one of its operations).

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use prost::Message;
use serde_json::{Value, json};
use strata_benches::grpc_client::GrpcConn;
use strata_benches::http_client::{Conn, HttpError, encode_query_value};
use strata_benches::span_gen::{Rng, SERVICES, logs_request, request, trace};
use strata_benches::{arg, cpu_time, flag};

/// Why a command could not run.
#[derive(Debug, thiserror::Error)]
enum BenchError {
    #[error("usage: {0}")]
    Usage(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Http(#[from] HttpError),
    #[error("{0}")]
    Bad(String),
}

const USAGE: &str = "bench-spans load|lookup|search --url URL ... (see the source's docs)";
/// Average spans per generated trace (5..=30 uniform, plus the odd extra client span).
const SPANS_PER_TRACE: f64 = 17.5;

fn main() {
    if let Err(e) = run() {
        eprintln!("bench-spans: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), BenchError> {
    let args: Vec<String> = std::env::args().collect();
    let url: String = arg(&args, "--url", "http://127.0.0.1:4318".to_owned());
    let out = match args.get(1).map(String::as_str) {
        Some("load") => load(&args, &url)?,
        Some("lookup") => lookup(&args, &url)?,
        Some("search") => search(&args, &url)?,
        _ => return Err(BenchError::Usage(USAGE.into())),
    };
    println!("{out}");
    Ok(())
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// The plan of a load: request `k` holds traces `k * per .. (k + 1) * per`, trace `j`
/// starting at `start + j * step`.
#[derive(Clone, Copy)]
struct Plan {
    start_ns: i64,
    step_ns: f64,
    traces: u64,
    per: u64,
    seed: u64,
    /// Log records (one per span) instead of spans.
    logs: bool,
}

/// One encoded request and what it holds.
struct Built {
    body: Vec<u8>,
    spans: u64,
    /// The first trace: (id, start ms, spans).
    first: ([u8; 16], i64, usize),
}

impl Plan {
    fn requests(&self) -> u64 {
        self.traces.div_ceil(self.per)
    }

    fn build(&self, k: u64) -> Built {
        let mut rng = Rng::new(self.seed ^ k.wrapping_mul(0xA24B_AED4_963E_E407));
        let lo = k * self.per;
        let hi = (lo + self.per).min(self.traces);
        let traces: Vec<_> = (lo..hi)
            .map(|j| {
                let jitter = rng.below(self.step_ns.max(1.0) as u64) as i64;
                trace(
                    &mut rng,
                    self.start_ns + (j as f64 * self.step_ns) as i64 + jitter,
                )
            })
            .collect();
        let first = (
            traces[0].trace_id,
            traces[0].start_ns / 1_000_000,
            traces[0].spans.len(),
        );
        let spans = traces.iter().map(|t| t.spans.len() as u64).sum();
        let req = request(traces);
        Built {
            body: if self.logs {
                logs_request(&req).encode_to_vec()
            } else {
                req.encode_to_vec()
            },
            spans,
            first,
        }
    }
}

/// Counters shared by the sender threads.
#[derive(Default)]
struct Tally {
    requests_ok: AtomicU64,
    spans_ok: AtomicU64,
    spans_failed: AtomicU64,
    bytes_ok: AtomicU64,
    retries: AtomicU64,
    errors: Mutex<Vec<String>>,
    firsts: Mutex<Vec<([u8; 16], i64, usize)>>,
}

impl Tally {
    fn error(&self, msg: String) {
        let mut errors = self.errors.lock().unwrap_or_else(|e| e.into_inner());
        if errors.len() < 5 {
            errors.push(msg);
        }
    }
}

fn load(args: &[String], url: &str) -> Result<Value, BenchError> {
    let start_ms: i64 = arg(args, "--start-ms", 0);
    let end_ms: i64 = arg(args, "--end-ms", 0);
    let rate: f64 = arg(args, "--spans-per-s", 0.0);
    if end_ms <= start_ms || rate <= 0.0 {
        return Err(BenchError::Usage(
            "load needs --start-ms < --end-ms and --spans-per-s > 0".into(),
        ));
    }
    let threads: usize = arg(args, "--threads", 2).max(1);
    let traces = ((end_ms - start_ms) as f64 / 1000.0 * rate / SPANS_PER_TRACE).ceil() as u64;
    let plan = Plan {
        start_ns: start_ms * 1_000_000,
        step_ns: (end_ms - start_ms) as f64 * 1e6 / traces as f64,
        traces,
        per: arg(args, "--traces-per-request", 57u64).max(1),
        seed: arg(args, "--seed", 1),
        logs: flag(args, "--logs"),
    };
    let tenant: String = arg(args, "--tenant", String::new());
    let grpc: String = arg(args, "--grpc", String::new());
    let n = plan.requests();
    let pregen = flag(args, "--pregen");
    let t0 = Instant::now();
    let built: Vec<Mutex<Option<Built>>> = if pregen {
        (0..n).map(|k| Mutex::new(Some(plan.build(k)))).collect()
    } else {
        Vec::new()
    };
    let prep = t0.elapsed().as_secs_f64();

    let tally = Tally::default();
    let next = AtomicUsize::new(0);
    let cpu0 = cpu_time();
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                let mut conn = match Sender::new(url, &grpc) {
                    Ok(c) => c,
                    Err(e) => return tally.error(e),
                };
                let mut headers = vec![];
                if !tenant.is_empty() {
                    headers.push(("X-Scope-OrgID", tenant.as_str()));
                }
                loop {
                    let k = next.fetch_add(1, Ordering::Relaxed) as u64;
                    if k >= n {
                        return;
                    }
                    let req = match built.get(k as usize) {
                        Some(m) => m.lock().unwrap_or_else(|e| e.into_inner()).take(),
                        None => None,
                    }
                    .unwrap_or_else(|| plan.build(k));
                    match &mut conn {
                        Sender::Http(conn) => send(conn, &headers, &req, plan.logs, &tally),
                        Sender::Grpc(conn) => send_grpc(conn, &headers, &req, plan.logs, &tally),
                    }
                }
            });
        }
    });
    let secs = start.elapsed().as_secs_f64();
    let client_cpu = (cpu_time() - cpu0).as_secs_f64();
    let spans_ok = tally.spans_ok.load(Ordering::Relaxed);
    let bytes_ok = tally.bytes_ok.load(Ordering::Relaxed);
    let mut firsts = std::mem::take(&mut *tally.firsts.lock().unwrap_or_else(|e| e.into_inner()));
    firsts.sort_by_key(|f| f.1);
    if let Some(path) = args
        .iter()
        .position(|a| a == "--ids-out")
        .and_then(|i| args.get(i + 1))
    {
        let text: String = firsts
            .iter()
            .map(|(id, ms, n)| format!("{} {ms} {n}\n", hex::encode(id)))
            .collect();
        std::fs::write(path, text).map_err(|source| BenchError::Io {
            path: path.into(),
            source,
        })?;
    }
    Ok(json!({
        "cmd": "load",
        "signal": if plan.logs { "logs" } else { "traces" },
        "url": url,
        "grpc": grpc,
        "threads": threads,
        "pregen": pregen,
        "start_ms": start_ms,
        "end_ms": end_ms,
        "spans_per_s_simulated": rate,
        "traces": traces,
        "requests": n,
        "requests_ok": tally.requests_ok.load(Ordering::Relaxed),
        "spans_ok": spans_ok,
        "spans_failed": tally.spans_failed.load(Ordering::Relaxed),
        "otlp_bytes_ok": bytes_ok,
        "otlp_bytes_per_span": round3(bytes_ok as f64 / spans_ok.max(1) as f64),
        "retries": tally.retries.load(Ordering::Relaxed),
        "errors": *tally.errors.lock().unwrap_or_else(|e| e.into_inner()),
        "prepare_seconds": round3(prep),
        "seconds": round3(secs),
        "spans_per_s": (spans_ok as f64 / secs).round(),
        "client_cpu_s": round3(client_cpu),
    }))
}

/// Rejected records of an OTLP traces or logs response (0 when it has no partial success),
/// with its message.
fn rejected(body: &[u8], logs: bool) -> (i64, String) {
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceResponse;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
    if logs {
        ExportLogsServiceResponse::decode(body)
            .ok()
            .and_then(|r| r.partial_success)
            .map_or((0, String::new()), |p| {
                (p.rejected_log_records, p.error_message)
            })
    } else {
        ExportTraceServiceResponse::decode(body)
            .ok()
            .and_then(|r| r.partial_success)
            .map_or((0, String::new()), |p| (p.rejected_spans, p.error_message))
    }
}

/// A sender thread's connection: OTLP/HTTP, or OTLP/gRPC with `--grpc ADDR`.
enum Sender {
    Http(Conn),
    Grpc(GrpcConn),
}

impl Sender {
    fn new(url: &str, grpc: &str) -> Result<Self, String> {
        if grpc.is_empty() {
            Conn::new(url).map(Self::Http).map_err(|e| e.to_string())
        } else {
            GrpcConn::new(grpc)
                .map(Self::Grpc)
                .map_err(|e| e.to_string())
        }
    }
}

/// Counts a request the server answered OK, with its partial success (`body`: the
/// response message).
fn accepted(req: &Built, body: &[u8], logs: bool, tally: &Tally) {
    let (n, message) = rejected(body, logs);
    if n > 0 {
        tally.error(format!("partial success: {message}"));
    }
    let rejected = (n.max(0) as u64).min(req.spans);
    tally.requests_ok.fetch_add(1, Ordering::Relaxed);
    tally
        .spans_ok
        .fetch_add(req.spans - rejected, Ordering::Relaxed);
    tally.spans_failed.fetch_add(rejected, Ordering::Relaxed);
    tally
        .bytes_ok
        .fetch_add(req.body.len() as u64, Ordering::Relaxed);
    if rejected == 0 {
        tally
            .firsts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(req.first);
    }
}

/// [`send`] over OTLP/gRPC: `UNAVAILABLE` (rate limit, budget, not ready) is retried after
/// 100 ms, any other failure counted.
fn send_grpc(
    conn: &mut GrpcConn,
    headers: &[(&str, &str)],
    req: &Built,
    logs: bool,
    tally: &Tally,
) {
    let path = if logs {
        "/opentelemetry.proto.collector.logs.v1.LogsService/Export"
    } else {
        "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
    };
    let headers: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| {
            (
                if *k == "X-Scope-OrgID" {
                    "x-scope-orgid"
                } else {
                    *k
                },
                *v,
            )
        })
        .collect();
    loop {
        let reply = match conn.call(path, &headers, &req.body) {
            Ok(r) => r,
            Err(e) => {
                tally.spans_failed.fetch_add(req.spans, Ordering::Relaxed);
                return tally.error(e.to_string());
            }
        };
        match reply.code {
            0 => return accepted(req, &reply.body, logs, tally),
            14 => {
                tally.retries.fetch_add(1, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(100));
            }
            code => {
                tally.spans_failed.fetch_add(req.spans, Ordering::Relaxed);
                return tally.error(format!("gRPC status {code}: {}", reply.message));
            }
        }
    }
}

fn send(conn: &mut Conn, headers: &[(&str, &str)], req: &Built, logs: bool, tally: &Tally) {
    let path = if logs { "/v1/logs" } else { "/v1/traces" };
    let mut with_type = vec![("Content-Type", "application/x-protobuf")];
    with_type.extend_from_slice(headers);
    let headers = &with_type;
    loop {
        let resp = match conn.post(path, headers, &req.body) {
            Ok(r) => r,
            Err(e) => {
                tally.spans_failed.fetch_add(req.spans, Ordering::Relaxed);
                return tally.error(e.to_string());
            }
        };
        match resp.status {
            200 => return accepted(req, &resp.body, logs, tally),
            429 | 503 => {
                tally.retries.fetch_add(1, Ordering::Relaxed);
                let wait = resp.retry_after.map_or(Duration::from_millis(100), |s| {
                    Duration::from_secs(s.max(1))
                });
                std::thread::sleep(wait);
            }
            status => {
                tally.spans_failed.fetch_add(req.spans, Ordering::Relaxed);
                let body = String::from_utf8_lossy(&resp.body);
                return tally.error(format!(
                    "{status}: {}",
                    body.chars().take(160).collect::<String>()
                ));
            }
        }
    }
}

/// p50, p90, p99 and max of `ms` (sorted in place), in ms.
fn percentiles(ms: &mut [f64]) -> Value {
    if ms.is_empty() {
        return Value::Null;
    }
    ms.sort_by(f64::total_cmp);
    let p = |q: f64| round3(ms[((ms.len() as f64 * q).ceil() as usize).clamp(1, ms.len()) - 1]);
    json!({"n": ms.len(), "p50_ms": p(0.5), "p90_ms": p(0.9), "p99_ms": p(0.99),
           "max_ms": round3(ms[ms.len() - 1]),
           "mean_ms": round3(ms.iter().sum::<f64>() / ms.len() as f64)})
}

fn lookup(args: &[String], url: &str) -> Result<Value, BenchError> {
    let path: String = arg(args, "--ids", String::new());
    let text = std::fs::read_to_string(&path).map_err(|source| BenchError::Io {
        path: path.clone().into(),
        source,
    })?;
    let ids: Vec<(String, i64, usize)> = text
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            Some((
                f.next()?.to_owned(),
                f.next()?.parse().ok()?,
                f.next()?.parse().ok()?,
            ))
        })
        .collect();
    if ids.is_empty() {
        return Err(BenchError::Bad(format!("{path}: no ids")));
    }
    let n: usize = arg(args, "--n", 500usize).min(ids.len());
    let absent: usize = arg(args, "--absent", 50);
    let mut rng = Rng::new(arg(args, "--seed", 1));
    let known: HashSet<&str> = ids.iter().map(|i| i.0.as_str()).collect();
    // (id, expected spans: 0 = absent)
    let mut todo: Vec<(String, usize)> = (0..n)
        .map(|k| {
            let (id, _, spans) = &ids[k * ids.len() / n];
            (id.clone(), *spans)
        })
        .collect();
    while todo.len() < n + absent {
        let id = hex::encode(rng.id::<16>());
        if !known.contains(id.as_str()) {
            todo.push((id, 0));
        }
    }
    for k in (1..todo.len()).rev() {
        todo.swap(k, rng.below(k as u64 + 1) as usize);
    }
    let mut conn = Conn::new(url)?;
    let (mut hit, mut miss, mut wrong) = (Vec::new(), Vec::new(), Vec::new());
    let start = Instant::now();
    for (id, want) in &todo {
        let t = Instant::now();
        let resp = conn.get(&format!("/jaeger/api/traces/{id}"), &[])?;
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        let got = if resp.status == 200 {
            serde_json::from_slice::<Value>(&resp.body)
                .ok()
                .and_then(|v| v["data"][0]["spans"].as_array().map(Vec::len))
                .unwrap_or(usize::MAX)
        } else {
            0
        };
        if got != *want || (resp.status != 200 && resp.status != 404) {
            wrong.push(json!({"id": id, "status": resp.status, "spans": got, "want": want}));
        }
        if *want == 0 { &mut miss } else { &mut hit }.push(ms);
    }
    let secs = start.elapsed().as_secs_f64();
    let mut all: Vec<f64> = hit.iter().chain(&miss).copied().collect();
    let span_ms = (
        ids.first().map_or(0, |i| i.1),
        ids.last().map_or(0, |i| i.1),
    );
    Ok(json!({
        "cmd": "lookup",
        "ids_in_file": ids.len(),
        "ids_first_last_ms": [span_ms.0, span_ms.1],
        "seconds": round3(secs),
        "all": percentiles(&mut all),
        "present": percentiles(&mut hit),
        "absent": percentiles(&mut miss),
        "wrong": wrong.len(),
        "wrong_examples": wrong.into_iter().take(5).collect::<Vec<_>>(),
    }))
}

fn search(args: &[String], url: &str) -> Result<Value, BenchError> {
    let start_ms: i64 = arg(args, "--start-ms", 0);
    let end_ms: i64 = arg(args, "--end-ms", 0);
    let window_ms: i64 = arg(args, "--window-s", 86_400i64) * 1000;
    if end_ms - start_ms < window_ms {
        return Err(BenchError::Usage(
            "search needs --end-ms - --start-ms >= --window-s".into(),
        ));
    }
    let n: usize = arg(args, "--n", 50);
    let min_duration: String = arg(args, "--min-duration", "100ms".to_owned());
    let limit: usize = arg(args, "--limit", 20);
    let mut rng = Rng::new(arg(args, "--seed", 1));
    let mut conn = Conn::new(url)?;
    let (mut times, mut found, mut failed) = (Vec::new(), 0usize, Vec::new());
    for _ in 0..n {
        let from = start_ms + rng.below((end_ms - start_ms - window_ms + 1) as u64) as i64;
        let svc = &SERVICES[rng.below(2) as usize];
        let (method, route) = svc.ops[rng.below(svc.ops.len() as u64) as usize];
        let op = format!("{method} {route}");
        let q = format!(
            "/jaeger/api/traces?service={}&operation={}&minDuration={}&start={}&end={}&limit={limit}",
            svc.name,
            encode_query_value(&op),
            encode_query_value(&min_duration),
            from * 1000,
            (from + window_ms) * 1000
        );
        let t = Instant::now();
        let resp = conn.get(&q, &[])?;
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        let traces = serde_json::from_slice::<Value>(&resp.body)
            .ok()
            .and_then(|v| v["data"].as_array().map(Vec::len));
        match (resp.status, traces) {
            (200, Some(k)) => found += k,
            (status, _) => failed.push(format!("{status} for {q}")),
        }
    }
    Ok(json!({
        "cmd": "search",
        "window_s": window_ms / 1000,
        "min_duration": min_duration,
        "limit": limit,
        "latency": percentiles(&mut times),
        "traces_returned_mean": round3(found as f64 / n.max(1) as f64),
        "failed": failed.len(),
        "failed_examples": failed.into_iter().take(3).collect::<Vec<_>>(),
    }))
}
