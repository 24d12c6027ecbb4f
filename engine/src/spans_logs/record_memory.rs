//! What a span or log record held in memory costs: its struct plus every allocation it
//! owns (strings, attribute lists, values, events, links). The engine counts this, not
//! the record's encoded WAL size, against its memory budget (`max_head_bytes`) and its
//! flush threshold: a span of `bench-spans` holds 833 B by this count against ~353 B
//! encoded, and ~1.3 KB of the process's memory with the allocator's rounding
//! (`docs/benchmarks-history.md`, "Spans in memory"), so counting encoded bytes let the head hold
//! several times what the budget says.
//!
//! Sizes are capacities, what was asked of the allocator; its rounding to size classes
//! comes on top. The resource attributes and scope a record shares with the records of
//! its resource are counted with the first record of a run that shares them, as the WAL
//! encoding writes them once (`wal_records/spans_logs.rs`). Runs of different writes may share one
//! copy (`spans_logs/shared_lists.rs`); each run still counts it, so the count errs high by at most
//! one list per run (~1 KB per resource of a request, ~24 B per span of the bench's load).

use std::mem::size_of;
use std::sync::Arc;

use crate::model::anyvalue::{AnyValue, Attributes};
use crate::model::records::{LogRecord, Scope, SpanRecord};

/// Bytes an `Arc`'s allocation adds to its value: the two reference counts.
const ARC_COUNTS: usize = 2 * size_of::<usize>();

/// Heap bytes of `v`'s allocations (not the enum itself).
pub(crate) fn value_bytes(v: &AnyValue) -> usize {
    match v {
        AnyValue::String(s) => s.capacity(),
        AnyValue::Bytes(b) => b.capacity(),
        AnyValue::Array(a) => {
            a.capacity() * size_of::<AnyValue>() + a.iter().map(value_bytes).sum::<usize>()
        }
        AnyValue::KvList(kv) => attrs_bytes(kv),
        AnyValue::Bool(_) | AnyValue::Int(_) | AnyValue::Double(_) => 0,
    }
}

/// Heap bytes of an attribute list's allocations (not the `Vec` itself).
pub(crate) fn attrs_bytes(attrs: &Attributes) -> usize {
    attrs.capacity() * size_of::<(String, AnyValue)>()
        + attrs
            .iter()
            .map(|(k, v)| k.capacity() + value_bytes(v))
            .sum::<usize>()
}

fn scope_bytes(s: &Scope) -> usize {
    size_of::<Scope>() + s.name.capacity() + s.version.capacity() + attrs_bytes(&s.attributes)
}

/// The shared parts `r` holds that `prev` (the record before it) does not: counted once
/// per run of records sharing them.
fn shared_bytes(
    resource: &Arc<Attributes>,
    scope: &Arc<Scope>,
    prev: Option<(&Arc<Attributes>, &Arc<Scope>)>,
) -> usize {
    let mut n = 0;
    if !prev.is_some_and(|(r, _)| Arc::ptr_eq(r, resource)) {
        n += ARC_COUNTS + size_of::<Attributes>() + attrs_bytes(resource);
    }
    if !prev.is_some_and(|(_, s)| Arc::ptr_eq(s, scope)) {
        n += ARC_COUNTS + scope_bytes(scope);
    }
    n
}

/// Bytes `s` holds in memory, its shared resource and scope counted only when `prev` does
/// not hold the same ones.
pub fn span_bytes(s: &SpanRecord, prev: Option<&SpanRecord>) -> usize {
    let events: usize = s
        .events
        .iter()
        .map(|e| e.name.capacity() + attrs_bytes(&e.attributes))
        .sum();
    let links: usize = s
        .links
        .iter()
        .map(|l| l.trace_state.capacity() + attrs_bytes(&l.attributes))
        .sum();
    size_of::<SpanRecord>()
        + s.trace_state.capacity()
        + s.service_name.capacity()
        + s.name.capacity()
        + s.status_message.capacity()
        + attrs_bytes(&s.attributes)
        + s.events.capacity() * size_of::<crate::SpanEvent>()
        + events
        + s.links.capacity() * size_of::<crate::SpanLink>()
        + links
        + shared_bytes(
            &s.resource_attributes,
            &s.scope,
            prev.map(|p| (&p.resource_attributes, &p.scope)),
        )
}

/// Bytes `r` holds in memory, as [`span_bytes`].
pub fn log_bytes(r: &LogRecord, prev: Option<&LogRecord>) -> usize {
    size_of::<LogRecord>()
        + r.severity_text.capacity()
        + r.body.as_ref().map_or(0, value_bytes)
        + r.service_name.capacity()
        + attrs_bytes(&r.attributes)
        + shared_bytes(
            &r.resource_attributes,
            &r.scope,
            prev.map(|p| (&p.resource_attributes, &p.scope)),
        )
}
