//! Native (sparse) histograms: the types, Prometheus's validation, resolution reduction and
//! the compact binary encoding shared by the WAL, the head and the memory snapshot.
//!
//! A histogram has exponential buckets (schema -4..=8, bucket `i` covering
//! `(base^(i-1), base^i]` with `base = 2^(2^-schema)`) or custom buckets (schema -53, bounds in
//! [`Histogram::custom_values`]). Buckets are laid out by [`Span`]s: runs of consecutive
//! bucket indexes, each starting `offset` after the end of the previous one (the first one's
//! offset is the absolute index of its first bucket). Integer histograms keep their bucket
//! counts as deltas, each relative to the previous bucket (the first to 0), as the wire sends
//! them; float histograms keep absolute counts.
//!
//! Derived from prometheus/model/histogram (`generic.go`, `histogram.go`,
//! `float_histogram.go`) and `scrape/target.go` (the bucket limit), by The Prometheus
//! Authors, Apache-2.0. The byte layout is in `docs/formats/histograms.md`.

use std::sync::Arc;

mod encode;
mod reduce;
mod run;
mod validate;

pub use run::{HistogramRun, RunCounts};

#[cfg(test)]
mod tests;

/// The lowest exponential schema (base 2^16 = 65536).
pub const SCHEMA_MIN: i32 = -4;
/// The highest exponential schema stored (base 2^(2^-8)); schemas 9..=52 are reduced to it.
pub const SCHEMA_MAX: i32 = 8;
/// The highest exponential schema accepted on input (reduced to [`SCHEMA_MAX`]).
pub const SCHEMA_MAX_RESERVED: i32 = 52;
/// The schema of histograms with custom bucket bounds.
pub const SCHEMA_CUSTOM: i32 = -53;

/// What a writer says about counter resets, numbered as the remote-write protobuf does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[repr(u8)]
pub enum ResetHint {
    /// The writer does not know.
    #[default]
    Unknown = 0,
    /// A counter reset happened before this histogram.
    Reset = 1,
    /// No counter reset happened before this histogram.
    NotReset = 2,
    /// A gauge histogram: counts may go up and down.
    Gauge = 3,
}

impl ResetHint {
    /// The hint numbered `n` (0..=3), as in the remote-write protobuf.
    pub fn from_u8(n: u8) -> Option<Self> {
        match n {
            0 => Some(Self::Unknown),
            1 => Some(Self::Reset),
            2 => Some(Self::NotReset),
            3 => Some(Self::Gauge),
            _ => None,
        }
    }
}

/// A run of `length` consecutive buckets starting `offset` indexes after the end of the
/// previous span (for the first span: at index `offset`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    /// Gap to the previous span, or the first bucket's index for the first span.
    pub offset: i32,
    /// Number of buckets in the run (0 is allowed).
    pub length: u32,
}

/// The counts of a histogram: integer (bucket deltas) or float (absolute bucket counts).
#[derive(Debug, Clone, PartialEq)]
pub enum Counts {
    /// An integer histogram, as the remote-write `count_int` oneofs send it.
    Int {
        /// Number of observations.
        count: u64,
        /// Observations in the zero bucket.
        zero_count: u64,
        /// Positive buckets, each a delta to the previous bucket's count (the first to 0).
        positive_deltas: Vec<i64>,
        /// Negative buckets, as deltas like the positive ones.
        negative_deltas: Vec<i64>,
    },
    /// A float histogram, with absolute counts.
    Float {
        /// Number of observations.
        count: f64,
        /// Observations in the zero bucket.
        zero_count: f64,
        /// Positive bucket counts.
        positive: Vec<f64>,
        /// Negative bucket counts.
        negative: Vec<f64>,
    },
}

impl Counts {
    /// Whether these are float counts.
    pub fn is_float(&self) -> bool {
        matches!(self, Counts::Float { .. })
    }

    /// Number of positive plus negative buckets.
    pub fn bucket_len(&self) -> usize {
        match self {
            Counts::Int {
                positive_deltas: p,
                negative_deltas: n,
                ..
            } => p.len() + n.len(),
            Counts::Float {
                positive: p,
                negative: n,
                ..
            } => p.len() + n.len(),
        }
    }
}

/// A native histogram sample's value.
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    /// -4..=8 for exponential buckets, or [`SCHEMA_CUSTOM`] (-53) for custom bounds.
    pub schema: i32,
    /// Observations with absolute value up to this go to the zero bucket (0 for custom buckets).
    pub zero_threshold: f64,
    /// Sum of the observations (may be NaN; a stale marker is a special NaN).
    pub sum: f64,
    /// The writer's counter-reset hint.
    pub reset_hint: ResetHint,
    /// Spans of the positive buckets (or of the custom buckets).
    pub positive_spans: Vec<Span>,
    /// Spans of the negative buckets (none for custom buckets).
    pub negative_spans: Vec<Span>,
    /// Schema -53 only: the finite upper bounds, strictly increasing (+Inf is implied last).
    pub custom_values: Vec<f64>,
    /// The counts.
    pub counts: Counts,
}

impl Histogram {
    /// The histogram a start timestamp stands for: no observations, a counter reset by
    /// definition, and `self`'s schema, zero threshold, custom bounds and kind of counts
    /// (what Prometheus's start-timestamp zero ingestion appends).
    pub fn start_zero(&self) -> Histogram {
        Histogram {
            schema: self.schema,
            zero_threshold: self.zero_threshold,
            sum: 0.0,
            reset_hint: ResetHint::Reset,
            positive_spans: Vec::new(),
            negative_spans: Vec::new(),
            custom_values: self.custom_values.clone(),
            counts: match self.counts {
                Counts::Int { .. } => Counts::Int {
                    count: 0,
                    zero_count: 0,
                    positive_deltas: Vec::new(),
                    negative_deltas: Vec::new(),
                },
                Counts::Float { .. } => Counts::Float {
                    count: 0.0,
                    zero_count: 0.0,
                    positive: Vec::new(),
                    negative: Vec::new(),
                },
            },
        }
    }
}

/// A histogram at a timestamp.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramSample {
    /// Milliseconds since the Unix epoch.
    pub ts: i64,
    /// The histogram, shared.
    pub h: Arc<Histogram>,
}

/// Which side of the zero bucket an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The positive buckets (or the custom buckets).
    Positive,
    /// The negative buckets.
    Negative,
}

impl std::fmt::Display for Side {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Side::Positive => "positive",
            Side::Negative => "negative",
        })
    }
}

/// Why a histogram is refused, cannot be reduced, or cannot be decoded.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum HistogramError {
    /// The schema is neither -4..=52 nor -53.
    #[error(
        "histogram has an invalid schema {0}, which must be between -4 and 8 (9 to 52 are reduced to 8) for exponential buckets, or -53 for custom buckets"
    )]
    InvalidSchema(i32),
    /// A span other than the first (any span, for custom buckets) has a negative offset.
    #[error(
        "{side} side: span number {span} with offset {offset}: histogram has a span whose offset is negative"
    )]
    SpanNegativeOffset {
        /// The side.
        side: Side,
        /// 1-based span number.
        span: usize,
        /// Its offset.
        offset: i32,
    },
    /// The spans' lengths do not add up to the number of buckets.
    #[error(
        "{side} side: spans need {need} buckets, have {have} buckets: histogram spans specify different number of buckets than provided"
    )]
    SpansBucketsMismatch {
        /// The side.
        side: Side,
        /// The sum of the span lengths.
        need: u64,
        /// The number of bucket counts.
        have: usize,
    },
    /// A bucket's absolute count is negative.
    #[error(
        "{side} side: bucket number {bucket} has observation count of {count}: histogram has a bucket whose observation count is negative"
    )]
    NegativeBucketCount {
        /// The side.
        side: Side,
        /// 1-based bucket number.
        bucket: usize,
        /// Its absolute count.
        count: f64,
    },
    /// An integer bucket's absolute count (the running sum of deltas) does not fit an i64.
    #[error("{side} side: bucket number {bucket} has an absolute count beyond 2^63-1")]
    BucketCountOverflow {
        /// The side.
        side: Side,
        /// 1-based bucket number.
        bucket: usize,
    },
    /// A float histogram's zero bucket count is negative.
    #[error(
        "zero bucket has observation count of {0}: histogram has a bucket whose observation count is negative"
    )]
    NegativeZeroCount(f64),
    /// A float histogram's count is negative.
    #[error("observation count is {0}: histogram's observation count is negative")]
    NegativeCount(f64),
    /// With a NaN sum, an integer histogram's count is below the sum of its buckets.
    #[error(
        "{buckets} observations found in buckets, but the Count field is {count}: histogram's observation count should be at least the number of observations found in the buckets"
    )]
    CountNotBigEnough {
        /// Observations in the buckets (zero bucket included).
        buckets: u128,
        /// The count field.
        count: u64,
    },
    /// An integer histogram's count differs from the sum of its buckets.
    #[error(
        "{buckets} observations found in buckets, but the Count field is {count}: histogram's observation count should equal the number of observations found in the buckets (in absence of NaN)"
    )]
    CountMismatch {
        /// Observations in the buckets (zero bucket included).
        buckets: u128,
        /// The count field.
        count: u64,
    },
    /// The zero threshold is NaN, infinite or negative (a Strata check; Prometheus has none).
    #[error("histogram zero threshold is {0}, it must be finite and not negative")]
    InvalidZeroThreshold(f64),
    /// A custom bound is NaN.
    #[error("custom buckets: bound number {index} is NaN: histogram custom bounds must not be NaN")]
    CustomBoundNaN {
        /// 1-based bound number.
        index: usize,
    },
    /// A custom bound is infinite.
    #[error(
        "custom buckets: bound number {index} is {bound}: histogram custom bounds must be finite"
    )]
    CustomBoundInfinite {
        /// 1-based bound number.
        index: usize,
        /// The bound.
        bound: f64,
    },
    /// Custom bounds are not strictly increasing.
    #[error(
        "custom buckets: previous bound is {prev} and current is {curr}: histogram custom bounds must be in strictly increasing order"
    )]
    CustomBoundsNotIncreasing {
        /// The previous bound.
        prev: f64,
        /// The bound not above it.
        curr: f64,
    },
    /// The spans reach past the last custom bucket (+Inf).
    #[error(
        "custom buckets: only {bounds} custom bounds defined which is insufficient to cover total span length of {span_total}: histogram custom bounds are too few"
    )]
    CustomBoundsTooFew {
        /// Number of custom bounds.
        bounds: usize,
        /// Sum of offsets and lengths of the spans.
        span_total: i64,
    },
    /// A custom-bucket histogram has a non-zero zero count.
    #[error("custom buckets: must have zero count of 0")]
    CustomZeroCount,
    /// A custom-bucket histogram has a non-zero zero threshold.
    #[error("custom buckets: must have zero threshold of 0")]
    CustomZeroThreshold,
    /// A custom-bucket histogram has negative spans.
    #[error("custom buckets: must not have negative spans")]
    CustomNegativeSpans,
    /// A custom-bucket histogram has negative buckets.
    #[error("custom buckets: must not have negative buckets")]
    CustomNegativeBuckets,
    /// An exponential histogram has custom bounds.
    #[error("histogram with exponential schema must not have custom bounds")]
    ExpSchemaCustomBounds,
    /// More buckets than the limit, and the resolution cannot be reduced further.
    #[error(
        "histogram has {buckets} buckets at schema {schema}, more than the limit of {limit}, and its resolution cannot be reduced further"
    )]
    TooManyBuckets {
        /// Buckets left.
        buckets: usize,
        /// The limit.
        limit: usize,
        /// The schema reached.
        schema: i32,
    },
    /// A reduction that cannot be done (custom buckets, or a target not below the schema).
    #[error("cannot reduce resolution from schema {from} to {to}")]
    CannotReduce {
        /// The histogram's schema.
        from: i32,
        /// The target schema.
        to: i32,
    },
    /// Encoded bytes end early or hold an impossible value.
    #[error("damaged histogram encoding: {what} at byte {at}")]
    Damaged {
        /// What was being read, and what is wrong.
        what: &'static str,
        /// Byte offset.
        at: usize,
    },
}
