//! The [`FlightSqlService`] implementation: one-line delegations to the modules that do the
//! work. Methods not listed keep arrow-flight's `UNIMPLEMENTED` defaults: updates, ingest,
//! Substrait, transactions, keys, `DoExchange`.

use arrow_flight::sql::server::{FlightSqlService, PeekableFlightDataStream};
use arrow_flight::sql::{
    ActionClosePreparedStatementRequest, ActionCreatePreparedStatementRequest,
    ActionCreatePreparedStatementResult, Any, CommandGetCatalogs, CommandGetDbSchemas,
    CommandGetSqlInfo, CommandGetTableTypes, CommandGetTables, CommandGetXdbcTypeInfo,
    CommandPreparedStatementQuery, CommandStatementQuery, DoPutPreparedStatementResult, SqlInfo,
    TicketStatementQuery,
};
use arrow_flight::{Action, FlightDescriptor, FlightInfo, HandshakeRequest, Ticket};
use tonic::{Request, Response, Status, Streaming};

use super::FlightSql;
use super::auth::{self, HandshakeStream};
use super::metadata::Command;
use super::stream::DoGetStream;

/// The stream of `DoAction` results.
type DoActionStream =
    <FlightSql as arrow_flight::flight_service_server::FlightService>::DoActionStream;

#[tonic::async_trait]
impl FlightSqlService for FlightSql {
    type FlightService = Self;

    async fn do_handshake(
        &self,
        req: Request<Streaming<HandshakeRequest>>,
    ) -> Result<Response<HandshakeStream>, Status> {
        auth::handshake(&req)
    }

    async fn do_get_fallback(
        &self,
        _req: Request<Ticket>,
        message: Any,
    ) -> Result<Response<DoGetStream>, Status> {
        Err(Status::invalid_argument(format!(
            "not a ticket this server issued ({})",
            message.type_url
        )))
    }

    async fn get_flight_info_statement(
        &self,
        query: CommandStatementQuery,
        req: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.statement_info(query, req).await
    }

    async fn do_get_statement(
        &self,
        ticket: TicketStatementQuery,
        req: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        self.statement_get(ticket, req).await
    }

    async fn do_action_create_prepared_statement(
        &self,
        query: ActionCreatePreparedStatementRequest,
        req: Request<Action>,
    ) -> Result<ActionCreatePreparedStatementResult, Status> {
        self.prepare(query, req).await
    }

    async fn do_action_close_prepared_statement(
        &self,
        query: ActionClosePreparedStatementRequest,
        req: Request<Action>,
    ) -> Result<(), Status> {
        self.close_prepared(query, req)
    }

    async fn do_put_prepared_statement_query(
        &self,
        query: CommandPreparedStatementQuery,
        req: Request<PeekableFlightDataStream>,
    ) -> Result<DoPutPreparedStatementResult, Status> {
        self.bind(query, req).await
    }

    async fn get_flight_info_prepared_statement(
        &self,
        query: CommandPreparedStatementQuery,
        req: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.prepared_info(query, req).await
    }

    async fn do_get_prepared_statement(
        &self,
        query: CommandPreparedStatementQuery,
        req: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        self.prepared_get(query, req).await
    }

    async fn do_action_fallback(
        &self,
        req: Request<Action>,
    ) -> Result<Response<DoActionStream>, Status> {
        // ADBC sends CloseSession when a connection closes; there is no session to close.
        if req.get_ref().r#type == "CloseSession" {
            return Ok(Response::new(Box::pin(futures::stream::empty())));
        }
        Err(Status::invalid_argument(format!(
            "unknown action {:?}",
            req.get_ref().r#type
        )))
    }

    async fn get_flight_info_catalogs(
        &self,
        query: CommandGetCatalogs,
        req: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.metadata_info(Command::Catalogs(query), req).await
    }

    async fn do_get_catalogs(
        &self,
        query: CommandGetCatalogs,
        req: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        self.metadata_get(Command::Catalogs(query), req).await
    }

    async fn get_flight_info_schemas(
        &self,
        query: CommandGetDbSchemas,
        req: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.metadata_info(Command::Schemas(query), req).await
    }

    async fn do_get_schemas(
        &self,
        query: CommandGetDbSchemas,
        req: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        self.metadata_get(Command::Schemas(query), req).await
    }

    async fn get_flight_info_tables(
        &self,
        query: CommandGetTables,
        req: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.metadata_info(Command::Tables(query), req).await
    }

    async fn do_get_tables(
        &self,
        query: CommandGetTables,
        req: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        self.metadata_get(Command::Tables(query), req).await
    }

    async fn get_flight_info_table_types(
        &self,
        query: CommandGetTableTypes,
        req: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.metadata_info(Command::TableTypes(query), req).await
    }

    async fn do_get_table_types(
        &self,
        query: CommandGetTableTypes,
        req: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        self.metadata_get(Command::TableTypes(query), req).await
    }

    async fn get_flight_info_sql_info(
        &self,
        query: CommandGetSqlInfo,
        req: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.metadata_info(Command::SqlInfo(query), req).await
    }

    async fn do_get_sql_info(
        &self,
        query: CommandGetSqlInfo,
        req: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        self.metadata_get(Command::SqlInfo(query), req).await
    }

    async fn get_flight_info_xdbc_type_info(
        &self,
        query: CommandGetXdbcTypeInfo,
        req: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.metadata_info(Command::XdbcTypeInfo(query), req).await
    }

    async fn do_get_xdbc_type_info(
        &self,
        query: CommandGetXdbcTypeInfo,
        req: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        self.metadata_get(Command::XdbcTypeInfo(query), req).await
    }

    async fn register_sql_info(&self, _id: i32, _result: &SqlInfo) {
        // The SQL info is fixed (`info::sql_info`).
    }
}
