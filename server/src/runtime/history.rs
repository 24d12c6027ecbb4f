//! The last hour of each tenant's ingest, for `/api/v1/status/limits`: every
//! [`INTERVAL`] a background task (`serve.rs`) reads the self-metrics' counters (items stored
//! per signal, refused per signal and reason, exemplars refused per reason: the figures of
//! `strata_ingested_samples_total`, `strata_rejected_samples_total` and
//! `strata_exemplars_rejected_total`) and keeps, per tenant, what changed since the
//! previous reading as one point of a ring of [`POINTS`].
//!
//! Memory is bounded: at most [`MAX_TENANTS`] tenants have a ring (later tenants get
//! none until the process restarts; their totals still show), each ring holds at most
//! [`POINTS`] points, and a point holds only the reasons that changed.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

/// How often a point is taken.
pub(crate) const INTERVAL: Duration = Duration::from_secs(15);

/// Points kept per tenant: one hour.
pub(crate) const POINTS: usize = 240;

/// Most tenants with a ring.
pub(crate) const MAX_TENANTS: usize = 1_000;

/// Signals of the `accepted` counts, in [`crate::runtime::self_metrics::Signal`] order.
pub(crate) const SIGNALS: [&str; 3] = ["metrics", "traces", "logs"];

/// A tenant's counters since start.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Totals {
    /// Items stored per signal ([`SIGNALS`] order).
    pub(crate) accepted: [u64; 3],
    /// Items refused per (signal or `"exemplars"`, reason).
    pub(crate) rejected: BTreeMap<(&'static str, String), u64>,
}

/// What changed over one interval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Point {
    /// When it was taken (ms).
    pub(crate) t_ms: i64,
    /// Items stored per signal over the interval.
    pub(crate) accepted: [u64; 3],
    /// Items refused per (signal, reason) over the interval; only those that changed.
    pub(crate) rejected: Vec<((&'static str, String), u64)>,
}

/// The rings.
#[derive(Debug, Default)]
pub(crate) struct History {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// The totals of the previous reading, per tenant with a ring.
    last: HashMap<String, Totals>,
    rings: HashMap<String, VecDeque<Point>>,
}

impl History {
    /// Takes a point at `t_ms` from `totals` (every tenant's counters since start).
    pub(crate) fn sample(&self, t_ms: i64, totals: BTreeMap<String, Totals>) {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let inner = &mut *inner;
        for (tenant, now) in totals {
            if !inner.rings.contains_key(&tenant) && inner.rings.len() >= MAX_TENANTS {
                continue;
            }
            // A tenant first seen now started from zero when the process did.
            let before = inner.last.get(&tenant).cloned().unwrap_or_default();
            let mut accepted = [0; 3];
            for (i, a) in accepted.iter_mut().enumerate() {
                *a = now.accepted[i].saturating_sub(before.accepted[i]);
            }
            let rejected = now
                .rejected
                .iter()
                .filter_map(|(k, n)| {
                    let d = n.saturating_sub(before.rejected.get(k).copied().unwrap_or(0));
                    (d > 0).then(|| (k.clone(), d))
                })
                .collect();
            let ring = inner.rings.entry(tenant.clone()).or_default();
            if ring.len() == POINTS {
                ring.pop_front();
            }
            ring.push_back(Point {
                t_ms,
                accepted,
                rejected,
            });
            inner.last.insert(tenant, now);
        }
    }

    /// `tenant`'s points, oldest first.
    pub(crate) fn points(&self, tenant: &str) -> Vec<Point> {
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        inner
            .rings
            .get(tenant)
            .map(|r| r.iter().cloned().collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn totals(accepted: u64, limit: u64) -> Totals {
        let mut t = Totals {
            accepted: [accepted, 0, 0],
            ..Totals::default()
        };
        if limit > 0 {
            t.rejected.insert(("metrics", "series_limit".into()), limit);
        }
        t
    }

    #[test]
    fn points_are_deltas_and_the_ring_is_bounded() {
        let h = History::default();
        h.sample(1, BTreeMap::from([("a".to_owned(), totals(10, 0))]));
        h.sample(2, BTreeMap::from([("a".to_owned(), totals(25, 3))]));
        h.sample(3, BTreeMap::from([("a".to_owned(), totals(25, 3))]));
        let p = h.points("a");
        assert_eq!(p.len(), 3);
        assert_eq!(
            (p[0].accepted[0], p[1].accepted[0], p[2].accepted[0]),
            (10, 15, 0)
        );
        assert_eq!(
            p[1].rejected,
            vec![(("metrics", "series_limit".to_owned()), 3)]
        );
        assert!(p[2].rejected.is_empty());
        for t in 0..POINTS as i64 + 10 {
            h.sample(10 + t, BTreeMap::from([("a".to_owned(), totals(25, 3))]));
        }
        let p = h.points("a");
        assert_eq!(p.len(), POINTS);
        assert_eq!(p[0].t_ms, 20, "the oldest went first");
        assert!(h.points("b").is_empty());
    }

    #[test]
    fn tenants_past_the_cap_get_no_ring() {
        let h = History::default();
        let all: BTreeMap<String, Totals> = (0..MAX_TENANTS + 5)
            .map(|i| (format!("t{i:05}"), totals(1, 0)))
            .collect();
        h.sample(1, all);
        assert_eq!(h.points("t00000").len(), 1);
        assert!(h.points(&format!("t{:05}", MAX_TENANTS + 4)).is_empty());
    }
}
