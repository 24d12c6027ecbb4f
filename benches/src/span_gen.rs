//! Realistic OTLP traces for the span benchmarks (`bench-spans`): 8 services of a shop with
//! 3 pods each, 40 operations, traces of 5-30 spans with parent links (server spans calling
//! other services through client spans, database and internal spans), the usual semantic
//! convention attributes (`http.route`, `http.response.status_code`, `db.system`,
//! `rpc.method`, ...), ~2% errors with an `exception` event, and a `cache.miss` event on
//! ~10% of the other spans. Deterministic: a batch is a function of its seed.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, InstrumentationScope, KeyValue, any_value::Value,
};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, SpanKind};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, status};

/// One service: its name, the operations its server spans have (HTTP route or gRPC
/// method), and the database it uses.
pub struct Service {
    /// `service.name`.
    pub name: &'static str,
    /// Server operations: `(http method, route)`, or `("grpc", "pkg.Service/Method")`.
    pub ops: &'static [(&'static str, &'static str)],
    /// `db.system` of its database spans.
    pub db: &'static str,
}

/// The services. The first two are entry points (traces start there).
pub const SERVICES: [Service; 8] = [
    Service {
        name: "frontend",
        ops: &[
            ("GET", "/"),
            ("GET", "/product/{id}"),
            ("GET", "/cart"),
            ("POST", "/cart"),
            ("POST", "/checkout"),
            ("GET", "/search"),
        ],
        db: "redis",
    },
    Service {
        name: "api-gateway",
        ops: &[
            ("GET", "/api/v1/products"),
            ("GET", "/api/v1/products/{id}"),
            ("GET", "/api/v1/orders"),
            ("POST", "/api/v1/orders"),
            ("GET", "/api/v1/users/{id}"),
        ],
        db: "redis",
    },
    Service {
        name: "cart",
        ops: &[
            ("grpc", "shop.Cart/GetCart"),
            ("grpc", "shop.Cart/AddItem"),
            ("grpc", "shop.Cart/EmptyCart"),
        ],
        db: "redis",
    },
    Service {
        name: "checkout",
        ops: &[
            ("grpc", "shop.Checkout/PlaceOrder"),
            ("grpc", "shop.Checkout/GetQuote"),
        ],
        db: "postgresql",
    },
    Service {
        name: "payment",
        ops: &[
            ("grpc", "shop.Payment/Charge"),
            ("grpc", "shop.Payment/Refund"),
        ],
        db: "postgresql",
    },
    Service {
        name: "catalog",
        ops: &[
            ("GET", "/products"),
            ("GET", "/products/{id}"),
            ("GET", "/categories"),
            ("GET", "/search"),
        ],
        db: "postgresql",
    },
    Service {
        name: "users",
        ops: &[
            ("GET", "/users/{id}"),
            ("POST", "/users/login"),
            ("GET", "/users/{id}/addresses"),
        ],
        db: "mysql",
    },
    Service {
        name: "inventory",
        ops: &[
            ("grpc", "shop.Inventory/Reserve"),
            ("grpc", "shop.Inventory/Check"),
        ],
        db: "mongodb",
    },
];

const PODS: u64 = 3;
const DB_STATEMENTS: [(&str, &str, &str); 5] = [
    (
        "SELECT",
        "orders",
        "SELECT id, total, status FROM orders WHERE user_id = $1",
    ),
    (
        "SELECT",
        "products",
        "SELECT id, name, price FROM products WHERE id = $1",
    ),
    (
        "INSERT",
        "orders",
        "INSERT INTO orders (user_id, total) VALUES ($1, $2)",
    ),
    (
        "UPDATE",
        "stock",
        "UPDATE stock SET count = count - $1 WHERE sku = $2",
    ),
    ("GET", "session", "GET session:{id}"),
];

/// A small, fast, deterministic random source (xorshift64*).
pub struct Rng(u64);

impl Rng {
    /// A source seeded with `seed` (any value).
    pub fn new(seed: u64) -> Self {
        let mut r = Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        r.next_u64();
        r
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }

    /// `N` random bytes, not all zero.
    pub fn id<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        for chunk in out.chunks_mut(8) {
            let b = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&b[..chunk.len()]);
        }
        out[0] |= 1;
        out
    }
}

fn kv(key: &str, v: Value) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(v) }),
        ..Default::default()
    }
}

fn s(key: &str, v: impl Into<String>) -> KeyValue {
    kv(key, Value::StringValue(v.into()))
}

fn i(key: &str, v: i64) -> KeyValue {
    kv(key, Value::IntValue(v))
}

/// One generated span and the service (index into [`SERVICES`]) and pod that sent it.
pub struct GenSpan {
    /// Index into [`SERVICES`].
    pub service: usize,
    /// Pod of the service (0..3).
    pub pod: u64,
    /// The span.
    pub span: Span,
}

/// One generated trace.
pub struct GenTrace {
    /// Its id.
    pub trace_id: [u8; 16],
    /// Its root span's start (ns).
    pub start_ns: i64,
    /// Its spans, root first.
    pub spans: Vec<GenSpan>,
}

/// A server span's place: index in the trace's spans, service, nesting depth.
struct Server {
    at: usize,
    service: usize,
    depth: u32,
}

/// A trace of 5-30 spans whose root starts at `start_ns`.
pub fn trace(rng: &mut Rng, start_ns: i64) -> GenTrace {
    let trace_id = rng.id::<16>();
    let target = 5 + rng.below(26) as usize;
    let root_service = rng.below(2) as usize;
    // Root duration: 5 ms to ~1.3 s, skewed short.
    let dur = 5_000_000 + (rng.below(1_000) * rng.below(1_000) * 1_300) as i64;
    let mut t = GenTrace {
        trace_id,
        start_ns,
        spans: Vec::with_capacity(target + 1),
    };
    let root = server_span(rng, &mut t, root_service, None, start_ns, dur);
    let mut servers = vec![Server {
        at: root,
        service: root_service,
        depth: 0,
    }];
    while t.spans.len() < target {
        let p = &servers[rng.below(servers.len() as u64) as usize];
        let (parent_at, service, depth) = (p.at, p.service, p.depth);
        let (p_start, p_end) = {
            let ps = &t.spans[parent_at].span;
            (ps.start_time_unix_nano as i64, ps.end_time_unix_nano as i64)
        };
        let room = (p_end - p_start).max(2);
        let start = p_start + rng.below(room as u64 / 2) as i64;
        let dur = 1 + rng.below(((p_end - start) as u64).max(2)) as i64;
        let parent_id = t.spans[parent_at].span.span_id.clone();
        let roll = rng.below(100);
        if roll < 50 && depth < 4 {
            let callee = 2 + rng.below(SERVICES.len() as u64 - 2) as usize;
            let client = client_span(rng, &mut t, service, callee, parent_id, start, dur);
            let client_id = t.spans[client].span.span_id.clone();
            let lag = dur / 20;
            let at = server_span(
                rng,
                &mut t,
                callee,
                Some(client_id),
                start + lag,
                (dur - 2 * lag).max(1),
            );
            servers.push(Server {
                at,
                service: callee,
                depth: depth + 1,
            });
        } else if roll < 85 {
            db_span(rng, &mut t, service, parent_id, start, dur);
        } else {
            let span = Span {
                trace_id: trace_id.to_vec(),
                span_id: rng.id::<8>().to_vec(),
                parent_span_id: parent_id,
                name: ["render", "validate", "serialize", "compute-price"][rng.below(4) as usize]
                    .into(),
                kind: SpanKind::Internal as i32,
                start_time_unix_nano: start as u64,
                end_time_unix_nano: (start + dur) as u64,
                attributes: vec![
                    s("code.function", "handle"),
                    i("items", rng.below(20) as i64),
                ],
                ..Default::default()
            };
            push(rng, &mut t, service, span, false);
        }
    }
    t
}

/// Adds `span` for `service`, with a `cache.miss` event on ~10% of the spans (`error`
/// ones get an `exception` event instead).
fn push(rng: &mut Rng, t: &mut GenTrace, service: usize, mut span: Span, error: bool) -> usize {
    if error {
        span.status = Some(Status {
            code: status::StatusCode::Error as i32,
            message: "upstream failed".into(),
        });
        span.events.push(Event {
            time_unix_nano: span.end_time_unix_nano,
            name: "exception".into(),
            attributes: vec![
                s("exception.type", "io.grpc.StatusRuntimeException"),
                s("exception.message", "UNAVAILABLE: connection reset by peer"),
            ],
            dropped_attributes_count: 0,
        });
    } else if rng.chance(0.1) {
        span.events.push(Event {
            time_unix_nano: span.start_time_unix_nano + 1_000,
            name: "cache.miss".into(),
            attributes: vec![s("cache.key", format!("k{}", rng.below(10_000)))],
            dropped_attributes_count: 0,
        });
    }
    let pod = rng.below(PODS);
    t.spans.push(GenSpan { service, pod, span });
    t.spans.len() - 1
}

fn server_span(
    rng: &mut Rng,
    t: &mut GenTrace,
    service: usize,
    parent: Option<Vec<u8>>,
    start: i64,
    dur: i64,
) -> usize {
    let svc = &SERVICES[service];
    let (method, route) = svc.ops[rng.below(svc.ops.len() as u64) as usize];
    let error = rng.chance(0.02);
    let (name, attributes) = if method == "grpc" {
        let (rpc_service, rpc_method) = route.split_once('/').unwrap_or((route, ""));
        let attrs = vec![
            s("rpc.system", "grpc"),
            s("rpc.service", rpc_service),
            s("rpc.method", rpc_method),
            i("rpc.grpc.status_code", if error { 14 } else { 0 }),
            s("server.address", format!("{}.shop.svc", svc.name)),
            i("server.port", 50051),
        ];
        (route.to_owned(), attrs)
    } else {
        let path = route.replace("{id}", &rng.below(100_000).to_string());
        let attrs = vec![
            s("http.request.method", method),
            s("http.route", route),
            s("url.path", path),
            s("url.scheme", "http"),
            i("http.response.status_code", if error { 500 } else { 200 }),
            s("network.protocol.version", "1.1"),
            s("server.address", format!("{}.shop.svc", svc.name)),
            i("server.port", 8080),
            s(
                "client.address",
                format!("10.0.{}.{}", rng.below(4), rng.below(255)),
            ),
            s(
                "user_agent.original",
                "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0",
            ),
        ];
        (format!("{method} {route}"), attrs)
    };
    let span = Span {
        trace_id: t.trace_id.to_vec(),
        span_id: rng.id::<8>().to_vec(),
        parent_span_id: parent.unwrap_or_default(),
        name,
        kind: SpanKind::Server as i32,
        start_time_unix_nano: start as u64,
        end_time_unix_nano: (start + dur) as u64,
        attributes,
        flags: 0x101,
        ..Default::default()
    };
    push(rng, t, service, span, error)
}

#[allow(clippy::too_many_arguments)]
fn client_span(
    rng: &mut Rng,
    t: &mut GenTrace,
    service: usize,
    callee: usize,
    parent: Vec<u8>,
    start: i64,
    dur: i64,
) -> usize {
    let target = &SERVICES[callee];
    let (method, route) = target.ops[rng.below(target.ops.len() as u64) as usize];
    let (name, attributes) = if method == "grpc" {
        let (rpc_service, rpc_method) = route.split_once('/').unwrap_or((route, ""));
        let attrs = vec![
            s("rpc.system", "grpc"),
            s("rpc.service", rpc_service),
            s("rpc.method", rpc_method),
            s("server.address", format!("{}.shop.svc", target.name)),
            i("server.port", 50051),
        ];
        (route.to_owned(), attrs)
    } else {
        let path = route.replace("{id}", &rng.below(100_000).to_string());
        let attrs = vec![
            s("http.request.method", method),
            s(
                "url.full",
                format!("http://{}.shop.svc:8080{path}", target.name),
            ),
            s("server.address", format!("{}.shop.svc", target.name)),
            i("server.port", 8080),
            i("http.response.status_code", 200),
        ];
        (method.to_owned(), attrs)
    };
    let span = Span {
        trace_id: t.trace_id.to_vec(),
        span_id: rng.id::<8>().to_vec(),
        parent_span_id: parent,
        name,
        kind: SpanKind::Client as i32,
        start_time_unix_nano: start as u64,
        end_time_unix_nano: (start + dur) as u64,
        attributes,
        flags: 0x101,
        ..Default::default()
    };
    push(rng, t, service, span, false)
}

fn db_span(rng: &mut Rng, t: &mut GenTrace, service: usize, parent: Vec<u8>, start: i64, dur: i64) {
    let system = SERVICES[service].db;
    let (op, table, statement) = DB_STATEMENTS[rng.below(DB_STATEMENTS.len() as u64) as usize];
    let span = Span {
        trace_id: t.trace_id.to_vec(),
        span_id: rng.id::<8>().to_vec(),
        parent_span_id: parent,
        name: format!("{op} {table}"),
        kind: SpanKind::Client as i32,
        start_time_unix_nano: start as u64,
        end_time_unix_nano: (start + dur) as u64,
        attributes: vec![
            s("db.system", system),
            s("db.namespace", "shop"),
            s("db.operation.name", op),
            s("db.collection.name", table),
            s("db.query.text", statement),
            s("server.address", format!("{system}.shop.svc")),
        ],
        flags: 0x101,
        ..Default::default()
    };
    push(rng, t, service, span, false);
}

fn resource(service: usize, pod: u64) -> Resource {
    let name = SERVICES[service].name;
    Resource {
        attributes: vec![
            s("service.name", name),
            s("service.version", "2.14.1"),
            s("service.namespace", "shop"),
            s("service.instance.id", format!("{name}-7d9f8b6c4-{pod}")),
            s("host.name", format!("node-{}", (service as u64 + pod) % 5)),
            s("k8s.namespace.name", "shop"),
            s("k8s.pod.name", format!("{name}-7d9f8b6c4-{pod}")),
            s("deployment.environment.name", "production"),
            s("telemetry.sdk.name", "opentelemetry"),
            s("telemetry.sdk.language", "rust"),
            s("telemetry.sdk.version", "0.31.0"),
        ],
        ..Default::default()
    }
}

/// One request holding `traces`: one `ResourceSpans` per (service, pod), one scope each,
/// as an SDK's batch exporter (through a collector) sends them.
pub fn request(traces: Vec<GenTrace>) -> ExportTraceServiceRequest {
    let mut groups: Vec<((usize, u64), Vec<Span>)> = Vec::new();
    for t in traces {
        for g in t.spans {
            let key = (g.service, g.pod);
            match groups.iter_mut().find(|(k, _)| *k == key) {
                Some((_, v)) => v.push(g.span),
                None => groups.push((key, vec![g.span])),
            }
        }
    }
    ExportTraceServiceRequest {
        resource_spans: groups
            .into_iter()
            .map(|((service, pod), spans)| ResourceSpans {
                resource: Some(resource(service, pod)),
                scope_spans: vec![ScopeSpans {
                    scope: Some(InstrumentationScope {
                        name: "opentelemetry-instrumentation".into(),
                        version: "0.31.0".into(),
                        ..Default::default()
                    }),
                    spans,
                    ..Default::default()
                }],
                ..Default::default()
            })
            .collect(),
    }
}

/// One log record per span of `traces`, under the same resources and scopes: the span's
/// end time, `INFO`, a text body naming the span and its duration, the span's attributes
/// and ids (the logs load of `otlp_decode` and `log_flush`).
pub fn logs_request(traces: &ExportTraceServiceRequest) -> ExportLogsServiceRequest {
    let resource_logs = traces
        .resource_spans
        .iter()
        .map(|rs| ResourceLogs {
            resource: rs.resource.clone(),
            scope_logs: rs
                .scope_spans
                .iter()
                .map(|ss| ScopeLogs {
                    scope: ss.scope.clone(),
                    log_records: ss
                        .spans
                        .iter()
                        .map(|s| LogRecord {
                            time_unix_nano: s.end_time_unix_nano,
                            observed_time_unix_nano: s.end_time_unix_nano + 1_000,
                            severity_number: 9,
                            severity_text: "INFO".into(),
                            body: Some(AnyValue {
                                value: Some(Value::StringValue(format!(
                                    "{} finished in {} ns",
                                    s.name,
                                    s.end_time_unix_nano - s.start_time_unix_nano
                                ))),
                            }),
                            attributes: s.attributes.clone(),
                            trace_id: s.trace_id.clone(),
                            span_id: s.span_id.clone(),
                            flags: 1,
                            ..Default::default()
                        })
                        .collect(),
                    schema_url: String::new(),
                })
                .collect(),
            schema_url: String::new(),
        })
        .collect();
    ExportLogsServiceRequest { resource_logs }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traces_have_5_to_30_linked_spans_inside_their_root() {
        let mut rng = Rng::new(7);
        for k in 0..200 {
            let t = trace(&mut rng, 1_000_000_000 * k);
            assert!((5..=31).contains(&t.spans.len()), "{}", t.spans.len());
            let root = &t.spans[0].span;
            assert!(root.parent_span_id.is_empty());
            let ids: Vec<&Vec<u8>> = t.spans.iter().map(|g| &g.span.span_id).collect();
            for g in &t.spans[1..] {
                assert!(ids.contains(&&g.span.parent_span_id));
                assert!(g.span.start_time_unix_nano >= root.start_time_unix_nano);
                assert!(g.span.end_time_unix_nano <= root.end_time_unix_nano);
                assert_eq!(g.span.trace_id, t.trace_id.to_vec());
            }
        }
        // Same seed, same trace.
        let a = trace(&mut Rng::new(1), 5);
        let b = trace(&mut Rng::new(1), 5);
        assert_eq!(a.trace_id, b.trace_id);
        let n = a.spans.len();
        let req = request(vec![a]);
        let spans: usize = req
            .resource_spans
            .iter()
            .map(|r| r.scope_spans[0].spans.len())
            .sum();
        assert_eq!(spans, n);
    }
}
