//! Metric metadata in memory: per tenant, each metric family's distinct entries (type,
//! help, unit), oldest first, at most [`MAX_METADATA_PER_METRIC`] per family and
//! [`MAX_METADATA_METRICS`] families per tenant. Durable through the WAL alone (kind 6
//! records, `lifecycle/metadata.rs`), as Prometheus keeps metadata in its WAL and memory only:
//! never in Parquet.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};

use crate::TenantId;
use crate::model::metadata::{MAX_METADATA_PER_METRIC, Metadata, MetadataRead};

/// Every tenant's metadata, behind one lock (writes log their WAL record holding it).
#[derive(Debug, Default)]
pub(crate) struct MetadataStore {
    tenants: Mutex<HashMap<TenantId, Families>>,
}

/// One tenant's families, by name.
#[derive(Debug, Default)]
pub(crate) struct Families {
    pub(crate) by_name: BTreeMap<String, Vec<Metadata>>,
}

/// What adding one entry did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Added {
    /// New for its family; `evicted` when the family's oldest entry went to make room.
    New { evicted: bool },
    /// Equal to an entry the family has.
    Unchanged,
    /// A new family while the tenant has `max_families`.
    Full,
}

impl Families {
    /// Adds `m` to `family` (last, as the newest), unless the family has it already or
    /// the family is new and the tenant holds `max_families` (`None`: no limit, replay).
    pub(crate) fn add(&mut self, family: &str, m: &Metadata, max_families: Option<usize>) -> Added {
        let full = max_families.is_some_and(|max| self.by_name.len() >= max);
        match self.by_name.get_mut(family) {
            Some(list) if list.contains(m) => Added::Unchanged,
            Some(list) => {
                let evicted = list.len() >= MAX_METADATA_PER_METRIC;
                if evicted {
                    list.remove(0);
                }
                list.push(m.clone());
                Added::New { evicted }
            }
            None if full => Added::Full,
            None => {
                self.by_name.insert(family.to_owned(), vec![m.clone()]);
                Added::New { evicted: false }
            }
        }
    }

    /// Replaces `family`'s entries (a snapshot record's, at replay).
    pub(crate) fn replace(&mut self, family: String, mut entries: Vec<Metadata>) {
        if entries.len() > MAX_METADATA_PER_METRIC {
            entries.drain(..entries.len() - MAX_METADATA_PER_METRIC);
        }
        self.by_name.insert(family, entries);
    }
}

impl MetadataStore {
    /// The tenants' families, locked.
    pub(crate) fn lock(&self) -> MutexGuard<'_, HashMap<TenantId, Families>> {
        self.tenants.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Tenants with metadata.
    pub(crate) fn tenants(&self) -> Vec<TenantId> {
        self.lock().keys().cloned().collect()
    }

    /// `tenant`'s families sorted by name (only `metric` when given), at most `limit`
    /// families and `limit_per_metric` entries each (the oldest kept first, as stored).
    pub(crate) fn read(
        &self,
        tenant: &TenantId,
        metric: Option<&str>,
        limit: Option<usize>,
        limit_per_metric: Option<usize>,
    ) -> MetadataRead {
        let tenants = self.lock();
        let Some(f) = tenants.get(tenant) else {
            return Vec::new();
        };
        let per = |list: &Vec<Metadata>| {
            list.iter()
                .take(limit_per_metric.unwrap_or(usize::MAX))
                .cloned()
                .collect::<Vec<_>>()
        };
        let rows: Box<dyn Iterator<Item = (&String, &Vec<Metadata>)>> = match metric {
            Some(m) => Box::new(f.by_name.get_key_value(m).into_iter()),
            None => Box::new(f.by_name.iter()),
        };
        rows.filter(|(_, l)| !l.is_empty())
            .take(limit.unwrap_or(usize::MAX))
            .map(|(n, l)| (n.clone(), per(l)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::metadata::MetricType;

    fn m(kind: MetricType, help: &str) -> Metadata {
        Metadata {
            kind,
            help: help.into(),
            unit: String::new(),
        }
    }

    #[test]
    fn distinct_entries_newest_last_and_bounded() {
        let mut f = Families::default();
        let a = m(MetricType::Counter, "a");
        assert_eq!(f.add("x", &a, Some(5)), Added::New { evicted: false });
        assert_eq!(f.add("x", &a, Some(5)), Added::Unchanged);
        let b = m(MetricType::Gauge, "a");
        assert_eq!(f.add("x", &b, Some(5)), Added::New { evicted: false });
        // Re-sending the older one changes nothing, order included.
        assert_eq!(f.add("x", &a, Some(5)), Added::Unchanged);
        assert_eq!(f.by_name["x"], vec![a.clone(), b.clone()]);
        for i in 0..MAX_METADATA_PER_METRIC - 2 {
            let e = m(MetricType::Counter, &format!("h{i}"));
            assert_eq!(f.add("x", &e, Some(5)), Added::New { evicted: false });
        }
        let newest = m(MetricType::Summary, "newest");
        assert_eq!(f.add("x", &newest, Some(5)), Added::New { evicted: true });
        let list = &f.by_name["x"];
        assert_eq!(list.len(), MAX_METADATA_PER_METRIC);
        assert_eq!(list[0], b, "the oldest went");
        assert_eq!(list.last(), Some(&newest));
    }

    #[test]
    fn new_families_past_the_limit_are_refused_existing_ones_still_grow() {
        let mut f = Families::default();
        let a = m(MetricType::Counter, "a");
        assert_eq!(f.add("x", &a, Some(2)), Added::New { evicted: false });
        assert_eq!(f.add("y", &a, Some(2)), Added::New { evicted: false });
        assert_eq!(f.add("z", &a, Some(2)), Added::Full);
        let b = m(MetricType::Gauge, "b");
        assert_eq!(f.add("y", &b, Some(2)), Added::New { evicted: false });
        assert_eq!(f.by_name.len(), 2);
        // Replay applies without the limit.
        assert_eq!(f.add("z", &a, None), Added::New { evicted: false });
    }
}
