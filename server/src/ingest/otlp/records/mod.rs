//! OTLP spans and log records onto the engine's records: the general translation
//! ([`spans`], [`logs`]), the in-place protobuf readers ([`spans_wire`], [`logs_wire`]) and
//! the `partial_success` responses ([`response`]). [`decode_spans`] and [`decode_logs`] are
//! the way in: the in-place reader when it takes the body, the general path otherwise.

pub(crate) mod batch;
pub(crate) mod logs;
pub(crate) mod logs_wire;
#[cfg(test)]
mod random;
pub(crate) mod response;
pub(crate) mod spans;
pub(crate) mod spans_wire;
mod wire;

use strata_engine::{LogRecord, SpanRecord};

use self::batch::Batch;
use super::decode::{Encoding, decode_logs_request, decode_traces};
use super::error::OtlpError;
use super::request_items::{self, LOGS, SPANS};

/// The spans of a (decompressed) traces body: protobuf read in place
/// ([`spans_wire`]) when the reader takes it, else (JSON, or anything the reader
/// leaves to prost) [`decode_traces`] then [`spans::translate_spans`]. Both give the same
/// batch for the same body.
pub(crate) fn decode_spans(
    body: &[u8],
    encoding: Encoding,
) -> Result<Batch<SpanRecord>, OtlpError> {
    let count = request_items::check(body, encoding == Encoding::Json, SPANS, "spans")?;
    if let Some(count) = count
        && let Some(batch) = spans_wire::translate_counted(body, count)
    {
        return Ok(batch);
    }
    decode_traces(body, encoding).map(spans::translate_spans)
}

/// The log records of a (decompressed) logs body: protobuf read in place
/// ([`logs_wire`]) when the reader takes it, else (JSON, or anything the reader
/// leaves to prost) [`decode_logs_request`] then [`logs::translate_logs`]. Both give the
/// same batch for the same body.
pub(crate) fn decode_logs(body: &[u8], encoding: Encoding) -> Result<Batch<LogRecord>, OtlpError> {
    let count = request_items::check(body, encoding == Encoding::Json, LOGS, "log records")?;
    if let Some(count) = count
        && let Some(batch) = logs_wire::translate_counted(body, count)
    {
        return Ok(batch);
    }
    decode_logs_request(body, encoding).map(logs::translate_logs)
}
