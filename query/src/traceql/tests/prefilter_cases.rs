//! The SQL prefilter against the in-memory evaluation over the corpus: an exact condition
//! selects exactly the spans the filter matches, an inexact one at least those; and the
//! test a condition carries for the spans summaries (`Cond::need`) against its SQL: the
//! summary of any span the SQL selects admits it, and the corpus's summary rules out
//! queries no span meets.

use std::collections::{BTreeSet, HashMap};

use datafusion::arrow::array::AsArray;
use strata_engine::{SpanSummary, SpanTest};

use super::corpus::{Corpus, spans};
use crate::sql::{self, SqlConfig};
use crate::traceql::ast::{SpansetExpr, Stage};
use crate::traceql::eval::matches;
use crate::traceql::parse;
use crate::traceql::prefilter::{Cond, filter, trace_condition};
use crate::traceql::trace::TraceView;

/// The corpus's spans matching filter `q` in memory, as (trace letter, span number).
fn in_memory(q: &str) -> BTreeSet<(u8, u8)> {
    let mut parsed = parse(q).expect(q);
    let Stage::Spanset(SpansetExpr::Filter(f)) = parsed.pipeline.stages.remove(0) else {
        panic!("{q}: not a filter")
    };
    let mut traces: HashMap<u8, Vec<_>> = HashMap::new();
    for s in spans() {
        traces.entry(s.trace_id[15]).or_default().push(s);
    }
    let mut out = BTreeSet::new();
    for (letter, spans) in traces {
        let t = TraceView::new(spans);
        for i in 0..t.spans.len() {
            if matches(&t, i, &f) {
                out.insert((letter, t.spans[i].span_id[7]));
            }
        }
    }
    out
}

fn condition(q: &str) -> Cond {
    let mut parsed = parse(q).expect(q);
    let Stage::Spanset(SpansetExpr::Filter(f)) = parsed.pipeline.stages.remove(0) else {
        panic!("{q}: not a filter")
    };
    filter(&f)
}

async fn in_sql(c: &Corpus, cond: &Cond) -> BTreeSet<(u8, u8)> {
    let cfg = SqlConfig::for_tests();
    let ctx = sql::tenant_session(c.engine.clone(), &c.acme, &cfg).expect("session");
    let q = format!("SELECT trace_id, span_id FROM spans WHERE {}", cond.sql);
    let batches = sql::run_sql(&ctx, &q, &cfg)
        .await
        .unwrap_or_else(|e| panic!("{q}: {e}"));
    let mut out = BTreeSet::new();
    for b in batches {
        let (t, s) = (
            b.column(0).as_fixed_size_binary(),
            b.column(1).as_fixed_size_binary(),
        );
        for i in 0..b.num_rows() {
            out.insert((t.value(i)[15], s.value(i)[7]));
        }
    }
    out
}

/// Checks that the summary of each span in `selected` (what the SQL of `cond` selects)
/// admits `cond.need`: the summaries never rule out a span the SQL would read.
fn summaries_admit(q: &str, cond: &Cond, selected: &BTreeSet<(u8, u8)>) {
    for s in spans() {
        if selected.contains(&(s.trace_id[15], s.span_id[7])) {
            let one = SpanSummary::of_spans(std::slice::from_ref(&s));
            assert!(
                one.may_match(&cond.need),
                "{q}: span {}{} ruled out by {:?}",
                char::from(s.trace_id[15]),
                s.span_id[7],
                cond.need
            );
        }
    }
}

#[tokio::test]
async fn exact_conditions_select_exactly_the_matching_spans() {
    let c = Corpus::new();
    let exact = [
        r#"{ name = "GetCart" }"#,
        r#"{ name =~ "SELECT.*" }"#,
        r#"{ name != "GetCart" && name >= "c" }"#,
        "{ status = error }",
        "{ status != unset && kind = server }",
        r#"{ statusMessage = "db failed" }"#,
        "{ duration > 1s }",
        "{ duration <= 5ms || kind = internal }",
        r#"{ resource.service.name = "cart" }"#,
        r#"{ resource.service.name =~ "ch.*|front.*" }"#,
        r#"{ resource.deployment.environment = "staging" }"#,
        "{ resource.deployment.environment = nil }",
        "{ resource.deployment.environment != nil }",
        "{ span.http.status_code >= 500 }",
        r#"{ span.http.status_code >= "500" }"#,
        "{ span.http.status_code = 200 }",
        r#"{ span.http.status_code = "200" }"#,
        "{ span.http.response.status_code >= 500 }",
        r#"{ span.http.response.status_code = "500" }"#,
        "{ span.http.response.status_code = nil }",
        r#"{ span.http.request.method = "GET" && status = ok }"#,
        r#"{ span.db.system != "mysql" }"#,
        r#"{ span.db.system !~ "post.*" }"#,
        r#"{ span.db.system = nil && kind = client }"#,
        "{ span.retries != nil }",
        "{ span.retries > 2 }",
        "{ span.job.priority > 1 }",
        "{ span.job.priority = 1.5 }",
        "{ span.cache.hit = false }",
        "{ span.cache.hit != true }",
        "{ span.retries = error }",
        "{ true }",
        "{ false }",
        r#"{ instrumentation:name = "corpus" }"#,
        r#"{ instrumentation.team = "cart" }"#,
        r#"{ instrumentation.team =~ "ca.*|web" }"#,
        "{ instrumentation.pool > 3 }",
        r#"{ instrumentation.pool = "4" }"#,
        "{ instrumentation.sampling.ratio = 0.5 }",
        "{ instrumentation.beta = true }",
        "{ instrumentation.team = nil }",
        "{ instrumentation.team != nil }",
    ];
    for q in exact {
        let cond = condition(q);
        assert!(cond.exact, "{q}: {}", cond.sql);
        let sql = in_sql(&c, &cond).await;
        assert_eq!(sql, in_memory(q), "{q}: {}", cond.sql);
        summaries_admit(q, &cond, &sql);
    }
    let inexact = [
        r#"{ .service.name = "checkout" }"#,
        r#"{ .deployment.environment =~ "stag.*" && kind = server }"#,
        r#"{ rootServiceName = "frontend" && span.db.system = "postgresql" }"#,
        "{ traceDuration > 1s }",
        "{ !(status = ok) && kind = internal }",
        "{ span:childCount = 2 }",
        "{ span.retries * 2 = 6 }",
        "{ kind > server }",
    ];
    for q in inexact {
        let cond = condition(q);
        assert!(!cond.exact, "{q}: {}", cond.sql);
        let (sql, mem) = (in_sql(&c, &cond).await, in_memory(q));
        assert!(
            sql.is_superset(&mem),
            "{q}: {}: {sql:?} vs {mem:?}",
            cond.sql
        );
        summaries_admit(q, &cond, &sql);
    }
}

/// Filters no span of the corpus meets, which its summary rules out (and SQL agrees);
/// and some it cannot decide.
#[tokio::test]
async fn the_corpus_summary_rules_out_queries_no_span_meets() {
    let c = Corpus::new();
    let whole = SpanSummary::of_spans(&spans());
    let none = [
        r#"{ resource.service.name = "batch" && span.http.status_code >= 500 }"#,
        r#"{ resource.service.name = "products" && status = error }"#,
        r#"{ resource.service.name = "cart" && span.http.response.status_code >= 500 }"#,
        "{ span.http.status_code >= 600 }",
        "{ span.http.status_code < 100 }",
        r#"{ name = "nope" }"#,
        r#"{ name =~ "DELETE.*" }"#,
        r#"{ .db.system = "oracle" }"#,
        r#"{ .deployment.environment = "dev" }"#,
        r#"{ resource.service.name =~ "zz.*" }"#,
        r#"{ resource.service.name != "frontend" && span.http.status_code = 500 }"#,
        "{ duration > 1h }",
        r#"{ instrumentation.team = "nobody" }"#,
        "{ instrumentation.pool > 4 }",
        "{ span.cache.hit = true }",
        "{ span.retries > 3 }",
        "{ span.job.priority > 2.5 }",
        "{ kind = consumer }",
        r#"{ span.db.system != nil && resource.service.name = "frontend" }"#,
        r#"{ span.db.system = "mysql" } >> { span.db.system = "oracle" }"#,
    ];
    for q in none {
        let cond = trace_condition(&parse(q).expect(q).pipeline);
        assert!(in_sql(&c, &cond).await.is_empty(), "{q}: {}", cond.sql);
        assert!(!whole.may_match(&cond.need), "{q}: {:?}", cond.need);
    }
    let undecided = [
        "{ span.db.system = nil }",
        r#"{ statusMessage = "nope" }"#,
        "{ traceDuration > 1h }",
        "{ span.http.status_code = 0 }",
    ];
    for q in undecided {
        let cond = trace_condition(&parse(q).expect(q).pipeline);
        assert!(whole.may_match(&cond.need), "{q}: {:?}", cond.need);
    }
    assert_ne!(
        condition("{ span.http.status_code != 0 }").need,
        SpanTest::Any
    );
}

#[test]
fn the_benchmark_query_reads_typed_columns_only() {
    let c =
        condition(r#"{ resource.service.name = "x" && span.http.response.status_code >= 500 }"#);
    assert_eq!(
        (c.sql.as_str(), c.exact),
        (
            "(service_name = 'x' AND http_response_status_code >= 500)",
            true
        )
    );
    let c = condition(r#"{ resource.service.name = "o'x" && span.http.status_code >= 500 }"#);
    assert_eq!(
        c.sql,
        "(service_name = 'o''x' AND (attribute_types['http.status_code'] IN \
         ('int', 'double') AND TRY_CAST(attributes['http.status_code'] AS DOUBLE) >= 500))"
    );
    assert!(c.exact);
}
