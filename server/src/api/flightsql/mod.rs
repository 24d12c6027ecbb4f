//! Arrow Flight SQL on the gRPC listener (`server.grpc_addr`, beside the OTLP services):
//! the same read-only SQL as `/api/v1/sql`, its results streamed to ADBC, JDBC and
//! Grafana's Flight SQL datasource batch by batch (`docs/flight-sql.md`).
//!
//! - Auth ([`auth`]): every call passes the [`FlightAuth`] interceptor: a token with the
//!   `read` scope, as `authorization: Bearer <token>` or as the password of
//!   `authorization: Basic` (the handshake), and the tenant it acts for.
//! - Statements ([`statement`]): `CommandStatementQuery` is planned at `GetFlightInfo`
//!   (bad SQL is `INVALID_ARGUMENT` there) and run at `DoGet`; its ticket carries the SQL
//!   text, and runs with the `DoGet` caller's tenant.
//! - Prepared statements ([`prepared`]): planned when created, parameters bound by
//!   `DoPut` (`$1`, `$2`, ... or `?`), their handles held per tenant.
//! - Metadata ([`metadata`], [`info`]): catalogs, schemas, tables (with their schemas) and
//!   table types from the tenant's own session, SQL info and XDBC type info.
//! - Limits ([`stream`]): the SQL memory pool and timeout as for `/api/v1/sql`, and
//!   `sql.max_result_bytes` over the encoded result (`RESOURCE_EXHAUSTED`). A client that
//!   goes away cancels its query.
//! - Self-metrics ([`calls`]): every call in `strata_grpc_requests_total` under
//!   `service="arrow.flight.protocol.FlightService"`.

mod auth;
mod calls;
mod info;
mod metadata;
mod params;
mod prepared;
mod service;
mod statement;
mod stream;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use arrow_flight::flight_service_server::FlightServiceServer;
use datafusion::prelude::SessionContext;
use strata_engine::TenantId;
use strata_query::sql;
use tonic::Status;
use tonic::service::interceptor::InterceptedService;

pub(crate) use auth::FlightAuth;
pub(crate) use calls::Counted;

use crate::api::sql::sql_error;
use crate::runtime::queries::Queries;
use crate::runtime::state::AppState;

/// The gRPC service name, the `service` label of its self-metrics.
pub(crate) const SERVICE: &str = "arrow.flight.protocol.FlightService";

/// The Flight SQL service, for `serve.rs` to add to the gRPC listener's routes: request
/// messages of at most `server.max_body_bytes`, every call authorized by [`FlightAuth`]
/// and counted by [`Counted`]. It takes the query handle, the tokens and the self-metrics
/// from `state`.
pub(crate) fn service(
    state: &AppState,
) -> Counted<InterceptedService<FlightServiceServer<FlightSql>, FlightAuth>> {
    let limit = usize::try_from(state.queries.max_body_bytes()).unwrap_or(usize::MAX);
    let flight = FlightSql {
        queries: state.queries.clone(),
        prepared: Arc::new(prepared::Registry::default()),
    };
    let server = FlightServiceServer::new(flight).max_decoding_message_size(limit);
    Counted::new(
        InterceptedService::new(server, FlightAuth::new(state.auth.clone())),
        state.metrics.clone(),
    )
}

/// The service's state: the query handle, and the prepared statements.
#[derive(Clone)]
pub(crate) struct FlightSql {
    queries: Queries,
    prepared: Arc<prepared::Registry>,
}

impl FlightSql {
    /// A new SQL session over `tenant`'s tables (as `/api/v1/sql` makes for each query).
    fn session(&self, tenant: &TenantId) -> Result<SessionContext, Status> {
        let engine = self.queries.engine().map_err(|e| e.to_grpc_status())?;
        sql::tenant_session(engine, tenant, &self.queries.sql().query).map_err(sql_status)
    }

    /// A turn to run a query (`server.max_concurrent_queries`, as the HTTP queries take):
    /// `UNAVAILABLE` when none came in time or under memory pressure.
    async fn turn(&self) -> Result<crate::runtime::admission::Turn, Status> {
        self.queries
            .admission()
            .admit()
            .await
            .map_err(|e| e.to_grpc_status())
    }

    /// The SQL settings of queries.
    fn config(&self) -> &sql::SqlConfig {
        &self.queries.sql().query
    }

    /// `sql.max_result_bytes`.
    fn max_result_bytes(&self) -> u64 {
        self.queries.sql().max_result_bytes
    }
}

/// A SQL error as the gRPC status the HTTP API's status maps to (bad SQL is
/// `INVALID_ARGUMENT`, over the memory budget `RESOURCE_EXHAUSTED`, a timeout `UNAVAILABLE`).
fn sql_status(e: sql::Error) -> Status {
    sql_error(e).to_grpc_status()
}
