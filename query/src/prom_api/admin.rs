//! Prometheus's TSDB admin endpoints over the engine, with Prometheus's parameters and
//! errors, and Strata's delete of spans and log records beside them:
//!
//! - `snapshot` (`/api/v1/admin/tsdb/snapshot`, `skip_head`): [`Engine::take_snapshot`]
//!   into `<data dir>/snapshots/<UTC time>-<16 hex>`, of every tenant or of the caller's
//!   only, answered as `{"status":"success","data":{"name":"<that name>"}}`.
//! - `snapshots` (Strata's `GET /api/v1/admin/tsdb/snapshots`): the snapshots the caller
//!   may see, and `remove_snapshot` (`DELETE /api/v1/admin/tsdb/snapshots/<name>`).
//! - `delete_series` (`/api/v1/admin/tsdb/delete_series`, `match[]`, `start`, `end`):
//!   [`Engine::delete_series`] for each selector; 204 and no body.
//! - `delete_records` (`signal`, `query`, `start`, `end`): [`Engine::delete_records`];
//!   the counts in `data`.
//!
//! Beyond Prometheus, `start` after `end` is refused (Prometheus deletes nothing then),
//! as is a delete of records without a query: a delete that names nothing is a mistake.

use strata_engine::{
    CheckpointOptions, DeleteStats, Engine, RecordPredicate, RecordSignal, SnapshotInfo, TenantId,
};

use super::PromApi;
use super::error::{ApiError, Result};
use super::json::{self, Escape};
use super::params::{
    MAX_TIME_MS, MIN_TIME_MS, Params, Time, engine_matchers, go_quote, matcher_sets, time_param,
};
use super::response::{Response, Success};

impl PromApi {
    /// `/api/v1/admin/tsdb/snapshot`: `skip_head` (Go's `strconv.ParseBool`; without it,
    /// memory is flushed first). `tenant`: only that tenant's data is in the snapshot;
    /// `None`, every tenant's.
    pub fn snapshot(
        &self,
        engine: &Engine,
        tenant: Option<&TenantId>,
        params: &[(String, String)],
    ) -> Response {
        snapshot(engine, tenant, Params::new(params)).into()
    }

    /// Strata's list of snapshots, oldest first: those of `tenant` (a caller bound to
    /// it), or every one (`None`). Each as `{"name", "tenant"` (absent for a snapshot of
    /// every tenant), `"created"` (RFC 3339), `"skipHead", "files", "bytes",
    /// "exclusiveBytes"}`: the last is what removing it frees (the rest are hard links to
    /// files the server still holds).
    pub fn snapshots(&self, engine: &Engine, tenant: Option<&TenantId>) -> Response {
        snapshots(engine, tenant).into()
    }

    /// Removes the snapshot `name` if `tenant` may see it (see [`PromApi::snapshots`]):
    /// 204; 404 when there is no such snapshot for the caller.
    pub fn remove_snapshot(
        &self,
        engine: &Engine,
        tenant: Option<&TenantId>,
        name: &str,
    ) -> Response {
        match remove_snapshot(engine, tenant, name) {
            Ok(()) => Response {
                status: 204,
                body: Vec::new(),
            },
            Err(e) => Err::<Success, _>(e).into(),
        }
    }

    /// `/api/v1/admin/tsdb/delete_series`: `match[]` (one or more selectors), `start` and
    /// `end` (default: all time). 204 with no body once every selector's samples are gone.
    pub fn delete_series(
        &self,
        engine: &Engine,
        tenant: &TenantId,
        params: &[(String, String)],
    ) -> Response {
        match delete_series(engine, tenant, Params::new(params)) {
            Ok(()) => Response {
                status: 204,
                body: Vec::new(),
            },
            Err(e) => Err::<Success, _>(e).into(),
        }
    }

    /// Strata's delete of spans or log records: `signal` (`spans` or `logs`), `query` (a
    /// [`RecordPredicate`]: `client.address = '1.2.3.4' AND ...`), `start` and `end`
    /// (default: all time; RFC 3339 or Unix seconds, to the nanosecond).
    pub fn delete_records(
        &self,
        engine: &Engine,
        tenant: &TenantId,
        params: &[(String, String)],
    ) -> Response {
        delete_records(engine, tenant, Params::new(params)).into()
    }
}

fn snapshot(engine: &Engine, tenant: Option<&TenantId>, p: Params<'_>) -> Result<Success> {
    let skip_head = match p.value("skip_head") {
        "" => false,
        v => parse_bool(v).ok_or_else(|| {
            ApiError::invalid_param(
                "skip_head",
                format!(
                    "unable to parse boolean 'skip_head' argument: strconv.ParseBool: parsing {}: invalid syntax",
                    go_quote(v)
                ),
            )
        })?,
    };
    let options = CheckpointOptions {
        skip_head,
        tenant: tenant.cloned(),
    };
    let (taken, _) = engine
        .take_snapshot(&options)
        .map_err(|e| from_engine("create snapshot", e))?;
    let mut data = String::from("{\"name\":");
    json::string(&mut data, &taken.name, Escape::Jsoniter);
    data.push('}');
    Ok(Success {
        data,
        ..Success::default()
    })
}

fn delete_series(engine: &Engine, tenant: &TenantId, p: Params<'_>) -> Result<()> {
    if p.values("match[]").is_empty() {
        return Err(ApiError::BadData("no match[] parameter provided".into()));
    }
    let (start, end) = range(&p)?;
    let sets = matcher_sets(&p, true)?;
    for set in &sets {
        let matchers = engine_matchers(set)?;
        engine
            .delete_series(tenant, &matchers, start.ms(), end.ms())
            .map_err(|e| from_engine("delete series", e))?;
    }
    Ok(())
}

fn delete_records(engine: &Engine, tenant: &TenantId, p: Params<'_>) -> Result<Success> {
    let signal = match p.value("signal") {
        "" => {
            return Err(ApiError::BadData(
                "no signal parameter provided (spans or logs)".into(),
            ));
        }
        s => RecordSignal::parse(s).map_err(|e| ApiError::invalid_param("signal", e))?,
    };
    let query = p.value("query");
    if query.trim().is_empty() {
        return Err(ApiError::BadData(
            "no query parameter provided (e.g. client.address = '1.2.3.4')".into(),
        ));
    }
    let (start, end) = range(&p)?;
    let ns =
        |t: Time| i64::try_from(t.ns()).unwrap_or(if t.ns() < 0 { i64::MIN } else { i64::MAX });
    let pred = RecordPredicate::parse(query, ns(start), ns(end))
        .map_err(|e| ApiError::invalid_param("query", e))?;
    let stats = engine
        .delete_records(tenant, signal, &pred)
        .map_err(|e| from_engine("delete records", e))?;
    Ok(Success {
        data: stats_json(&stats),
        ..Success::default()
    })
}

/// `start` and `end` (defaults: Prometheus's `MinTime` and `MaxTime`), `end` not before
/// `start`.
fn range(p: &Params<'_>) -> Result<(Time, Time)> {
    let start = time_param(p, "start", Time::from_ms(MIN_TIME_MS))?;
    let end = time_param(p, "end", Time::from_ms(MAX_TIME_MS))?;
    if end < start {
        return Err(ApiError::BadData(
            "end timestamp must not be before start time".into(),
        ));
    }
    Ok((start, end))
}

fn stats_json(s: &DeleteStats) -> String {
    format!(
        "{{\"filesChecked\":{},\"filesRewritten\":{},\"filesRemoved\":{},\"rowsDeleted\":{}}}",
        s.files_checked, s.files_rewritten, s.files_removed, s.rows_deleted
    )
}

/// An engine failure: a request it refuses is bad data; anything else is internal.
fn from_engine(what: &str, e: strata_engine::Error) -> ApiError {
    match e {
        strata_engine::Error::InvalidRequest { .. } => ApiError::BadData(e.to_string()),
        strata_engine::Error::ReadOnly => ApiError::Execution(format!("{what}: {e}")),
        e => ApiError::Internal(format!("{what}: {e}")),
    }
}

/// Go's `strconv.ParseBool`.
fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// The snapshots a caller may see: its tenant's, or every one for a server-wide caller.
fn visible(engine: &Engine, tenant: Option<&TenantId>) -> Result<Vec<SnapshotInfo>> {
    let all = engine
        .snapshots()
        .map_err(|e| from_engine("list snapshots", e))?;
    Ok(all
        .into_iter()
        .filter(|s| tenant.is_none() || s.tenant.as_ref() == tenant)
        .collect())
}

fn snapshots(engine: &Engine, tenant: Option<&TenantId>) -> Result<Success> {
    let mut data = String::from("[");
    for (i, s) in visible(engine, tenant)?.iter().enumerate() {
        if i > 0 {
            data.push(',');
        }
        data.push_str("{\"name\":");
        json::string(&mut data, &s.name, Escape::Jsoniter);
        if let Some(t) = &s.tenant {
            data.push_str(",\"tenant\":");
            json::string(&mut data, t.as_str(), Escape::Jsoniter);
        }
        let created = chrono::DateTime::from_timestamp_millis(s.created_ms)
            .unwrap_or_default()
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        data.push_str(&format!(
            ",\"created\":\"{created}\",\"skipHead\":{},\"files\":{},\"bytes\":{},\"exclusiveBytes\":{}}}",
            s.skip_head, s.files, s.bytes, s.exclusive_bytes
        ));
    }
    data.push(']');
    Ok(Success {
        data,
        ..Success::default()
    })
}

fn remove_snapshot(engine: &Engine, tenant: Option<&TenantId>, name: &str) -> Result<()> {
    let not_found = || ApiError::NotFound(format!("no snapshot {}", go_quote(name)));
    if !visible(engine, tenant)?.iter().any(|s| s.name == name) {
        return Err(not_found());
    }
    match engine.remove_snapshot(name) {
        Ok(true) => Ok(()),
        Ok(false) => Err(not_found()),
        Err(e) => Err(from_engine("remove snapshot", e)),
    }
}

#[cfg(test)]
mod tests {
    use strata_engine::{EngineConfig, ManualClock, Sample, SeriesSamples};

    use super::*;

    fn pairs(kv: &[(&str, &str)]) -> Vec<(String, String)> {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn admin_endpoints_answer_as_prometheus_and_refuse_bad_input() {
        let dir = tempfile::tempdir().unwrap();
        let now = 1_700_000_000_000;
        let engine =
            Engine::open_with_clock(dir.path(), EngineConfig::default(), ManualClock::new(now))
                .unwrap();
        let t = TenantId::new("acme").unwrap();
        let up = |job: &str| SeriesSamples {
            labels: vec![("__name__".into(), "up".into()), ("job".into(), job.into())],
            samples: vec![Sample {
                ts: now - 1_000,
                value: 1.0,
            }],
        };
        engine.write(&t, &[up("a"), up("b")]).unwrap();
        let api = PromApi::default();
        for (params, error) in [
            (vec![], "no match[] parameter provided"),
            (
                vec![("match[]", "{job=~\".*\"}")],
                "at least one non-empty matcher",
            ),
            (
                vec![("match[]", "up{")],
                "invalid parameter \\\"match[]\\\"",
            ),
            (
                vec![("match[]", "up"), ("start", "10"), ("end", "5")],
                "end timestamp must not be before start time",
            ),
            (
                vec![("match[]", "up"), ("start", "x")],
                "invalid time value for 'start'",
            ),
        ] {
            let r = api.delete_series(&engine, &t, &pairs(&params));
            assert_eq!(r.status, 400, "{params:?}");
            assert!(
                r.body_text().contains(error),
                "{params:?}: {}",
                r.body_text()
            );
        }
        let r = api.delete_series(&engine, &t, &pairs(&[("match[]", "up{job=\"a\"}")]));
        assert_eq!((r.status, r.body.len()), (204, 0));
        let left = engine.select(&t, &[], 0, i64::MAX).unwrap();
        assert_eq!(left.len(), 1);

        let r = api.snapshot(&engine, None, &pairs(&[("skip_head", "maybe")]));
        assert_eq!(r.status, 400);
        assert!(
            r.body_text()
                .contains("unable to parse boolean 'skip_head' argument")
        );
        let r = api.snapshot(&engine, None, &pairs(&[("skip_head", "false")]));
        assert_eq!(r.status, 200, "{}", r.body_text());
        let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        let name = body["data"]["name"].as_str().unwrap();
        assert_eq!(
            name.len(),
            "20231114T221320Z-0123456789abcdef".len(),
            "{name}"
        );
        let copy = dir.path().join(strata_engine::SNAPSHOTS_DIR).join(name);
        assert!(copy.join("metrics/FLUSHED").exists());

        for (params, status) in [
            (vec![("query", "a = 'b'")], 400),
            (vec![("signal", "metrics"), ("query", "a = 'b'")], 400),
            (vec![("signal", "spans")], 400),
            (vec![("signal", "spans"), ("query", "a > 'b'")], 400),
            (
                vec![("signal", "logs"), ("query", "service_name = 'x'")],
                200,
            ),
        ] {
            let r = api.delete_records(&engine, &t, &pairs(&params));
            assert_eq!(r.status, status, "{params:?}: {}", r.body_text());
        }
    }
}
