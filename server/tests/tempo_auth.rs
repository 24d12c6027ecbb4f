//! The Tempo API's tenancy and auth on the real binary: every route needs a read token,
//! each token sees only its tenant, and `X-Scope-OrgID` (Grafana's tenant header) picks
//! the tenant only for a token that may choose.

mod common;
mod tempo_common;

use serde_json::{Value as Json, json};
use strata_tests::server::Server;
use tempo_common::{
    ACCEPT_PROTOBUF, PROTOBUF, get_json, go_query, hex, send, span, spans_request, trace_ids,
};

fn sha256_hex(s: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(s.as_bytes()))
}

/// Tokens: acme's writer and reader, globex's read-write token, and an operator token
/// that may choose its tenant with `X-Scope-OrgID` (what Grafana sends when the
/// datasource has a tenant header configured).
const AUTH: &str = r#"
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
sha256 = "SHA_OPERATOR"
tenant = "acme"
scopes = ["read"]
choose_tenant = true
"#;

#[test]
fn tempo_api_auth_and_tenancy() {
    let config = AUTH
        .replace("SHA_ACME_WRITER", &sha256_hex("acme-writer"))
        .replace("SHA_ACME_READER", &sha256_hex("acme-reader"))
        .replace("SHA_GLOBEX", &sha256_hex("globex-rw"))
        .replace("SHA_OPERATOR", &sha256_hex("operator"));
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(common::bin(), dir.path(), &config);
    server.wait_ready(common::READY);
    let t0 = u64::try_from(common::now_ms()).expect("now") * 1_000_000 - 120_000_000_000;
    // acme gets the shop and db spans (traces 0xaa and 0xbb); globex one trace 0xee.
    send(&server, &[("Authorization", "Bearer acme-writer")], t0);
    let globex = spans_request(
        "billing",
        vec![span(0xee, 9, None, "charge", 2, t0, 7, false)],
    );
    let r = server
        .post(
            "/v1/traces",
            &[PROTOBUF, ("Authorization", "Bearer globex-rw")],
            &globex,
        )
        .expect("spans");
    assert_eq!(r.status, 200, "{}", r.text());

    let acme = ("Authorization", "Bearer acme-reader");
    let globex = ("Authorization", "Bearer globex-rw");
    let operator = ("Authorization", "Bearer operator");
    let trace = |id: u8, headers: &[(&str, &str)]| -> u16 {
        let mut h = vec![ACCEPT_PROTOBUF];
        h.extend_from_slice(headers);
        server
            .get(&format!("/api/v2/traces/{}", hex(id, 16)), &h)
            .expect("GET")
            .status
    };

    // No token, a bad token: 401, on every route (the health check included).
    for path in ["/api/echo", "/api/search?q=%7B%7D", "/api/v2/search/tags"] {
        assert_eq!(server.get(path, &[]).expect("GET").status, 401, "{path}");
        let bad = [("Authorization", "Bearer nope")];
        assert_eq!(server.get(path, &bad).expect("GET").status, 401, "{path}");
    }
    assert_eq!(trace(0xaa, &[]), 401);
    let r = server.get("/api/echo", &[acme]).expect("GET");
    assert_eq!((r.status, r.text()), (200, "echo".to_owned()));
    // A write-only token may not read.
    assert_eq!(trace(0xaa, &[("Authorization", "Bearer acme-writer")]), 403);

    // Each token sees its own tenant only.
    assert_eq!(trace(0xaa, &[acme]), 200);
    assert_eq!(trace(0xee, &[acme]), 404);
    assert_eq!(trace(0xee, &[globex]), 200);
    assert_eq!(trace(0xaa, &[globex]), 404);
    // X-Scope-OrgID: refused for a bound token naming another tenant, obeyed for a
    // token that may choose.
    assert_eq!(trace(0xee, &[acme, ("X-Scope-OrgID", "globex")]), 403);
    assert_eq!(trace(0xee, &[operator, ("X-Scope-OrgID", "globex")]), 200);
    assert_eq!(trace(0xaa, &[operator, ("X-Scope-OrgID", "globex")]), 404);
    assert_eq!(trace(0xaa, &[operator]), 200, "its own tenant by default");

    let values = |headers: &[(&str, &str)]| -> Json {
        let (status, body) = get_json(
            &server,
            "/api/v2/search/tag/resource.service.name/values",
            headers,
        );
        assert_eq!(status, 200, "{body}");
        body["tagValues"].clone()
    };
    assert_eq!(
        values(&[acme]),
        json!([{"type": "string", "value": "db"}, {"type": "string", "value": "shop"}])
    );
    assert_eq!(
        values(&[globex]),
        json!([{"type": "string", "value": "billing"}])
    );
    assert_eq!(
        values(&[operator, ("X-Scope-OrgID", "globex")]),
        json!([{"type": "string", "value": "billing"}])
    );
    let (s, e) = (t0 / 1_000_000_000 - 60, t0 / 1_000_000_000 + 60);
    let q = go_query(&[
        ("q", "{}"),
        ("start", &s.to_string()),
        ("end", &e.to_string()),
    ]);
    let (status, body) = get_json(&server, &format!("/api/search?{q}"), &[globex]);
    assert_eq!(status, 200, "{body}");
    assert_eq!(trace_ids(&body), vec![hex(0xee, 16)]);
    assert!(server.terminate().success());
}
