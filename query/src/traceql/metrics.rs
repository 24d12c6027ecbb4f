//! TraceQL metrics: `rate()`, `count_over_time()`, `quantile_over_time()`,
//! `histogram_over_time()` ... on a step grid aligned as Tempo aligns it.

use std::sync::Arc;

use strata_engine::{Engine, TenantId};

use super::ast::Query;
use super::error::{Error, Result};
use super::{MetricSeries, MetricsParams};
use crate::sql::SqlConfig;

/// The series of metrics query `q` over `p`'s range and step.
pub async fn metrics_range(
    engine: &Arc<Engine>,
    tenant: &TenantId,
    sql: &SqlConfig,
    q: &Query,
    p: &MetricsParams,
) -> Result<Vec<MetricSeries>> {
    let _ = (engine, tenant, sql, q, p);
    Err(Error::Internal(
        "TraceQL metrics are not implemented yet".into(),
    ))
}
