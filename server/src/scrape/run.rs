//! A target's scrape loop: at its offset within each interval (a hash of the target, so a
//! job's targets spread over the interval as Prometheus spreads them), one GET within
//! the timeout, the body made into series ([`super::process`]) and written through the
//! server's write path (the tenant's caps and `[relabel]` rules, counted in `/metrics` as
//! any write), then the report series. A failed scrape stores nothing of its body, marks
//! the previous scrape's series stale and reports `up` 0; a target that goes (config
//! reload, file_sd) marks its series and its report series stale.

use std::io::Read;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use strata_engine::{SeriesSamples, TenantId};
use tokio::sync::watch;
use tracing::debug;

use super::Stop;
use super::process::{self, Made, SeriesCache};
use super::target::Target;
use crate::runtime::state::AppState;

/// A target's state as `/api/v1/targets` shows it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Status {
    /// `up`, `down` or `unknown` (not scraped yet).
    pub(crate) health: &'static str,
    pub(crate) last_error: String,
    /// When the last scrape started (ms since the epoch; 0: never).
    pub(crate) last_scrape_ms: i64,
    pub(crate) last_duration_s: f64,
    /// Samples the last successful scrape stored.
    pub(crate) last_samples: u64,
}

/// The `Accept` header Prometheus sends (OpenMetrics preferred, then the text format).
const ACCEPT: &str = "application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";

/// Runs `target`'s loop until `stop` says so; the last act marks its series stale.
pub(crate) async fn run(
    state: AppState,
    tenant: TenantId,
    target: Arc<Target>,
    client: reqwest::Client,
    status: Arc<Mutex<Status>>,
    mut stop: watch::Receiver<Stop>,
) {
    let interval_ms = target.interval.as_millis().max(1) as i64;
    let offset = (target.key() % interval_ms as u64) as i64;
    let mut cache = SeriesCache::new();
    let mut scraped_once = false;
    loop {
        let now = now_ms();
        let next = (now - offset).div_euclid(interval_ms) * interval_ms + offset + interval_ms;
        let wait = Duration::from_millis((next - now).max(0) as u64);
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.changed() => break,
        }
        if *stop.borrow() != Stop::Run {
            break;
        }
        scrape_once(&state, &tenant, &target, &client, &status, &mut cache).await;
        scraped_once = true;
    }
    // Gone: its series and its report series end here (not at shutdown: they go on after
    // a restart).
    if scraped_once && *stop.borrow() == Stop::Gone {
        let ts = now_ms();
        let mut stale = process::all_stale(&mut cache, ts);
        stale.extend(
            process::report_labels(&target)
                .into_iter()
                .map(|l| process::stale(l, ts)),
        );
        write(&state, &tenant, stale).await;
    }
}

/// One scrape: fetch, make, write, report.
pub(crate) async fn scrape_once(
    state: &AppState,
    tenant: &TenantId,
    target: &Target,
    client: &reqwest::Client,
    status: &Mutex<Status>,
    cache: &mut SeriesCache,
) {
    let ts = now_ms();
    let started = Instant::now();
    let limit = match target.job.body_size_limit {
        0 => state.ingest.max_body_bytes(),
        n => n,
    };
    let fetched = fetch(client, target, limit).await;
    let result = match fetched {
        Ok((body, content_type)) => {
            let t = target.clone();
            let mut c = std::mem::take(cache);
            let made = tokio::task::spawn_blocking(move || {
                let r = process::process(&t, &body, content_type.as_deref(), ts, &mut c);
                (r, c)
            })
            .await;
            match made {
                Ok((r, c)) => {
                    *cache = c;
                    r
                }
                Err(e) => Err(format!("scrape task failed: {e}")),
            }
        }
        Err(e) => Err(e),
    };
    let duration = started.elapsed().as_secs_f64();
    let (up, made, error) = match result {
        Ok(made) => (true, made, String::new()),
        Err(e) => {
            debug!(target = %target.url, error = %e, "scrape failed");
            let made = Made {
                series: process::all_stale(cache, ts),
                ..Made::default()
            };
            (false, made, e)
        }
    };
    let report = process::report(target, ts, up, duration, &made);
    let stored = made.series.len() as u64;
    let Made {
        series,
        exemplars,
        metadata,
        ..
    } = made;
    write(state, tenant, series).await;
    if !exemplars.is_empty() {
        let _ = state.ingest.write_exemplars(tenant, exemplars).await;
    }
    if !metadata.is_empty() {
        let _ = state.ingest.write_metadata(tenant, metadata).await;
    }
    write(state, tenant, report).await;
    let mut s = status.lock().unwrap_or_else(|p| p.into_inner());
    s.health = if up { "up" } else { "down" };
    s.last_error = error;
    s.last_scrape_ms = ts;
    s.last_duration_s = duration;
    if up {
        s.last_samples = stored;
    }
}

/// Writes `series` through the server's write path; a refusal is counted there.
async fn write(state: &AppState, tenant: &TenantId, series: Vec<SeriesSamples>) {
    if series.is_empty() {
        return;
    }
    if let Err(e) = state.ingest.write_metrics(tenant, series).await {
        debug!(error = %e, "a scrape's write failed");
    }
}

/// GETs the target's URL within its timeout: the body (decompressed, at most `limit`
/// bytes) and its Content-Type.
async fn fetch(
    client: &reqwest::Client,
    target: &Target,
    limit: u64,
) -> Result<(Vec<u8>, Option<String>), String> {
    let job = &target.job;
    let mut req = client
        .get(&target.url)
        .timeout(target.timeout)
        .header("Accept", ACCEPT)
        .header(
            "X-Prometheus-Scrape-Timeout-Seconds",
            format!("{}", target.timeout.as_secs_f64()),
        );
    req = match &job.auth {
        Some(super::config::Auth::Basic { username, password }) => {
            req.basic_auth(username, Some(password))
        }
        Some(super::config::Auth::Header(value)) => req.header("Authorization", value),
        None => req,
    };
    if job.compression {
        req = req.header("Accept-Encoding", "gzip");
    }
    let fetch = async {
        let mut resp = req.send().await.map_err(|e| error_text(&e))?;
        if !resp.status().is_success() {
            return Err(format!("server returned HTTP status {}", resp.status()));
        }
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let content_type = header("content-type");
        let gzip = header("content-encoding").is_some_and(|e| e.eq_ignore_ascii_case("gzip"));
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| error_text(&e))? {
            body.extend_from_slice(&chunk);
            if body.len() as u64 > limit {
                return Err(too_big(limit));
            }
        }
        if gzip {
            body = gunzip(&body, limit)?;
        }
        Ok((body, content_type))
    };
    match tokio::time::timeout(target.timeout, fetch).await {
        Ok(r) => r,
        Err(_) => Err(format!("Get \"{}\": context deadline exceeded", target.url)),
    }
}

fn too_big(limit: u64) -> String {
    format!("body size limit exceeded: the body is over {limit} bytes")
}

fn gunzip(body: &[u8], limit: u64) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(body)
        .take(limit + 1)
        .read_to_end(&mut out)
        .map_err(|e| format!("gzip: {e}"))?;
    if out.len() as u64 > limit {
        return Err(too_big(limit));
    }
    Ok(out)
}

fn error_text(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(inner) = source {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        source = inner.source();
    }
    if e.is_timeout() {
        s.push_str(" (context deadline exceeded)");
    }
    s
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
