//! Loki's push messages (`logproto.PushRequest` from `pkg/push/push.proto`), defined by hand
//! with prost, as Promtail and Grafana Alloy send them (snappy block-compressed). Fields
//! Strata does not read (`PushRequest.format`, `EntryAdapter.parsed`) are skipped as
//! unknown; `StreamAdapter.hash` is decoded and ignored.

use prost::Message;

use super::error::LokiError;
use super::labels::{PushEntry, PushStream, SentLabels};

/// `logproto.PushRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct PushRequest {
    /// Field 1.
    #[prost(message, repeated, tag = "1")]
    pub(crate) streams: Vec<StreamAdapter>,
}

/// `logproto.StreamAdapter`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct StreamAdapter {
    /// Field 1: the label string, `{name="value", ...}`.
    #[prost(string, tag = "1")]
    pub(crate) labels: String,
    /// Field 2.
    #[prost(message, repeated, tag = "2")]
    pub(crate) entries: Vec<EntryAdapter>,
    /// Field 3: the sender's hash of the labels (not used).
    #[prost(uint64, tag = "3")]
    pub(crate) hash: u64,
}

/// `logproto.EntryAdapter`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct EntryAdapter {
    /// Field 1.
    #[prost(message, optional, tag = "1")]
    pub(crate) timestamp: Option<Timestamp>,
    /// Field 2.
    #[prost(string, tag = "2")]
    pub(crate) line: String,
    /// Field 3 (`structuredMetadata`).
    #[prost(message, repeated, tag = "3")]
    pub(crate) structured_metadata: Vec<LabelPairAdapter>,
}

/// `logproto.LabelPairAdapter`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct LabelPairAdapter {
    /// Field 1.
    #[prost(string, tag = "1")]
    pub(crate) name: String,
    /// Field 2.
    #[prost(string, tag = "2")]
    pub(crate) value: String,
}

/// `google.protobuf.Timestamp`.
#[derive(Clone, Copy, PartialEq, Eq, prost::Message)]
pub(crate) struct Timestamp {
    /// Field 1: seconds since the Unix epoch.
    #[prost(int64, tag = "1")]
    pub(crate) seconds: i64,
    /// Field 2: nanoseconds within the second.
    #[prost(int32, tag = "2")]
    pub(crate) nanos: i32,
}

impl Timestamp {
    /// Nanoseconds since the Unix epoch (saturating past the `i64` range; none is 0).
    pub(crate) fn nanos_since_epoch(self) -> i64 {
        self.seconds
            .saturating_mul(1_000_000_000)
            .saturating_add(i64::from(self.nanos))
    }
}

/// The streams of a snappy-decompressed `PushRequest`.
pub(crate) fn decode(raw: &[u8]) -> Result<Vec<PushStream>, LokiError> {
    let req = PushRequest::decode(raw).map_err(|e| LokiError::Protobuf(e.to_string()))?;
    Ok(req.streams.into_iter().map(stream).collect())
}

fn stream(s: StreamAdapter) -> PushStream {
    let entries = s
        .entries
        .into_iter()
        .map(|e| PushEntry {
            time_ns: e.timestamp.map_or(0, Timestamp::nanos_since_epoch),
            line: e.line,
            metadata: e
                .structured_metadata
                .into_iter()
                .map(|p| (p.name, p.value))
                .collect(),
        })
        .collect();
    PushStream {
        labels: SentLabels::Text(s.labels),
        entries,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_push_request_decodes_field_by_field() {
        let req = PushRequest {
            streams: vec![StreamAdapter {
                labels: r#"{app="shop"}"#.into(),
                entries: vec![
                    EntryAdapter {
                        timestamp: Some(Timestamp {
                            seconds: 1_700_000_000,
                            nanos: 5,
                        }),
                        line: "hello".into(),
                        structured_metadata: vec![LabelPairAdapter {
                            name: "trace_id".into(),
                            value: "abc".into(),
                        }],
                    },
                    EntryAdapter::default(),
                ],
                hash: 42,
            }],
        };
        let got = decode(&req.encode_to_vec()).expect("decodes");
        assert_eq!(
            got,
            vec![PushStream {
                labels: SentLabels::Text(r#"{app="shop"}"#.into()),
                entries: vec![
                    PushEntry {
                        time_ns: 1_700_000_000_000_000_005,
                        line: "hello".into(),
                        metadata: vec![("trace_id".into(), "abc".into())],
                    },
                    PushEntry {
                        time_ns: 0,
                        line: String::new(),
                        metadata: vec![],
                    },
                ],
            }]
        );
    }

    #[test]
    fn the_fields_strata_skips_are_skipped() {
        // PushRequest.format (2) = "loki"; one stream whose one entry has `parsed` (4).
        let entry = [&[0x22, 0x04, 0x0a, 0x00, 0x12, 0x00][..], b"\x12\x01x"].concat();
        let stream = [&[0x0a, 0x02][..], b"{}", &[0x12, entry.len() as u8], &entry].concat();
        let body = [&[0x0a, stream.len() as u8][..], &stream, b"\x12\x04loki"].concat();
        let got = decode(&body).expect("decodes");
        assert_eq!(got[0].entries[0].line, "x");
        assert_eq!(got[0].labels, SentLabels::Text("{}".into()));
    }

    #[test]
    fn malformed_protobuf_and_invalid_utf8_are_refused() {
        let e = decode(&[0x0a, 0x05, 0x0a]).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("invalid Loki push protobuf (logproto.PushRequest): "),
            "{e}"
        );
        // StreamAdapter.labels holding 0xff.
        let body = [0x0a, 0x03, 0x0a, 0x01, 0xff];
        assert!(matches!(decode(&body), Err(LokiError::Protobuf(_))));
    }

    #[test]
    fn timestamps_saturate() {
        let t = |seconds, nanos| Timestamp { seconds, nanos }.nanos_since_epoch();
        assert_eq!(t(1, 2), 1_000_000_002);
        assert_eq!(t(i64::MAX, 0), i64::MAX);
        assert_eq!(t(-1, 0), -1_000_000_000);
    }
}
