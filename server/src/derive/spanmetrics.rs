//! RED metrics per tenant: `traces_spanmetrics_calls_total` and the
//! `traces_spanmetrics_latency` histogram, by `service`, `span_name`, `span_kind`,
//! `status_code` and the configured dimensions (Tempo's
//! `modules/generator/processor/spanmetrics/spanmetrics.go`).
//!
//! A series is known by the 64-bit hash of its label values, as Tempo's registry knows it.
//! A write's spans are first counted into the batch ([`Local`]): one read lock of the
//! tenant's [`Table`] per write, a hash and a batch-map lookup per span, no allocation for
//! a series that exists. Committing takes each touched series' own lock once, and the
//! table's write lock only when the write made new series.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};

use strata_engine::SpanRecord;

use super::histogram::{Counts, SPAN_BUCKETS_NS};
use super::labels::{
    Dimension, HashMapU64, KeyHash, OVERFLOW_SPAN_NAME, find, hash_one, kind_name, status_name,
    text,
};

/// The counter's name.
pub(crate) const CALLS: &str = "traces_spanmetrics_calls_total";
/// The histogram's name (`_bucket`, `_sum`, `_count` are added).
pub(crate) const LATENCY: &str = "traces_spanmetrics_latency";

/// What a series has counted so far (cumulative since it was made).
#[derive(Debug, Clone)]
pub(crate) struct Acc {
    /// Spans.
    pub(crate) calls: u64,
    /// Their durations.
    pub(crate) latency: Counts,
    /// When a span last counted here (ms).
    pub(crate) last_ms: i64,
    /// Whether it has been written once (the first write adds a zero before it).
    pub(crate) emitted: bool,
}

/// One span-metrics series.
#[derive(Debug)]
pub(crate) struct SpanSeries {
    /// Its labels without `__name__`, empty values left out (as Tempo's label builder
    /// does).
    pub(crate) labels: Vec<(String, String)>,
    /// Hash of its service, and of its span name (for the cap on span names).
    pub(crate) service: u64,
    pub(crate) name: u64,
    /// Its counts.
    pub(crate) acc: Mutex<Acc>,
}

impl SpanSeries {
    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, Acc> {
        self.acc.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A tenant's span-metrics series and the span names seen per service.
#[derive(Debug, Default)]
pub(crate) struct Table {
    /// Series by the hash of their label values.
    pub(crate) series: HashMapU64<Arc<SpanSeries>>,
    /// Service hash -> hashes of the span names it has series for.
    pub(crate) names: HashMapU64<HashSet<u64>>,
}

impl Table {
    /// Rebuilds the span names per service from the series left (after stale ones went).
    pub(crate) fn rebuild_names(&mut self) {
        self.names.clear();
        let overflow = hash_one(OVERFLOW_SPAN_NAME);
        for s in self.series.values() {
            let names = self.names.entry(s.service).or_default();
            if s.name != overflow {
                names.insert(s.name);
            }
        }
    }
}

/// The label values of a span, in the order the hash takes them: service, span name,
/// kind, status, then each dimension ("" when absent).
fn values(span: &SpanRecord, dims: &[Dimension], name: &str) -> Vec<String> {
    let mut out = vec![
        span.service_name.clone(),
        name.to_owned(),
        kind_name(span.kind).to_owned(),
        status_name(span.status_code).to_owned(),
    ];
    let mut scratch = String::new();
    for d in dims {
        let lists = [&*span.resource_attributes, &span.attributes];
        out.push(
            find(&d.key, &lists).map_or_else(String::new, |v| text(v, &mut scratch).to_owned()),
        );
    }
    out
}

fn hash_values(values: &[String]) -> u64 {
    let mut h = KeyHash::default();
    for v in values {
        h.add(v);
    }
    h.finish()
}

/// The labels of `values` (empty values left out).
fn labels(values: &[String], dims: &[Dimension]) -> Vec<(String, String)> {
    let names = ["service", "span_name", "span_kind", "status_code"]
        .into_iter()
        .chain(dims.iter().map(|d| d.label.as_str()));
    let mut out: Vec<(String, String)> = names
        .zip(values)
        .filter(|(_, v)| !v.is_empty())
        .map(|(n, v)| (n.to_owned(), v.clone()))
        .collect();
    // A dimension sanitized to the name of another: the last one configured wins (Tempo).
    let mut seen = HashSet::new();
    out.reverse();
    out.retain(|(n, _)| seen.insert(n.clone()));
    out.reverse();
    out
}

/// A series a write counts into.
#[derive(Debug)]
struct Slot {
    /// The hash of its label values.
    hash: u64,
    /// The series, when the table had it.
    known: Option<Arc<SpanSeries>>,
    /// Otherwise its label values, to make it at commit.
    new: Option<Vec<String>>,
}

/// Bit of a contribution's slot that marks a span whose name was collapsed.
const COLLAPSED: u32 = 1 << 31;

/// One write's span metrics, before it is committed.
#[derive(Debug, Default)]
pub(crate) struct Local {
    /// Hash of a span's label values -> its slot (with [`COLLAPSED`] when its name was
    /// collapsed).
    slot_of: HashMapU64<u32>,
    slots: Vec<Slot>,
    /// Per observed span, in order: slot and duration (ns).
    contrib: Vec<(u32, u64)>,
    /// Names this write adds per service, not yet in the table.
    pending_names: HashMapU64<HashSet<u64>>,
    /// Per dimension, a buffer for non-string values.
    scratch: Vec<String>,
}

impl Local {
    /// Counts `span` (the next of the observed ones) into the batch; `table` is read
    /// locked by the caller for the whole batch.
    pub(crate) fn observe(
        &mut self,
        table: &Table,
        dims: &[Dimension],
        max_names: usize,
        span: &SpanRecord,
    ) {
        let dur = u64::try_from(span.end_ns.saturating_sub(span.start_ns)).unwrap_or(0);
        let hash = self.hash(span, dims, &span.name);
        let slot = match self.slot_of.get(&hash) {
            Some(s) => *s,
            None => {
                let s = self.resolve(table, dims, max_names, span, hash);
                self.slot_of.insert(hash, s);
                s
            }
        };
        self.contrib.push((slot, dur));
    }

    fn hash(&mut self, span: &SpanRecord, dims: &[Dimension], name: &str) -> u64 {
        let mut h = KeyHash::default();
        h.add(&span.service_name);
        h.add(name);
        h.add(kind_name(span.kind));
        h.add(status_name(span.status_code));
        if self.scratch.len() < dims.len() {
            self.scratch.resize(dims.len(), String::new());
        }
        let lists = [&*span.resource_attributes, &span.attributes];
        for (d, scratch) in dims.iter().zip(self.scratch.iter_mut()) {
            h.add(find(&d.key, &lists).map_or("", |v| text(v, scratch)));
        }
        h.finish()
    }

    /// The slot of a span whose label values this write has not met yet: the series, or
    /// a new one, or (its name over the service's cap) the service's overflow series.
    fn resolve(
        &mut self,
        table: &Table,
        dims: &[Dimension],
        max_names: usize,
        span: &SpanRecord,
        hash: u64,
    ) -> u32 {
        if let Some(s) = table.series.get(&hash) {
            return self.push(hash, Some(s.clone()), None);
        }
        let service = hash_one(&span.service_name);
        let name = hash_one(&span.name);
        let known = table.names.get(&service);
        let pending = self.pending_names.entry(service).or_default();
        let allowed = known.is_some_and(|n| n.contains(&name))
            || pending.contains(&name)
            || known.map_or(0, HashSet::len) + pending.len() < max_names;
        if allowed {
            if !known.is_some_and(|n| n.contains(&name)) {
                pending.insert(name);
            }
            return self.push(hash, None, Some(values(span, dims, &span.name)));
        }
        let over = self.hash(span, dims, OVERFLOW_SPAN_NAME);
        let slot = match self.slot_of.get(&over) {
            Some(s) => *s,
            None => {
                let known = table.series.get(&over).cloned();
                let new = known
                    .is_none()
                    .then(|| values(span, dims, OVERFLOW_SPAN_NAME));
                let s = self.push(over, known, new);
                self.slot_of.insert(over, s);
                s
            }
        };
        slot | COLLAPSED
    }

    fn push(&mut self, hash: u64, known: Option<Arc<SpanSeries>>, new: Option<Vec<String>>) -> u32 {
        self.slots.push(Slot { hash, known, new });
        (self.slots.len() - 1) as u32
    }

    /// Counts the first `accepted` observed spans into the tenant's series at `now_ms`:
    /// each touched series locked once, `table` write-locked once when the write made
    /// new series. Returns the spans whose name was collapsed.
    pub(crate) fn commit(
        self,
        table: &std::sync::RwLock<Table>,
        dims: &[Dimension],
        max_names: usize,
        accepted: u64,
        now_ms: i64,
    ) -> u64 {
        let n = usize::try_from(accepted)
            .unwrap_or(usize::MAX)
            .min(self.contrib.len());
        let mut aggs: Vec<Option<(u64, Counts)>> = vec![None; self.slots.len()];
        let mut collapsed = 0;
        for &(slot, dur) in &self.contrib[..n] {
            if slot & COLLAPSED != 0 {
                collapsed += 1;
            }
            let (calls, counts) = aggs[(slot & !COLLAPSED) as usize]
                .get_or_insert_with(|| (0, Counts::new(SPAN_BUCKETS_NS.len())));
            *calls += 1;
            counts.observe(&SPAN_BUCKETS_NS, dur);
        }
        let add = |series: &SpanSeries, calls: u64, counts: &Counts| {
            let mut acc = series.lock();
            acc.calls += calls;
            acc.latency.merge(counts);
            acc.last_ms = acc.last_ms.max(now_ms);
        };
        let mut new = Vec::new();
        for (slot, agg) in self.slots.into_iter().zip(aggs) {
            let Some((calls, counts)) = agg else { continue };
            match slot.known {
                Some(series) => add(&series, calls, &counts),
                None => new.push((slot.hash, slot.new, calls, counts)),
            }
        }
        if new.is_empty() {
            return collapsed;
        }
        let mut t = table.write().unwrap_or_else(PoisonError::into_inner);
        for (hash, values, calls, counts) in new {
            let Some(mut values) = values else { continue };
            let mut hash = hash;
            if !t.series.contains_key(&hash) {
                // Another write may have filled the service's names since this one looked.
                let service = hash_one(&values[0]);
                let name = hash_one(&values[1]);
                let names = t.names.entry(service).or_default();
                let over_name = values[1] != OVERFLOW_SPAN_NAME
                    && !names.contains(&name)
                    && names.len() >= max_names;
                if over_name {
                    values[1] = OVERFLOW_SPAN_NAME.to_owned();
                    hash = hash_values(&values);
                    collapsed += calls;
                } else if values[1] != OVERFLOW_SPAN_NAME {
                    names.insert(name);
                }
            }
            let series = t.series.entry(hash).or_insert_with(|| {
                Arc::new(SpanSeries {
                    labels: labels(&values, dims),
                    service: hash_one(&values[0]),
                    name: hash_one(&values[1]),
                    acc: Mutex::new(Acc {
                        calls: 0,
                        latency: Counts::new(SPAN_BUCKETS_NS.len()),
                        last_ms: now_ms,
                        emitted: false,
                    }),
                })
            });
            add(series, calls, &counts);
        }
        collapsed
    }
}
