//! Tests for `detect`: detected field types and Loki's level-detection tables.

use super::*;

fn kv(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

// Loki: pkg/querier/queryrange/detected_fields_test.go "correctly identifies
// different field types" (message="line %d" count=%d fake=true bytes=%dMB
// duration=%dms percent=%f even=%t) and the nested JSON type table.
#[test]
fn field_types() {
    let cases = [
        ("line 1", "string"),
        ("1", "int"),
        ("-42", "int"),
        ("+7", "int"),
        ("true", "boolean"),
        ("False", "boolean"),
        ("T", "boolean"),
        ("2MB", "bytes"),
        ("1.5GB", "bytes"),
        ("5 KiB", "bytes"),
        ("10B", "bytes"),
        ("3ms", "duration"),
        ("1h2m", "duration"),
        ("5m", "duration"), // duration is checked before bytes
        ("0.500000", "float"),
        ("45.6", "float"),
        ("1.0", "float"),
        ("1e3", "float"),
        (".5", "float"),
        ("NaN", "float"),
        ("-Inf", "float"),
        ("infinity", "float"),
        ("0x1p-2", "float"),
        ("1e400", "string"), // out of range for ParseFloat
        ("+nan", "string"),
        ("99999999999999999999", "float"), // overflows int64, fine as float
        ("bob", "string"),
        ("", "string"),
        ("1_000", "string"),
    ];
    for (v, want) in cases {
        assert_eq!(field_type(v), want, "value {v:?}");
    }
}

// Loki: pkg/distributor/field_detection_test.go Test_detectLogLevelFromLogEntry
#[test]
fn level_from_entries() {
    let cases: [(&str, &str); 37] = [
        ("foo", "unknown"),
        ("this is a warning log", "warn"),
        ("this is a debug message", "debug"),
        ("this is a DEBUG message", "debug"),
        ("debug: something happened", "debug"),
        ("DEBUG: something happened", "debug"),
        ("this is a critical message", "critical"),
        ("this is a CRITICAL message", "critical"),
        ("critical: something happened", "critical"),
        ("CRITICAL: something happened", "critical"),
        ("[debug] this is a debug message", "debug"),
        ("[DEBUG] this is a debug message", "debug"),
        ("[critical] this is a critical message", "critical"),
        ("[CRITICAL] this is a critical message", "critical"),
        ("[info] this is an info message", "info"),
        ("[INFO] this is an info message", "info"),
        ("[warn] this is a warning message", "warn"),
        ("[WARNING] this is a warning message", "warn"),
        ("[error] this is an error message", "error"),
        ("[ERROR] this is an error message", "error"),
        ("[err] this is an error message", "error"),
        ("[ERR] this is an error message", "error"),
        (
            r#"{"foo":"bar","msg":"message with keyword error but it should not get picked up","level":"critical"}"#,
            "critical",
        ),
        (
            r#"{"FOO":"bar","MSG":"message with keyword error but it should not get picked up","LEVEL":"Critical"}"#,
            "critical",
        ),
        (
            r#"{"foo":"bar","msg":"message with keyword warn but it should not get picked up","level":"warn"}"#,
            "warn",
        ),
        (
            r#"{"foo":"bar","msg":"message with keyword warn but it should not get picked up","SEVERITY":"FATAL"}"#,
            "fatal",
        ),
        (
            r#"{"foo":"bar","msg":"message with keyword warn but it should not get picked up","level":"ERR"}"#,
            "error",
        ),
        (
            r#"{"foo":"bar","msg":"message with keyword INFO get picked up"}"#,
            "info",
        ),
        (
            r#"foo=bar msg="message with info and not level should get picked up""#,
            "info",
        ),
        (
            r#"foo=bar msg="message with keyword error but it should not get picked up" level=warn"#,
            "warn",
        ),
        (
            r#"foo=bar msg="message with keyword error but it should not get picked up" level=Warn"#,
            "warn",
        ),
        (
            r#"foo=bar msg="message with keyword error but it should not get picked up" level=Trace"#,
            "trace",
        ),
        (
            r#"foo=bar msg="message with keyword but it should not get picked up" level=NA"#,
            "unknown",
        ),
        (
            r#"foo=bar msg="message with keyword but it should not get picked up" severity=critical"#,
            "critical",
        ),
        (
            r#"Foo=bar MSG="Message with keyword but it should not get picked up" Severity=critical"#,
            "critical",
        ),
        (
            r#"FOO=bar MSG="message that should qualify to unknown when there is no level defined" LEVEL=Inf"#,
            "info",
        ),
        (
            r#"FOO=bar MSG="message that should qualify to unknown when there is no level defined" LEVEL=Information"#,
            "info",
        ),
    ];
    for (line, want) in cases {
        assert_eq!(detect_level(line, &[], &[]), want, "line {line:?}");
    }
}

// Loki: Test_detectLogLevelFromLogEntry (OTLP) and
// Test_detectLogLevelFromOTLPSeverityNumber; Test_DetectLogLevels (labels,
// normalization, existing detected_level).
#[test]
fn level_from_labels_and_metadata() {
    let otlp = |n: &str| kv(&[(OTLP_SEVERITY_NUMBER, n)]);
    assert_eq!(detect_level("error", &[], &otlp("7")), "debug");
    assert_eq!(detect_level("", &[], &otlp("foo")), "info");
    for (n, want) in [
        ("0", "unknown"),
        ("1", "trace"),
        ("4", "trace"),
        ("5", "debug"),
        ("8", "debug"),
        ("9", "info"),
        ("12", "info"),
        ("13", "warn"),
        ("16", "warn"),
        ("17", "error"),
        ("20", "error"),
        ("21", "fatal"),
        ("24", "fatal"),
        ("25", "unknown"),
        ("100", "unknown"),
    ] {
        assert_eq!(detect_level("", &[], &otlp(n)), want, "severity {n}");
    }
    for (v, want) in [
        ("ERROR", "error"),
        ("WaRn", "warn"),
        ("InFo", "info"),
        ("CRITICAL", "critical"),
        ("Debug", "debug"),
        ("FaTaL", "fatal"),
        ("tRaCe", "trace"),
        ("notice", "notice"),
    ] {
        assert_eq!(
            detect_level("x", &kv(&[("foo", "bar"), ("level", v)]), &[]),
            want,
            "label {v}"
        );
        assert_eq!(
            detect_level("x", &[], &kv(&[("severity", v)])),
            want,
            "metadata {v}"
        );
        assert_eq!(
            detect_level("x", &[], &kv(&[(DETECTED_LEVEL, v)])),
            want,
            "existing {v}"
        );
    }
    // stream labels beat metadata, which beats the line
    assert_eq!(
        detect_level(
            "level=debug",
            &kv(&[("lvl", "warn")]),
            &kv(&[("level", "error")])
        ),
        "warn"
    );
    assert_eq!(
        detect_level("level=debug", &[], &kv(&[("level", "error")])),
        "error"
    );
    // field priority follows the allowed-field order, not label order
    assert_eq!(
        detect_level("", &kv(&[("lvl", "warn"), ("level", "info")]), &[]),
        "info"
    );
}

// Loki: TestGetLevelUsingJsonParser
#[test]
fn json_level_search() {
    let f = |line: &str, fields: &[&str], depth: usize| {
        json_level_value(line, fields, depth).map(str::to_string)
    };
    assert_eq!(
        f(r#"{"level": "error"}"#, &["level"], 0).as_deref(),
        Some("error")
    );
    assert_eq!(
        f(r#"{"a": {"level": "info"}}"#, &["level"], 0).as_deref(),
        Some("info")
    );
    assert_eq!(
        f(r#"{"a": {"b": {"c": {"level": "warn"}}}}"#, &["level"], 0).as_deref(),
        Some("warn")
    );
    assert_eq!(
        f(
            r#"{"severity": "error", "level": "info"}"#,
            &["level", "severity"],
            0
        )
        .as_deref(),
        Some("error")
    );
    assert_eq!(
        f(
            r#"{"a": {"level": "error"}, "b": {"level": "info"}}"#,
            &["level"],
            0
        )
        .as_deref(),
        Some("error")
    );
    assert_eq!(
        f(
            r#"{"arr": [{"level": "debug"}], "level": "info"}"#,
            &["level"],
            0
        )
        .as_deref(),
        Some("info")
    );
    assert_eq!(
        f(
            r#"{"level": 123, "severity": "warn"}"#,
            &["level", "severity"],
            0
        )
        .as_deref(),
        Some("warn")
    );
    assert_eq!(f(r#"{"foo": "bar"}"#, &["level"], 0), None);
    assert_eq!(f(r#"{"foo": "bar""#, &["level"], 0), None);
    assert_eq!(
        f(
            r#"{"custom_level": "error", "log_severity": "warn"}"#,
            &["custom_level", "log_severity"],
            0
        )
        .as_deref(),
        Some("error")
    );
    assert_eq!(
        f(
            r#"{"a": {"level": "debug"}, "level": "info"}"#,
            &["level"],
            1
        )
        .as_deref(),
        Some("info")
    );
    assert_eq!(f(r#"{"a": {"level": "debug"}}"#, &["level"], 1), None);
    // default depth 2 reaches one nested level only
    assert_eq!(
        level_from_line(r#"{"a": {"level": "dbg"}}"#, &DEFAULT_LEVEL_FIELDS, 2),
        "debug"
    );
    assert_eq!(
        level_from_line(
            r#"{"a": {"b": {"level": "dbg"}}}"#,
            &DEFAULT_LEVEL_FIELDS,
            2
        ),
        "unknown"
    );
    // ...and then the keyword scan still sees the quoted word
    assert_eq!(
        level_from_line(
            r#"{"a": {"b": {"level": "debug"}}}"#,
            &DEFAULT_LEVEL_FIELDS,
            2
        ),
        "debug"
    );
    // hostile nesting terminates
    let deep = "{\"a\":".repeat(50_000) + "1" + &"}".repeat(50_000);
    assert_eq!(level_from_line(&deep, &DEFAULT_LEVEL_FIELDS, 0), "unknown");
}

// Loki: Test_detectLevelFromLogLine (word table x templates, extra cases) and
// Test_detectLevelFromLogLine_earliestPosition.
#[test]
fn keyword_scan() {
    let words = [
        ("trace", "trace"),
        ("debug", "debug"),
        ("info", "info"),
        ("warn", "warn"),
        ("warning", "warn"),
        ("error", "error"),
        ("err", "error"),
        ("fatal", "fatal"),
        ("critical", "critical"),
        ("unknown", "unknown"),
    ];
    let templates = [
        "this is a {} message",
        "{} occurred",
        "an {}",
        "this is an {} message",
        "{}: something happened",
        "{}, something happened",
        "{}! something happened",
        "({}) something happened",
        "[{}] something happened",
        "2024-01-01T10:00:00Z {}: connection failed",
        "[{}] connection failed",
    ];
    for (word, level) in words {
        for t in templates {
            for w in [word.to_string(), word.to_uppercase()] {
                let line = t.replace("{}", &w);
                assert_eq!(keyword_level(&line), level, "line {line:?}");
            }
        }
    }
    let extra = [
        ("this is a terror attack", "unknown"),
        ("there were multiple errors", "unknown"),
        ("error123 occurred", "unknown"),
        ("123error occurred", "unknown"),
        ("errorCode is invalid", "unknown"),
        ("myError occurred", "unknown"),
        ("debugging the issue", "unknown"),
        ("information is available", "unknown"),
        ("warnings issued", "unknown"),
        ("tracer bullet", "unknown"),
        ("", "unknown"),
        (r#"{"message": "error occurred"}"#, "error"),
        (r#"{"error": "something"}"#, "error"),
        (r#"{"errorCode": 123}"#, "unknown"),
        (r#"msg="error occurred""#, "error"),
        ("errorCode=123", "unknown"),
        ("error=something", "error"),
        ("level=error", "error"),
        ("[terror] attack occurred", "unknown"),
        (r#"msg="[error] occurred""#, "error"),
        ("error_code is 500", "unknown"),
        ("stack_trace printed", "unknown"),
        (
            "2024-01-01T10:00:00Z info request failed -l warning --log-level misc:error",
            "info",
        ),
        ("warning: degraded, info follows", "warn"),
        ("component=misc:error [info] processed", "info"),
        ("fooerror [error] message", "error"),
        ("fooerror errorbar misc:error error_code", "unknown"),
        (
            r#"192.168.1.1 - - [01/Jan/2024:10:00:00 +0000] "GET /api/error-handler HTTP/1.1" 500 1234 "-" "curl/7.68.0""#,
            "unknown",
        ),
        (
            "[Mon Jan 01 10:00:00.000000 2024] [warn] [pid 1234] RSA server certificate CommonName does not match",
            "warn",
        ),
        (
            "2024-01-01 10:00:00.000  INFO 1234 --- [main] com.example.ErrorController : Handling request for /api/error-resource",
            "info",
        ),
        (
            "2024-01-01T10:00:00.000000Z\twarn\tads\tcluster update: warning threshold exceeded, error_rate=0.05",
            "warn",
        ),
        (
            "Tue Mar 24 2026 19:49:19 GMT+0000 (Coordinated Universal Time)|INFO|Integration|core-api-service:server|undefined|Received request from API GW",
            "info",
        ),
        (
            "event='Connection refused' level='error' timestamp='2022-10-13T16:30:01Z' host='db.internal'",
            "error",
        ),
        ("ünïcödé before error here", "error"),
    ];
    for (line, want) in extra {
        assert_eq!(keyword_level(line), want, "line {line:?}");
    }
}
