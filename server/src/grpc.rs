//! The gRPC listener's services. None are registered yet: the OTLP metrics, traces and
//! logs services go into [`routes`] (each holding an [`AppState`] and authorizing with
//! `state.auth().authorize(&request.metadata().clone().into_headers(), Scope::Write)`).
//! Until then every call answers UNIMPLEMENTED.

use tonic::service::Routes;

use crate::state::AppState;

/// The gRPC services served on `server.grpc_addr`.
pub fn routes(state: &AppState) -> Routes {
    let _ = state;
    Routes::default()
}
