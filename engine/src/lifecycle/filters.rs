//! Retention filters ([`RetentionFilter`]): each maintenance pass removes, from every file
//! set whose partition is older than a filter's `keep`, the series (metrics) or records
//! (spans, logs) that filter matches, unless a filter that matches them too keeps them
//! longer.
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
use crate::model::delete::{DeleteStats, RecordSignal};
use crate::model::retention_filter::{FilterTarget, RetentionFilter};
use crate::model::series::SeriesId;
use crate::signal_kind::Signal;
use crate::spans_logs::compact::filter::count_deleted;
use crate::spans_logs::row_filter::RowFilter;
use crate::spans_logs::store::{SignalStore, StoredRecord};
use crate::storage::parquet_io::read_series_ids;
use crate::storage::partition::{FileMap, PARTITION_MS, PartFile, partition_start};
use crate::{Result, TenantId};

/// The filters in force and what they did.
#[derive(Debug, Default)]
pub(crate) struct FilterState {
    list: RwLock<Arc<Vec<RetentionFilter>>>,
    /// (a set's uid, filters due on it when it was checked).
    checked: Mutex<HashSet<(u64, usize)>>,
    /// Samples and records removed since open, per filter name.
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

    /// Adds what filters removed, by name.
    fn count(&self, counts: Vec<(&String, u64)>) {
        let mut per = self.removed.lock().unwrap_or_else(|p| p.into_inner());
        for (name, n) in counts {
            *per.entry(name.clone()).or_default() += n;
        }
    }

    /// Samples and records removed since open, per filter name.
    pub(crate) fn removed(&self) -> BTreeMap<String, u64> {
        self.removed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

impl Core {
    /// One pass of the retention filters over every tenant's file sets of every signal;
    /// returns the samples and records removed.
    pub(crate) fn apply_filters(&self) -> Result<u64> {
        let filters = self.filters.list();
        if filters.is_empty() || self.reader.is_some() {
            return Ok(0);
        }
        let _one_pass = self
            .maintenance_lock
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let now = self.clock.now_ms();
        let mut live = HashSet::new();
        let mut total = 0;
        for signal in [Signal::Metrics, Signal::Traces, Signal::Logs] {
            let mine: Vec<&RetentionFilter> = filters
                .iter()
                .filter(|f| filter_signal(f) == signal)
                .collect();
            let files = match signal {
                Signal::Metrics => &self.metrics.files,
                Signal::Traces => &self.traces.files,
                Signal::Logs => &self.logs.files,
            };
            let sets = sets_of(files);
            live.extend(sets.iter().map(|(_, f)| f.uid));
            if mine.is_empty() {
                continue;
            }
            let mut keeps: Vec<i64> = mine.iter().map(|f| f.keep_ms()).collect();
            keeps.sort_unstable();
            for (tenant, part) in &sets {
                let end = partition_start(part.entry.min_ts).saturating_add(PARTITION_MS);
                let age = now.saturating_sub(end);
                let due = keeps.partition_point(|&k| k < age);
                let key = (part.uid, due);
                if due == 0 || self.filters.checked.lock().is_ok_and(|c| c.contains(&key)) {
                    continue;
                }
                part.ensure_data()?;
                total += match signal {
                    Signal::Metrics => self.filter_series(tenant, part, &mine, age)?,
                    Signal::Traces => {
                        self.filter_records(&self.traces, tenant, part, &mine, age)?
                    }
                    Signal::Logs => self.filter_records(&self.logs, tenant, part, &mine, age)?,
                };
                self.filters
                    .checked
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(key);
            }
        }
        // Forget the sets that are gone (rewritten, compacted, dropped).
        self.filters
            .checked
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|(uid, _)| live.contains(uid));
        if total > 0 {
            info!(
                removed = total,
                "retention filters removed series and records"
            );
        }
        Ok(total)
    }

    /// Removes from the metrics set `part` (a partition `age` ms past its end) the series
    /// whose longest matching filter keeps them less than `age`; returns the samples
    /// removed.
    fn filter_series(
        &self,
        tenant: &TenantId,
        part: &Arc<PartFile>,
        filters: &[&RetentionFilter],
        age: i64,
    ) -> Result<u64> {
        let index = PartIndex::read(&part.index_path())?;
        let all = read_series_ids(&part.series_path())?;
        // Each matched series: the longest keep among its filters, and that filter.
        let mut longest: HashMap<SeriesId, (i64, usize)> = HashMap::new();
        for (i, f) in filters.iter().enumerate() {
            let FilterTarget::Series(matchers) = &f.target else {
                continue;
            };
            for row in index.select(matchers) {
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
            counts.push((
                &filters[*i].name,
                count_samples(part, group, i64::MIN, i64::MAX)?,
            ));
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
        self.filters.count(counts);
        Ok(removed)
    }

    /// Removes from the spans or logs set `part` (a partition `age` ms past its end) the
    /// records of one filter due on it, those no longer-keeping filter matches (the
    /// longest wins, as for series, and the records are counted under it), trying the due
    /// filters longest first; returns the records removed. Any other due filter applies to
    /// the rewritten set at the next pass.
    fn filter_records<R: StoredRecord>(
        &self,
        store: &SignalStore<R>,
        tenant: &TenantId,
        part: &Arc<PartFile>,
        filters: &[&RetentionFilter],
        age: i64,
    ) -> Result<u64> {
        let schema = match R::SIGNAL {
            Signal::Traces => crate::spans_logs::spans::arrow::spans_schema(),
            _ => crate::spans_logs::logs::arrow::logs_schema(),
        };
        let row_filter = |f: &RetentionFilter| -> Result<Option<RowFilter>> {
            let FilterTarget::Records(_, pred) = &f.target else {
                return Ok(None);
            };
            let mut whole = pred.clone();
            (whole.start_ns, whole.end_ns) = (i64::MIN, i64::MAX);
            RowFilter::new(R::SIGNAL, &schema, &whole).map(Some)
        };
        // Filters ranked by (keep, position): a record belongs to the highest-ranked one
        // that matches it, and goes once that one is due.
        let mut ranked: Vec<(i64, usize, RowFilter)> = Vec::new();
        for (i, f) in filters.iter().enumerate() {
            if let Some(rf) = row_filter(f)? {
                ranked.push((f.keep_ms(), i, rf));
            }
        }
        ranked.sort_by_key(|(keep, i, _)| (*keep, *i));
        // The due ones, longest first: each deletes what no higher-ranked filter matches.
        for at in (0..ranked.len()).rev() {
            let (keep, i, rf) = &ranked[at];
            if *keep >= age {
                continue;
            }
            let f = filters[*i];
            let higher: Vec<RowFilter> = ranked[at + 1..].iter().map(|r| r.2.clone()).collect();
            let rf = rf.clone().unless(higher);
            if count_deleted(&part.samples_path(), &rf)? == 0 {
                continue;
            }
            let removed =
                self.rewrite_records(store, tenant, part, &rf, &mut DeleteStats::default())?;
            self.filters.count(vec![(&f.name, removed)]);
            return Ok(removed);
        }
        Ok(0)
    }
}

/// The signal a filter applies to.
fn filter_signal(f: &RetentionFilter) -> Signal {
    match &f.target {
        FilterTarget::Series(_) => Signal::Metrics,
        FilterTarget::Records(RecordSignal::Spans, _) => Signal::Traces,
        FilterTarget::Records(RecordSignal::Logs, _) => Signal::Logs,
    }
}

/// Every tenant's committed sets in `files`.
fn sets_of(files: &RwLock<FileMap>) -> Vec<(TenantId, Arc<PartFile>)> {
    let files = files.read().unwrap_or_else(|p| p.into_inner());
    files
        .iter()
        .flat_map(|(t, list)| list.iter().map(|f| (t.clone(), f.clone())))
        .collect()
}
