//! `POST /api/v1/sql`: a read-only SQL query over the requesting tenant's tables, answered
//! as JSON, CSV or an Arrow IPC stream by the `Accept` header (`docs/sql.md`).
//!
//! The body is the query (`text/plain`, `application/sql` or no content type), or a form
//! with a `query` field (a "form" without one, as `curl -d 'SELECT 1'` sends, is the
//! query). The result is serialized batch by batch while the query runs and the query is
//! cancelled once the output passes `sql.max_result_bytes` (422), so a response
//! never holds more than that plus one chunk of rows.

pub(crate) mod output;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use strata_engine::TenantId;
use strata_query::sql::{self, SqlStream};

use crate::api::sql::output::{Format, ResultWriter};
use crate::auth::ReadTenant;
use crate::error::OutputError;
use crate::http::error::{ApiError, RETRY_AFTER_SECS};
use crate::runtime::queries::Queries;
use crate::runtime::state::AppState;

/// The route, for the router (`router.rs`) to merge.
pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/sql", post(query))
}

async fn query(
    State(queries): State<Queries>,
    ReadTenant(tenant): ReadTenant,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match answer(&queries, &tenant, &headers, body).await {
        Ok(resp) => resp,
        Err(e) => e.into_response(),
    }
}

async fn answer(
    queries: &Queries,
    tenant: &TenantId,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    // Refuse what cannot be answered before reading the body or running anything.
    let format = negotiate(header_str(headers, header::ACCEPT)?)?;
    let engine = queries.engine()?;
    let body = queries.read_body(headers, body).await?;
    let text = query_text(header_str(headers, header::CONTENT_TYPE)?, &body)?;
    let settings = queries.sql();
    let max = settings.max_result_bytes;
    let bytes = match execute(&engine, tenant, &text, &settings.query, format, max).await {
        // A worker died after the query's first batch (before, `SqlStream` plans it
        // again itself): the answer is built whole before it is sent, so the query runs
        // again here, alone, instead of failing.
        Err(Failed::Sql(sql::Error::WorkerUnavailable(why))) if !settings.query.workers.is_empty() => {
            tracing::warn!(error = %why, "a worker failed a spread SQL query after its first batch: running it in this process");
            sql::note_local_run();
            let local = sql::SqlConfig {
                workers: Vec::new(),
                ..settings.query.clone()
            };
            execute(&engine, tenant, &text, &local, format, max).await
        }
        other => other,
    }
    .map_err(|e| match e {
        Failed::Sql(e) => sql_error(e),
        Failed::Output(e) => output_error(e),
    })?;
    let mut resp = (StatusCode::OK, bytes).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    Ok(resp)
}

/// Why [`execute`] failed.
enum Failed {
    Sql(sql::Error),
    Output(OutputError),
}

/// Runs `text` under `config` and serializes its whole answer in `format`.
async fn execute(
    engine: &std::sync::Arc<strata_engine::Engine>,
    tenant: &TenantId,
    text: &str,
    config: &sql::SqlConfig,
    format: Format,
    max_result_bytes: u64,
) -> Result<Vec<u8>, Failed> {
    let ctx = sql::tenant_session(engine.clone(), tenant, config).map_err(Failed::Sql)?;
    let mut stream = SqlStream::start(&ctx, text, config)
        .await
        .map_err(Failed::Sql)?;
    let mut out =
        ResultWriter::new(format, &stream.schema(), max_result_bytes).map_err(Failed::Output)?;
    while let Some(batch) = stream.next_batch().await.map_err(Failed::Sql)? {
        out.write(&batch).map_err(Failed::Output)?;
    }
    out.finish().map_err(Failed::Output)
}

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Result<Option<&str>, ApiError> {
    headers
        .get(&name)
        .map(|v| {
            v.to_str()
                .map_err(|_| ApiError::BadRequest(format!("the {name} header is not ASCII")))
        })
        .transpose()
}

/// What the client accepts, in its order of preference (`q`), to one of our formats. No
/// `Accept` header, `*/*` and `application/*` mean JSON; `text/*` means CSV.
fn negotiate(accept: Option<&str>) -> Result<Format, ApiError> {
    let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else {
        return Ok(Format::Json);
    };
    let mut ranges: Vec<(f32, Option<Format>)> = Vec::new();
    for range in accept.split(',') {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        let format = match media.as_str() {
            "application/json" | "application/*" | "*/*" => Some(Format::Json),
            "text/csv" | "text/*" => Some(Format::Csv),
            "application/vnd.apache.arrow.stream" => Some(Format::Arrow),
            _ => None,
        };
        if q > 0.0 {
            ranges.push((q, format));
        }
    }
    // Stable: among equal q, the client's order.
    ranges.sort_by(|a, b| b.0.total_cmp(&a.0));
    ranges.into_iter().find_map(|(_, f)| f).ok_or_else(|| {
        ApiError::NotAcceptable(format!(
            "cannot answer Accept: {accept}; /api/v1/sql answers application/json (the default), text/csv or application/vnd.apache.arrow.stream"
        ))
    })
}

/// The SQL text of a request body.
fn query_text(content_type: Option<&str>, body: &[u8]) -> Result<String, ApiError> {
    let media = content_type
        .and_then(|c| c.split(';').next())
        .map(|m| m.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let text = match media.as_str() {
        "" | "text/plain" | "application/sql" => String::from_utf8(body.to_vec())
            .map_err(|_| ApiError::BadRequest("the query is not valid UTF-8".into()))?,
        // `curl -d 'SELECT ...'` sends the bare query labelled as a form: a body without a
        // `query` field is the query itself.
        "application/x-www-form-urlencoded" => {
            let fields: Vec<(String, String)> =
                serde_urlencoded::from_bytes(body).unwrap_or_default();
            match fields
                .into_iter()
                .find_map(|(k, v)| (k == "query").then_some(v))
            {
                Some(q) => q,
                None => String::from_utf8(body.to_vec())
                    .map_err(|_| ApiError::BadRequest("the query is not valid UTF-8".into()))?,
            }
        }
        other => {
            return Err(ApiError::UnsupportedMediaType(format!(
                "Content-Type {other} is not accepted; send the query as text/plain, application/sql, or a form with a query field"
            )));
        }
    };
    if text.trim().is_empty() {
        return Err(ApiError::BadRequest("the query is empty".into()));
    }
    Ok(text)
}

pub(crate) fn sql_error(e: sql::Error) -> ApiError {
    match e {
        sql::Error::Plan(_) => ApiError::BadRequest(e.to_string()),
        sql::Error::OverMemoryBudget { .. } => ApiError::Unprocessable(e.to_string()),
        sql::Error::Timeout(_) | sql::Error::WorkerUnavailable(_) => ApiError::Unavailable {
            message: e.to_string(),
            retry_after: RETRY_AFTER_SECS,
        },
        sql::Error::Execution(_) | sql::Error::Storage(_) | sql::Error::Config { .. } => {
            tracing::error!(error = %e, "sql query failed");
            ApiError::Internal(e.to_string())
        }
    }
}

fn output_error(e: OutputError) -> ApiError {
    match e {
        OutputError::TooLarge { .. } => ApiError::Unprocessable(e.to_string()),
        OutputError::Encode { .. } => {
            tracing::error!(error = %e, "cannot serialize a sql result");
            ApiError::Internal(e.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_picks_the_preferred_format_we_have() {
        assert_eq!(negotiate(None).unwrap(), Format::Json);
        assert_eq!(negotiate(Some("*/*")).unwrap(), Format::Json);
        assert_eq!(negotiate(Some("text/csv")).unwrap(), Format::Csv);
        assert_eq!(
            negotiate(Some("text/html, application/vnd.apache.arrow.stream;q=0.5")).unwrap(),
            Format::Arrow
        );
        assert_eq!(
            negotiate(Some("application/json;q=0.2, text/csv;q=0.9")).unwrap(),
            Format::Csv
        );
        assert_eq!(
            negotiate(Some("TEXT/CSV; charset=utf-8")).unwrap(),
            Format::Csv
        );
        let e = negotiate(Some("text/html, application/json;q=0")).unwrap_err();
        assert_eq!(e.status(), StatusCode::NOT_ACCEPTABLE);
        assert!(e.to_string().contains("text/csv"), "{e}");
    }

    #[test]
    fn the_query_comes_from_text_or_a_form() {
        assert_eq!(query_text(None, b"SELECT 1").unwrap(), "SELECT 1");
        assert_eq!(
            query_text(Some("application/sql"), b"SELECT 1").unwrap(),
            "SELECT 1"
        );
        assert_eq!(
            query_text(
                Some("application/x-www-form-urlencoded"),
                b"x=1&query=SELECT+1%2B1"
            )
            .unwrap(),
            "SELECT 1+1"
        );
        let form = Some("application/x-www-form-urlencoded");
        assert_eq!(
            query_text(form, b"SELECT * FROM t WHERE a = 1 & b").unwrap(),
            "SELECT * FROM t WHERE a = 1 & b"
        );
        for (ct, body, status) in [
            (form, &b"query="[..], 400),
            (None, b" \n", 400),
            (Some("text/plain"), b"\xff", 400),
            (Some("application/json"), b"{}", 415),
        ] {
            let e = query_text(ct, body).unwrap_err();
            assert_eq!(e.status().as_u16(), status, "{ct:?}: {e}");
        }
    }
}
