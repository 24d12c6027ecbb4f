//! The OTLP metrics fast path: protobuf requests read in place ([`super::metrics_wire`]),
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

/// Maps keyed by bytes: xxh3 rather than SipHash (keys come from clients, but a collision
/// only costs a comparison, and the maps are bounded).
type BytesMap<'k, V> = HashMap<&'k [u8], V, BuildHasherDefault<XxHash3_64>>;

use super::labels::{ResourceLabels, finish};
use super::metrics_wire::{self, MetricItem, NumberMetric, NumberPoint, PointValue};
use super::names::{MetricKind, metric_name};
use super::translate::{
    Builder, Context, TranslateOptions, Translated, add_target_info, millis, number_point,
    point_base, point_count, time_range, translate_metric, value_or_stale,
};

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
struct KeyedEntry<'a> {
    key: Range<usize>,
    known: Option<KnownSeries>,
    labels: Vec<(String, String)>,
    samples: Vec<Sample>,
    /// The points, for labels (first one) and rejections.
    points: Vec<NumberPoint<'a>>,
    /// Index into [`Pending::metrics`].
    metric: usize,
}

/// The scope and name a fast point belongs to.
struct MetricRef<'a> {
    resource: usize,
    otlp_name: &'a str,
    name: String,
}

/// A request translated by the fast path: what to write, and the counts for the response.
pub(crate) struct FastMetrics<'a> {
    /// Points, rejections and messages for `partial_success`; its `series` are the ones the
    /// general translation made (written with their labels, not keyed).
    pub(crate) translated: Translated,
    keys: Vec<u8>,
    entries: Vec<KeyedEntry<'a>>,
}

impl FastMetrics<'_> {
    /// Calls `write` with everything to hand to [`strata_engine::Engine::write_keyed`]:
    /// the keyed series, then the general translation's series (not keyed).
    pub(crate) fn with_series<R>(&self, write: impl FnOnce(&[KeyedSeries<'_>]) -> R) -> R {
        fn refs(labels: &[(String, String)]) -> Vec<(&str, &str)> {
            labels
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .collect()
        }
        let keyed: Vec<Vec<(&str, &str)>> = self.entries.iter().map(|e| refs(&e.labels)).collect();
        let general: Vec<Vec<(&str, &str)>> = self
            .translated
            .series
            .iter()
            .map(|s| refs(&s.labels))
            .collect();
        let mut series = Vec::with_capacity(keyed.len() + general.len());
        for (e, labels) in self.entries.iter().zip(&keyed) {
            series.push(KeyedSeries {
                key: &self.keys[e.key.clone()],
                known: e.known,
                labels,
                samples: &e.samples,
            });
        }
        for (s, labels) in self.translated.series.iter().zip(&general) {
            series.push(KeyedSeries {
                key: &[],
                known: None,
                labels,
                samples: &s.samples,
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
        out.series = self
            .entries
            .into_iter()
            .filter(|e| e.known.is_none())
            .map(|e| SeriesSamples {
                labels: e.labels,
                samples: e.samples,
            })
            .chain(general)
            .collect();
        out
    }

    /// Whether there is nothing to write.
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty() && self.translated.series.is_empty()
    }
}

/// The points collected for the key lookup, per request.
struct Pending<'a> {
    keys: Vec<u8>,
    points: Vec<(Range<usize>, usize, NumberPoint<'a>)>,
    metrics: Vec<MetricRef<'a>>,
    /// `job`/`instance` of each resource (no scope labels: the fast path runs only without
    /// scope promotion).
    resources: Vec<ResourceLabels>,
}

/// Translates a protobuf `ExportMetricsServiceRequest` by the fast path, asking `known` for
/// the series the engine knows by key. `None`: use the general path for the whole request
/// (nothing was looked up that matters; nothing was written).
pub(crate) fn translate<'a>(
    body: &'a [u8],
    opts: &TranslateOptions,
    known: impl FnOnce(&[&[u8]]) -> Vec<Option<KnownSeries>>,
) -> Option<FastMetrics<'a>> {
    if opts.promote_scope_metadata {
        return None;
    }
    let read = metrics_wire::read(body)?;
    let mut b = Builder::default();
    let mut pending = Pending {
        keys: Vec::new(),
        points: Vec::new(),
        metrics: Vec::new(),
        resources: Vec::new(),
    };
    for rm in &read {
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
        for sm in &rm.scopes {
            if let Some(scope) = sm.scope {
                // Not used without promotion, but prost would refuse a malformed one.
                InstrumentationScope::decode(scope).ok()?;
            }
            for item in &sm.metrics {
                let number = match item {
                    MetricItem::Number(m) => fast_metric(m),
                    MetricItem::Other(_) => None,
                };
                let Some((m, name)) = number else {
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
                    };
                    translate_metric(&mut b, &ctx, &metric);
                    continue;
                };
                b.out.points += m.points.len() as u64;
                let metric_ctx =
                    context_id(&[&b"M"[..], &resource_ctx.to_le_bytes(), name.as_bytes()].concat());
                let mi = pending.metrics.len();
                pending.metrics.push(MetricRef {
                    resource: r,
                    otlp_name: m.name,
                    name,
                });
                for p in &m.points {
                    if p.time_unix_nano != 0 {
                        let t = millis(p.time_unix_nano);
                        widen(t, t);
                    }
                    let keyable =
                        p.time_unix_nano != 0 && (p.value.is_some() || no_recorded_value(p.flags));
                    match p.attrs.filter(|_| keyable) {
                        Some(attrs) => {
                            let start = pending.keys.len();
                            pending.keys.push(KEY_MARK);
                            pending.keys.extend_from_slice(&metric_ctx.to_le_bytes());
                            pending.keys.extend_from_slice(attrs);
                            pending.points.push((start..pending.keys.len(), mi, *p));
                        }
                        None => {
                            let point = NumberDataPoint::decode(p.bytes).ok()?;
                            let ctx = Context {
                                resource: &pending.resources[r],
                                scope: &[],
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
    resolve(b, pending, known)
}

/// The stored name of a gauge or cumulative sum with points, or `None` when the general
/// translation must handle (and refuse) it.
fn fast_metric<'m, 'a>(m: &'m NumberMetric<'a>) -> Option<(&'m NumberMetric<'a>, String)> {
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
    Some((m, name))
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

/// Groups the keyed points by key, looks the keys up, and computes the labels of the
/// series the engine does not know (as the general translation would).
fn resolve<'a>(
    mut b: Builder,
    pending: Pending<'a>,
    known: impl FnOnce(&[&[u8]]) -> Vec<Option<KnownSeries>>,
) -> Option<FastMetrics<'a>> {
    let Pending {
        keys,
        points,
        metrics,
        resources,
    } = pending;
    let mut entries: Vec<KeyedEntry<'a>> = Vec::new();
    {
        let mut index: BytesMap<'_, usize> =
            HashMap::with_capacity_and_hasher(points.len(), Default::default());
        for (range, metric, p) in points {
            match index.entry(&keys[range.clone()]) {
                Entry::Occupied(e) => {
                    let entry = &mut entries[*e.get()];
                    entry.samples.push(sample(&p));
                    entry.points.push(p);
                }
                Entry::Vacant(v) => {
                    v.insert(entries.len());
                    entries.push(KeyedEntry {
                        key: range,
                        known: None,
                        labels: Vec::new(),
                        samples: vec![sample(&p)],
                        points: vec![p],
                        metric,
                    });
                }
            }
        }
    }
    let refs: Vec<&[u8]> = entries.iter().map(|e| &keys[e.key.clone()]).collect();
    let found = known(&refs);
    drop(refs);
    let mut kept = Vec::with_capacity(entries.len());
    for (mut e, k) in entries
        .into_iter()
        .zip(found.into_iter().chain(std::iter::repeat(None)))
    {
        e.known = k;
        if e.known.is_none() {
            let m = &metrics[e.metric];
            let ctx = Context {
                resource: &resources[m.resource],
                scope: &[],
            };
            let first = NumberDataPoint::decode(e.points[0].bytes).ok()?;
            match point_base(
                &mut b,
                &ctx,
                m.otlp_name,
                &first.attributes,
                first.time_unix_nano,
            ) {
                Some((base, _)) => e.labels = finish(&base, &m.name, &[]),
                None => {
                    // Refused (the attributes do not map): every point of the series is,
                    // each counted, as the general translation does.
                    for p in &e.points[1..] {
                        let point = NumberDataPoint::decode(p.bytes).ok()?;
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
        kept.push(e);
    }
    Some(FastMetrics {
        translated: b.finish(),
        keys,
        entries: kept,
    })
}

#[cfg(test)]
#[path = "metrics_fast_tests.rs"]
mod tests;
