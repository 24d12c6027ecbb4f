//! Prometheus remote-write 1.0 messages (`prometheus.WriteRequest` from
//! `prompb/remote.proto` and `types.proto`), defined by hand with prost. Label names and
//! values are `bytes` here (they are `string` on the wire, which encodes the same) so that
//! invalid UTF-8 is reported by us with the series it is in, not as a generic decode error.
//! Metadata (`WriteRequest.metadata`) has `bytes` text fields for the same reason.

/// `prometheus.WriteRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct WriteRequest {
    /// Field 1.
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
    /// Field 3: metric metadata.
    #[prost(message, repeated, tag = "3")]
    pub metadata: Vec<MetricMetadata>,
}

/// `prometheus.MetricMetadata`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct MetricMetadata {
    /// Field 1: `MetricType` (0 `UNKNOWN`, 1 `COUNTER`, 2 `GAUGE`, 3 `HISTOGRAM`, 4
    /// `GAUGEHISTOGRAM`, 5 `SUMMARY`, 6 `INFO`, 7 `STATESET`).
    #[prost(int32, tag = "1")]
    pub r#type: i32,
    /// Field 2.
    #[prost(bytes = "vec", tag = "2")]
    pub metric_family_name: Vec<u8>,
    /// Field 4.
    #[prost(bytes = "vec", tag = "4")]
    pub help: Vec<u8>,
    /// Field 5.
    #[prost(bytes = "vec", tag = "5")]
    pub unit: Vec<u8>,
}

/// `prometheus.TimeSeries`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TimeSeries {
    /// Field 1: the labels, `__name__` included.
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    /// Field 2: float samples.
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<Sample>,
    /// Field 3: exemplars.
    #[prost(message, repeated, tag = "3")]
    pub exemplars: Vec<Exemplar>,
    /// Field 4: native histogram samples.
    #[prost(message, repeated, tag = "4")]
    pub histograms: Vec<Histogram>,
}

/// `prometheus.Label`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Label {
    /// Field 1.
    #[prost(bytes = "vec", tag = "1")]
    pub name: Vec<u8>,
    /// Field 2.
    #[prost(bytes = "vec", tag = "2")]
    pub value: Vec<u8>,
}

/// `prometheus.Exemplar`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Exemplar {
    /// Field 1: the exemplar's labels (`trace_id`, ...).
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    /// Field 2.
    #[prost(double, tag = "2")]
    pub value: f64,
    /// Field 3: milliseconds since the epoch.
    #[prost(int64, tag = "3")]
    pub timestamp: i64,
}

/// `prometheus.Sample`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Sample {
    /// Field 1.
    #[prost(double, tag = "1")]
    pub value: f64,
    /// Field 2: milliseconds since the epoch.
    #[prost(int64, tag = "2")]
    pub timestamp: i64,
}

/// `prometheus.Histogram` (fields 1-16 of `prompb/types.proto`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Histogram {
    /// Fields 1 (`count_int`) and 2 (`count_float`).
    #[prost(oneof = "histogram::Count", tags = "1, 2")]
    pub count: Option<histogram::Count>,
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
    #[prost(oneof = "histogram::ZeroCount", tags = "6, 7")]
    pub zero_count: Option<histogram::ZeroCount>,
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
}

/// The oneofs of [`Histogram`].
pub mod histogram {
    /// `count`.
    #[derive(Clone, Copy, PartialEq, prost::Oneof)]
    pub enum Count {
        /// Field 1: an integer histogram.
        #[prost(uint64, tag = "1")]
        CountInt(u64),
        /// Field 2: a float histogram.
        #[prost(double, tag = "2")]
        CountFloat(f64),
    }

    /// `zero_count`.
    #[derive(Clone, Copy, PartialEq, prost::Oneof)]
    pub enum ZeroCount {
        /// Field 6.
        #[prost(uint64, tag = "6")]
        ZeroCountInt(u64),
        /// Field 7.
        #[prost(double, tag = "7")]
        ZeroCountFloat(f64),
    }
}

/// `prometheus.BucketSpan`.
#[derive(Clone, Copy, PartialEq, prost::Message)]
pub struct BucketSpan {
    /// Field 1: gap to the previous span, or the first bucket's index.
    #[prost(sint32, tag = "1")]
    pub offset: i32,
    /// Field 2: consecutive buckets.
    #[prost(uint32, tag = "2")]
    pub length: u32,
}
