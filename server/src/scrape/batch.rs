//! One scrape's write: every sample of it (the body's, the staleness markers, the report
//! series) in one engine write, so one WAL record per scrape. A series the target's cache
//! holds a handle for goes by that handle, without labels; the others carry their labels
//! (decoded only now for a cached series whose handle is not known yet) and an engine key
//! (the cache's prefix and the series' bytes), by which their handles are looked up once
//! they are stored.

use std::sync::Arc;

use strata_engine::{
    Engine, HistogramSample, KeyedSeries, KnownSeries, PendingWrite, Sample, TenantId, WriteOutcome,
};

use super::cache::SeriesCache;
use super::target::LabelSet;
use crate::ingest::exposition::proto::Value;
use crate::relabel::{self, Relabel, RuleCounts};

/// The samples of one scrape, keyed.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    /// Every row's engine key, one after the other (a report row's is empty).
    keys: Vec<u8>,
    rows: Vec<Row>,
    /// The rows' float samples.
    samples: Vec<Sample>,
    /// The rows' native histogram samples.
    histograms: Vec<HistogramSample>,
    /// The labels rows carry.
    labels: Vec<LabelSet>,
}

#[derive(Debug)]
struct Row {
    /// Its key ends here in `keys` (and starts where the previous row's ends).
    key_end: usize,
    known: Option<KnownSeries>,
    /// Index in `labels`.
    labels: Option<usize>,
    /// Not written: its labels could not be made.
    skip: bool,
    /// Its sample: an index in `samples`, or in `histograms`.
    at: usize,
    histogram: bool,
}

/// What submitting a batch gave: the write to await (none when nothing was left to
/// write) and the samples the `[relabel]` rules dropped, by rule.
pub(crate) type Submitted = (
    Option<strata_engine::Result<PendingWrite<WriteOutcome>>>,
    RuleCounts,
);

impl Batch {
    /// How many samples it holds.
    pub(crate) fn len(&self) -> usize {
        self.rows.len()
    }

    /// Drops every row.
    pub(crate) fn clear(&mut self) {
        self.keys.clear();
        self.rows.clear();
        self.samples.clear();
        self.histograms.clear();
        self.labels.clear();
    }

    /// A sample of the series named by `series` in the body, by its handle if `known`,
    /// with its `labels` if decoded already.
    pub(crate) fn push_series(
        &mut self,
        cache: &SeriesCache,
        series: &[u8],
        known: Option<KnownSeries>,
        labels: Option<LabelSet>,
        value: Value,
        ts: i64,
    ) {
        cache.key_into(series, &mut self.keys);
        self.push(known, labels, value, ts);
    }

    /// A sample of a series known only by its labels (a report series): no key.
    pub(crate) fn push_labels(&mut self, labels: LabelSet, value: Value, ts: i64) {
        self.push(None, Some(labels), value, ts);
    }

    fn push(
        &mut self,
        known: Option<KnownSeries>,
        labels: Option<LabelSet>,
        value: Value,
        ts: i64,
    ) {
        let labels = labels.map(|l| {
            self.labels.push(l);
            self.labels.len() - 1
        });
        let (at, histogram) = match value {
            Value::Float(value) => {
                self.samples.push(Sample { ts, value });
                (self.samples.len() - 1, false)
            }
            Value::Histogram(h) => {
                self.histograms.push(HistogramSample { ts, h: Arc::new(h) });
                (self.histograms.len() - 1, true)
            }
        };
        self.rows.push(Row {
            key_end: self.keys.len(),
            known,
            labels,
            skip: false,
            at,
            histogram,
        });
    }

    fn key(&self, i: usize) -> &[u8] {
        let start = i.checked_sub(1).map_or(0, |p| self.rows[p].key_end);
        &self.keys[start..self.rows[i].key_end]
    }

    /// Gives every row without a handle its labels: `decode` makes them from the series'
    /// bytes (`None`: dropped by the job's relabeling; the row is not written).
    fn resolve(&mut self, mut decode: impl FnMut(&[u8]) -> Option<LabelSet>) {
        for i in 0..self.rows.len() {
            let row = &self.rows[i];
            if row.known.is_some() || row.labels.is_some() || row.skip {
                continue;
            }
            let series = self
                .key(i)
                .get(super::cache::PREFIX_LEN..)
                .unwrap_or_default();
            match decode(series) {
                Some(l) => {
                    self.labels.push(l);
                    self.rows[i].labels = Some(self.labels.len() - 1);
                }
                None => self.rows[i].skip = true,
            }
        }
    }

    /// Submits the rows to the engine through the tenant's `[relabel]` rules.
    fn submit(&self, engine: &Engine, tenant: &TenantId, rules: Option<&Relabel>) -> Submitted {
        let pairs: Vec<Vec<(&str, &str)>> = self
            .labels
            .iter()
            .map(|l| l.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect())
            .collect();
        let series: Vec<KeyedSeries<'_>> = (0..self.rows.len())
            .filter(|&i| !self.rows[i].skip)
            .map(|i| {
                let row = &self.rows[i];
                KeyedSeries {
                    key: self.key(i),
                    by_symbols: false,
                    known: row.known,
                    labels: row.labels.map_or(&[][..], |l| &pairs[l][..]),
                    samples: match row.histogram {
                        true => &[],
                        false => std::slice::from_ref(&self.samples[row.at]),
                    },
                    histograms: match row.histogram {
                        true => std::slice::from_ref(&self.histograms[row.at]),
                        false => &[],
                    },
                    sample_starts: &[],
                    histogram_starts: &[],
                }
            })
            .collect();
        match rules {
            Some(rules) => relabel::keyed(rules, &series, |s| engine.submit_keyed(tenant, s)),
            None => (
                (!series.is_empty()).then(|| engine.submit_keyed(tenant, &series)),
                RuleCounts::new(),
            ),
        }
    }

    /// Looks up the handles of the rows stored without one and gives them to `cache`.
    fn learn(&self, engine: &Engine, tenant: &TenantId, cache: &mut SeriesCache) {
        let rows: Vec<usize> = (0..self.rows.len())
            .filter(|&i| self.rows[i].known.is_none() && !self.rows[i].skip)
            .filter(|&i| !self.key(i).is_empty())
            .collect();
        if rows.is_empty() {
            return;
        }
        let keys: Vec<&[u8]> = rows.iter().map(|&i| self.key(i)).collect();
        let Ok(found) = engine.known_series(tenant, &keys) else {
            return;
        };
        for (key, known) in keys.iter().zip(found) {
            if let Some(k) = known {
                cache.learn(key, k);
            }
        }
    }
}

/// Writes `batch` for `tenant`: labels for the rows without a handle (`decode`, from the
/// series' bytes), one submission, the new handles into `cache`. A handle the engine
/// refuses as another tenant's (its head was replaced) is forgotten, cache-wide, and the
/// batch goes again by labels: nothing of a scrape is lost to a stale handle.
pub(crate) fn write(
    batch: &mut Batch,
    engine: &Engine,
    tenant: &TenantId,
    rules: Option<&Relabel>,
    cache: &mut SeriesCache,
    mut decode: impl FnMut(&[u8]) -> Option<LabelSet>,
) -> Submitted {
    batch.resolve(&mut decode);
    let mut submitted = batch.submit(engine, tenant, rules);
    if let Some(Err(strata_engine::Error::ForeignSeries { .. })) = &submitted.0 {
        cache.forget_known();
        for row in &mut batch.rows {
            row.known = None;
        }
        batch.resolve(&mut decode);
        submitted = batch.submit(engine, tenant, rules);
    }
    if let Some(Ok(_)) = &submitted.0 {
        batch.learn(engine, tenant, cache);
    }
    submitted
}
