//! `GET /jaeger/api/dependencies?endTs=<ms>&lookback=<ms>`: the service graph in Jaeger's
//! shape (`[{"parent","child","callCount"}]` in the usual envelope), which Grafana's Jaeger
//! datasource draws as a node graph (its `dependencyGraph` query sends `endTs` and
//! `lookback` in milliseconds: `public/app/plugins/datasource/jaeger/datasource.ts`).
//!
//! It is computed from the stored `traces_service_graph_request_total` series
//! (`crate::derive`), over any window, through the PromQL engine:
//! `sum by (client, server) (increase(traces_service_graph_request_total[<lookback>ms]))` at
//! `endTs`, each count rounded to a whole number (`increase()` extrapolates to the window's
//! ends, so a count may come out fractional).

use axum::extract::{RawQuery, State};
use strata_engine::{Clock, SystemClock};
use strata_query::promql::{EngineSource, PromqlEngine, Value};

use super::{Answer, JaegerError, bad, ok, param, params};
use crate::auth::ReadTenant;
use crate::http::error::ApiError;
use crate::runtime::state::AppState;

/// Jaeger's default lookback when the request gives none: 24 hours.
const DEFAULT_LOOKBACK_MS: i64 = 24 * 3_600 * 1_000;

/// One edge, as Jaeger's `model.DependencyLink` is written.
#[derive(Debug, serde::Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
struct Link {
    parent: String,
    child: String,
    call_count: u64,
}

/// A millisecond parameter: an integer, or a number Grafana may send with a fraction.
fn millis(name: &str, text: &str) -> Result<i64, JaegerError> {
    let v: f64 = text
        .trim()
        .parse()
        .map_err(|_| bad(format!("invalid {name} {text:?}: want milliseconds")))?;
    if !v.is_finite() || v < 0.0 || v > 1e15 {
        return Err(bad(format!("invalid {name} {text:?}: want milliseconds")));
    }
    Ok(v as i64)
}

pub(super) async fn dependencies(
    State(state): State<AppState>,
    ReadTenant(tenant): ReadTenant,
    RawQuery(raw): RawQuery,
) -> Answer {
    let p = params(raw)?;
    let end_ms = match param(&p, "endTs") {
        Some(t) => millis("endTs", t)?,
        None => SystemClock.now_ms(),
    };
    let lookback_ms = match param(&p, "lookback") {
        Some(t) => millis("lookback", t)?,
        None => DEFAULT_LOOKBACK_MS,
    };
    if lookback_ms == 0 {
        return Err(bad("lookback must be positive".into()));
    }
    let engine = state.engine()?;
    let options = *state.promql();
    let query = format!(
        "sum by (client, server) (increase(traces_service_graph_request_total[{lookback_ms}ms]))"
    );
    let result = tokio::task::spawn_blocking(move || {
        let source = EngineSource::new(&engine, &tenant);
        PromqlEngine::new(options).instant(&source, &query, end_ms)
    })
    .await
    .map_err(|e| ApiError::Internal(format!("query task failed: {e}")))?
    .map_err(|e| ApiError::Internal(format!("service graph query: {e}")))?;
    let mut links = Vec::new();
    if let Value::Vector(samples) = result.value {
        for s in samples {
            let count = s.value.round();
            if !(count >= 1.0) {
                continue;
            }
            links.push(Link {
                parent: s.labels.get("client").to_owned(),
                child: s.labels.get("server").to_owned(),
                call_count: count as u64,
            });
        }
    }
    links.sort_by(|a, b| (&a.parent, &a.child).cmp(&(&b.parent, &b.child)));
    let n = links.len();
    ok(links, n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn millis_take_integers_and_fractions_and_refuse_the_rest() {
        assert_eq!(millis("endTs", "1700000000000").ok(), Some(1_700_000_000_000));
        assert_eq!(millis("lookback", "3600000.5").ok(), Some(3_600_000));
        assert!(millis("endTs", "-1").is_err());
        assert!(millis("endTs", "soon").is_err());
        assert!(millis("endTs", "NaN").is_err());
    }
}
