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

use strata_engine::TenantId;
use tokio::sync::watch;
use tracing::debug;

use super::Stop;
use super::batch::{self, Batch, Submitted};
use super::cache::SeriesCache;
use super::process::{self, Made};
use super::target::Target;
use crate::runtime::ingest_handle::Ingest;
use crate::runtime::self_metrics::Signal;
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
    let mut cache = SeriesCache::default();
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
        cache = scrape_once(&state, &tenant, &target, &client, &status, cache).await;
        scraped_once = true;
    }
    // Gone: its series and its report series end here (not at shutdown: they go on after
    // a restart).
    if scraped_once && *stop.borrow() == Stop::Gone {
        let ts = now_ms();
        let t = Arc::clone(&target);
        let ingest = state.ingest.clone();
        let tenant_ = tenant.clone();
        let done = tokio::task::spawn_blocking(move || {
            let mut batch = Batch::default();
            process::end_all(&mut cache, &mut batch, ts);
            for labels in process::report_labels(&t) {
                batch.push_labels(labels, process::stale_value(false), ts);
            }
            submit(&ingest, &tenant_, &t, &mut cache, &mut batch)
        })
        .await;
        if let Ok(submitted) = done {
            finish(&state, &tenant, submitted).await;
        }
    }
}

/// What the blocking part of a scrape hands back.
struct Scraped {
    cache: SeriesCache,
    up: bool,
    made: Made,
    error: String,
    duration: f64,
    /// Samples in the write (the body's, markers, reports).
    samples: usize,
    submitted: Option<Submitted>,
}

/// One scrape: fetch; then, on a blocking thread, make the body into a batch with the
/// markers and report series and submit it; then await its WAL acknowledgement, and
/// write the exemplars and metadata after it. Returns the target's cache.
pub(crate) async fn scrape_once(
    state: &AppState,
    tenant: &TenantId,
    target: &Arc<Target>,
    client: &reqwest::Client,
    status: &Mutex<Status>,
    cache: SeriesCache,
) -> SeriesCache {
    let ts = now_ms();
    let started = Instant::now();
    let limit = match target.job.body_size_limit {
        0 => state.ingest.max_body_bytes(),
        n => n,
    };
    let fetched = fetch(client, target, limit).await;
    let t = Arc::clone(target);
    let ingest = state.ingest.clone();
    let tenant_ = tenant.clone();
    let work = tokio::task::spawn_blocking(move || {
        let mut cache = cache;
        let mut batch = Batch::default();
        let result = fetched.and_then(|(body, content_type)| {
            process::process(
                &t,
                &body,
                content_type.as_deref(),
                ts,
                &mut cache,
                &mut batch,
            )
        });
        let (up, made, error) = match result {
            Ok(made) => (true, made, String::new()),
            Err(e) => {
                debug!(target = %t.url, error = %e, "scrape failed");
                batch.clear();
                (false, process::end_all(&mut cache, &mut batch, ts), e)
            }
        };
        let duration = started.elapsed().as_secs_f64();
        let samples = batch.len();
        process::report(&t, ts, up, duration, &made, &mut batch);
        let submitted = submit(&ingest, &tenant_, &t, &mut cache, &mut batch);
        Scraped {
            cache,
            up,
            made,
            error,
            duration,
            samples,
            submitted,
        }
    })
    .await;
    let scraped = match work {
        Ok(s) => s,
        Err(e) => {
            // The cache went with the task: the next scrape starts a new one.
            let mut s = status.lock().unwrap_or_else(|p| p.into_inner());
            s.health = "down";
            s.last_error = format!("scrape task failed: {e}");
            s.last_scrape_ms = ts;
            return SeriesCache::default();
        }
    };
    finish(state, tenant, scraped.submitted).await;
    let Made {
        exemplars,
        metadata,
        ..
    } = scraped.made;
    if !exemplars.is_empty() {
        let _ = state.ingest.write_exemplars(tenant, exemplars).await;
    }
    if !metadata.is_empty() {
        let _ = state.ingest.write_metadata(tenant, metadata).await;
    }
    let mut s = status.lock().unwrap_or_else(|p| p.into_inner());
    s.health = if scraped.up { "up" } else { "down" };
    s.last_error = scraped.error;
    s.last_scrape_ms = ts;
    s.last_duration_s = scraped.duration;
    if scraped.up {
        s.last_samples = scraped.samples as u64;
    }
    scraped.cache
}

/// Submits `batch` through the server's write path (the tenant's `[relabel]` rules, the
/// engine's caps); `None` when the engine is not ready.
fn submit(
    ingest: &Ingest,
    tenant: &TenantId,
    target: &Target,
    cache: &mut SeriesCache,
    batch: &mut Batch,
) -> Option<Submitted> {
    let engine = ingest.engine().ok()?;
    let relabeling = ingest.relabeling();
    let rules = relabeling.as_deref().map(|r| &r.for_tenant(tenant).metrics);
    let format = cache.format();
    Some(batch::write(
        batch,
        &engine,
        tenant,
        rules,
        cache,
        |series| process::labels_of(target, format, series),
    ))
}

/// Awaits a submitted scrape's acknowledgement and counts it in the self-metrics as any
/// write; a refusal is counted there.
async fn finish(state: &AppState, tenant: &TenantId, submitted: Option<Submitted>) {
    let Some((pending, dropped)) = submitted else {
        return;
    };
    state
        .ingest
        .count_relabeled(tenant, Signal::Metrics, &dropped);
    if let Some(pending) = pending
        && let Err(e) = state
            .ingest
            .finish_pending(tenant, Signal::Metrics, pending)
            .await
    {
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
        .header("Accept", &job.accept)
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
