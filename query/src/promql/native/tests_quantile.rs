//! Tests of `histogram_quantile`, `histogram_fraction`, `histogram_stddev` and
//! `histogram_stdvar`. Expected values are Prometheus's, from the `histogram_*` lines of
//! `promql/promqltest/testdata/native_histograms.test` and `histograms.test`, or by hand.

// The values are Prometheus's printed results (3.1415, 1.414213562373095), not constants.
#![allow(clippy::approx_constant)]

use super::quantile::{
    Note, histogram_fraction, histogram_quantile, histogram_stddev, histogram_stdvar,
};
use super::tests_histogram::h;

/// Equal, or both NaN, or within a relative 1e-12 (Prometheus's test files print 16 digits).
fn close(got: f64, want: f64) -> bool {
    got == want
        || (got.is_nan() && want.is_nan())
        || ((got - want).abs() <= 1e-12 * want.abs().max(1e-300))
}

const Q1: &str = "{{schema:0 count:12 sum:100 z_bucket:2 z_bucket_w:0.001 buckets:[2 3 0 1 4]}}";
const Q2: &str = "{{schema:0 count:12 sum:100 z_bucket:2 z_bucket_w:0.001 n_buckets:[2 3 0 1 4]}}";
const Q3: &str = "{{schema:0 count:24 sum:100 z_bucket:4 z_bucket_w:0.001 buckets:[2 3 0 1 4] n_buckets:[2 3 0 1 4]}}";
const NHCB: &str = "{{schema:-53 sum:5 count:4 custom_values:[5 10] buckets:[1 2 1]}}";

#[test]
fn quantile_matches_prometheus() {
    let cases: &[(&str, f64, f64)] = &[
        (
            "{{schema:0 sum:5 count:4 buckets:[1 2 1]}}",
            0.5,
            1.414213562373095,
        ),
        (
            "{{schema:0 z_bucket:1 z_bucket_w:0.5 sum:0.25 count:1}}",
            0.5,
            0.0,
        ),
        (
            "{{schema:0 sum:-5 count:4 n_buckets:[1 2 1]}}",
            0.5,
            -1.414213562373095,
        ),
        (
            "{{schema:0 sum:0 count:8 buckets:[1 2 1] n_buckets:[1 2 1]}}",
            0.5,
            0.5,
        ),
        (
            "{{count:0.0033333333333333335 sum:0.006666666666666667 offset:1 buckets:[0.0033333333333333335]}}",
            0.5,
            1.414213562373095,
        ),
        (Q1, 1.001, f64::INFINITY),
        (Q1, 1.0, 16.0),
        (Q1, 0.99, 15.67072476139083),
        (Q1, 0.9, 12.99603834169977),
        (Q1, 0.6, 4.594793419988138),
        (Q1, 0.5, 1.5874010519681994),
        (Q1, 0.1, 0.0006),
        (Q1, 0.0, 0.0),
        (Q1, -1.0, f64::NEG_INFINITY),
        (Q2, 1.0, 0.0),
        (Q2, 0.99, -0.00006),
        (Q2, 0.9, -0.0006),
        (Q2, 0.5, -1.5874010519681996),
        (Q2, 0.1, -12.996038341699768),
        (Q2, 0.0, -16.0),
        (Q3, 1.0, 16.0),
        (Q3, 0.99, 15.34822590920423),
        (Q3, 0.9, 10.556063286183155),
        (Q3, 0.7, 1.2030250360821164),
        (Q3, 0.55, 0.0006),
        (Q3, 0.5, 0.0),
        (Q3, 0.45, -0.0006),
        (Q3, 0.3, -1.2030250360821169),
        (Q3, 0.1, -10.556063286183155),
        (Q3, 0.01, -15.34822590920423),
        (Q3, 0.0, -16.0),
        // Custom buckets interpolate linearly: rank 2 is half-way through (5, 10].
        (NHCB, 0.5, 7.5),
        // By hand: rank 0.4 in (-Inf, 5] (count 1) is read as (0, 5]: 0.4 * 5.
        (NHCB, 0.1, 2.0),
        // By hand: the rank lands in the +Inf bucket, whose lower bound is returned.
        (NHCB, 0.9, 10.0),
        // By hand: empty histogram and NaN q.
        ("{{schema:0 count:0 sum:0}}", 0.5, f64::NAN),
        (Q1, f64::NAN, f64::NAN),
    ];
    for &(text, q, want) in cases {
        let (got, note) = histogram_quantile(q, &h(text));
        assert!(
            close(got, want),
            "histogram_quantile({q}, {text}) = {got}, want {want}"
        );
        assert_eq!(note, None, "{text} {q}");
    }
}

#[test]
fn quantile_with_nan_observations() {
    // By hand: sum NaN, so the walk goes upwards. 4 observations in buckets, count 5: one
    // NaN observation sits above every bucket.
    let hist = h("{{schema:0 sum:NaN count:5 buckets:[1 2 1]}}");
    // q = 0.9: rank 4.5 is beyond the 4 bucketed observations.
    assert_eq!(
        histogram_quantile(0.9, &hist).1,
        Some(Note::QuantileNanResult)
    );
    assert!(histogram_quantile(0.9, &hist).0.is_nan());
    // q = 0.5: rank 2.5 in bucket (1, 2] (count 2, 1 below): fraction 0.75, exponential.
    let (v, note) = histogram_quantile(0.5, &hist);
    assert!(close(v, 2f64.powf(0.75)), "{v}");
    assert_eq!(note, Some(Note::QuantileNanSkew));
}

#[test]
fn fraction_matches_prometheus() {
    let inf = f64::INFINITY;
    let cases: &[(&str, f64, f64, f64)] = &[
        ("{{schema:0 sum:5 count:4 buckets:[1 2 1]}}", 1.0, 2.0, 0.5),
        ("{{schema:0 sum:5 count:4 buckets:[1 2 1]}}", 0.0, 8.0, 1.0),
        (
            "{{schema:0 sum:24 count:14 buckets:[1 12 1]}}",
            1.0,
            2.0,
            0.8571428571428571,
        ),
        (
            "{{schema:0 sum:4 count:5 buckets:[2 3] offset:1}}",
            1.0,
            4.0,
            1.0,
        ),
        (
            "{{schema:0 z_bucket:1 z_bucket_w:0.5 sum:0.25 count:1}}",
            -0.5,
            0.5,
            1.0,
        ),
        (
            "{{schema:0 sum:-5 count:4 n_buckets:[1 2 1]}}",
            -2.0,
            -1.0,
            0.5,
        ),
        (
            "{{schema:0 sum:0 count:8 buckets:[1 2 1] n_buckets:[1 2 1]}}",
            0.0,
            4.0,
            0.5,
        ),
        (NHCB, 5.0, 10.0, 0.5),
        // load_with_nhcb cases of histograms.test, as the custom-bucket histograms they load.
        (
            "{{schema:-53 count:100 sum:1 custom_values:[1 2 3] buckets:[1 2 3 94]}}",
            0.0,
            1.5,
            0.02,
        ),
        (
            "{{schema:-53 count:100 sum:1 custom_values:[-3 -2 -1] buckets:[10 2 3 85]}}",
            -4.0,
            -2.0,
            0.02,
        ),
        (
            "{{schema:-53 count:100 sum:1 custom_values:[-3 -2 -1] buckets:[10 2 3 85]}}",
            -inf,
            -1.5,
            0.135,
        ),
        (
            "{{schema:-53 count:100 sum:1 custom_values:[1 2 3] buckets:[1 2 3 94]}}",
            -inf,
            inf,
            1.0,
        ),
        (
            "{{schema:-53 count:100 sum:1 custom_values:[-3 -2 -1] buckets:[10 2 3 85]}}",
            -inf,
            inf,
            1.0,
        ),
        (
            "{{schema:-53 count:0 sum:0 custom_values:[-2 3]}}",
            -inf,
            inf,
            f64::NAN,
        ),
        ("{{schema:0 count:0 sum:0}}", 0.0, 8.0, f64::NAN),
        // By hand: lower >= upper is 0; a NaN bound is NaN.
        ("{{schema:0 sum:5 count:4 buckets:[1 2 1]}}", 2.0, 1.0, 0.0),
        (
            "{{schema:0 sum:5 count:4 buckets:[1 2 1]}}",
            f64::NAN,
            1.0,
            f64::NAN,
        ),
        // By hand: from 1 to sqrt(2) is half of (1, 2] on a log scale: 1 of 4.
        (
            "{{schema:0 sum:5 count:4 buckets:[1 2 1]}}",
            1.0,
            std::f64::consts::SQRT_2,
            0.25,
        ),
    ];
    for &(text, lo, hi, want) in cases {
        let (got, note) = histogram_fraction(lo, hi, &h(text));
        assert!(
            close(got, want),
            "histogram_fraction({lo}, {hi}, {text}) = {got}, want {want}"
        );
        assert_eq!(note, None);
    }
    // By hand: one NaN observation out of 5 is left out of the fraction.
    let (got, note) =
        histogram_fraction(0.0, 8.0, &h("{{schema:0 sum:NaN count:5 buckets:[1 2 1]}}"));
    assert!(close(got, 0.8), "{got}");
    assert_eq!(note, Some(Note::FractionNans));
}

#[test]
fn stddev_and_stdvar_match_prometheus() {
    let b3 = "buckets:[0 0 0 0 0 0 0 0 0 0 0 0 0 1 0 0 0 0 0 0 0 0 0 0 1 0 1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 1 ] n_buckets:[0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 1 ]";
    let cases: Vec<(String, f64, f64)> = vec![
        ("{{schema:2 count:4 sum:10 buckets:[1 0 0 0 1 0 0 1 1]}}".into(), 1.0787993180043811, 1.163807968526718),
        ("{{schema:8 count:10 sum:10 buckets:[1 2 3 4]}}".into(), 0.0048960313898237465, 2.3971123370139447e-05),
        (format!("{{{{schema:3 count:7 sum:62 z_bucket:1 {b3}}}}}"), 42.94723640026, 1844.4651144196398),
        (
            "{{schema:0 count:10 sum:-112946 z_bucket:0 n_buckets:[0 0 1 1 1 0 1 1 0 0 3 0 0 0 1 0 0 1]}}".into(),
            27556.344499842,
            759352122.1939945,
        ),
        ("{{schema:0 count:10 sum:-100 z_bucket:0 n_buckets:[0 0 0 0 10]}}".into(), 1.3137084989848, 1.725830020304794),
        (format!("{{{{schema:3 count:7 sum:NaN z_bucket:1 {b3}}}}}"), f64::NAN, f64::NAN),
        (format!("{{{{schema:3 count:7 sum:Inf z_bucket:1 {b3}}}}}"), f64::INFINITY, f64::INFINITY),
    ];
    // The test file prints some values with 14 digits, so compare to 1e-11.
    let near = |a: f64, b: f64| close(a, b) || (a - b).abs() <= 1e-11 * b.abs();
    for (text, sd, var) in &cases {
        let hist = h(text);
        assert!(
            near(histogram_stddev(&hist), *sd),
            "stddev {text}: {}",
            histogram_stddev(&hist)
        );
        assert!(
            near(histogram_stdvar(&hist), *var),
            "stdvar {text}: {}",
            histogram_stdvar(&hist)
        );
    }
}
