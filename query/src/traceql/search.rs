//! Trace search: candidates from SQL, exact evaluation in memory.

use std::sync::Arc;

use strata_engine::{Engine, TenantId};

use super::ast::Query;
use super::error::{Error, Result};
use super::{SearchParams, TraceMatch};
use crate::sql::SqlConfig;

/// The newest traces (by their latest matching span) that match `q` among the spans of
/// `tenant` starting in `[p.start_ns, p.end_ns]`, at most `p.limit`.
pub async fn search(
    engine: &Arc<Engine>,
    tenant: &TenantId,
    sql: &SqlConfig,
    q: &Query,
    p: &SearchParams,
) -> Result<Vec<TraceMatch>> {
    let _ = (engine, tenant, sql, q, p);
    Err(Error::Internal(
        "TraceQL search is not implemented yet".into(),
    ))
}
