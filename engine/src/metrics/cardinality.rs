//! Cardinality of a tenant's head (`/api/v1/status/tsdb`): series per metric name, distinct
//! values per label name, series per label pair, label bytes, and "the series a label
//! adds", computed from the head's postings shard by shard (each shard locked in turn, never
//! two at once).
//!
//! The postings already hold label name -> value -> series slots, so most figures are sums
//! of list lengths. With selectors, a shard's matching slots are marked first and only the
//! marked entries of each list count. "The series label `L` adds" is the matched series
//! minus the distinct label sets they have once `L` is dropped: each series gets an
//! order-independent hash of its label set (the wrapping sum of a 64-bit hash per label
//! pair, summed from the lists, not from the series' keys); dropping `L` subtracts the
//! pair's hash, and the distinct sums are counted. Series of different shards have
//! different metric names, so for any `L` but `__name__` they cannot meet, and the
//! counting is per shard. (Two different label sets with the same sum would be counted
//! once: the odds are about n²/2⁶⁵, nil for any real head.)

use std::collections::{HashMap, HashSet};
use std::hash::BuildHasherDefault;

use crate::metrics::head::{SHARDS, TenantHead};
use crate::metrics::postings::Slot;
use crate::model::series::IdMixHasher;
use crate::{METRIC_NAME, Matcher};

/// Bytes a label pair takes in a series' canonical key besides its name and value: a u32
/// length before each (`model/series_key.rs`).
const PAIR_OVERHEAD: u64 = 8;

/// Most label names "the series a label adds" is computed for (the top ones by distinct
/// values, as listed); each costs a pass over the series carrying it.
pub const MAX_ADDED_LABELS: usize = 20;

/// What to compute: see [`crate::Engine::cardinality`].
#[derive(Debug, Clone, Default)]
pub struct CardinalityQuery {
    /// Series selectors; the figures cover the series matching any of them (all series
    /// when empty). Each selector is a list of matchers a series must all pass.
    pub selectors: Vec<Vec<Matcher>>,
    /// A label whose values are listed with their series counts
    /// ([`Cardinality::series_by_focus_value`]), and whose added series are computed even
    /// when it is not among the top label names.
    pub focus_label: Option<String>,
    /// Entries kept in each list (the largest); at least 1.
    pub limit: usize,
}

/// A name (metric, label, `name=value` pair, value) with a count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedCount {
    /// What is counted.
    pub name: String,
    /// The count (series, values or bytes).
    pub value: u64,
}

/// The head as a whole (selectors do not apply): Prometheus's `headStats`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeadSummary {
    /// Series in the head.
    pub series: u64,
    /// Distinct label pairs (`name=value`) over them.
    pub label_pairs: u64,
    /// Series holding samples in memory now (a flush in progress included).
    pub series_with_samples: u64,
    /// Oldest and newest timestamp (ms) of the samples in memory; `None` when none are.
    pub min_time: Option<i64>,
    /// See `min_time`.
    pub max_time: Option<i64>,
}

/// A tenant's head cardinality; every list is sorted by value descending, then name, and
/// cut to the query's limit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cardinality {
    /// The whole head.
    pub head: HeadSummary,
    /// Series matched (all of the head without selectors).
    pub series: u64,
    /// Distinct label pairs of the matched series.
    pub label_pairs: u64,
    /// Matched series per metric name.
    pub series_by_metric: Vec<NamedCount>,
    /// Distinct values per label name, over the matched series.
    pub values_by_label: Vec<NamedCount>,
    /// Bytes each label name's pairs take in the matched series' keys: for each value,
    /// (name + value + 8) × its series (Prometheus's `memoryInBytesByLabelName`).
    pub bytes_by_label: Vec<NamedCount>,
    /// Matched series per `name=value` pair.
    pub series_by_pair: Vec<NamedCount>,
    /// Matched series carrying each label name.
    pub series_by_label: Vec<NamedCount>,
    /// Matched series per value of the focus label (empty without one).
    pub series_by_focus_value: Vec<NamedCount>,
    /// For the label names of `values_by_label` (at most [`MAX_ADDED_LABELS`], never
    /// `__name__`) and the focus label: matched series minus the distinct label sets
    /// they have without that label.
    pub series_added_by_label: Vec<NamedCount>,
    /// Series counted as active now (tenant-wide).
    pub active_series: u64,
}

/// One label name's figures over all shards.
#[derive(Default)]
struct NameAgg {
    /// Value -> (series in the head, matched series).
    values: HashMap<Box<str>, (u64, u64)>,
    /// Matched series carrying the label.
    series: u64,
    /// Bytes of its pairs in the matched series' keys.
    bytes: u64,
}

/// One shard as pass one saw it: how many slots it had, and which matched (`None`: all).
struct ShardView {
    bound: usize,
    mask: Option<Vec<bool>>,
    matched: u64,
}

/// Computes `q` over `head`.
pub(crate) fn compute(head: &TenantHead, q: &CardinalityQuery) -> Cardinality {
    let limit = q.limit.max(1);
    let mut out = Cardinality::default();
    let mut names: HashMap<Box<str>, NameAgg> = HashMap::new();
    let mut views = Vec::with_capacity(SHARDS);
    for i in 0..SHARDS {
        let h = head.shard(i);
        let p = h.index.postings();
        let bound = p.len();
        let mask = (!q.selectors.is_empty()).then(|| {
            let mut m = vec![false; bound];
            for sel in &q.selectors {
                for s in h.index.select_slots(sel) {
                    m[s as usize] = true;
                }
            }
            m
        });
        let matched = mask
            .as_ref()
            .map_or(bound as u64, |m| m.iter().filter(|&&b| b).count() as u64);
        for (name, values) in p.lists() {
            let agg = match names.get_mut(name) {
                Some(a) => a,
                None => names.entry(name.into()).or_default(),
            };
            for (value, slots) in values {
                let all = slots.len() as u64;
                let n = match &mask {
                    None => all,
                    Some(m) => slots.iter().filter(|&&s| m[s as usize]).count() as u64,
                };
                match agg.values.get_mut(&**value) {
                    Some(c) => *c = (c.0 + all, c.1 + n),
                    None => {
                        agg.values.insert(value.clone(), (all, n));
                    }
                }
                agg.series += n;
                agg.bytes += n * (PAIR_OVERHEAD + name.len() as u64 + value.len() as u64);
            }
        }
        out.head.series += bound as u64;
        out.series += matched;
        for (id, s) in h.index.iter() {
            let mut has = false;
            for v in [
                &s.buf.samples[..],
                h.flushing.get(&id).map_or(&[][..], |v| &v[..]),
            ] {
                if let (Some(first), Some(last)) = (v.first(), v.last()) {
                    has = true;
                    out.head.min_time =
                        Some(out.head.min_time.map_or(first.ts, |t| t.min(first.ts)));
                    out.head.max_time = Some(out.head.max_time.map_or(last.ts, |t| t.max(last.ts)));
                }
            }
            out.head.series_with_samples += u64::from(has);
        }
        views.push(ShardView {
            bound,
            mask,
            matched,
        });
    }
    out.active_series = head.active_series() as u64;

    let mut values_by_label = Vec::with_capacity(names.len());
    let mut pairs: Vec<(&str, &str, u64)> = Vec::new();
    for (name, agg) in &names {
        out.head.label_pairs += agg.values.len() as u64;
        let distinct = agg.values.values().filter(|c| c.1 > 0).count() as u64;
        out.label_pairs += distinct;
        if distinct == 0 {
            continue;
        }
        values_by_label.push(named(name, distinct));
        out.bytes_by_label.push(named(name, agg.bytes));
        out.series_by_label.push(named(name, agg.series));
        for (value, c) in &agg.values {
            if c.1 > 0 {
                pairs.push((name, value, c.1));
            }
        }
    }
    out.series_by_metric = top(
        names.get(METRIC_NAME).into_iter().flat_map(|a| {
            a.values
                .iter()
                .filter(|(_, c)| c.1 > 0)
                .map(|(v, c)| (&**v, c.1))
        }),
        limit,
    );
    if let Some(focus) = &q.focus_label {
        out.series_by_focus_value = top(
            names.get(focus.as_str()).into_iter().flat_map(|a| {
                a.values
                    .iter()
                    .filter(|(_, c)| c.1 > 0)
                    .map(|(v, c)| (&**v, c.1))
            }),
            limit,
        );
    }
    out.series_by_pair = top_pairs(pairs, limit);
    out.values_by_label = sort_cut(values_by_label, limit);
    out.bytes_by_label = sort_cut(std::mem::take(&mut out.bytes_by_label), limit);
    out.series_by_label = sort_cut(std::mem::take(&mut out.series_by_label), limit);

    let mut added: Vec<&str> = out
        .values_by_label
        .iter()
        .map(|n| n.name.as_str())
        .filter(|n| *n != METRIC_NAME)
        .take(MAX_ADDED_LABELS)
        .collect();
    if let Some(f) = q.focus_label.as_deref()
        && f != METRIC_NAME
        && !added.contains(&f)
        && names.contains_key(f)
    {
        added.push(f);
    }
    let counts = series_added(head, &views, &added);
    out.series_added_by_label = sort_cut(
        added.iter().zip(counts).map(|(n, c)| named(n, c)).collect(),
        usize::MAX,
    );
    out
}

/// For each label of `labels`: matched series minus their distinct label sets without it.
fn series_added(head: &TenantHead, views: &[ShardView], labels: &[&str]) -> Vec<u64> {
    let mut added = vec![0u64; labels.len()];
    if labels.is_empty() {
        return added;
    }
    let mut seen: HashSet<u64, BuildHasherDefault<IdMixHasher>> = HashSet::default();
    for (i, view) in views.iter().enumerate() {
        if view.matched == 0 {
            continue;
        }
        let h = head.shard(i);
        let p = h.index.postings();
        let bound = view.bound;
        let in_view = |s: Slot| (s as usize) < bound;
        // Each series' label-set hash: the sum of its pairs' hashes.
        let mut sums = vec![0u64; bound];
        for (name, values) in p.lists() {
            for (value, slots) in values {
                let hv = pair_hash(name, value);
                for &s in slots.iter().take_while(|&&s| in_view(s)) {
                    sums[s as usize] = sums[s as usize].wrapping_add(hv);
                }
            }
        }
        for (k, label) in labels.iter().enumerate() {
            let Some(values) = p.lists_of(label) else {
                continue; // no series here has it: dropping it merges none
            };
            let change = |sums: &mut [u64], sub: bool| {
                for (value, slots) in values {
                    let hv = pair_hash(label, value);
                    for &s in slots.iter().take_while(|&&s| in_view(s)) {
                        let x = &mut sums[s as usize];
                        *x = if sub {
                            x.wrapping_sub(hv)
                        } else {
                            x.wrapping_add(hv)
                        };
                    }
                }
            };
            change(&mut sums, true);
            seen.clear();
            match &view.mask {
                None => seen.extend(sums.iter().copied()),
                Some(m) => seen.extend(
                    sums.iter()
                        .zip(m)
                        .filter(|(_, keep)| **keep)
                        .map(|(x, _)| *x),
                ),
            }
            added[k] += view.matched - seen.len() as u64;
            change(&mut sums, false);
        }
    }
    added
}

/// A 64-bit hash of one label pair.
fn pair_hash(name: &str, value: &str) -> u64 {
    let mut h = twox_hash::XxHash3_64::default();
    std::hash::Hasher::write(&mut h, name.as_bytes());
    std::hash::Hasher::write(&mut h, &[0xFF]);
    std::hash::Hasher::write(&mut h, value.as_bytes());
    std::hash::Hasher::finish(&h)
}

fn named(name: &str, value: u64) -> NamedCount {
    NamedCount {
        name: name.to_owned(),
        value,
    }
}

/// Largest value first, then name.
fn order<S: AsRef<str>>(a: &(S, u64), b: &(S, u64)) -> std::cmp::Ordering {
    b.1.cmp(&a.1).then_with(|| a.0.as_ref().cmp(b.0.as_ref()))
}

/// `items` sorted by [`order`], cut to `limit`.
fn sort_cut(items: Vec<NamedCount>, limit: usize) -> Vec<NamedCount> {
    let mut v: Vec<(String, u64)> = items.into_iter().map(|n| (n.name, n.value)).collect();
    cut(&mut v, limit);
    v.into_iter()
        .map(|(name, value)| NamedCount { name, value })
        .collect()
}

/// The `limit` largest of `items` by [`order`], sorted.
fn top<'a>(items: impl Iterator<Item = (&'a str, u64)>, limit: usize) -> Vec<NamedCount> {
    let mut v: Vec<(&str, u64)> = items.collect();
    cut(&mut v, limit);
    v.into_iter().map(|(n, c)| named(n, c)).collect()
}

/// The `limit` largest label pairs by count, then by their `name=value` text. Only the
/// pairs whose count reaches the `limit`-th largest are formatted.
fn top_pairs(mut pairs: Vec<(&str, &str, u64)>, limit: usize) -> Vec<NamedCount> {
    if pairs.len() > limit {
        pairs.select_nth_unstable_by(limit - 1, |a, b| b.2.cmp(&a.2));
        let floor = pairs[limit - 1].2;
        pairs.retain(|p| p.2 >= floor);
    }
    let mut v: Vec<(String, u64)> = pairs
        .into_iter()
        .map(|(n, val, c)| (format!("{n}={val}"), c))
        .collect();
    cut(&mut v, limit);
    v.into_iter()
        .map(|(name, value)| NamedCount { name, value })
        .collect()
}

/// Sorts `v` by [`order`] and keeps the first `limit`, selecting first when it is long.
fn cut<S: AsRef<str>>(v: &mut Vec<(S, u64)>, limit: usize) {
    if v.len() > limit && limit > 0 {
        v.select_nth_unstable_by(limit - 1, order);
        v.truncate(limit);
    }
    v.sort_unstable_by(order);
}
