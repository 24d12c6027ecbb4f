//! One write's share of the derivation ([`SpanBatch`]): the engine shows it the spans that
//! passed its checks; it counts them into the batch under one read lock of the tenant's
//! tables; once the write is acknowledged it commits the stored prefix.

use std::collections::HashSet;
use std::sync::{Arc, PoisonError};

use strata_engine::{Clock, SpanRecord, SystemClock};

use super::servicegraph::{self, Half, Interner, Upsert};
use super::spanmetrics::Local;
use super::{TenantState, lock};
use crate::runtime::span_hook::SpanBatch;

/// A write's spans, counted but not yet committed.
pub(crate) struct Batch {
    state: Arc<TenantState>,
    wait_ms: i64,
    spans: Local,
    halves: Vec<Half>,
    new_nodes: HashSet<Arc<str>>,
    scratch: String,
}

impl Batch {
    pub(crate) fn new(state: Arc<TenantState>, wait_ms: i64) -> Self {
        Self {
            state,
            wait_ms,
            spans: Local::default(),
            halves: Vec::new(),
            new_nodes: HashSet::new(),
            scratch: String::new(),
        }
    }
}

impl SpanBatch for Batch {
    fn observe(&mut self, spans: &mut dyn Iterator<Item = &SpanRecord>) {
        let st = &*self.state;
        let table = st.table.read().unwrap_or_else(PoisonError::into_inner);
        let nodes = st.nodes.read().unwrap_or_else(PoisonError::into_inner);
        let mut interner = Interner {
            known: &nodes,
            pending: &mut self.new_nodes,
        };
        for (i, span) in spans.enumerate() {
            self.spans.observe(&table, &st.dims, st.max_names, span);
            let idx = u32::try_from(i).unwrap_or(u32::MAX);
            if let Some(h) = servicegraph::half(span, idx, &mut interner, &mut self.scratch) {
                self.halves.push(h);
            }
        }
    }

    fn commit(self: Box<Self>, accepted: u64) {
        let Batch {
            state,
            wait_ms,
            spans,
            halves,
            new_nodes,
            ..
        } = *self;
        let st = &*state;
        let now_ms = SystemClock.now_ms();
        let collapsed = spans.commit(&st.table, &st.dims, st.max_names, accepted, now_ms);
        st.counters.add_collapsed(collapsed);
        if !new_nodes.is_empty() {
            st.nodes
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .extend(new_nodes);
        }
        if halves.is_empty() {
            return;
        }
        let mut done = Vec::new();
        let (mut new, mut dropped) = (0, 0);
        {
            let mut store = lock(&st.store);
            for h in halves {
                if u64::from(h.idx) >= accepted {
                    break;
                }
                match store.upsert(h, now_ms, wait_ms, st.max_items, &mut done) {
                    Upsert::New => new += 1,
                    Upsert::Dropped => dropped += 1,
                    Upsert::Updated => {}
                }
            }
        }
        st.counters.add_edges(new, dropped);
        if !done.is_empty() {
            servicegraph::count(&mut lock(&st.edges), &done, now_ms);
        }
    }
}
