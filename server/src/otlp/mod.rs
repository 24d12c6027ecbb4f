//! OTLP metrics ingest without the network: request bodies (gzip, protobuf, OTLP/JSON), the
//! mapping onto the Prometheus data model (as Prometheus 3.x's OTLP receiver does it, see
//! `docs/otlp-mapping.md`), and the `partial_success` response.
//!
//! The HTTP and gRPC handlers call, in order: [`decompress`] (HTTP only) with the body limit,
//! [`decode_metrics`], [`translate_metrics`], the engine's write with `Translated::series`,
//! [`partial_success`] with the engine's `WriteOutcome`, and [`encode_response`] (HTTP only)
//! in the request's [`Encoding`]. Traces and logs are decoded ([`decode_traces`],
//! [`decode_logs`]) so that malformed bodies get a 400 and valid ones a clear "not yet
//! supported".

mod decode;
mod error;
mod labels;
mod names;
mod response;
mod translate;

pub(crate) use decode::{Encoding, decode_logs, decode_metrics, decode_traces, decompress};
pub(crate) use error::OtlpError;
pub(crate) use response::{encode_response, partial_success};
pub(crate) use translate::{TranslateOptions, translate_metrics};

#[cfg(test)]
mod engine_tests;
