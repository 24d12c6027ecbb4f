//! The ingest-decoder fuzz harness: remote-write and OTLP metrics bodies into engine series,
//! OTLP traces and logs bodies into engine records.
//!
//! Shared by the cargo-fuzz targets
//! `fuzz/fuzz_targets/{remote_write,otlp_metrics,otlp_spans,otlp_logs}.rs` and the corpus
//! replay test `server/tests/fuzz_decoders.rs` (both include this file with `#[path]`), so
//! CI runs exactly what the fuzzer runs. The contract, beyond "no panic": a decoded batch
//! is internally consistent (counts add up, every series has samples and a valid metric
//! name, label names are unique, every stored span or log record has valid ids), output
//! never exceeds the decompression limit's worth, and the in-place readers the server tries
//! first agree with the general decoding wherever they read a body.

use std::borrow::Cow;
use std::fmt::Debug;
use std::io::Write;

use strata_engine::{LogRecord, SpanRecord};
use strata_server::decoders::{self, OtlpBody, OtlpDecodeError, SignalBatch};

/// The decompressed-size limit the harness decodes with.
pub(crate) const MAX_LEN: usize = 1 << 20;

/// Remote-write. The first byte picks the mode: even, the rest is the body as a client sends
/// it (snappy block format); odd, the rest is the protobuf, snappy-compressed here so that
/// random bytes reach the protobuf decoder.
pub(crate) fn check_remote_write(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let compressed;
    let body = if mode & 1 == 0 {
        rest
    } else {
        match snap::raw::Encoder::new().compress_vec(rest) {
            Ok(c) => {
                compressed = c;
                &compressed
            }
            Err(_) => return,
        }
    };
    match decoders::remote_write(body, MAX_LEN as u64) {
        Ok(batch) => {
            let samples: usize = batch.series.iter().map(|s| s.samples.len()).sum();
            assert_eq!(batch.samples as usize, samples, "sample count");
            assert!(batch.series.iter().all(|s| !s.samples.is_empty()));
            // An empty Sample message takes 2 bytes of protobuf.
            assert!(
                samples <= MAX_LEN / 2,
                "{samples} samples from at most {MAX_LEN} bytes"
            );
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
}

/// An OTLP input: the first byte picks the framing of the rest (bit 0 JSON, else protobuf;
/// bit 1 gzip it here first, a valid stream around random content; bit 2 declare gzip
/// without compressing, random bytes into the inflater).
struct OtlpInput<'a> {
    /// The input after its first byte.
    rest: &'a [u8],
    /// The body as the decoder gets it.
    body: Cow<'a, [u8]>,
    framing: OtlpBody<'static>,
    /// `rest` is the protobuf the body decompresses to (what the in-place readers take).
    plain_protobuf: bool,
}

fn otlp_input(data: &[u8]) -> Option<OtlpInput<'_>> {
    let (&mode, rest) = data.split_first()?;
    let content_type = if mode & 1 == 1 {
        "application/json"
    } else {
        "application/x-protobuf"
    };
    let (body, content_encoding) = if mode & 2 == 2 {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(rest).ok()?;
        (Cow::Owned(enc.finish().ok()?), Some("gzip"))
    } else if mode & 4 == 4 {
        (Cow::Borrowed(rest), Some("gzip"))
    } else {
        (Cow::Borrowed(rest), None)
    };
    Some(OtlpInput {
        rest,
        body,
        framing: OtlpBody {
            content_type,
            content_encoding,
        },
        plain_protobuf: mode & 5 == 0,
    })
}

/// OTLP metrics, framed as [`OtlpInput`] says.
pub(crate) fn check_otlp(data: &[u8]) {
    let Some(input) = otlp_input(data) else {
        return;
    };
    let (rest, body, framing) = (input.rest, &input.body[..], input.framing);
    let general = decoders::otlp_metrics(body, framing, MAX_LEN);
    // The fast path (protobuf bodies the reader takes) must agree with the general one.
    if input.plain_protobuf {
        fast_agrees(rest, general.as_ref().ok());
    }
    match general {
        Ok(batch) => {
            assert!(batch.rejected_points <= batch.points, "rejected > points");
            assert!(
                batch.errors.len() <= 16,
                "{} error lines",
                batch.errors.len()
            );
            for s in &batch.series {
                assert!(!s.samples.is_empty(), "series without samples");
                let name = s.labels.iter().find(|(n, _)| n == "__name__");
                let Some((_, name)) = name else {
                    panic!("series without a metric name: {:?}", s.labels)
                };
                assert!(valid_metric_name(name), "metric name {name:?}");
                let mut names: Vec<&str> = s.labels.iter().map(|(n, _)| n.as_str()).collect();
                names.sort_unstable();
                let before = names.len();
                names.dedup();
                assert_eq!(before, names.len(), "duplicate label names: {:?}", s.labels);
                for n in names {
                    assert!(valid_label_name(n), "label name {n:?}");
                }
            }
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
}

/// Prometheus's classic metric name charset: `[a-zA-Z_:][a-zA-Z0-9_:]*`.
fn valid_metric_name(n: &str) -> bool {
    let mut chars = n.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// Prometheus's classic label name charset: `[a-zA-Z_][a-zA-Z0-9_]*`.
fn valid_label_name(n: &str) -> bool {
    let mut chars = n.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A sample with its series' labels and its value's bits.
type LabelledSample = (Vec<(String, String)>, i64, u64);

/// The metrics fast path on `raw` (uncompressed protobuf) against the general translation's
/// `batch` (`None`: it refused the body, so the fast path must decline it too): the same
/// point counts, and the same samples under the same labels.
fn fast_agrees(raw: &[u8], batch: Option<&decoders::OtlpMetricsBatch>) {
    let Some(fast) = decoders::otlp_metrics_fast(raw) else {
        return;
    };
    let Some(batch) = batch else {
        panic!("the fast path took a body the general path refused");
    };
    assert_eq!(
        (fast.points, fast.rejected_points),
        (batch.points, batch.rejected_points),
        "points, rejected points"
    );
    let flat = |b: &decoders::OtlpMetricsBatch| {
        let mut v: Vec<LabelledSample> = b
            .series
            .iter()
            .flat_map(|s| {
                s.samples
                    .iter()
                    .map(|x| (s.labels.clone(), x.ts, x.value.to_bits()))
            })
            .collect();
        v.sort();
        v
    };
    assert_eq!(flat(&fast), flat(batch), "samples");
}

/// OTLP traces, framed as [`OtlpInput`] says.
pub(crate) fn check_otlp_spans(data: &[u8]) {
    check_signal(
        data,
        decoders::otlp_spans,
        decoders::otlp_spans_in_place,
        check_span,
    );
}

/// OTLP logs, framed as [`OtlpInput`] says.
pub(crate) fn check_otlp_logs(data: &[u8]) {
    check_signal(
        data,
        decoders::otlp_logs,
        decoders::otlp_logs_in_place,
        check_log,
    );
}

/// A general spans or logs decoding: [`decoders::otlp_spans`] or [`decoders::otlp_logs`].
pub(crate) type General<R> =
    fn(&[u8], OtlpBody<'_>, usize) -> Result<SignalBatch<R>, OtlpDecodeError>;

/// The general decoding of a spans or logs body, checked, and the in-place reader against
/// it: where the reader takes a body it must give the same batch (compared as text, where
/// NaNs are equal), and it must not take a body the general path refuses.
fn check_signal<R: Debug>(
    data: &[u8],
    general: General<R>,
    in_place: fn(&[u8]) -> Option<SignalBatch<R>>,
    check_record: fn(&R),
) {
    let Some(input) = otlp_input(data) else {
        return;
    };
    let general = general(&input.body, input.framing, MAX_LEN);
    if input.plain_protobuf
        && let Some(fast) = in_place(input.rest)
    {
        match &general {
            Ok(batch) => assert_eq!(format!("{fast:?}"), format!("{batch:?}"), "in place"),
            Err(e) => panic!("the in-place reader took a body the general path refused: {e}"),
        }
    }
    match general {
        Ok(batch) => {
            let rejected = &batch.rejected;
            assert_eq!(
                batch.records.len() as u64 + rejected.rejected_total(),
                batch.submitted,
                "records kept and refused"
            );
            // Every record takes at least two bytes (a key and a length, or `{}`).
            assert!(
                batch.submitted <= (MAX_LEN / 2) as u64,
                "{}",
                batch.submitted
            );
            assert_eq!(rejected.accepted, 0);
            assert!(
                rejected.truncated.is_empty(),
                "translation truncates nothing"
            );
            assert!(
                rejected.rejected.keys().eq(rejected.messages.keys()),
                "a message for each reason: {rejected:?}"
            );
            batch.records.iter().for_each(check_record);
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
}

/// What translation guarantees of a span it keeps (the engine then checks times: a start,
/// and no end before it).
fn check_span(s: &SpanRecord) {
    assert_ne!(s.trace_id, [0; 16], "all-zero trace id");
    assert_ne!(s.span_id, [0; 8], "all-zero span id");
    assert_ne!(
        s.parent_span_id,
        Some([0; 8]),
        "all-zero parent: a root span"
    );
    for l in &s.links {
        assert!(
            l.trace_id != [0; 16] && l.span_id != [0; 8],
            "link ids {l:?}"
        );
    }
    assert!(
        s.start_ns >= 0 && s.end_ns >= 0,
        "{} {}",
        s.start_ns,
        s.end_ns
    );
    assert!(s.events.iter().all(|e| e.time_ns >= 0));
    assert!(!s.service_name.is_empty(), "service name");
}

/// What translation guarantees of a log record it keeps (the engine then checks its time).
fn check_log(r: &LogRecord) {
    assert_ne!(r.trace_id, Some([0; 16]), "all-zero trace id");
    assert_ne!(r.span_id, Some([0; 8]), "all-zero span id");
    assert!(r.time_ns >= 0 && r.observed_time_ns >= 0);
    assert!(!r.service_name.is_empty(), "service name");
}
