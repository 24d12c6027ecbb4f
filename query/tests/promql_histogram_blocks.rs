//! Histograms held column by column ([`HistBlock`]) answer every query exactly as one
//! histogram per sample does: the same values to the bit, the same hints, the same
//! annotations, whether the query reads the columns (`rate`, `increase`, `delta` over a
//! plain range) or expands them (everything else).

use std::sync::Arc;

use strata_engine::{
    Counts, Histogram, HistogramRun, HistogramSample, ResetHint as Hint, RunCounts, Span,
};
use strata_query::promql::native::{FloatHistogram, HistBlock, tsdb_read_hints};
use strata_query::promql::{
    LabelMatcher, Labels, MatchOp, PromqlEngine, QueryOptions, QueryResult, Result, SeriesSource,
    SourceSeries,
};

/// The engine's histograms of one series and its name.
struct Stored {
    name: &'static str,
    hs: Vec<HistogramSample>,
}

/// Series read one histogram per sample (`blocks` false) or as blocks.
struct Source {
    series: Vec<Stored>,
    blocks: bool,
}

/// One histogram per sample, as `EngineSource` reads series that do not qualify.
fn per_sample(hs: &[HistogramSample]) -> Vec<(i64, Arc<FloatHistogram>)> {
    let mut bounds: Arc<[f64]> = Arc::from(&[][..]);
    let mut out: Vec<(i64, FloatHistogram)> = hs
        .iter()
        .map(|s| (s.ts, FloatHistogram::from_engine(&s.h, &mut bounds)))
        .collect();
    tsdb_read_hints(&[], &mut out);
    out.into_iter().map(|(t, h)| (t, Arc::new(h))).collect()
}

impl SeriesSource for Source {
    fn select(&self, m: &[LabelMatcher], _: i64, _: i64) -> Result<Vec<SourceSeries>> {
        let name = m
            .iter()
            .find(|m| m.name == "__name__" && m.op == MatchOp::Equal)
            .map(|m| m.value.clone());
        Ok(self
            .series
            .iter()
            .enumerate()
            .filter(|(_, s)| name.as_deref().is_none_or(|n| s.name == n))
            .map(|(i, s)| {
                let block = self.blocks.then(|| {
                    Arc::new(HistBlock::from_engine(&s.hs).expect("the series qualifies"))
                });
                SourceSeries {
                    labels: Labels::from_pairs([
                        ("__name__", s.name.to_string()),
                        ("s", s.name.to_string()),
                        ("i", i.to_string()),
                    ]),
                    samples: Vec::new(),
                    histograms: if block.is_some() {
                        Vec::new()
                    } else {
                        per_sample(&s.hs)
                    },
                    block,
                    intervals: Vec::new(),
                }
            })
            .collect())
    }
}

/// A small deterministic generator.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

fn span(offset: i32, length: u32) -> Span {
    Span { offset, length }
}

/// `n` samples 15 s apart: bucket counts that rise (falling back to small ones at
/// `reset_at`), with `hint(i)` as the writer's hint; integer counts unless `float`.
#[allow(clippy::too_many_arguments)]
fn series(
    seed: u64,
    n: usize,
    layout: &Histogram,
    width: (usize, usize),
    float: bool,
    reset_at: Option<usize>,
    hint: impl Fn(usize) -> Hint,
) -> Vec<HistogramSample> {
    let mut rng = Lcg(seed);
    let mut counts = vec![0u64; width.0 + width.1];
    let mut zero = 0u64;
    (0..n)
        .map(|i| {
            if Some(i) == reset_at {
                counts.iter_mut().for_each(|c| *c /= 7);
                zero /= 7;
            }
            for c in &mut counts {
                *c += rng.next(5);
            }
            zero += rng.next(2);
            let count = counts.iter().sum::<u64>() + zero;
            let (pos, neg) = counts.split_at(width.0);
            let deltas = |cs: &[u64]| {
                let mut prev = 0i64;
                cs.iter()
                    .map(|&c| {
                        let d = c as i64 - prev;
                        prev = c as i64;
                        d
                    })
                    .collect::<Vec<i64>>()
            };
            let counts = if float {
                let f = |cs: &[u64]| cs.iter().map(|&c| c as f64 * 0.5).collect::<Vec<f64>>();
                Counts::Float {
                    count: count as f64 * 0.5,
                    zero_count: zero as f64 * 0.5,
                    positive: f(pos),
                    negative: f(neg),
                }
            } else {
                Counts::Int {
                    count,
                    zero_count: zero,
                    positive_deltas: deltas(pos),
                    negative_deltas: deltas(neg),
                }
            };
            HistogramSample {
                ts: 30_000 + i as i64 * 15_000,
                h: Arc::new(Histogram {
                    sum: count as f64 * 0.37,
                    reset_hint: hint(i),
                    counts,
                    ..layout.clone()
                }),
            }
        })
        .collect()
}

/// Custom buckets on four bounds, empty.
fn nhcb_layout() -> Histogram {
    Histogram {
        schema: -53,
        zero_threshold: 0.0,
        sum: 0.0,
        reset_hint: Hint::Unknown,
        positive_spans: vec![span(0, 5)],
        negative_spans: Vec::new(),
        custom_values: vec![0.1, 0.5, 1.0, 5.0],
        counts: Counts::Int {
            count: 0,
            zero_count: 0,
            positive_deltas: Vec::new(),
            negative_deltas: Vec::new(),
        },
    }
}

fn stored() -> Vec<Stored> {
    let nhcb = nhcb_layout();
    let expo = Histogram {
        schema: 2,
        zero_threshold: 0.001,
        positive_spans: vec![span(-2, 3), span(2, 2)],
        negative_spans: vec![span(1, 2)],
        custom_values: Vec::new(),
        ..nhcb.clone()
    };
    vec![
        // Integer NHCB counters, one reset in the middle.
        Stored {
            name: "nhcb",
            hs: series(1, 120, &nhcb, (5, 0), false, Some(60), |_| Hint::Unknown),
        },
        // Float exponential counters with a zero bucket and negative buckets: an explicit
        // reset hint, then a run of gauges inside the counter.
        Stored {
            name: "expo",
            hs: series(2, 120, &expo, (5, 2), true, None, |i| match i {
                40 => Hint::Reset,
                70..=74 => Hint::Gauge,
                _ => Hint::NotReset,
            }),
        },
        // A gauge histogram that goes up and down.
        Stored {
            name: "gauge",
            hs: series(3, 120, &nhcb, (5, 0), true, Some(50), |_| Hint::Gauge),
        },
        // Layouts that change: NHCB buckets that first fill at samples 30 and 80 (the
        // counter also resets at 80), exponential buckets that come and go.
        Stored {
            name: "grow",
            hs: narrowed(
                series(4, 120, &nhcb, (5, 0), false, Some(80), |_| Hint::Unknown),
                |i| {
                    if i < 30 {
                        3
                    } else if i < 80 {
                        4
                    } else {
                        5
                    }
                },
            ),
        },
        Stored {
            name: "shift",
            hs: narrowed(
                series(5, 120, &expo, (5, 2), true, None, |_| Hint::Unknown),
                |i| {
                    if (20..50).contains(&i) || i >= 100 {
                        4
                    } else {
                        5
                    }
                },
            ),
        },
    ]
}

/// `hs` with sample `i` keeping only its first `keep(i)` positive buckets (one span).
fn narrowed(hs: Vec<HistogramSample>, keep: impl Fn(usize) -> usize) -> Vec<HistogramSample> {
    hs.into_iter()
        .enumerate()
        .map(|(i, s)| {
            let k = keep(i);
            let mut h = (*s.h).clone();
            let first = h.positive_spans[0];
            h.positive_spans = vec![span(first.offset, k as u32)];
            match &mut h.counts {
                Counts::Int {
                    positive_deltas, ..
                } => positive_deltas.truncate(k),
                Counts::Float { positive, .. } => positive.truncate(k),
            }
            HistogramSample {
                ts: s.ts,
                h: Arc::new(h),
            }
        })
        .collect()
}

fn run(blocks: bool, q: &str, step: i64) -> QueryResult {
    run_on(stored(), blocks, q, 1_900_000, step)
}

fn run_on(series: Vec<Stored>, blocks: bool, q: &str, end: i64, step: i64) -> QueryResult {
    let source = Source { series, blocks };
    PromqlEngine::new(QueryOptions::default())
        .range(&source, q, 0, end, step)
        .unwrap_or_else(|e| panic!("{q}: {e}"))
}

#[test]
fn a_block_expands_to_the_histograms_read_one_by_one() {
    for s in stored() {
        let block = HistBlock::from_engine(&s.hs).expect("one layout qualifies");
        assert_eq!(block.len(), s.hs.len());
        // Debug prints -0.0 and NaN as such: equal text is equal bits here.
        assert_eq!(
            format!("{:?}", block.expand()),
            format!("{:?}", per_sample(&s.hs)),
            "{}",
            s.name
        );
    }
}

#[test]
fn a_single_histogram_or_a_stale_marker_stays_per_sample() {
    let mut hs = stored().remove(0).hs;
    assert!(HistBlock::from_engine(&hs[..1]).is_none(), "one sample");
    let mut stale = (*hs[9].h).clone();
    stale.sum = f64::from_bits(strata_query::promql::STALE_NAN_BITS);
    hs[9].h = Arc::new(stale);
    assert!(HistBlock::from_engine(&hs).is_none(), "stale marker");
}

#[test]
fn queries_over_blocks_answer_as_per_sample_histograms() {
    let queries = [
        "rate(nhcb[1m])",
        "rate(grow[2m])",
        "increase(shift[1m])",
        "delta(shift[5m])",
        "sum(rate({s=~\"grow|nhcb\"}[5m]))",
        "increase(expo[2m])",
        "rate(expo[5m])",
        "delta(gauge[1m])",
        "rate(gauge[1m])",
        "delta(nhcb[3m])",
        "sum(rate({s=~\"nhcb|gauge\"}[5m]))",
        "histogram_quantile(0.9, sum(rate(nhcb[5m])))",
        "histogram_quantile(0.5, rate(expo[2m]))",
        "irate(expo[1m])",
        "rate(nhcb[5m:30s])",
        "histogram_count(rate(nhcb[1m]))",
        "resets(nhcb[10m])",
        "nhcb",
        "count_over_time(expo[1m])",
    ];
    assert_same(stored, &queries, 1_900_000, &[15_000, 60_000]);
    // The answers are not empty, and the annotations this data calls for are there.
    let r = run(true, "rate(expo[5m])", 60_000);
    assert!(format!("{:?}", r.value).contains("FloatHistogram"));
    assert!(noted(&r, "not a counter") > 0, "{r:?}");
    let r = run(true, "delta(nhcb[3m])", 60_000);
    assert!(noted(&r, "not a gauge") > 0, "{r:?}");
}

/// Asserts that each of `queries` over `series` from 0 to `end` answers the same read one
/// histogram per sample and as blocks, at each of `steps`: the values to the bit, the
/// warnings and infos in order.
fn assert_same(series: fn() -> Vec<Stored>, queries: &[&str], end: i64, steps: &[i64]) {
    for q in queries {
        for &step in steps {
            let a = run_on(series(), false, q, end, step);
            let b = run_on(series(), true, q, end, step);
            assert_eq!(
                format!("{:?}", a.value),
                format!("{:?}", b.value),
                "{q} {step}"
            );
            assert_eq!(
                (&a.warnings, &a.infos),
                (&b.warnings, &b.infos),
                "{q} {step}"
            );
        }
    }
}

/// How many of `r`'s annotations (warnings and infos) say `text`.
fn noted(r: &QueryResult, text: &str) -> usize {
    r.warnings
        .iter()
        .chain(&r.infos)
        .filter(|w| w.contains(text))
        .count()
}

/// 300 NHCB series of an hour, integer and float: counter resets, runs of gauge hints and
/// layout changes at different samples in each, so that a range query's steps meet every
/// kind of window; enough that a range function's table over them (`eval/tables.rs`) is
/// computed on more than one thread where there is more than one core.
fn wide() -> Vec<Stored> {
    (0..300usize)
        .map(|j| {
            let reset = (j % 3 == 0).then_some(20 + j * 7 % 200);
            let gauge_at = (j % 11 == 0).then_some(30 + j * 13 % 180);
            let hint = move |i: usize| match gauge_at {
                Some(g) if (g..g + 3).contains(&i) => Hint::Gauge,
                _ => Hint::Unknown,
            };
            let hs = series(
                100 + j as u64,
                240,
                &nhcb_layout(),
                (5, 0),
                j % 2 == 1,
                reset,
                hint,
            );
            let hs = if j % 7 == 0 {
                let at = 10 + j * 17 % 220;
                narrowed(hs, move |i| if i < at { 4 } else { 5 })
            } else {
                hs
            };
            Stored { name: "wide", hs }
        })
        .collect()
}

#[test]
fn range_queries_over_many_blocks_answer_as_per_sample_histograms() {
    let queries = [
        "rate(wide[5m])",
        "increase(wide[1m])",
        "delta(wide[2m])",
        "rate(wide[5m] offset 3m)",
        "histogram_quantile(0.9, sum(rate(wide[5m])))",
        "sum by (s) (increase(wide[10m]))",
        "sum_over_time(histogram_count(rate(wide[2m]))[10m:1m])",
    ];
    let end = 3_800_000;
    assert_same(wide, &queries, end, &[15_000, 45_000, 60_000]);
    // The answers hold histograms at every step, and the annotations this data calls for.
    let r = run_on(wide(), true, "rate(wide[5m])", end, 60_000);
    let text = format!("{:?}", r.value);
    assert!(
        text.matches("FloatHistogram").count() > 300 * 40,
        "{text:.500}"
    );
    assert_eq!(
        noted(&r, "not a counter"),
        1,
        "one metric name: {:?}",
        r.warnings
    );
    let r = run_on(wide(), true, "delta(wide[2m])", end, 60_000);
    assert!(noted(&r, "not a gauge") > 0, "{r:?}");
}

/// `hs` (one layout) as the engine's run of them.
fn run_of(hs: &[HistogramSample]) -> HistogramRun {
    let first = &hs[0].h;
    let mut counts = match first.counts {
        Counts::Int { .. } => RunCounts::Int {
            count: vec![],
            zero: vec![],
            buckets: vec![],
        },
        Counts::Float { .. } => RunCounts::Float {
            count: vec![],
            zero: vec![],
            buckets: vec![],
        },
    };
    for s in hs {
        match (&mut counts, &s.h.counts) {
            (
                RunCounts::Int {
                    count,
                    zero,
                    buckets,
                },
                Counts::Int {
                    count: c,
                    zero_count,
                    positive_deltas,
                    negative_deltas,
                },
            ) => {
                count.push(*c);
                zero.push(*zero_count);
                for deltas in [positive_deltas, negative_deltas] {
                    let mut abs = 0u64;
                    buckets.extend(deltas.iter().map(|&d| {
                        abs = abs.wrapping_add(d as u64);
                        abs
                    }));
                }
            }
            (
                RunCounts::Float {
                    count,
                    zero,
                    buckets,
                },
                Counts::Float {
                    count: c,
                    zero_count,
                    positive,
                    negative,
                },
            ) => {
                count.push(*c);
                zero.push(*zero_count);
                buckets.extend(positive.iter().chain(negative));
            }
            _ => panic!("one kind of counts"),
        }
    }
    HistogramRun {
        layout: Histogram {
            counts: match &**first {
                Histogram {
                    counts: Counts::Int { count, .. },
                    ..
                } => Counts::Int {
                    count: *count,
                    zero_count: 0,
                    positive_deltas: vec![],
                    negative_deltas: vec![],
                },
                _ => Counts::Float {
                    count: 0.0,
                    zero_count: 0.0,
                    positive: vec![],
                    negative: vec![],
                },
            },
            ..(**first).clone()
        },
        ts: hs.iter().map(|s| s.ts).collect(),
        reset_hints: hs.iter().map(|s| s.h.reset_hint).collect(),
        sums: hs.iter().map(|s| s.h.sum).collect(),
        counts,
    }
}

#[test]
fn runs_from_files_and_samples_from_the_head_make_the_same_block() {
    for s in stored()
        .into_iter()
        .filter(|s| ["nhcb", "expo", "gauge"].contains(&s.name))
    {
        let hs = &s.hs;
        // Two runs around samples, and runs alone back to back.
        let parts = HistBlock::from_parts(&[run_of(&hs[..30]), run_of(&hs[50..])], &hs[30..50]);
        let runs = HistBlock::from_parts(&[run_of(&hs[..70]), run_of(&hs[70..])], &[]);
        let want = format!("{:?}", per_sample(hs));
        for (what, b) in [("parts", parts), ("runs", runs)] {
            let b = b.expect("qualifies");
            assert_eq!(format!("{:?}", b.expand()), want, "{} {what}", s.name);
        }
        // A run's samples as histograms of their own are the samples written.
        let run = run_of(&hs[10..20]);
        let back: Vec<HistogramSample> = run.samples().collect();
        assert_eq!(back, hs[10..20].to_vec(), "{}", s.name);
    }
}
