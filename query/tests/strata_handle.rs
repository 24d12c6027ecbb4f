//! The embedding handle: a write is visible to the next SQL and PromQL query without a
//! flush, a flush does not duplicate it, and the SQL timeout stops a long query.

use std::time::Duration;

use datafusion::arrow::array::AsArray;
use datafusion::arrow::datatypes::Int64Type;
use strata_engine::{Clock, Sample, SeriesSamples, SystemClock, TenantId};
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
