//! Bearer-token auth and tenant resolution, shared by every HTTP handler (through the
//! [`ReadTenant`]/[`WriteTenant`] extractors, which take the [`Auth`] from the router's
//! state through [`FromRef`]) and by gRPC services (call [`Auth::authorize`] on
//! `request.metadata().clone().into_headers()`). The tokens are configured in
//! `[[auth.tokens]]` (`crate::config::tokens`).
//!
//! Tokens are stored as SHA-256 hex digests; a presented token is hashed and compared with
//! every configured digest in constant time. Each token is bound to one tenant and a set of
//! scopes. `X-Scope-OrgID` picks the tenant only when auth is off or the token has
//! `choose_tenant = true`; a tenant-bound token naming another tenant is refused (403).
//! Admin calls reach one tenant ([`AdminReach`]: snapshots of its data) unless the token
//! has no tenant binding; operating the whole server ([`ServerAdmin`]: `/-/reload`)
//! needs such a token.

pub(crate) mod cluster;

use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use sha2::{Digest, Sha256};
use strata_engine::TenantId;
use subtle::ConstantTimeEq;

use crate::config::tokens::{Scope, TokenConfig};
use crate::error::Result;
use crate::http::error::ApiError;

/// The header naming a tenant (Cortex/Mimir/Loki convention).
pub const TENANT_HEADER: &str = "x-scope-orgid";

#[derive(Debug, Clone)]
struct Token {
    digest: [u8; 32],
    tenant: TenantId,
    scopes: Vec<Scope>,
    choose_tenant: bool,
}

/// Why a request was refused; each maps to one HTTP status (and gRPC code).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No usable `Authorization: Bearer` header, or an unknown token: 401.
    #[error("{0}")]
    Unauthenticated(&'static str),
    /// The token lacks the scope, or names a tenant it may not act for: 403.
    #[error("{0}")]
    Forbidden(String),
    /// `X-Scope-OrgID` is not a valid tenant id: 400.
    #[error("{0}")]
    BadTenant(String),
}

/// The configured tokens; empty means auth is off. Cheap to clone (the tokens are shared),
/// so that the extractors can take it from any state that holds one ([`FromRef`]).
#[derive(Debug, Clone, Default)]
pub struct Auth {
    tokens: Arc<[Token]>,
}

impl Auth {
    /// Validates the configured tokens (hex digests, tenant ids, scopes).
    pub fn new(tokens: &[TokenConfig]) -> Result<Self> {
        let mut out = Vec::with_capacity(tokens.len());
        for (i, t) in tokens.iter().enumerate() {
            let (digest, tenant) = t.checked(i)?;
            out.push(Token {
                digest,
                tenant,
                scopes: t.scopes.clone(),
                choose_tenant: t.choose_tenant,
            });
        }
        Ok(Self { tokens: out.into() })
    }

    /// Whether any token is configured.
    pub fn enabled(&self) -> bool {
        !self.tokens.is_empty()
    }

    /// The tenant a request with `headers` acts for, if it may use `scope`.
    pub fn authorize(&self, headers: &HeaderMap, scope: Scope) -> Result<TenantId, AuthError> {
        if !self.enabled() {
            return Ok(asked_tenant(headers)?.unwrap_or_else(TenantId::default_tenant));
        }
        // Who is asking comes first: without a valid token nothing else is said.
        let token = self.token(headers)?;
        if !token.scopes.contains(&scope) {
            return Err(AuthError::Forbidden(format!(
                "this token lacks the {:?} scope",
                scope.as_str()
            )));
        }
        match asked_tenant(headers)? {
            Some(t) if t != token.tenant && !token.choose_tenant => {
                Err(AuthError::Forbidden(format!(
                    "this token acts for tenant {:?} and may not choose tenant {:?} with X-Scope-OrgID",
                    token.tenant.as_str(),
                    t.as_str()
                )))
            }
            Some(t) => Ok(t),
            None => Ok(token.tenant.clone()),
        }
    }

    /// How far an admin request reaches: `Ok(None)`, the whole server (auth off, or a
    /// token with `choose_tenant`, without `X-Scope-OrgID`); `Ok(Some(t))`, tenant `t` only
    /// (a tenant-bound token, or a tenant named by `X-Scope-OrgID`).
    pub fn admin_reach(&self, headers: &HeaderMap) -> Result<Option<TenantId>, AuthError> {
        let tenant = self.authorize(headers, Scope::Admin)?;
        if asked_tenant(headers)?.is_some() {
            return Ok(Some(tenant));
        }
        if !self.enabled() || self.token(headers)?.choose_tenant {
            return Ok(None);
        }
        Ok(Some(tenant))
    }

    /// Whether a request may operate the whole server (`/-/reload`): auth off, or an
    /// admin token with no tenant binding (`choose_tenant = true`).
    pub fn authorize_server(&self, headers: &HeaderMap) -> Result<(), AuthError> {
        self.authorize(headers, Scope::Admin)?;
        if self.enabled() && !self.token(headers)?.choose_tenant {
            return Err(AuthError::Forbidden(
                "this token is bound to its tenant; operating the whole server needs an admin \
                 token with no tenant binding (choose_tenant = true)"
                    .into(),
            ));
        }
        Ok(())
    }

    /// The tenant a token is bound to, or `None` if it may choose (or auth is off); for
    /// filtering self-metrics.
    pub fn bound_tenant(&self, headers: &HeaderMap) -> Option<TenantId> {
        if !self.enabled() {
            return None;
        }
        self.token(headers)
            .ok()
            .filter(|t| !t.choose_tenant)
            .map(|t| t.tenant.clone())
    }

    fn token(&self, headers: &HeaderMap) -> Result<&Token, AuthError> {
        let value =
            headers
                .get(axum::http::header::AUTHORIZATION)
                .ok_or(AuthError::Unauthenticated(
                    "missing Authorization: Bearer <token> header",
                ))?;
        let presented = bearer(value.as_bytes()).ok_or(AuthError::Unauthenticated(
            "the Authorization header is not \"Bearer <token>\"",
        ))?;
        let digest = Sha256::digest(presented.as_bytes());
        // Every digest is compared (no early exit), each in constant time.
        let mut found = None;
        for t in self.tokens.iter() {
            if bool::from(t.digest[..].ct_eq(digest.as_slice())) {
                found = Some(t);
            }
        }
        found.ok_or(AuthError::Unauthenticated("unknown token"))
    }
}

/// The token of an `Authorization` value `Bearer <token>` (the scheme in any case).
pub(crate) fn bearer(value: &[u8]) -> Option<&str> {
    let (scheme, rest) = std::str::from_utf8(value).ok()?.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
}

/// The tenant named by `X-Scope-OrgID`, validated.
fn asked_tenant(headers: &HeaderMap) -> Result<Option<TenantId>, AuthError> {
    let Some(v) = headers.get(TENANT_HEADER) else {
        return Ok(None);
    };
    let text = v.to_str().map_err(|_| {
        AuthError::BadTenant(
            "invalid X-Scope-OrgID: not visible ASCII; tenant ids are 1-64 characters of A-Z, a-z, 0-9, '_' and '-'"
                .into(),
        )
    })?;
    TenantId::new(text)
        .map(Some)
        .map_err(|e| AuthError::BadTenant(format!("X-Scope-OrgID: {e}")))
}

/// Extractor: the tenant of a request allowed to read.
#[derive(Debug, Clone)]
pub struct ReadTenant(pub TenantId);

/// The WebSocket subprotocol a browser's tail offers, and the server selects: browsers
/// cannot set headers on a WebSocket, so the console sends its credentials as two more
/// subprotocols, `strata.bearer.<token as unpadded base64url>` and
/// `strata.tenant.<tenant id>` (Kubernetes's way for its API server).
pub(crate) const SOCKET_PROTOCOL: &str = "strata.tail";
const SOCKET_BEARER: &str = "strata.bearer.";
const SOCKET_TENANT: &str = "strata.tenant.";

/// `headers` with the credentials a WebSocket request offers as subprotocols
/// ([`SOCKET_PROTOCOL`]) turned into `Authorization` and `X-Scope-OrgID`, where those
/// headers are absent (a header always wins). A bearer that is not base64url is passed on
/// as given, so that it is refused as an unknown token.
pub(crate) fn socket_credentials(headers: &HeaderMap) -> HeaderMap {
    use base64::Engine as _;
    let mut out = headers.clone();
    let offered = headers
        .get_all(axum::http::header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim);
    for p in offered {
        if let Some(token) = p.strip_prefix(SOCKET_BEARER) {
            if out.contains_key(axum::http::header::AUTHORIZATION) {
                continue;
            }
            let decoded = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(token)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .unwrap_or_else(|| token.to_owned());
            if let Ok(v) = axum::http::HeaderValue::from_str(&format!("Bearer {decoded}")) {
                out.insert(axum::http::header::AUTHORIZATION, v);
            }
        } else if let Some(tenant) = p.strip_prefix(SOCKET_TENANT)
            && !out.contains_key(TENANT_HEADER)
            && let Ok(v) = axum::http::HeaderValue::from_str(tenant)
        {
            out.insert(TENANT_HEADER, v);
        }
    }
    out
}

/// Extractor: the tenant of a WebSocket request allowed to read, its credentials taken
/// from headers or from subprotocols ([`socket_credentials`]).
#[derive(Debug, Clone)]
pub(crate) struct SocketReadTenant(pub TenantId);

impl<S: Send + Sync> FromRequestParts<S> for SocketReadTenant
where
    Auth: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let auth = Auth::from_ref(state);
        let headers = socket_credentials(&parts.headers);
        Ok(Self(auth.authorize(&headers, Scope::Read)?))
    }
}

/// Extractor: the tenant of a request allowed to write.
#[derive(Debug, Clone)]
pub struct WriteTenant(pub TenantId);

impl<S: Send + Sync> FromRequestParts<S> for ReadTenant
where
    Auth: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let auth = Auth::from_ref(state);
        Ok(Self(auth.authorize(&parts.headers, Scope::Read)?))
    }
}

/// Extractor: the tenant of a request allowed to operate the server (`admin` scope):
/// reload rules, snapshots, deletes. With auth off, every request may.
#[derive(Debug, Clone)]
pub struct AdminTenant(pub TenantId);

impl<S: Send + Sync> FromRequestParts<S> for AdminTenant
where
    Auth: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let auth = Auth::from_ref(state);
        Ok(Self(auth.authorize(&parts.headers, Scope::Admin)?))
    }
}

/// Extractor: an admin request's reach ([`Auth::admin_reach`]): `None` for the whole
/// server, or the one tenant it may act on.
#[derive(Debug, Clone)]
pub struct AdminReach(pub Option<TenantId>);

impl<S: Send + Sync> FromRequestParts<S> for AdminReach
where
    Auth: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let auth = Auth::from_ref(state);
        Ok(Self(auth.admin_reach(&parts.headers)?))
    }
}

/// Extractor: a request allowed to operate the whole server ([`Auth::authorize_server`]).
#[derive(Debug, Clone)]
pub struct ServerAdmin;

impl<S: Send + Sync> FromRequestParts<S> for ServerAdmin
where
    Auth: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let auth = Auth::from_ref(state);
        auth.authorize_server(&parts.headers)?;
        Ok(Self)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for WriteTenant
where
    Auth: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let auth = Auth::from_ref(state);
        Ok(Self(auth.authorize(&parts.headers, Scope::Write)?))
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Unauthenticated(m) => Self::Unauthorized(m.to_owned()),
            AuthError::Forbidden(m) => Self::Forbidden(m),
            AuthError::BadTenant(m) => Self::BadRequest(m),
        }
    }
}

#[cfg(test)]
mod tests;
