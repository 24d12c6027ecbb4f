//! [`describe`]: what a query would return and which parameters it takes, without running
//! it (for prepared statements: Arrow Flight SQL's `CreatePreparedStatement`).

use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::common::ParamValues;
use datafusion::prelude::SessionContext;

use super::stream::read_only;
use crate::sql::SqlConfig;
use crate::sql::error::{Error, Result};

/// A planned query's result columns and parameters.
#[derive(Debug, Clone)]
pub struct Described {
    /// The columns the query returns: those of the physical plan (what
    /// [`crate::sql::SqlStream::schema`] reports) when the query has no placeholders, else
    /// those of the logical plan.
    pub schema: SchemaRef,
    /// The type of each positional placeholder, `$1` first; `None` where DataFusion cannot
    /// infer it (or where the query skips that number).
    pub params: Vec<Option<DataType>>,
}

/// Plans `sql` (read only, see [`read_only`]) in `ctx` without running it. Fails with
/// [`Error::Plan`] for a query that does not parse or plan, or that names placeholders
/// other than `$1`, `$2`, ..., and with [`Error::Timeout`] if planning outlives
/// `config.timeout`. Must run inside a tokio runtime with timers.
pub async fn describe(ctx: &SessionContext, sql: &str, config: &SqlConfig) -> Result<Described> {
    let budget = config.memory_pool_bytes;
    let df = |e| Error::from_datafusion(e, budget);
    let plan = async {
        let frame = ctx.sql_with_options(sql, read_only()).await.map_err(df)?;
        let types = frame.logical_plan().get_parameter_types().map_err(df)?;
        let params = positional(types)?;
        let schema = if params.is_empty() {
            frame.create_physical_plan().await.map_err(df)?.schema()
        } else {
            // Unbound placeholders have no physical plan.
            SchemaRef::new(frame.schema().as_arrow().clone())
        };
        Ok(Described { schema, params })
    };
    match tokio::time::timeout(config.timeout, plan).await {
        Ok(result) => result,
        Err(_) => Err(Error::Timeout(config.timeout)),
    }
}

/// The columns `sql` returns with `params` bound to its placeholders: the physical plan's,
/// the schema [`crate::sql::SqlStream::start_with`] then reports (the logical plan's
/// [`Described::schema`] of a query with placeholders may differ in nullability). Fails as
/// [`describe`] does, and with [`Error::Plan`] for values that do not fit.
pub async fn bound_schema(
    ctx: &SessionContext,
    sql: &str,
    params: ParamValues,
    config: &SqlConfig,
) -> Result<SchemaRef> {
    let budget = config.memory_pool_bytes;
    let df = |e| Error::from_datafusion(e, budget);
    let plan = async {
        let frame = ctx.sql_with_options(sql, read_only()).await.map_err(df)?;
        let frame = frame.with_param_values(params).map_err(df)?;
        Ok(frame.create_physical_plan().await.map_err(df)?.schema())
    };
    match tokio::time::timeout(config.timeout, plan).await {
        Ok(result) => result,
        Err(_) => Err(Error::Timeout(config.timeout)),
    }
}

/// The placeholders' types by number: `$1` at index 0.
fn positional(
    types: std::collections::HashMap<String, Option<DataType>>,
) -> Result<Vec<Option<DataType>>> {
    let mut numbered = Vec::with_capacity(types.len());
    for (name, ty) in types {
        let n = name
            .strip_prefix('$')
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|n| (1..=65_535).contains(n))
            .ok_or_else(|| {
                Error::Plan(format!(
                    "placeholder {name:?} is not positional: use $1, $2, ... (or ?)"
                ))
            })?;
        numbered.push((n, ty));
    }
    let len = numbered.iter().map(|(n, _)| *n).max().unwrap_or(0);
    let mut params = vec![None; len];
    for (n, ty) in numbered {
        params[n - 1] = ty;
    }
    Ok(params)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{Int64Array, RecordBatch, StringArray};
    use datafusion::arrow::datatypes::{Field, Schema};
    use datafusion::common::ScalarValue;

    use super::*;
    use crate::sql::SqlStream;

    fn ctx() -> SessionContext {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("name", DataType::Utf8, true),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int64Array::from(vec![1, 2, 3])),
                Arc::new(StringArray::from(vec!["a", "b", "c"])),
            ],
        )
        .expect("batch");
        let ctx = SessionContext::new();
        ctx.register_batch("t", batch).expect("register");
        ctx
    }

    #[tokio::test]
    async fn describes_columns_and_parameters() {
        let ctx = ctx();
        let config = SqlConfig::default();
        let d = describe(&ctx, "SELECT name, id * 2 AS twice FROM t", &config)
            .await
            .expect("describe");
        let names: Vec<_> = d.schema.fields().iter().map(|f| f.name().clone()).collect();
        assert_eq!(names, ["name", "twice"]);
        assert_eq!(d.schema.field(1).data_type(), &DataType::Int64);
        assert!(d.params.is_empty());

        let d = describe(
            &ctx,
            "SELECT name FROM t WHERE id > $2 AND name <> $1",
            &config,
        )
        .await
        .expect("describe");
        assert_eq!(d.params, [Some(DataType::Utf8), Some(DataType::Int64)]);
        assert_eq!(d.schema.fields().len(), 1);

        // Bound, the schema is the one the stream reports.
        let sql = "SELECT $1 + id AS x FROM t";
        let params = || ParamValues::from(vec![ScalarValue::Int64(Some(1))]);
        let bound = bound_schema(&ctx, sql, params(), &config)
            .await
            .expect("bound");
        let stream = SqlStream::start_with(&ctx, sql, Some(params()), &config)
            .await
            .expect("start");
        assert_eq!(bound, stream.schema());
    }

    #[tokio::test]
    async fn refuses_what_does_not_plan() {
        let ctx = ctx();
        let config = SqlConfig::default();
        for sql in [
            "SELEC 1",
            "SELECT nope FROM t",
            "CREATE TABLE x (a INT)",
            "SELECT id FROM t WHERE id = $name",
        ] {
            let e = describe(&ctx, sql, &config).await.unwrap_err();
            assert!(matches!(e, Error::Plan(_)), "{sql}: {e:?}");
        }
    }

    #[tokio::test]
    async fn start_with_binds_parameters() {
        let ctx = ctx();
        let config = SqlConfig::default();
        let params = vec![ScalarValue::Int64(Some(1))];
        let mut stream = SqlStream::start_with(
            &ctx,
            "SELECT name FROM t WHERE id > $1 ORDER BY id",
            Some(params.into()),
            &config,
        )
        .await
        .expect("start");
        let mut names = Vec::new();
        while let Some(batch) = stream.next_batch().await.expect("batch") {
            let col = batch
                .column(0)
                .as_any()
                .downcast_ref::<StringArray>()
                .expect("utf8");
            names.extend(col.iter().map(|v| v.unwrap_or_default().to_owned()));
        }
        assert_eq!(names, ["b", "c"]);

        // A placeholder left without a value is the client's error.
        let wrong: Vec<ScalarValue> = Vec::new();
        let e = SqlStream::start_with(
            &ctx,
            "SELECT id FROM t WHERE id > $1",
            Some(wrong.into()),
            &config,
        )
        .await
        .unwrap_err();
        assert!(matches!(e, Error::Plan(_)), "{e:?}");
    }
}
