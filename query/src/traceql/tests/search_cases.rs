//! The search suite: each group cites the section of Tempo's documentation
//! (`docs/sources/tempo/traceql/construct-traceql-queries.md`) whose semantics it checks.
//! Expected traces are newest first (by their latest matching span); see
//! [`super::corpus`] for the corpus.

use super::corpus::{Corpus, S, T0, letters, spans_of};
use crate::traceql::{SearchParams, Value, parse, query_from_tags, search};

/// Queries and their expected answer as `letter:span numbers` per trace (spansets split
/// by `/`), or `-` for none.
async fn check(c: &Corpus, cases: &[(&str, &str)]) {
    for (query, want) in cases {
        let got = spans_of(&c.search(query).await);
        let got = if got.is_empty() { "-".into() } else { got };
        assert_eq!(&got, want, "{query}");
    }
}

/// "Construct a TraceQL query": `{ }` matches every span; traces newest first.
#[tokio::test]
async fn empty_filter_matches_every_trace_newest_first() {
    let c = Corpus::new();
    assert_eq!(letters(&c.search("{ }").await), "decba");
    assert_eq!(
        letters(&c.search_in("{}", T0, T0 + 35 * S, 20).await),
        "cba"
    );
    assert_eq!(
        letters(&c.search_in("{ }", T0, T0 + 2 * 3_600 * S, 3).await),
        "dec"
    );
    // Tenancy: tenant `other` holds only its copy of trace A, as trace Z.
    let q = parse("{ }").expect("parse");
    let p = SearchParams {
        start_ns: T0,
        end_ns: T0 + 2 * 3_600 * S,
        limit: 20,
        spans_per_spanset: 10,
    };
    let other = strata_engine::TenantId::new("other").expect("tenant");
    let sql = crate::sql::SqlConfig::for_tests();
    let found = search(&c.engine, &other, &sql, &q, &p)
        .await
        .expect("search");
    assert_eq!(spans_of(&found), "z:12345");
}

/// "Event scope", "Link scope", the parent's attributes: a condition on events or links
/// holds when one of them meets it (each comparison on its own); a span without any
/// reads `nil`; `parent.` reads the parent span, `nil` at a root.
#[tokio::test]
async fn event_link_and_parent_scopes() {
    let c = Corpus::new();
    check(
        &c,
        &[
            (r#"{ event:name = "exception" }"#, "a:4"),
            (r#"{ event.exception.message =~ ".*deadlock.*" }"#, "a:4"),
            (r#"{ event.exception.type = "PgError" && event:name = "retry" }"#, "a:4"),
            ("{ event.attempt = 2 }", "a:4"),
            ("{ event.attempt > 2 }", "-"),
            ("{ event:timeSinceStart > 50ms }", "a:4"),
            ("{ event:timeSinceStart > 150ms }", "-"),
            ("{ event:name != nil && span.db.system = \"postgresql\" }", "a:4"),
            ("{ event:name = nil && span.db.system = \"postgresql\" }", "e:45"),
            (r#"{ link.kind = "follows_from" }"#, "c:2"),
            (
                r#"{ link:traceID = "00000000000000000000000000000062" }"#,
                "c:2",
            ),
            (r#"{ link:spanID = "6200000000000001" }"#, "c:2"),
            (r#"{ link:spanID = "6200000000000002" }"#, "-"),
            // e3 has no rpc.method: its children read nil.
            (r#"{ parent.span.rpc.method = "GetCart" }"#, "a:45"),
            (
                r#"{ parent.resource.service.name = "frontend" && resource.service.name = "cart" }"#,
                "e:3 a:3",
            ),
            (r#"{ parent.peer.service = "payments" }"#, "-"),
            (r#"{ parent.http.status_code = 503 }"#, "-"),
            (r#"{ parent.http.status_code = "503" }"#, "c:23"),
            ("{ parent:id = nil }", "d:1 e:1 c:1 b:1 a:1"),
        ],
    )
    .await;
    // The scopes print as written (in search results' attribute keys and `by()` labels).
    use crate::traceql::ast::{Field, Scope};
    for (scope, printed) in [
        (Scope::Event, "event.a"),
        (Scope::Link, "link.a"),
        (Scope::ParentSpan, "parent.span.a"),
        (Scope::ParentResource, "parent.resource.a"),
        (Scope::ParentAny, "parent.a"),
        (Scope::Instrumentation, "instrumentation.a"),
    ] {
        assert_eq!(Field::Attr(scope, "a".into()).to_string(), printed);
    }
}

/// "Instrumentation scope attributes": `instrumentation.<key>`, the attributes of the
/// span's instrumentation scope (frontend's `team=web`, cart's `team=cart` ...; trace E
/// in memory, the rest in files).
#[tokio::test]
async fn instrumentation_scope_attributes() {
    let c = Corpus::new();
    check(
        &c,
        &[
            (r#"{ instrumentation.team = "cart" }"#, "e:345 a:345"),
            (
                r#"{ instrumentation.team = "web" && kind = server }"#,
                "e:1 b:1 a:1",
            ),
            (
                r#"{ instrumentation.team =~ "ca.*|pay.*" }"#,
                "e:345 c:123 a:345",
            ),
            (r#"{ instrumentation.team != "web" }"#, "e:345 c:123 a:345"),
            ("{ instrumentation.pool > 3 }", "e:345 a:345"),
            (r#"{ instrumentation.pool = "4" }"#, "-"),
            ("{ instrumentation.sampling.ratio = 0.5 }", "e:12 b:12 a:12"),
            ("{ instrumentation.beta = true }", "c:123"),
            ("{ instrumentation.team = nil }", "d:1 b:345"),
            (
                r#"{ instrumentation.team != nil && resource.service.name = "products" }"#,
                "-",
            ),
            // Unscoped attributes are the span's or the resource's, not the scope's.
            (r#"{ .team = "cart" }"#, "-"),
            (
                r#"{ instrumentation.team = "web" } >> { instrumentation.pool = 4 }"#,
                "e:345 a:345",
            ),
        ],
    )
    .await;
}

/// "Select spans" / "Intrinsic fields" and "Comparison operators": each intrinsic.
#[tokio::test]
async fn intrinsics() {
    let c = Corpus::new();
    check(
        &c,
        &[
            (r#"{ name = "GetCart" }"#, "e:3 a:3"),
            (r#"{ span:name = "charge" }"#, "c:2"),
            ("{ status = error }", "c:12 a:34"),
            ("{ span:status = ok }", "e:13 c:3 b:1 a:5"),
            ("{ status != unset && kind = server }", "e:13 c:1 b:1 a:3"),
            (r#"{ statusMessage = "db failed" }"#, "a:34"),
            ("{ kind = internal }", "d:1 a:5"),
            ("{ span:kind = client && duration > 100ms }", "c:2 a:24"),
            ("{ duration > 1s }", "d:1 c:12"),
            ("{ duration >= 1.5s }", "d:1 c:1"),
            ("{ span:duration < 3ms }", "a:5"),
            ("{ duration <= 5ms }", "e:5 b:5 a:5"),
            (
                r#"{ rootServiceName = "frontend" && span.db.system = "postgresql" }"#,
                "e:45 a:4",
            ),
            (r#"{ trace:rootService = "checkout" }"#, "c:123"),
            (
                r#"{ rootName = "GET /cart" && kind = server }"#,
                "e:13 a:13",
            ),
            (r#"{ trace:rootName = "nightly" }"#, "d:1"),
            ("{ traceDuration > 1s }", "d:1 c:123"),
            ("{ trace:duration < 100ms }", "b:12345"),
            (r#"{ span:id = "6500000000000004" }"#, "e:4"),
            (r#"{ span:parentID = "6100000000000003" }"#, "a:45"),
            ("{ span:childCount = 2 }", "e:3 c:1 b:3 a:3"),
            (
                r#"{ instrumentation:name = "corpus" && kind = internal }"#,
                "d:1 a:5",
            ),
        ],
    )
    .await;
}

/// "Attribute fields", "Value types and literals", "Comparison operators": scoped and
/// unscoped attributes, typed values (an int never equals a string), `nil`.
#[tokio::test]
async fn attributes_and_types() {
    let c = Corpus::new();
    check(
        &c,
        &[
            (r#"{ resource.service.name = "cart" }"#, "e:345 a:345"),
            (r#"{ .service.name = "checkout" }"#, "c:123"),
            (
                r#"{ resource.deployment.environment = "staging" }"#,
                "c:123",
            ),
            (
                r#"{ .deployment.environment = "prod" && status = error }"#,
                "a:34",
            ),
            (r#"{ resource.deployment.environment = nil }"#, "d:1"),
            // An int attribute compares with numbers, a string one with strings.
            ("{ span.http.status_code >= 500 }", "a:1"),
            (r#"{ span.http.status_code >= "500" }"#, "c:1"),
            ("{ span.http.status_code = 200 }", "b:1"),
            (r#"{ span.http.status_code = "200" }"#, "-"),
            // A well-known attribute stored in its own column.
            ("{ span.http.response.status_code >= 500 }", "c:1 a:1"),
            ("{ span.http.response.status_code = 200 }", "e:1 b:1"),
            (
                r#"{ span.http.request.method = "GET" && status = ok }"#,
                "e:1 b:1",
            ),
            (r#"{ span.db.system = "postgresql" }"#, "e:45 a:4"),
            (r#"{ span.db.system != "mysql" }"#, "e:45 a:4"),
            (
                r#"{ span.db.system = nil && kind = client }"#,
                "e:2 c:23 b:2 a:2",
            ),
            ("{ span.retries != nil }", "c:23"),
            ("{ span.retries > 2 }", "c:2"),
            ("{ .retries >= 1.0 && .retries < 3 }", "c:3"),
            ("{ span.job.priority > 1 }", "d:1"),
            ("{ span.job.priority = 1.5 }", "d:1"),
            ("{ span.cache.hit = false }", "a:5"),
            ("{ span.cache.hit = true }", "-"),
            (r#"{ span."peer.service" = "payments" }"#, "c:2"),
            (
                r#"{ resource.service.name = "cart" && span.rpc.method = nil }"#,
                "e:345 a:45",
            ),
            // Arithmetic ("Arithmetic").
            ("{ duration > 1 * 1000 * 1000 * 1000 }", "d:1 c:12"),
            ("{ span.retries * 2 = 6 }", "c:2"),
        ],
    )
    .await;
}

/// "Comparison operators": regular expressions are fully anchored (Go syntax).
#[tokio::test]
async fn regular_expressions() {
    let c = Corpus::new();
    check(
        &c,
        &[
            (r#"{ name =~ "SELECT.*" }"#, "e:45 b:45 a:4"),
            (r#"{ name =~ "SELECT" }"#, "-"),
            (
                r#"{ span.db.system =~ "postgresql|mysql" }"#,
                "e:45 b:45 a:4",
            ),
            (r#"{ span.db.system !~ "post.*" }"#, "b:45"),
            (r#"{ resource.service.name =~ "ch.*" }"#, "c:123"),
            (
                r#"{ .deployment.environment =~ "stag.*" && kind = server }"#,
                "c:1",
            ),
        ],
    )
    .await;
}

/// "Field expressions": every condition of one `{}` holds on the same span; `||`.
#[tokio::test]
async fn field_expressions() {
    let c = Corpus::new();
    check(
        &c,
        &[
            (
                r#"{ name = "GET /cart" || name = "POST /checkout" }"#,
                "e:1 c:1 a:1",
            ),
            (
                r#"{ resource.service.name = "cart" && resource.service.name = "frontend" }"#,
                "-",
            ),
            (
                r#"{ (kind = internal || kind = server) && status = error }"#,
                "c:1 a:3",
            ),
            (r#"{ !(status = ok) && kind = internal }"#, "d:1"),
            ("{ true }", "d:1 e:12345 c:123 b:12345 a:12345"),
            ("{ false }", "-"),
        ],
    )
    .await;
}

/// "Combine spansets using operators" / "Logical": `&&` needs both sides in the trace
/// and returns the spans of both; `||` either.
#[tokio::test]
async fn logical_spanset_operators() {
    let c = Corpus::new();
    check(&c, &[
        (r#"{ resource.service.name = "frontend" } && { span.db.system = "mysql" }"#, "b:1245"),
        (
            r#"{ resource.deployment.environment = "prod" } && { resource.deployment.environment = "staging" }"#,
            "-",
        ),
        (r#"{ span.db.system = "mysql" } || { status = error }"#, "c:12 b:45 a:34"),
        (r#"{ name = "nightly" } || { name = "charge" }"#, "d:1 c:2"),
    ])
    .await;
}

/// "Structural": the operators return spans of the right-hand side.
#[tokio::test]
async fn structural_operators() {
    let c = Corpus::new();
    check(
        &c,
        &[
            (
                r#"{ resource.service.name = "frontend" } >> { status = error }"#,
                "a:34",
            ),
            (r#"{ name = "GetCart" } > { kind = client }"#, "e:45 a:4"),
            (r#"{ kind = server } > { kind = server }"#, "-"),
            (r#"{ span.db.system = "postgresql" } < { }"#, "e:3 a:3"),
            (r#"{ span.db.system = "postgresql" } << { }"#, "e:123 a:123"),
            (
                r#"{ name = "cache.get" } ~ { span.db.system = "postgresql" }"#,
                "a:4",
            ),
            (r#"{ name = "SELECT prices" } ~ { }"#, "b:4"),
            (
                r#"{ span.db.system = "postgresql" } ~ { span.db.system = "postgresql" }"#,
                "e:45",
            ),
            (
                "{ kind = server } >> { kind = server } >> { kind = client }",
                "e:45 b:45 a:4",
            ),
        ],
    )
    .await;
}

/// "Union structural" and "Experimental structural": `&>` and friends return both
/// sides' spans; `!<`, `!>`, `!>>`, `!~` the right spans without the relation.
#[tokio::test]
async fn union_and_negated_structural_operators() {
    let c = Corpus::new();
    check(
        &c,
        &[
            (r#"{ name = "GetCart" } &> { kind = client }"#, "e:345 a:34"),
            (r#"{ status = error } &>> { status = error }"#, "c:12 a:34"),
            (r#"{ } !< { resource.service.name = "cart" }"#, "e:45 a:45"),
            ("{ status = error } !< { status = error }", "c:2 a:4"),
            ("{ } !> { kind = server }", "e:1 c:1 b:1 a:1"),
            (
                r#"{ resource.service.name = "frontend" } !>> { resource.service.name = "cart" }"#,
                "-",
            ),
            (
                r#"{ name = "cache.get" } !~ { resource.service.name = "cart" }"#,
                "e:345 a:35",
            ),
        ],
    )
    .await;
}

/// "Aggregators": `count()`, `avg()`, `max()`, `min()`, `sum()` filter spansets, and
/// their value is a spanset attribute.
#[tokio::test]
async fn aggregators() {
    let c = Corpus::new();
    check(
        &c,
        &[
            (
                r#"{ span.db.system =~ "mysql|postgresql" } | count() > 1"#,
                "e:45 b:45",
            ),
            ("{ status = error } | count() = 2", "c:12 a:34"),
            ("{ } | avg(duration) > 1s", "d:1"),
            ("{ } | max(duration) >= 1.5s", "d:1 c:123"),
            ("{ kind = client } | sum(duration) > 1s", "c:23"),
            (
                r#"{ resource.service.name = "cart" } | min(duration) < 3ms"#,
                "a:345",
            ),
            ("{ } | sum(span.retries) = 4", "c:123"),
        ],
    )
    .await;
    let found = c.search("{ status = error } | count() > 1").await;
    assert_eq!(
        found[0].spansets[0].attributes,
        vec![("count()".to_owned(), Value::Int(2))]
    );
    let found = c.search("{ } | avg(duration) > 1s").await;
    assert_eq!(
        found[0].spansets[0].attributes,
        vec![("avg(duration)".to_owned(), Value::Duration(2 * S))]
    );
}

/// "Grouping": `by()` splits a trace's spansets; then `count()` applies per group.
#[tokio::test]
async fn grouping() {
    let c = Corpus::new();
    check(
        &c,
        &[
            (
                "{ status = error } | by(resource.service.name) | count() > 1",
                "c:12 a:34",
            ),
            (
                "{ } | by(resource.service.name) | count() > 2",
                "e:345 c:123 b:345 a:345",
            ),
            (
                r#"{ rootName = "GET /products" } | by(resource.service.name)"#,
                "b:12/345",
            ),
        ],
    )
    .await;
    let found = c
        .search("{ kind = client } | by(span.db.system) | count() > 1")
        .await;
    assert_eq!(spans_of(&found), "e:45 c:23 b:45");
    let attrs: Vec<_> = found
        .iter()
        .map(|m| m.spansets[0].attributes.clone())
        .collect();
    assert_eq!(
        attrs[0],
        vec![
            (
                "by(span.db.system)".to_owned(),
                Value::Str("postgresql".into())
            ),
            ("count()".to_owned(), Value::Int(2)),
        ]
    );
    // Spans without the attribute form a group of their own (nil).
    assert_eq!(attrs[1][0], ("by(span.db.system)".to_owned(), Value::Nil));
}

/// "Selection": `select()` adds fields to the spans returned; the filters' fields are
/// returned too, `service.name` always.
#[tokio::test]
async fn selection_and_returned_attributes() {
    let c = Corpus::new();
    let found = c
        .search("{ status = error } | select(span.http.status_code, statusMessage)")
        .await;
    assert_eq!(spans_of(&found), "c:12 a:34");
    let c1 = &found[0].spansets[0].spans[0];
    assert_eq!(c1.name, "POST /checkout");
    assert_eq!(c1.start_ns, T0 + 30 * S);
    assert_eq!(c1.duration_ns, 1_500_000_000);
    assert_eq!(
        c1.attributes,
        vec![
            ("service.name".to_owned(), Value::Str("checkout".into())),
            (
                "status".to_owned(),
                Value::Status(crate::traceql::Status::Error)
            ),
            ("http.status_code".to_owned(), Value::Str("503".into())),
            ("statusMessage".to_owned(), Value::Str(String::new())),
        ]
    );
    let a3 = &found[1].spansets[0].spans[0];
    assert_eq!(
        a3.attributes,
        vec![
            ("service.name".to_owned(), Value::Str("cart".into())),
            (
                "status".to_owned(),
                Value::Status(crate::traceql::Status::Error)
            ),
            ("statusMessage".to_owned(), Value::Str("db failed".into())),
        ]
    );
    // The trace's root and extent.
    let a = &found[1];
    assert_eq!(a.root_service_name.as_deref(), Some("frontend"));
    assert_eq!(a.root_span_name.as_deref(), Some("GET /cart"));
    assert_eq!(a.start_ns, T0 + 10 * S);
    assert_eq!(a.duration_ns, 500 * 1_000_000);
}

/// Pipelines in parentheses combine with spanset operators ("Construct a TraceQL query").
#[tokio::test]
async fn nested_pipelines() {
    let c = Corpus::new();
    check(
        &c,
        &[
            (
                r#"({ kind = client } | count() > 2) && { rootName = "GET /products" }"#,
                "b:12345",
            ),
            (
                r#"({ kind = client } | count() > 2) && { status = error }"#,
                "-",
            ),
            ("{ } | { status = error }", "c:12 a:34"),
        ],
    )
    .await;
}

/// `spss` caps the spans shown per spanset; `matched` counts them all.
#[tokio::test]
async fn spans_per_spanset_caps_spans_but_not_matched() {
    let c = Corpus::new();
    let q = parse("{ }").expect("parse");
    let p = SearchParams {
        start_ns: T0,
        end_ns: T0 + 50 * S,
        limit: 1,
        spans_per_spanset: 2,
    };
    let sql = crate::sql::SqlConfig::for_tests();
    let found = search(&c.engine, &c.acme, &sql, &q, &p)
        .await
        .expect("search");
    assert_eq!(spans_of(&found), "e:12");
    assert_eq!(found[0].spansets[0].matched, 5);
}

/// Legacy `tags=` searches run as the equivalent TraceQL.
#[tokio::test]
async fn legacy_tag_search() {
    let c = Corpus::new();
    let sql = crate::sql::SqlConfig::for_tests();
    let run = |tags: Vec<(&str, &str)>, min: Option<i64>| {
        let tags: Vec<(String, String)> = tags
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        let q = query_from_tags(&tags, min, None);
        let p = SearchParams {
            start_ns: T0,
            end_ns: T0 + 2 * 3_600 * S,
            limit: 20,
            spans_per_spanset: 10,
        };
        let (engine, acme, sql) = (c.engine.clone(), c.acme.clone(), sql.clone());
        async move { spans_of(&search(&engine, &acme, &sql, &q, &p).await.expect("search")) }
    };
    assert_eq!(
        run(
            vec![("service.name", "cart"), ("db.system", "postgresql")],
            None
        )
        .await,
        "e:45 a:4"
    );
    assert_eq!(run(vec![("http.status_code", "500")], None).await, "a:1");
    assert_eq!(run(vec![("http.status_code", "503")], None).await, "c:1");
    assert_eq!(run(vec![("name", "charge")], None).await, "c:2");
    assert_eq!(
        run(vec![("status.code", "error")], Some(1_000_000_000)).await,
        "c:12"
    );
    assert_eq!(run(vec![], Some(1_500_000_000)).await, "d:1 c:1");
}

/// A metrics query is not a search.
#[tokio::test]
async fn a_metrics_query_is_refused_by_search() {
    let c = Corpus::new();
    let q = parse("{ } | rate()").expect("parse");
    let p = SearchParams {
        start_ns: T0,
        end_ns: T0 + S,
        limit: 1,
        spans_per_spanset: 1,
    };
    let err = search(
        &c.engine,
        &c.acme,
        &crate::sql::SqlConfig::for_tests(),
        &q,
        &p,
    )
    .await
    .expect_err("refused");
    assert!(err.is_client_error(), "{err}");
}
