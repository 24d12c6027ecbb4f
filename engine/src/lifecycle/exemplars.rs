//! Exemplar writes and reads: the checks, the WAL append under the store's lock (see the
//! `exemplars` module docs), and reads of memory and of the partitions' exemplars files.

use std::collections::{BTreeMap, HashSet};

use crate::exemplars::check;
use crate::exemplars::file as exemplar_file;
use crate::lifecycle::Core;
use crate::model::exemplar::{
    Exemplar, ExemplarOutcome, ExemplarReject, SeriesExemplars, SeriesExemplarsRead,
};
use crate::wal_records::exemplars as wal_exemplars;
use crate::{Labels, Matcher, Result, TenantId};

impl Core {
    /// See [`crate::Engine::write_exemplars`].
    pub(crate) fn write_exemplars(
        &self,
        tenant: &TenantId,
        batch: &[SeriesExemplars],
    ) -> Result<ExemplarOutcome> {
        let mut outcome = ExemplarOutcome::default();
        if batch.iter().all(|s| s.exemplars.is_empty()) {
            return Ok(outcome);
        }
        self.admit()?;
        let limits = self.config.limits_for(tenant);
        let max = limits.max_exemplars;
        let cutoff = self.clock.now_ms().saturating_sub(limits.retention_ms());
        // Outside the lock: the checks that need no state.
        let mut checked: Vec<(Labels, Vec<&Exemplar>)> = Vec::with_capacity(batch.len());
        for s in batch {
            if s.exemplars.is_empty() {
                continue;
            }
            if max == 0 {
                for _ in &s.exemplars {
                    outcome.reject(ExemplarReject::Disabled, || {
                        format!("exemplar storage is off for tenant {tenant} (max_exemplars = 0)")
                    });
                }
                continue;
            }
            let labels = match Labels::from_pairs(s.series.iter().cloned()) {
                Ok(l) => l,
                Err(reason) => {
                    for _ in &s.exemplars {
                        outcome.reject(ExemplarReject::BadSeries, || {
                            format!("series {:?}: {reason}", s.series)
                        });
                    }
                    continue;
                }
            };
            let mut ok = Vec::with_capacity(s.exemplars.len());
            for e in &s.exemplars {
                match check::stateless(e, cutoff) {
                    None => ok.push(e),
                    Some((reason, m)) => outcome.reject(reason, || format!("series {labels}: {m}")),
                }
            }
            checked.push((labels, ok));
        }
        let mut logged: Vec<SeriesExemplars> = Vec::new();
        let ticket = {
            let mut rings = self.exemplars.lock();
            let ring = rings.entry(tenant.clone()).or_default();
            for (labels, exemplars) in checked {
                let pairs: Vec<(String, String)> = labels
                    .iter()
                    .map(|l| (l.name.clone(), l.value.clone()))
                    .collect();
                let series = ring.series(labels);
                let mut kept = Vec::new();
                for e in exemplars {
                    match ring.check(&series, e) {
                        Ok(()) => {
                            ring.push(series.clone(), e.clone(), max);
                            kept.push(e.clone());
                        }
                        Err(reason) => outcome.reject(reason, || {
                            format!(
                                "series {series}: exemplar at {} ms with value {} is {} the \
                                 series' newest",
                                e.ts,
                                e.value,
                                match reason {
                                    ExemplarReject::Duplicate => "the same as",
                                    _ => "older than",
                                }
                            )
                        }),
                    }
                }
                if !kept.is_empty() {
                    logged.push(SeriesExemplars {
                        series: pairs,
                        exemplars: kept,
                    });
                }
            }
            for (reason, n) in &outcome.rejected {
                *ring.rejected.entry(*reason).or_default() += n;
            }
            outcome.accepted = logged.iter().map(|s| s.exemplars.len() as u64).sum();
            if logged.is_empty() {
                None
            } else {
                // Under the store's lock: a flush cut sees the write wholly logged or not.
                Some(self.wal.submit([wal_exemplars::encode(tenant, &logged)])?)
            }
        };
        if let Some(t) = ticket {
            // Their age counts toward the flush interval, as samples' does.
            self.oldest_unflushed
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get_or_insert_with(std::time::Instant::now);
            t.wait()?;
        }
        Ok(outcome)
    }

    /// See [`crate::Engine::select_exemplars`].
    pub(crate) fn select_exemplars(
        &self,
        tenant: &TenantId,
        selectors: &[Vec<Matcher>],
        start: i64,
        end: i64,
    ) -> Result<Vec<SeriesExemplarsRead>> {
        let keep = |l: &Labels| {
            selectors.is_empty() || selectors.iter().any(|m| m.iter().all(|m| m.matches(l)))
        };
        // Memory first, then the files: an exemplar a flush publishes in between is read
        // twice (and deduplicated below), never missed.
        let mut rows: Vec<(Labels, Exemplar)> = self
            .exemplars
            .select(tenant, start, end, keep)
            .into_iter()
            .map(|e| ((*e.series).clone(), e.exemplar))
            .collect();
        let files: Vec<_> = self
            .metrics
            .files
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(tenant)
            .map(|list| {
                list.iter()
                    .filter(|f| f.exemplars_path().is_some() && f.overlaps(start, end))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        for f in files {
            if let Some(path) = f.exemplars_path() {
                rows.extend(
                    exemplar_file::read(&path)?
                        .into_iter()
                        .filter(|(l, e)| (start..=end).contains(&e.ts) && keep(l)),
                );
            }
        }
        let mut by_series: BTreeMap<Labels, Vec<Exemplar>> = BTreeMap::new();
        for (l, e) in rows {
            by_series.entry(l).or_default().push(e);
        }
        Ok(by_series
            .into_iter()
            .map(|(series, mut exemplars)| {
                exemplars.sort_by(|a, b| a.ts.cmp(&b.ts).then(a.value.total_cmp(&b.value)));
                let mut seen = HashSet::new();
                exemplars.retain(|e| {
                    let mut labels = e.labels.clone();
                    labels.sort();
                    seen.insert((e.ts, e.value.to_bits(), labels))
                });
                SeriesExemplarsRead { series, exemplars }
            })
            .collect())
    }
}
