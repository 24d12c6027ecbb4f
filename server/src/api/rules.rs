//! The rules' read APIs in Prometheus's and Loki's shapes, so Grafana lists data-source
//! managed rules and alert states unchanged, and `/-/reload`:
//!
//! - `GET /api/v1/rules` and `/api/v1/alerts`: PromQL rules (Prometheus's JSON; filters
//!   `type`, `rule_name[]`, `rule_group[]` (also `group_name[]`), `file[]`,
//!   `exclude_alerts`).
//! - `GET /prometheus/api/v1/rules` and `/prometheus/api/v1/alerts`: LogQL rules, the
//!   same JSON (the paths of Loki's ruler).
//! - `GET /loki/api/v1/rules[/{namespace}[/{group}]]`: LogQL rule groups as YAML by
//!   namespace (the rule file), as Loki's ruler answers.
//! - `POST|PUT /-/reload`: reads the rule files again (admin scope when auth is on).

use axum::Router;
use axum::extract::{Extension, Path, RawQuery};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value as Json, json};

use crate::auth::ReadTenant;
use crate::http::error::ApiError;
use crate::rules::alert::{Alert, State};
use crate::rules::file::RuleKind;
use crate::rules::group::Group;
use crate::rules::manager::rfc3339;
use crate::rules::{Lang, Rules};
use crate::runtime::state::AppState;

/// The routes, for the router to merge; they read the [`Rules`] extension (absent: no
/// rules run in this process, and the lists are empty).
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/rules", get(prom_rules))
        .route("/api/v1/alerts", get(prom_alerts))
        .route("/prometheus/api/v1/rules", get(loki_rules_json))
        .route("/prometheus/api/v1/alerts", get(loki_alerts))
        .route("/loki/api/v1/rules", get(loki_rules_yaml))
        .route("/loki/api/v1/rules/{namespace}", get(loki_namespace_yaml))
        .route(
            "/loki/api/v1/rules/{namespace}/{group}",
            get(loki_group_yaml),
        )
}

type Params = RawQuery;
type MaybeRules = Option<Extension<Rules>>;

async fn prom_rules(ReadTenant(t): ReadTenant, rules: MaybeRules, RawQuery(q): Params) -> Response {
    rules_json(groups(rules, &t, Lang::Promql), q.as_deref())
}

async fn loki_rules_json(
    ReadTenant(t): ReadTenant,
    rules: MaybeRules,
    RawQuery(q): Params,
) -> Response {
    rules_json(groups(rules, &t, Lang::Logql), q.as_deref())
}

async fn prom_alerts(ReadTenant(t): ReadTenant, rules: MaybeRules) -> Response {
    alerts_json(groups(rules, &t, Lang::Promql))
}

async fn loki_alerts(ReadTenant(t): ReadTenant, rules: MaybeRules) -> Response {
    alerts_json(groups(rules, &t, Lang::Logql))
}

fn groups(
    rules: MaybeRules,
    tenant: &strata_engine::TenantId,
    lang: Lang,
) -> Vec<std::sync::Arc<Group>> {
    match rules {
        Some(Extension(r)) => r
            .groups(tenant)
            .into_iter()
            .filter(|g| g.lang == lang)
            .collect(),
        None => Vec::new(),
    }
}

fn success(data: Json) -> Response {
    let body = json!({"status": "success", "data": data}).to_string();
    let mut resp = (StatusCode::OK, body).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

fn rules_json(groups: Vec<std::sync::Arc<Group>>, query: Option<&str>) -> Response {
    let q: Vec<(String, String)> = match serde_urlencoded::from_str(query.unwrap_or("")) {
        Ok(q) => q,
        Err(e) => {
            return ApiError::BadRequest(format!("invalid query string: {e}")).into_response();
        }
    };
    let all = |k: &str| -> Vec<&str> {
        q.iter()
            .filter(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
            .collect()
    };
    let kind = q
        .iter()
        .rev()
        .find(|(k, _)| k == "type")
        .map(|(_, v)| v.as_str());
    let (want_alerts, want_records) = match kind {
        None | Some("") => (true, true),
        Some("alert") => (true, false),
        Some("record") => (false, true),
        Some(other) => {
            return ApiError::BadRequest(format!(
                "unsupported type {other:?}: use \"alert\" or \"record\""
            ))
            .into_response();
        }
    };
    let names = all("rule_name[]");
    let mut group_names = all("rule_group[]");
    group_names.extend(all("group_name[]"));
    let files = all("file[]");
    let exclude_alerts = q.iter().any(|(k, v)| k == "exclude_alerts" && v == "true");
    let mut out = Vec::new();
    for g in &groups {
        let file = g.key.file.to_string_lossy();
        if (!group_names.is_empty() && !group_names.contains(&g.key.name.as_str()))
            || (!files.is_empty() && !files.contains(&file.as_ref()))
        {
            continue;
        }
        let mut rules = Vec::new();
        for r in &g.rules {
            if !names.is_empty() && !names.contains(&r.spec.name()) {
                continue;
            }
            let common = |mut o: serde_json::Map<String, Json>| {
                o.insert("name".into(), json!(r.spec.name()));
                o.insert("query".into(), json!(r.spec.expr));
                o.insert("labels".into(), json!(r.spec.labels));
                o.insert("health".into(), json!(r.health.as_str()));
                if let Some(e) = &r.last_error {
                    o.insert("lastError".into(), json!(e));
                }
                o.insert(
                    "evaluationTime".into(),
                    json!(r.last_duration.as_secs_f64()),
                );
                o.insert("lastEvaluation".into(), json!(eval_time(r.last_eval)));
                Json::Object(o)
            };
            match r.spec.kind {
                RuleKind::Alert(_) if want_alerts => {
                    let active: Vec<&Alert> = r.alerts.current().collect();
                    let state = active
                        .iter()
                        .map(|a| a.state)
                        .max()
                        .unwrap_or(State::Inactive);
                    let mut o = serde_json::Map::new();
                    o.insert("state".into(), json!(state.as_str()));
                    o.insert("duration".into(), json!(r.spec.hold.as_secs_f64()));
                    o.insert(
                        "keepFiringFor".into(),
                        json!(r.spec.keep_firing_for.as_secs_f64()),
                    );
                    o.insert("annotations".into(), json!(r.spec.annotations));
                    if !exclude_alerts {
                        o.insert(
                            "alerts".into(),
                            Json::Array(active.iter().map(|a| alert_json(a)).collect()),
                        );
                    }
                    o.insert("type".into(), json!("alerting"));
                    rules.push(common(o));
                }
                RuleKind::Record(_) if want_records => {
                    let mut o = serde_json::Map::new();
                    o.insert("type".into(), json!("recording"));
                    rules.push(common(o));
                }
                _ => {}
            }
        }
        // Prometheus leaves out groups that the filters emptied.
        if rules.is_empty() && (kind.is_some() || !names.is_empty()) {
            continue;
        }
        out.push(json!({
            "name": g.key.name,
            "file": file,
            "rules": rules,
            "interval": g.interval.as_secs_f64(),
            "limit": g.limit,
            "evaluationTime": g.last_duration.as_secs_f64(),
            "lastEvaluation": eval_time(g.last_eval),
        }));
    }
    success(json!({ "groups": out }))
}

fn alerts_json(groups: Vec<std::sync::Arc<Group>>) -> Response {
    let alerts: Vec<Json> = groups
        .iter()
        .flat_map(|g| g.rules.iter().flat_map(|r| r.alerts.current()))
        .map(alert_json)
        .collect();
    success(json!({ "alerts": alerts }))
}

fn alert_json(a: &Alert) -> Json {
    let labels: serde_json::Map<String, Json> = a
        .labels
        .iter()
        .map(|(k, v)| (k.to_owned(), json!(v)))
        .collect();
    let mut o = json!({
        "labels": labels,
        "annotations": a.annotations,
        "state": a.state.as_str(),
        "activeAt": rfc3339(a.active_at),
        "value": go_exp(a.value),
    });
    if let (Some(since), Json::Object(m)) = (a.keep_firing_since, &mut o) {
        m.insert("keepFiringSince".into(), json!(rfc3339(since)));
    }
    o
}

/// Go's `strconv.FormatFloat(v, 'e', -1, 64)`, Prometheus's spelling of alert values.
pub(crate) fn go_exp(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    let s = format!("{v:e}");
    let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let sign = if exp < 0 { '-' } else { '+' };
    format!("{mantissa}e{sign}{:02}", exp.abs())
}

fn eval_time(ms: Option<i64>) -> String {
    ms.map_or_else(|| "0001-01-01T00:00:00Z".to_owned(), rfc3339)
}

async fn loki_rules_yaml(ReadTenant(t): ReadTenant, rules: MaybeRules) -> Response {
    yaml(&groups(rules, &t, Lang::Logql), None, None)
}

async fn loki_namespace_yaml(
    ReadTenant(t): ReadTenant,
    rules: MaybeRules,
    Path(ns): Path<String>,
) -> Response {
    yaml(&groups(rules, &t, Lang::Logql), Some(&ns), None)
}

async fn loki_group_yaml(
    ReadTenant(t): ReadTenant,
    rules: MaybeRules,
    Path((ns, group)): Path<(String, String)>,
) -> Response {
    yaml(&groups(rules, &t, Lang::Logql), Some(&ns), Some(&group))
}

/// Loki's ruler listing: `namespace: [groups]` in YAML (strings double-quoted, which YAML
/// reads as JSON strings); one group alone for `{namespace}/{group}`; 404 when a named
/// namespace or group does not exist.
fn yaml(groups: &[std::sync::Arc<Group>], ns: Option<&str>, group: Option<&str>) -> Response {
    let q = |s: &str| Json::String(s.to_owned()).to_string();
    let mut by_ns: std::collections::BTreeMap<String, Vec<&Group>> = Default::default();
    for g in groups {
        let file = g.key.file.to_string_lossy().into_owned();
        if ns.is_some_and(|n| n != file) || group.is_some_and(|n| n != g.key.name) {
            continue;
        }
        by_ns.entry(file).or_default().push(g);
    }
    if by_ns.is_empty() && ns.is_some() {
        return (StatusCode::NOT_FOUND, "no rule groups found\n").into_response();
    }
    let mut out = String::new();
    let group_yaml = |out: &mut String, g: &Group, indent: &str| {
        out.push_str(&format!("{indent}- name: {}\n", q(&g.key.name)));
        out.push_str(&format!("{indent}  interval: {}s\n", g.interval.as_secs()));
        out.push_str(&format!("{indent}  rules:\n"));
        for r in &g.rules {
            let (k, n) = match &r.spec.kind {
                RuleKind::Alert(n) => ("alert", n),
                RuleKind::Record(n) => ("record", n),
            };
            out.push_str(&format!("{indent}    - {k}: {}\n", q(n)));
            out.push_str(&format!("{indent}      expr: {}\n", q(&r.spec.expr)));
            if !r.spec.hold.is_zero() {
                out.push_str(&format!("{indent}      for: {}s\n", r.spec.hold.as_secs()));
            }
            for (what, m) in [
                ("labels", &r.spec.labels),
                ("annotations", &r.spec.annotations),
            ] {
                if m.is_empty() {
                    continue;
                }
                out.push_str(&format!("{indent}      {what}:\n"));
                for (k, v) in m {
                    out.push_str(&format!("{indent}        {}: {}\n", q(k), q(v)));
                }
            }
        }
    };
    match group {
        Some(_) => {
            if let Some(g) = by_ns.values().flatten().next() {
                group_yaml(&mut out, g, "");
                out = out.replacen("- name", "name", 1).replace("\n  ", "\n");
            }
        }
        None => {
            for (file, gs) in &by_ns {
                out.push_str(&format!("{}:\n", q(file)));
                for g in gs {
                    group_yaml(&mut out, g, "    ");
                }
            }
        }
    }
    let mut resp = (StatusCode::OK, out).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/yaml"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::go_exp;

    #[test]
    fn values_are_spelled_as_go_spells_them() {
        assert_eq!(go_exp(1.0), "1e+00");
        assert_eq!(go_exp(1234.5), "1.2345e+03");
        assert_eq!(go_exp(0.00012), "1.2e-04");
        assert_eq!(go_exp(-2.5e100), "-2.5e+100");
        assert_eq!(go_exp(0.0), "0e+00");
        assert_eq!(go_exp(f64::NAN), "NaN");
        assert_eq!(go_exp(f64::INFINITY), "+Inf");
    }
}
