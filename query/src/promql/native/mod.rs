//! Native (sparse) histograms as PromQL evaluates them: [`FloatHistogram`] and its maths.
//!
//! This mirrors Prometheus's `model/histogram.FloatHistogram` (its semantics, not its code):
//! a histogram has a `schema` that fixes its bucket boundaries, a zero bucket
//! `[-zero_threshold, zero_threshold]`, and sparse positive and negative buckets described by
//! [`Span`]s with one absolute `f64` count per bucket.
//!
//! - Exponential schemas `-4..=8`: bucket `i` of the positive side is
//!   `(base^(i-1), base^i]` with `base = 2^(2^-schema)`; negative buckets mirror them.
//! - Custom buckets ([`CUSTOM_BUCKETS_SCHEMA`], `-53`, "NHCB"): only positive buckets, bucket
//!   `i` is `(custom_values[i-1], custom_values[i]]`, the first starts at `-Inf` and the last
//!   (index `custom_values.len()`) ends at `+Inf`. There is no zero bucket.
//!
//! The [`quantile`] functions implement `histogram_quantile`, `histogram_fraction`,
//! `histogram_stddev` and `histogram_stdvar` on one histogram. Nothing here touches the
//! evaluator; it is the library the evaluator and the conformance runner build on.

mod block;
mod bounds_table;
mod buckets;
mod chunk_hints;
mod convert;
mod display;
mod float_histogram;
mod kahan;
pub mod quantile;
mod reset;
mod subset;
mod trim;
mod zero_bucket;

#[cfg(test)]
mod tests_cases;
#[cfg(test)]
mod tests_histogram;
#[cfg(test)]
mod tests_quantile;
#[cfg(test)]
mod tests_trim;

pub use block::HistBlock;
pub use buckets::{Bucket, Span, bucket_bound};
pub use chunk_hints::tsdb_read_hints;
pub(crate) use display::go_float;
pub use float_histogram::{Combined, FloatHistogram, ResetHint};
pub use kahan::{SumFlags, kahan_sum};
pub use trim::Trim;

/// The schema of histograms with custom bucket boundaries (Prometheus's `CustomBucketsSchema`).
pub const CUSTOM_BUCKETS_SCHEMA: i32 = -53;

/// Lowest exponential schema (largest buckets: each spans a factor of 65536).
pub const MIN_EXPONENTIAL_SCHEMA: i32 = -4;

/// Highest exponential schema (smallest buckets: each spans a factor of `2^(1/256)`).
pub const MAX_EXPONENTIAL_SCHEMA: i32 = 8;

/// Why a histogram operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// One operand has custom buckets and the other exponential ones (Prometheus's
    /// `ErrHistogramsIncompatibleSchema`).
    #[error(
        "cannot apply this operation on histograms with a mix of exponential and custom bucket schemas"
    )]
    IncompatibleSchema,
    /// `reduce_resolution` was asked for something it cannot do.
    #[error("cannot reduce resolution from schema {from} to {to}")]
    ReduceResolution {
        /// The histogram's schema.
        from: i32,
        /// The schema asked for.
        to: i32,
    },
}

/// Whether `schema` is the custom-buckets schema.
pub fn is_custom_schema(schema: i32) -> bool {
    schema == CUSTOM_BUCKETS_SCHEMA
}

/// Whether `schema` is one of the exponential schemas `-4..=8`.
pub fn is_exponential_schema(schema: i32) -> bool {
    (MIN_EXPONENTIAL_SCHEMA..=MAX_EXPONENTIAL_SCHEMA).contains(&schema)
}
