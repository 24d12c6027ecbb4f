//! Unit tests of the Flight SQL service's parts: the `?` rewrite, parameter values,
//! statement tickets, Basic auth, the result-size limit and the prepared-statement registry.

use std::sync::Arc;
use std::time::Instant;

use arrow_flight::FlightData;
use axum::http::{HeaderMap, HeaderValue, header};
use base64::Engine as _;
use datafusion::arrow::array::{Int64Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::common::ScalarValue;
use futures::StreamExt;
use strata_engine::TenantId;
use tonic::{Code, Status};

use super::auth::{as_bearer, basic_password};
use super::params::{ParamError, rewrite_question_marks, values};
use super::prepared::{Entry, MAX_PER_TENANT, Registry};
use super::statement::{ticket_handle, ticket_sql};
use super::stream::limited;

#[test]
fn question_marks_become_numbered_placeholders_outside_strings_and_comments() {
    assert_eq!(
        rewrite_question_marks("SELECT * FROM t WHERE a = ? AND b > ?").unwrap(),
        "SELECT * FROM t WHERE a = $1 AND b > $2"
    );
    let sql = "SELECT '?', \"we?ird\", x -- what?\nFROM t /* ? */ WHERE y = ?";
    assert_eq!(
        rewrite_question_marks(sql).unwrap(),
        "SELECT '?', \"we?ird\", x -- what?\nFROM t /* ? */ WHERE y = $1"
    );
    // Multi-byte text before a mark, and a mark on a later line.
    assert_eq!(
        rewrite_question_marks("SELECT 'é' AS a,\n  ? AS b").unwrap(),
        "SELECT 'é' AS a,\n  $1 AS b"
    );
    // Nothing to rewrite: the text as it is.
    for sql in ["SELECT $1, $2", "SELECT 1", "SELECT '?'"] {
        assert_eq!(rewrite_question_marks(sql).unwrap(), sql);
    }
    assert_eq!(
        rewrite_question_marks("SELECT ?, $1").unwrap_err(),
        ParamError::Mixed
    );
    assert!(matches!(
        rewrite_question_marks("SELECT 'open ?").unwrap_err(),
        ParamError::Tokenize(_)
    ));
}

fn one_row(columns: Vec<(&str, Arc<dyn datafusion::arrow::array::Array>)>) -> RecordBatch {
    RecordBatch::try_from_iter(columns).expect("batch")
}

#[test]
fn bound_values_are_cast_to_the_placeholders_types() {
    let batch = one_row(vec![
        ("0", Arc::new(Int64Array::from(vec![7]))),
        ("1", Arc::new(StringArray::from(vec!["x"]))),
    ]);
    let got = values(&batch, &[Some(DataType::UInt64), None]).unwrap();
    assert_eq!(
        got,
        [
            ScalarValue::UInt64(Some(7)),
            ScalarValue::Utf8(Some("x".into()))
        ]
    );

    let e = values(&batch, &[Some(DataType::UInt64)]).unwrap_err();
    assert_eq!(
        e,
        ParamError::Count {
            expected: 1,
            got: 2
        }
    );
    let e = values(&batch, &[None, Some(DataType::Int32)]).unwrap_err();
    assert!(matches!(e, ParamError::Value { index: 2, .. }), "{e:?}");

    let two = one_row(vec![("0", Arc::new(Int64Array::from(vec![1, 2])))]);
    assert_eq!(
        values(&two, &[Some(DataType::Int64)]).unwrap_err(),
        ParamError::Rows(2)
    );
    // A negative number does not fit an unsigned placeholder.
    let neg = one_row(vec![("0", Arc::new(Int64Array::from(vec![-1])))]);
    assert!(values(&neg, &[Some(DataType::UInt64)]).is_err());
}

#[test]
fn statement_tickets_round_trip_and_refuse_others() {
    let sql = "SELECT 'ü' FROM samples";
    let handle = ticket_handle(sql);
    assert_eq!(ticket_sql(&handle).unwrap(), sql);
    for bad in [
        &b""[..],
        b"SELECT 1",
        b"strata-sql-2\0SELECT 1",
        b"strata-sql-1\0\xff",
    ] {
        let e = ticket_sql(bad).unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument, "{bad:?}");
    }
}

fn basic(credentials: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(credentials)
    )
}

#[test]
fn basic_auth_passes_the_password_as_the_token() {
    assert_eq!(
        basic_password(basic("anyone:s3cret:with:colons").as_bytes()).unwrap(),
        Some("s3cret:with:colons".into())
    );
    assert_eq!(
        basic_password(basic(":tok").replace("Basic", "bAsIc").as_bytes()).unwrap(),
        Some("tok".into())
    );
    assert_eq!(basic_password(b"Bearer tok").unwrap(), None);
    for bad in ["Basic !!!", "Basic ", &basic("no-colon")] {
        let e = basic_password(bad.as_bytes()).unwrap_err();
        assert_eq!(e.code(), Code::Unauthenticated, "{bad}");
    }

    let mut headers = HeaderMap::new();
    headers.insert(
        header::AUTHORIZATION,
        HeaderValue::from_str(&basic("u:acme-rw")).unwrap(),
    );
    as_bearer(&mut headers).unwrap();
    assert_eq!(headers[header::AUTHORIZATION], "Bearer acme-rw");
    // Bearer stays as it is; no header stays absent.
    as_bearer(&mut headers).unwrap();
    assert_eq!(headers[header::AUTHORIZATION], "Bearer acme-rw");
    let mut none = HeaderMap::new();
    as_bearer(&mut none).unwrap();
    assert!(none.is_empty());
}

fn message(header: usize, body: usize) -> Result<FlightData, Status> {
    Ok(FlightData {
        data_header: vec![0u8; header].into(),
        data_body: vec![0u8; body].into(),
        ..FlightData::default()
    })
}

#[tokio::test]
async fn the_limit_cuts_the_stream_with_resource_exhausted() {
    // 3 x 40 bytes pass a limit of 120; the fourth message does not.
    let input = futures::stream::iter((0..10).map(|_| message(10, 30)));
    let out: Vec<_> = limited(input, 120).collect().await;
    assert_eq!(out.len(), 4, "three messages and the error, then the end");
    assert!(out[..3].iter().all(Result::is_ok));
    let e = out[3].as_ref().unwrap_err();
    assert_eq!(e.code(), Code::ResourceExhausted);
    assert!(e.message().contains("sql.max_result_bytes"), "{e}");

    // Under the limit, everything; an error passes and ends the stream.
    let input = futures::stream::iter((0..3).map(|_| message(1, 1)));
    assert_eq!(limited(input, 6).collect::<Vec<_>>().await.len(), 3);
    let input = futures::stream::iter(vec![
        message(1, 1),
        Err(Status::unavailable("gone")),
        message(1, 1),
    ]);
    let out: Vec<_> = limited(input, u64::MAX).collect().await;
    assert_eq!(out.len(), 2);
    assert_eq!(out[1].as_ref().unwrap_err().code(), Code::Unavailable);
}

fn entry(tenant: &str) -> Entry {
    Entry {
        tenant: TenantId::new(tenant).expect("tenant"),
        sql: "SELECT 1".into(),
        params: Vec::new(),
        schema: Arc::new(Schema::new(vec![Field::new("1", DataType::Int64, false)])),
        bound: None,
        last_used: Instant::now(),
    }
}

#[test]
fn a_handle_belongs_to_its_tenant_until_closed() {
    let registry = Registry::default();
    let acme = TenantId::new("acme").unwrap();
    let globex = TenantId::new("globex").unwrap();
    let handle = registry.insert(entry("acme")).unwrap();
    assert!(registry.get(&handle, &acme).is_ok());
    for (h, t) in [
        (&handle[..], &globex),
        (&[0u8; 16][..], &acme),
        (b"short", &acme),
    ] {
        assert_eq!(registry.get(h, t).unwrap_err().code(), Code::NotFound);
    }
    // Another tenant can neither bind nor close it.
    assert_eq!(
        registry
            .bind(&handle, &globex, Vec::new())
            .unwrap_err()
            .code(),
        Code::NotFound
    );
    assert_eq!(
        registry.remove(&handle, &globex).unwrap_err().code(),
        Code::NotFound
    );
    registry.remove(&handle, &acme).unwrap();
    assert_eq!(
        registry.get(&handle, &acme).unwrap_err().code(),
        Code::NotFound
    );
    assert_eq!(registry.len(), 0);
}

#[test]
fn a_tenant_holds_a_bounded_number_of_statements() {
    let registry = Registry::default();
    for _ in 0..MAX_PER_TENANT {
        registry.insert(entry("acme")).unwrap();
    }
    let e = registry.insert(entry("acme")).unwrap_err();
    assert_eq!(e.code(), Code::ResourceExhausted);
    // Another tenant is not held back by acme's statements.
    assert!(registry.insert(entry("globex")).is_ok());
    // Idle statements are dropped on the next insert.
    let registry = Registry::default();
    let mut old = entry("acme");
    let Some(then) = Instant::now().checked_sub(super::prepared::IDLE) else {
        return;
    };
    old.last_used = then;
    registry.insert(old).unwrap();
    registry.insert(entry("acme")).unwrap();
    assert_eq!(registry.len(), 1);
}

#[test]
fn sql_info_and_xdbc_type_info_build() {
    assert!(super::info::sql_info().is_ok());
    assert!(super::info::xdbc_type_info().is_ok());
}
