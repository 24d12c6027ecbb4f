//! Every tenant's exemplar ring, behind one lock.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};

use crate::exemplars::ring::{Entry, Ring};
use crate::model::exemplar::{ExemplarReject, SeriesExemplars};
use crate::{Labels, TenantId};

/// See the module docs of `exemplars`.
#[derive(Debug, Default)]
pub(crate) struct ExemplarStore {
    rings: Mutex<HashMap<TenantId, Ring>>,
}

/// What a flush cut took: each tenant's entries not taken before.
pub(crate) type ExemplarsTaken = Vec<(TenantId, Vec<Entry>)>;

impl ExemplarStore {
    /// The rings, locked (writes log their WAL record while holding this).
    pub(crate) fn lock(&self) -> MutexGuard<'_, HashMap<TenantId, Ring>> {
        self.rings.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Puts replayed exemplars back, unchecked (they were checked when written); series
    /// whose labels do not parse are skipped.
    pub(crate) fn restore_logged(
        &self,
        tenant: &TenantId,
        series: Vec<SeriesExemplars>,
        max: usize,
    ) {
        let mut rings = self.lock();
        let ring = rings.entry(tenant.clone()).or_default();
        for s in series {
            let Ok(labels) = Labels::from_pairs(s.series) else {
                continue;
            };
            let labels = ring.series(labels);
            for e in s.exemplars {
                ring.push(labels.clone(), e, max.max(1));
            }
        }
    }

    /// A flush cut: see [`Ring::cut`].
    pub(crate) fn cut(rings: &mut HashMap<TenantId, Ring>) -> ExemplarsTaken {
        rings
            .iter_mut()
            .map(|(t, r)| (t.clone(), r.cut()))
            .filter(|(_, e)| !e.is_empty())
            .collect()
    }

    /// After a failed flush.
    pub(crate) fn restore(&self) {
        for r in self.lock().values_mut() {
            r.restore();
        }
    }

    /// After a committed flush.
    pub(crate) fn publish(&self) {
        for r in self.lock().values_mut() {
            r.publish();
        }
    }

    /// `tenant`'s exemplars in memory not yet in published files: see [`Ring::select`].
    pub(crate) fn select(
        &self,
        tenant: &TenantId,
        start: i64,
        end: i64,
        keep: impl Fn(&Labels) -> bool,
    ) -> Vec<Entry> {
        self.lock()
            .get(tenant)
            .map(|r| r.select(start, end, keep))
            .unwrap_or_default()
    }

    /// `tenant`'s counters: (refused by reason, pushed out over the limit, held).
    pub(crate) fn stats(&self, tenant: &TenantId) -> (BTreeMap<ExemplarReject, u64>, u64, usize) {
        self.lock()
            .get(tenant)
            .map(|r| (r.rejected.clone(), r.evicted, r.len()))
            .unwrap_or_default()
    }

    /// Tenants with a ring.
    pub(crate) fn tenants(&self) -> Vec<TenantId> {
        self.lock().keys().cloned().collect()
    }
}
