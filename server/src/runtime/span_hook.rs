//! The hook through which spans that were stored feed work derived from them (RED metrics
//! and the service graph, `crate::derive`), without this layer knowing that work.
//!
//! [`Ingest::write_spans`](crate::runtime::ingest_handle::Ingest::write_spans) asks the hook for
//! a [`SpanBatch`] per write; the engine hands the batch the spans that passed its checks
//! ([`SpanBatch::observe`]); once the write is acknowledged the batch learns how many of
//! them were stored ([`SpanBatch::commit`]). A failed write commits nothing.

use strata_engine::{SpanRecord, TenantId};

/// What derives data from stored spans; installed once at start.
pub(crate) trait SpanDerive: Send + Sync + std::fmt::Debug {
    /// A batch for one write of `tenant`'s spans, or `None` when nothing is derived for it.
    fn batch(&self, tenant: &TenantId) -> Option<Box<dyn SpanBatch>>;

    /// Appends its self-metrics (Prometheus text) to `out`; with `only`, the per-tenant
    /// series of that tenant alone.
    fn render(&self, out: &mut String, only: Option<&TenantId>);
}

/// One write's share of the derivation.
pub(crate) trait SpanBatch: Send {
    /// Sees the spans that passed the engine's checks, in order, once.
    fn observe(&mut self, spans: &mut dyn Iterator<Item = &SpanRecord>);

    /// The write was acknowledged with the first `accepted` observed spans stored.
    fn commit(self: Box<Self>, accepted: u64);
}
