//! Tests for `drain`: Loki's tokenizer tables and Drain training behaviour.

use super::tokenizer::*;
use super::*;
use crate::logql::stages::pattern::Pattern;

fn punct(line: &str) -> Vec<String> {
    tokenize_punctuation(line, 360)
        .map(|t| t.tokens)
        .unwrap_or_default()
}

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn unknown_format() -> DrainConfig {
    DrainConfig {
        format: Some(LogFormat::Unknown),
        ..DrainConfig::default()
    }
}

// Loki: line_tokenizer_test.go TestTokenizer_Tokenize (punctuation column)
// and TestTokenizer_TokenizeAndJoin.
#[test]
fn punctuation_tokenizer_table() {
    let cases: [(&str, &[&str]); 8] = [
        (
            "key1=value1 key2=value2",
            &["key1", "=", "value1", "key2", "=", "value2"],
        ),
        ("key1:value1 key2:value2", &["key1:value1", "key2:value2"]),
        (
            "key1=value1 key2:value2 key3=value3",
            &["key1", "=", "value1", "key2:value2", "key3", "=", "value3"],
        ),
        (
            r#"{"key1":"value1","key2":"value2","key3":"value3"}"#,
            &[
                "{", "\"", "key1", "\"", ":", "\"", "value1", "\"", ",", "\"", "key2", "\"", ":",
                "\"", "value2", "\"", ",", "\"", "key3", "\"", ":", "\"", "value3", "\"", "}",
            ],
        ),
        (
            r#"key1=value1 key2=value2 msg="this is a message""#,
            &[
                "key1", "=", "value1", "key2", "=", "value2", "msg", "=", "\"", "this", "is", "a",
                "message", "\"",
            ],
        ),
        (
            "09:17:38.033366 ▶ INFO  route ops sending to dest https://graphite-cortex-ops-blocks-us-east4.grafana.net/graphite/metrics: x_is_y 0 1717060658",
            &[
                "09:17:38.033366",
                "▶",
                "INFO",
                "route",
                "ops",
                "sending",
                "to",
                "dest",
                "https://graphite-cortex-ops-blocks-us-east4.grafana.net/graphite/metrics:",
                "x_is_y",
                "0",
                "1717060658",
            ],
        ),
        (
            "!@£$%^&*()",
            &["!", "@", "£$", "%", "^", "&", "*", "(", ")"],
        ),
        (
            r#"err="rpc error: desc = \"EOF\"" addr=10.0.151.101:9095"#,
            &[
                "err",
                "=",
                "\"",
                "rpc",
                "error:",
                "desc",
                "=",
                "\\",
                "\"",
                "EOF",
                "\\",
                "\"",
                "\"",
                "addr",
                "=",
                "10.0.151.101:9095",
            ],
        ),
    ];
    for (line, want) in cases {
        assert_eq!(punct(line), strs(want), "line {line:?}");
        let t = tokenize_punctuation(line, 3000).unwrap_or_default();
        assert_eq!(join_punctuation(&t), line, "round trip {line:?}");
    }
    // 128+ tokens: the rest of the line becomes the last token
    let line = "A ".repeat(126) + "127 128 129";
    let got = punct(&line);
    assert_eq!(got.len(), 128);
    assert_eq!(got[127], "128 129");
    // too long
    assert_eq!(tokenize_punctuation(&"x".repeat(361), 360), None);
    // leading spaces survive the round trip (Loki drops them; see module docs)
    let t = tokenize_punctuation("  lead and trail  ", 100).unwrap_or_default();
    assert_eq!(join_punctuation(&t), "  lead and trail  ");
    // multi-byte punctuation is kept whole
    assert_eq!(punct("a…b «c»"), strs(&["a", "…", "b", "«", "c", "»"]));
}

// Loki: TestLogFmtTokenizer / TestLogFmtTokenizerJoin
#[test]
fn logfmt_tokenizer() {
    let cases: [(&str, Option<&[&str]>); 6] = [
        (
            r#"foo=bar baz="this is a message""#,
            Some(&["foo", "bar", "baz", "this is a message"]),
        ),
        (
            r#"foo baz="this is a message""#,
            Some(&["foo", "", "baz", "this is a message"]),
        ),
        (
            r#"foo= baz="this is a message""#,
            Some(&["foo", "", "baz", "this is a message"]),
        ),
        ("foo baz", Some(&["foo", "", "baz", ""])),
        (
            "logger=sqlstore.metrics traceID=c933fefbe893411d3be8e1648d6bcf37 t=2024-07-10T16:00:15.564896897Z level=debug msg=\"query finished\" status=success elapsedtime=1.324305ms <REDACTED> error=null",
            Some(&[
                "logger",
                "sqlstore.metrics",
                "traceID",
                "<_>",
                "t",
                "<_>",
                "level",
                "debug",
                "msg",
                "query finished",
                "status",
                "success",
                "elapsedtime",
                "1.324305ms",
                "<REDACTED>",
                "",
                "error",
                "null",
            ]),
        ),
        ("a=\"unterminated", None),
    ];
    for (line, want) in cases {
        assert_eq!(
            tokenize_logfmt(line, 250).map(|t| t.tokens),
            want.map(strs),
            "line {line:?}"
        );
    }
    let joins: [(&[&str], &str); 7] = [
        (&[], ""),
        (
            &["foo", "bar", "baz", "this is a message"],
            r#"foo=bar baz="this is a message""#,
        ),
        (&["foo", "", "baz", ""], "foo= baz="),
        (&["foo"], "foo="),
        (&["foo", "", "bar"], "foo= bar="),
        (
            &[
                "err",
                r#"rpc error: desc = "EOF""#,
                "addr",
                "10.0.151.101:9095",
            ],
            r#"err="rpc error: desc = \"EOF\"" addr=10.0.151.101:9095"#,
        ),
        (&["error", "null"], "error=null"),
    ];
    for (tokens, want) in joins {
        assert_eq!(join_logfmt(&strs(tokens)), want, "tokens {tokens:?}");
    }
    assert_eq!(join_logfmt(&strs(&["bad key", "v"])), "");
}

// Loki: TestJsonTokenizer
#[test]
fn json_tokenizer() {
    let fields = strs(&["log", "message", "msg", "msg_", "_msg", "content"]);
    let cases: [(&str, Option<&[&str]>, &str); 4] = [
        (
            r#"{"level":30,"time":1719998371869,"pid":17,"amount":{"units":{"low":656}},"msg":"Transaction complete."}"#,
            Some(&["Transaction", "complete."]),
            "<_>Transaction complete.<_>",
        ),
        (
            r#"{"code":200,"message":"OK","data":{"id":"1","name":"foo"}}"#,
            Some(&["OK"]),
            "<_>OK<_>",
        ),
        (
            r#"{"time":"2024-07-03T10:48:10.58330448Z","level":"INFO","msg":"successfully discovered 15 agent IP addresses","hostname_short":foobar","num_vcpus":8}"#,
            Some(&[
                "successfully",
                "discovered",
                "15",
                "agent",
                "IP",
                "addresses",
            ]),
            "<_>successfully discovered 15 agent IP addresses<_>",
        ),
        (
            r#"{"msg":{"actor":"x"},"level":"info","type":"received event"}"#,
            None,
            "",
        ),
    ];
    for (line, want, pattern) in cases {
        let got = tokenize_json(line, &fields, 3000);
        assert_eq!(
            got.as_ref().map(|t| t.tokens.clone()),
            want.map(strs),
            "line {line}"
        );
        if let Some(t) = got {
            assert_eq!(join_json(&t), pattern);
        }
    }
}

// Loki: drain_test.go TestDeduplicatePlaceholders
#[test]
fn dedup() {
    let cases = [
        ("abcd".to_string(), "abcd".to_string()),
        ("<_><_>abcd".into(), "<_>abcd".into()),
        ("<_>".repeat(100), "<_>".into()),
        ("<_> <_>".into(), "<_> <_>".into()),
        ("<_> ".repeat(100), "<_> ".repeat(100)),
        ("<_><<_>".into(), "<_><<_>".into()),
        ("<_><->".into(), "<_><->".into()),
        (("<_>".repeat(100) + " ").repeat(100), "<_> ".repeat(100)),
        ("<<<<<<<_><_>>>>>>>>".into(), "<<<<<<<_>>>>>>>>".into()),
        ("A".repeat(100) + "<_><_>", "A".repeat(100) + "<_>"),
    ];
    for (line, want) in cases {
        assert_eq!(dedup_placeholders(&line), want);
    }
}

// Loki: metrics.go DetectLogFormat via drain_test.go (format column)
#[test]
fn format_detection() {
    assert_eq!(detect_format(r#"{"a":1}"#), LogFormat::Json);
    assert_eq!(
        detect_format(r#"ts=2024 level=info msg="hello world" n=1"#),
        LogFormat::Logfmt
    );
    assert_eq!(
        detect_format("E0507 11:59:29.725681    3089 pod_workers.go:1300] x"),
        LogFormat::Unknown
    );
    assert_eq!(detect_format("x"), LogFormat::Unknown);
}

// Loki: drain_test.go TestLogClusterTracksVolume
#[test]
fn tracks_volume_and_count() {
    let mut d = Drain::new(unknown_format());
    let lines = [
        "server request took 123 ms to complete",
        "server request took 456 ms to complete",
        "server request took 789 ms to complete",
    ];
    for l in lines {
        d.train(l, 0);
    }
    let c = d.clusters();
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].pattern, "server request took <_> ms to complete");
    assert_eq!(c[0].count, 3);
    assert_eq!(
        c[0].volume,
        lines.iter().map(|l| l.len() as u64).sum::<u64>()
    );
}

// Loki: drain_test.go TestDrain_TrainGeneratesPatternsMatchableByLokiPatternFilter
#[test]
fn patterns_match_their_lines() {
    let sched = |ts: &str, addr: &str| {
        format!(
            r#"ts={ts} caller=scheduler_processor.go:143 level=warn msg="error contacting scheduler" err="rpc error: code = Unavailable desc = connection error: desc = \"error reading server preface: EOF\"" addr={addr}:9095"#
        )
    };
    let groups: Vec<Vec<String>> = vec![
        (1..=4).map(|i| format!("test {i} test test")).collect(),
        (1..=4).map(|i| format!("test {i} test test\n")).collect(),
        (1..=4)
            .map(|i| format!("test {i} test test\t\t\t"))
            .collect(),
        (1..=4)
            .map(|i| format!("\t\t\ttest {i} test test"))
            .collect(),
        vec![
            sched("2024-05-30T12:50:36.648377186Z", "10.0.151.101"),
            sched("2024-05-30T12:50:36.350575929Z", "10.0.151.101"),
            sched("2024-05-30T12:50:36.248030329Z", "10.0.45.239"),
            sched("2024-05-30T12:50:36.076517207Z", "10.0.45.239"),
        ],
    ];
    for lines in groups {
        let mut d = Drain::new(unknown_format());
        for l in &lines {
            d.train(l, 0);
        }
        let clusters = d.clusters();
        assert_eq!(clusters.len(), 1, "{lines:?}");
        let filter =
            Pattern::parse_line_filter(&clusters[0].pattern).unwrap_or_else(|e| panic!("{e}"));
        for l in &lines {
            assert!(
                filter.is_match(l),
                "pattern {:?} line {l:?}",
                clusters[0].pattern
            );
        }
    }
}

// Loki: drain_test.go TestDrain_PruneTreeClearsOldBranches
#[test]
fn prune_clears_old_branches() {
    let mut d = Drain::new(unknown_format());
    let now: i64 = 1_700_000_000_000_000_000;
    let lines = [
        "test test test A",
        "test test test B",
        "test test test C",
        "test test test D",
        "test test test E",
        "test test test F",
        "test test test G",
        "my name is W",
        "my name is X",
        "my name is Y",
        "my name is Z",
    ];
    for (i, l) in lines.iter().enumerate() {
        let mut ts = now + i as i64 * 1_000_000;
        if i < 7 {
            ts -= (7 - i as i64) * 60_000_000_000;
        }
        d.train(l, ts);
    }
    assert_eq!(d.clusters().len(), 2);
    assert_eq!(d.root.count(), 8);
    d.prune(now, 10_000_000_000);
    let left = d.clusters();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].pattern, "my name is <_>");
    assert_eq!(d.root.count(), 5);
}

#[test]
fn logfmt_and_json_streams() {
    let mut d = Drain::new(DrainConfig::default());
    for (ts, dir) in [
        ("2024-04-16T15:10:43.1Z", "/var/log/pods/a"),
        ("2024-04-16T15:10:44.2Z", "/var/log/pods/b"),
    ] {
        d.train(&format!(r#"ts={ts} caller=filetarget.go:313 level=info component=logs logs_config=default msg="watching new directory" directory={dir}"#), 0);
    }
    assert_eq!(d.format(), Some(LogFormat::Logfmt));
    assert_eq!(
        d.clusters()
            .iter()
            .map(|c| c.pattern.clone())
            .collect::<Vec<_>>(),
        [
            r#"ts=<_> caller=filetarget.go:313 level=info component=logs logs_config=default msg="watching new directory" directory=<_>"#
        ]
    );
    let mut j = Drain::new(DrainConfig::default());
    for i in 1..=3 {
        j.train(
            &format!(r#"{{"level":"info","msg":"user {i} logged in now"}}"#),
            0,
        );
    }
    j.train(r#"{"level":"info"}"#, 0); // no message field: skipped
    let c = j.clusters();
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].pattern, "<_>user <_> logged in now<_>");
    assert_eq!(c[0].count, 3);
}

#[test]
fn skips_short_long_and_oversized_lines() {
    let mut d = Drain::new(DrainConfig {
        max_line_length: 100,
        ..unknown_format()
    });
    assert_eq!(d.train("too few tokens", 0), None);
    assert_eq!(d.train(&"w ".repeat(81), 0), None);
    assert_eq!(d.train(&format!("a b c {}", "x".repeat(100)), 0), None);
    assert_eq!(
        d.train("just enough tokens here", 0).as_deref(),
        Some("just enough tokens here")
    );
}

#[test]
fn bounded_clusters_lru_and_limiter() {
    let mut d = Drain::new(DrainConfig {
        max_clusters: 2,
        ..unknown_format()
    });
    d.train("alpha beta gamma delta", 0);
    d.train("one two three four", 1);
    d.train("alpha beta gamma delta", 2); // touch the first cluster
    d.train("red green blue yellow", 3); // evicts "one two three four"
    let pats: Vec<String> = d.clusters().into_iter().map(|c| c.pattern).collect();
    assert_eq!(pats, ["alpha beta gamma delta", "red green blue yellow"]);
    // 1 eviction / 4 added = 0.25, not above the ratio: still allowed
    assert!(d.train("cat dog bird fish", 4).is_some()); // second eviction
    // now 2/5 > 0.25: blocked for 10 minutes of line time
    assert_eq!(d.train("alpha beta gamma delta", 5), None);
    assert_eq!(d.train("alpha beta gamma delta", 599_000_000_000), None);
    assert!(d.train("alpha beta gamma delta", 600_000_000_006).is_some());
    // memory stays bounded under a flood of distinct lines
    let mut f = Drain::new(DrainConfig {
        max_clusters: 5,
        max_eviction_ratio: f64::INFINITY,
        ..unknown_format()
    });
    let word = |mut i: i64| {
        let mut w = String::new();
        loop {
            w.push(char::from(b'a' + (i % 26) as u8));
            i /= 26;
            if i == 0 {
                return w;
            }
        }
    };
    for i in 0..5000 {
        let (a, b, c) = (word(i), word(i * 7 + 3), word(i * 13 + 5));
        f.train(&format!("{a} {b} {c} end"), i);
    }
    assert_eq!(f.clusters().len(), 5);
    assert!(f.root.count() < 60, "tree nodes {}", f.root.count());
}

#[test]
fn samples_are_bucketed() {
    let s = 1_000_000_000i64;
    let mut d = Drain::new(DrainConfig {
        max_samples_per_cluster: 3,
        ..unknown_format()
    });
    for ts in [0, 3 * s, 12 * s, 25 * s, 5 * s, 31 * s, 39 * s] {
        d.train("GET /index.html status 200", ts);
    }
    let c = &d.clusters()[0];
    assert_eq!(c.count, 7);
    // 5s arrives after 25s and is dropped from the samples (Loki drops
    // out-of-order samples); only the newest 3 buckets are kept.
    assert_eq!(c.buckets, [(10 * s, 1), (20 * s, 1), (30 * s, 2)]);
    assert_eq!(c.samples(20 * s), [(0, 1), (20 * s, 3)]);
    assert_eq!(c.samples(0), [(10 * s, 1), (20 * s, 1), (30 * s, 2)]);
}
