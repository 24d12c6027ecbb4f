//! Loads a `../shared/bench` dataset into a running Strata over OTLP/HTTP (`POST /v1/metrics`,
//! protobuf, uncompressed) and reports the rate; then checks through the Prometheus API that
//! the stored series and samples are exactly the dataset's. Prints one JSON object.
//!
//! ```text
//! bench-otlp-load --ds DS_DIR [--url http://127.0.0.1:4318] [--threads 2] [--tenant ID]
//!                 [--no-verify | --verify-only]
//! ```
//!
//! Every remote-write request of the dataset (`DS_DIR/rw/*.rwb`, 1,000 series × 4 steps each)
//! becomes one OTLP request with the same samples (mapping in `strata_benches::rw_otlp`).
//! All requests are converted and encoded before the clock starts. `--threads` threads, each
//! with one keep-alive connection, take the requests in file-name order (time-window major,
//! as `load_peers.py rw` sends them, but with no barrier between windows: Strata accepts
//! samples up to its out-of-order window behind a series' newest). 429 and 503 answers are
//! retried after their `Retry-After` (counted); any other non-200 answer, and points a 200
//! answer reports as rejected (`partial_success`), count as failed. `--no-verify` skips the
//! PromQL check (so a caller can read the server's CPU time right after the load);
//! `--verify-only` runs only the check.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceResponse;
use prost::Message;
use serde_json::{Value, json};
use strata_benches::http_client::{Conn, HttpError, encode_query_value};
use strata_benches::rw_otlp::{ConvertError, decode_rwb, to_otlp};
use strata_benches::{arg, cpu_time, flag};

/// Why the load could not run.
#[derive(Debug, thiserror::Error)]
enum LoadError {
    #[error("usage: {0}")]
    Usage(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{file}: {source}")]
    Convert { file: String, source: ConvertError },
    #[error("{0}")]
    Http(#[from] HttpError),
    #[error("{what}: {detail}")]
    Bad { what: String, detail: String },
}

/// One pre-encoded request.
struct Request {
    body: Vec<u8>,
    samples: u64,
}

/// Counters shared by the sender threads.
#[derive(Default)]
struct Tally {
    ok_requests: AtomicU64,
    ok_samples: AtomicU64,
    failed_samples: AtomicU64,
    rejected_points: AtomicU64,
    retries: AtomicU64,
    errors: Mutex<Vec<String>>,
}

impl Tally {
    fn error(&self, msg: String) {
        let mut errors = self.errors.lock().unwrap_or_else(|e| e.into_inner());
        if errors.len() < 5 {
            errors.push(msg);
        }
    }
}

fn main() {
    if let Err(e) = run() {
        eprintln!("bench-otlp-load: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), LoadError> {
    let args: Vec<String> = std::env::args().collect();
    let ds = PathBuf::from(arg(&args, "--ds", String::new()));
    if ds.as_os_str().is_empty() {
        return Err(LoadError::Usage(
            "bench-otlp-load --ds DS_DIR [--url URL] [--threads N] [--tenant ID] [--no-verify | --verify-only]"
                .into(),
        ));
    }
    let url: String = arg(&args, "--url", "http://127.0.0.1:4318".to_owned());
    let threads: usize = arg(&args, "--threads", 2).max(1);
    let tenant: String = arg(&args, "--tenant", String::new());
    if flag(&args, "--verify-only") {
        let out = json!({"cmd": "otlp-verify", "url": url, "verify": verify(&url, &tenant, &ds)?});
        println!("{out}");
        return Ok(());
    }

    let t0 = Instant::now();
    let requests = prepare(&ds)?;
    let prep_secs = t0.elapsed().as_secs_f64();
    let total_samples: u64 = requests.iter().map(|r| r.samples).sum();
    let total_bytes: u64 = requests.iter().map(|r| r.body.len() as u64).sum();

    let tally = Tally::default();
    let next = AtomicUsize::new(0);
    let cpu0 = cpu_time();
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| send_all(&url, &tenant, &requests, &next, &tally));
        }
    });
    let secs = start.elapsed().as_secs_f64();
    let client_cpu = (cpu_time() - cpu0).as_secs_f64();
    let ok_samples = tally.ok_samples.load(Ordering::Relaxed);

    let mut out = json!({
        "cmd": "otlp-load",
        "url": url,
        "threads": threads,
        "requests": requests.len(),
        "requests_ok": tally.ok_requests.load(Ordering::Relaxed),
        "samples": total_samples,
        "samples_ok": ok_samples,
        "samples_failed": tally.failed_samples.load(Ordering::Relaxed),
        "points_rejected": tally.rejected_points.load(Ordering::Relaxed),
        "retries": tally.retries.load(Ordering::Relaxed),
        "errors": *tally.errors.lock().unwrap_or_else(|e| e.into_inner()),
        "otlp_bytes": total_bytes,
        "prepare_seconds": round3(prep_secs),
        "seconds": round3(secs),
        "samples_per_s": (ok_samples as f64 / secs).round(),
        "client_cpu_s": round3(client_cpu),
    });
    if !flag(&args, "--no-verify") {
        out["verify"] = verify(&url, &tenant, &ds)?;
    }
    println!("{out}");
    Ok(())
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Reads `rw/index.tsv` and converts and encodes every request, in file-name order.
fn prepare(ds: &Path) -> Result<Vec<Request>, LoadError> {
    let read = |path: PathBuf| {
        std::fs::read(&path).map_err(|source| LoadError::Io {
            path: path.clone(),
            source,
        })
    };
    let index = read(ds.join("rw").join("index.tsv"))?;
    let mut names: Vec<String> = String::from_utf8_lossy(&index)
        .lines()
        .filter_map(|l| l.split('\t').next())
        .filter(|n| !n.is_empty())
        .map(str::to_owned)
        .collect();
    names.sort();
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        let bytes = read(ds.join("rw").join(&name))?;
        let converted = decode_rwb(&bytes)
            .and_then(|wr| to_otlp(&wr))
            .map_err(|source| LoadError::Convert {
                file: name.clone(),
                source,
            })?;
        out.push(Request {
            body: converted.request.encode_to_vec(),
            samples: converted.samples,
        });
    }
    Ok(out)
}

/// One sender thread: takes the next request until none are left.
fn send_all(url: &str, tenant: &str, requests: &[Request], next: &AtomicUsize, tally: &Tally) {
    let mut conn = match Conn::new(url) {
        Ok(c) => c,
        Err(e) => {
            tally.error(e.to_string());
            return;
        }
    };
    let mut headers = vec![("Content-Type", "application/x-protobuf")];
    if !tenant.is_empty() {
        headers.push(("X-Scope-OrgID", tenant));
    }
    loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        let Some(req) = requests.get(i) else {
            return;
        };
        send_one(&mut conn, &headers, req, tally);
    }
}

fn send_one(conn: &mut Conn, headers: &[(&str, &str)], req: &Request, tally: &Tally) {
    loop {
        let resp = match conn.post("/v1/metrics", headers, &req.body) {
            Ok(r) => r,
            Err(e) => {
                tally
                    .failed_samples
                    .fetch_add(req.samples, Ordering::Relaxed);
                tally.error(e.to_string());
                return;
            }
        };
        match resp.status {
            200 => {
                let rejected = ExportMetricsServiceResponse::decode(resp.body.as_slice())
                    .ok()
                    .and_then(|r| r.partial_success)
                    .map_or(0, |p| {
                        if p.rejected_data_points > 0 {
                            tally.error(format!("partial success: {}", p.error_message));
                        }
                        p.rejected_data_points.max(0) as u64
                    });
                tally.ok_requests.fetch_add(1, Ordering::Relaxed);
                tally.rejected_points.fetch_add(rejected, Ordering::Relaxed);
                tally
                    .ok_samples
                    .fetch_add(req.samples - rejected.min(req.samples), Ordering::Relaxed);
                tally
                    .failed_samples
                    .fetch_add(rejected.min(req.samples), Ordering::Relaxed);
                return;
            }
            429 | 503 => {
                tally.retries.fetch_add(1, Ordering::Relaxed);
                let wait = resp.retry_after.map_or(Duration::from_millis(100), |s| {
                    Duration::from_secs(s.max(1))
                });
                std::thread::sleep(wait);
            }
            status => {
                tally
                    .failed_samples
                    .fetch_add(req.samples, Ordering::Relaxed);
                let body = String::from_utf8_lossy(&resp.body);
                tally.error(format!(
                    "{status}: {}",
                    body.chars().take(160).collect::<String>()
                ));
                return;
            }
        }
    }
}

/// Series and samples stored, through PromQL, one query per metric name of `meta.json` (as
/// `load_peers.py verify` does), compared with the dataset's.
fn verify(url: &str, tenant: &str, ds: &Path) -> Result<Value, LoadError> {
    let path = ds.join("meta.json");
    let meta: Value = std::fs::read(&path)
        .map_err(|source| LoadError::Io {
            path: path.clone(),
            source,
        })
        .and_then(|b| {
            serde_json::from_slice(&b).map_err(|e| LoadError::Bad {
                what: path.display().to_string(),
                detail: e.to_string(),
            })
        })?;
    let num = |k: &str| {
        meta[k].as_i64().ok_or_else(|| LoadError::Bad {
            what: "meta.json".into(),
            detail: format!("no integer {k}"),
        })
    };
    let (first, last) = (num("first_ts_ms")?, num("last_ts_ms")?);
    let (want_series, want_samples) = (num("series")?, num("samples")?);
    let names: Vec<String> = meta["metric_names"]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    let t = last as f64 / 1000.0 + 1.0;
    let span = (last - first) / 1000 + 60;
    let mut conn = Conn::new(url)?;
    let headers: Vec<(&str, &str)> = if tenant.is_empty() {
        Vec::new()
    } else {
        vec![("X-Scope-OrgID", tenant)]
    };
    let mut query = |q: String| -> Result<f64, LoadError> {
        let path = format!("/api/v1/query?query={}&time={t:.3}", encode_query_value(&q));
        let resp = conn.get(&path, &headers)?;
        let body: Value = serde_json::from_slice(&resp.body).map_err(|e| LoadError::Bad {
            what: q.clone(),
            detail: e.to_string(),
        })?;
        if resp.status != 200 {
            return Err(LoadError::Bad {
                what: q,
                detail: body.to_string(),
            });
        }
        Ok(body["data"]["result"][0]["value"][1]
            .as_str()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0))
    };
    let (mut series, mut samples) = (0.0, 0.0);
    let t0 = Instant::now();
    for name in &names {
        let sel = format!("{name}{{job=~\"node|api\"}}");
        series += query(format!("count(last_over_time({sel}[{span}s]))"))?;
        samples += query(format!("sum(count_over_time({sel}[{span}s]))"))?;
    }
    Ok(json!({
        "expected_series": want_series,
        "expected_samples": want_samples,
        "series": series,
        "samples": samples,
        "seconds": round3(t0.elapsed().as_secs_f64()),
        "ok": series == want_series as f64 && samples == want_samples as f64,
    }))
}
