//! Trace search: candidate traces from SQL, newest first, hour partition by hour partition;
//! then each candidate read whole and the query evaluated on it exactly. An hour whose
//! files' summaries prove that no span meets the SQL condition is not read
//! ([`skip_hour`]).

use std::collections::HashSet;
use std::sync::Arc;

use datafusion::prelude::SessionContext;
use strata_engine::record_memory::span_bytes;
use strata_engine::{Engine, SpanRecord, TenantId, TraceId};

use super::ast::{Field, Intrinsic, Query, Scope, SpansetExpr, Stage};
use super::error::{Error, Result};
use super::eval::{field_value, fields_of};
use super::prefilter::{Cond, trace_condition};
use super::spanset::{Spanset, pipeline};
use super::trace::TraceView;
use super::{SearchParams, SpanMatch, SpanSetMatch, TraceMatch, Value};
use crate::memory::SessionCharge;
use crate::sql::{self, SqlConfig};

/// How far before and after the searched range a candidate trace's spans are read (a
/// trace found in the range may have begun, or go on, outside it).
pub(crate) const TRACE_MARGIN_NS: i64 = 3_600 * 1_000_000_000;

/// Candidate traces read per SQL page when the condition is not exact.
const PAGE: usize = 200;

/// Candidate traces a search reads at most, when its SQL condition is not exact (a
/// structural query matching few of many candidates): past it, it returns what it found.
pub(crate) const MAX_CANDIDATES: usize = 20_000;

/// What a search read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SearchStats {
    /// Hour partitions it came to (it stops at the last it needed).
    pub hours: usize,
    /// Of those, the hours not read: their files' summaries proved that no span there
    /// meets the query's condition.
    pub hours_skipped: usize,
}

/// The newest traces (by their latest span that meets the query's SQL condition) that
/// match `q` among the spans of `tenant` starting in `[p.start_ns, p.end_ns]`, at most
/// `p.limit`.
pub async fn search(
    engine: &Arc<Engine>,
    tenant: &TenantId,
    sql: &SqlConfig,
    q: &Query,
    p: &SearchParams,
) -> Result<Vec<TraceMatch>> {
    Ok(search_with_stats(engine, tenant, sql, q, p).await?.0)
}

/// [`search`], also returning what it read.
pub async fn search_with_stats(
    engine: &Arc<Engine>,
    tenant: &TenantId,
    sql: &SqlConfig,
    q: &Query,
    p: &SearchParams,
) -> Result<(Vec<TraceMatch>, SearchStats)> {
    let mut stats = SearchStats::default();
    if q.is_metrics() {
        return Err(Error::Query(
            "a metrics query cannot be searched: use the metrics query_range endpoint".into(),
        ));
    }
    if p.limit == 0 || p.start_ns > p.end_ns {
        return Ok((Vec::new(), stats));
    }
    let cond = trace_condition(&q.pipeline);
    let ctx = sql::tenant_session(engine.clone(), tenant, sql)?;
    let windows = engine.spans_partitions(tenant, p.start_ns, p.end_ns);
    let shown = shown_fields(q);
    let mut found: Vec<TraceMatch> = Vec::new();
    let mut seen: HashSet<TraceId> = HashSet::new();
    let mut read = 0usize;
    // The traces of the page being evaluated, charged to the query's share.
    let mut held = SessionCharge::new(&ctx, "traceql traces");
    'windows: for (lo, hi) in windows {
        stats.hours += 1;
        if skip_hour(engine, tenant, &cond, lo, hi)? {
            stats.hours_skipped += 1;
            continue;
        }
        let mut offset = 0;
        loop {
            let page = if cond.exact {
                p.limit - found.len()
            } else {
                PAGE
            };
            let ranked = candidates(&ctx, sql, &cond, lo, hi, page, offset).await?;
            let full_page = ranked.len() == page;
            let ids: Vec<TraceId> = ranked
                .into_iter()
                .map(|(id, _)| id)
                .filter(|id| seen.insert(*id))
                .collect();
            read += ids.len();
            let traces = load(engine, tenant, ids, p.start_ns, p.end_ns).await?;
            held.set(traces_bytes(&traces))?;
            for (id, spans) in traces {
                if let Some(m) = evaluate(id, spans, q, &shown, p.spans_per_spanset) {
                    found.push(m);
                    if found.len() >= p.limit {
                        break 'windows;
                    }
                }
            }
            if !cond.exact && read >= MAX_CANDIDATES {
                break 'windows;
            }
            if !full_page {
                break;
            }
            offset += page;
        }
    }
    Ok((found, stats))
}

/// Whether no span of `tenant` starting in `[lo, hi]` can meet `cond` (so its SQL would
/// select none there), as the summaries of the files there prove. Not when the test is
/// `Any`, a file has no summary, or spans of the hour are still in memory: the hour is
/// then read.
fn skip_hour(engine: &Engine, tenant: &TenantId, cond: &Cond, lo: i64, hi: i64) -> Result<bool> {
    if cond.need == strata_engine::SpanTest::Any {
        return Ok(false);
    }
    Ok(!engine.spans_may_match(tenant, lo, hi, &cond.need)?)
}

/// One page of candidate traces of window `[lo, hi]`: the ids of the traces with a span
/// meeting `cond`, ranked by their latest such span, newest first (ties by id).
async fn candidates(
    ctx: &SessionContext,
    cfg: &SqlConfig,
    cond: &Cond,
    lo: i64,
    hi: i64,
    limit: usize,
    offset: usize,
) -> Result<Vec<(TraceId, i64)>> {
    let mut conds = Vec::new();
    if !cond.is_true() {
        conds.push(cond.sql.clone());
    }
    conds.push(format!("start_time >= to_timestamp_nanos({lo})"));
    conds.push(format!("start_time <= to_timestamp_nanos({hi})"));
    let q = format!(
        "SELECT trace_id, max(start_time) AS last FROM spans WHERE {} \
         GROUP BY trace_id ORDER BY last DESC, trace_id LIMIT {limit} OFFSET {offset}",
        conds.join(" AND ")
    );
    Ok(sql::trace_rows(&sql::run_sql(ctx, &q, cfg).await?))
}

/// The spans of traces `ids` (in that order, those with none left out), read with a
/// margin around `[start_ns, end_ns]`, on up to four blocking threads (one per core).
pub(crate) async fn load(
    engine: &Arc<Engine>,
    tenant: &TenantId,
    ids: Vec<TraceId>,
    start_ns: i64,
    end_ns: i64,
) -> Result<Vec<(TraceId, Vec<SpanRecord>)>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let (from, to) = (
        start_ns.saturating_sub(TRACE_MARGIN_NS),
        end_ns.saturating_add(TRACE_MARGIN_NS),
    );
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
    let per_task = ids.len().div_ceil(threads).max(1);
    let tasks: Vec<_> = ids
        .chunks(per_task)
        .map(|chunk| {
            let (engine, tenant, chunk) = (engine.clone(), tenant.clone(), chunk.to_vec());
            tokio::task::spawn_blocking(move || {
                let found = engine.find_traces(&tenant, &chunk, from, to)?;
                Ok::<_, strata_engine::Error>(chunk.into_iter().zip(found).collect::<Vec<_>>())
            })
        })
        .collect();
    let mut out = Vec::with_capacity(ids.len());
    for t in tasks {
        let part = t
            .await
            .map_err(|e| Error::Internal(format!("trace lookup task failed: {e}")))??;
        out.extend(part.into_iter().filter(|(_, spans)| !spans.is_empty()));
    }
    Ok(out)
}

/// Bytes `traces` hold in memory.
pub(crate) fn traces_bytes(traces: &[(TraceId, Vec<SpanRecord>)]) -> usize {
    traces
        .iter()
        .flat_map(|(_, spans)| {
            let prev = std::iter::once(None).chain(spans.iter().map(Some));
            spans.iter().zip(prev)
        })
        .map(|(s, prev)| span_bytes(s, prev))
        .sum()
}

/// The fields a search shows on each span: `service.name`, then those the query's
/// filters read (but the span's own name and duration, and trace-level fields).
fn shown_fields(q: &Query) -> Vec<Field> {
    let mut fields = vec![Field::Attr(Scope::Resource, "service.name".into())];
    for stage in &q.pipeline.stages {
        if let Stage::Spanset(e) = stage {
            filter_fields(e, &mut fields);
        }
    }
    fields.retain(|f| match f {
        Field::Intrinsic(i) => {
            !i.is_trace_level() && !matches!(i, Intrinsic::Name | Intrinsic::Duration)
        }
        Field::Attr(..) => true,
    });
    let mut seen = HashSet::new();
    fields.retain(|f| seen.insert(f.result_key()));
    fields
}

fn filter_fields(e: &SpansetExpr, out: &mut Vec<Field>) {
    match e {
        SpansetExpr::Filter(f) => fields_of(f, out),
        SpansetExpr::Op(_, l, r) => {
            filter_fields(l, out);
            filter_fields(r, out);
        }
        SpansetExpr::Pipeline(p) => {
            for s in &p.stages {
                if let Stage::Spanset(e) = s {
                    filter_fields(e, out);
                }
            }
        }
    }
}

/// The match of trace `id` if `q` yields spansets for it.
pub(crate) fn evaluate(
    id: TraceId,
    spans: Vec<SpanRecord>,
    q: &Query,
    shown: &[Field],
    spans_per_spanset: usize,
) -> Option<TraceMatch> {
    let t = TraceView::new(spans);
    let sets = pipeline(&t, &q.pipeline);
    if sets.is_empty() {
        return None;
    }
    let root = t.root.map(|r| &t.spans[r]);
    Some(TraceMatch {
        trace_id: id,
        root_service_name: root.map(|r| r.service_name.clone()),
        root_span_name: root.map(|r| r.name.clone()),
        start_ns: t.start_ns,
        duration_ns: t.end_ns.saturating_sub(t.start_ns),
        spansets: sets
            .iter()
            .map(|s| spanset_match(&t, s, shown, spans_per_spanset))
            .collect(),
    })
}

fn spanset_match(t: &TraceView, s: &Spanset, shown: &[Field], max: usize) -> SpanSetMatch {
    let spans = s
        .spans
        .iter()
        .take(max)
        .map(|&i| {
            let r = &t.spans[i];
            let mut attributes: Vec<(String, Value)> = Vec::new();
            for f in shown.iter().chain(&s.selected) {
                let key = f.result_key();
                if attributes.iter().any(|(k, _)| *k == key) {
                    continue;
                }
                let v = field_value(t, i, f);
                if v != Value::Nil {
                    attributes.push((key, v));
                }
            }
            SpanMatch {
                span_id: r.span_id,
                name: r.name.clone(),
                start_ns: r.start_ns,
                duration_ns: r.end_ns.saturating_sub(r.start_ns),
                attributes,
            }
        })
        .collect();
    SpanSetMatch {
        spans,
        matched: s.spans.len(),
        attributes: s.attributes.clone(),
    }
}
