//! Prometheus remote-write 1.0 messages (`prometheus.WriteRequest` from
//! `prompb/remote.proto` and `types.proto`), defined by hand with prost. Label names and
//! values are `bytes` here (they are `string` on the wire, which encodes the same) so that
//! invalid UTF-8 is reported by us with the series it is in, not as a generic decode error.
//! Metadata is skipped by the decoder (unknown fields); native histograms are decoded only
//! to be counted and rejected.

/// `prometheus.WriteRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct WriteRequest {
    /// Field 1.
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
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
    /// Field 4: native histogram samples (not supported: counted as rejected).
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

/// `prometheus.Histogram`, with only its timestamp decoded (its other fields are skipped).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Histogram {
    /// Field 15.
    #[prost(int64, tag = "15")]
    pub timestamp: i64,
}
