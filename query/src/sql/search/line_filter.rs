//! Line lookups: a scan of `logs` whose filters require substrings of `body`
//! (`strpos(body, 'x') > 0`, `body LIKE '%x%'`, disjunctions of those: what LogQL's `|=`
//! becomes) keeps, of each file whose summary has a line filter
//! (`strata_engine::LineFilter`: the trigrams of every block of 512 records), only the
//! rows of the blocks that may hold them, narrows those by the scan's predicate as
//! DataFusion would (row-group statistics, the page index), and then searches their
//! lines ([`super::exact`]): the file goes to the scan with a
//! [`ParquetAccessPlan`] of the rows that hold them, and DataFusion reads no page
//! outside those rows. A file with no such row is not opened by the scan.

use std::sync::Arc;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::Session;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::parquet::{
    PagePruningAccessPlanFilter, ParquetAccessPlan, ParquetFileMetrics, ParquetFileReaderFactory,
    RowGroupAccess, RowGroupAccessPlanFilter,
};
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::expr::{Like, ScalarFunction};
use datafusion::logical_expr::{BinaryExpr, Expr, Operator};
use datafusion::parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, RowSelection, RowSelector,
};
use datafusion::parquet::arrow::async_reader::AsyncFileReader;
use datafusion::parquet::file::metadata::{PageIndexPolicy, ParquetMetaData};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_optimizer::pruning::PruningPredicateBuilder;
use datafusion::physical_plan::metrics::ExecutionPlanMetricsSet;
use datafusion::scalar::ScalarValue;
use strata_engine::LogSummary;

use super::exact::{Exact, Need, search_files};
use super::trace_ids::{split_and, split_or};
use crate::sql::scan::cached_factory;
use crate::sql::scan::local_reader::LocalReaders;

/// The substrings some conjuncts of `filters` require of `body`; `None` when none does
/// (or only ones shorter than the filter can use).
pub(crate) fn wanted_substrings(filters: &[Expr]) -> Option<Need> {
    let mut need = Need::new();
    for f in filters {
        for conjunct in split_and(f) {
            if let Some(any) = alternatives(conjunct)
                && any.iter().all(|n| n.len() >= 3)
            {
                need.push(any);
            }
        }
    }
    (!need.is_empty()).then_some(need)
}

/// The services one of which a row's `service_name` must be for `filters` to hold (a
/// conjunct `service_name = '…'` or `service_name IN (…)`), if some conjunct says.
pub(crate) fn wanted_services(filters: &[Expr]) -> Option<Vec<String>> {
    let is_service = |e: &Expr| matches!(e, Expr::Column(c) if c.name == "service_name");
    for f in filters {
        for conjunct in split_and(f) {
            match conjunct {
                Expr::BinaryExpr(BinaryExpr {
                    left,
                    op: Operator::Eq,
                    right,
                }) => {
                    let value = if is_service(left) {
                        string_literal(right)
                    } else if is_service(right) {
                        string_literal(left)
                    } else {
                        None
                    };
                    if let Some(v) = value {
                        return Some(vec![v.to_owned()]);
                    }
                }
                Expr::InList(list) if !list.negated && is_service(&list.expr) => {
                    let values: Option<Vec<String>> = list
                        .list
                        .iter()
                        .map(|e| string_literal(e).map(str::to_owned))
                        .collect();
                    if values.is_some() {
                        return values;
                    }
                }
                _ => {}
            }
        }
    }
    None
}

/// The substrings one of which a line must contain for `e` to hold: one of each
/// disjunct's.
fn alternatives(e: &Expr) -> Option<Vec<Vec<u8>>> {
    let each: Option<Vec<Vec<Vec<u8>>>> = split_or(e).into_iter().map(needles_of).collect();
    each.map(|v| v.concat())
}

/// The substrings one of which a line must contain for `e` (no `OR`) to hold.
fn needles_of(e: &Expr) -> Option<Vec<Vec<u8>>> {
    match e {
        Expr::BinaryExpr(BinaryExpr {
            left,
            op: Operator::Gt,
            right,
        }) if is_zero(right) => strpos_needle(left).map(|n| vec![n]),
        Expr::ScalarFunction(ScalarFunction { func, args })
            if func.name() == "regexp_like" && args.len() == 2 && is_body(&args[0]) =>
        {
            regex_prefixes(string_literal(&args[1])?)
        }
        // What DataFusion's simplifier makes of `regexp_like(body, '…')`.
        Expr::BinaryExpr(BinaryExpr {
            left,
            op: Operator::RegexMatch,
            right,
        }) if is_body(left) => regex_prefixes(string_literal(right)?),
        Expr::Like(Like {
            negated: false,
            expr,
            pattern,
            escape_char: None,
            case_insensitive: false,
        }) if is_body(expr) => {
            // The longest run between wildcards is in every line the pattern matches.
            let p = string_literal(pattern)?;
            let longest = p.split(['%', '_']).max_by_key(|s| s.len())?;
            Some(vec![longest.as_bytes().to_vec()])
        }
        _ => None,
    }
}

/// The literals one of which every match of `pattern` starts with (so a line it matches
/// contains one of them); `None` when they are not a finite set.
fn regex_prefixes(pattern: &str) -> Option<Vec<Vec<u8>>> {
    use regex_syntax::hir::literal::{ExtractKind, Extractor};
    let hir = regex_syntax::Parser::new().parse(pattern).ok()?;
    let seq = Extractor::new().kind(ExtractKind::Prefix).extract(&hir);
    let literals = seq.literals()?;
    (!literals.is_empty()).then(|| literals.iter().map(|l| l.as_bytes().to_vec()).collect())
}

/// The needle of `strpos(body, 'needle')`.
fn strpos_needle(e: &Expr) -> Option<Vec<u8>> {
    let Expr::ScalarFunction(ScalarFunction { func, args }) = e else {
        return None;
    };
    if func.name() != "strpos" || args.len() != 2 || !is_body(&args[0]) {
        return None;
    }
    string_literal(&args[1]).map(|s| s.as_bytes().to_vec())
}

fn is_body(e: &Expr) -> bool {
    match e {
        Expr::Column(c) => c.name == "body",
        Expr::Cast(c) => is_body(&c.expr),
        Expr::TryCast(c) => is_body(&c.expr),
        _ => false,
    }
}

fn is_zero(e: &Expr) -> bool {
    match e {
        Expr::Literal(v, _) => matches!(
            v,
            ScalarValue::Int8(Some(0))
                | ScalarValue::Int16(Some(0))
                | ScalarValue::Int32(Some(0))
                | ScalarValue::Int64(Some(0))
        ),
        Expr::Cast(c) => is_zero(&c.expr),
        _ => false,
    }
}

fn string_literal(e: &Expr) -> Option<&str> {
    match e {
        Expr::Literal(
            ScalarValue::Utf8(Some(s))
            | ScalarValue::LargeUtf8(Some(s))
            | ScalarValue::Utf8View(Some(s)),
            _,
        ) => Some(s),
        Expr::Cast(c) => string_literal(&c.expr),
        _ => None,
    }
}

/// The reader factory a scan with line lookups must use: through the session's metadata
/// cache, where [`files_with_lines`] left each file's footer with its page index (the
/// default factory reads the footer again without it, and then fetches whole column
/// chunks whatever the selection), reading the pages in place ([`LocalReaders`]).
pub(crate) fn cached_readers(state: &dyn Session) -> Result<Arc<dyn ParquetFileReaderFactory>> {
    let root = state
        .config()
        .get_extension::<crate::sql::scan::bucket::BucketNames>()
        .map(|n| n.root.clone());
    Ok(Arc::new(LocalReaders::new(cached_factory(state)?, root)))
}

/// What a line lookup keeps: the files that may hold matching rows, each with an access
/// plan of them, and whether every plan lists exactly the rows whose line holds what the
/// filters need ([`super::exact`]; the filters then need not run in the decoder).
pub(crate) struct Lookup {
    pub(crate) files: Vec<PartitionedFile>,
    pub(crate) exact: bool,
    /// When every file was searched to the end and their matching lines hold at most
    /// [`LINES_BUDGET`] bytes: what the searches found, for a scan that takes the lines
    /// from them ([`super::lookup_exec`]).
    pub(crate) found: Option<Vec<Exact>>,
}

/// The most bytes of matching lines a lookup keeps from its searches for the scan.
const LINES_BUDGET: usize = 16 << 20;

/// The files of `files` whose line filter leaves rows that may satisfy `need`, each
/// with an access plan of those rows, narrowed by `predicate` (over `schema`, the table's)
/// on row-group statistics and the page index and then searched line by line; a file
/// without a filter is kept whole.
pub(crate) async fn files_with_lines(
    state: &dyn Session,
    files: Vec<(PartitionedFile, Option<Arc<LogSummary>>)>,
    (need, filters): (&Need, &[Expr]),
    (predicate, schema): (Option<&Arc<dyn PhysicalExpr>>, &SchemaRef),
    metrics: &ExecutionPlanMetricsSet,
) -> Result<Lookup> {
    let factory = cached_factory(state)?;
    // With the page index: cached with the footer, it is what lets DataFusion's reader
    // fetch only the selected rows' pages (DataFusion loads it itself only for a
    // predicate its statistics could prune pages with).
    let options = ArrowReaderOptions::new().with_page_index_policy(PageIndexPolicy::Optional);
    let parquet = |e| DataFusionError::ParquetError(Box::new(e));
    let mut kept = Vec::with_capacity(files.len());
    let mut searches = Vec::new();
    for (file, summary) in files {
        let Some(filter) = summary.as_ref().and_then(|s| s.line_filter()) else {
            kept.push(file);
            continue;
        };
        let ranges = filter.candidate_rows(need);
        if ranges.is_empty() {
            continue;
        }
        let mut reader: Box<dyn AsyncFileReader> =
            factory.create_reader(0, file.clone(), None, metrics)?;
        // With the Arrow schema: the search and the lookup's scan use it too.
        let arrow = ArrowReaderMetadata::load_async(&mut reader, options.clone())
            .await
            .map_err(parquet)?;
        let meta = arrow.metadata().clone();
        let total: i64 = meta.row_groups().iter().map(|g| g.num_rows()).sum();
        if u64::try_from(total).ok() != Some(filter.rows()) {
            // Not this file's filter (cannot happen: the summary names the file's length).
            kept.push(file);
            continue;
        }
        let mut plan = block_plan(&meta, &ranges);
        if let Some(p) = predicate
            && arrow.schema().fields() == schema.fields()
        {
            plan = prune(plan, p, schema, &meta)?;
        }
        searches.push((file, arrow, plan));
    }
    let services = wanted_services(filters);
    let searched = search_files(searches, need, services.as_deref(), metrics).await?;
    let exact = kept.is_empty() && searched.iter().all(|s| s.exact.is_some());
    let bytes: usize = searched
        .iter()
        .filter_map(|s| s.exact.as_ref())
        .flat_map(|e| e.lines.iter().map(String::len))
        .sum();
    let mut found = (exact && bytes <= LINES_BUDGET).then(Vec::new);
    for s in searched {
        kept.push(s.file);
        if let (Some(all), Some(e)) = (&mut found, s.exact) {
            all.push(e);
        }
    }
    Ok(Lookup {
        files: kept,
        exact,
        found,
    })
}

/// The access plan of a file's candidate row ranges (file rows, sorted).
fn block_plan(meta: &ParquetMetaData, ranges: &[(u64, u64)]) -> ParquetAccessPlan {
    let groups = meta.num_row_groups();
    let mut plan = ParquetAccessPlan::new_none(groups);
    let mut start = 0u64;
    let mut next = 0usize;
    for g in 0..groups {
        let rows = meta.row_group(g).num_rows().max(0) as u64;
        let end = start + rows;
        while next < ranges.len() && ranges[next].1 <= start {
            next += 1;
        }
        let mut selectors = Vec::new();
        let mut at = start;
        let mut i = next;
        while i < ranges.len() && ranges[i].0 < end {
            let (a, b) = (ranges[i].0.max(start), ranges[i].1.min(end));
            if a > at {
                selectors.push(RowSelector::skip((a - at) as usize));
            }
            selectors.push(RowSelector::select((b - a) as usize));
            at = b;
            i += 1;
        }
        if at > start {
            if at < end {
                selectors.push(RowSelector::skip((end - at) as usize));
            }
            if selectors.len() == 1 {
                plan.scan(g);
            } else {
                // (`scan_selection` narrows a scanned group; this one starts skipped.)
                plan.set(g, RowGroupAccess::Selection(RowSelection::from(selectors)));
            }
        }
        start = end;
    }
    plan
}

/// `plan` without the row groups and pages that `predicate` rules out by their statistics,
/// as DataFusion's Parquet scan prunes them (its own metrics are not touched: the scan
/// prunes again and counts then).
fn prune(
    plan: ParquetAccessPlan,
    predicate: &Arc<dyn PhysicalExpr>,
    schema: &SchemaRef,
    meta: &ParquetMetaData,
) -> Result<ParquetAccessPlan> {
    let scratch = ExecutionPlanMetricsSet::new();
    let metrics = ParquetFileMetrics::new(0, "line lookup", &scratch);
    let descr = meta.file_metadata().schema_descr();
    let mut plan = plan;
    if let Ok(pruning) = PruningPredicateBuilder::new()
        .with_file_schema(schema.clone())
        .try_build(predicate.clone())
    {
        let mut groups = RowGroupAccessPlanFilter::new(plan);
        groups.prune_by_statistics(schema, descr, meta.row_groups(), &pruning, &metrics);
        plan = groups.build();
    }
    let pages = PagePruningAccessPlanFilter::new(predicate, schema.clone());
    Ok(pages.prune_plan_with_page_index(plan, schema, descr, meta, &metrics))
}

#[cfg(test)]
mod tests {
    use datafusion::logical_expr::{col, lit};

    use super::*;

    fn strpos(s: &str) -> Expr {
        datafusion::functions::expr_fn::strpos(col("body"), lit(s)).gt(lit(0i32))
    }

    #[test]
    fn substrings_come_from_strpos_like_and_their_disjunctions() {
        let need = wanted_substrings(&[strpos("needle").and(strpos("abc").or(strpos("xyz")))]);
        assert_eq!(
            need,
            Some(vec![
                vec![b"needle".to_vec()],
                vec![b"abc".to_vec(), b"xyz".to_vec()]
            ])
        );
        // The longest run between wildcards (`_` is one).
        let like = col("body").like(lit("%GET%/api_v1%"));
        assert_eq!(
            wanted_substrings(&[like]),
            Some(vec![vec![b"/api".to_vec()]])
        );
        // A regex: the literals its matches start with.
        let re = |p: &str| datafusion::functions::expr_fn::regexp_like(col("body"), lit(p), None);
        assert_eq!(
            wanted_substrings(&[re("time(out|d out)")]),
            Some(vec![vec![b"timeout".to_vec(), b"timed out".to_vec()]])
        );
        assert_eq!(
            wanted_substrings(&[re("error.*[0-9]+ms")]),
            Some(vec![vec![b"error".to_vec()]])
        );
        assert_eq!(wanted_substrings(&[re(".*error")]), None, "no prefix");
        assert_eq!(
            wanted_substrings(&[re("(?i)err")]).map(|n| n[0].len()),
            Some(8)
        );
        // Too short, negated, another column, `= 0`: nothing to use.
        let none = [
            strpos("ab"),
            strpos("abc").or(strpos("x")),
            datafusion::functions::expr_fn::strpos(col("body"), lit("abc")).eq(lit(0i32)),
            datafusion::functions::expr_fn::strpos(col("service_name"), lit("abc")).gt(lit(0i32)),
            col("body").not_like(lit("%abc%")),
        ];
        for e in none {
            assert_eq!(wanted_substrings(std::slice::from_ref(&e)), None, "{e}");
        }
    }

    #[test]
    fn services_come_from_equalities_and_in_lists() {
        let svc = || col("service_name");
        assert_eq!(
            wanted_services(&[svc().eq(lit("shop")).and(strpos("needle"))]),
            Some(vec!["shop".to_owned()])
        );
        assert_eq!(
            wanted_services(&[lit("shop").eq(svc())]),
            Some(vec!["shop".to_owned()])
        );
        assert_eq!(
            wanted_services(&[svc().in_list(vec![lit("a"), lit("b")], false)]),
            Some(vec!["a".to_owned(), "b".to_owned()])
        );
        for none in [
            svc().in_list(vec![lit("a")], true),
            svc().not_eq(lit("a")),
            svc().eq(lit("a")).or(strpos("x")),
            col("body").eq(lit("a")),
        ] {
            assert_eq!(wanted_services(std::slice::from_ref(&none)), None, "{none}");
        }
    }
}
