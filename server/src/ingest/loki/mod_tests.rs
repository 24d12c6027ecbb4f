//! The handler's framing checks and its answers.

use std::sync::Arc;

use axum::http::HeaderValue;
use strata_engine::AnyValue;

use super::labels::{PushEntry, SentLabels};
use super::*;

fn headers(ct: Option<&str>, ce: Option<&str>) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (name, value) in [(header::CONTENT_TYPE, ct), (header::CONTENT_ENCODING, ce)] {
        if let Some(v) = value {
            h.insert(name, HeaderValue::from_str(v).expect("header value"));
        }
    }
    h
}

#[test]
fn content_types_and_encodings() {
    let ok = [
        (Some("application/x-protobuf"), None, Kind::Protobuf, false),
        (None, None, Kind::Protobuf, false),
        (
            Some("application/x-protobuf"),
            Some("snappy"),
            Kind::Protobuf,
            false,
        ),
        (
            Some("application/x-protobuf"),
            Some("gzip"),
            Kind::Protobuf,
            true,
        ),
        (Some("application/json"), None, Kind::Json, false),
        (
            Some("Application/JSON; charset=utf-8"),
            Some("identity"),
            Kind::Json,
            false,
        ),
        (Some("application/json"), Some("GZIP"), Kind::Json, true),
    ];
    for (ct, ce, kind, gzip) in ok {
        assert_eq!(framing(&headers(ct, ce)), Ok((kind, gzip)), "{ct:?} {ce:?}");
    }
    let refused = [
        (Some("text/plain"), None, "got \"text/plain\""),
        (Some("application/json"), Some("snappy"), "use gzip or none"),
        (
            Some("application/json"),
            Some("br"),
            "\"br\" not supported for JSON",
        ),
        (
            Some("application/x-protobuf"),
            Some("deflate"),
            "for protobuf bodies",
        ),
    ];
    for (ct, ce, want) in refused {
        let e = ApiError::from(framing(&headers(ct, ce)).unwrap_err());
        assert_eq!(e.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert!(e.to_string().contains(want), "{e}");
    }
}

#[test]
fn request_errors_have_lokis_statuses() {
    let status = |e: LokiError| ApiError::from(e).status();
    assert_eq!(
        status(LokiError::NoStreams),
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        status(LokiError::TooManyEntries { count: 2, limit: 1 }),
        StatusCode::PAYLOAD_TOO_LARGE
    );
    assert_eq!(status(LokiError::Json("x".into())), StatusCode::BAD_REQUEST);
    assert_eq!(
        status(LokiError::Protobuf("x".into())),
        StatusCode::BAD_REQUEST
    );
}

fn mapped(entries: u64, rejected: &[(&'static str, u64, u64, &str)]) -> Mapped {
    let rejected = rejected
        .iter()
        .map(|(reason, entries, streams, first)| {
            let r = Rejected {
                entries: *entries,
                streams: *streams,
                first: (*first).to_owned(),
            };
            (*reason, r)
        })
        .collect();
    Mapped {
        records: Vec::new(),
        rejected,
        entries,
    }
}

#[test]
fn everything_stored_is_204() {
    let engine = SignalOutcome {
        accepted: 3,
        ..Default::default()
    };
    assert_eq!(answer(&mapped(3, &[]), &engine), Ok(StatusCode::NO_CONTENT));
    assert_eq!(
        answer(&mapped(0, &[]), &SignalOutcome::default()),
        Ok(StatusCode::NO_CONTENT)
    );
}

#[test]
fn rejections_are_counted_by_reason_with_the_first_message() {
    let mut engine = SignalOutcome {
        accepted: 4,
        ..Default::default()
    };
    engine.rejected.insert(SignalReject::OutOfRetention, 1);
    engine.messages.insert(
        SignalReject::OutOfRetention,
        "log record older than retention".into(),
    );
    let m = mapped(
        8,
        &[(
            "invalid_labels",
            3,
            1,
            "error parsing labels '{foo=}' with error: x",
        )],
    );
    let e = answer(&m, &engine).unwrap_err();
    assert_eq!(e.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        e.to_string(),
        "stored 4 of 8 entries; rejected 4: invalid_labels 3 in 1 stream (first: error parsing \
         labels '{foo=}' with error: x); out_of_retention 1 (first: log record older than \
         retention) (the valid entries are stored: do not resend the request)"
    );
    // An invalid stream without entries is still an error.
    let e = answer(
        &mapped(0, &[("missing_labels", 0, 2, "m")]),
        &SignalOutcome::default(),
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "stored 0 of 0 entries; rejected 0: missing_labels 0 in 2 streams (first: m) (the valid \
         entries are stored: do not resend the request)"
    );
}

#[test]
fn the_rate_limit_is_429_with_retry_after() {
    let mut engine = SignalOutcome {
        accepted: 1,
        ..Default::default()
    };
    engine.rejected.insert(SignalReject::RateLimited, 2);
    let e = answer(&mapped(3, &[]), &engine).unwrap_err();
    assert_eq!(e.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(e.retry_after(), Some(RETRY_AFTER_SECS));
    assert!(
        e.to_string()
            .ends_with("stored 1 of 3 entries; rejected 2: rate_limited 2"),
        "{e}"
    );
}

#[test]
fn an_invalid_stream_rejects_its_entries_and_the_others_are_kept() {
    let stream = |labels: &str, n: usize| PushStream {
        labels: SentLabels::Text(labels.to_owned()),
        entries: (0..n)
            .map(|i| PushEntry {
                time_ns: 1,
                line: i.to_string(),
                metadata: vec![],
            })
            .collect(),
    };
    let m = map_streams(
        vec![
            stream(r#"{app="a"}"#, 2),
            stream("{foo=}", 3),
            stream("{}", 1),
            stream(r#"{app="b"}"#, 1),
            stream("{bar=}", 0),
        ],
        1,
    );
    assert_eq!(m.entries, 7);
    let lines: Vec<_> = m
        .records
        .iter()
        .map(|r| {
            (
                r.service_name.as_str(),
                r.body.as_ref().map(AnyValue::to_text),
            )
        })
        .collect();
    assert_eq!(
        lines,
        vec![
            ("a", Some("0".into())),
            ("a", Some("1".into())),
            ("b", Some("0".into()))
        ]
    );
    let invalid = &m.rejected["invalid_labels"];
    assert_eq!((invalid.entries, invalid.streams), (3, 2));
    assert!(
        invalid
            .first
            .starts_with("error parsing labels '{foo=}' with error: 1:6:"),
        "{}",
        invalid.first
    );
    assert_eq!(m.rejected["missing_labels"].entries, 1);
    // Records of one stream share its labels.
    assert!(Arc::ptr_eq(
        &m.records[0].resource_attributes,
        &m.records[1].resource_attributes
    ));
}
