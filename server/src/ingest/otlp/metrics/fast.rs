//! The OTLP metrics fast path: protobuf requests read in place ([`super::wire`]),
//! and the gauge and sum points of series the engine already knows stored without decoding
//! their attributes or building their labels.
//!
//! A point's series is determined by its resource, its metric (name, unit, kind: the stored
//! name) and its attributes. The fast path keys each point by a context id standing for
//! (resource bytes, stored name) and the point's attribute bytes, and asks the engine which
//! keys it knows ([`strata_engine::Engine::known_series`], the map remote-write uses). A key
//! is learnt only by storing a series whose labels were computed from a prost-decoded point
//! with those exact bytes in that context, so equal bytes mean the same, valid labels.
//! Every other part of a request goes through the general translation
//! ([`super::translate`]) unchanged: histograms and summaries, points without a time or a
//! value, metrics the mapping refuses, `target_info`, and unknown points (whose labels are
//! computed exactly as there, and whose keys are then learnt). With scope promotion on, or
//! for anything the in-place reader leaves to prost, the caller uses the general path for
//! the whole request.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::hash::BuildHasherDefault;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{LazyLock, Mutex, PoisonError};

use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, DataPointFlags, Metric, NumberDataPoint,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;
use strata_engine::{KeyedSeries, KnownSeries, Sample, SeriesSamples};
use twox_hash::XxHash3_64;

use super::labels::{ResourceLabels, finish};
use super::names::{MetricKind, metric_name};
use super::point::{millis, value_or_stale};
use super::translate::{
    Builder, Context, TranslateOptions, Translated, add_target_info, number_point,
    number_point_exemplars, point_base, point_count, time_range, translate_metric,
};
use super::wire::{self, MetricItem, NumberMetric, NumberPoint, PointValue};

/// First byte of every fast-path key. Remote-write keys are `Label` field bytes and start
/// with 0x0A, so the two kinds of keys in a tenant's map never meet.
const KEY_MARK: u8 = 0xFF;

/// Contexts remembered before the table starts over (ids are never reused, so keys made
/// with a forgotten id only stop matching).
const MAX_CONTEXTS: usize = 1 << 16;

/// Context bytes -> id, shared by all tenants (a key is only looked up in its tenant's map).
static CONTEXTS: LazyLock<Mutex<ContextMap>> = LazyLock::new(Default::default);

type ContextMap = HashMap<Vec<u8>, u64, BuildHasherDefault<XxHash3_64>>;
static NEXT_CONTEXT: AtomicU64 = AtomicU64::new(1);

fn context_id(bytes: &[u8]) -> u64 {
    let mut map = CONTEXTS.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(&id) = map.get(bytes) {
        return id;
    }
    if map.len() >= MAX_CONTEXTS {
        map.clear();
    }
    let id = NEXT_CONTEXT.fetch_add(1, Ordering::Relaxed);
    map.insert(bytes.to_vec(), id);
    id
}

/// One series of the fast path: its key, and its labels when the engine did not know it.
struct KeyedEntry {
    key: Range<usize>,
    known: Option<KnownSeries>,
    labels: Vec<(String, String)>,
    /// Its samples, in [`FastMetrics::samples`].
    samples: Range<usize>,
}

/// The scope and name a fast point belongs to.
struct MetricRef<'a> {
    resource: usize,
    otlp_name: &'a str,
    name: String,
}

/// A request translated by the fast path: what to write, and the counts for the response.
pub(crate) struct FastMetrics {
    /// Points, rejections and messages for `partial_success`; its `series` are the ones the
    /// general translation made (written with their labels, not keyed).
    pub(crate) translated: Translated,
    keys: Vec<u8>,
    /// The keyed series' samples, series after series.
    samples: Vec<Sample>,
    entries: Vec<KeyedEntry>,
}

impl FastMetrics {
    /// Calls `write` with everything to hand to [`strata_engine::Engine::write_keyed`]:
    /// the keyed series, then the general translation's series and native histograms (not
    /// keyed).
    pub(crate) fn with_series<R>(&self, write: impl FnOnce(&[KeyedSeries<'_>]) -> R) -> R {
        fn refs(labels: &[(String, String)]) -> Vec<(&str, &str)> {
            labels
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .collect()
        }
        // Labels only for the series the engine did not know (usually none).
        let unknown: Vec<Vec<(&str, &str)>> = self
            .entries
            .iter()
            .filter(|e| e.known.is_none())
            .map(|e| refs(&e.labels))
            .collect();
        let general: Vec<Vec<(&str, &str)>> = self
            .translated
            .series
            .iter()
            .map(|s| refs(&s.labels))
            .collect();
        let mut series = Vec::with_capacity(self.entries.len() + general.len());
        let mut unknown = unknown.iter();
        for e in &self.entries {
            let labels = match e.known {
                Some(_) => &[][..],
                None => unknown.next().map_or(&[][..], Vec::as_slice),
            };
            series.push(KeyedSeries {
                key: &self.keys[e.key.clone()],
                by_symbols: false,
                known: e.known,
                labels,
                samples: &self.samples[e.samples.clone()],
                histograms: &[],
                sample_starts: &[],
                histogram_starts: &[],
            });
        }
        for (s, labels) in self.translated.series.iter().zip(&general) {
            series.push(KeyedSeries {
                key: &[],
                by_symbols: false,
                known: None,
                labels,
                samples: &s.samples,
                histograms: &[],
                sample_starts: &[],
                histogram_starts: &[],
            });
        }
        let histograms: Vec<Vec<(&str, &str)>> = self
            .translated
            .histograms
            .iter()
            .map(|s| refs(&s.labels))
            .collect();
        for (s, labels) in self.translated.histograms.iter().zip(&histograms) {
            series.push(KeyedSeries {
                key: &[],
                by_symbols: false,
                known: None,
                labels,
                samples: &[],
                histograms: &s.histograms,
                sample_starts: &[],
                histogram_starts: &[],
            });
        }
        write(&series)
    }

    /// The whole translation with labels, for checking the fast path against the general
    /// one: the keyed series the engine did not know (with their computed labels) followed
    /// by the general translation's. Series the engine knew have no labels here and are
    /// left out.
    pub(crate) fn into_labelled(self) -> Translated {
        let mut out = self.translated;
        let general = std::mem::take(&mut out.series);
        let samples = self.samples;
        out.series = self
            .entries
            .into_iter()
            .filter(|e| e.known.is_none())
            .map(|e| SeriesSamples {
                labels: e.labels,
                samples: samples[e.samples].to_vec(),
            })
            .chain(general)
            .collect();
        out
    }

    /// Whether there is nothing to write.
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
            && self.translated.series.is_empty()
            && self.translated.histograms.is_empty()
    }
}

/// A keyed point's series within a request: its metric's context id and its attribute
/// bytes, hashed once.
#[derive(Clone, Copy)]
struct GroupKey<'a> {
    hash: u64,
    ctx: u64,
    attrs: &'a [u8],
}

impl PartialEq for GroupKey<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.hash == other.hash && self.ctx == other.ctx && self.attrs == other.attrs
    }
}

impl Eq for GroupKey<'_> {}

impl std::hash::Hash for GroupKey<'_> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

/// Hands [`GroupKey::hash`] to the map as it is (it is already xxh3).
#[derive(Default)]
struct PassHasher(u64);

impl std::hash::Hasher for PassHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Not reached for `GroupKey`; any other input still hashes.
        self.0 = XxHash3_64::oneshot_with_seed(self.0, bytes);
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// One series of a request's keyed points.
struct Group<'a> {
    ctx: u64,
    attrs: &'a [u8],
    /// Index into [`Pending::metrics`].
    metric: usize,
    /// How many points it has.
    points: usize,
}

/// The points collected for the key lookup, per request.
struct Pending<'a> {
    index: HashMap<GroupKey<'a>, usize, BuildHasherDefault<PassHasher>>,
    groups: Vec<Group<'a>>,
    /// Keyed points in request order: (index into the request's points, group).
    keyed: Vec<(usize, usize)>,
    metrics: Vec<MetricRef<'a>>,
    /// `job`/`instance` of each resource (no scope labels: the fast path runs only without
    /// scope promotion).
    resources: Vec<ResourceLabels>,
}

impl<'a> Pending<'a> {
    /// Adds point `point` of metric `metric` to the series (`ctx`, `attrs`).
    fn add(&mut self, ctx: u64, attrs: &'a [u8], metric: usize, point: usize) {
        // A series' points often come one after another (several steps of it in one
        // request): then the previous point's group is this one's, without hashing.
        if let Some(&(_, g)) = self.keyed.last() {
            let last = &mut self.groups[g];
            if last.ctx == ctx && last.attrs == attrs {
                last.points += 1;
                self.keyed.push((point, g));
                return;
            }
        }
        let key = GroupKey {
            hash: XxHash3_64::oneshot(attrs) ^ ctx.wrapping_mul(0x9E37_79B9_7F4A_7C15),
            ctx,
            attrs,
        };
        let group = match self.index.entry(key) {
            Entry::Occupied(e) => {
                let g = *e.get();
                self.groups[g].points += 1;
                g
            }
            Entry::Vacant(v) => {
                v.insert(self.groups.len());
                self.groups.push(Group {
                    ctx,
                    attrs,
                    metric,
                    points: 1,
                });
                self.groups.len() - 1
            }
        };
        self.keyed.push((point, group));
    }
}

/// Translates a protobuf `ExportMetricsServiceRequest` by the fast path, asking `known` for
/// the series the engine knows by key. `None`: use the general path for the whole request
/// (nothing was looked up that matters; nothing was written).
pub(crate) fn translate(
    body: &[u8],
    opts: &TranslateOptions,
    known: impl FnOnce(&[&[u8]]) -> Vec<Option<KnownSeries>>,
) -> Option<FastMetrics> {
    if opts.promote_scope_metadata {
        return None;
    }
    let read = wire::read(body)?;
    let mut b = Builder::default();
    let mut pending = Pending {
        index: HashMap::with_capacity_and_hasher(read.points.len(), Default::default()),
        groups: Vec::new(),
        keyed: Vec::with_capacity(read.points.len()),
        metrics: Vec::new(),
        resources: Vec::with_capacity(read.resources.len()),
    };
    for rm in &read.resources {
        let resource = Resource::decode(rm.resource).ok()?;
        let labels = ResourceLabels::new(&resource.attributes);
        let resource_ctx = context_id(&[b"R", rm.resource].concat());
        let r = pending.resources.len();
        pending.resources.push(labels);
        let mut range: Option<(i64, i64)> = None;
        let mut widen = |lo: i64, hi: i64| {
            range = Some(match range {
                Some((a, z)) => (a.min(lo), z.max(hi)),
                None => (lo, hi),
            });
        };
        for sm in &read.scopes[rm.scopes.clone()] {
            if let Some(scope) = sm.scope {
                // Not used without promotion, but prost would refuse a malformed one.
                InstrumentationScope::decode(scope).ok()?;
            }
            for item in &read.metrics[sm.metrics.clone()] {
                let number = match item {
                    MetricItem::Number(m) => fast_metric(m),
                    MetricItem::Other(_) => None,
                };
                let Some((m, name, kind)) = number else {
                    let bytes = match item {
                        MetricItem::Number(m) => m.bytes,
                        MetricItem::Other(bytes) => bytes,
                    };
                    let metric = Metric::decode(bytes).ok()?;
                    b.out.points += point_count(&metric);
                    if let Some((lo, hi)) = time_range(&metric) {
                        widen(lo, hi);
                    }
                    let ctx = Context {
                        resource: &pending.resources[r],
                        scope: &[],
                        nhcb: opts.convert_histograms_to_nhcb,
                        delta: opts.delta_to_cumulative,
                    };
                    translate_metric(&mut b, &ctx, &metric);
                    continue;
                };
                b.out.points += m.points.len() as u64;
                b.add_metadata(&name, kind, m.description, m.unit);
                let metric_ctx =
                    context_id(&[&b"M"[..], &resource_ctx.to_le_bytes(), name.as_bytes()].concat());
                let mi = pending.metrics.len();
                pending.metrics.push(MetricRef {
                    resource: r,
                    otlp_name: m.name,
                    name,
                });
                for (pi, p) in read.points[m.points.clone()]
                    .iter()
                    .enumerate()
                    .map(|(i, p)| (m.points.start + i, p))
                {
                    if p.time_unix_nano != 0 {
                        let t = millis(p.time_unix_nano);
                        widen(t, t);
                    }
                    let keyable =
                        p.time_unix_nano != 0 && (p.value.is_some() || no_recorded_value(p.flags));
                    match p.attrs.filter(|_| keyable) {
                        Some(attrs) => {
                            pending.add(metric_ctx, attrs, mi, pi);
                            if p.exemplars {
                                // Its sample stays keyed (in request order with the
                                // series' other points); its exemplars are decoded here.
                                let point = NumberDataPoint::decode(p.bytes).ok()?;
                                let ctx = Context {
                                    resource: &pending.resources[r],
                                    scope: &[],
                                    nhcb: false,  // a number point
                                    delta: false, // a cumulative or gauge point
                                };
                                let name = &pending.metrics[mi].name;
                                number_point_exemplars(&mut b, &ctx, name, &point);
                            }
                        }
                        None => {
                            let point = NumberDataPoint::decode(p.bytes).ok()?;
                            let ctx = Context {
                                resource: &pending.resources[r],
                                scope: &[],
                                nhcb: false,  // a number point
                                delta: false, // a cumulative or gauge point
                            };
                            let mref = &pending.metrics[mi];
                            number_point(&mut b, &ctx, mref.otlp_name, &mref.name, &point);
                        }
                    }
                }
            }
        }
        if opts.target_info
            && let Some(range) = range
        {
            let resource_labels = &pending.resources[r];
            add_target_info(
                &mut b,
                &resource.attributes,
                resource_labels,
                range,
                opts.lookback_delta_ms,
            );
        }
    }
    resolve(b, &read.points, pending, known)
}

/// The stored name of a gauge or cumulative sum with points, or `None` when the general
/// translation must handle (and refuse) it.
fn fast_metric<'m, 'a>(
    m: &'m NumberMetric<'a>,
) -> Option<(&'m NumberMetric<'a>, String, MetricKind)> {
    let kind = match m.sum {
        None => MetricKind::Gauge,
        Some((t, _)) if t != AggregationTemporality::Cumulative as i32 => return None,
        Some((_, true)) => MetricKind::MonotonicCounter,
        Some((_, false)) => MetricKind::NonMonotonicCounter,
    };
    if m.points.is_empty() {
        return None;
    }
    let name = metric_name(m.name, m.unit, kind).ok()?;
    Some((m, name, kind))
}

fn no_recorded_value(flags: u32) -> bool {
    flags & DataPointFlags::NoRecordedValueMask as u32 != 0
}

/// The sample of a keyable point (it has a time, and a value or the no-value flag).
fn sample(p: &NumberPoint<'_>) -> Sample {
    let value = match p.value {
        Some(PointValue::Double(v)) => v,
        Some(PointValue::Int(v)) => v as f64,
        None => 0.0,
    };
    Sample {
        ts: millis(p.time_unix_nano),
        value: value_or_stale(p.flags, value),
    }
}

/// Lays the keyed points' samples out series by series, looks the keys up, and computes
/// the labels of the series the engine does not know (as the general translation would).
fn resolve(
    mut b: Builder,
    points: &[NumberPoint<'_>],
    pending: Pending<'_>,
    known: impl FnOnce(&[&[u8]]) -> Vec<Option<KnownSeries>>,
) -> Option<FastMetrics> {
    let Pending {
        index,
        groups,
        keyed,
        metrics,
        resources,
    } = pending;
    drop(index);
    // One key per series: the mark, the context id, the attribute bytes.
    let mut keys = Vec::with_capacity(groups.iter().map(|g| 9 + g.attrs.len()).sum());
    let mut key_ranges = Vec::with_capacity(groups.len());
    // Where each series' samples start; then, while filling, where the next one goes.
    let mut starts = Vec::with_capacity(groups.len());
    let mut at = 0;
    for g in &groups {
        let start = keys.len();
        keys.push(KEY_MARK);
        keys.extend_from_slice(&g.ctx.to_le_bytes());
        keys.extend_from_slice(g.attrs);
        key_ranges.push(start..keys.len());
        starts.push(at);
        at += g.points;
    }
    let mut next = starts.clone();
    let mut samples = vec![Sample { ts: 0, value: 0.0 }; keyed.len()];
    // The points in the same order, for the labels and rejections of unknown series.
    let mut order = vec![0; keyed.len()];
    for &(p, g) in &keyed {
        let slot = next[g];
        next[g] += 1;
        samples[slot] = sample(&points[p]);
        order[slot] = p;
    }
    drop(next);
    let refs: Vec<&[u8]> = key_ranges.iter().map(|r| &keys[r.clone()]).collect();
    let found = known(&refs);
    drop(refs);
    let mut entries = Vec::with_capacity(groups.len());
    for (i, (g, key)) in groups.iter().zip(key_ranges).enumerate() {
        let span = starts[i]..starts[i] + g.points;
        let mut entry = KeyedEntry {
            key,
            known: found.get(i).copied().flatten(),
            labels: Vec::new(),
            samples: span.clone(),
        };
        if entry.known.is_none() {
            let m = &metrics[g.metric];
            let ctx = Context {
                resource: &resources[m.resource],
                scope: &[],
                nhcb: false,  // a number point
                delta: false, // a cumulative or gauge point
            };
            let first = NumberDataPoint::decode(points[order[span.start]].bytes).ok()?;
            match point_base(
                &mut b,
                &ctx,
                m.otlp_name,
                &first.attributes,
                first.time_unix_nano,
            ) {
                Some((base, _)) => entry.labels = finish(&base, &m.name, &[]),
                None => {
                    // Refused (the attributes do not map): every point of the series is,
                    // each counted, as the general translation does.
                    for &p in &order[span.start + 1..span.end] {
                        let point = NumberDataPoint::decode(points[p].bytes).ok()?;
                        point_base(
                            &mut b,
                            &ctx,
                            m.otlp_name,
                            &point.attributes,
                            point.time_unix_nano,
                        );
                    }
                    continue;
                }
            }
        }
        entries.push(entry);
    }
    Some(FastMetrics {
        translated: b.finish(),
        keys,
        samples,
        entries,
    })
}

#[cfg(test)]
#[path = "fast_tests.rs"]
mod tests;
