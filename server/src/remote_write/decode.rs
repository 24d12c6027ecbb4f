//! From a remote-write request body (snappy block format around a protobuf
//! `WriteRequest`) to engine series, refusing oversized and malformed input with a message.

use prost::Message;
use strata_engine::{Sample, SeriesSamples};

use super::proto::WriteRequest;
use crate::api_error::ApiError;

/// A decoded request: the series to store, and the native histogram samples refused.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Decoded {
    /// Series with at least one float sample.
    pub series: Vec<SeriesSamples>,
    /// Total float samples in `series`.
    pub samples: u64,
    /// Native histogram samples (not supported; rejected and counted).
    pub histograms: u64,
}

/// Decompresses `body` (at most `max_len` bytes once decompressed: the length the snappy
/// header declares is checked before anything is allocated) and decodes it.
pub fn decode(body: &[u8], max_len: u64) -> Result<Decoded, ApiError> {
    let declared = snap::raw::decompress_len(body).map_err(|e| {
        ApiError::BadRequest(format!(
            "body is not snappy block-format data (remote-write 1.0 requires Content-Encoding: snappy, block format): {e}"
        ))
    })?;
    if declared as u64 > max_len {
        return Err(ApiError::PayloadTooLarge(format!(
            "snappy header declares {declared} decompressed bytes, over the limit of {max_len} bytes (server.max_body_bytes)"
        )));
    }
    let raw = snap::raw::Decoder::new()
        .decompress_vec(body)
        .map_err(|e| ApiError::BadRequest(format!("snappy decompression failed: {e}")))?;
    decode_protobuf(&raw)
}

/// Decodes an uncompressed `WriteRequest`.
pub fn decode_protobuf(raw: &[u8]) -> Result<Decoded, ApiError> {
    let req = WriteRequest::decode(raw).map_err(|e| {
        ApiError::BadRequest(format!(
            "body is not a valid prometheus.WriteRequest protobuf: {e}"
        ))
    })?;
    let mut out = Decoded::default();
    for (i, ts) in req.timeseries.into_iter().enumerate() {
        out.histograms += ts.histograms.len() as u64;
        if ts.samples.is_empty() {
            continue;
        }
        let mut labels = Vec::with_capacity(ts.labels.len());
        for l in ts.labels {
            let name = String::from_utf8(l.name).map_err(|e| {
                ApiError::BadRequest(format!(
                    "timeseries[{i}]: label name is not valid UTF-8 (bytes {:?})",
                    e.as_bytes()
                ))
            })?;
            let value = String::from_utf8(l.value).map_err(|e| {
                ApiError::BadRequest(format!(
                    "timeseries[{i}]: value of label {name:?} is not valid UTF-8 (bytes {:?})",
                    e.as_bytes()
                ))
            })?;
            labels.push((name, value));
        }
        out.samples += ts.samples.len() as u64;
        out.series.push(SeriesSamples {
            labels,
            samples: ts
                .samples
                .into_iter()
                .map(|s| Sample {
                    ts: s.timestamp,
                    value: s.value,
                })
                .collect(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote_write::proto::{Histogram, Label, Sample as PbSample, TimeSeries};

    fn label(n: &str, v: &str) -> Label {
        Label {
            name: n.into(),
            value: v.into(),
        }
    }

    #[test]
    fn decodes_a_hand_encoded_request() {
        // WriteRequest{timeseries: [{labels: [{__name__, up}], samples: [{1.5, 1000}]}]},
        // encoded by hand from remote.proto's field numbers.
        let label_parts: [&[u8]; 4] = [&[0x0A, 8], b"__name__", &[0x12, 2], b"up"];
        let label = label_parts.concat();
        let sample_parts: [&[u8]; 3] = [&[0x09], &1.5f64.to_le_bytes(), &[0x10, 0xE8, 0x07]];
        let sample = sample_parts.concat();
        let mut ts = vec![0x0A, label.len() as u8];
        ts.extend_from_slice(&label);
        ts.extend_from_slice(&[0x12, sample.len() as u8]);
        ts.extend_from_slice(&sample);
        let mut req = vec![0x0A, ts.len() as u8];
        req.extend_from_slice(&ts);
        let d = decode_protobuf(&req).unwrap();
        assert_eq!(d.samples, 1);
        assert_eq!(
            d.series[0].labels,
            vec![("__name__".to_owned(), "up".to_owned())]
        );
        assert_eq!(
            d.series[0].samples,
            vec![Sample {
                ts: 1000,
                value: 1.5
            }]
        );
    }

    #[test]
    fn counts_histograms_and_refuses_bad_utf8() {
        let req = WriteRequest {
            timeseries: vec![TimeSeries {
                labels: vec![label("__name__", "h")],
                samples: vec![],
                histograms: vec![Histogram { timestamp: 1 }, Histogram { timestamp: 2 }],
            }],
        };
        let d = decode_protobuf(&req.encode_to_vec()).unwrap();
        assert_eq!((d.samples, d.histograms, d.series.len()), (0, 2, 0));

        let bad = WriteRequest {
            timeseries: vec![TimeSeries {
                labels: vec![Label {
                    name: b"job".to_vec(),
                    value: vec![0xFF, 0xFE],
                }],
                samples: vec![PbSample {
                    value: 1.0,
                    timestamp: 1,
                }],
                histograms: vec![],
            }],
        };
        let err = decode_protobuf(&bad.encode_to_vec()).unwrap_err();
        assert!(
            err.to_string().contains("\"job\" is not valid UTF-8"),
            "{err}"
        );
    }

    #[test]
    fn refuses_a_declared_length_over_the_limit_before_decompressing() {
        // A snappy header (varint) declaring 256 MiB, followed by nothing.
        let mut body = Vec::new();
        let mut n: u64 = 256 << 20;
        while n >= 0x80 {
            body.push((n as u8) | 0x80);
            n >>= 7;
        }
        body.push(n as u8);
        let err = decode(&body, 64 << 20).unwrap_err();
        assert!(matches!(err, ApiError::PayloadTooLarge(_)), "{err}");
        assert!(err.to_string().contains("268435456"), "{err}");
    }

    #[test]
    fn malformed_input_is_a_bad_request() {
        let err = decode(b"\xff\xff\xff\xff\xff\xff", 1 << 20).unwrap_err();
        assert!(matches!(err, ApiError::BadRequest(_)), "{err}");
        let body = snap::raw::Encoder::new()
            .compress_vec(b"\x0a\xff\x01junk")
            .unwrap();
        let err = decode(&body, 1 << 20).unwrap_err();
        assert!(err.to_string().contains("WriteRequest"), "{err}");
    }
}
