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
use datafusion::arrow::array::StringArray;
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::datatypes::{Schema, SchemaRef};
use datafusion::common::TableReference;
use datafusion::prelude::SessionContext;
use prost::Message;
use tonic::{Request, Response, Status};

use super::stream::{DoGetStream, batches};
use strata_query::sql::{self, SqlConfig};

use super::{FlightSql, auth, info, sql_status, statement};

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
        let batch = answer(cmd, ctx.as_ref(), self.config()).await?;
        Ok(Response::new(batches(schema, vec![batch])))
    }
}

/// The answer to `cmd`, from `ctx` for the commands that list the session's names.
async fn answer(
    cmd: Command,
    ctx: Option<&SessionContext>,
    config: &SqlConfig,
) -> Result<RecordBatch, Status> {
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
            let mut b = c.into_builder();
            // `schemata` leaves out `information_schema` itself, whose tables GetTables lists.
            let sql = "SELECT catalog_name, schema_name FROM information_schema.schemata \
                       UNION SELECT DISTINCT table_catalog, table_schema FROM information_schema.tables \
                       ORDER BY 1, 2";
            for row in self_rows(session()?, sql, config).await? {
                b.append(&row[0], &row[1]);
            }
            b.build()
        }
        Command::Tables(c) => {
            let mut b = c.into_builder();
            tables(session()?, &mut b, config).await?;
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

/// Appends every table of `ctx` (those `information_schema.tables` lists, its own included)
/// to `b`, which filters them by the command's catalog, patterns and types, and sorts them;
/// each with its schema when the command asks for them.
async fn tables(
    ctx: &SessionContext,
    b: &mut GetTablesBuilder,
    config: &SqlConfig,
) -> Result<(), Status> {
    let sql = "SELECT table_catalog, table_schema, table_name, table_type \
               FROM information_schema.tables";
    let empty = Schema::empty();
    for row in self_rows(ctx, sql, config).await? {
        let [catalog, schema, name, kind] = &row[..] else {
            continue;
        };
        let table_schema = if b.include_schema() {
            let reference = TableReference::full(catalog.as_str(), schema.as_str(), name.as_str());
            let provider = ctx
                .table_provider(reference)
                .await
                .map_err(|e| Status::internal(format!("flight sql: table {name}: {e}")))?;
            provider.schema().as_ref().clone()
        } else {
            empty.clone()
        };
        b.append(catalog, schema, name, kind, &table_schema)
            .map_err(|e| Status::internal(format!("flight sql: listing tables: {e}")))?;
    }
    Ok(())
}

/// The rows of `sql` (over `information_schema`, string columns) as strings.
async fn self_rows(
    ctx: &SessionContext,
    sql: &str,
    config: &SqlConfig,
) -> Result<Vec<Vec<String>>, Status> {
    let batches = sql::run_sql(ctx, sql, config).await.map_err(sql_status)?;
    let mut rows = Vec::new();
    for batch in batches {
        let columns = batch
            .columns()
            .iter()
            .map(|c| {
                cast(c, &DataType::Utf8)
                    .map_err(|e| Status::internal(format!("flight sql: {sql}: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        for i in 0..batch.num_rows() {
            let row = columns
                .iter()
                .map(|c| {
                    c.as_any()
                        .downcast_ref::<StringArray>()
                        .map(|a| a.value(i).to_owned())
                        .unwrap_or_default()
                })
                .collect();
            rows.push(row);
        }
    }
    Ok(rows)
}

fn sorted(mut names: Vec<String>) -> Vec<String> {
    names.sort();
    names
}
