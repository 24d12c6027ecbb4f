//! OTLP delta temporality made cumulative, per series, in memory (`[otlp]
//! delta_to_cumulative`, off by default), as Prometheus 3's `otlp-deltatocumulative`
//! (the OpenTelemetry Collector's processor of that name) does: each series keeps the
//! running total of the deltas it was sent, and every delta point is stored as that total.
//!
//! - A float series (a delta sum; a delta histogram's `_bucket`, `_sum` and `_count`
//!   series) adds each point's value to its total.
//! - A native histogram series (a delta exponential histogram, or a delta explicit one
//!   stored as NHCB) adds bucket by bucket: exponential buckets at the coarser of the two
//!   schemas; custom buckets only with the same bounds.
//! - A point not after the series' last one is dropped (`delta_out_of_order`); a histogram
//!   that cannot be added (other bounds, another zero threshold, float counts) starts the
//!   total again from itself, a counter reset PromQL's `rate` reads as one.
//! - A "no recorded value" point is stored as the staleness marker it is, the total kept.
//! - Totals idle for [`IDLE_MS`] are forgotten, and at most [`MAX_STREAMS`] are kept: a
//!   new series past it is refused (`delta_streams_limit`). A restart forgets every total:
//!   the series start again from their next delta, as after a counter reset.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use strata_engine::{Counts, Histogram, HistogramSample, SCHEMA_CUSTOM, Span, TenantId};

use super::Translated;

/// A total not added to for this long is forgotten.
pub(crate) const IDLE_MS: i64 = 3_600_000;
/// Totals kept at most (all tenants).
pub(crate) const MAX_STREAMS: usize = 100_000;
/// Prometheus's staleness marker.
const STALE_NAN: u64 = 0x7ff0_0000_0000_0002;

/// What one conversion did, for the self-metrics.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Converted {
    /// Delta samples stored as running totals.
    pub(crate) converted: u64,
    /// Dropped: not after their series' last point.
    pub(crate) out_of_order: u64,
    /// Refused: a new series past [`MAX_STREAMS`].
    pub(crate) over_limit: u64,
}

/// The running totals of every delta series.
#[derive(Debug, Default)]
pub(crate) struct DeltaState {
    totals: Mutex<HashMap<Box<[u8]>, Total>>,
}

#[derive(Debug)]
struct Total {
    last_ts: i64,
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    Float(f64),
    Histogram(Histogram),
}

impl DeltaState {
    /// Replaces the samples of `t`'s delta series (`t.delta_series`, `t.delta_histograms`)
    /// by their running totals, for `tenant`.
    pub(crate) fn accumulate(&self, tenant: &TenantId, t: &mut Translated) -> Converted {
        let mut out = Converted::default();
        let mut totals = self.totals.lock().unwrap_or_else(|p| p.into_inner());
        let now_newest = newest(t);
        if totals.len() >= MAX_STREAMS / 2 {
            totals.retain(|_, v| v.last_ts >= now_newest.saturating_sub(IDLE_MS));
        }
        for &i in &t.delta_series {
            let s = &mut t.series[i];
            let key = key(tenant, &s.labels);
            s.samples.sort_by_key(|x| x.ts);
            let mut kept = Vec::with_capacity(s.samples.len());
            for x in s.samples.drain(..) {
                let Some(total) = slot(&mut totals, &key, x.ts, &mut out) else {
                    continue;
                };
                if x.value.to_bits() == STALE_NAN {
                    kept.push(x);
                    continue;
                }
                let sum = match &mut total.kind {
                    Kind::Float(v) => {
                        *v += x.value;
                        *v
                    }
                    k => {
                        *k = Kind::Float(x.value);
                        x.value
                    }
                };
                total.last_ts = x.ts;
                out.converted += 1;
                kept.push(strata_engine::Sample {
                    ts: x.ts,
                    value: sum,
                });
            }
            s.samples = kept;
        }
        for &i in &t.delta_histograms {
            let s = &mut t.histograms[i];
            let key = key(tenant, &s.labels);
            s.histograms.sort_by_key(|x| x.ts);
            let mut kept = Vec::with_capacity(s.histograms.len());
            for x in s.histograms.drain(..) {
                let Some(total) = slot(&mut totals, &key, x.ts, &mut out) else {
                    continue;
                };
                if x.h.sum.to_bits() == STALE_NAN {
                    kept.push(x);
                    continue;
                }
                let sum = match &total.kind {
                    Kind::Histogram(acc) => add(acc, &x.h).unwrap_or_else(|| (*x.h).clone()),
                    Kind::Float(_) => (*x.h).clone(),
                };
                total.kind = Kind::Histogram(sum.clone());
                total.last_ts = x.ts;
                out.converted += 1;
                kept.push(HistogramSample {
                    ts: x.ts,
                    h: std::sync::Arc::new(sum),
                });
            }
            s.histograms = kept;
        }
        out
    }
}

/// The newest timestamp of `t`'s samples (the clock of idleness: the senders' time).
fn newest(t: &Translated) -> i64 {
    let floats = t.series.iter().flat_map(|s| s.samples.iter().map(|x| x.ts));
    let hists = t
        .histograms
        .iter()
        .flat_map(|s| s.histograms.iter().map(|x| x.ts));
    floats.chain(hists).max().unwrap_or(0)
}

/// The total of `key` for a point at `ts`: created (from zero) when new and under the
/// limit; `None`, counted, when the point is not after the last one or over the limit.
fn slot<'m>(
    totals: &'m mut HashMap<Box<[u8]>, Total>,
    key: &[u8],
    ts: i64,
    out: &mut Converted,
) -> Option<&'m mut Total> {
    if !totals.contains_key(key) {
        if totals.len() >= MAX_STREAMS {
            out.over_limit += 1;
            return None;
        }
        totals.insert(
            key.into(),
            Total {
                last_ts: i64::MIN,
                kind: Kind::Float(0.0),
            },
        );
    }
    let total = totals.get_mut(key)?;
    if ts <= total.last_ts {
        out.out_of_order += 1;
        return None;
    }
    if ts.saturating_sub(total.last_ts) > IDLE_MS && total.last_ts != i64::MIN {
        // Idle past the window: the total starts again, as a forgotten one would.
        total.kind = Kind::Float(0.0);
    }
    Some(total)
}

/// The tenant and the labels as one exact key.
fn key(tenant: &TenantId, labels: &[(String, String)]) -> Vec<u8> {
    let mut k = Vec::with_capacity(64);
    k.extend_from_slice(tenant.as_str().as_bytes());
    for (n, v) in labels {
        k.push(0xff);
        k.extend_from_slice(n.as_bytes());
        k.push(0xfe);
        k.extend_from_slice(v.as_bytes());
    }
    k
}

/// `acc + d`, bucket by bucket; `None` when they cannot be added.
fn add(acc: &Histogram, d: &Histogram) -> Option<Histogram> {
    let (
        Counts::Int {
            count: c1,
            zero_count: z1,
            positive_deltas: p1,
            negative_deltas: n1,
        },
        Counts::Int {
            count: c2,
            zero_count: z2,
            positive_deltas: p2,
            negative_deltas: n2,
        },
    ) = (&acc.counts, &d.counts)
    else {
        return None;
    };
    let custom = acc.schema == SCHEMA_CUSTOM || d.schema == SCHEMA_CUSTOM;
    if custom && (acc.schema != d.schema || acc.custom_values != d.custom_values) {
        return None;
    }
    if acc.zero_threshold != d.zero_threshold {
        return None;
    }
    let schema = acc.schema.min(d.schema);
    let side = |s1: &[Span], d1: &[i64], s2: &[Span], d2: &[i64]| {
        let mut m = buckets(s1, d1, acc.schema - schema);
        for (i, c) in buckets(s2, d2, d.schema - schema) {
            *m.entry(i).or_insert(0) += c;
        }
        layout(&m)
    };
    let (positive_spans, positive_deltas) = side(&acc.positive_spans, p1, &d.positive_spans, p2);
    let (negative_spans, negative_deltas) = side(&acc.negative_spans, n1, &d.negative_spans, n2);
    Some(Histogram {
        schema,
        zero_threshold: acc.zero_threshold,
        sum: acc.sum + d.sum,
        reset_hint: acc.reset_hint,
        positive_spans,
        negative_spans,
        custom_values: acc.custom_values.clone(),
        counts: Counts::Int {
            count: c1.saturating_add(*c2),
            zero_count: z1.saturating_add(*z2),
            positive_deltas,
            negative_deltas,
        },
    })
}

/// Bucket index -> absolute count, exponential buckets merged `down` schemas coarser
/// (bucket `i` becomes `((i - 1) >> down) + 1`, as Prometheus reduces a schema).
fn buckets(spans: &[Span], deltas: &[i64], down: i32) -> BTreeMap<i32, i64> {
    let mut out = BTreeMap::new();
    let (mut idx, mut count, mut at) = (0i32, 0i64, 0usize);
    for (n, s) in spans.iter().enumerate() {
        idx = if n == 0 { s.offset } else { idx + s.offset };
        for _ in 0..s.length {
            count += deltas.get(at).copied().unwrap_or(0);
            at += 1;
            let i = if down > 0 {
                ((idx - 1) >> down) + 1
            } else {
                idx
            };
            *out.entry(i).or_insert(0) += count;
            idx += 1;
        }
    }
    out
}

/// Non-empty buckets as spans and deltas.
fn layout(m: &BTreeMap<i32, i64>) -> (Vec<Span>, Vec<i64>) {
    let (mut spans, mut deltas): (Vec<Span>, Vec<i64>) = (Vec::new(), Vec::new());
    let (mut prev, mut next) = (0i64, None::<i32>);
    for (&i, &c) in m.iter().filter(|(_, c)| **c != 0) {
        match (spans.last_mut(), next) {
            (Some(s), Some(n)) if n == i => s.length += 1,
            (_, n) => spans.push(Span {
                offset: n.map_or(i, |n| i - n),
                length: 1,
            }),
        }
        next = Some(i + 1);
        deltas.push(c - prev);
        prev = c;
    }
    (spans, deltas)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use strata_engine::{ResetHint, Sample, SeriesHistograms, SeriesSamples};

    use super::*;

    fn floats(points: &[(i64, f64)]) -> Translated {
        Translated {
            series: vec![SeriesSamples {
                labels: vec![("__name__".into(), "c_total".into())],
                samples: points
                    .iter()
                    .map(|&(ts, value)| Sample { ts, value })
                    .collect(),
            }],
            delta_series: vec![0],
            ..Translated::default()
        }
    }

    fn values(t: &Translated) -> Vec<(i64, u64)> {
        t.series[0]
            .samples
            .iter()
            .map(|s| (s.ts, s.value.to_bits()))
            .collect()
    }

    #[test]
    fn float_deltas_become_running_totals_per_tenant() {
        let d = DeltaState::default();
        let (a, b) = (TenantId::new("a").unwrap(), TenantId::new("b").unwrap());
        let mut t = floats(&[(2_000, 3.0), (1_000, 1.0)]);
        assert_eq!(d.accumulate(&a, &mut t).converted, 2);
        assert_eq!(
            values(&t),
            [(1_000, 1f64.to_bits()), (2_000, 4f64.to_bits())]
        );
        // The next request goes on from the total; another tenant has its own.
        let stale = f64::from_bits(STALE_NAN);
        let mut t = floats(&[(3_000, 2.0), (4_000, stale), (5_000, 1.0)]);
        d.accumulate(&a, &mut t);
        let want = [
            (3_000, 6f64.to_bits()),
            (4_000, STALE_NAN),
            (5_000, 7f64.to_bits()),
        ];
        assert_eq!(values(&t), want);
        let mut t = floats(&[(3_000, 2.0)]);
        d.accumulate(&b, &mut t);
        assert_eq!(values(&t), [(3_000, 2f64.to_bits())]);
        // A point not after the last is dropped, counted.
        let mut t = floats(&[(5_000, 9.0), (4_500, 9.0), (6_000, 1.0)]);
        let c = d.accumulate(&a, &mut t);
        assert_eq!((c.converted, c.out_of_order), (1, 2));
        assert_eq!(values(&t), [(6_000, 8f64.to_bits())]);
        // Idle past the window: the total starts again.
        let mut t = floats(&[(6_000 + IDLE_MS + 1, 5.0)]);
        d.accumulate(&a, &mut t);
        assert_eq!(values(&t)[0].1, 5f64.to_bits());
    }

    fn hist(schema: i32, spans: &[(i32, u32)], deltas: &[i64], custom: &[f64]) -> Histogram {
        let count: i64 = deltas
            .iter()
            .scan(0, |c, d| {
                *c += d;
                Some(*c)
            })
            .sum();
        Histogram {
            schema,
            zero_threshold: 0.0,
            sum: count as f64,
            reset_hint: ResetHint::Unknown,
            positive_spans: spans
                .iter()
                .map(|&(offset, length)| Span { offset, length })
                .collect(),
            negative_spans: vec![],
            custom_values: custom.to_vec(),
            counts: Counts::Int {
                count: count as u64,
                zero_count: 0,
                positive_deltas: deltas.to_vec(),
                negative_deltas: vec![],
            },
        }
    }

    fn accumulate_hists(d: &DeltaState, points: Vec<(i64, Histogram)>) -> Vec<Histogram> {
        let mut t = Translated {
            histograms: vec![SeriesHistograms {
                labels: vec![("__name__".into(), "h".into())],
                histograms: points
                    .into_iter()
                    .map(|(ts, h)| HistogramSample { ts, h: Arc::new(h) })
                    .collect(),
            }],
            delta_histograms: vec![0],
            ..Translated::default()
        };
        d.accumulate(&TenantId::new("a").unwrap(), &mut t);
        t.histograms[0]
            .histograms
            .iter()
            .map(|x| (*x.h).clone())
            .collect()
    }

    #[test]
    fn histogram_deltas_add_bucket_by_bucket() {
        let d = DeltaState::default();
        // Schema 1 buckets 1 and 2 (counts 1, 2), then schema 0 bucket 1 (count 3): the
        // total is at schema 0, where schema 1's buckets 1 and 2 both fall into bucket 1.
        let got = accumulate_hists(
            &d,
            vec![
                (1, hist(1, &[(1, 2)], &[1, 1], &[])),
                (2, hist(0, &[(1, 1)], &[3], &[])),
            ],
        );
        assert_eq!(got[1], {
            let mut h = hist(0, &[(1, 1)], &[6], &[]);
            h.sum = 6.0;
            h
        });
        // Custom buckets with the same bounds add; other bounds start again.
        let d = DeltaState::default();
        let got = accumulate_hists(
            &d,
            vec![
                (1, hist(SCHEMA_CUSTOM, &[(0, 2)], &[1, 1], &[0.5])),
                (2, hist(SCHEMA_CUSTOM, &[(1, 1)], &[4], &[0.5])),
                (3, hist(SCHEMA_CUSTOM, &[(0, 1)], &[7], &[0.25])),
            ],
        );
        let counts = |h: &Histogram| match &h.counts {
            Counts::Int {
                count,
                positive_deltas,
                ..
            } => (*count, positive_deltas.clone()),
            Counts::Float { .. } => (0, vec![]),
        };
        assert_eq!(counts(&got[1]), (7, vec![1, 5]), "buckets 1 and 1+4");
        assert_eq!(
            got[1].positive_spans,
            [Span {
                offset: 0,
                length: 2
            }]
        );
        assert_eq!(counts(&got[2]), (7, vec![7]), "other bounds: a reset");
        assert_eq!(got[2].custom_values, [0.25]);
    }

    #[test]
    fn new_series_past_the_limit_are_refused() {
        let d = DeltaState::default();
        let t = TenantId::new("a").unwrap();
        let mut many = Translated::default();
        for i in 0..=MAX_STREAMS {
            many.series.push(SeriesSamples {
                labels: vec![("i".into(), i.to_string())],
                samples: vec![Sample { ts: 1, value: 1.0 }],
            });
            many.delta_series.push(i);
        }
        let c = d.accumulate(&t, &mut many);
        assert_eq!((c.converted, c.over_limit), (MAX_STREAMS as u64, 1));
    }
}
