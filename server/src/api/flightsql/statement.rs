//! `CommandStatementQuery`: a SQL text planned at `GetFlightInfo` and run at `DoGet`.
//!
//! The ticket is stateless: [`TICKET_PREFIX`] and the SQL text, in
//! `TicketStatementQuery.statement_handle`. It names no tenant: `DoGet` runs it over the
//! tables of the tenant `DoGet` is authorized for, so a ticket handed to another tenant
//! reads that tenant's own data, never the first one's.

use arrow_flight::sql::{CommandStatementQuery, ProstMessageExt, TicketStatementQuery};
use arrow_flight::{FlightDescriptor, FlightEndpoint, FlightInfo, Ticket};
use datafusion::arrow::datatypes::Schema;
use prost::Message;
use strata_query::sql::{self, SqlStream};
use tonic::{Request, Response, Status};

use super::stream::{DoGetStream, query_result};
use super::{FlightSql, auth, sql_status};

/// What every statement ticket of this server starts with (a version, for a later change
/// of the format).
pub(crate) const TICKET_PREFIX: &[u8] = b"strata-sql-1\0";

/// The statement handle of a ticket for `sql`.
pub(crate) fn ticket_handle(sql: &str) -> Vec<u8> {
    let mut handle = Vec::with_capacity(TICKET_PREFIX.len() + sql.len());
    handle.extend_from_slice(TICKET_PREFIX);
    handle.extend_from_slice(sql.as_bytes());
    handle
}

/// The SQL text of a statement handle this server issued; `INVALID_ARGUMENT` for any other.
pub(crate) fn ticket_sql(handle: &[u8]) -> Result<&str, Status> {
    handle
        .strip_prefix(TICKET_PREFIX)
        .and_then(|sql| std::str::from_utf8(sql).ok())
        .ok_or_else(|| Status::invalid_argument("not a ticket this server issued"))
}

/// A `FlightInfo` whose one endpoint's ticket is `ticket` (the client fetches it on the
/// same channel: no location), with the result's `schema`.
pub(crate) fn flight_info(
    schema: &Schema,
    ticket: Vec<u8>,
    descriptor: FlightDescriptor,
) -> Result<FlightInfo, Status> {
    let info = FlightInfo::new()
        .try_with_schema(schema)
        .map_err(|e| Status::internal(format!("cannot encode the result's schema: {e}")))?
        .with_endpoint(FlightEndpoint::new().with_ticket(Ticket::new(ticket)))
        .with_descriptor(descriptor);
    Ok(info)
}

impl FlightSql {
    /// `GetFlightInfo(CommandStatementQuery)`: plans the query (bad SQL, or placeholders,
    /// which need a prepared statement, are `INVALID_ARGUMENT` here) and answers its
    /// schema and a ticket.
    pub(crate) async fn statement_info(
        &self,
        query: CommandStatementQuery,
        req: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let tenant = auth::tenant(&req)?;
        if query.transaction_id.is_some() {
            return Err(Status::invalid_argument(
                "transactions are not supported (the server is read-only)",
            ));
        }
        let ctx = self.session(&tenant)?;
        let described = sql::describe(&ctx, &query.query, self.config())
            .await
            .map_err(sql_status)?;
        if !described.params.is_empty() {
            return Err(Status::invalid_argument(format!(
                "the query has {} parameters: run it as a prepared statement and bind them",
                described.params.len()
            )));
        }
        let ticket = TicketStatementQuery {
            statement_handle: ticket_handle(&query.query).into(),
        };
        let info = flight_info(
            &described.schema,
            ticket.as_any().encode_to_vec(),
            req.into_inner(),
        )?;
        Ok(Response::new(info))
    }

    /// `DoGet(TicketStatementQuery)`: runs the ticket's query for the caller's tenant and
    /// streams its result.
    pub(crate) async fn statement_get(
        &self,
        ticket: TicketStatementQuery,
        req: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        let tenant = auth::tenant(&req)?;
        let sql = ticket_sql(&ticket.statement_handle)?;
        let ctx = self.session(&tenant)?;
        let turn = self.turn().await?;
        let stream = SqlStream::start(&ctx, sql, self.config())
            .await
            .map_err(sql_status)?;
        Ok(Response::new(query_result(
            stream,
            self.max_result_bytes(),
            turn,
        )))
    }
}
