//! Ingest request bodies to engine series without a server: the exact decoding the HTTP and
//! gRPC handlers run, public so that the fuzz targets (`fuzz/fuzz_targets/`) and the corpus
//! replay test (`server/tests/fuzz_decoders.rs`) exercise the real code, and so an embedder can
//! accept the same payloads.
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

use strata_engine::SeriesSamples;

use crate::otlp::{Encoding, OtlpError, TranslateOptions, decode_metrics, decompress};
pub use crate::remote_write::{Decoded as RemoteWriteBatch, decode as remote_write};

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
            OtlpError::BodyTooLarge { .. } => Self::TooLarge(e.to_string()),
            other => Self::Invalid(other.to_string()),
        }
    }
}

/// Decompresses (at most `max_len` bytes of output), decodes and maps an OTLP metrics
/// request body, with Prometheus 3.x's default translation settings.
pub fn otlp_metrics(
    body: &[u8],
    framing: OtlpBody<'_>,
    max_len: usize,
) -> Result<OtlpMetricsBatch, OtlpDecodeError> {
    let encoding = Encoding::from_content_type(framing.content_type)
        .ok_or_else(|| OtlpDecodeError::UnsupportedContentType(framing.content_type.to_owned()))?;
    let raw = decompress(body, framing.content_encoding, max_len)?;
    let req = decode_metrics(&raw, encoding)?;
    let t = crate::otlp::translate_metrics(&req, &TranslateOptions::default());
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
    let t = crate::otlp::metrics_fast::translate(raw, &TranslateOptions::default(), |keys| {
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
