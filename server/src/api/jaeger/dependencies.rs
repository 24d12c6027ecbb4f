//! `GET /jaeger/api/dependencies?endTs=<ms>&lookback=<ms>`: the service graph in Jaeger's
//! shape (`[{"parent","child","callCount"}]` in the usual envelope), which Grafana's Jaeger
//! datasource draws as a node graph (its `dependencyGraph` query sends `endTs` and
//! `lookback` in milliseconds: `public/app/plugins/datasource/jaeger/datasource.ts`).
//!
//! It is computed from the stored `traces_service_graph_request_total` series
//! (`crate::derive`), over any window: the PromQL engine selects the raw samples
//! (`traces_service_graph_request_total[<lookback + 5m>ms]` at `endTs`), and each series'
//! increase over `[endTs - lookback, endTs]` is the sum of its rises, a counter reset
//! counted from zero, from its last sample at or before the window's start (none: zero,
//! a series that began in the window). Summed by `client` and `server`. Not PromQL's
//! `increase()`: that extrapolates to the window's ends, and a call count is an exact
//! integer (`increase()` over a few samples of a new edge gives 14.4 for 12 calls).

use axum::extract::{RawQuery, State};
use std::collections::BTreeMap;
use strata_engine::{Clock, SystemClock};

use strata_query::promql::{EngineSource, PromqlEngine, Value, is_stale_nan};

use super::{Answer, JaegerError, bad, ok, param, params};
use crate::auth::ReadTenant;
use crate::http::error::ApiError;
use crate::runtime::queries::Queries;

/// How far before the window a counter's starting sample is looked for.
const BASELINE_MS: i64 = 5 * 60 * 1_000;

/// A counter's increase after `start_ms` over `points` (time order): the sum of its rises,
/// a fall (a reset) counted as a rise from zero, starting from the last point at or before
/// `start_ms` (or zero when there is none). Staleness markers are skipped.
fn increase(points: &[(i64, f64)], start_ms: i64) -> f64 {
    let mut prev: Option<f64> = None;
    let mut total = 0.0;
    for &(ts, v) in points {
        if is_stale_nan(v) || v.is_nan() {
            continue;
        }
        if ts <= start_ms {
            prev = Some(v);
            continue;
        }
        let base = prev.unwrap_or(0.0);
        total += if v >= base { v - base } else { v };
        prev = Some(v);
    }
    total
}

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
    if !v.is_finite() || !(0.0..=1e15).contains(&v) {
        return Err(bad(format!("invalid {name} {text:?}: want milliseconds")));
    }
    Ok(v as i64)
}

pub(super) async fn dependencies(
    State(queries): State<Queries>,
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
    let engine = queries.engine()?;
    let options = *queries.promql();
    let start_ms = end_ms.saturating_sub(lookback_ms);
    // Five minutes before the window: the sample the increase starts from.
    let query = format!(
        "traces_service_graph_request_total[{}ms]",
        lookback_ms.saturating_add(BASELINE_MS)
    );
    let result = tokio::task::spawn_blocking(move || {
        let source = EngineSource::new(&engine, &tenant);
        PromqlEngine::new(options).instant(&source, &query, end_ms)
    })
    .await
    .map_err(|e| ApiError::Internal(format!("query task failed: {e}")))?
    .map_err(|e| ApiError::Internal(format!("service graph query: {e}")))?;
    let mut counts: BTreeMap<(String, String), f64> = BTreeMap::new();
    if let Value::Matrix(series) = result.value {
        for s in series {
            let key = (
                s.labels.get("client").to_owned(),
                s.labels.get("server").to_owned(),
            );
            *counts.entry(key).or_default() += increase(&s.points, start_ms);
        }
    }
    let links: Vec<Link> = counts
        .into_iter()
        .filter(|(_, n)| *n >= 1.0)
        .map(|((parent, child), n)| Link {
            parent,
            child,
            call_count: n.round() as u64,
        })
        .collect();
    let n = links.len();
    ok(links, n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn increase_starts_from_the_sample_before_the_window_and_counts_resets() {
        // 5 before the window; 7 and 12 in it; a reset to 2; 4.
        let pts = [(100, 5.0), (200, 7.0), (300, 12.0), (400, 2.0), (500, 4.0)];
        assert_eq!(increase(&pts, 150), 2.0 + 5.0 + 2.0 + 2.0);
        // A series that began in the window counts from zero.
        assert_eq!(increase(&[(200, 0.0), (300, 12.0)], 150), 12.0);
        assert_eq!(increase(&[(300, 12.0)], 150), 12.0);
        let stale = f64::from_bits(strata_query::promql::STALE_NAN_BITS);
        assert_eq!(increase(&[(200, 3.0), (300, stale), (400, 3.0)], 150), 3.0);
    }

    #[test]
    fn millis_take_integers_and_fractions_and_refuse_the_rest() {
        assert_eq!(
            millis("endTs", "1700000000000").ok(),
            Some(1_700_000_000_000)
        );
        assert_eq!(millis("lookback", "3600000.5").ok(), Some(3_600_000));
        assert!(millis("endTs", "-1").is_err());
        assert!(millis("endTs", "soon").is_err());
        assert!(millis("endTs", "NaN").is_err());
    }
}
