//! What belongs to spans alone: their Arrow schema, well-known columns, search, the trace
//! filter and the summary.

pub(crate) mod arrow;
pub(crate) mod columns;
pub(crate) mod search;
pub(crate) mod summary;
pub(crate) mod trace_filter;

/// Writes the files derived from the spans file at `path` (its trace-id filter and its
/// summary, the latter merged from `inputs` when given: the summaries of the files merged
/// into it), synced, before a manifest lists it.
pub(crate) fn build_derived(
    path: &std::path::Path,
    inputs: Option<&[&summary::SpanSummary]>,
) -> crate::Result<()> {
    trace_filter::build(path)?;
    summary::build_from_file(path, inputs)?;
    Ok(())
}
