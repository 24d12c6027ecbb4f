//! Ingest request bodies to engine series (metrics) and records (spans, logs) without a
//! server: the exact decoding the HTTP and gRPC handlers run, public so that the fuzz
//! targets (`fuzz/fuzz_targets/`) and the corpus replay test
//! (`server/tests/fuzz_decoders.rs`) exercise the real code, and so an embedder can accept
//! the same payloads.
//!
//! ```
//! use strata_server::decoders::{OtlpBody, otlp_metrics};
//!
//! let json = br#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[
//!     {"name":"queue_depth","gauge":{"dataPoints":[{"timeUnixNano":"1000000000","asDouble":3}]}}
//! ]}]}]}"#;
//! let batch = otlp_metrics(json, OtlpBody { content_type: "application/json", content_encoding: None }, 1 << 20)?;
//! assert_eq!((batch.points, batch.rejected_points), (1, 0));
//! assert_eq!(batch.series[0].samples[0].value, 3.0);
//! # Ok::<(), strata_server::decoders::OtlpDecodeError>(())
//! ```

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use strata_engine::{LogRecord, SeriesSamples, SignalOutcome, SpanRecord};

/// The protobuf exposition format (scrapes that ask for it).
pub use crate::ingest::exposition::proto::{
    Histograms, ProtoSample, Value as ProtoValue, parse_protobuf,
};
/// The exposition parser: Prometheus text and OpenMetrics bodies (scrapes and imports).
pub use crate::ingest::exposition::{
    Exemplar, Family, Format, MetricType, ParseError, Parsed, ParsedSample, decode_series, parse,
    series_parts,
};
use crate::ingest::otlp::{
    Batch, Encoding, OtlpError, TranslateOptions, decode_logs_request, decode_metrics,
    decode_traces, decompress,
};
pub use crate::ingest::remote_write::{Decoded as RemoteWriteBatch, decode as remote_write};

/// How an OTLP/HTTP body is framed: its `Content-Type` and `Content-Encoding` headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OtlpBody<'a> {
    /// `application/x-protobuf` or `application/json` (parameters ignored).
    pub content_type: &'a str,
    /// `gzip`, `identity` or none.
    pub content_encoding: Option<&'a str>,
}

/// An OTLP metrics request mapped onto Prometheus series (docs/otlp-mapping.md).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OtlpMetricsBatch {
    /// One entry per distinct label set.
    pub series: Vec<SeriesSamples>,
    /// OTLP data points in the request.
    pub points: u64,
    /// Data points that could not be mapped (the server reports them in `partial_success`).
    pub rejected_points: u64,
    /// Why, at most 16 lines.
    pub errors: Vec<String>,
}

/// Why an OTLP body was refused as a whole.
#[derive(Debug, thiserror::Error)]
pub enum OtlpDecodeError {
    /// Neither protobuf nor JSON (the server's 415).
    #[error("OTLP/HTTP takes application/x-protobuf or application/json, got {0:?}")]
    UnsupportedContentType(String),
    /// Over the size limit once decompressed (413 / `RESOURCE_EXHAUSTED`).
    #[error("{0}")]
    TooLarge(String),
    /// Malformed: bad gzip, protobuf or JSON, or an unsupported encoding (400).
    #[error("{0}")]
    Invalid(String),
}

impl From<OtlpError> for OtlpDecodeError {
    fn from(e: OtlpError) -> Self {
        match e {
            OtlpError::BodyTooLarge { .. }
            | OtlpError::DeclaredTooLarge { .. }
            | OtlpError::TooManyItems { .. } => Self::TooLarge(e.to_string()),
            other => Self::Invalid(other.to_string()),
        }
    }
}

/// The spans or log records of an OTLP request (docs/otlp-mapping.md, "Spans and logs"),
/// before the engine's checks and caps.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SignalBatch<R> {
    /// The records to store, in request order.
    pub records: Vec<R>,
    /// Records refused by translation (ids of the wrong length or all zeros), by reason,
    /// with the first message of each; `accepted` is 0.
    pub rejected: SignalOutcome,
    /// Attributes, array elements, kvlist entries and log bodies without a value, dropped
    /// (reported as a warning in `partial_success`).
    pub empty_values: u64,
    /// Records in the request: `records` plus those refused.
    pub submitted: u64,
}

impl<R> SignalBatch<R> {
    /// `submitted` given: the general path counts the request's records itself.
    fn new(batch: Batch<R>, submitted: u64) -> Self {
        Self {
            records: batch.records,
            rejected: batch.rejected,
            empty_values: batch.empty_values,
            submitted,
        }
    }

    /// The in-place readers' batches, whose records are all kept or refused.
    fn counted(batch: Batch<R>) -> Self {
        let submitted = batch.records.len() as u64 + batch.rejected.rejected_total();
        Self::new(batch, submitted)
    }
}

/// The body decompressed (at most `max_len` bytes of output) and its encoding.
fn open<'a>(
    body: &'a [u8],
    framing: OtlpBody<'_>,
    max_len: usize,
) -> Result<(std::borrow::Cow<'a, [u8]>, Encoding), OtlpDecodeError> {
    let encoding = Encoding::from_content_type(framing.content_type)
        .ok_or_else(|| OtlpDecodeError::UnsupportedContentType(framing.content_type.to_owned()))?;
    Ok((
        decompress(body, framing.content_encoding, max_len)?,
        encoding,
    ))
}

/// The general path for spans or logs: decompressed, decoded by prost (`decode`), its
/// records counted (`count`) and translated (`translate`).
fn general<Req, R>(
    (body, framing, max_len): (&[u8], OtlpBody<'_>, usize),
    decode: fn(&[u8], Encoding) -> Result<Req, OtlpError>,
    count: fn(&Req) -> usize,
    translate: fn(Req) -> Batch<R>,
) -> Result<SignalBatch<R>, OtlpDecodeError> {
    let (raw, encoding) = open(body, framing, max_len)?;
    let req = decode(&raw, encoding)?;
    let submitted = count(&req) as u64;
    Ok(SignalBatch::new(translate(req), submitted))
}

/// Decompresses (at most `max_len` bytes of output), decodes with prost and translates an
/// OTLP traces request body: the general path. The server reads protobuf bodies with
/// [`otlp_spans_in_place`] first, which must give the same batch wherever it reads one.
pub fn otlp_spans(
    body: &[u8],
    framing: OtlpBody<'_>,
    max_len: usize,
) -> Result<SignalBatch<SpanRecord>, OtlpDecodeError> {
    let count = |req: &ExportTraceServiceRequest| {
        let scopes = req.resource_spans.iter().flat_map(|r| &r.scope_spans);
        scopes.map(|s| s.spans.len()).sum()
    };
    let translate = crate::ingest::otlp::translate_spans;
    general((body, framing, max_len), decode_traces, count, translate)
}

/// The server's in-place reader of an uncompressed protobuf traces body, or `None` where
/// it leaves the body to the general path ([`otlp_spans`]).
pub fn otlp_spans_in_place(raw: &[u8]) -> Option<SignalBatch<SpanRecord>> {
    crate::ingest::otlp::spans_in_place(raw).map(SignalBatch::counted)
}

/// [`otlp_spans`] for a logs request body.
pub fn otlp_logs(
    body: &[u8],
    framing: OtlpBody<'_>,
    max_len: usize,
) -> Result<SignalBatch<LogRecord>, OtlpDecodeError> {
    let count = |req: &ExportLogsServiceRequest| {
        let scopes = req.resource_logs.iter().flat_map(|r| &r.scope_logs);
        scopes.map(|s| s.log_records.len()).sum()
    };
    let translate = crate::ingest::otlp::translate_logs;
    general(
        (body, framing, max_len),
        decode_logs_request,
        count,
        translate,
    )
}

/// [`otlp_spans_in_place`] for a logs body.
pub fn otlp_logs_in_place(raw: &[u8]) -> Option<SignalBatch<LogRecord>> {
    crate::ingest::otlp::logs_in_place(raw).map(SignalBatch::counted)
}

/// Decompresses (at most `max_len` bytes of output), decodes and maps an OTLP metrics
/// request body, with Prometheus 3.x's default translation settings.
pub fn otlp_metrics(
    body: &[u8],
    framing: OtlpBody<'_>,
    max_len: usize,
) -> Result<OtlpMetricsBatch, OtlpDecodeError> {
    let (raw, encoding) = open(body, framing, max_len)?;
    let req = decode_metrics(&raw, encoding)?;
    let t = crate::ingest::otlp::translate_metrics(&req, &TranslateOptions::default());
    Ok(OtlpMetricsBatch {
        series: t.series,
        points: t.points,
        rejected_points: t.rejected_points,
        errors: t.errors,
    })
}

/// The metrics fast path's translation of an uncompressed protobuf OTLP metrics body, every
/// series unknown (so every label set is computed), or `None` where the fast path leaves the
/// body to [`otlp_metrics`]. The fuzz harness holds the two to the same points, rejections
/// and samples. Its `series` may hold a label set more than once (a series the fast path
/// keyed and the general translation both made).
pub fn otlp_metrics_fast(raw: &[u8]) -> Option<OtlpMetricsBatch> {
    let t =
        crate::ingest::otlp::metrics::fast::translate(raw, &TranslateOptions::default(), |keys| {
            vec![None; keys.len()]
        })?
        .into_labelled();
    Some(OtlpMetricsBatch {
        series: t.series,
        points: t.points,
        rejected_points: t.rejected_points,
        errors: t.errors,
    })
}
