//! Prometheus's remote-read messages (`prompb/remote.proto`, `types.proto`), defined by
//! hand with prost: what a `POST /api/v1/read` takes and answers.

/// `prometheus.ReadRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ReadRequest {
    #[prost(message, repeated, tag = "1")]
    pub(crate) queries: Vec<Query>,
    /// `ReadRequest.ResponseType`: 0 `SAMPLES`, 1 `STREAMED_XOR_CHUNKS`, in the client's
    /// order of preference.
    #[prost(int32, repeated, tag = "2")]
    pub(crate) accepted_response_types: Vec<i32>,
}

/// `prometheus.Query`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Query {
    #[prost(int64, tag = "1")]
    pub(crate) start_timestamp_ms: i64,
    #[prost(int64, tag = "2")]
    pub(crate) end_timestamp_ms: i64,
    #[prost(message, repeated, tag = "3")]
    pub(crate) matchers: Vec<LabelMatcher>,
}

/// `prometheus.LabelMatcher`: type 0 `EQ`, 1 `NEQ`, 2 `RE`, 3 `NRE`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct LabelMatcher {
    #[prost(int32, tag = "1")]
    pub(crate) r#type: i32,
    #[prost(string, tag = "2")]
    pub(crate) name: String,
    #[prost(string, tag = "3")]
    pub(crate) value: String,
}

/// `prometheus.ReadResponse` (the `SAMPLES` answer).
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ReadResponse {
    #[prost(message, repeated, tag = "1")]
    pub(crate) results: Vec<QueryResult>,
}

/// `prometheus.QueryResult`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct QueryResult {
    #[prost(message, repeated, tag = "1")]
    pub(crate) timeseries: Vec<TimeSeries>,
}

/// `prometheus.TimeSeries` (labels and float samples; native histograms only counted).
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct TimeSeries {
    #[prost(message, repeated, tag = "1")]
    pub(crate) labels: Vec<Label>,
    #[prost(message, repeated, tag = "2")]
    pub(crate) samples: Vec<Sample>,
    /// `histograms`: read by `strata import` only to count what it cannot import.
    #[prost(message, repeated, tag = "4")]
    pub(crate) histograms: Vec<Opaque>,
}

/// A message whose fields are not read (prost skips them).
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Opaque {}

/// `prometheus.Label`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Label {
    #[prost(string, tag = "1")]
    pub(crate) name: String,
    #[prost(string, tag = "2")]
    pub(crate) value: String,
}

/// `prometheus.Sample`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Sample {
    #[prost(double, tag = "1")]
    pub(crate) value: f64,
    #[prost(int64, tag = "2")]
    pub(crate) timestamp: i64,
}

/// `prometheus.ChunkedReadResponse` (one frame of the `STREAMED_XOR_CHUNKS` answer).
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ChunkedReadResponse {
    #[prost(message, repeated, tag = "1")]
    pub(crate) chunked_series: Vec<ChunkedSeries>,
    #[prost(int64, tag = "2")]
    pub(crate) query_index: i64,
}

/// `prometheus.ChunkedSeries`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ChunkedSeries {
    #[prost(message, repeated, tag = "1")]
    pub(crate) labels: Vec<Label>,
    #[prost(message, repeated, tag = "2")]
    pub(crate) chunks: Vec<Chunk>,
}

/// `prometheus.Chunk`: type 1 is XOR.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Chunk {
    #[prost(int64, tag = "1")]
    pub(crate) min_time_ms: i64,
    #[prost(int64, tag = "2")]
    pub(crate) max_time_ms: i64,
    #[prost(int32, tag = "3")]
    pub(crate) r#type: i32,
    #[prost(bytes = "vec", tag = "4")]
    pub(crate) data: Vec<u8>,
}
