//! Refused text-format bodies: each error's line number and reason.

use super::{refused, text};
use crate::ingest::exposition::{Format, ParseError};

/// `body` in the text format is refused at `line` for `reason`.
fn check(body: &[u8], line: usize, reason: &str) {
    let e = refused(body, Format::Text);
    assert_eq!(
        (e.line, e.reason.as_str()),
        (line, reason),
        "{:?}",
        String::from_utf8_lossy(body)
    );
}

#[test]
fn labels() {
    check(
        b"ok 1\nm{a=\"1\",b=\"2\",a=\"3\"} 1\n",
        2,
        "duplicate label name \"a\"",
    );
    check(
        b"m{\"a\"=\"1\",a=\"3\"} 1\n",
        1,
        "duplicate label name \"a\"",
    );
    check(
        b"m{__name__=\"x\"} 1\n",
        1,
        "label name \"__name__\" is reserved for the metric name",
    );
    check(
        b"{__name__=\"x\"} 1\n",
        1,
        "label name \"__name__\" is reserved for the metric name",
    );
    check(
        b"m{1a=\"b\"} 1\n",
        1,
        "expected a label name, got \"1a=\\\"b\\\"}\"",
    );
    check(
        b"m{a:b=\"c\"} 1\n",
        1,
        "expected '=' after label name \"a\", got \":b=\\\"c\\\"}\"",
    );
    check(
        b"m{a=b} 1\n",
        1,
        "expected a quoted label value after \"a\"=, got \"b}\"",
    );
    check(
        b"m{a='b'} 1\n",
        1,
        "expected a quoted label value after \"a\"=, got \"'b'}\"",
    );
    check(b"m{,} 1\n", 1, "expected a label name, got \",}\"");
    check(
        b"m{a=\"1\",,b=\"2\"} 1\n",
        1,
        "expected a label name, got \",b=\\\"2\\\"}\"",
    );
    check(
        b"m{a=\"1\"\n",
        1,
        "expected a label name, got the end of the line",
    );
    check(b"m{\"\"=\"v\"} 1\n", 1, "empty label name");
    check(
        b"m{a=\"\xff\"} 1\n",
        1,
        "label value \"\u{fffd}\" is not valid UTF-8",
    );
    check(
        b"m{\"\xc3\"=\"v\"} 1\n",
        1,
        "label name \"\u{fffd}\" is not valid UTF-8",
    );
}

#[test]
fn bad_escapes() {
    // A backslash escapes the closing quote: the string never ends.
    check(
        b"ok 1\nm{path=\"C:\\\"} 1\n",
        2,
        "unterminated quoted string \"\\\"C:\\\\\\\"} 1\"",
    );
    check(b"m{a=\"x\\", 1, "unterminated quoted string \"\\\"x\\\\\"");
    // A backslash cannot escape a newline.
    check(
        b"m{a=\"x\\\ny\"} 1\n",
        1,
        "unterminated quoted string \"\\\"x\\\\\"",
    );
    // OpenMetrics ends a string at a raw newline.
    let e = refused(b"m{a=\"two\nlines\"} 1\n# EOF\n", Format::OpenMetrics);
    assert_eq!(
        (e.line, e.reason.as_str()),
        (1, "unterminated quoted string \"\\\"two\"")
    );
    check(
        b"# HELP m bad \xff help\n",
        1,
        "help text \"bad \u{fffd} help\" is not valid UTF-8",
    );
    // Unknown escapes stay as written, as Prometheus keeps them.
    assert_eq!(text("m{a=\"\\d\\t\"} 1").samples[0].labels[0].1, "\\d\\t");
}

#[test]
fn names() {
    check(b"9m 1\n", 1, "expected a metric name, got \"9m\"");
    // As Prometheus reads it, a value may follow the name directly: `m-x` is `m` = "-x".
    check(b"m-x 1\n", 1, "invalid value \"-x\"");
    check(b"m\xc3\xa9 1\n", 1, "invalid value \"\u{e9}\"");
    assert_eq!(text("m+1").samples[0].value, 1.0);
    check(b"a 1\n b 2\n", 2, "whitespace before the metric name");
    check(
        b"{a=\"ok\"} 1\n",
        1,
        "no metric name: expected one before the braces or quoted inside them",
    );
    check(b"m{\"n\"} 1\n", 1, "metric name already set, got \"n\"");
    check(
        b"{\"n\",\"o\"} 1\n",
        1,
        "metric name already set, got \"o\"",
    );
    check(b"{\"\"} 1\n", 1, "empty metric name");
    check(
        b"{\"\xff\"} 1\n",
        1,
        "metric name \"\u{fffd}\" is not valid UTF-8",
    );
    check(b"\x00 1\n", 1, "expected a metric name, got \"\\0\"");
}

#[test]
fn values_and_timestamps() {
    check(
        b"a 1\nm\n",
        2,
        "missing value after the series, got the end of the line",
    );
    check(
        b"m{a=\"b\"}\n",
        1,
        "missing value after the series, got the end of the line",
    );
    check(
        b"m{a=\"b\"}   \n",
        1,
        "missing value after the series, got the end of the line",
    );
    check(b"m abc\n", 1, "invalid value \"abc\"");
    check(b"m 1e400\n", 1, "value \"1e400\" out of range");
    check(b"m -1e400\n", 1, "value \"-1e400\" out of range");
    check(b"m 1_000\n", 1, "invalid value \"1_000\"");
    check(b"m 0x1p-3\n", 1, "invalid value \"0x1p-3\"");
    check(b"m 0x10\n", 1, "invalid value \"0x10\"");
    check(b"m +NaN\n", 1, "invalid value \"+NaN\"");
    check(b"m infin\n", 1, "invalid value \"infin\"");
    check(b"m 1e\n", 1, "invalid value \"1e\"");
    check(b"m .\n", 1, "invalid value \".\"");
    check(b"m 1,5\n", 1, "invalid value \"1,5\"");
    check(b"m 1 1.5\n", 1, "invalid timestamp \"1.5\"");
    check(b"m 1 +5\n", 1, "invalid timestamp \"+5\"");
    check(b"m 1 -\n", 1, "invalid timestamp \"-\"");
    check(
        b"m 1 99999999999999999999\n",
        1,
        "timestamp \"99999999999999999999\" out of range",
    );
    check(
        b"m 1 1700000000000 garbage\n",
        1,
        "unexpected \"garbage\" after the timestamp",
    );
    check(
        b"m 1 1700000000000 1\n",
        1,
        "unexpected \"1\" after the timestamp",
    );
    check(b"m 1 17x\n", 1, "invalid timestamp \"17x\"");
    check(b"m 1 2{\n", 1, "unexpected \"{\" after the timestamp");
    check(b"m 1{\n", 1, "unexpected \"{\" after the value");
    check(b"m 1\r\n", 1, "invalid value \"1\\r\"");
}

#[test]
fn metadata() {
    // Taken, as Prometheus's scrape takes them: the last TYPE wins.
    for body in [
        &b"# TYPE m counter\n# TYPE m gauge\nm 1\n"[..],
        b"m 1\n# TYPE m gauge\n",
    ] {
        let p = crate::ingest::exposition::parse(body, crate::ingest::exposition::Format::Text)
            .expect("taken");
        assert_eq!(
            p.families[0].kind,
            crate::ingest::exposition::MetricType::Gauge
        );
        assert_eq!(p.samples.len(), 1);
    }
    check(b"# TYPE m\n", 1, "missing metric type after TYPE \"m\"");
    check(b"# TYPE m \n", 1, "missing metric type after TYPE \"m\"");
    check(
        b"# TYPE m counters\n",
        1,
        "invalid metric type \"counters\"",
    );
    check(
        b"# TYPE m gaugehistogram\n",
        1,
        "invalid metric type \"gaugehistogram\"",
    );
    check(
        b"# TYPE 1m counter\n",
        1,
        "expected a metric name after TYPE, got \"1m\"",
    );
    check(
        b"# HELP #\n",
        1,
        "expected a metric name after HELP, got \"#\"",
    );
    check(
        b"# TYPE m-x counter\n",
        1,
        "invalid metric type \"x counter\"",
    );
    // After the name the text format skips any one byte, as Prometheus does.
    assert_eq!(
        text("# HELP m-x help").families[0].help.as_deref(),
        Some("x help")
    );
    // A HELP after the samples is fine, and a TYPE of another family with the same prefix.
    let p = text("m_total 1\n# HELP m_total late\n# TYPE m counter\n");
    assert_eq!(p.families.len(), 2);
}

#[test]
fn display_names_the_line() {
    let e = refused(b"a 1\nb 2\nc{a=\"1\",a=\"2\"} 3\n", Format::Text);
    assert_eq!(
        e,
        ParseError {
            line: 3,
            reason: "duplicate label name \"a\"".into()
        }
    );
    assert_eq!(e.to_string(), "line 3: duplicate label name \"a\"");
    // Long tokens are cut in messages.
    let long = format!("m {}\n", "9".repeat(100) + "x");
    let e = refused(long.as_bytes(), Format::Text);
    assert_eq!(e.reason, format!("invalid value \"{}\"…", "9".repeat(40)));
}
