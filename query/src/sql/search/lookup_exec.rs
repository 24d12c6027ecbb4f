//! The scan of a line lookup whose files were all searched to the end
//! ([`super::exact`]): of each file it reads only the matching rows' other columns,
//! with the parquet crate's reader (the pages that hold them, by the page index), and
//! takes their `body` from the lines the search found. A returned row's `body` page is
//! then decompressed once, not a second time by the scan (a 32 KiB page, ~43 µs, for each
//! row a needle search returns). The query's filters run above it, as they would above
//! the Parquet scan it stands for.

use std::fmt;
use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, RecordBatch, RecordBatchOptions, StringArray};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::project_schema;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::parquet::arrow::ProjectionMask;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use datafusion::physical_expr::{EquivalenceProperties, Partitioning, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::metrics::{ExecutionPlanMetricsSet, MetricBuilder, MetricsSet};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties};
use futures::StreamExt;

use super::exact::Exact;
use crate::sql::pages::map_rows::{self, MapColumn};

/// Rows per output batch.
const BATCH_ROWS: usize = 8192;

/// Reads the rows line searches found, one output partition per group of files.
#[derive(Debug)]
pub(crate) struct LookupExec {
    files: Vec<Arc<Exact>>,
    /// Indexes into `files`, per output partition.
    groups: Vec<Vec<usize>>,
    /// The table's schema, and the columns to output.
    schema: SchemaRef,
    projection: Option<Vec<usize>>,
    metrics: ExecutionPlanMetricsSet,
    props: Arc<PlanProperties>,
}

impl LookupExec {
    /// A scan of `found` over the table `schema`, in at most `partitions` partitions;
    /// `metrics` already holds the searches' (`bytes_scanned`).
    pub(crate) fn try_new(
        found: Vec<Exact>,
        schema: SchemaRef,
        projection: Option<Vec<usize>>,
        partitions: usize,
        metrics: ExecutionPlanMetricsSet,
    ) -> Result<Self> {
        let out = project_schema(&schema, projection.as_ref())?;
        let n = partitions.clamp(1, found.len().max(1));
        let mut groups: Vec<Vec<usize>> = vec![Vec::new(); n];
        for i in 0..found.len() {
            groups[i % n].push(i);
        }
        let props = PlanProperties::new(
            EquivalenceProperties::new(out),
            Partitioning::UnknownPartitioning(n),
            EmissionType::Incremental,
            Boundedness::Bounded,
        );
        Ok(Self {
            files: found.into_iter().map(Arc::new).collect(),
            groups,
            schema,
            projection,
            metrics,
            props: Arc::new(props),
        })
    }
}

impl DisplayAs for LookupExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rows: usize = self.files.iter().map(|e| e.lines.len()).sum();
        let names: Vec<String> = self
            .files
            .iter()
            .map(|e| e.original.object_meta.location.to_string())
            .collect();
        write!(
            f,
            "LineLookupExec: rows={rows}, files=[{}]",
            names.join(", ")
        )
    }
}

impl ExecutionPlan for LookupExec {
    fn name(&self) -> &str {
        "LineLookupExec"
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

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }

    fn execute(
        &self,
        partition: usize,
        _context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let group = self.groups.get(partition).ok_or_else(|| {
            DataFusionError::Internal(format!(
                "LineLookupExec has {} partitions, asked for {partition}",
                self.groups.len()
            ))
        })?;
        let out = self.props.eq_properties.schema().clone();
        let output_rows = MetricBuilder::new(&self.metrics).output_rows(partition);
        let files: Vec<Arc<Exact>> = group.iter().map(|&i| self.files[i].clone()).collect();
        let (schema, projection) = (self.schema.clone(), self.projection.clone());
        let metrics = self.metrics.clone();
        let stream = futures::stream::iter(files)
            .then(move |file| {
                let (schema, projection, metrics) =
                    (schema.clone(), projection.clone(), metrics.clone());
                async move {
                    tokio::task::spawn_blocking(move || {
                        read_file(&file, &schema, projection.as_ref(), &metrics)
                    })
                    .await
                    .map_err(|e| DataFusionError::External(Box::new(e)))?
                }
            })
            .flat_map(|batches: Result<Vec<RecordBatch>>| {
                let items: Vec<Result<RecordBatch>> = match batches {
                    Ok(b) => b.into_iter().map(Ok).collect(),
                    Err(e) => vec![Err(e)],
                };
                futures::stream::iter(items)
            })
            .map(move |b| {
                if let Ok(b) = &b {
                    output_rows.add(b.num_rows());
                }
                b
            });
        Ok(Box::pin(RecordBatchStreamAdapter::new(out, stream)))
    }
}

/// The found rows of one file, with the projected columns of `schema`: `body` from the
/// search's lines, attribute maps read in place ([`crate::sql::pages::map_rows`]) where their pages
/// allow, the others read from the file by the parquet crate.
fn read_file(
    file: &Exact,
    schema: &SchemaRef,
    projection: Option<&Vec<usize>>,
    metrics: &ExecutionPlanMetricsSet,
) -> Result<Vec<RecordBatch>> {
    let location = file.original.object_meta.location.to_string();
    let out = project_schema(schema, projection)?;
    let others: Vec<&str> = out
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .filter(|n| *n != "body")
        .collect();
    let lines = &file.lines;
    let parquet = file.meta.metadata();
    let path = PathBuf::from(format!("/{location}"));
    // The file is opened once, when a column other than `body` is read.
    let reader = if others.is_empty() {
        None
    } else {
        let handle = File::open(&path).map_err(|e| {
            DataFusionError::Execution(format!("cannot open {}: {e}", path.display()))
        })?;
        Some(crate::sql::pages::pread::Pread::from_file(handle, &path)?)
    };
    // The attribute maps, whole, read in place (then sliced per batch).
    let maps: Vec<MapColumn> = others
        .iter()
        .filter_map(|n| map_rows::map_column(&file.meta, n))
        .collect();
    let mut in_place: Vec<(String, ArrayRef)> = Vec::new();
    if let Some(r) = &reader
        && !maps.is_empty()
        && let Some(arrays) = map_rows::read_maps(r, parquet, &file.plan, &maps)?
    {
        in_place = maps.into_iter().map(|m| m.name).zip(arrays).collect();
        MetricBuilder::new(metrics)
            .counter("map_rows_in_place", 0)
            .add(lines.len());
    }
    let flat: Vec<&str> = others
        .iter()
        .copied()
        .filter(|n| !in_place.iter().any(|(m, _)| m == n))
        .collect();
    let mut batches = Vec::new();
    let mut at = 0usize;
    let mut emit = |columns: Option<&RecordBatch>, n: usize| -> Result<()> {
        let slice = lines.get(at..at + n).ok_or_else(|| {
            DataFusionError::Internal(format!(
                "{location}: more rows read than the search found ({})",
                lines.len()
            ))
        })?;
        let mut cols: Vec<ArrayRef> = Vec::with_capacity(out.fields().len());
        for field in out.fields() {
            if field.name() == "body" {
                cols.push(Arc::new(StringArray::from_iter_values(slice)));
            } else if let Some((_, map)) = in_place.iter().find(|(m, _)| m == field.name()) {
                cols.push(map.slice(at, n));
            } else {
                let col = columns
                    .and_then(|b| b.column_by_name(field.name()))
                    .ok_or_else(|| {
                        DataFusionError::Internal(format!("{location}: no {}", field.name()))
                    })?;
                cols.push(col.clone());
            }
        }
        let options = RecordBatchOptions::new().with_row_count(Some(n));
        batches.push(RecordBatch::try_new_with_options(
            out.clone(),
            cols,
            &options,
        )?);
        at += n;
        Ok(())
    };
    if let Some(r) = reader.as_ref().filter(|_| !flat.is_empty()) {
        let roots = flat
            .iter()
            .map(|n| file.meta.schema().index_of(n))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let mask = ProjectionMask::roots(parquet.file_metadata().schema_descr(), roots);
        let groups = file.plan.row_group_indexes();
        let selection = file
            .plan
            .clone()
            .into_overall_row_selection(parquet.row_groups())?;
        let mut builder =
            ParquetRecordBatchReaderBuilder::new_with_metadata(r.clone(), file.meta.clone())
                .with_projection(mask)
                .with_row_groups(groups)
                .with_batch_size(BATCH_ROWS);
        if let Some(s) = selection {
            builder = builder.with_row_selection(s);
        }
        for batch in builder.build()? {
            let batch = batch?;
            emit(Some(&batch), batch.num_rows())?;
        }
    } else {
        for start in (0..lines.len()).step_by(BATCH_ROWS) {
            emit(None, (lines.len() - start).min(BATCH_ROWS))?;
        }
    }
    if let Some(r) = &reader {
        MetricBuilder::new(metrics)
            .with_new_label("filename", location.clone())
            .counter("bytes_scanned", 0)
            .add(r.read() as usize);
    }
    if at != lines.len() {
        return Err(DataFusionError::Internal(format!(
            "{location}: {at} rows read, the search found {}",
            lines.len()
        )));
    }
    Ok(batches)
}
