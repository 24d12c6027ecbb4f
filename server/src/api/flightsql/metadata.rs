//! The metadata commands: `GetCatalogs`, `GetDbSchemas`, `GetTables` (with the tables'
//! schemas on request), `GetTableTypes`, `GetSqlInfo` and `GetXdbcTypeInfo`.
//!
//! Catalogs, schemas and tables come from the caller's tenant session, the one its queries
//! run in, so the names listed are the names its SQL resolves (catalog `datafusion`, schema
//! `public`, and DataFusion's `information_schema`), and a tenant sees its own tables only.
//! Table types are DataFusion's `information_schema` words: `BASE TABLE` and `VIEW`.
//!
//! The `FlightInfo` of a command has the command itself as its ticket; `DoGet` answers it
//! as one batch.

use arrow_flight::sql::metadata::GetTablesBuilder;
use arrow_flight::sql::{
    CommandGetCatalogs, CommandGetDbSchemas, CommandGetSqlInfo, CommandGetTableTypes,
    CommandGetTables, CommandGetXdbcTypeInfo, ProstMessageExt,
};
use arrow_flight::{FlightDescriptor, FlightInfo, Ticket};
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{Schema, SchemaRef};
use datafusion::datasource::TableType;
use datafusion::prelude::SessionContext;
use prost::Message;
use tonic::{Request, Response, Status};

use super::stream::{DoGetStream, batches};
use super::{FlightSql, auth, info, statement};

/// The table types, as `information_schema.tables` names them.
pub(crate) const TABLE_TYPES: [&str; 2] = ["BASE TABLE", "VIEW"];

/// One metadata command.
pub(crate) enum Command {
    /// `CommandGetCatalogs`.
    Catalogs(CommandGetCatalogs),
    /// `CommandGetDbSchemas`.
    Schemas(CommandGetDbSchemas),
    /// `CommandGetTables`.
    Tables(CommandGetTables),
    /// `CommandGetTableTypes`.
    TableTypes(CommandGetTableTypes),
    /// `CommandGetSqlInfo`.
    SqlInfo(CommandGetSqlInfo),
    /// `CommandGetXdbcTypeInfo`.
    XdbcTypeInfo(CommandGetXdbcTypeInfo),
}

impl Command {
    /// The command as a ticket.
    fn ticket(&self) -> Vec<u8> {
        let any = match self {
            Self::Catalogs(c) => c.as_any(),
            Self::Schemas(c) => c.as_any(),
            Self::Tables(c) => c.as_any(),
            Self::TableTypes(c) => c.as_any(),
            Self::SqlInfo(c) => c.as_any(),
            Self::XdbcTypeInfo(c) => c.as_any(),
        };
        any.encode_to_vec()
    }

    /// The schema of the answer.
    fn schema(&self) -> Result<SchemaRef, Status> {
        Ok(match self {
            Self::Catalogs(c) => (*c).into_builder().schema(),
            Self::Schemas(c) => c.clone().into_builder().schema(),
            Self::Tables(c) => c.clone().into_builder().schema(),
            Self::TableTypes(c) => (*c).into_builder().schema(),
            Self::SqlInfo(c) => c.clone().into_builder(info::sql_info()?).schema(),
            Self::XdbcTypeInfo(c) => (*c).into_builder(info::xdbc_type_info()?).schema(),
        })
    }

    /// Whether the answer needs the tenant's session.
    fn needs_session(&self) -> bool {
        matches!(self, Self::Catalogs(_) | Self::Schemas(_) | Self::Tables(_))
    }
}

impl FlightSql {
    /// `GetFlightInfo` of a metadata command: its schema, and the command as the ticket.
    pub(crate) async fn metadata_info(
        &self,
        cmd: Command,
        req: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        auth::tenant(&req)?;
        let info = statement::flight_info(&*cmd.schema()?, cmd.ticket(), req.into_inner())?;
        Ok(Response::new(info))
    }

    /// `DoGet` of a metadata command: the answer for the caller's tenant.
    pub(crate) async fn metadata_get(
        &self,
        cmd: Command,
        req: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        let tenant = auth::tenant(&req)?;
        let schema = cmd.schema()?;
        let ctx = if cmd.needs_session() {
            Some(self.session(&tenant)?)
        } else {
            None
        };
        let batch = answer(cmd, ctx.as_ref()).await?;
        Ok(Response::new(batches(schema, vec![batch])))
    }
}

/// The answer to `cmd`, from `ctx` for the commands that list the session's names.
async fn answer(cmd: Command, ctx: Option<&SessionContext>) -> Result<RecordBatch, Status> {
    let session = || ctx.ok_or_else(|| Status::internal("flight sql: no session"));
    let batch = match cmd {
        Command::Catalogs(c) => {
            let mut b = c.into_builder();
            for name in sorted(session()?.catalog_names()) {
                b.append(name);
            }
            b.build()
        }
        Command::Schemas(c) => {
            let ctx = session()?;
            let mut b = c.into_builder();
            for catalog in sorted(ctx.catalog_names()) {
                if let Some(cat) = ctx.catalog(&catalog) {
                    for schema in sorted(cat.schema_names()) {
                        b.append(&catalog, schema);
                    }
                }
            }
            b.build()
        }
        Command::Tables(c) => {
            let mut b = c.into_builder();
            tables(session()?, &mut b).await?;
            b.build()
        }
        Command::TableTypes(c) => {
            let mut b = c.into_builder();
            for t in TABLE_TYPES {
                b.append(t);
            }
            b.build()
        }
        Command::SqlInfo(c) => c.into_builder(info::sql_info()?).build(),
        Command::XdbcTypeInfo(c) => c.into_builder(info::xdbc_type_info()?).build(),
    };
    batch.map_err(|e| Status::internal(format!("flight sql: cannot build the answer: {e}")))
}

/// Appends every table of `ctx` to `b` (which filters them by the command's catalog,
/// patterns and types, and sorts them), each with its schema.
async fn tables(ctx: &SessionContext, b: &mut GetTablesBuilder) -> Result<(), Status> {
    let internal = |e: String| Status::internal(format!("flight sql: listing tables: {e}"));
    for catalog in ctx.catalog_names() {
        let Some(cat) = ctx.catalog(&catalog) else {
            continue;
        };
        for schema in cat.schema_names() {
            let Some(sch) = cat.schema(&schema) else {
                continue;
            };
            for name in sch.table_names() {
                let Some(table) = sch
                    .table(&name)
                    .await
                    .map_err(|e| internal(e.to_string()))?
                else {
                    continue;
                };
                let table_schema: Schema = table.schema().as_ref().clone();
                b.append(
                    &catalog,
                    &schema,
                    &name,
                    table_type(table.table_type()),
                    &table_schema,
                )
                .map_err(|e| internal(e.to_string()))?;
            }
        }
    }
    Ok(())
}

/// A table type as `information_schema.tables` words it.
fn table_type(t: TableType) -> &'static str {
    match t {
        TableType::Base => "BASE TABLE",
        TableType::View => "VIEW",
        TableType::Temporary => "LOCAL TEMPORARY",
    }
}

fn sorted(mut names: Vec<String>) -> Vec<String> {
    names.sort();
    names
}
