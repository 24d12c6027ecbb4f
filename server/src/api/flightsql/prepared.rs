//! Prepared statements: planned when created (bad SQL is `INVALID_ARGUMENT` there),
//! parameters bound with `DoPut`, run with `DoGet` as often as asked, closed by the client.
//!
//! A handle is 16 random bytes, held with the tenant that created it: a handle this server
//! did not issue, one already closed, or one another tenant created is `NOT_FOUND`, the
//! same answer for all three. A tenant holds at most [`MAX_PER_TENANT`] statements; one
//! unused for [`IDLE`] is dropped (clients that never close do not pile them up).

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use arrow::ipc::writer::IpcWriteOptions;
use arrow_flight::decode::FlightRecordBatchStream;
use arrow_flight::error::FlightError;
use arrow_flight::sql::server::PeekableFlightDataStream;
use arrow_flight::sql::{
    ActionClosePreparedStatementRequest, ActionCreatePreparedStatementRequest,
    ActionCreatePreparedStatementResult, CommandPreparedStatementQuery,
    DoPutPreparedStatementResult, ProstMessageExt,
};
use arrow_flight::{FlightDescriptor, FlightInfo, IpcMessage, SchemaAsIpc, Ticket};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::common::ScalarValue;
use futures::{StreamExt, TryStreamExt};
use prost::Message;
use strata_engine::TenantId;
use strata_query::sql::{self, SqlStream};
use tonic::{Request, Response, Status};

use super::stream::{DoGetStream, query_result};
use super::{FlightSql, auth, params, sql_status, statement};

/// The most prepared statements one tenant may hold open.
pub(crate) const MAX_PER_TENANT: usize = 1024;

/// How long a prepared statement may go unused before it is dropped.
pub(crate) const IDLE: Duration = Duration::from_secs(600);

/// A handle: 16 random bytes.
type Handle = [u8; 16];

/// One prepared statement.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    /// The tenant that created it, the only one that may use it.
    pub(crate) tenant: TenantId,
    /// The text as planned (`?` rewritten into `$n`).
    pub(crate) sql: String,
    /// The placeholders' types, `$1` first.
    pub(crate) params: Vec<Option<DataType>>,
    /// The result's columns.
    pub(crate) schema: SchemaRef,
    /// The values bound last, if any.
    pub(crate) bound: Option<Vec<ScalarValue>>,
    /// When it was last created, bound or run.
    pub(crate) last_used: Instant,
}

/// The open prepared statements of every tenant.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    entries: Mutex<HashMap<Handle, Entry>>,
}

impl Registry {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Handle, Entry>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Holds `entry` under a new handle, first dropping statements idle for [`IDLE`].
    /// `RESOURCE_EXHAUSTED` if its tenant holds [`MAX_PER_TENANT`] already.
    pub(crate) fn insert(&self, entry: Entry) -> Result<Handle, Status> {
        let mut entries = self.lock();
        let now = Instant::now();
        entries.retain(|_, e| now.duration_since(e.last_used) < IDLE);
        let held = entries
            .values()
            .filter(|e| e.tenant == entry.tenant)
            .count();
        if held >= MAX_PER_TENANT {
            return Err(Status::resource_exhausted(format!(
                "{held} prepared statements are open for this tenant, the most allowed; close some"
            )));
        }
        loop {
            let handle: Handle = rand::random();
            if let std::collections::hash_map::Entry::Vacant(slot) = entries.entry(handle) {
                slot.insert(entry);
                return Ok(handle);
            }
        }
    }

    /// The statement `handle` names, if `tenant` created it; marks it used.
    pub(crate) fn get(&self, handle: &[u8], tenant: &TenantId) -> Result<Entry, Status> {
        let mut entries = self.lock();
        let entry = find(&mut entries, handle, tenant)?;
        entry.last_used = Instant::now();
        Ok(entry.clone())
    }

    /// Binds `values` to the statement `handle` names, if `tenant` created it.
    pub(crate) fn bind(
        &self,
        handle: &[u8],
        tenant: &TenantId,
        values: Vec<ScalarValue>,
    ) -> Result<(), Status> {
        let mut entries = self.lock();
        let entry = find(&mut entries, handle, tenant)?;
        entry.bound = Some(values);
        entry.last_used = Instant::now();
        Ok(())
    }

    /// Closes the statement `handle` names, if `tenant` created it.
    pub(crate) fn remove(&self, handle: &[u8], tenant: &TenantId) -> Result<(), Status> {
        let mut entries = self.lock();
        find(&mut entries, handle, tenant)?;
        if let Ok(key) = Handle::try_from(handle) {
            entries.remove(&key);
        }
        Ok(())
    }

    /// How many statements are open (tests).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }
}

fn find<'a>(
    entries: &'a mut HashMap<Handle, Entry>,
    handle: &[u8],
    tenant: &TenantId,
) -> Result<&'a mut Entry, Status> {
    Handle::try_from(handle)
        .ok()
        .and_then(|key| entries.get_mut(&key))
        .filter(|e| e.tenant == *tenant)
        .ok_or_else(|| {
            Status::not_found(
                "no such prepared statement (never created, closed, or idle too long)",
            )
        })
}

/// `schema` as IPC bytes (how prepared-statement results carry schemas).
fn ipc_schema(schema: &Schema) -> Result<prost::bytes::Bytes, Status> {
    IpcMessage::try_from(SchemaAsIpc::new(schema, &IpcWriteOptions::default()))
        .map(|m| m.0)
        .map_err(|e| Status::internal(format!("cannot encode a schema: {e}")))
}

/// The parameter schema of a statement: a nullable field `$n` for each placeholder (`Null`
/// where its type is unknown).
fn parameter_schema(params: &[Option<DataType>]) -> Schema {
    Schema::new(
        params
            .iter()
            .enumerate()
            .map(|(i, ty)| {
                Field::new(
                    format!("${}", i + 1),
                    ty.clone().unwrap_or(DataType::Null),
                    true,
                )
            })
            .collect::<Vec<_>>(),
    )
}

impl FlightSql {
    /// `CreatePreparedStatement`: plans the query (`?` rewritten into `$n`) for the caller's
    /// tenant and holds it.
    pub(crate) async fn prepare(
        &self,
        query: ActionCreatePreparedStatementRequest,
        req: Request<arrow_flight::Action>,
    ) -> Result<ActionCreatePreparedStatementResult, Status> {
        let tenant = auth::tenant(&req)?;
        if query.transaction_id.is_some() {
            return Err(Status::invalid_argument(
                "transactions are not supported (the server is read-only)",
            ));
        }
        let text = params::rewrite_question_marks(&query.query)
            .map_err(|e| Status::invalid_argument(e.to_string()))?;
        let ctx = self.session(&tenant)?;
        let described = sql::describe(&ctx, &text, self.config())
            .await
            .map_err(sql_status)?;
        let dataset_schema = ipc_schema(&described.schema)?;
        let parameter_schema = ipc_schema(&parameter_schema(&described.params))?;
        let handle = self.prepared.insert(Entry {
            tenant,
            sql: text,
            params: described.params,
            schema: described.schema,
            bound: None,
            last_used: Instant::now(),
        })?;
        Ok(ActionCreatePreparedStatementResult {
            prepared_statement_handle: handle.to_vec().into(),
            dataset_schema,
            parameter_schema,
        })
    }

    /// `ClosePreparedStatement`.
    pub(crate) fn close_prepared(
        &self,
        query: ActionClosePreparedStatementRequest,
        req: Request<arrow_flight::Action>,
    ) -> Result<(), Status> {
        let tenant = auth::tenant(&req)?;
        self.prepared
            .remove(&query.prepared_statement_handle, &tenant)
    }

    /// `DoPut(CommandPreparedStatementQuery)`: binds the one row of parameters sent.
    pub(crate) async fn bind(
        &self,
        query: CommandPreparedStatementQuery,
        req: Request<PeekableFlightDataStream>,
    ) -> Result<DoPutPreparedStatementResult, Status> {
        let tenant = auth::tenant(&req)?;
        let handle = query.prepared_statement_handle;
        let entry = self.prepared.get(&handle, &tenant)?;
        // `into_peekable` keeps the first message (the schema), which the dispatch peeked at.
        let data = req.into_inner().into_peekable().map_err(FlightError::from);
        let mut batches = FlightRecordBatchStream::new_from_flight_data(data);
        let mut bound = None;
        while let Some(batch) = batches.next().await {
            let batch = batch.map_err(|e| {
                Status::invalid_argument(format!("cannot read the parameters: {e}"))
            })?;
            if batch.num_rows() == 0 && batch.num_columns() == entry.params.len() {
                continue;
            }
            if bound.is_some() {
                return Err(Status::invalid_argument(
                    "bind exactly one row of parameters (more were bound)",
                ));
            }
            let values = params::values(&batch, &entry.params)
                .map_err(|e| Status::invalid_argument(e.to_string()))?;
            bound = Some(values);
        }
        let values = match bound {
            Some(values) => values,
            None if entry.params.is_empty() => Vec::new(),
            None => {
                return Err(Status::invalid_argument(
                    "bind exactly one row of parameters (none were bound)",
                ));
            }
        };
        self.prepared.bind(&handle, &tenant, values)?;
        Ok(DoPutPreparedStatementResult {
            prepared_statement_handle: Some(handle),
        })
    }

    /// `GetFlightInfo(CommandPreparedStatementQuery)`: the result's schema, and the command
    /// as the ticket.
    pub(crate) async fn prepared_info(
        &self,
        query: CommandPreparedStatementQuery,
        req: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let tenant = auth::tenant(&req)?;
        let entry = self
            .prepared
            .get(&query.prepared_statement_handle, &tenant)?;
        unbound(&entry)?;
        // With values bound, the schema `DoGet` will send is that of the bound plan
        // (clients check the two agree).
        let schema = match entry.bound.filter(|v| !v.is_empty()) {
            Some(values) => {
                let ctx = self.session(&tenant)?;
                sql::bound_schema(&ctx, &entry.sql, values.into(), self.config())
                    .await
                    .map_err(sql_status)?
            }
            None => entry.schema,
        };
        let ticket = query.as_any().encode_to_vec();
        let info = statement::flight_info(&schema, ticket, req.into_inner())?;
        Ok(Response::new(info))
    }

    /// `DoGet(CommandPreparedStatementQuery)`: runs the statement with its bound values.
    pub(crate) async fn prepared_get(
        &self,
        query: CommandPreparedStatementQuery,
        req: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        let tenant = auth::tenant(&req)?;
        let entry = self
            .prepared
            .get(&query.prepared_statement_handle, &tenant)?;
        unbound(&entry)?;
        let ctx = self.session(&tenant)?;
        let turn = self.turn().await?;
        let values = entry.bound.filter(|v| !v.is_empty()).map(Into::into);
        let stream = SqlStream::start_with(&ctx, &entry.sql, values, self.config())
            .await
            .map_err(sql_status)?;
        Ok(Response::new(query_result(
            stream,
            self.max_result_bytes(),
            turn,
        )))
    }
}

/// `INVALID_ARGUMENT` for a statement with placeholders and no values bound.
fn unbound(entry: &Entry) -> Result<(), Status> {
    if !entry.params.is_empty() && entry.bound.is_none() {
        return Err(Status::invalid_argument(format!(
            "the statement has {} parameters; bind them with DoPut first",
            entry.params.len()
        )));
    }
    Ok(())
}
