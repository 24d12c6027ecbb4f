use axum::http::HeaderValue;

use super::*;

/// sha256("foo") and sha256("bar").
const FOO: &str = "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae";
const BAR: &str = "fcde2b2edba56bf408601fb721fe9b5c338d10ee429ea04fae5511b68fbf8fb9";

fn auth() -> Auth {
    Auth::new(&[
        TokenConfig {
            sha256: FOO.into(),
            tenant: "acme".into(),
            scopes: vec![Scope::Write],
            choose_tenant: false,
        },
        TokenConfig {
            sha256: BAR.to_uppercase(),
            tenant: "ops".into(),
            scopes: vec![Scope::Read],
            choose_tenant: true,
        },
    ])
    .unwrap()
}

fn headers(token: Option<&str>, org: Option<&str>) -> HeaderMap {
    let mut h = HeaderMap::new();
    if let Some(t) = token {
        h.insert("authorization", HeaderValue::from_str(t).unwrap());
    }
    if let Some(o) = org {
        h.insert(TENANT_HEADER, HeaderValue::from_str(o).unwrap());
    }
    h
}

#[test]
fn tokens_map_to_their_tenant_and_scopes() {
    let a = auth();
    let t = a.authorize(&headers(Some("Bearer foo"), None), Scope::Write);
    assert_eq!(t.unwrap().as_str(), "acme");
    let t = a.authorize(&headers(Some("bearer foo"), Some("acme")), Scope::Write);
    assert_eq!(t.unwrap().as_str(), "acme");
    assert!(matches!(
        a.authorize(&headers(Some("Bearer foo"), None), Scope::Read),
        Err(AuthError::Forbidden(_))
    ));
    // A bound token may not pick another tenant.
    let err = a
        .authorize(&headers(Some("Bearer foo"), Some("other")), Scope::Write)
        .unwrap_err();
    assert!(
        matches!(err, AuthError::Forbidden(ref m) if m.contains("\"other\"")),
        "{err}"
    );
    // A choosing token may, and falls back to its own.
    let t = a.authorize(&headers(Some("Bearer bar"), Some("other")), Scope::Read);
    assert_eq!(t.unwrap().as_str(), "other");
    let t = a.authorize(&headers(Some("Bearer bar"), None), Scope::Read);
    assert_eq!(t.unwrap().as_str(), "ops");
    assert_eq!(
        a.bound_tenant(&headers(Some("Bearer foo"), None))
            .unwrap()
            .as_str(),
        "acme"
    );
    assert_eq!(a.bound_tenant(&headers(Some("Bearer bar"), None)), None);
}

#[test]
fn missing_or_unknown_tokens_are_unauthenticated_before_anything_else() {
    let a = auth();
    for h in [
        headers(None, None),
        headers(Some("Bearer nope"), None),
        headers(Some("Basic Zm9vOmJhcg=="), None),
        headers(Some("foo"), None),
        headers(None, Some("../etc")),
    ] {
        assert!(
            matches!(
                a.authorize(&h, Scope::Read),
                Err(AuthError::Unauthenticated(_))
            ),
            "{h:?}"
        );
    }
    let err = a
        .authorize(&headers(Some("Bearer bar"), Some("a.b")), Scope::Read)
        .unwrap_err();
    assert!(matches!(err, AuthError::BadTenant(_)), "{err}");
}

#[test]
fn without_tokens_the_header_picks_the_tenant() {
    let a = Auth::default();
    assert!(!a.enabled());
    let t = a.authorize(&headers(None, None), Scope::Write).unwrap();
    assert_eq!(t.as_str(), "default");
    let t = a
        .authorize(&headers(None, Some("team-1")), Scope::Read)
        .unwrap();
    assert_eq!(t.as_str(), "team-1");
    let err = a
        .authorize(&headers(None, Some("a/b")), Scope::Read)
        .unwrap_err();
    assert!(
        matches!(err, AuthError::BadTenant(ref m) if m.contains("invalid tenant id")),
        "{err}"
    );
}

#[test]
fn bad_token_config_names_the_key() {
    let bad = |sha: &str, tenant: &str, scopes: Vec<Scope>| {
        Auth::new(&[TokenConfig {
            sha256: sha.into(),
            tenant: tenant.into(),
            scopes,
            choose_tenant: false,
        }])
        .unwrap_err()
        .to_string()
    };
    assert!(bad("abc", "a", vec![Scope::Read]).contains("auth.tokens[0].sha256"));
    assert!(bad(FOO, "a b", vec![Scope::Read]).contains("auth.tokens[0].tenant"));
    assert!(bad(FOO, "a", vec![]).contains("auth.tokens[0].scopes"));
}
