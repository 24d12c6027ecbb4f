//! The process: `GET /api/v1/status/runtimeinfo` (version, uptime, memory, WAL, flushes,
//! compaction, the ingest budget) and `GET /api/v1/status/config` (the configuration in
//! force, secrets hidden). Server-wide figures go to any caller with the read scope;
//! the tenant list only names the tenants the caller may see.

use std::path::Path;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::json;

use super::{StatusError, success};
use crate::auth::ReadTenant;
use crate::runtime::state::AppState;

pub(super) async fn runtimeinfo(
    State(state): State<AppState>,
    ReadTenant(tenant): ReadTenant,
    headers: HeaderMap,
) -> Result<Response, StatusError> {
    let engine = state.engine()?;
    let info = &state.info;
    let bound = state.auth.bound_tenant(&headers);
    let e = engine.clone();
    let (tel, tenants, head_bytes) = tokio::task::spawn_blocking(move || {
        let tenants = e.tenants();
        let head: u64 = tenants
            .iter()
            .map(|t| {
                let s = e.tenant_stats(t);
                let m = s.memory;
                m.series_table
                    + m.series_keys
                    + m.postings
                    + m.raw_keys
                    + m.flushing_table
                    + s.spans_memory
                    + s.logs_memory
            })
            .sum();
        (e.telemetry(), tenants, head)
    })
    .await
    .map_err(|e| crate::http::error::ApiError::Internal(format!("status task failed: {e}")))?;
    let visible: Vec<&str> = match &bound {
        Some(t) => vec![t.as_str()],
        None => {
            let mut v: Vec<&str> = tenants.iter().map(|t| t.as_str()).collect();
            if !v.contains(&tenant.as_str()) {
                v.push(tenant.as_str());
                v.sort_unstable();
            }
            v
        }
    };
    let started = chrono::DateTime::<chrono::Utc>::from(info.started);
    let uptime = info.started.elapsed().map_or(0, |d| d.as_secs());
    let [rss, peak] = crate::runtime::pressure::status_bytes(["VmRSS:", "VmHWM:"]);
    let (wal_bytes, wal_segments) = wal_files(&engine.data_dir().join("wal"));
    let budget = state.ingest.inflight();
    let backlog = engine.compaction_backlog();
    Ok(success(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "startTime": started.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "uptimeSeconds": uptime,
        "role": info.role,
        "dataDir": engine.data_dir().display().to_string(),
        "storageRetention": humantime::format_duration(info.metrics_retention).to_string(),
        "memory": {
            "rssBytes": rss,
            "peakRssBytes": peak,
            "headBytes": head_bytes,
            "maxHeadBytes": info.max_head_bytes,
            "limitBytes": state.memory.limit,
            "limitSource": state.memory.source_text(),
            "anonymousBytes": crate::runtime::pressure::anonymous_bytes(),
            "pressureLevel": state.queries.pressure().level() as u8,
            "queryPoolBytes": state.queries.query_memory().total(),
            "queryPoolUsedBytes": state.queries.query_memory().used(),
            "queryPoolPeakBytes": state.queries.query_memory().peak(),
            "perQueryBytes": state.queries.query_memory().per_query(),
            "maxConcurrentQueries": state.memory.max_concurrent_queries,
            "queriesRunning": state.queries.admission().running(),
            "queriesWaiting": state.queries.admission().waiting(),
            "queriesRefusedMemory": state.queries.query_memory().refused(),
            "queriesRefusedPressure": state.queries.pressure().refused_queries(),
        },
        "wal": {
            "durability": info.durability,
            "diskBytes": wal_bytes,
            "segments": wal_segments,
            "bytesWritten": tel.wal.bytes,
            "appends": tel.wal.appends,
            "records": tel.wal.records,
            "fsyncs": tel.wal.syncs,
        },
        "flush": {"count": tel.flush.count, "totalSeconds": tel.flush.sum_seconds},
        "compaction": {
            "passes": tel.compaction.count,
            "totalSeconds": tel.compaction.sum_seconds,
            "backlogPartitions": backlog.partitions,
            "backlogFileSets": backlog.file_sets,
            "backlogBytes": backlog.bytes,
        },
        "retention": {"passes": tel.retention.count, "totalSeconds": tel.retention.sum_seconds},
        "ingestBudget": {
            "inflightBytes": budget.in_use_bytes(),
            "maxInflightBytes": budget.budget_bytes(),
            "waits": budget.waited(),
            "refused": budget.refused(),
        },
        "tenants": visible,
    })))
}

pub(super) async fn config(
    State(state): State<AppState>,
    ReadTenant(_): ReadTenant,
) -> Result<Response, StatusError> {
    Ok(success(json!({"toml": state.info.config_toml})))
}

/// Bytes and number of the WAL's segment files (`*.wal`) in `dir`.
fn wal_files(dir: &Path) -> (u64, u64) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return (0, 0);
    };
    entries
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "wal"))
        .fold((0, 0), |(b, n), e| {
            (b + e.metadata().map_or(0, |m| m.len()), n + 1)
        })
}
