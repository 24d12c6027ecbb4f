//! Tests of [`FloatHistogram`]'s maths: the tables of Prometheus's own tests
//! (`tests_cases.rs`) and hand-derived bucket boundaries.

use std::sync::Arc;

use super::tests_cases::{ADD, COMPACT, Case2, DETECT_RESET, DIV, MUL, REDUCE, SUB};
use super::{CUSTOM_BUCKETS_SCHEMA, Error, FloatHistogram, ResetHint, Span, bucket_bound};

/// Parses `promqltest`'s histogram notation, e.g. `{{schema:0 count:4 sum:5 buckets:[1 2 1]}}`,
/// plus `spans:[offset:length ...]` / `n_spans:[...]` for layouts with several spans.
pub(super) fn h(text: &str) -> FloatHistogram {
    let body = text.trim().trim_start_matches("{{").trim_end_matches("}}");
    let mut out = FloatHistogram::default();
    let (mut offset, mut n_offset) = (0, 0);
    let (mut spans, mut n_spans) = (None, None);
    let mut rest = body.trim();
    while !rest.is_empty() {
        let (key, after) = rest.split_once(':').expect("key");
        let (value, tail) = if let Some(list) = after.strip_prefix('[') {
            let (v, t) = list.split_once(']').expect("list end");
            (v, t)
        } else {
            after.split_once(' ').unwrap_or((after, ""))
        };
        rest = tail.trim();
        let num = |v: &str| -> f64 {
            match v {
                "Inf" | "+Inf" => f64::INFINITY,
                "-Inf" => f64::NEG_INFINITY,
                "NaN" => f64::NAN,
                _ => v.parse().unwrap_or_else(|_| panic!("number {v}")),
            }
        };
        let list = |v: &str| v.split_whitespace().map(num).collect::<Vec<f64>>();
        let span_list = |v: &str| {
            v.split_whitespace()
                .map(|s| {
                    let (o, l) = s.split_once(':').expect("offset:length");
                    Span {
                        offset: o.parse().expect("offset"),
                        length: l.parse().expect("length"),
                    }
                })
                .collect::<Vec<_>>()
        };
        match key.trim() {
            "schema" => out.schema = value.parse().expect("schema"),
            "count" => out.count = num(value),
            "sum" => out.sum = num(value),
            "z_bucket" => out.zero_count = num(value),
            "z_bucket_w" => out.zero_threshold = num(value),
            "offset" => offset = value.parse().expect("offset"),
            "n_offset" => n_offset = value.parse().expect("n_offset"),
            "buckets" => out.positive = list(value),
            "n_buckets" => out.negative = list(value),
            "spans" => spans = Some(span_list(value)),
            "n_spans" => n_spans = Some(span_list(value)),
            "custom_values" => out.custom_values = Arc::from(list(value)),
            "counter_reset_hint" => {
                out.reset_hint = match value {
                    "gauge" => ResetHint::Gauge,
                    "reset" => ResetHint::Reset,
                    "not_reset" => ResetHint::NotReset,
                    _ => ResetHint::Unknown,
                }
            }
            other => panic!("unknown key {other}"),
        }
    }
    let one = |offset: i32, n: usize| match n {
        0 => vec![],
        n => vec![Span {
            offset,
            length: n as u32,
        }],
    };
    out.positive_spans = spans.unwrap_or_else(|| one(offset, out.positive.len()));
    out.negative_spans = n_spans.unwrap_or_else(|| one(n_offset, out.negative.len()));
    out
}

/// Compacts both (as Prometheus's tests do) and compares everything, the hint included.
fn assert_same(name: &str, mut got: FloatHistogram, want: &str) {
    let mut want = h(want);
    got.compact(0);
    want.compact(0);
    assert!(
        got.equals(&want) && got.reset_hint == want.reset_hint,
        "{name}:\n got {got:?}\nwant {want:?}"
    );
}

fn run_combine(cases: &[Case2], add: bool) {
    for &(name, a, b, want, err, collision, reconciled) in cases {
        // Prometheus checks addition both ways round; subtraction only as written.
        let orders: &[(&str, &str)] = if add { &[(a, b), (b, a)] } else { &[(a, b)] };
        for &(x, y) in orders {
            let mut res = h(x);
            let out = if add { res.add(&h(y)) } else { res.sub(&h(y)) };
            if err {
                assert_eq!(out, Err(Error::IncompatibleSchema), "{name}");
                continue;
            }
            let flags = out.unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(flags.counter_reset_collision, collision, "{name}");
            assert_eq!(flags.custom_bounds_reconciled, reconciled, "{name}");
            if let Some(want) = want {
                assert_same(name, res, want);
            }
        }
    }
}

#[test]
fn add_matches_prometheus() {
    run_combine(ADD, true);
}

#[test]
fn sub_matches_prometheus() {
    run_combine(SUB, false);
}

#[test]
fn detect_reset_matches_prometheus() {
    for &(name, prev, cur, want) in DETECT_RESET {
        assert_eq!(h(cur).detect_reset(&h(prev)), want, "{name}");
    }
}

#[test]
fn compact_matches_prometheus() {
    for &(name, input, max, want) in COMPACT {
        let mut got = h(input);
        got.compact(max);
        let want = h(want);
        // Compact's own layout is what is under test: compare spans exactly.
        assert_eq!(
            got.positive_spans, want.positive_spans,
            "{name} positive spans"
        );
        assert_eq!(
            got.negative_spans, want.negative_spans,
            "{name} negative spans"
        );
        assert!(got.equals(&want), "{name}:\n got {got:?}\nwant {want:?}");
    }
}

#[test]
fn reduce_resolution_matches_prometheus() {
    // Prometheus's cases without a result refuse spans and buckets that disagree: that is
    // validation, which this module leaves to the engine's `validate` (stage S1).
    for &(name, origin, target, want) in REDUCE {
        if let Some(want) = want {
            let mut got = h(origin);
            got.reduce_resolution(target)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_same(name, got, want);
        }
    }
    let mut nhcb = h("{{schema:-53 custom_values:[1 2] buckets:[1 2 3]}}");
    assert!(nhcb.reduce_resolution(-1).is_err());
    assert!(h("{{schema:0}}").reduce_resolution(0).is_err());
    assert!(
        h("{{schema:0}}")
            .reduce_resolution(CUSTOM_BUCKETS_SCHEMA)
            .is_err()
    );
}

#[test]
fn mul_and_div_match_prometheus() {
    for &(name, input, factor, want) in MUL {
        let mut got = h(input);
        got.mul(factor);
        assert_same(name, got, want);
    }
    for &(name, input, scalar, want) in DIV {
        let mut got = h(input);
        got.div(scalar);
        assert_same(name, got, want);
    }
}

#[test]
fn bounds_of_exponential_and_custom_buckets() {
    // By hand: base 2^(2^-schema); bucket i's upper bound is base^i.
    let cases: &[(i32, i32, f64)] = &[
        (0, 0, 1.0),
        (1, 0, 2.0),
        (-1, 0, 0.5),
        (1, 1, std::f64::consts::SQRT_2),
        (2, 1, 2.0),
        (3, 2, 2f64.powf(0.75)),
        (1, -1, 4.0),
        (-2, -2, 2f64.powi(-8)),
        (1, -4, 65536.0),
        (256, 8, 2.0),
        (1024, 0, f64::MAX),
        (1025, 0, f64::INFINITY),
        (-1074, 0, f64::from_bits(1)), // the smallest subnormal
        (64, -4, f64::MAX),
    ];
    for &(idx, schema, want) in cases {
        let got = bucket_bound(idx, schema, &[]);
        assert!(
            (got - want).abs() <= want * 1e-15 || got == want,
            "bound({idx}, {schema}) = {got}, want {want}"
        );
    }
    let cv = [1.0, 2.5];
    assert_eq!(
        bucket_bound(-1, CUSTOM_BUCKETS_SCHEMA, &cv),
        f64::NEG_INFINITY
    );
    assert_eq!(bucket_bound(0, CUSTOM_BUCKETS_SCHEMA, &cv), 1.0);
    assert_eq!(bucket_bound(1, CUSTOM_BUCKETS_SCHEMA, &cv), 2.5);
    assert_eq!(bucket_bound(2, CUSTOM_BUCKETS_SCHEMA, &cv), f64::INFINITY);
}

#[test]
fn iterators_walk_all_buckets_in_order() {
    // By hand: zero bucket [-0.5, 0.5] with 1; positive (0.5,1] 1, (1,2] 2; negative
    // [-1,-0.5) 3 (cut at the zero threshold: its lower bound 0.5 lies in the zero bucket).
    let hist =
        h("{{schema:0 z_bucket:1 z_bucket_w:0.7 count:7 sum:0 buckets:[1 2] n_buckets:[3]}}");
    let got: Vec<(f64, f64, f64)> = hist
        .all_buckets()
        .iter()
        .map(|b| (b.lower, b.upper, b.count))
        .collect();
    assert_eq!(
        got,
        vec![
            (-1.0, -0.7, 3.0),
            (-0.7, 0.7, 1.0),
            (0.7, 1.0, 1.0),
            (1.0, 2.0, 2.0)
        ]
    );
    let rev: Vec<f64> = hist.all_buckets_rev().iter().map(|b| b.upper).collect();
    assert_eq!(rev, vec![2.0, 1.0, 0.7, -0.7]);
    let nhcb = h("{{schema:-53 count:3 sum:1 custom_values:[1 2] spans:[0:1 1:1] buckets:[1 2]}}");
    let got: Vec<(f64, f64, bool, f64)> = nhcb
        .positive_buckets()
        .map(|b| (b.lower, b.upper, b.lower_inclusive, b.count))
        .collect();
    assert_eq!(
        got,
        vec![
            (f64::NEG_INFINITY, 1.0, true, 1.0),
            (2.0, f64::INFINITY, false, 2.0)
        ]
    );
}

#[test]
fn add_reconciles_mismatched_custom_bounds_like_prometheus() {
    // native_histograms.test: sums of custom-bucket histograms with other boundaries.
    let mut sum = h("{{schema:-53 sum:1 count:1 custom_values:[10] buckets:[1]}}");
    let flags = sum.add(&h(
        "{{schema:-53 sum:1 count:1 custom_values:[2 10] buckets:[1]}}",
    ));
    assert!(flags.is_ok_and(|f| f.custom_bounds_reconciled));
    assert_same(
        "t0",
        sum,
        "{{schema:-53 count:2 sum:2 custom_values:[10] buckets:[2]}}",
    );
    let mut sum = h("{{schema:-53 sum:1 count:1 custom_values:[5 10] buckets:[1]}}");
    assert!(
        sum.add(&h(
            "{{schema:-53 sum:1 count:1 custom_values:[5] buckets:[1]}}"
        ))
        .is_ok()
    );
    assert!(
        sum.add(&h(
            "{{schema:-53 sum:1 count:1 custom_values:[5 10] buckets:[1]}}"
        ))
        .is_ok()
    );
    assert_same(
        "t2",
        sum,
        "{{schema:-53 count:3 sum:3 custom_values:[5] buckets:[3]}}",
    );
}

#[test]
fn equals_ignores_layout_but_not_values() {
    let a = h("{{schema:0 count:3 sum:1 spans:[0:1 0:1] buckets:[1 2]}}");
    let b = h("{{schema:0 count:3 sum:1 buckets:[1 2]}}");
    assert!(a.equals(&b));
    assert!(!a.equals(&h("{{schema:0 count:3 sum:1 buckets:[1 3]}}")));
    assert!(!a.equals(&h("{{schema:1 count:3 sum:1 buckets:[1 2]}}")));
    let nan = h("{{schema:0 count:3 sum:NaN buckets:[1 2]}}");
    assert!(nan.equals(&nan.clone()));
}

/// `h` with its first positive span split in two by a zero gap: the same buckets in a
/// layout [`FloatHistogram::same_layout`] refuses, so sums and reset checks on it take the
/// general paths.
fn split(mut h: FloatHistogram) -> FloatHistogram {
    let s = h.positive_spans[0];
    assert!(s.length >= 2, "a span to split");
    let halves = [
        Span {
            offset: s.offset,
            length: 1,
        },
        Span {
            offset: 0,
            length: s.length - 1,
        },
    ];
    h.positive_spans.splice(0..1, halves);
    h
}

#[test]
fn same_layout_shortcuts_agree_with_the_general_paths() {
    let pairs = [
        // Counts up everywhere; a zero bucket; negative buckets.
        (
            "{{schema:3 count:14 sum:5 z_bucket:2 z_bucket_w:0.001 offset:-2 buckets:[1 2 3 4] n_offset:1 n_buckets:[1 1]}}",
            "{{schema:3 count:20 sum:9 z_bucket:3 z_bucket_w:0.001 offset:-2 buckets:[2 2 5 4] n_offset:1 n_buckets:[2 2]}}",
        ),
        // One bucket down: a reset.
        (
            "{{schema:0 count:10 sum:5 spans:[0:2 3:2] buckets:[1 2 3 4]}}",
            "{{schema:0 count:11 sum:6 spans:[0:2 3:2] buckets:[1 3 3 3.5]}}",
        ),
        // A bucket inside a wide zero bucket: no shortcut for the reset check.
        (
            "{{schema:0 count:10 sum:5 z_bucket:1 z_bucket_w:0.5 offset:-3 buckets:[1 2 3 3]}}",
            "{{schema:0 count:12 sum:6 z_bucket:1 z_bucket_w:0.5 offset:-3 buckets:[0 3 4 4]}}",
        ),
        // Custom buckets.
        (
            "{{schema:-53 count:6 sum:5 custom_values:[1 2 5] buckets:[1 2 3]}}",
            "{{schema:-53 count:5 sum:6 custom_values:[1 2 5] buckets:[2 2 1]}}",
        ),
    ];
    for (a, b) in pairs {
        let (a, b) = (h(a), h(b));
        // Buckets inside the zero bucket are left to the general path.
        let inside = a.zero_threshold > bucket_bound(a.positive_spans[0].offset, a.schema, &[]);
        assert_eq!(
            a.same_layout(&b) && b.same_layout(&a),
            !inside,
            "{a:?} {b:?}"
        );
        assert!(!split(a.clone()).same_layout(&b));
        for sub in [false, true] {
            let (mut fast, mut general) = (a.clone(), split(a.clone()));
            let op = |x: &mut FloatHistogram| if sub { x.sub(&b) } else { x.add(&b) };
            assert_eq!(op(&mut fast), op(&mut general));
            assert!(
                fast.equals(&general),
                "sub {sub}: {fast:?} against {general:?}"
            );
        }
        assert_eq!(
            b.detect_reset(&a),
            split(b.clone()).detect_reset(&a),
            "{a:?} {b:?}"
        );
        assert_eq!(
            a.detect_reset(&b),
            split(a.clone()).detect_reset(&b),
            "{a:?} {b:?}"
        );
    }
    // The cases above do exercise both answers.
    assert!(h(pairs[1].1).detect_reset(&h(pairs[1].0)));
    assert!(!h(pairs[0].1).detect_reset(&h(pairs[0].0)));
}

#[test]
fn subset_shortcuts_agree_with_the_general_paths() {
    // (narrower, wider): the wider one has every bucket of the narrower one, and more.
    let pairs = [
        // A counter that gained buckets at both ends and in a gap; a negative side.
        (
            "{{schema:3 count:8 sum:5 z_bucket:1 z_bucket_w:0.001 spans:[0:2 3:1] buckets:[1 2 3] n_offset:1 n_buckets:[1]}}",
            "{{schema:3 count:20 sum:9 z_bucket:2 z_bucket_w:0.001 spans:[-1:5 1:2] buckets:[1 2 3 1 4 3 1] n_offset:0 n_buckets:[1 2]}}",
        ),
        // A bucket went down: a reset.
        (
            "{{schema:0 count:10 sum:5 spans:[0:2 3:1] buckets:[1 5 4]}}",
            "{{schema:0 count:12 sum:6 spans:[0:2 1:3] buckets:[2 3 1 1 5]}}",
        ),
        // Custom buckets with the same bounds.
        (
            "{{schema:-53 count:3 sum:5 custom_values:[1 2 5] spans:[0:1 1:1] buckets:[1 2]}}",
            "{{schema:-53 count:9 sum:6 custom_values:[1 2 5] buckets:[2 2 3 2]}}",
        ),
    ];
    for (narrow, wide) in pairs {
        let (narrow, wide) = (h(narrow), h(wide));
        assert!(
            wide.clone().add_within(&narrow, 1.0),
            "a subset: {narrow:?} {wide:?}"
        );
        assert!(wide.went_down_within(&narrow).is_some());
        for sub in [false, true] {
            let (mut fast, mut general) = (wide.clone(), split(wide.clone()));
            let op = |x: &mut FloatHistogram| if sub { x.sub(&narrow) } else { x.add(&narrow) };
            assert_eq!(op(&mut fast), op(&mut general));
            assert!(
                fast.equals(&general),
                "sub {sub}: {fast:?} against {general:?}"
            );
            assert_eq!(
                fast.positive_spans, wide.positive_spans,
                "the layout is kept"
            );
        }
        assert_eq!(
            wide.detect_reset(&narrow),
            split(wide.clone()).detect_reset(&narrow),
            "{narrow:?} {wide:?}"
        );
        // The other way round no bucket list is a subset: the general paths, unchanged.
        let mut n = narrow.clone();
        assert!(!n.add_within(&wide, 1.0));
        assert!(n.equals(&narrow));
        assert_eq!(narrow.went_down_within(&wide), None);
    }
    assert!(!h(pairs[0].1).detect_reset(&h(pairs[0].0)));
    assert!(h(pairs[1].1).detect_reset(&h(pairs[1].0)));
}
