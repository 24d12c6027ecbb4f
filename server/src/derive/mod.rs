//! RED metrics and the service graph, derived from spans at ingest, per tenant, with the
//! names, labels and defaults of Tempo's metrics-generator (`docs/traces-api.md`, "RED
//! metrics and service graph"; settings `[derived]`, `crate::config::derive`).
//!
//! - [`spanmetrics`]: `traces_spanmetrics_calls_total` and `traces_spanmetrics_latency`;
//! - [`servicegraph`]: the edges and `traces_service_graph_*`;
//! - [`batch`]: one write's share, fed by the engine with the spans it accepted
//!   (`crate::runtime::span_hook`);
//! - [`collect`]: the loop that expires waiting halves and writes the counters as samples
//!   every `collection_interval` through the metrics write path;
//! - [`self_metrics`]: what was collapsed, dropped, expired, written and refused.

mod batch;
pub(crate) mod collect;
mod histogram;
mod labels;
mod self_metrics;
mod servicegraph;
mod spanmetrics;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use strata_engine::TenantId;

use crate::config::derive::DerivedSettings;
use crate::runtime::span_hook::{SpanBatch, SpanDerive};

/// Failures of the derivation's background work.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DeriveError {
    /// The write of a tenant's derived samples failed as a whole.
    #[error("writing {samples} derived samples of tenant {tenant}: {message}")]
    Write {
        /// The tenant.
        tenant: TenantId,
        /// Samples in the write.
        samples: usize,
        /// The write path's error.
        message: String,
    },
}

/// One tenant's derived state.
#[derive(Debug)]
pub(crate) struct TenantState {
    pub(crate) tenant: TenantId,
    /// Extra span-metrics dimensions.
    pub(crate) dims: Vec<labels::Dimension>,
    /// `max_span_names_per_service`.
    pub(crate) max_names: usize,
    /// `service_graph_max_items`.
    pub(crate) max_items: usize,
    /// Span-metrics series.
    pub(crate) table: RwLock<spanmetrics::Table>,
    /// Node names of the service graph, shared.
    pub(crate) nodes: RwLock<HashSet<Arc<str>>>,
    /// Halves waiting for their other half.
    pub(crate) store: Mutex<servicegraph::Store>,
    /// Edge series.
    pub(crate) edges: Mutex<labels::HashMapU64<servicegraph::EdgeSeries>>,
    /// Self-metrics.
    pub(crate) counters: self_metrics::Counters,
}

/// Locks a mutex, taking it over from a panicked holder (the counts stay usable).
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The derivation of every tenant.
#[derive(Debug)]
pub(crate) struct Derive {
    settings: DerivedSettings,
    tenants: RwLock<HashMap<TenantId, Arc<TenantState>>>,
}

impl Derive {
    /// The derivation with `settings`.
    pub(crate) fn new(settings: DerivedSettings) -> Self {
        Self {
            settings,
            tenants: RwLock::new(HashMap::new()),
        }
    }

    /// The settings.
    pub(crate) fn settings(&self) -> &DerivedSettings {
        &self.settings
    }

    /// The tenants with derived state so far.
    pub(crate) fn tenants(&self) -> Vec<Arc<TenantState>> {
        let t = self.tenants.read().unwrap_or_else(PoisonError::into_inner);
        t.values().cloned().collect()
    }

    /// `tenant`'s state, made on first use; `None` when it is switched off.
    fn tenant(&self, tenant: &TenantId) -> Option<Arc<TenantState>> {
        let s = self.settings.for_tenant(tenant);
        if !s.enabled {
            return None;
        }
        if let Some(t) = self
            .tenants
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(tenant)
        {
            return Some(t.clone());
        }
        let mut all = self.tenants.write().unwrap_or_else(PoisonError::into_inner);
        let t = all.entry(tenant.clone()).or_insert_with(|| {
            Arc::new(TenantState {
                tenant: tenant.clone(),
                dims: labels::dimensions(&s.dimensions),
                max_names: s.max_span_names_per_service,
                max_items: s.service_graph_max_items,
                table: RwLock::default(),
                nodes: RwLock::default(),
                store: Mutex::default(),
                edges: Mutex::default(),
                counters: self_metrics::Counters::default(),
            })
        });
        Some(t.clone())
    }
}

impl SpanDerive for Derive {
    fn batch(&self, tenant: &TenantId) -> Option<Box<dyn SpanBatch>> {
        let state = self.tenant(tenant)?;
        let wait_ms =
            i64::try_from(self.settings.service_graph_wait.as_millis()).unwrap_or(i64::MAX);
        Some(Box::new(batch::Batch::new(state, wait_ms)))
    }

    fn render(&self, out: &mut String, only: Option<&TenantId>) {
        self_metrics::render(&self.tenants(), out, only);
    }
}
