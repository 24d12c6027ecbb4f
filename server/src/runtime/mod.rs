//! The running server: the handles the handlers take (ingest, queries, body limits) and
//! the router's state that bundles them, the ingest memory budget, query
//! admission, the self-metrics and the allocator.

pub(crate) mod admission;
pub mod allocator;
pub(crate) mod body;
pub(crate) mod engine_slot;
pub(crate) mod history;
pub mod inflight;
pub(crate) mod info;
pub(crate) mod ingest_handle;
pub(crate) mod pressure;
pub(crate) mod queries;
pub(crate) mod self_metrics;
pub(crate) mod span_hook;
pub(crate) mod state;
