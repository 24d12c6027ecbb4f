//! The fixed span corpus of the TraceQL suite: five traces of tenant `acme` (and one of
//! tenant `other` that no query may see), with known structure, services, kinds,
//! statuses, durations and attributes. Times are offsets from [`T0`], an hour boundary.
//!
//! ```text
//! A (+10 s) frontend GET /cart 500ms server unset  http.status_code=500 (int)
//!   a2 frontend cart.get 400ms client
//!     a3 cart GetCart 350ms server error "db failed"
//!       a4 cart SELECT carts 300ms client error db.system=postgresql
//!          events: "exception" at +5ms (exception.type=PgError,
//!          exception.message="deadlock detected"), "retry" at +100ms (attempt=2)
//!       a5 cart cache.get 2ms internal ok cache.hit=false
//! B (+20 s) frontend GET /products 80ms server ok  http.status_code=200
//!   b2 frontend products.list 60ms client
//!     b3 products ListProducts 50ms server
//!       b4 products SELECT products 20ms client db.system=mysql
//!       b5 products SELECT prices 5ms client db.system=mysql
//! C (+30 s) checkout POST /checkout 1.5s server error  http.status_code="503" (string)
//!   c2 checkout charge 1.2s client error retries=3
//!      link to b1 (link.kind=follows_from)
//!   c3 checkout reserve 100ms client ok retries=1
//! E (+40 s) frontend GET /cart 120ms server ok
//!   e2 frontend cart.get 90ms client
//!     e3 cart GetCart 80ms server ok
//!       e4 cart SELECT carts 30ms client db.system=postgresql
//!       e5 cart SELECT carts 5ms client db.system=postgresql
//! D (+1 h 5 s) batch nightly 2s internal unset job.priority=1.5
//! ```
//! Resources: frontend, cart and products in `deployment.environment=prod`, checkout in
//! `staging`, batch without one. Every span's instrumentation scope is `corpus` 1; its
//! attributes: frontend `team=web`, `sampling.ratio=0.5` (double); cart `team=cart`,
//! `pool=4` (int); checkout `team=payments`, `beta=true`; products and batch none.

use std::sync::Arc;

use strata_engine::{
    AnyValue, Engine, EngineConfig, ManualClock, Scope, SpanEvent, SpanLink, SpanRecord, TenantId,
};

use crate::sql::SqlConfig;
use crate::traceql::{
    MetricSeries, MetricsParams, SearchParams, TraceMatch, metrics_range, parse, search,
};

/// 2025-01-01T00:00:00Z in ns.
pub(super) const T0: i64 = 1_735_689_600 * 1_000_000_000;
pub(super) const MS: i64 = 1_000_000;
pub(super) const S: i64 = 1_000_000_000;

/// Trace `t`'s id: 15 zero bytes and its letter.
pub(super) fn tid(t: char) -> [u8; 16] {
    let mut id = [0; 16];
    id[15] = t as u8;
    id
}

/// Span `n` of trace `t`: its letter, zeros, `n`.
pub(super) fn sid(t: char, n: u8) -> [u8; 8] {
    [t as u8, 0, 0, 0, 0, 0, 0, n]
}

fn s(v: &str) -> AnyValue {
    AnyValue::String(v.into())
}

fn resource(service: &str, env: Option<&str>) -> Arc<Vec<(String, AnyValue)>> {
    let mut r = vec![("service.name".to_owned(), s(service))];
    if let Some(e) = env {
        r.push(("deployment.environment".into(), s(e)));
    }
    Arc::new(r)
}

/// A span: trace `t`, number `n`, parent number, service, name, kind, start offset and
/// duration (ns), status, attributes.
#[allow(clippy::too_many_arguments)]
fn span(
    t: char,
    n: u8,
    parent: Option<u8>,
    service: &str,
    name: &str,
    kind: i32,
    start: i64,
    dur: i64,
    status: i32,
    attrs: Vec<(&str, AnyValue)>,
) -> SpanRecord {
    let env = match service {
        "checkout" => Some("staging"),
        "batch" => None,
        _ => Some("prod"),
    };
    SpanRecord {
        trace_id: tid(t),
        span_id: sid(t, n),
        parent_span_id: parent.map(|p| sid(t, p)),
        service_name: service.into(),
        name: name.into(),
        kind,
        start_ns: T0 + start,
        end_ns: T0 + start + dur,
        status_code: status,
        status_message: if status == 2 && t == 'a' {
            "db failed".into()
        } else {
            String::new()
        },
        attributes: attrs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
        resource_attributes: resource(service, env),
        scope: Arc::new(Scope {
            name: "corpus".into(),
            version: "1".into(),
            attributes: scope_attributes(service),
        }),
        ..SpanRecord::default()
    }
}

/// The attributes of the instrumentation scope of `service`'s spans.
fn scope_attributes(service: &str) -> Vec<(String, AnyValue)> {
    let list = match service {
        "frontend" => vec![
            ("team", s("web")),
            ("sampling.ratio", AnyValue::Double(0.5)),
        ],
        "cart" => vec![("team", s("cart")), ("pool", AnyValue::Int(4))],
        "checkout" => vec![("team", s("payments")), ("beta", AnyValue::Bool(true))],
        _ => vec![],
    };
    list.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

const SERVER: i32 = 2;
const CLIENT: i32 = 3;
const INTERNAL: i32 = 1;

/// The corpus's spans of tenant `acme`.
pub(super) fn spans() -> Vec<SpanRecord> {
    [trace_a(), trace_b(), trace_c(), trace_e(), trace_d()].concat()
}

/// The `http.request.method` attribute of a `GET`.
fn get() -> (&'static str, AnyValue) {
    ("http.request.method", s("GET"))
}

/// An event `at` after `start` (ns).
fn event(start: i64, at: i64, name: &str, attrs: Vec<(&str, AnyValue)>) -> SpanEvent {
    SpanEvent {
        time_ns: T0 + start + at,
        name: name.into(),
        attributes: attrs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
        ..SpanEvent::default()
    }
}

/// Trace A: a failing `GET /cart` through frontend and cart, with a database call (two
/// events) and a cache lookup.
fn trace_a() -> Vec<SpanRecord> {
    let mut spans = trace_a_spans();
    let a4 = &mut spans[3];
    let start = a4.start_ns - T0;
    a4.events = vec![
        event(
            start,
            5 * MS,
            "exception",
            vec![
                ("exception.type", s("PgError")),
                ("exception.message", s("deadlock detected")),
            ],
        ),
        event(
            start,
            100 * MS,
            "retry",
            vec![("attempt", AnyValue::Int(2))],
        ),
    ];
    spans
}

fn trace_a_spans() -> Vec<SpanRecord> {
    vec![
        span(
            'a',
            1,
            None,
            "frontend",
            "GET /cart",
            SERVER,
            10 * S,
            500 * MS,
            0,
            vec![
                get(),
                ("http.response.status_code", AnyValue::Int(500)),
                ("http.status_code", AnyValue::Int(500)),
            ],
        ),
        span(
            'a',
            2,
            Some(1),
            "frontend",
            "cart.get",
            CLIENT,
            10 * S + 10 * MS,
            400 * MS,
            0,
            vec![],
        ),
        span(
            'a',
            3,
            Some(2),
            "cart",
            "GetCart",
            SERVER,
            10 * S + 20 * MS,
            350 * MS,
            2,
            vec![("rpc.method", s("GetCart"))],
        ),
        span(
            'a',
            4,
            Some(3),
            "cart",
            "SELECT carts",
            CLIENT,
            10 * S + 30 * MS,
            300 * MS,
            2,
            vec![("db.system", s("postgresql"))],
        ),
        span(
            'a',
            5,
            Some(3),
            "cart",
            "cache.get",
            INTERNAL,
            10 * S + 35 * MS,
            2 * MS,
            1,
            vec![("cache.hit", AnyValue::Bool(false))],
        ),
    ]
}

/// Trace B: a successful `GET /products` through frontend and products, two MySQL calls.
fn trace_b() -> Vec<SpanRecord> {
    vec![
        span(
            'b',
            1,
            None,
            "frontend",
            "GET /products",
            SERVER,
            20 * S,
            80 * MS,
            1,
            vec![
                get(),
                ("http.response.status_code", AnyValue::Int(200)),
                ("http.status_code", AnyValue::Int(200)),
            ],
        ),
        span(
            'b',
            2,
            Some(1),
            "frontend",
            "products.list",
            CLIENT,
            20 * S + 5 * MS,
            60 * MS,
            0,
            vec![],
        ),
        span(
            'b',
            3,
            Some(2),
            "products",
            "ListProducts",
            SERVER,
            20 * S + 10 * MS,
            50 * MS,
            0,
            vec![("rpc.method", s("ListProducts"))],
        ),
        span(
            'b',
            4,
            Some(3),
            "products",
            "SELECT products",
            CLIENT,
            20 * S + 15 * MS,
            20 * MS,
            0,
            vec![("db.system", s("mysql"))],
        ),
        span(
            'b',
            5,
            Some(3),
            "products",
            "SELECT prices",
            CLIENT,
            20 * S + 40 * MS,
            5 * MS,
            0,
            vec![("db.system", s("mysql"))],
        ),
    ]
}

/// Trace C: a failing `POST /checkout` in the staging environment, its status code a
/// string, with a failing charge (linked to trace B's root) and a successful reservation.
fn trace_c() -> Vec<SpanRecord> {
    let mut spans = trace_c_spans();
    spans[1].links = vec![SpanLink {
        trace_id: tid('b'),
        span_id: sid('b', 1),
        attributes: vec![("kind".to_owned(), s("follows_from"))],
        ..SpanLink::default()
    }];
    spans
}

fn trace_c_spans() -> Vec<SpanRecord> {
    vec![
        span(
            'c',
            1,
            None,
            "checkout",
            "POST /checkout",
            SERVER,
            30 * S,
            1_500 * MS,
            2,
            vec![
                ("http.response.status_code", AnyValue::Int(503)),
                ("http.status_code", s("503")),
            ],
        ),
        span(
            'c',
            2,
            Some(1),
            "checkout",
            "charge",
            CLIENT,
            30 * S + 100 * MS,
            1_200 * MS,
            2,
            vec![
                ("peer.service", s("payments")),
                ("retries", AnyValue::Int(3)),
            ],
        ),
        span(
            'c',
            3,
            Some(1),
            "checkout",
            "reserve",
            CLIENT,
            30 * S + 200 * MS,
            100 * MS,
            1,
            vec![("retries", AnyValue::Int(1))],
        ),
    ]
}

/// Trace E: a successful `GET /cart`, shaped like trace A (kept in memory by [`Corpus`]).
fn trace_e() -> Vec<SpanRecord> {
    vec![
        span(
            'e',
            1,
            None,
            "frontend",
            "GET /cart",
            SERVER,
            40 * S,
            120 * MS,
            1,
            vec![get(), ("http.response.status_code", AnyValue::Int(200))],
        ),
        span(
            'e',
            2,
            Some(1),
            "frontend",
            "cart.get",
            CLIENT,
            40 * S + 10 * MS,
            90 * MS,
            0,
            vec![],
        ),
        span(
            'e',
            3,
            Some(2),
            "cart",
            "GetCart",
            SERVER,
            40 * S + 20 * MS,
            80 * MS,
            1,
            vec![],
        ),
        span(
            'e',
            4,
            Some(3),
            "cart",
            "SELECT carts",
            CLIENT,
            40 * S + 30 * MS,
            30 * MS,
            0,
            vec![("db.system", s("postgresql"))],
        ),
        span(
            'e',
            5,
            Some(3),
            "cart",
            "SELECT carts",
            CLIENT,
            40 * S + 70 * MS,
            5 * MS,
            0,
            vec![("db.system", s("postgresql"))],
        ),
    ]
}

/// Trace D: a nightly batch job an hour later, with no environment.
fn trace_d() -> Vec<SpanRecord> {
    vec![span(
        'd',
        1,
        None,
        "batch",
        "nightly",
        INTERNAL,
        3_600 * S + 5 * S,
        2 * S,
        0,
        vec![("job.priority", AnyValue::Double(1.5))],
    )]
}

/// An engine holding the corpus (trace E in memory, the rest flushed to files) and a
/// trace of tenant `other` that matches every query of `acme`'s suite that has a
/// `frontend` service.
pub(super) struct Corpus {
    _dir: tempfile::TempDir,
    pub(super) engine: Arc<Engine>,
    pub(super) acme: TenantId,
}

impl Corpus {
    pub(super) fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let clock = ManualClock::new((T0 + 3 * 3_600 * S) / MS);
        let engine = Arc::new(
            Engine::open_with_clock(dir.path(), EngineConfig::default(), clock).expect("open"),
        );
        let acme = TenantId::new("acme").expect("tenant");
        let other = TenantId::new("other").expect("tenant");
        let (in_memory, flushed): (Vec<_>, Vec<_>) =
            spans().into_iter().partition(|s| s.trace_id == tid('e'));
        engine.write_spans(&acme, &flushed).expect("write");
        let mut foreign = spans()
            .into_iter()
            .filter(|s| s.trace_id == tid('a'))
            .collect::<Vec<_>>();
        for s in &mut foreign {
            s.trace_id = tid('z');
        }
        engine.write_spans(&other, &foreign).expect("write other");
        engine.flush().expect("flush");
        engine.write_spans(&acme, &in_memory).expect("write memory");
        Self {
            _dir: dir,
            engine,
            acme,
        }
    }

    /// The matches of `query` over the corpus's two hours, limit 20, 10 spans per spanset.
    pub(super) async fn search(&self, query: &str) -> Vec<TraceMatch> {
        self.search_in(query, T0, T0 + 2 * 3_600 * S, 20).await
    }

    pub(super) async fn search_in(
        &self,
        query: &str,
        start_ns: i64,
        end_ns: i64,
        limit: usize,
    ) -> Vec<TraceMatch> {
        let q = parse(query).unwrap_or_else(|e| panic!("{query}: {e}"));
        let p = SearchParams {
            start_ns,
            end_ns,
            limit,
            spans_per_spanset: 10,
        };
        search(&self.engine, &self.acme, &SqlConfig::for_tests(), &q, &p)
            .await
            .unwrap_or_else(|e| panic!("{query}: {e}"))
    }

    /// The series of `query` on a 10 s grid over `[T0, T0 + 60 s]`.
    pub(super) async fn metrics(&self, query: &str) -> Vec<MetricSeries> {
        let q = parse(query).unwrap_or_else(|e| panic!("{query}: {e}"));
        let p = MetricsParams {
            start_ns: T0,
            end_ns: T0 + 60 * S,
            step_ns: 10 * S,
        };
        metrics_range(&self.engine, &self.acme, &SqlConfig::for_tests(), &q, &p)
            .await
            .unwrap_or_else(|e| panic!("{query}: {e}"))
    }
}

/// The traces of an answer, as their letters, in order.
pub(super) fn letters(found: &[TraceMatch]) -> String {
    found.iter().map(|m| char::from(m.trace_id[15])).collect()
}

/// The spans of each trace of an answer as `trace letter` + span numbers, spansets
/// separated by `/`: `a:34 e:345`.
pub(super) fn spans_of(found: &[TraceMatch]) -> String {
    found
        .iter()
        .map(|m| {
            let sets: Vec<String> = m
                .spansets
                .iter()
                .map(|set| set.spans.iter().map(|s| s.span_id[7].to_string()).collect())
                .collect();
            format!("{}:{}", char::from(m.trace_id[15]), sets.join("/"))
        })
        .collect::<Vec<_>>()
        .join(" ")
}
