//! Prometheus's text form of a histogram (`FloatHistogram.String()`), which `count_values`
//! uses as a label value: `{count:20, sum:10, [-2,-1):2, [-0.001,0.001]:2, (0.5,1]:1}`.
//!
//! Derived from prometheus/model/histogram/float_histogram.go (`String`) and generic.go
//! (`Bucket.String`).

use std::fmt;

use super::{Bucket, FloatHistogram};

/// Go's `fmt` of a float with `%g` (`threshold` 6) or `%v` (`threshold` 21): the shortest
/// digits, in exponent form when the decimal exponent is below -4 or at least `threshold`.
pub(crate) fn go_float(f: f64, threshold: i32) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0" } else { "0" }.into();
    }
    let e = format!("{f:e}");
    let (mantissa, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if exp < -4 || exp >= threshold {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.abs())
    } else {
        format!("{f}")
    }
}

fn bucket(b: &Bucket) -> String {
    format!(
        "{}{},{}{}:{}",
        if b.lower_inclusive { '[' } else { '(' },
        go_float(b.lower, 6),
        go_float(b.upper, 6),
        if b.upper_inclusive { ']' } else { ')' },
        go_float(b.count, 21)
    )
}

impl fmt::Display for FloatHistogram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{{count:{}, sum:{}",
            go_float(self.count, 6),
            go_float(self.sum, 6)
        )?;
        let negative: Vec<Bucket> = self.negative_buckets().filter(|b| b.count != 0.0).collect();
        for b in negative.iter().rev() {
            write!(f, ", {}", bucket(b))?;
        }
        if self.zero_count != 0.0 {
            write!(f, ", {}", bucket(&self.zero_bucket()))?;
        }
        for b in self.positive_buckets().filter(|b| b.count != 0.0) {
            write!(f, ", {}", bucket(&b))?;
        }
        f.write_str("}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::promql::native::Span;

    #[test]
    fn formats_as_go() {
        assert_eq!(go_float(100000.0, 6), "100000");
        assert_eq!(go_float(1e6, 6), "1e+06");
        assert_eq!(go_float(0.00001, 6), "1e-05");
        assert_eq!(go_float(0.001, 6), "0.001");
        assert_eq!(go_float(1e6, 21), "1000000");
        assert_eq!(go_float(-0.5, 6), "-0.5");
    }

    /// The histogram and text of aggregators.test's `count_values` case.
    #[test]
    fn formats_as_prometheus() {
        let h = FloatHistogram {
            count: 20.0,
            sum: 10.0,
            zero_threshold: 0.001,
            zero_count: 2.0,
            positive_spans: vec![Span {
                offset: 0,
                length: 2,
            }],
            positive: vec![1.0, 2.0],
            negative_spans: vec![Span {
                offset: 0,
                length: 2,
            }],
            negative: vec![1.0, 2.0],
            ..FloatHistogram::default()
        };
        assert_eq!(
            h.to_string(),
            "{count:20, sum:10, [-2,-1):2, [-1,-0.5):1, [-0.001,0.001]:2, (0.5,1]:1, (1,2]:2}"
        );
    }
}
