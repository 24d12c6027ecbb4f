//! The annotations (warnings and infos) PromQL attaches to a result, with Prometheus's texts.
//!
//! Derived from prometheus/util/annotations/annotations.go: the same messages, so the HTTP
//! API's `warnings` and `infos` read as Prometheus's do. The position suffix (` (1:5)`) is
//! added by the evaluator.

use std::fmt;

use super::native::go_float;

/// What a histogram addition or subtraction was part of (Prometheus's `HistogramOperation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]

pub(crate) enum HistogramOp {
    /// `+`.
    Add,
    /// `-`.
    Sub,
    /// `sum`, `avg` and friends.
    Agg,
}

impl fmt::Display for HistogramOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HistogramOp::Add => "addition",
            HistogramOp::Sub => "subtraction",
            HistogramOp::Agg => "aggregation",
        })
    }
}

/// One annotation. A `metric` that is empty is left out of the text, as Prometheus does
/// (its `maybeAddMetricName`) where the text says so.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Annotation {
    /// A quantile outside `[0, 1]` or NaN.
    InvalidQuantile(f64),
    /// A classic bucket without a parseable `le`.
    BadBucketLabel { metric: String, le: String },
    /// A function that takes one kind saw floats and histograms for one series.
    MixedFloatsHistograms { metric: String },
    /// An aggregation saw floats and histograms.
    MixedFloatsHistogramsAgg,
    /// Classic buckets and a native histogram with the same labels.
    MixedClassicNativeHistograms { metric: String },
    /// A counter function on a gauge histogram.
    NativeHistogramNotCounter { metric: String },
    /// A gauge function on a counter histogram.
    NativeHistogramNotGauge { metric: String },
    /// Exponential and custom bucket schemas in one operation.
    MixedExponentialCustomHistograms { metric: String },
    /// A binary operator on histograms with incompatible layouts.
    IncompatibleBucketLayoutInBinOp { op: String },
    /// A binary operator between sample types it does not support.
    IncompatibleTypesInBinOp {
        lhs: String,
        op: String,
        rhs: String,
    },
    /// An aggregation that ignores histograms ignored one.
    HistogramIgnoredInAggregation { aggregation: String },
    /// A range function that ignores histograms in a mixed range.
    HistogramIgnoredInMixedRange { metric: String },
    /// `histogram_quantile` landed among NaN observations.
    NativeHistogramQuantileNaNResult { metric: String },
    /// NaN observations skewed `histogram_quantile`.
    NativeHistogramQuantileNaNSkew { metric: String },
    /// NaN observations left out of `histogram_fraction`.
    NativeHistogramFractionNaNs { metric: String },
    /// Histograms with the hints `Reset` and `NotReset` were combined.
    HistogramCounterResetCollision(HistogramOp),
    /// Custom-bucket histograms with different boundaries were reconciled.
    MismatchedCustomBucketsHistograms(HistogramOp),
}

/// `" for metric name \"m\""`, or nothing for an empty name.
fn for_metric(metric: &str) -> String {
    if metric.is_empty() {
        String::new()
    } else {
        format!(" for metric name {metric:?}")
    }
}

impl Annotation {
    /// Whether this is a warning (else an info).
    pub(crate) fn is_warning(&self) -> bool {
        use Annotation::*;
        matches!(
            self,
            InvalidQuantile(_)
                | BadBucketLabel { .. }
                | MixedFloatsHistograms { .. }
                | MixedFloatsHistogramsAgg
                | MixedClassicNativeHistograms { .. }
                | NativeHistogramNotCounter { .. }
                | NativeHistogramNotGauge { .. }
                | MixedExponentialCustomHistograms { .. }
                | IncompatibleBucketLayoutInBinOp { .. }
                | HistogramCounterResetCollision(_)
        )
    }

    /// The text after `PromQL warning: ` or `PromQL info: `, without the position.
    pub(crate) fn message(&self) -> String {
        use Annotation::*;
        match self {
            InvalidQuantile(q) => format!(
                "quantile value should be between 0 and 1, got {}",
                go_float(*q, 6)
            ),
            BadBucketLabel { metric, le } => format!(
                "bucket label \"le\" is missing or has a malformed value of {le:?}{}",
                for_metric(metric)
            ),
            MixedFloatsHistograms { metric } => {
                format!("encountered a mix of histograms and floats for metric name {metric:?}")
            }
            MixedFloatsHistogramsAgg => {
                "encountered a mix of histograms and floats for aggregation".into()
            }
            MixedClassicNativeHistograms { metric } => format!(
                "vector contains a mix of classic and native histograms{}",
                for_metric(metric)
            ),
            NativeHistogramNotCounter { metric } => {
                format!("this native histogram metric is not a counter: {metric:?}")
            }
            NativeHistogramNotGauge { metric } => {
                format!("this native histogram metric is not a gauge: {metric:?}")
            }
            MixedExponentialCustomHistograms { metric } => format!(
                "vector contains a mix of histograms with exponential and custom buckets schemas for metric name {metric:?}"
            ),
            IncompatibleBucketLayoutInBinOp { op } => {
                format!("incompatible bucket layout encountered for binary operator {op}")
            }
            IncompatibleTypesInBinOp { lhs, op, rhs } => format!(
                "incompatible sample types encountered for binary operator {op:?}: {lhs} {op} {rhs}"
            ),
            HistogramIgnoredInAggregation { aggregation } => {
                format!("ignored histogram in {aggregation} aggregation")
            }
            HistogramIgnoredInMixedRange { metric } => format!(
                "ignored histograms in a range containing both floats and histograms for metric name {metric:?}"
            ),
            NativeHistogramQuantileNaNResult { metric } => format!(
                "input to histogram_quantile has NaN observations, result is NaN{}",
                for_metric(metric)
            ),
            NativeHistogramQuantileNaNSkew { metric } => format!(
                "input to histogram_quantile has NaN observations, result is skewed higher{}",
                for_metric(metric)
            ),
            NativeHistogramFractionNaNs { metric } => format!(
                "input to histogram_fraction has NaN observations, which are excluded from all fractions{}",
                for_metric(metric)
            ),
            HistogramCounterResetCollision(op) => {
                format!("conflicting counter resets during histogram {op}")
            }
            MismatchedCustomBucketsHistograms(op) => {
                format!("mismatched custom buckets were reconciled during {op}")
            }
        }
    }
}

impl fmt::Display for Annotation {
    /// The full text: `PromQL warning: ...` or `PromQL info: ...`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = if self.is_warning() {
            "PromQL warning"
        } else {
            "PromQL info"
        };
        write!(f, "{kind}: {}", self.message())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Texts as Prometheus's annotations.go builds them.
    #[test]
    fn texts_match_prometheus() {
        let a = Annotation::MixedClassicNativeHistograms {
            metric: String::new(),
        };
        assert_eq!(
            a.to_string(),
            "PromQL warning: vector contains a mix of classic and native histograms"
        );
        let a = Annotation::NativeHistogramQuantileNaNSkew { metric: "m".into() };
        assert_eq!(
            a.to_string(),
            "PromQL info: input to histogram_quantile has NaN observations, result is skewed higher for metric name \"m\""
        );
        let a = Annotation::IncompatibleTypesInBinOp {
            lhs: "float".into(),
            op: "+".into(),
            rhs: "histogram".into(),
        };
        assert_eq!(
            a.to_string(),
            "PromQL info: incompatible sample types encountered for binary operator \"+\": float + histogram"
        );
        assert_eq!(
            Annotation::HistogramCounterResetCollision(HistogramOp::Agg).to_string(),
            "PromQL warning: conflicting counter resets during histogram aggregation"
        );
        assert_eq!(
            Annotation::InvalidQuantile(1.5).to_string(),
            "PromQL warning: quantile value should be between 0 and 1, got 1.5"
        );
    }
}
