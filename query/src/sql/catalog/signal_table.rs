//! The `spans` and `logs` tables: the engine's spans and logs schemas
//! ([`strata_engine::spans_schema`], [`strata_engine::logs_schema`]), read from its
//! Parquet files and memory.
//!
//! A scan takes a [`strata_engine::SignalSnapshot`] for the time range its filters allow
//! on the table's time column (`start_time`, `time`): files outside it are never opened.
//! The files go to one DataFusion Parquet scan (the filters as a predicate for row-group
//! statistics, the page index and decoding; projection and limit pushed down), after the
//! trace-id bloom filters have dropped the files a `trace_id` lookup cannot match
//! ([`crate::sql::search::trace_ids`]); memory goes to an in-memory scan. Records are not
//! deduplicated: the engine stores a re-sent span or log record again.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::Session;
use datafusion::common::project_schema;
use datafusion::datasource::physical_plan::FileSource;
use datafusion::datasource::{TableProvider, TableType};
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::expr_rewriter::unnormalize_col;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::empty::EmptyExec;
use datafusion::physical_plan::union::UnionExec;
use strata_engine::{Engine, SignalSnapshot, TenantId, logs_schema, spans_schema};

use crate::sql::scan::time_range::time_range;
use crate::sql::scan::{memory_exec, parquet_exec, parquet_source, partitioned_file, predicate};
use crate::sql::search::line_filter::{cached_readers, files_with_lines, wanted_substrings};
use crate::sql::search::lookup_exec::LookupExec;
use crate::sql::search::trace_ids::{files_with_trace_ids, wanted_trace_ids};

const NS_PER_MS: i64 = 1_000_000;

/// Which records a [`SignalTable`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Signal {
    /// `spans`, timed by `start_time`.
    Spans,
    /// `logs`, timed by `time`.
    Logs,
}

impl Signal {
    fn time_column(self) -> &'static str {
        match self {
            Self::Spans => "start_time",
            Self::Logs => "time",
        }
    }

    fn snapshot(
        self,
        engine: &Engine,
        tenant: &TenantId,
        start_ns: i64,
        end_ns: i64,
    ) -> strata_engine::Result<SignalSnapshot> {
        // Over a bucket the scans read by key (in this process or on workers), each file
        // fetched where it is read; the lookups below fetch theirs first.
        match (self, engine.is_reader()) {
            (Self::Spans, false) => engine.spans_snapshot(tenant, start_ns, end_ns),
            (Self::Spans, true) => engine.spans_snapshot_deferred(tenant, start_ns, end_ns),
            (Self::Logs, false) => engine.logs_snapshot(tenant, start_ns, end_ns),
            (Self::Logs, true) => engine.logs_snapshot_deferred(tenant, start_ns, end_ns),
        }
    }
}

/// The engine and tenant behind a session's `logs` table (what LogQL reads the logs
/// files' summaries through); `None` if the session has no such table.
pub(crate) async fn logs_source(
    ctx: &datafusion::prelude::SessionContext,
) -> Option<(Arc<Engine>, TenantId)> {
    let table = ctx.table_provider("logs").await.ok()?;
    let any: &dyn std::any::Any = table.as_ref();
    let t = any.downcast_ref::<SignalTable>()?;
    (t.signal == Signal::Logs).then(|| (t.engine.clone(), t.tenant.clone()))
}

/// The `spans` or `logs` table of one tenant.
#[derive(Debug)]
pub(crate) struct SignalTable {
    engine: Arc<Engine>,
    tenant: TenantId,
    signal: Signal,
    schema: SchemaRef,
}

impl SignalTable {
    pub(crate) fn new(engine: Arc<Engine>, tenant: TenantId, signal: Signal) -> Self {
        let schema = match signal {
            Signal::Spans => spans_schema(),
            Signal::Logs => logs_schema(),
        };
        Self {
            engine,
            tenant,
            signal,
            schema,
        }
    }
}

#[async_trait]
impl TableProvider for SignalTable {
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
        let range = time_range(&filters, self.signal.time_column());
        if range.is_empty() {
            return Ok(Arc::new(EmptyExec::new(project_schema(
                &self.schema,
                projection,
            )?)));
        }
        let start_ns = range.start.saturating_mul(NS_PER_MS);
        let end_ns = range
            .end
            .saturating_mul(NS_PER_MS)
            .saturating_add(NS_PER_MS - 1);
        let snap = self
            .signal
            .snapshot(&self.engine, &self.tenant, start_ns, end_ns)
            .map_err(|e| DataFusionError::External(Box::new(e)))?;
        let projection = projection.cloned();
        let mut plans: Vec<Arc<dyn ExecutionPlan>> = Vec::new();
        let mut files = snap
            .files
            .iter()
            .map(partitioned_file)
            .collect::<Result<Vec<_>>>()?;
        let predicate = predicate(state, &self.schema, filters.clone())?;
        let mut source = parquet_source(state, self.schema.clone(), predicate.as_ref())?;
        // A lookup that ruled out every file still plans the (empty) Parquet scan: its
        // metrics show what the lookup read.
        let mut looked_up = false;
        let lookup_ids = wanted_trace_ids(&filters);
        let lookup_lines = (self.signal == Signal::Logs)
            .then(|| wanted_substrings(&filters))
            .flatten();
        if (lookup_ids.is_some() || lookup_lines.is_some()) && !files.is_empty() {
            // The lookups read the files in place, in this process.
            for f in &snap.files {
                f.ensure_local()
                    .map_err(|e| DataFusionError::External(Box::new(e)))?;
            }
        }
        if let Some(ids) = lookup_ids
            && !files.is_empty()
        {
            files = files_with_trace_ids(state, files, &ids, source.metrics()).await?;
            // Done above, for the row groups the kept files' access plans list.
            source = source.with_bloom_filter_on_read(false);
            looked_up = true;
        } else if let Some(need) = lookup_lines
            && !files.is_empty()
        {
            let with_summaries = files
                .into_iter()
                .zip(snap.files.iter().map(|f| f.logs_summary()))
                .collect();
            let lookup = files_with_lines(
                state,
                with_summaries,
                (&need, &filters),
                (predicate.as_ref(), &self.schema),
                source.metrics(),
            )
            .await?;
            files = lookup.files;
            if let Some(found) = lookup.found {
                // Every file searched to the end: the rows are read with their lines.
                plans.push(Arc::new(LookupExec::try_new(
                    found,
                    self.schema.clone(),
                    projection.clone(),
                    state.config().target_partitions(),
                    source.metrics().clone(),
                )?));
                files.clear();
            }
            // No predicate cache: it decodes the predicate's columns a whole batch (8,192
            // rows) around each selected block, ~15 times the rows the blocks hold; without
            // it the lines of the few matching rows are decoded twice instead.
            let mut options = source.table_parquet_options().clone();
            options.global.max_predicate_cache_size = Some(0);
            // Plans of exactly the matching rows: the filters run above the scan, on
            // those rows as decoded once for the answer (they are `Inexact` pushdowns).
            options.global.pushdown_filters = !lookup.exact;
            source = source
                .with_table_parquet_options(options)
                .with_parquet_file_reader_factory(cached_readers(state)?);
            looked_up = true;
        }
        if !files.is_empty() || (looked_up && plans.is_empty()) {
            plans.push(parquet_exec(
                state,
                source,
                files,
                projection.clone(),
                limit,
            )?);
        }
        if !snap.memory.is_empty() {
            let memory: Vec<&RecordBatch> = snap.memory.iter().collect();
            plans.push(memory_exec(
                self.schema.clone(),
                &memory,
                projection.clone(),
                limit,
            )?);
        }
        match plans.len() {
            0 => Ok(Arc::new(EmptyExec::new(project_schema(
                &self.schema,
                projection.as_ref(),
            )?))),
            1 => Ok(plans.remove(0)),
            _ => UnionExec::try_new(plans),
        }
    }
}
