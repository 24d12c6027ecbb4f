//! [`DedupExec`]: reads sources that may share samples and keeps, for each
//! (series_id, ts), the row of the oldest source.
//!
//! The sources are plans over the full samples schema, oldest first. Their rows are
//! gathered (counted against the query's memory pool), sorted by (series_id, ts, source
//! age) and the first row of each (series_id, ts) is kept: the same rule as the engine's
//! `select`, where a stable sort over oldest-first sources keeps the first-written sample.
//! The sources are read inside this node, so the optimizer does not see or rearrange them.

use std::fmt;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, RecordBatch, RecordBatchOptions, UInt32Array,
};
use datafusion::arrow::compute::{SortColumn, concat_batches, lexsort_to_indices, take};
use datafusion::arrow::datatypes::{SchemaRef, TimestampMillisecondType, UInt64Type};
use datafusion::common::project_schema;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::memory_pool::MemoryConsumer;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::{EquivalenceProperties, Partitioning, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties};
use futures::StreamExt;

/// Merges sources that may share (series_id, ts), keeping the oldest source's row; one
/// output partition.
#[derive(Debug)]
pub(crate) struct DedupExec {
    /// Plans over the samples schema, oldest source first.
    sources: Vec<Arc<dyn ExecutionPlan>>,
    /// Columns of the samples schema to output.
    projection: Option<Vec<usize>>,
    /// Paths of the files among the sources, for `EXPLAIN`.
    files: Vec<String>,
    props: Arc<PlanProperties>,
}

impl DedupExec {
    pub(crate) fn try_new(
        sources: Vec<Arc<dyn ExecutionPlan>>,
        schema: SchemaRef,
        projection: Option<Vec<usize>>,
        files: Vec<String>,
    ) -> Result<Self> {
        let out = project_schema(&schema, projection.as_ref())?;
        let props = PlanProperties::new(
            EquivalenceProperties::new(out),
            Partitioning::UnknownPartitioning(1),
            EmissionType::Final,
            Boundedness::Bounded,
        );
        Ok(Self {
            sources,
            projection,
            files,
            props: Arc::new(props),
        })
    }
}

impl DisplayAs for DedupExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "DedupExec: sources={}, files=[{}]",
            self.sources.len(),
            self.files.join(", ")
        )
    }
}

impl ExecutionPlan for DedupExec {
    fn name(&self) -> &str {
        "DedupExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.props
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        Vec::new()
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        _children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(self)
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        if partition != 0 {
            return Err(DataFusionError::Internal(format!(
                "DedupExec has one partition, asked for {partition}"
            )));
        }
        let sources = self.sources.clone();
        let projection = self.projection.clone();
        let schema = self.props.eq_properties.schema().clone();
        let out_schema = schema.clone();
        let run = async move {
            let reservation = MemoryConsumer::new("DedupExec").register(context.memory_pool());
            let mut batches = Vec::new();
            let mut ranks = Vec::new();
            for (rank, source) in sources.iter().enumerate() {
                for p in 0..source.properties().output_partitioning().partition_count() {
                    let mut stream = source.execute(p, context.clone())?;
                    while let Some(batch) = stream.next().await {
                        let batch = batch?;
                        reservation.try_grow(batch.get_array_memory_size())?;
                        ranks.push(UInt32Array::from(vec![rank as u32; batch.num_rows()]));
                        batches.push(batch);
                    }
                }
            }
            let Some(first) = batches.first() else {
                return Ok(RecordBatch::new_empty(out_schema));
            };
            let all = concat_batches(&first.schema(), &batches)?;
            reservation.try_grow(all.get_array_memory_size())?;
            drop(batches);
            let rank_refs: Vec<&dyn Array> = ranks.iter().map(|r| r as &dyn Array).collect();
            let rank = datafusion::arrow::compute::concat(&rank_refs)?;
            let keep = dedup_indices(&all, rank)?;
            let cols = match &projection {
                Some(p) => p.clone(),
                None => (0..all.num_columns()).collect(),
            };
            let columns: Vec<ArrayRef> = cols
                .iter()
                .map(|&i| take(all.column(i).as_ref(), &keep, None))
                .collect::<std::result::Result<_, _>>()?;
            let options = RecordBatchOptions::new().with_row_count(Some(keep.len()));
            Ok(RecordBatch::try_new_with_options(
                out_schema, columns, &options,
            )?)
        };
        let stream = futures::stream::once(run);
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, stream)))
    }
}

/// Row indices of `all` (columns series_id, ts, ...) sorted by (series_id, ts, rank),
/// keeping the first row of each (series_id, ts).
fn dedup_indices(all: &RecordBatch, rank: ArrayRef) -> Result<UInt32Array> {
    let sort = |values: ArrayRef| SortColumn {
        values,
        options: None,
    };
    let order = lexsort_to_indices(
        &[
            sort(all.column(0).clone()),
            sort(all.column(1).clone()),
            sort(rank),
        ],
        None,
    )?;
    let ids = all
        .column(0)
        .as_primitive_opt::<UInt64Type>()
        .ok_or_else(|| DataFusionError::Internal("series_id is not UInt64".into()))?;
    let ts = all
        .column(1)
        .as_primitive_opt::<TimestampMillisecondType>()
        .ok_or_else(|| DataFusionError::Internal("ts is not Timestamp(ms)".into()))?;
    let mut keep = Vec::with_capacity(order.len());
    let mut last: Option<(u64, i64)> = None;
    for &i in order.values() {
        let key = (ids.value(i as usize), ts.value(i as usize));
        if last != Some(key) {
            keep.push(i);
            last = Some(key);
        }
    }
    Ok(UInt32Array::from(keep))
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::{Float64Array, TimestampMillisecondArray, UInt64Array};

    use super::*;

    #[test]
    fn the_oldest_source_wins_each_series_and_timestamp() {
        let batch = |ids: Vec<u64>, ts: Vec<i64>, v: Vec<f64>| {
            RecordBatch::try_new(
                strata_engine::samples_schema(),
                vec![
                    Arc::new(UInt64Array::from(ids)),
                    Arc::new(TimestampMillisecondArray::from(ts).with_timezone("UTC")),
                    Arc::new(Float64Array::from(v)),
                ],
            )
            .unwrap()
        };
        // Rows of a newer source come first in the batch; rank decides, not position.
        let all = batch(
            vec![1, 1, 2, 1],
            vec![10, 20, 10, 10],
            vec![9.0, 2.0, 3.0, 1.0],
        );
        let rank: ArrayRef = Arc::new(UInt32Array::from(vec![1, 1, 1, 0]));
        let keep = dedup_indices(&all, rank).unwrap();
        assert_eq!(keep.values().to_vec(), vec![3, 1, 2]);
    }
}
