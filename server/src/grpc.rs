//! The gRPC listener's services: OTLP metrics, traces and logs (see
//! [`crate::otlp_ingest`]), each authorizing from the request metadata with the same code
//! as the HTTP routes.

use tonic::service::Routes;

use crate::state::AppState;

/// The gRPC services served on `server.grpc_addr`.
pub fn routes(state: &AppState) -> Routes {
    crate::otlp_ingest::grpc_routes(state)
}
