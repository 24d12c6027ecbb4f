//! `strata sql`: an offline, read-only SQL query on a data directory, printed as a table
//! (arrow's pretty printer), CSV or JSON (the encodings of `/api/v1/sql`).

use std::io::Write;
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use clap::Args;
use strata_engine::{Engine, TenantId};
use strata_query::sql::{self, SqlStream};

use super::OutputFormat;
use crate::api::sql::output::{Format, ResultWriter};
use crate::config::args::ConfigArgs;
use crate::error::{Error, Result};

/// Flags of `strata sql`.
#[derive(Debug, Args)]
pub struct SqlArgs {
    /// The configuration (the data directory, and the `[sql]` memory budget and timeout).
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Tenant to query.
    #[arg(long, default_value = "default")]
    pub tenant: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
    /// The query, e.g. "SELECT metric, ts, value FROM metrics LIMIT 10" (tables: docs/sql.md).
    pub query: String,
}

/// Runs the query and prints the result to `out`.
pub fn run(args: &SqlArgs, out: &mut dyn Write) -> Result<()> {
    let config = args.config.load()?;
    let tenant = TenantId::new(&args.tenant).map_err(|e| Error::Usage(e.to_string()))?;
    let engine = crate::offline::open_engine(&config)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .map_err(|e| Error::Server(format!("cannot start a runtime for the query: {e}")))?;
    let (schema, batches) = runtime.block_on(collect(
        Arc::new(engine),
        &tenant,
        &args.query,
        &config.sql.query,
    ))?;
    let format = match args.format {
        OutputFormat::Table => {
            let table = arrow::util::pretty::pretty_format_batches_with_schema(schema, &batches)
                .map_err(|source| crate::error::OutputError::Encode {
                    format: "a table",
                    source,
                })?;
            writeln!(out, "{table}")?;
            return Ok(());
        }
        OutputFormat::Csv => Format::Csv,
        OutputFormat::Json => Format::Json,
    };
    let mut w = ResultWriter::new(format, &schema, u64::MAX)?;
    for b in &batches {
        w.write(b)?;
    }
    out.write_all(&w.finish()?)?;
    if format == Format::Json {
        writeln!(out)?;
    }
    Ok(())
}

async fn collect(
    engine: Arc<Engine>,
    tenant: &TenantId,
    query: &str,
    config: &sql::SqlConfig,
) -> Result<(SchemaRef, Vec<RecordBatch>), sql::Error> {
    let ctx = sql::tenant_session(engine, tenant, config)?;
    let mut stream = SqlStream::start(&ctx, query, config).await?;
    let mut batches = Vec::new();
    while let Some(b) = stream.next_batch().await? {
        batches.push(b);
    }
    Ok((stream.schema(), batches))
}
