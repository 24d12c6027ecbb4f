//! The embedding handle: a write (samples, spans, log records) is visible to the next SQL
//! and PromQL query without a flush, a flush does not duplicate it, and the SQL timeout
//! stops a long query.

use std::time::Duration;

use datafusion::arrow::array::AsArray;
use datafusion::arrow::datatypes::Int64Type;
use strata_engine::{Clock, LogRecord, Sample, SeriesSamples, SpanRecord, SystemClock, TenantId};
use strata_query::promql::Value;
use strata_query::sql::{self, SqlConfig};
use strata_query::{Error, Strata, StrataConfig};

fn up(ts: i64, value: f64) -> SeriesSamples {
    SeriesSamples {
        labels: vec![
            ("__name__".into(), "up".into()),
            ("job".into(), "api".into()),
        ],
        samples: vec![Sample { ts, value }],
    }
}

fn count(db: &Strata, t: &TenantId) -> i64 {
    let batches = db.sql(t, "SELECT count(*) FROM metrics").expect("sql");
    batches[0].column(0).as_primitive::<Int64Type>().value(0)
}

#[test]
fn writes_are_visible_to_the_next_query_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = Strata::open(dir.path(), StrataConfig::default()).expect("open");
    let t = TenantId::new("acme").expect("valid");
    let now = SystemClock.now_ms();
    assert_eq!(count(&db, &t), 0);
    db.write(&t, &[up(now - 30_000, 1.0)]).expect("write");
    assert_eq!(count(&db, &t), 1);
    db.engine().flush().expect("flush");
    db.write(&t, &[up(now - 15_000, 1.0)]).expect("write");
    assert_eq!(count(&db, &t), 2, "one from the file, one from memory");
    let res = db
        .promql_range(&t, "up", now - 30_000, now - 15_000, 15_000)
        .expect("promql");
    let Value::Matrix(m) = res.value else {
        panic!("a matrix")
    };
    assert_eq!(m[0].points.len(), 2);
}

fn count_of(db: &Strata, t: &TenantId, sql: &str) -> i64 {
    let batches = db.sql(t, sql).expect("sql");
    batches[0].column(0).as_primitive::<Int64Type>().value(0)
}

#[test]
fn spans_and_logs_written_through_the_handle_are_visible_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = Strata::open(dir.path(), StrataConfig::default()).expect("open");
    let t = TenantId::new("acme").expect("valid");
    let now_ns = SystemClock.now_ms() * 1_000_000;
    let span = |n: u8| SpanRecord {
        trace_id: [n; 16],
        span_id: [n; 8],
        service_name: "api".into(),
        start_ns: now_ns - 1_000_000_000,
        end_ns: now_ns,
        ..SpanRecord::default()
    };
    let log = |n: u8| LogRecord {
        time_ns: now_ns,
        trace_id: Some([n; 16]),
        ..LogRecord::default()
    };
    let spans = "SELECT count(*) FROM spans";
    let joined = "SELECT count(*) FROM spans s JOIN logs l ON s.trace_id = l.trace_id";
    assert_eq!(db.write_spans(&t, &[span(1)]).expect("write").accepted, 1);
    assert_eq!(db.write_logs(&t, &[log(1)]).expect("write").accepted, 1);
    assert_eq!(count_of(&db, &t, spans), 1);
    assert_eq!(count_of(&db, &t, joined), 1);
    db.engine().flush().expect("flush");
    assert_eq!(db.write_spans(&t, &[span(2)]).expect("write").accepted, 1);
    assert_eq!(db.write_logs(&t, &[log(2)]).expect("write").accepted, 1);
    assert_eq!(
        count_of(&db, &t, spans),
        2,
        "one from the file, one from memory"
    );
    assert_eq!(count_of(&db, &t, joined), 2);
    let one = "SELECT count(*) FROM spans WHERE trace_id = X'02020202020202020202020202020202'";
    assert_eq!(count_of(&db, &t, one), 1);
}

#[test]
fn a_query_past_its_timeout_fails_with_a_clear_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = StrataConfig {
        sql: SqlConfig {
            timeout: Duration::from_millis(50),
            ..SqlConfig::for_tests()
        },
        ..StrataConfig::default()
    };
    let db = Strata::open(dir.path(), config).expect("open");
    let t = TenantId::new("acme").expect("valid");
    let slow = "SELECT count(*) FROM range(1, 20000000000)";
    let err = db.sql(&t, slow).expect_err("times out");
    assert!(
        matches!(err, Error::Sql(sql::Error::Timeout(d)) if d == Duration::from_millis(50)),
        "{err}"
    );
    assert!(err.to_string().contains("timed out after 50ms"), "{err}");
    // The handle still answers.
    assert_eq!(count(&db, &t), 0);
}
