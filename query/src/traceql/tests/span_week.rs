//! The issue's benchmark query over a span-week data directory (`benches/spans/
//! gen-span-week.sh`), when `STRATA_TRACEQL_WEEK` names one: ignored by default.
//!
//! `STRATA_TRACEQL_WEEK=/path/to/data cargo test -p strata-query --lib span_week -- --ignored --nocapture`

use std::sync::Arc;
use std::time::Instant;

use strata_engine::{Engine, EngineConfig, TenantId};

use crate::sql::SqlConfig;
use crate::traceql::{SearchParams, parse, search};

#[tokio::test]
#[ignore = "needs a span-week data directory in STRATA_TRACEQL_WEEK"]
async fn benchmark_query_over_the_last_24_hours() {
    let Ok(dir) = std::env::var("STRATA_TRACEQL_WEEK") else {
        return;
    };
    let engine = Arc::new(Engine::open(&dir, EngineConfig::default()).expect("open"));
    let tenant = TenantId::new("default").expect("tenant");
    let end_ns: i64 = std::env::var("STRATA_TRACEQL_END_NS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_795_744_800_000_000_000);
    let p = SearchParams {
        start_ns: end_ns - 24 * 3_600 * 1_000_000_000,
        end_ns,
        limit: 20,
        spans_per_spanset: 3,
    };
    let sql = SqlConfig::default();
    for q in [
        r#"{ resource.service.name = "catalog" && span.http.response.status_code >= 500 }"#,
        r#"{ resource.service.name = "checkout" && span.http.response.status_code >= 500 }"#,
        r#"{ resource.service.name = "catalog" && span.http.status_code >= 500 }"#,
        r#"{ resource.service.name = "frontend" } >> { status = error }"#,
    ] {
        let parsed = parse(q).expect("parse");
        for _ in 0..3 {
            let t = Instant::now();
            let found = search(&engine, &tenant, &sql, &parsed, &p)
                .await
                .expect("search");
            println!("{q}: {} traces in {:?}", found.len(), t.elapsed());
        }
    }
}
