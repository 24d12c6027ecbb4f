//! Remote-write 2.0 messages (`io.prometheus.write.v2.Request` from Prometheus's
//! `prompb/io/prometheus/write/v2/types.proto`), defined by hand with prost: the reference
//! the in-place reader ([`super::wire`]) is held to by the differential test. Symbols are
//! `string`s, so prost refuses a request with one that is not UTF-8, as the reader does.

pub use crate::ingest::remote_write::proto::BucketSpan;
pub use crate::ingest::remote_write::proto::histogram::{Count, ZeroCount};

/// `io.prometheus.write.v2.Request` (fields 1-3 are reserved).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Request {
    /// Field 4: the symbols table; `symbols[0]` must be "".
    #[prost(string, repeated, tag = "4")]
    pub symbols: Vec<String>,
    /// Field 5.
    #[prost(message, repeated, tag = "5")]
    pub timeseries: Vec<TimeSeries>,
}

/// `io.prometheus.write.v2.TimeSeries` (field 6 is reserved).
#[derive(Clone, PartialEq, prost::Message)]
pub struct TimeSeries {
    /// Field 1: (name, value) pairs of references into the symbols table.
    #[prost(uint32, repeated, tag = "1")]
    pub labels_refs: Vec<u32>,
    /// Field 2.
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<Sample>,
    /// Field 3.
    #[prost(message, repeated, tag = "3")]
    pub histograms: Vec<Histogram>,
    /// Field 4.
    #[prost(message, repeated, tag = "4")]
    pub exemplars: Vec<Exemplar>,
    /// Field 5.
    #[prost(message, optional, tag = "5")]
    pub metadata: Option<Metadata>,
}

/// `io.prometheus.write.v2.Exemplar`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Exemplar {
    /// Field 1: label pairs, as the series' refs.
    #[prost(uint32, repeated, tag = "1")]
    pub labels_refs: Vec<u32>,
    /// Field 2.
    #[prost(double, tag = "2")]
    pub value: f64,
    /// Field 3: milliseconds since the epoch.
    #[prost(int64, tag = "3")]
    pub timestamp: i64,
}

/// `io.prometheus.write.v2.Sample`.
#[derive(Clone, Copy, PartialEq, prost::Message)]
pub struct Sample {
    /// Field 1.
    #[prost(double, tag = "1")]
    pub value: f64,
    /// Field 2: milliseconds since the epoch.
    #[prost(int64, tag = "2")]
    pub timestamp: i64,
    /// Field 3: the start (created) timestamp in ms, 0 when unknown.
    #[prost(int64, tag = "3")]
    pub start_timestamp: i64,
}

/// `io.prometheus.write.v2.Metadata` (field 2 is unused).
#[derive(Clone, Copy, PartialEq, prost::Message)]
pub struct Metadata {
    /// Field 1: `MetricType` (0 unspecified, 1 counter, 2 gauge, 3 histogram, 4 gauge
    /// histogram, 5 summary, 6 info, 7 stateset).
    #[prost(int32, tag = "1")]
    pub r#type: i32,
    /// Field 3: the help text's symbol.
    #[prost(uint32, tag = "3")]
    pub help_ref: u32,
    /// Field 4: the unit's symbol.
    #[prost(uint32, tag = "4")]
    pub unit_ref: u32,
}

/// `io.prometheus.write.v2.Histogram`: remote-write 1.0's fields 1-16, and 17.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Histogram {
    /// Fields 1 (`count_int`) and 2 (`count_float`).
    #[prost(oneof = "Count", tags = "1, 2")]
    pub count: Option<Count>,
    /// Field 3.
    #[prost(double, tag = "3")]
    pub sum: f64,
    /// Field 4.
    #[prost(sint32, tag = "4")]
    pub schema: i32,
    /// Field 5.
    #[prost(double, tag = "5")]
    pub zero_threshold: f64,
    /// Fields 6 (`zero_count_int`) and 7 (`zero_count_float`).
    #[prost(oneof = "ZeroCount", tags = "6, 7")]
    pub zero_count: Option<ZeroCount>,
    /// Field 8.
    #[prost(message, repeated, tag = "8")]
    pub negative_spans: Vec<BucketSpan>,
    /// Field 9: integer histograms' bucket deltas.
    #[prost(sint64, repeated, tag = "9")]
    pub negative_deltas: Vec<i64>,
    /// Field 10: float histograms' bucket counts.
    #[prost(double, repeated, tag = "10")]
    pub negative_counts: Vec<f64>,
    /// Field 11.
    #[prost(message, repeated, tag = "11")]
    pub positive_spans: Vec<BucketSpan>,
    /// Field 12.
    #[prost(sint64, repeated, tag = "12")]
    pub positive_deltas: Vec<i64>,
    /// Field 13.
    #[prost(double, repeated, tag = "13")]
    pub positive_counts: Vec<f64>,
    /// Field 14: `ResetHint` (0 unknown, 1 yes, 2 no, 3 gauge).
    #[prost(int32, tag = "14")]
    pub reset_hint: i32,
    /// Field 15: milliseconds since the epoch.
    #[prost(int64, tag = "15")]
    pub timestamp: i64,
    /// Field 16: custom bucket bounds (schema -53).
    #[prost(double, repeated, tag = "16")]
    pub custom_values: Vec<f64>,
    /// Field 17: the start (created) timestamp in ms, 0 when unknown.
    #[prost(int64, tag = "17")]
    pub start_timestamp: i64,
}
