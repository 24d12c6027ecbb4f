//! Tests of the trim operators' maths ([`FloatHistogram::trim`]). Inputs and expected results
//! are Prometheus's, from the trim section of
//! `promql/promqltest/testdata/native_histograms.test`.

// 1.4142135624 is the test file's cut point (√2 to 11 digits), not a constant.
#![allow(clippy::approx_constant)]

use super::tests_histogram::h;
use super::{FloatHistogram, Trim};

/// Equal, or within a relative 1e-9 (the test file's cut point 1.4142135624 is √2 to 11
/// digits; Prometheus's test framework compares histograms with a tolerance too).
fn close(got: f64, want: f64) -> bool {
    got == want || (got - want).abs() <= 1e-9 * want.abs().max(1e-300)
}

fn assert_trim(input: &str, side: Trim, rhs: f64, want: &str) {
    let mut got = h(input);
    got.trim(rhs, side);
    // Prometheus's test framework compares compacted histograms.
    let mut want: FloatHistogram = h(want);
    want.compact(0);
    let ctx = format!("{input} {side:?} {rhs}: got {got:?}, want {want:?}");
    assert!(close(got.count, want.count), "count: {ctx}");
    assert!(close(got.sum, want.sum), "sum: {ctx}");
    assert!(close(got.zero_count, want.zero_count), "zero count: {ctx}");
    assert_eq!(got.positive_spans, want.positive_spans, "spans: {ctx}");
    assert_eq!(
        got.negative_spans, want.negative_spans,
        "negative spans: {ctx}"
    );
    for (g, w) in got.positive.iter().zip(&want.positive) {
        assert!(close(*g, *w), "buckets: {ctx}");
    }
    for (g, w) in got.negative.iter().zip(&want.negative) {
        assert!(close(*g, *w), "negative buckets: {ctx}");
    }
    assert_eq!(got.positive.len(), want.positive.len(), "{ctx}");
    assert_eq!(got.negative.len(), want.negative.len(), "{ctx}");
}

const H_TEST: &str = "{{schema:0 sum:123.75 count:34 z_bucket:1 z_bucket_w:0.001 buckets:[2 4 8 16] n_buckets:[1 2]}}";
const H_TEST_2: &str = "{{schema:2 sum:12.8286080906 count:28 z_bucket:1 z_bucket_w:0.001 buckets:[1 2 4 7 3] n_buckets:[1 5 3 1]}}";

#[test]
fn infinite_cut_points_keep_all_or_nothing() {
    assert_trim(H_TEST, Trim::Lower, f64::NEG_INFINITY, H_TEST);
    assert_trim(H_TEST, Trim::Upper, f64::INFINITY, H_TEST);
    assert_trim(
        H_TEST,
        Trim::Lower,
        f64::INFINITY,
        "{{schema:0 z_bucket_w:0.001}}",
    );
    assert_trim(
        H_TEST,
        Trim::Upper,
        f64::NEG_INFINITY,
        "{{schema:0 z_bucket_w:0.001}}",
    );
}

#[test]
fn exponential_buckets_interpolate_logarithmically() {
    assert_trim(
        H_TEST,
        Trim::Lower,
        0.0,
        "{{schema:0 sum:120.20840280171308 count:30.5 z_bucket:0.5 z_bucket_w:0.001 buckets:[2 4 8 16]}}",
    );
    assert_trim(
        H_TEST,
        Trim::Upper,
        0.0,
        "{{schema:0 sum:-3.53578390593273768 count:3.5 z_bucket:0.5 z_bucket_w:0.001 n_buckets:[1 2]}}",
    );
    assert_trim(
        H_TEST,
        Trim::Upper,
        1.4142135624,
        "{{count:8 sum:0.2570938865989847 z_bucket:1 z_bucket_w:0.001 buckets:[2 2] n_buckets:[1 2]}}",
    );
    assert_trim(
        H_TEST,
        Trim::Lower,
        1.4142135624,
        "{{count:26 sum:116.50067065070982 z_bucket_w:0.001 buckets:[0 2 8 16]}}",
    );
    assert_trim(
        H_TEST_2,
        Trim::Upper,
        1.13,
        "{{schema:2 count:13.410582181123704 sum:-9.385798726068233 z_bucket:1 z_bucket_w:0.001 buckets:[1 1.410582181123704] n_buckets:[1 5 3 1]}}",
    );
    assert_trim(
        H_TEST_2,
        Trim::Upper,
        -1.3,
        "{{schema:2 count:2.45786052095524 sum:-3.5189307983595066 z_bucket_w:0.001 n_offset:2 n_buckets:[1.45786052095524 1]}}",
    );
    assert_trim(
        H_TEST,
        Trim::Lower,
        2.0,
        "{{count:24 sum:113.13708498984761 z_bucket_w:0.001 offset:2 buckets:[8 16]}}",
    );
}

#[test]
fn zero_bucket_leans_to_the_side_with_buckets() {
    let pos = "{{schema:0 sum:8.0210678118654755 count:12 z_bucket:2 z_bucket_w:0.5 buckets:[10]}}";
    assert_trim(
        pos,
        Trim::Lower,
        0.1,
        "{{schema:0 count:11.6 sum:7.551067811865476 z_bucket:1.6 z_bucket_w:0.5 buckets:[10]}}",
    );
    assert_trim(pos, Trim::Lower, 0.0, pos);
}

#[test]
fn custom_buckets_interpolate_linearly_and_drop_infinite_buckets() {
    let join = "{{schema:-53 sum:33 count:101 custom_values:[5] buckets:[1 100]}}";
    assert_trim(
        join,
        Trim::Lower,
        1.0,
        "{{schema:-53 count:100.8 sum:502.4 custom_values:[5] buckets:[0.8 100]}}",
    );
    let neg = "{{schema:-53 sum:33 count:101 custom_values:[-5] buckets:[1 100]}}";
    assert_trim(
        neg,
        Trim::Upper,
        -10.0,
        "{{schema:-53 sum:-10.0 count:1 custom_values:[-5] buckets:[1 0]}}",
    );
    assert_trim(
        neg,
        Trim::Lower,
        10.0,
        "{{schema:-53 sum:1000.0 count:100 custom_values:[-5] buckets:[0 100]}}",
    );
}

#[test]
fn empty_histograms_stay_empty() {
    for rhs in [f64::NEG_INFINITY, -5.0, 0.0, 5.0, f64::INFINITY] {
        assert_trim("{{}}", Trim::Upper, rhs, "{{}}");
        let cbh = "{{schema:-53 custom_values:[-3 2]}}";
        assert_trim(cbh, Trim::Lower, rhs, cbh);
    }
}
