//! What belongs to spans alone: their Arrow schema, well-known columns, search and the trace filter.

pub(crate) mod arrow;
pub(crate) mod columns;
pub(crate) mod search;
pub(crate) mod trace_filter;
