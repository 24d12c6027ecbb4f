//! The `samples` table: `series_id UInt64, ts Timestamp(ms, UTC), value Float64`, read from
//! the engine's Parquet file sets and its memory.
//!
//! A scan takes a [`Snapshot`] of the tenant for the time range its filters allow (file
//! sets outside it are never opened), then plans each source by whether it can share a
//! sample with another:
//!
//! - sources whose time ranges meet no other's go to one Parquet scan (DataFusion's, with
//!   the filters as a predicate for row-group statistics and the page index, the
//!   projection and the limit pushed down) or, for memory, an in-memory scan;
//! - sources whose ranges overlap (a partition's flushes before compaction, or memory
//!   against the newest file set) go to a [`DedupExec`], which keeps the sample of the
//!   oldest source for each (series, ts), as [`strata_engine::Engine::select`] does.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::arrow::datatypes::{SchemaRef, TimestampMillisecondType};
use datafusion::catalog::Session;
use datafusion::common::project_schema;
use datafusion::datasource::TableProvider;
use datafusion::datasource::TableType;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::expr_rewriter::unnormalize_col;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::empty::EmptyExec;
use datafusion::physical_plan::union::UnionExec;
use strata_engine::{Engine, SnapshotFile, TenantId, samples_schema};

use crate::sql::scan::dedup::DedupExec;
use crate::sql::scan::time_range::time_range;
use crate::sql::scan::{memory_exec, parquet_exec, parquet_source, partitioned_file, predicate};

/// One source of samples, in snapshot order (oldest first).
enum Source<'a> {
    File(&'a SnapshotFile),
    Memory(&'a RecordBatch),
}

/// The `samples` table of one tenant.
#[derive(Debug)]
pub(crate) struct SamplesTable {
    engine: Arc<Engine>,
    tenant: TenantId,
    schema: SchemaRef,
}

impl SamplesTable {
    pub(crate) fn new(engine: Arc<Engine>, tenant: TenantId) -> Self {
        Self {
            engine,
            tenant,
            schema: samples_schema(),
        }
    }

    fn parquet_exec(
        &self,
        state: &dyn Session,
        files: &[&SnapshotFile],
        projection: Option<Vec<usize>>,
        predicate: Option<&Arc<dyn PhysicalExpr>>,
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let files = files
            .iter()
            .map(|f| partitioned_file(f))
            .collect::<Result<Vec<_>>>()?;
        let source = parquet_source(state, self.schema.clone(), predicate)?;
        parquet_exec(state, source, files, projection, limit)
    }
}

/// Oldest and newest timestamp of a memory batch (sorted by series, so scanned whole).
fn batch_range(b: &RecordBatch) -> Option<(i64, i64)> {
    let ts = b.column(1).as_primitive_opt::<TimestampMillisecondType>()?;
    let min = ts.values().iter().min()?;
    let max = ts.values().iter().max()?;
    Some((*min, *max))
}

/// Groups sources (given as inclusive time ranges) into sets whose ranges chain-overlap;
/// each set is sorted by source index (age).
fn overlap_groups(ranges: &[(i64, i64)]) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..ranges.len()).collect();
    order.sort_by_key(|&i| ranges[i]);
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut group_end = i64::MIN;
    for i in order {
        let (lo, hi) = ranges[i];
        match groups.last_mut() {
            Some(g) if lo <= group_end => {
                g.push(i);
                group_end = group_end.max(hi);
            }
            _ => {
                groups.push(vec![i]);
                group_end = hi;
            }
        }
    }
    for g in &mut groups {
        g.sort_unstable();
    }
    groups
}

#[async_trait]
impl TableProvider for SamplesTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        // Used for pruning only; DataFusion still applies every filter to the rows.
        Ok(vec![TableProviderFilterPushDown::Inexact; filters.len()])
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let filters: Vec<Expr> = filters.iter().cloned().map(unnormalize_col).collect();
        let projected = project_schema(&self.schema, projection)?;
        let range = time_range(&filters, "ts");
        if range.is_empty() {
            return Ok(Arc::new(EmptyExec::new(projected)));
        }
        // Over a bucket the scans read by key (in this process or on workers), each file
        // fetched where it is read.
        let snap = if self.engine.is_reader() {
            self.engine
                .snapshot_deferred(&self.tenant, range.start, range.end)
        } else {
            self.engine.snapshot(&self.tenant, range.start, range.end)
        }
        .map_err(|e| DataFusionError::External(Box::new(e)))?;
        let mut sources: Vec<Source<'_>> = snap.files.iter().map(Source::File).collect();
        sources.extend(snap.memory.iter().map(Source::Memory));
        let ranges: Vec<(i64, i64)> = sources
            .iter()
            .map(|s| match s {
                Source::File(f) => (f.min_ts(), f.max_ts()),
                Source::Memory(b) => batch_range(b).unwrap_or((i64::MAX, i64::MIN)),
            })
            .collect();
        let physical = |filters: Vec<Expr>| predicate(state, &self.schema, filters);
        // Sources that are deduplicated may only be filtered on the key (series_id, ts):
        // a filter on `value` would drop the older copy of a sample and let a newer one
        // through.
        let key_filters: Vec<Expr> = filters
            .iter()
            .filter(|f| {
                f.column_refs()
                    .iter()
                    .all(|c| c.name == "series_id" || c.name == "ts")
            })
            .cloned()
            .collect();
        let key_predicate = physical(key_filters)?;
        let all_predicate = physical(filters)?;
        let projection = projection.cloned();
        let (mut single_files, mut single_memory) = (Vec::new(), Vec::new());
        let mut plans: Vec<Arc<dyn ExecutionPlan>> = Vec::new();
        for group in overlap_groups(&ranges) {
            if let [i] = group[..] {
                match sources[i] {
                    Source::File(f) => single_files.push(f),
                    Source::Memory(b) => single_memory.push(b),
                }
                continue;
            }
            // Every column, no limit: deduplication needs (series_id, ts) of every row.
            let mut parts = Vec::with_capacity(group.len());
            let mut files = Vec::new();
            for &i in &group {
                parts.push(match sources[i] {
                    Source::File(f) => {
                        files.push(f.samples_path().display().to_string());
                        self.parquet_exec(state, &[f], None, key_predicate.as_ref(), None)?
                    }
                    Source::Memory(b) => memory_exec(self.schema.clone(), &[b], None, None)?,
                });
            }
            plans.push(Arc::new(DedupExec::try_new(
                parts,
                self.schema.clone(),
                projection.clone(),
                files,
            )?));
        }
        if !single_files.is_empty() {
            plans.push(self.parquet_exec(
                state,
                &single_files,
                projection.clone(),
                all_predicate.as_ref(),
                limit,
            )?);
        }
        if !single_memory.is_empty() {
            plans.push(memory_exec(
                self.schema.clone(),
                &single_memory,
                projection,
                limit,
            )?);
        }
        if plans.is_empty() {
            return Ok(Arc::new(EmptyExec::new(projected)));
        }
        UnionExec::try_new(plans)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlapping_ranges_chain_into_one_group() {
        let r = [(0, 10), (20, 30), (5, 12), (11, 15), (40, 50)];
        assert_eq!(overlap_groups(&r), vec![vec![0, 2, 3], vec![1], vec![4]]);
        assert_eq!(overlap_groups(&[]), Vec::<Vec<usize>>::new());
        // Touching ranges may share a timestamp.
        assert_eq!(overlap_groups(&[(0, 10), (10, 20)]), vec![vec![0, 1]]);
    }
}
