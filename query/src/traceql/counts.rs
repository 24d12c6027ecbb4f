//! `rate()` and `count_over_time()` of one exact spanset filter, grouped by fields that
//! have columns, counted by SQL per step without reading the spans (`{ } | rate() by
//! (resource.service.name)`, the query Grafana's Traces Drilldown sends most).

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{Int32Type, Int64Type};
use datafusion::prelude::SessionContext;

use super::ast::{Field, FieldExpr, Intrinsic, Kind, Metrics, MetricsFn, Scope, Status, Value};
use super::error::Result;
use crate::sql::{self, SqlConfig};

/// How a grouped-by field's column reads back.
#[derive(Clone, Copy)]
enum Col {
    Text(&'static str),
    Status,
    Kind,
}

fn column(e: &FieldExpr) -> Option<Col> {
    let FieldExpr::Field(f) = e else { return None };
    Some(match f {
        Field::Intrinsic(Intrinsic::Name) => Col::Text("name"),
        Field::Intrinsic(Intrinsic::StatusMessage) => Col::Text("status_message"),
        Field::Intrinsic(Intrinsic::Status) => Col::Status,
        Field::Intrinsic(Intrinsic::Kind) => Col::Kind,
        Field::Attr(Scope::Resource, k) if k == "service.name" => Col::Text("service_name"),
        _ => return None,
    })
}

fn sql_of(c: Col) -> &'static str {
    match c {
        Col::Text(n) => n,
        Col::Status => "status_code",
        Col::Kind => "kind",
    }
}

/// One counted group: its labels, step and count.
pub(crate) type Count = (Vec<(String, Value)>, usize, f64);

/// The counts per (labels, step) of the rows meeting `filter` (an exact condition with
/// the grid's time bounds), or `None` when `m` is not a count or groups by a field
/// without a column. Step `k` holds start times in `(start + k·step, start + (k+1)·step]`.
pub(crate) async fn counts(
    ctx: &SessionContext,
    cfg: &SqlConfig,
    m: &Metrics,
    filter: &str,
    start: i64,
    step: i64,
) -> Result<Option<Vec<Count>>> {
    if !matches!(m.func, MetricsFn::Rate | MetricsFn::CountOverTime) {
        return Ok(None);
    }
    let Some(cols) = m.by.iter().map(column).collect::<Option<Vec<Col>>>() else {
        return Ok(None);
    };
    let mut select: Vec<String> = cols.iter().map(|c| sql_of(*c).to_owned()).collect();
    select.push(format!(
        "CAST((arrow_cast(start_time, 'Int64') - {start} - 1) / {step} AS BIGINT) AS k"
    ));
    let group: Vec<String> = (1..=select.len()).map(|i| i.to_string()).collect();
    let q = format!(
        "SELECT {}, count(*) AS n FROM spans WHERE {filter} GROUP BY {}",
        select.join(", "),
        group.join(", ")
    );
    let batches = sql::run_sql(ctx, &q, cfg).await?;
    let mut out = Vec::new();
    for b in &batches {
        read(b, m, &cols, &mut out);
    }
    Ok(Some(out))
}

fn read(b: &RecordBatch, m: &Metrics, cols: &[Col], out: &mut Vec<Count>) {
    let n = cols.len();
    let (Some(k), Some(count)) = (
        b.column(n).as_primitive_opt::<Int64Type>(),
        b.column(n + 1).as_primitive_opt::<Int64Type>(),
    ) else {
        return;
    };
    for row in 0..b.num_rows() {
        let mut labels = Vec::with_capacity(n.max(1));
        for (i, (c, e)) in cols.iter().zip(&m.by).enumerate() {
            let a = b.column(i);
            let v = match c {
                Col::Text(_) => {
                    if let Some(s) = a.as_string_opt::<i32>() {
                        s.is_valid(row).then(|| Value::Str(s.value(row).to_owned()))
                    } else {
                        a.as_string_view_opt()
                            .filter(|s| s.is_valid(row))
                            .map(|s| Value::Str(s.value(row).to_owned()))
                    }
                }
                Col::Status => a
                    .as_primitive_opt::<Int32Type>()
                    .map(|x| Value::Status(Status::from_code(x.value(row)))),
                Col::Kind => a
                    .as_primitive_opt::<Int32Type>()
                    .map(|x| Value::Kind(Kind::from_code(x.value(row)))),
            };
            if let Some(v) = v {
                labels.push((e.to_string(), v));
            }
        }
        if labels.is_empty() {
            labels.push(match m.by.first() {
                Some(e) => (e.to_string(), Value::Nil),
                None => ("__name__".into(), Value::Str(m.func.name().into())),
            });
        }
        if let Ok(k) = usize::try_from(k.value(row)) {
            out.push((labels, k, count.value(row) as f64));
        }
    }
}
