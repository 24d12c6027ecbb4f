//! The running server: the state every handler shares, the ingest memory budget, query
//! admission, the self-metrics and the allocator.

pub(crate) mod admission;
pub mod allocator;
pub(crate) mod history;
pub mod inflight;
pub(crate) mod info;
pub(crate) mod pressure;
pub(crate) mod self_metrics;
pub(crate) mod span_hook;
pub(crate) mod state;
