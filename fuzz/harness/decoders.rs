//! The ingest-decoder fuzz harness: remote-write and OTLP metrics bodies into engine series.
//!
//! Shared by the cargo-fuzz targets `fuzz/fuzz_targets/{remote_write,otlp_metrics}.rs` and the
//! corpus replay test `server/tests/fuzz_decoders.rs` (both include this file with `#[path]`),
//! so CI runs exactly what the fuzzer runs. The contract, beyond "no panic": a decoded batch
//! is internally consistent (counts add up, every series has samples and a valid metric
//! name, label names are unique), and output never exceeds the decompression limit's worth.

use std::io::Write;

use strata_server::decoders::{self, OtlpBody};

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

/// OTLP metrics. The first byte picks the framing: bit 0 JSON (else protobuf); bit 1 gzip
/// the rest here first (a valid stream around random content); bit 2 declare gzip without
/// compressing (random bytes into the inflater).
pub(crate) fn check_otlp(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let content_type = if mode & 1 == 1 {
        "application/json"
    } else {
        "application/x-protobuf"
    };
    let gzipped;
    let (body, content_encoding) = if mode & 2 == 2 {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        if enc.write_all(rest).is_err() {
            return;
        }
        match enc.finish() {
            Ok(g) => {
                gzipped = g;
                (&gzipped[..], Some("gzip"))
            }
            Err(_) => return,
        }
    } else if mode & 4 == 4 {
        (rest, Some("gzip"))
    } else {
        (rest, None)
    };
    let framing = OtlpBody {
        content_type,
        content_encoding,
    };
    let general = decoders::otlp_metrics(body, framing, MAX_LEN);
    // The fast path (protobuf bodies the reader takes) must agree with the general one.
    if mode & 5 == 0 {
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
