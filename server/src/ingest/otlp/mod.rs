//! OTLP ingest: request bodies (gzip, protobuf, OTLP/JSON) to the engine's series and
//! records, and the handlers that take them over HTTP ([`http`]) and gRPC ([`grpc`]), both
//! through [`export`]. Metrics are mapped onto the Prometheus data model as Prometheus
//! 3.x's OTLP receiver does it ([`metrics`]), spans and log records onto the engine's
//! records ([`records`]); see `docs/otlp-mapping.md`. Under both: [`inflate`] (gzip
//! within the body limit and the ingest memory budget), [`decode`] (protobuf or OTLP/JSON,
//! with [`json_nonfinite`]), [`request_items`] (records counted before decoding), [`error`]
//! and [`semconv`].
//!
//! A metrics export goes, in order: [`inflate_charged`] with the body limit (HTTP, and
//! gRPC's gzip messages),
//! [`decode_metrics`], [`translate_metrics`], the engine's write with `Translated::series`,
//! [`partial_success`] with the engine's `WriteOutcome`, and [`encode_response`] (HTTP only)
//! in the request's [`Encoding`]. Spans and logs go the same way through [`decode_spans`] /
//! [`decode_logs`] (a [`Batch`]), the engine's `write_spans` / `write_logs`,
//! [`Batch::outcome`], [`signal_partial_success`] and [`encode_signal_response`].
//!
//! Protobuf metrics requests first try [`metrics::fast::translate`], which stores the points
//! of series the engine already knows without decoding their attributes, and falls back to
//! the path above for whatever it does not handle. Protobuf spans and logs go through
//! [`decode_spans`] and [`decode_logs`], which read them straight into records
//! ([`records::spans_wire`], [`records::logs_wire`]) and fall back to [`decode_traces`] and
//! [`translate_spans`] (or [`decode_logs_request`] and [`translate_logs`]) the same way.

mod decode;
pub(crate) mod delta;
mod error;
pub(crate) mod export;
pub(crate) mod grpc;
pub(crate) mod http;
pub(crate) mod inflate;
mod json_nonfinite;
pub(crate) mod metrics;
mod records;
pub(crate) mod request_items;
mod semconv;

pub(crate) use decode::{Encoding, decode_logs_request, decode_metrics, decode_traces};
pub(crate) use error::OtlpError;
pub(crate) use inflate::{decompress, inflate_charged};
pub(crate) use metrics::response::{encode_response, partial_success};
pub(crate) use metrics::translate::{TranslateOptions, Translated, translate_metrics};
pub(crate) use records::batch::Batch;
pub(crate) use records::logs::translate_logs;
pub(crate) use records::logs_wire::translate as logs_in_place;
pub(crate) use records::response::{
    PartialSuccess, SignalKind, encode_signal_response, signal_partial_success,
    signal_response_protobuf,
};
pub(crate) use records::spans::translate_spans;
pub(crate) use records::spans_wire::translate as spans_in_place;
pub(crate) use records::{decode_logs, decode_spans};
