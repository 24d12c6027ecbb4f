//! Search and TraceQL metrics (placeholder until the TraceQL engine is merged).

use axum::extract::{RawQuery, State};

use super::{Answer, Error, bad};
use crate::auth::ReadTenant;
use crate::runtime::state::AppState;

/// A 400 for a TraceQL text over `[tempo] max_traceql_length`.
pub(crate) fn check_length(q: &str, state: &AppState) -> Result<(), Error> {
    let max = state.tempo().max_traceql_length;
    if q.len() > max {
        return Err(bad(format!(
            "TraceQL query is {} bytes, over the limit of {max} ([tempo] max_traceql_length)",
            q.len()
        )));
    }
    Ok(())
}

/// `GET /api/search`.
pub(crate) async fn search(
    State(_state): State<AppState>,
    ReadTenant(_tenant): ReadTenant,
    RawQuery(_raw): RawQuery,
) -> Answer {
    Err(bad("not yet"))
}

/// `GET /api/metrics/query_range`.
pub(crate) async fn query_range(
    State(_state): State<AppState>,
    ReadTenant(_tenant): ReadTenant,
    RawQuery(_raw): RawQuery,
) -> Answer {
    Err(bad("not yet"))
}

/// `GET /api/metrics/query`.
pub(crate) async fn query_instant(
    State(_state): State<AppState>,
    ReadTenant(_tenant): ReadTenant,
    RawQuery(_raw): RawQuery,
) -> Answer {
    Err(bad("not yet"))
}
