//! The tenant's own figures: `GET /api/v1/status/limits` (its limits, rejections since
//! start and the last hour of ingest), `GET /api/v1/status/disk` (its partitions per
//! signal) and `GET /api/v1/status/tenants` (who the caller is, which tenants it may look
//! at).

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::{StatusError, seconds, success};
use crate::auth::ReadTenant;
use crate::runtime::history::{INTERVAL, Point, SIGNALS};
use crate::runtime::state::AppState;

/// The kinds of `rejected`: the three signals, then exemplars.
const KINDS: [&str; 4] = ["metrics", "traces", "logs", "exemplars"];

/// Points `ingest.rate` averages over: the last minute.
const RATE_POINTS: usize = 4;

pub(super) async fn limits(
    State(state): State<AppState>,
    ReadTenant(tenant): ReadTenant,
) -> Result<Response, StatusError> {
    let engine = state.engine()?;
    let l = engine.limits_for(&tenant).clone();
    let t = tenant.clone();
    let stats = tokio::task::spawn_blocking(move || engine.tenant_stats(&t))
        .await
        .map_err(|e| crate::http::error::ApiError::Internal(format!("stats task failed: {e}")))?;
    let totals = state
        .metrics
        .tenant_totals()
        .remove(tenant.as_str())
        .unwrap_or_default();
    let points = state.history.points(tenant.as_str());
    let recent = &points[points.len().saturating_sub(RATE_POINTS)..];
    let rate = if recent.is_empty() {
        0.0
    } else {
        let n: u64 = recent.iter().map(|p| p.accepted[0]).sum();
        n as f64 / (recent.len() as f64 * INTERVAL.as_secs_f64())
    };
    let rejected = by_kind(totals.rejected.iter().map(|(k, n)| (k, *n)));
    Ok(success(json!({
        "tenant": tenant.as_str(),
        "series": {
            "head": stats.series,
            "active": stats.active_series,
            "maxActive": l.max_active_series,
            "maxPerMetric": l.max_series_per_metric,
            "activeWindowSeconds": seconds(l.active_series_window),
        },
        "ingest": {
            "rateLimit": l.ingest_rate,
            "burst": l.ingest_burst,
            "rate": rate,
            "signalRecordRate": l.signal_record_rate,
            "signalRecordBurst": l.signal_record_burst,
            "signalByteRate": l.signal_byte_rate,
            "signalByteBurst": l.signal_byte_burst,
        },
        "retentionSeconds": {
            "metrics": seconds(l.metrics_retention),
            "traces": seconds(l.traces_retention),
            "logs": seconds(l.logs_retention),
        },
        "diskBudgetBytes": l.disk_budget,
        "accepted": signals(totals.accepted),
        "rejected": rejected,
        "history": {
            "intervalSeconds": INTERVAL.as_secs(),
            "points": points.iter().map(point).collect::<Vec<_>>(),
        },
    })))
}

/// `{"metrics":{reason:n},"traces":{},"logs":{},"exemplars":{}}`.
fn by_kind<'a>(items: impl Iterator<Item = (&'a (&'static str, String), u64)>) -> Value {
    let mut out: BTreeMap<&str, Map<String, Value>> =
        KINDS.iter().map(|k| (*k, Map::new())).collect();
    for ((kind, reason), n) in items {
        out.entry(kind)
            .or_default()
            .insert(reason.clone(), n.into());
    }
    json!(out)
}

/// `{"metrics":n,"traces":n,"logs":n}`.
fn signals(counts: [u64; 3]) -> Value {
    let m: Map<String, Value> = SIGNALS
        .iter()
        .zip(counts)
        .map(|(s, n)| ((*s).to_owned(), n.into()))
        .collect();
    Value::Object(m)
}

fn point(p: &Point) -> Value {
    json!({
        "t": p.t_ms,
        "accepted": signals(p.accepted),
        "rejected": by_kind(p.rejected.iter().map(|(k, n)| (k, *n))),
    })
}

pub(super) async fn disk(
    State(state): State<AppState>,
    ReadTenant(tenant): ReadTenant,
) -> Result<Response, StatusError> {
    let engine = state.engine()?;
    let budget = engine.limits_for(&tenant).disk_budget;
    let signals = engine.disk_partitions(&tenant);
    let total: u64 = signals.iter().map(|s| s.bytes).sum();
    let signals: Vec<Value> = signals
        .iter()
        .map(|s| {
            json!({
                "signal": s.signal,
                "retentionSeconds": s.retention_ms / 1000,
                "bytes": s.bytes,
                "partitions": s.partitions.iter().map(|p| json!({
                    "start": p.start,
                    "end": p.end,
                    "fileSets": p.file_sets,
                    "bytes": p.bytes,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    Ok(success(json!({
        "tenant": tenant.as_str(),
        "budgetBytes": budget,
        "totalBytes": total,
        "signals": signals,
    })))
}

pub(super) async fn tenants(
    State(state): State<AppState>,
    ReadTenant(tenant): ReadTenant,
    headers: HeaderMap,
) -> Result<Response, StatusError> {
    let auth = &state.auth;
    let can_choose = auth.bound_tenant(&headers).is_none();
    let mut list: Vec<String> = if can_choose {
        let engine = state.engine()?;
        engine
            .tenants()
            .iter()
            .map(|t| t.as_str().to_owned())
            .collect()
    } else {
        Vec::new()
    };
    list.push(tenant.as_str().to_owned());
    list.sort();
    list.dedup();
    Ok(success(json!({
        "auth": auth.enabled(),
        "tenant": tenant.as_str(),
        "canChoose": can_choose,
        "tenants": list,
    })))
}
