//! Decoding JSON push bodies, both shapes, and what refuses them.

use super::*;

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect()
}

fn entry(time_ns: i64, line: &str, metadata: &[(&str, &str)]) -> PushEntry {
    PushEntry {
        time_ns,
        line: line.to_owned(),
        metadata: pairs(metadata),
    }
}

#[test]
fn a_push_decodes_with_its_structured_metadata() {
    let body = br#"{"streams":[
        {"stream":{"app":"shop","env":"prod"},
         "values":[["1700000000000000000","GET /cart \"200\"\n"],
                   ["-5","second",{"trace_id":"0af7","user":"u1"}]]},
        {"stream":{"app":"db"},"values":[["1","x",{}]],"unknown":[1,{"a":2}]}
    ],"extra":true}"#;
    let got = decode(body).expect("decodes");
    assert_eq!(
        got,
        vec![
            PushStream {
                labels: SentLabels::Pairs(pairs(&[("app", "shop"), ("env", "prod")])),
                entries: vec![
                    entry(1_700_000_000_000_000_000, "GET /cart \"200\"\n", &[]),
                    entry(-5, "second", &[("trace_id", "0af7"), ("user", "u1")]),
                ],
            },
            PushStream {
                labels: SentLabels::Pairs(pairs(&[("app", "db")])),
                entries: vec![entry(1, "x", &[])],
            },
        ]
    );
}

#[test]
fn missing_fields_are_empty_as_in_loki() {
    assert_eq!(decode(b"{}").expect("decodes"), vec![]);
    assert_eq!(decode(br#"{"streams":[]}"#).expect("decodes"), vec![]);
    // No labels: the label checks reject the stream later. No values: nothing to store.
    let got =
        decode(br#"{"streams":[{"values":[["1","x"]]},{"stream":{"a":"b"}}]}"#).expect("decodes");
    assert_eq!(got[0].labels, SentLabels::Pairs(vec![]));
    assert_eq!(got[0].entries, vec![entry(1, "x", &[])]);
    assert_eq!(got[1].entries, vec![]);
    // Repeated label keys are kept for the label checks to refuse.
    let got = decode(br#"{"streams":[{"stream":{"a":"1","a":"2"}}]}"#).expect("decodes");
    assert_eq!(
        got[0].labels,
        SentLabels::Pairs(pairs(&[("a", "1"), ("a", "2")]))
    );
}

#[test]
fn the_legacy_shape_decodes_too() {
    let body = br#"{"streams":[{"labels":"{app=\"old\"}","entries":[
        {"ts":"2024-01-02T03:04:05.123456+00:00","line":"hello"},
        {"ts":"2024-01-02T03:04:05Z","line":"again"}]}]}"#;
    let got = decode(body).expect("decodes");
    assert_eq!(
        got,
        vec![PushStream {
            labels: SentLabels::Text(r#"{app="old"}"#.into()),
            entries: vec![
                entry(1_704_164_645_123_456_000, "hello", &[]),
                entry(1_704_164_645_000_000_000, "again", &[]),
            ],
        }]
    );
    let e = decode(br#"{"streams":[{"labels":"{a=\"b\"}","entries":[{"ts":"yesterday"}]}]}"#)
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid Loki push JSON: legacy entry timestamp \"yesterday\" is not an RFC 3339 time \
         between 1677 and 2262"
    );
    let e = decode(br#"{"streams":[{"labels":"{a=\"b\"}","values":[["1","x"]]}]}"#).unwrap_err();
    assert!(e.to_string().contains("mixes"), "{e}");
}

#[test]
fn malformed_bodies_are_refused_with_where() {
    let cases: [(&[u8], &str); 11] = [
        (b"", "EOF while parsing a value at line 1 column 0"),
        (b"{\"streams\":[", "EOF while parsing a list"),
        (
            b"\"x\"",
            "invalid type: string \"x\", expected struct PushJson",
        ),
        (
            br#"{"streams":[{"stream":{"a":"b"},"values":[[1700000000,"x"]]}]}"#,
            "invalid type: integer `1700000000`, expected a string",
        ),
        (
            br#"{"streams":[{"stream":{"a":"b"},"values":[["17e9","x"]]}]}"#,
            "timestamp \"17e9\" is not an integer of nanoseconds since the Unix epoch",
        ),
        (
            br#"{"streams":[{"stream":{"a":"b"},"values":[["","x"]]}]}"#,
            "timestamp \"\" is not an integer",
        ),
        (
            br#"{"streams":[{"stream":{"a":"b"},"values":[["99999999999999999999","x"]]}]}"#,
            "timestamp \"99999999999999999999\" is out of range",
        ),
        (
            br#"{"streams":[{"stream":{"a":"b"},"values":[["1"]]}]}"#,
            "invalid length 1, expected an entry [\"<unix epoch in nanoseconds>\", \"<log line>\"]",
        ),
        (
            br#"{"streams":[{"stream":{"a":"b"},"values":[["1","x",{},"y"]]}]}"#,
            "invalid length 4",
        ),
        (
            br#"{"streams":[{"stream":{"a":5},"values":[]}]}"#,
            "invalid type: integer `5`, expected a string",
        ),
        (
            br#"{"streams":[{"stream":{"a":"b"},"values":[["1","x",{"k":1}]]}]}"#,
            "invalid type: integer `1`, expected a string",
        ),
    ];
    for (body, want) in cases {
        let e = decode(body).unwrap_err();
        assert!(matches!(e, LokiError::Json(_)), "{e:?}");
        let text = e.to_string();
        assert!(
            text.starts_with("invalid Loki push JSON: ") && text.contains(want),
            "{}: {text}",
            String::from_utf8_lossy(body)
        );
    }
    // serde_json says where.
    let e = decode(b"{\"streams\":[{\"values\":[[\"x\",\"y\"]]}]}").unwrap_err();
    assert!(e.to_string().contains("at line 1 column"), "{e}");
}

#[test]
fn entries_are_counted_without_decoding() {
    let v1 = br#"{"streams":[{"stream":{"a":"[{"},"values":[["1","[x]"],["2","{",{"k":"["}]]},
        {"stream":{"b":"c"},"values":[["3","y"]]}]}"#;
    assert_eq!(count_entries(v1), 3);
    let legacy = br#"{"streams":[{"labels":"{a=\"b\"}","entries":[{"ts":"x","line":"\"[{"}]}]}"#;
    assert_eq!(count_entries(legacy), 1);
    assert_eq!(count_entries(b""), 0);
    assert_eq!(count_entries(b"]]]]{{{{{[[[["), 1);
    let many = format!(
        r#"{{"streams":[{{"stream":{{"a":"b"}},"values":[{}]}}]}}"#,
        vec![r#"["1",""]"#; 1000].join(",")
    );
    assert_eq!(count_entries(many.as_bytes()), 1000);
}
