//! `GET /api/v1/status/tsdb`: the cardinality of the tenant's head, in Prometheus's shape
//! with VictoriaMetrics's extras (`Engine::cardinality`).
//!
//! Parameters: `limit` (entries per list, 1 to 10,000, default 10; `topN` is accepted as
//! VictoriaMetrics's name for it), `match[]` (series selectors, repeatable: the figures
//! cover the series matching any), `focusLabel` (a label whose values are listed).

use axum::extract::State;
use axum::http::Uri;
use axum::response::Response;
use serde_json::{Value, json};
use strata_engine::{Cardinality, CardinalityQuery, NamedCount};

use super::{StatusError, params, success};
use crate::auth::ReadTenant;
use crate::http::error::ApiError;
use crate::runtime::state::AppState;

/// The default and the largest `limit` (Prometheus's).
const DEFAULT_LIMIT: usize = 10;
const MAX_LIMIT: usize = 10_000;

pub(super) async fn tsdb(
    State(state): State<AppState>,
    ReadTenant(tenant): ReadTenant,
    uri: Uri,
) -> Result<Response, StatusError> {
    let query = parse(&params(uri.query())?)?;
    let engine = state.engine()?;
    let max_active = engine.limits_for(&tenant).max_active_series;
    let focus = query.focus_label.is_some();
    let c = tokio::task::spawn_blocking(move || engine.cardinality(&tenant, &query))
        .await
        .map_err(|e| ApiError::Internal(format!("cardinality task failed: {e}")))?
        .map_err(|e| StatusError::BadData(e.to_string()))?;
    Ok(success(render(&c, max_active, focus)))
}

/// The query the parameters ask for.
fn parse(pairs: &[(String, String)]) -> Result<CardinalityQuery, StatusError> {
    let first = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let limit = match first("limit").or_else(|| first("topN")) {
        None | Some("") => DEFAULT_LIMIT,
        Some(s) => match s.trim().parse::<i64>() {
            Ok(n) if n >= 1 && n as u64 <= MAX_LIMIT as u64 => n as usize,
            Ok(n) if n > MAX_LIMIT as i64 => {
                return Err(StatusError::BadData(format!(
                    "limit must not exceed {MAX_LIMIT}"
                )));
            }
            _ => {
                return Err(StatusError::BadData(format!(
                    "limit must be a positive number, got {s:?}"
                )));
            }
        },
    };
    let selectors: Vec<String> = pairs
        .iter()
        .filter(|(k, _)| k == "match[]")
        .map(|(_, v)| v.clone())
        .collect();
    let selectors = strata_query::prom_api::series_selectors(&selectors)
        .map_err(|e| StatusError::BadData(e.to_string()))?;
    let focus_label = first("focusLabel")
        .filter(|f| !f.is_empty())
        .map(str::to_owned);
    Ok(CardinalityQuery {
        selectors,
        focus_label,
        limit,
    })
}

/// The answer's `data`.
fn render(c: &Cardinality, max_active: usize, focus: bool) -> Value {
    let list = |v: &[NamedCount]| -> Value {
        v.iter()
            .map(|n| json!({"name": n.name, "value": n.value}))
            .collect()
    };
    let mut data = json!({
        "headStats": {
            "numSeries": c.head.series,
            "numLabelPairs": c.head.label_pairs,
            "chunkCount": c.head.series_with_samples,
            "minTime": c.head.min_time,
            "maxTime": c.head.max_time,
        },
        "seriesCountByMetricName": list(&c.series_by_metric),
        "labelValueCountByLabelName": list(&c.values_by_label),
        "memoryInBytesByLabelName": list(&c.bytes_by_label),
        "seriesCountByLabelValuePair": list(&c.series_by_pair),
        "seriesCountByLabelName": list(&c.series_by_label),
        "seriesAddedByLabelName": list(&c.series_added_by_label),
        "totalSeries": c.series,
        "totalLabelValuePairs": c.label_pairs,
        "activeSeries": c.active_series,
        "maxActiveSeries": max_active,
    });
    // Listed only when a focus label was asked for.
    if focus && let Some(obj) = data.as_object_mut() {
        obj.insert(
            "seriesCountByFocusLabelValue".into(),
            list(&c.series_by_focus_value),
        );
    }
    data
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::params::owned as p;

    #[test]
    fn parameters_are_checked() {
        assert_eq!(parse(&p(&[])).unwrap().limit, 10);
        assert_eq!(parse(&p(&[("topN", "3")])).unwrap().limit, 3);
        assert_eq!(
            parse(&p(&[("limit", "5"), ("topN", "3")])).unwrap().limit,
            5
        );
        for bad in ["0", "-1", "x", "1.5"] {
            let e = parse(&p(&[("limit", bad)])).unwrap_err().to_string();
            assert!(e.contains("positive number"), "{bad}: {e}");
        }
        let e = parse(&p(&[("limit", "10001")])).unwrap_err().to_string();
        assert!(e.contains("10000"), "{e}");
        let e = parse(&p(&[("match[]", "up{")])).unwrap_err().to_string();
        assert!(e.contains("match[]"), "{e}");
        let e = parse(&p(&[("match[]", "{job=~\".*\"}")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("non-empty"), "{e}");
        let q = parse(&p(&[
            ("match[]", "up"),
            ("match[]", "{job=\"a\"}"),
            ("focusLabel", "pod"),
        ]))
        .unwrap();
        assert_eq!(q.selectors.len(), 2);
        assert_eq!(q.focus_label.as_deref(), Some("pod"));
    }
}
