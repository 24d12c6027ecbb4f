//! Auth, tenancy and hostile input against the real `strata` binary: each refusal is a
//! clear 4xx, memory stays bounded, and nothing else is affected (the valid writes around
//! them are stored, in their own tenant only).

mod common;

use std::time::Instant;

use strata_tests::http::{Framing, Response, request};
use strata_tests::remote_write::{HEADERS, Label, Sample, TestSeries, TimeSeries, encode};
use strata_tests::server::{Server, data_dir};

// sha256 of "acme-writer", "acme-reader", "globex-rw", "admin".
const CONFIG: &str = r#"
[server]
max_body_bytes = 1048576
[limits.tenants.slow]
ingest_rate = 10
ingest_burst = 10
[[auth.tokens]]
sha256 = "SHA_ACME_WRITER"
tenant = "acme"
scopes = ["write"]
[[auth.tokens]]
sha256 = "SHA_ACME_READER"
tenant = "acme"
scopes = ["read"]
[[auth.tokens]]
sha256 = "SHA_GLOBEX"
tenant = "globex"
scopes = ["read", "write"]
[[auth.tokens]]
sha256 = "SHA_ADMIN"
tenant = "acme"
scopes = ["read", "write"]
choose_tenant = true
"#;

fn sha256_hex(s: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(s.as_bytes()))
}

fn series(name: &str, ts: i64, n: usize) -> TestSeries {
    TestSeries {
        labels: vec![("__name__".into(), name.into()), ("job".into(), "t".into())],
        samples: (0..n as i64)
            .map(|i| (ts - (n as i64 - i) * 1000, i as f64))
            .collect(),
    }
}

fn with<'a>(extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    HEADERS
        .iter()
        .copied()
        .chain(extra.iter().copied())
        .collect()
}

#[test]
fn auth_tenancy_and_bad_input() {
    let config = CONFIG
        .replace("SHA_ACME_WRITER", &sha256_hex("acme-writer"))
        .replace("SHA_ACME_READER", &sha256_hex("acme-reader"))
        .replace("SHA_GLOBEX", &sha256_hex("globex-rw"))
        .replace("SHA_ADMIN", &sha256_hex("admin"));
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(common::bin(), dir.path(), &config);
    server.wait_ready(common::READY);
    let now = common::now_ms();
    let good = series("good", now, 10);
    let body = encode(&[good.to_proto()]);

    unauthenticated_is_401(&server, &body);
    wrong_scope_or_tenant_is_403_bad_tenant_400(&server, &body);
    let chosen = valid_writes(&server, &body, now);
    content_type_and_encoding(&server, &body);
    malformed_and_oversized_bodies(&server);
    invalid_utf8_label(&server, now);
    let mixed = partly_invalid(&server, now);
    rate_limit(&server, now);
    self_metrics_per_token(&server);
    socket_credentials(&server);

    // Bounded memory: nothing near the 256 MiB the bomb asked for.
    let peak = server.peak_rss();
    eprintln!("server peak RSS: {} MiB", peak >> 20);
    assert!(peak > 0 && peak < 200 << 20, "peak RSS {peak}");
    assert!(server.terminate().success());

    // Nothing leaked across tenants; the valid writes are all there.
    let data = data_dir(dir.path());
    let acme = common::read_back(&data, "acme");
    let mut mixed_ok = mixed.clone();
    mixed_ok.samples.remove(0);
    assert_eq!(acme, common::expected(&[good, mixed_ok]));
    assert_eq!(
        common::read_back(&data, "chosen"),
        common::expected(&[chosen])
    );
    assert!(common::read_back(&data, "globex").is_empty());
    assert_eq!(
        common::read_back(&data, "slow")
            .values()
            .map(Vec::len)
            .sum::<usize>(),
        10
    );
}

const WRITER: &str = "Bearer acme-writer";

/// A remote write with `HEADERS` and `extra`.
fn post(server: &Server, extra: &[(&str, &str)], body: &[u8]) -> Response {
    server
        .post("/api/v1/write", &with(extra), body)
        .expect("post")
}

/// 401 without a valid token, except on /live and /ready.
fn unauthenticated_is_401(server: &Server, body: &[u8]) {
    for token in [
        None,
        Some("Bearer nope"),
        Some("Basic YWNtZQ=="),
        Some("acme-WRITER"),
    ] {
        let h: Vec<_> = token.iter().map(|t| ("Authorization", *t)).collect();
        let r = post(server, &h, body);
        assert_eq!(r.status, 401, "{token:?}: {}", r.text());
        assert_eq!(
            r.header("www-authenticate"),
            Some("Bearer realm=\"strata\"")
        );
        assert_eq!(server.get("/metrics", &h).expect("metrics").status, 401);
    }
    assert_eq!(server.get("/live", &[]).expect("live").status, 200);
    assert_eq!(server.get("/ready", &[]).expect("ready").status, 200);
}

/// 403: the wrong scope, or another tenant's header on a bound token; 400: a bad tenant id.
fn wrong_scope_or_tenant_is_403_bad_tenant_400(server: &Server, body: &[u8]) {
    // 403: the wrong scope, or another tenant's header on a bound token.
    let r = post(server, &[("Authorization", "Bearer acme-reader")], body);
    assert_eq!(r.status, 403);
    assert!(r.text().contains("\"write\" scope"), "{}", r.text());
    let r = post(
        server,
        &[("Authorization", WRITER), ("X-Scope-OrgID", "globex")],
        body,
    );
    assert_eq!(r.status, 403);
    assert!(
        r.text().contains("may not choose tenant \"globex\""),
        "{}",
        r.text()
    );
    // 400: a bad tenant id, even for a token that may choose.
    for bad in ["../etc", "a b", "tenant.with.dots", &"x".repeat(65)] {
        let r = post(
            server,
            &[("Authorization", "Bearer admin"), ("X-Scope-OrgID", bad)],
            body,
        );
        assert_eq!(r.status, 400, "{bad:?}");
        assert!(r.text().contains("invalid tenant id"), "{}", r.text());
    }
}

/// The valid writes: acme by its token, "chosen" through the admin token; the chosen series.
fn valid_writes(server: &Server, body: &[u8], now: i64) -> TestSeries {
    assert_eq!(post(server, &[("Authorization", WRITER)], body).status, 204);
    let chosen = series("chosen", now, 5);
    let r = post(
        server,
        &[
            ("Authorization", "Bearer admin"),
            ("X-Scope-OrgID", "chosen"),
        ],
        &encode(&[chosen.to_proto()]),
    );
    assert_eq!(r.status, 204, "{}", r.text());
    chosen
}

/// Content type and encoding: 415.
fn content_type_and_encoding(server: &Server, body: &[u8]) {
    let auth = ("Authorization", WRITER);
    let r = server
        .post(
            "/api/v1/write",
            &[
                auth,
                ("Content-Type", "application/json"),
                ("Content-Encoding", "snappy"),
            ],
            body,
        )
        .expect("post");
    assert_eq!(r.status, 415);
    assert!(r.text().contains("application/x-protobuf"), "{}", r.text());
    let r = server
        .post(
            "/api/v1/write",
            &[
                auth,
                ("Content-Type", "application/x-protobuf"),
                ("Content-Encoding", "gzip"),
            ],
            body,
        )
        .expect("post");
    assert_eq!(r.status, 415);
    assert!(r.text().contains("snappy"), "{}", r.text());
}

/// Malformed snappy and protobuf: 400; a snappy bomb and bodies over max_body_bytes: 413.
fn malformed_and_oversized_bodies(server: &Server) {
    let auth = ("Authorization", WRITER);
    // Malformed snappy, malformed protobuf.
    let r = post(server, &[auth], b"\xff\xff\xff\xff\xff\xff\xff");
    assert_eq!(r.status, 400);
    assert!(r.text().contains("snappy"), "{}", r.text());
    let junk = snap::raw::Encoder::new()
        .compress_vec(b"\x0a\xff\xff\x03garbage")
        .expect("snappy");
    let r = post(server, &[auth], &junk);
    assert_eq!(r.status, 400);
    assert!(r.text().contains("prometheus.WriteRequest"), "{}", r.text());

    // A snappy header claiming 256 MiB: refused at once, nothing allocated.
    let mut bomb = vec![0x80, 0x80, 0x80, 0x80, 0x01]; // varint 2^28
    bomb.extend_from_slice(&[0u8; 64]);
    let start = Instant::now();
    let r = post(server, &[auth], &bomb);
    assert_eq!(r.status, 413, "{}", r.text());
    assert!(r.text().contains("268435456"), "{}", r.text());
    assert!(start.elapsed().as_secs() < 5, "{:?}", start.elapsed());

    // Bodies over max_body_bytes (1 MiB): declared, and streamed without a length.
    let r = request(
        server.http,
        "POST",
        "/api/v1/write",
        &with(&[auth]),
        b"",
        Framing::Declared(2 << 20),
    )
    .expect("post");
    assert_eq!(r.status, 413, "{}", r.text());
    assert!(r.text().contains("max_body_bytes"), "{}", r.text());
    let big = vec![7u8; 3 << 19];
    let r = request(
        server.http,
        "POST",
        "/api/v1/write",
        &with(&[auth]),
        &big,
        Framing::Chunked,
    )
    .expect("post");
    assert_eq!(r.status, 413, "{}", r.text());
}

/// Invalid UTF-8 in a label value: 400.
fn invalid_utf8_label(server: &Server, now: i64) {
    let auth = ("Authorization", WRITER);
    // Invalid UTF-8 in a label value.
    let bad_utf8 = TimeSeries {
        labels: vec![
            Label {
                name: b"__name__".to_vec(),
                value: b"bad".to_vec(),
            },
            Label {
                name: b"job".to_vec(),
                value: vec![b'a', 0xC3, 0x28],
            },
        ],
        samples: vec![Sample {
            value: 1.0,
            timestamp: now,
        }],
    };
    let r = post(server, &[auth], &encode(&[bad_utf8]));
    assert_eq!(r.status, 400);
    assert!(r.text().contains("not valid UTF-8"), "{}", r.text());
}

/// Partly invalid: the valid samples are stored, the answer names counts and reasons; the
/// series sent.
fn partly_invalid(server: &Server, now: i64) -> TestSeries {
    let auth = ("Authorization", WRITER);
    // Partly invalid: the valid samples are stored, the answer names counts and reasons.
    let mut mixed = series("mixed", now, 3);
    mixed.samples.insert(0, (now - 400 * 86_400_000, 9.0)); // past the 30 d retention
    let r = post(server, &[auth], &encode(&[mixed.to_proto()]));
    assert_eq!(r.status, 400);
    assert!(
        r.text()
            .starts_with("stored 3 of 4 samples; rejected 1: out_of_retention 1"),
        "{}",
        r.text()
    );
    mixed
}

/// The rate limit: 429 with Retry-After.
fn rate_limit(server: &Server, now: i64) {
    // The rate limit: 429 with Retry-After.
    let r = post(
        server,
        &[("Authorization", "Bearer admin"), ("X-Scope-OrgID", "slow")],
        &encode(&[series("fast", now, 50).to_proto()]),
    );
    assert_eq!(r.status, 429, "{}", r.text());
    assert_eq!(r.header("retry-after"), Some("1"));
    assert!(r.text().contains("rate_limited 40"), "{}", r.text());
}

/// Self-metrics: a bound token sees only its tenant.
fn self_metrics_per_token(server: &Server) {
    // Self-metrics: a bound token sees only its tenant.
    let m = server
        .get("/metrics", &[("Authorization", "Bearer acme-reader")])
        .expect("metrics");
    assert_eq!(m.status, 200);
    let text = m.text();
    assert!(text.contains("tenant=\"acme\""), "{text}");
    assert!(
        !text.contains("tenant=\"chosen\"") && !text.contains("tenant=\"slow\""),
        "{text}"
    );
    assert!(text.contains("reason=\"out_of_retention\""), "{text}");
    let m = server
        .get("/metrics", &[("Authorization", "Bearer admin")])
        .expect("metrics")
        .text();
    assert!(
        m.contains("tenant=\"slow\",signal=\"metrics\",reason=\"rate_limited\"} 40"),
        "{m}"
    );
}

/// The tail WebSocket's handshake with `protocols` offered (and `headers`): the status,
/// and the subprotocol the server selected.
fn tail_handshake(server: &Server, protocols: &[&str], headers: &[(&str, &str)]) -> (u16, String) {
    use tungstenite::client::IntoClientRequest;
    let url = format!(
        "ws://{}/loki/api/v1/tail?query=%7Bjob%3D%22t%22%7D",
        server.http
    );
    let mut req = url.into_client_request().expect("request");
    if !protocols.is_empty() {
        let v = protocols.join(", ").parse().expect("header");
        req.headers_mut().insert("Sec-WebSocket-Protocol", v);
    }
    for (k, v) in headers {
        let name: tungstenite::http::HeaderName = k.parse().expect("header name");
        req.headers_mut()
            .insert(name, v.parse().expect("header value"));
    }
    match tungstenite::connect(req) {
        Ok((mut socket, resp)) => {
            let chosen = resp
                .headers()
                .get("sec-websocket-protocol")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            let _ = socket.close(None);
            (resp.status().as_u16(), chosen)
        }
        Err(tungstenite::Error::Http(resp)) => (resp.status().as_u16(), String::new()),
        Err(e) => panic!("handshake: {e}"),
    }
}

/// Browsers cannot set headers on a WebSocket: the tail takes the bearer token and the
/// tenant as subprotocols (`strata.bearer.<base64url>`, `strata.tenant.<id>`), checked as
/// the headers are; a header, when present, wins.
fn socket_credentials(server: &Server) {
    use base64::Engine as _;
    let bearer = |t: &str| {
        let b = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(t);
        format!("strata.bearer.{b}")
    };
    let (reader, writer, admin) = (
        bearer("acme-reader"),
        bearer("acme-writer"),
        bearer("admin"),
    );
    for (protocols, headers, want) in [
        (vec!["strata.tail"], vec![], (401, "")),
        (
            vec!["strata.tail", "strata.bearer.bm9wZQ"],
            vec![],
            (401, ""),
        ),
        (vec!["strata.tail", &writer], vec![], (403, "")),
        (vec!["strata.tail", &reader], vec![], (101, "strata.tail")),
        (
            vec!["strata.tail", &reader, "strata.tenant.globex"],
            vec![],
            (403, ""),
        ),
        (
            vec!["strata.tail", &admin, "strata.tenant.globex"],
            vec![],
            (101, "strata.tail"),
        ),
        (
            vec!["strata.tail", &reader],
            vec![("Authorization", "Bearer nope")],
            (401, ""),
        ),
        // Loki's own clients offer no subprotocol and send the header.
        (
            vec![],
            vec![("Authorization", "Bearer acme-reader")],
            (101, ""),
        ),
    ] {
        let (status, chosen) = tail_handshake(server, &protocols, &headers);
        assert_eq!((status, chosen.as_str()), want, "{protocols:?} {headers:?}");
    }
}
