//! `GET /api/v1/targets` in Prometheus's shape (what Grafana and the console read): the
//! tenant's active targets with their health, last error, last scrape and its duration,
//! and the targets `relabel_configs` dropped. `state=active|dropped|any` and `scrapePool`
//! filter as in Prometheus.

use axum::Extension;
use axum::Router;
use axum::extract::RawQuery;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Map, Value, json};

use super::Scraper;
use super::target::{LabelSet, prom_duration};
use crate::auth::ReadTenant;
use crate::runtime::state::AppState;

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/targets", get(targets))
}

async fn targets(
    ReadTenant(tenant): ReadTenant,
    scraper: Option<Extension<Scraper>>,
    RawQuery(q): RawQuery,
) -> Response {
    let params: Vec<(String, String)> =
        serde_urlencoded::from_str(q.as_deref().unwrap_or("")).unwrap_or_default();
    let param = |name: &str| {
        params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let state = param("state").unwrap_or("any").to_ascii_lowercase();
    let pool_filter = param("scrapePool").filter(|p| !p.is_empty());
    let (want_active, want_dropped) = match state.as_str() {
        "active" => (true, false),
        "dropped" => (false, true),
        _ => (true, true),
    };
    let mut active = Vec::new();
    let mut dropped = Vec::new();
    let mut dropped_counts = Map::new();
    let pools = scraper
        .map(|Extension(s)| s.view(&tenant))
        .unwrap_or_default();
    for (job, view) in pools {
        if pool_filter.is_some_and(|p| p != job) {
            continue;
        }
        dropped_counts.insert(job.clone(), json!(view.dropped.len()));
        if want_active {
            for (t, status) in &view.active {
                let s = status.lock().unwrap_or_else(|p| p.into_inner()).clone();
                active.push(json!({
                    "discoveredLabels": labels(&t.discovered),
                    "labels": labels(&t.labels),
                    "scrapePool": job,
                    "scrapeUrl": t.url,
                    "globalUrl": t.url,
                    "lastError": s.last_error,
                    "lastScrape": rfc3339(s.last_scrape_ms),
                    "lastScrapeDuration": s.last_duration_s,
                    "health": s.health,
                    "scrapeInterval": prom_duration(t.interval),
                    "scrapeTimeout": prom_duration(t.timeout),
                }));
            }
        }
        if want_dropped {
            for d in &view.dropped {
                dropped.push(json!({ "discoveredLabels": labels(d) }));
            }
        }
    }
    let mut data = Map::new();
    if want_active {
        data.insert("activeTargets".into(), Value::Array(active));
    }
    if want_dropped {
        data.insert("droppedTargets".into(), Value::Array(dropped));
        data.insert("droppedTargetCounts".into(), Value::Object(dropped_counts));
    }
    let body = json!({ "status": "success", "data": data });
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn labels(set: &LabelSet) -> Value {
    Value::Object(
        set.iter()
            .map(|(n, v)| (n.clone(), Value::String(v.clone())))
            .collect(),
    )
}

/// `ms` as Prometheus prints a time (RFC 3339 with nanoseconds); the zero time when never.
fn rfc3339(ms: i64) -> String {
    if ms == 0 {
        return "0001-01-01T00:00:00Z".into();
    }
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true))
        .unwrap_or_default()
}
