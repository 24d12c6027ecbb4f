//! Who a Flight SQL call acts for: [`FlightAuth`], the interceptor every call of the
//! service passes through, and the handshake's answer.
//!
//! A call carries `authorization: Bearer <token>` metadata, as HTTP requests do, or
//! `authorization: Basic base64(user:password)`, as clients configured with a user name and
//! password send it (ADBC's `username`/`password`, JDBC's `user`/`password`, pyarrow's
//! `authenticate_basic_token`): **the user name is ignored and the password is the token**.
//! The token must have the `read` scope; its tenant (or, for a token that may choose, or
//! with auth off, the one in `x-scope-orgid`) is the tenant the call reads.

use std::pin::Pin;

use arrow_flight::HandshakeResponse;
use axum::http::{HeaderMap, HeaderValue, header};
use base64::Engine as _;
use futures::Stream;
use strata_engine::TenantId;
use tonic::metadata::MetadataValue;
use tonic::service::Interceptor;
use tonic::{Request, Response, Status};

use crate::auth::{Auth, bearer};
use crate::config::tokens::Scope;
use crate::http::error::ApiError;

/// The tenant a call was authorized for, put into the request's extensions by
/// [`FlightAuth`].
#[derive(Debug, Clone)]
pub(crate) struct FlightTenant(pub(crate) TenantId);

/// The interceptor of the Flight SQL service: authorizes every call for reading (Bearer or
/// Basic, see the module docs) and records its tenant as a [`FlightTenant`].
#[derive(Debug, Clone)]
pub(crate) struct FlightAuth {
    auth: Auth,
}

impl FlightAuth {
    /// The interceptor over the server's tokens.
    pub(crate) fn new(auth: Auth) -> Self {
        Self { auth }
    }
}

impl Interceptor for FlightAuth {
    fn call(&mut self, mut req: Request<()>) -> Result<Request<()>, Status> {
        let mut headers = req.metadata().clone().into_headers();
        as_bearer(&mut headers)?;
        let tenant = self
            .auth
            .authorize(&headers, Scope::Read)
            .map_err(|e| ApiError::from(e).to_grpc_status())?;
        req.extensions_mut().insert(FlightTenant(tenant));
        Ok(req)
    }
}

/// Rewrites `authorization: Basic b64(user:password)` in `headers` into
/// `authorization: Bearer password`; any other value stays as it is (and is judged by
/// [`Auth::authorize`]). A Basic value that does not decode is `UNAUTHENTICATED`.
pub(crate) fn as_bearer(headers: &mut HeaderMap) -> Result<(), Status> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(());
    };
    let Some(password) = basic_password(value.as_bytes())? else {
        return Ok(());
    };
    let value = HeaderValue::try_from(format!("Bearer {password}")).map_err(|_| {
        Status::unauthenticated("the Basic authorization's password is not a valid token")
    })?;
    headers.insert(header::AUTHORIZATION, value);
    Ok(())
}

/// The password of an `Authorization` value `Basic b64(user:password)` (the scheme in any
/// case), `None` for another scheme.
pub(crate) fn basic_password(value: &[u8]) -> Result<Option<String>, Status> {
    let bad = || {
        Status::unauthenticated("the Authorization header is not \"Basic base64(user:password)\"")
    };
    let text = std::str::from_utf8(value).map_err(|_| bad())?.trim();
    let (scheme, rest) = text.split_once(' ').unwrap_or((text, ""));
    if !scheme.eq_ignore_ascii_case("basic") {
        return Ok(None);
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .map_err(|_| bad())?;
    let decoded = String::from_utf8(decoded).map_err(|_| bad())?;
    let (_user, password) = decoded.split_once(':').ok_or_else(bad)?;
    Ok(Some(password.to_owned()))
}

/// The tenant [`FlightAuth`] authorized `req` for. It is always there (every call passes
/// through the interceptor); `INTERNAL` if not.
pub(crate) fn tenant<T>(req: &Request<T>) -> Result<TenantId, Status> {
    req.extensions()
        .get::<FlightTenant>()
        .map(|t| t.0.clone())
        .ok_or_else(|| Status::internal("flight sql: the call passed no authorization"))
}

/// The stream of handshake responses.
pub(crate) type HandshakeStream =
    Pin<Box<dyn Stream<Item = Result<HandshakeResponse, Status>> + Send>>;

/// Answers `Handshake` (reached only once [`FlightAuth`] has accepted the call): one
/// response whose payload is the token, and `authorization: Bearer <token>` in the
/// response metadata, which clients send on their later calls. The token is the Basic
/// password or the Bearer token the client sent; with auth off and no token, the payload
/// is empty and there is no header.
pub(crate) fn handshake<T>(req: &Request<T>) -> Result<Response<HandshakeStream>, Status> {
    let token = match req.metadata().get(header::AUTHORIZATION.as_str()) {
        None => None,
        Some(v) => match basic_password(v.as_bytes())? {
            Some(password) => Some(password),
            None => bearer(v.as_bytes()).map(str::to_owned),
        },
    };
    let payload = token.clone().unwrap_or_default().into_bytes();
    let answer = HandshakeResponse {
        protocol_version: 0,
        payload: payload.into(),
    };
    let mut resp: Response<HandshakeStream> =
        Response::new(Box::pin(futures::stream::iter([Ok(answer)])));
    if let Some(token) = token {
        let value = MetadataValue::try_from(format!("Bearer {token}"))
            .map_err(|_| Status::invalid_argument("the token is not valid metadata"))?;
        resp.metadata_mut()
            .insert(header::AUTHORIZATION.as_str(), value);
    }
    Ok(resp)
}
