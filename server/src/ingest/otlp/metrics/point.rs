//! A data point's time and value as Prometheus reads them: nanoseconds to milliseconds, and
//! a point flagged "no recorded value" as the staleness marker.

use opentelemetry_proto::tonic::metrics::v1::DataPointFlags;

/// Prometheus's staleness marker: a NaN with this exact bit pattern.
pub(crate) const STALE_NAN: u64 = 0x7ff0_0000_0000_0002;

/// Nanoseconds to milliseconds, as Prometheus does (truncating).
pub(super) fn millis(ns: u64) -> i64 {
    // u64::MAX / 1e6 fits an i64.
    (ns / 1_000_000) as i64
}

/// The point's value, or the staleness marker if it is flagged "no recorded value".
pub(super) fn value_or_stale(flags: u32, value: f64) -> f64 {
    if flags & DataPointFlags::NoRecordedValueMask as u32 != 0 {
        f64::from_bits(STALE_NAN)
    } else {
        value
    }
}
