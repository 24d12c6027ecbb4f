//! Retention filters ([`RetentionFilter`]): each maintenance pass removes, from every
//! metrics file set whose partition is older than a filter's `keep`, the series that
//! filter matches, unless a filter that matches them too keeps them longer.
//!
//! A set is checked once per number of filters due on it (filters sorted by `keep`: as the
//! partition ages, more become due): the check reads its index and series files, without
//! keeping them, and a set with a series to remove is written again without it through
//! the delete's rewrite (`lifecycle/delete.rs`: new names, the manifest swap, crash-safe
//! as compaction). What was checked is kept in memory only: after a restart each old set
//! is checked once more and has nothing left to remove.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};

use tracing::info;

use crate::lifecycle::Core;
use crate::metrics::delete::count_samples;
use crate::metrics::index::PartIndex;
use crate::model::delete::DeleteStats;
use crate::model::retention_filter::RetentionFilter;
use crate::model::series::SeriesId;
use crate::storage::parquet_io::read_series_ids;
use crate::storage::partition::{PARTITION_MS, PartFile, partition_start};
use crate::{Result, TenantId};

/// The filters in force and what they did.
#[derive(Debug, Default)]
pub(crate) struct FilterState {
    list: RwLock<Arc<Vec<RetentionFilter>>>,
    /// (a set's uid, filters due on it when it was checked).
    checked: Mutex<HashSet<(u64, usize)>>,
    /// Samples removed since open, per filter name.
    removed: Mutex<BTreeMap<String, u64>>,
}

impl FilterState {
    /// Replaces the filters in force; sets are checked again against the new ones.
    pub(crate) fn set(&self, filters: Vec<RetentionFilter>) {
        *self.list.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(filters);
        self.checked
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    fn list(&self) -> Arc<Vec<RetentionFilter>> {
        self.list.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Samples removed since open, per filter name.
    pub(crate) fn removed(&self) -> BTreeMap<String, u64> {
        self.removed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

impl Core {
    /// One pass of the retention filters over every tenant's metrics sets; returns the
    /// samples removed.
    pub(crate) fn apply_filters(&self) -> Result<u64> {
        let filters = self.filters.list();
        if filters.is_empty() || self.reader.is_some() {
            return Ok(0);
        }
        let _one_pass = self
            .maintenance_lock
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let mut keeps: Vec<i64> = filters.iter().map(RetentionFilter::keep_ms).collect();
        keeps.sort_unstable();
        let now = self.clock.now_ms();
        let sets: Vec<(TenantId, Arc<PartFile>)> = {
            let files = self.metrics.files.read().unwrap_or_else(|p| p.into_inner());
            files
                .iter()
                .flat_map(|(t, list)| list.iter().map(|f| (t.clone(), f.clone())))
                .collect()
        };
        let mut total = 0;
        for (tenant, part) in &sets {
            let end = partition_start(part.entry.min_ts).saturating_add(PARTITION_MS);
            let age = now.saturating_sub(end);
            let due = keeps.partition_point(|&k| k < age);
            let key = (part.uid, due);
            if due == 0 || self.filters.checked.lock().is_ok_and(|c| c.contains(&key)) {
                continue;
            }
            total += self.filter_set(tenant, part, &filters, age)?;
            self.filters
                .checked
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(key);
        }
        // Forget the sets that are gone (rewritten, compacted, dropped).
        let live: HashSet<u64> = sets.iter().map(|(_, f)| f.uid).collect();
        self.filters
            .checked
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|(uid, _)| live.contains(uid));
        if total > 0 {
            info!(samples = total, "retention filters removed series");
        }
        Ok(total)
    }

    /// Removes from `part` (a partition `age` ms past its end) the series whose longest
    /// matching filter keeps them less than `age`; returns the samples removed.
    fn filter_set(
        &self,
        tenant: &TenantId,
        part: &Arc<PartFile>,
        filters: &[RetentionFilter],
        age: i64,
    ) -> Result<u64> {
        part.ensure_data()?;
        let index = PartIndex::read(&part.index_path())?;
        let all = read_series_ids(&part.series_path())?;
        // Each matched series: the longest keep among its filters, and that filter.
        let mut longest: HashMap<SeriesId, (i64, usize)> = HashMap::new();
        for (i, f) in filters.iter().enumerate() {
            for row in index.select(&f.matchers) {
                let Some(&id) = all.get(row as usize) else {
                    continue;
                };
                let e = longest.entry(id).or_insert((f.keep_ms(), i));
                if f.keep_ms() > e.0 {
                    *e = (f.keep_ms(), i);
                }
            }
        }
        let mut by_filter: BTreeMap<usize, Vec<SeriesId>> = BTreeMap::new();
        for (id, (keep, i)) in longest {
            if keep < age {
                by_filter.entry(i).or_default().push(id);
            }
        }
        if by_filter.is_empty() {
            return Ok(0);
        }
        let mut counts = Vec::new();
        let mut ids = Vec::new();
        for (i, group) in &mut by_filter {
            group.sort_unstable();
            counts.push((*i, count_samples(part, group, i64::MIN, i64::MAX)?));
            ids.extend_from_slice(group);
        }
        ids.sort_unstable();
        let removed = self.rewrite_set(
            tenant,
            part,
            &ids,
            (i64::MIN, i64::MAX),
            &mut DeleteStats::default(),
        )?;
        let mut per = self
            .filters
            .removed
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        for (i, n) in counts {
            *per.entry(filters[i].name.clone()).or_default() += n;
        }
        Ok(removed)
    }
}
