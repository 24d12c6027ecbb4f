//! Trace-id lookups: a scan whose filters pin `trace_id` to a few values drops the files
//! whose bloom filters rule out every one of them, having read only their footer and the
//! bloom filters; the files it keeps carry a [`ParquetAccessPlan`] of the row groups that
//! may hold an id, so DataFusion opens nothing else.
//!
//! DataFusion's own bloom-filter pruning runs after it has loaded a file's page index;
//! doing it first here keeps a lookup over many files down to footer plus bloom filter per
//! file without the id. Footers go through the session's metadata cache, so DataFusion
//! does not read a kept file's footer again, and the bytes read are counted in the scan's
//! `bytes_scanned` metric under the file's name.

use datafusion::catalog::Session;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::parquet::{ParquetAccessPlan, ParquetFileReaderFactory};
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::expr::InList;
use datafusion::logical_expr::{BinaryExpr, Expr, Operator};
use datafusion::parquet::arrow::ParquetRecordBatchStreamBuilder;
use datafusion::parquet::arrow::arrow_reader::ArrowReaderOptions;
use datafusion::parquet::arrow::async_reader::AsyncFileReader;
use datafusion::parquet::file::metadata::PageIndexPolicy;
use datafusion::physical_plan::metrics::ExecutionPlanMetricsSet;
use datafusion::scalar::ScalarValue;

use crate::sql::scan::cached_factory;

/// The column the bloom filters are on.
const TRACE_ID: &str = "trace_id";

/// The values some conjunct of `filters` restricts `trace_id` to (`trace_id = X'…'`,
/// `X'…' = trace_id`, `trace_id IN (X'…', …)`, disjunctions of those, the column possibly
/// under a cast), the shortest such list; `None` when no conjunct does. NULLs are left out: they match no
/// row.
pub(crate) fn wanted_trace_ids(filters: &[Expr]) -> Option<Vec<Vec<u8>>> {
    let mut best: Option<Vec<Vec<u8>>> = None;
    let mut consider = |ids: Vec<Vec<u8>>| {
        if best.as_ref().is_none_or(|b| ids.len() < b.len()) {
            best = Some(ids);
        }
    };
    for f in filters {
        for conjunct in split_and(f) {
            if let Some(ids) = ids_of(conjunct) {
                consider(ids);
            }
        }
    }
    best
}

/// The conjuncts of `e` (`a AND b AND c`: `[a, b, c]`).
pub(crate) fn split_and(e: &Expr) -> Vec<&Expr> {
    match e {
        Expr::BinaryExpr(BinaryExpr {
            left,
            op: Operator::And,
            right,
        }) => {
            let mut v = split_and(left);
            v.extend(split_and(right));
            v
        }
        _ => vec![e],
    }
}

/// The disjuncts of `e` (`a OR b OR c`: `[a, b, c]`).
pub(crate) fn split_or(e: &Expr) -> Vec<&Expr> {
    match e {
        Expr::BinaryExpr(BinaryExpr {
            left,
            op: Operator::Or,
            right,
        }) => {
            let mut v = split_or(left);
            v.extend(split_or(right));
            v
        }
        other => vec![other],
    }
}

/// The ids one of which `e` pins `trace_id` to: of every disjunct (DataFusion rewrites
/// short IN lists into disjunctions).
fn ids_of(e: &Expr) -> Option<Vec<Vec<u8>>> {
    let each: Option<Vec<Vec<Vec<u8>>>> = split_or(e).into_iter().map(ids_of_one).collect();
    each.map(|v| v.concat())
}

fn ids_of_one(e: &Expr) -> Option<Vec<Vec<u8>>> {
    match e {
        Expr::BinaryExpr(BinaryExpr {
            left,
            op: Operator::Eq,
            right,
        }) => {
            let value = if is_trace_id(left) {
                right
            } else if is_trace_id(right) {
                left
            } else {
                return None;
            };
            bytes(value).map(|b| b.into_iter().collect())
        }
        Expr::InList(InList {
            expr,
            list,
            negated: false,
        }) if is_trace_id(expr) => {
            let mut ids = Vec::with_capacity(list.len());
            for v in list {
                ids.extend(bytes(v)?);
            }
            Some(ids)
        }
        _ => None,
    }
}

fn is_trace_id(e: &Expr) -> bool {
    match e {
        Expr::Column(c) => c.name == TRACE_ID,
        Expr::Cast(c) => is_trace_id(&c.expr),
        Expr::TryCast(c) => is_trace_id(&c.expr),
        _ => false,
    }
}

/// A binary literal's bytes: `Some(None)` for a NULL, `None` for anything else.
fn bytes(e: &Expr) -> Option<Option<Vec<u8>>> {
    let Expr::Literal(v, _) = e else {
        return None;
    };
    match v {
        ScalarValue::FixedSizeBinary(_, b)
        | ScalarValue::Binary(b)
        | ScalarValue::LargeBinary(b)
        | ScalarValue::BinaryView(b) => Some(b.clone()),
        _ => None,
    }
}

/// The files of `files` that may hold one of `ids` by their `trace_id` bloom filters,
/// each with an access plan of the row groups that may; a file without bloom filters is
/// kept whole. Bytes read are recorded in `metrics` (the scan's).
pub(crate) async fn files_with_trace_ids(
    state: &dyn Session,
    files: Vec<PartitionedFile>,
    ids: &[Vec<u8>],
    metrics: &ExecutionPlanMetricsSet,
) -> Result<Vec<PartitionedFile>> {
    let factory = cached_factory(state)?;
    let options = ArrowReaderOptions::new().with_page_index_policy(PageIndexPolicy::Skip);
    let parquet = |e| DataFusionError::ParquetError(Box::new(e));
    let mut kept = Vec::with_capacity(files.len());
    for file in files {
        // The `Send` bound is the trait's own; parquet implements it for the plain box.
        let reader: Box<dyn AsyncFileReader> =
            factory.create_reader(0, file.clone(), None, metrics)?;
        let mut builder =
            ParquetRecordBatchStreamBuilder::new_with_options(reader, options.clone())
                .await
                .map_err(parquet)?;
        let leaf = builder
            .parquet_schema()
            .columns()
            .iter()
            .position(|c| c.path().string() == TRACE_ID);
        let Some(leaf) = leaf else {
            kept.push(file);
            continue;
        };
        let groups = builder.metadata().num_row_groups();
        let mut plan = ParquetAccessPlan::new_none(groups);
        let mut any = false;
        for g in 0..groups {
            let may_hold = match builder
                .get_row_group_column_bloom_filter(g, leaf)
                .await
                .map_err(parquet)?
            {
                Some(bloom) => ids.iter().any(|id| bloom.check(id.as_slice())),
                None => true,
            };
            if may_hold {
                plan.scan(g);
                any = true;
            }
        }
        if any {
            kept.push(file.with_extension(plan));
        }
    }
    Ok(kept)
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::datatypes::DataType;
    use datafusion::logical_expr::{cast, col, lit};

    use super::*;

    fn id(b: u8) -> Expr {
        lit(ScalarValue::FixedSizeBinary(16, Some(vec![b; 16])))
    }

    #[test]
    fn equality_and_in_lists_pin_the_trace_id() {
        let f = [col("trace_id").eq(id(1))];
        assert_eq!(wanted_trace_ids(&f), Some(vec![vec![1; 16]]));
        let f = [id(2).eq(col("trace_id")).and(col("name").eq(lit("x")))];
        assert_eq!(wanted_trace_ids(&f), Some(vec![vec![2; 16]]));
        let f = [
            col("trace_id").in_list(vec![id(3), id(4)], false),
            col("trace_id").eq(id(3)),
        ];
        assert_eq!(
            wanted_trace_ids(&f),
            Some(vec![vec![3; 16]]),
            "the shorter list"
        );
        let b = lit(ScalarValue::Binary(Some(vec![5; 16])));
        let f = [cast(col("trace_id"), DataType::Binary).eq(b)];
        assert_eq!(wanted_trace_ids(&f), Some(vec![vec![5; 16]]));
    }

    #[test]
    fn disjunctions_pin_it_when_every_branch_does() {
        let f = [col("trace_id").eq(id(1)).or(col("trace_id").eq(id(2)))];
        assert_eq!(wanted_trace_ids(&f), Some(vec![vec![1; 16], vec![2; 16]]));
        let f = [col("trace_id").eq(id(1)).or(col("name").eq(lit("x")))];
        assert_eq!(wanted_trace_ids(&f), None);
    }

    #[test]
    fn other_shapes_do_not() {
        let f = [col("trace_id").in_list(vec![id(3)], true)];
        assert_eq!(wanted_trace_ids(&f), None);
        let f = [col("span_id").eq(id(1))];
        assert_eq!(wanted_trace_ids(&f), None);
        let f = [col("trace_id").not_eq(id(1))];
        assert_eq!(wanted_trace_ids(&f), None);
    }
}
