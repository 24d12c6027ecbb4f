//! [`DedupExec`]: reads sources that may share samples and keeps, for each
//! (series_id, ts), the row of the oldest source.
//!
//! The sources are plans over the full samples schema, oldest first, each of whose output
//! partitions is sorted by (series_id, ts): a samples file is written in that order and a
//! Parquet scan splits it into contiguous row groups, and the engine's memory batches are
//! built sorted. The node streams a k-way merge of those runs in (series_id, ts, source age)
//! order and keeps the first row of each (series_id, ts): the same rule as the engine's
//! `select`, where a stable sort over oldest-first sources keeps the first-written sample.
//! It holds one batch per run plus the rows of the output batch being built (counted
//! against the query's memory pool), so its memory does not grow with the data. A run
//! found out of order fails the query rather than return duplicates.
//! The sources are read inside this node, so the optimizer does not see or rearrange them.

use std::fmt;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, RecordBatch, RecordBatchOptions, TimestampMillisecondArray,
    UInt64Array,
};
use datafusion::arrow::compute::interleave;
use datafusion::arrow::datatypes::{SchemaRef, TimestampMillisecondType, UInt64Type};
use datafusion::common::project_schema;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::memory_pool::MemoryReservation;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::{EquivalenceProperties, Partitioning, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties};
use futures::StreamExt;

/// Rows per output batch.
const OUT_ROWS: usize = 8192;

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
            EmissionType::Incremental,
            Boundedness::Bounded,
        );
        Ok(Self {
            sources,
            projection,
            files,
            props: Arc::new(props),
        })
    }

    /// The sources, oldest first (`distributed/codec.rs` sends them to workers inside this
    /// node).
    pub(crate) fn sources(&self) -> &[Arc<dyn ExecutionPlan>] {
        &self.sources
    }

    /// The output's columns of the samples schema.
    pub(crate) fn projection(&self) -> Option<&[usize]> {
        self.projection.as_deref()
    }

    /// The files among the sources, as `EXPLAIN` shows them.
    pub(crate) fn files(&self) -> &[String] {
        &self.files
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
        let mut runs = Vec::new();
        for (rank, source) in self.sources.iter().enumerate() {
            for p in 0..source.properties().output_partitioning().partition_count() {
                runs.push(Run::new(source.execute(p, context.clone())?, rank));
            }
        }
        let cols = match &self.projection {
            Some(p) => p.clone(),
            None => (0..self.props.eq_properties.schema().fields().len()).collect(),
        };
        let merge = Merge {
            runs,
            arena: Vec::new(),
            picks: Vec::with_capacity(OUT_ROWS),
            last: None,
            cols,
            schema: self.props.eq_properties.schema().clone(),
            reservation: crate::memory::own_consumer("DedupExec").register(context.memory_pool()),
        };
        let schema = self.props.eq_properties.schema().clone();
        let stream = futures::stream::try_unfold(merge, |mut m| async move {
            let batch = m.next_batch().await?;
            Ok(batch.map(|b| (b, m)))
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, stream)))
    }
}

/// One sorted input: a source's output partition, and where the merge is in it.
struct Run {
    stream: SendableRecordBatchStream,
    /// Age of the source: lower is older and wins a tie.
    rank: usize,
    /// Its current batch: arena slot, series ids, timestamps; `None` once exhausted.
    current: Option<(usize, UInt64Array, TimestampMillisecondArray)>,
    /// Next row of the current batch.
    row: usize,
    /// Key of the row taken last, to check the order.
    last: Option<(u64, i64)>,
    done: bool,
}

impl Run {
    fn new(stream: SendableRecordBatchStream, rank: usize) -> Self {
        Self {
            stream,
            rank,
            current: None,
            row: 0,
            last: None,
            done: false,
        }
    }

    fn key(&self) -> Option<(u64, i64)> {
        let (_, ids, ts) = self.current.as_ref()?;
        Some((ids.value(self.row), ts.value(self.row)))
    }
}

/// The state of a streaming merge.
struct Merge {
    runs: Vec<Run>,
    /// Batches the rows picked so far (and the runs' current rows) come from.
    arena: Vec<RecordBatch>,
    /// (arena slot, row) of each row of the output batch being built.
    picks: Vec<(usize, usize)>,
    /// Key of the last row picked.
    last: Option<(u64, i64)>,
    /// Columns to output.
    cols: Vec<usize>,
    schema: SchemaRef,
    reservation: MemoryReservation,
}

impl Merge {
    /// Gives each run with no current row its next non-empty batch (or marks it done).
    async fn refill(&mut self) -> Result<()> {
        for run in &mut self.runs {
            while !run.done && run.current.is_none() {
                match run.stream.next().await {
                    None => run.done = true,
                    Some(batch) => {
                        let batch = batch?;
                        if batch.num_rows() == 0 {
                            continue;
                        }
                        let ids = batch
                            .column(0)
                            .as_primitive_opt::<UInt64Type>()
                            .ok_or_else(|| internal("series_id is not UInt64"))?
                            .clone();
                        let ts = batch
                            .column(1)
                            .as_primitive_opt::<TimestampMillisecondType>()
                            .ok_or_else(|| internal("ts is not Timestamp(ms)"))?
                            .clone();
                        self.reservation.try_grow(batch.get_array_memory_size())?;
                        self.arena.push(batch);
                        run.current = Some((self.arena.len() - 1, ids, ts));
                        run.row = 0;
                    }
                }
            }
        }
        Ok(())
    }

    /// The next output batch, or `None` when every run is exhausted.
    async fn next_batch(&mut self) -> Result<Option<RecordBatch>> {
        loop {
            self.refill().await?;
            // The run whose current row is smallest by (series_id, ts, rank).
            let mut best: Option<(usize, (u64, i64, usize))> = None;
            for (i, run) in self.runs.iter().enumerate() {
                if let Some((id, ts)) = run.key() {
                    let k = (id, ts, run.rank);
                    if best.is_none_or(|(_, b)| k < b) {
                        best = Some((i, k));
                    }
                }
            }
            let Some((i, (id, ts, _))) = best else {
                return self.emit();
            };
            let run = &mut self.runs[i];
            if run.last.is_some_and(|l| l > (id, ts)) {
                return Err(internal(&format!(
                    "a source (age {}) is not sorted by (series_id, ts)",
                    run.rank
                )));
            }
            run.last = Some((id, ts));
            let Some((slot, ids, _)) = &run.current else {
                return Err(internal("a run with a key has no batch"));
            };
            let (slot, len) = (*slot, ids.len());
            if self.last != Some((id, ts)) {
                self.picks.push((slot, run.row));
                self.last = Some((id, ts));
            }
            run.row += 1;
            if run.row == len {
                run.current = None;
            }
            if self.picks.len() == OUT_ROWS {
                return self.emit();
            }
        }
    }

    /// Builds the output batch from the picks, then keeps only the batches runs still read.
    fn emit(&mut self) -> Result<Option<RecordBatch>> {
        if self.picks.is_empty() {
            self.reservation.free();
            return Ok(None);
        }
        let columns: Vec<ArrayRef> = self
            .cols
            .iter()
            .map(|&c| {
                let arrays: Vec<&dyn Array> =
                    self.arena.iter().map(|b| b.column(c).as_ref()).collect();
                interleave(&arrays, &self.picks)
            })
            .collect::<std::result::Result<_, _>>()?;
        let options = RecordBatchOptions::new().with_row_count(Some(self.picks.len()));
        let out = RecordBatch::try_new_with_options(self.schema.clone(), columns, &options)?;
        self.picks.clear();
        // Compact the arena to the runs' current batches.
        let old = std::mem::take(&mut self.arena);
        for run in &mut self.runs {
            if let Some((slot, _, _)) = &mut run.current {
                self.arena.push(old[*slot].clone());
                *slot = self.arena.len() - 1;
            }
        }
        let held: usize = self.arena.iter().map(|b| b.get_array_memory_size()).sum();
        self.reservation.try_resize(held)?;
        Ok(Some(out))
    }
}

fn internal(msg: &str) -> DataFusionError {
    DataFusionError::Internal(format!("DedupExec: {msg}"))
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::Float64Array;
    use datafusion::physical_plan::collect;
    use datafusion::physical_plan::test::TestMemoryExec;

    use super::*;

    fn batch(ids: Vec<u64>, ts: Vec<i64>, v: Vec<f64>) -> RecordBatch {
        RecordBatch::try_new(
            strata_engine::samples_schema(),
            vec![
                Arc::new(UInt64Array::from(ids)),
                Arc::new(TimestampMillisecondArray::from(ts).with_timezone("UTC")),
                Arc::new(Float64Array::from(v)),
            ],
        )
        .unwrap()
    }

    fn source(batches: Vec<RecordBatch>) -> Arc<dyn ExecutionPlan> {
        let schema = strata_engine::samples_schema();
        TestMemoryExec::try_new_exec(&[batches], schema, None).unwrap()
    }

    async fn run(sources: Vec<Arc<dyn ExecutionPlan>>) -> Result<Vec<(u64, i64, f64)>> {
        let exec = DedupExec::try_new(sources, strata_engine::samples_schema(), None, vec![])?;
        let out = collect(Arc::new(exec), Arc::new(TaskContext::default())).await?;
        let mut rows = Vec::new();
        for b in out {
            let ids = b.column(0).as_primitive::<UInt64Type>();
            let ts = b.column(1).as_primitive::<TimestampMillisecondType>();
            let v = b
                .column(2)
                .as_primitive::<datafusion::arrow::datatypes::Float64Type>();
            for i in 0..b.num_rows() {
                rows.push((ids.value(i), ts.value(i), v.value(i)));
            }
        }
        Ok(rows)
    }

    #[tokio::test]
    async fn the_oldest_source_wins_each_series_and_timestamp_in_key_order() {
        let old = source(vec![
            batch(vec![1, 1], vec![10, 30], vec![1.0, 3.0]),
            batch(vec![], vec![], vec![]),
            batch(vec![2], vec![10], vec![4.0]),
        ]);
        let new = source(vec![batch(
            vec![1, 1, 2, 3],
            vec![10, 20, 10, 5],
            vec![9.0, 2.0, 9.0, 5.0],
        )]);
        assert_eq!(
            run(vec![old, new]).await.unwrap(),
            vec![
                (1, 10, 1.0),
                (1, 20, 2.0),
                (1, 30, 3.0),
                (2, 10, 4.0),
                (3, 5, 5.0)
            ]
        );
    }

    #[tokio::test]
    async fn output_comes_in_bounded_batches_across_many_input_batches() {
        // Two sources of 3 * OUT_ROWS rows each, in small batches, sharing every other key.
        let n = 3 * OUT_ROWS as i64;
        let chunks = |step: i64, value: f64| -> Vec<RecordBatch> {
            (0..n)
                .step_by(step as usize)
                .collect::<Vec<_>>()
                .chunks(1000)
                .map(|c| batch(vec![7; c.len()], c.to_vec(), vec![value; c.len()]))
                .collect()
        };
        let rows = run(vec![source(chunks(1, 1.0)), source(chunks(2, 2.0))])
            .await
            .unwrap();
        assert_eq!(rows.len(), n as usize);
        assert!(rows.iter().all(|r| r.2 == 1.0), "the older source wins");
        assert!(rows.windows(2).all(|w| w[0].1 < w[1].1));
    }

    #[tokio::test]
    async fn a_source_out_of_order_fails_the_query() {
        let bad = source(vec![batch(vec![2, 1], vec![0, 0], vec![0.0, 0.0])]);
        let ok = source(vec![batch(vec![1], vec![0], vec![0.0])]);
        let err = run(vec![ok, bad]).await.unwrap_err();
        assert!(err.to_string().contains("not sorted"), "{err}");
    }
}
