//! Compression bombs against the real router and gRPC services, in this process, under a
//! counting global allocator: what one rejected bomb costs in memory (its peak extra
//! allocation) must stay within `server.max_body_bytes` + 10 % (+ [`ALLOWANCE`]), for
//! OTLP/HTTP gzip, OTLP/gRPC gzip and remote-write snappy, and twelve at once within the
//! ingest memory budget. Nothing of a bomb is stored.
//!
//! The allocator counts a `realloc` as holding the old and the new block at once, as
//! mimalloc (the binary's allocator) does for large blocks, which it copies: a buffer grown
//! by doubling up to the limit peaks at 1.5x the limit here, as it did in the server.
//!
//! The scenarios run one at a time (they share the allocator's counters).
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use strata_engine::{Engine, MatchOp, Matcher, TenantId};
use strata_server::{AppState, Auth, Config};
use strata_tests::http::{Framing, Response, request};

/// Live heap bytes, and the most they have been since [`reset_peak`].
static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

struct Counting;

fn grew(n: usize) {
    let now = CURRENT.fetch_add(n, Ordering::Relaxed) + n;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

fn shrank(n: usize) {
    CURRENT.fetch_sub(n, Ordering::Relaxed);
}

// Safety: every method forwards to `System` with the caller's arguments, and only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // Safety: the caller's contract is `System.alloc`'s.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // Safety: as `alloc`.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // Safety: as `alloc`.
        unsafe { System.dealloc(ptr, layout) };
        shrank(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // The new block counted while the old one still lives, as a copying allocator has.
        grew(new_size);
        // Safety: as `alloc`.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if p.is_null() {
            shrank(new_size);
        } else {
            shrank(layout.size());
        }
        p
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Live bytes now; the peak starts again from here.
fn reset_peak() -> usize {
    let now = CURRENT.load(Ordering::Relaxed);
    PEAK.store(now, Ordering::Relaxed);
    now
}

/// The most live bytes since `base` was taken by [`reset_peak`], above it.
fn peak_since(base: usize) -> usize {
    PEAK.load(Ordering::Relaxed).saturating_sub(base)
}

/// One scenario at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(PoisonError::into_inner)
}

/// `server.max_body_bytes` in these tests.
const LIMIT: usize = 4 << 20;

/// What a request costs besides its decompressed body, allowed on top of the limit + 10 %:
/// the compressed body as read (≤ 70 KB for the bombs here), hyper's or h2's buffers, the
/// inflater's state and window (~50 KB), its 64 KiB counting buffer, the response, and the
/// test client's own buffers (it runs in this process). Measured at ~0.2 MiB; well under
/// the 2 MiB (0.5x the limit) a buffer grown by doubling to the limit costs on top of it.
const ALLOWANCE: usize = 512 << 10;

/// A running server: HTTP and gRPC listeners on loopback, the engine in a temporary
/// directory.
struct Server {
    http: SocketAddr,
    grpc: SocketAddr,
    state: AppState,
    runtime: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
}

impl Server {
    /// With `workers` runtime threads (each can inflate a body), and an ingest budget.
    fn start_with(workers: usize, max_inflight_bytes: usize) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let toml = format!(
            "data_dir = {:?}\n[server]\nmax_body_bytes = {LIMIT}\nmax_inflight_bytes = {max_inflight_bytes}\n",
            dir.path().join("data")
        );
        let config = Config::from_toml(&toml).expect("config");
        let state = AppState::new(Auth::new(&config.tokens).expect("auth"), &config);
        let engine = Engine::open(&config.data_dir, config.engine.clone()).expect("engine");
        state.set_engine(Arc::new(engine));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .enable_all()
            .build()
            .expect("runtime");
        let (http, grpc) = runtime.block_on(async {
            let http = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let grpc = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let addrs = (
                http.local_addr().expect("addr"),
                grpc.local_addr().expect("addr"),
            );
            let router = strata_server::http_router(state.clone());
            tokio::spawn(async move { axum::serve(http, router).await });
            let routes = strata_server::grpc_routes(&state);
            tokio::spawn(
                tonic::transport::Server::builder()
                    .add_routes(routes)
                    .serve_with_incoming(tonic::transport::server::TcpIncoming::from(grpc)),
            );
            addrs
        });
        Self {
            http,
            grpc,
            state,
            runtime,
            _dir: dir,
        }
    }

    fn start(max_inflight_bytes: usize) -> Self {
        Self::start_with(2, max_inflight_bytes)
    }

    fn post(&self, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
        request(self.http, "POST", path, headers, body, Framing::Length).expect("request")
    }

    /// Series stored for the default tenant.
    fn stored_series(&self) -> usize {
        let engine = self.state.engine().expect("engine");
        let all = Matcher::new("__name__", MatchOp::Regex, ".+").expect("matcher");
        let tenant = TenantId::new(TenantId::DEFAULT).expect("tenant");
        engine
            .select(&tenant, &[all], i64::MIN / 2, i64::MAX / 2)
            .expect("select")
            .len()
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut enc, bytes).expect("gzip");
    enc.finish().expect("gzip")
}

/// `members` gzip members of 1 MiB of zeros each (~1 KiB each on the wire), which a gzip
/// body may concatenate: the last trailer declares 1 MiB.
fn gzip_bomb(members: usize) -> Vec<u8> {
    gzip(&vec![0u8; 1 << 20]).repeat(members)
}

/// `bomb` with its trailer lying that it inflates to `len` bytes (never checked: the
/// server gives up at the limit, long before the end).
fn lying(mut bomb: Vec<u8>, len: usize) -> Vec<u8> {
    let n = bomb.len();
    bomb[n - 4..].copy_from_slice(&u32::try_from(len).expect("u32").to_le_bytes());
    bomb
}

const PROTOBUF: (&str, &str) = ("Content-Type", "application/x-protobuf");

/// The peak extra allocation one rejected bomb may cost.
fn bound() -> usize {
    LIMIT + LIMIT / 10 + ALLOWANCE
}

fn assert_413(resp: &Response, what: &str) {
    assert_eq!(resp.status, 413, "{what}: {}", resp.text());
    assert!(
        resp.text().contains("server.max_body_bytes"),
        "{what}: the message names the limit: {}",
        resp.text()
    );
}

#[test]
fn an_otlp_http_gzip_bomb_costs_at_most_the_body_limit() {
    let _serial = serial();
    let server = Server::start(256 << 20);
    // 64 MiB in ~66 KB: the last trailer declares 1 MiB (the first buffer), the true size is
    // found by inflating; the same with the trailer claiming the whole limit (the largest
    // first buffer); a single member whose trailer honestly declares 8 MiB.
    let bombs = [
        ("multi-member", gzip_bomb(64)),
        ("trailer at the limit", lying(gzip_bomb(64), LIMIT)),
        (
            "trailer just under the limit",
            lying(gzip_bomb(64), LIMIT - 1),
        ),
        ("single member", gzip(&vec![0u8; 2 * LIMIT])),
    ];
    for (what, bomb) in &bombs {
        assert!(bomb.len() < 100_000, "{what}: {} bytes", bomb.len());
        let base = reset_peak();
        let resp = server.post(
            "/v1/metrics",
            &[PROTOBUF, ("Content-Encoding", "gzip")],
            bomb,
        );
        let peak = peak_since(base);
        eprintln!("{what}: peak extra allocation {peak} bytes (limit {LIMIT})");
        assert!(
            peak <= bound(),
            "{what}: peak extra allocation {peak} bytes, over {} (limit {LIMIT})",
            bound()
        );
        assert_413(&resp, what);
    }
    assert_eq!(server.stored_series(), 0);
}

#[test]
fn twelve_concurrent_gzip_bombs_stay_within_the_ingest_budget() {
    let _serial = serial();
    let bomb = lying(gzip_bomb(64), LIMIT);
    // Room for two bombs at their real cost, not for three.
    let one = strata_server::inflight::request_cost(bomb.len() as u64, LIMIT as u64, true, 0);
    let budget = (2 * one + one / 2) as usize;
    // More workers than the budget has room for: the budget must hold, not the runtime.
    let server = Server::start_with(6, budget);
    let base = reset_peak();
    let answers: Vec<Response> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..12)
            .map(|_| {
                s.spawn(|| {
                    server.post(
                        "/v1/metrics",
                        &[PROTOBUF, ("Content-Encoding", "gzip")],
                        &bomb,
                    )
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("client thread"))
            .collect()
    });
    let peak = peak_since(base);
    eprintln!("twelve bombs: peak extra allocation {peak} bytes (limit {LIMIT}, budget {budget})");
    for resp in &answers {
        // 503 only if a bomb waited past the admission wait for the two ahead of it.
        assert!(
            resp.status == 413 || resp.status == 503,
            "{}: {}",
            resp.status,
            resp.text()
        );
    }
    assert!(answers.iter().any(|r| r.status == 413));
    let most = 2 * (LIMIT + LIMIT / 10) + 12 * ALLOWANCE;
    assert!(
        peak <= most,
        "twelve bombs at once: peak extra allocation {peak} bytes, over {most}"
    );
    assert_eq!(server.stored_series(), 0);
}

#[test]
fn a_remote_write_snappy_bomb_costs_at_most_the_body_limit() {
    let _serial = serial();
    let server = Server::start(256 << 20);
    let headers = [PROTOBUF, ("Content-Encoding", "snappy")];
    // Declared over the limit, by the real thing and by a few bytes claiming 1 GiB:
    // refused from the header, nothing inflated.
    let real = snap::raw::Encoder::new()
        .compress_vec(&vec![0u8; 2 * LIMIT])
        .expect("snappy");
    let mut claim = vec![0x80, 0x80, 0x80, 0x80, 0x04]; // varint 1 << 30
    claim.extend_from_slice(&[0u8; 64]);
    for (what, over) in [("snappy over the limit", &real), ("1 GiB claimed", &claim)] {
        let base = reset_peak();
        let resp = server.post("/api/v1/write", &headers, over);
        let peak = peak_since(base);
        assert_413(&resp, what);
        // The body as read, and hyper's read buffers (each up to ~400 KiB and at most the
        // body; two while a frame of the old one is still referenced).
        let most = 3 * over.len() + ALLOWANCE;
        assert!(
            peak <= most,
            "{what}: peak extra allocation {peak} bytes, over {most}"
        );
        eprintln!("{what}: peak extra allocation {peak} bytes");
    }
    // Exactly at the limit: inflated (into one buffer of the declared size), then refused
    // as the garbage it is.
    let at = snap::raw::Encoder::new()
        .compress_vec(&vec![0u8; LIMIT])
        .expect("snappy");
    let base = reset_peak();
    let resp = server.post("/api/v1/write", &headers, &at);
    let peak = peak_since(base);
    assert_eq!(resp.status, 400, "{}", resp.text());
    assert!(
        peak <= bound() + at.len(),
        "snappy at the limit: peak extra allocation {peak} bytes, over {}",
        bound() + at.len()
    );
    eprintln!("snappy at the limit: peak extra allocation {peak} bytes (limit {LIMIT})");
    assert_eq!(server.stored_series(), 0);
}

#[test]
fn compressed_bodies_without_a_decoder_are_refused_unread() {
    let _serial = serial();
    let server = Server::start(256 << 20);
    let body = vec![0u8; 64 << 10];
    for enc in ["zstd", "br", "deflate", "snappy"] {
        let resp = server.post("/v1/metrics", &[PROTOBUF, ("Content-Encoding", enc)], &body);
        assert_eq!(resp.status, 415, "{enc}: {}", resp.text());
    }
    let (status, message) = server
        .runtime
        .block_on(grpc_export(server.grpc, "zstd", &body));
    assert_eq!(status, "12", "zstd over gRPC is UNIMPLEMENTED: {message}");
}

/// One OTLP/gRPC metrics Export of `payload` as a compressed message under
/// `grpc-encoding: encoding`, as raw HTTP/2 (our tonic client has no compression);
/// returns the `grpc-status` and `grpc-message`.
async fn grpc_export(addr: SocketAddr, encoding: &str, payload: &[u8]) -> (String, String) {
    use http_body_util::BodyExt;
    use tonic::codegen::Service;

    let mut framed = vec![1u8];
    framed.extend_from_slice(&u32::try_from(payload.len()).expect("u32").to_be_bytes());
    framed.extend_from_slice(payload);
    let mut channel = tonic::transport::Channel::from_shared(format!("http://{addr}"))
        .expect("uri")
        .connect()
        .await
        .expect("connect");
    let req = tonic::codegen::http::Request::builder()
        .method("POST")
        .uri(format!(
            "http://{addr}/opentelemetry.proto.collector.metrics.v1.MetricsService/Export"
        ))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .header("grpc-encoding", encoding)
        .body(tonic::body::Body::new(http_body_util::Full::new(
            prost::bytes::Bytes::from(framed),
        )))
        .expect("request");
    std::future::poll_fn(|cx| channel.poll_ready(cx))
        .await
        .expect("ready");
    let resp = channel.call(req).await.expect("HTTP/2 exchange");
    let headers = resp.headers().clone();
    let collected = resp.into_body().collect().await.expect("response body");
    let trailers = collected.trailers().cloned().unwrap_or_default();
    let field = |name: &str| {
        trailers
            .get(name)
            .or_else(|| headers.get(name))
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    (
        field("grpc-status"),
        percent_decoded(&field("grpc-message")),
    )
}

/// A `grpc-message` as text (it is percent-encoded on the wire).
fn percent_decoded(s: &str) -> String {
    let mut out = Vec::new();
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        if b == b'%' {
            let hex: String = bytes.by_ref().take(2).map(char::from).collect();
            out.push(u8::from_str_radix(&hex, 16).unwrap_or(b'?'));
        } else {
            out.push(b);
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn an_otlp_grpc_gzip_bomb_costs_at_most_the_body_limit() {
    let _serial = serial();
    let server = Server::start(256 << 20);
    let bombs = [
        ("multi-member", gzip_bomb(64)),
        ("trailer at the limit", lying(gzip_bomb(64), LIMIT)),
    ];
    for (what, bomb) in &bombs {
        let base = reset_peak();
        let (status, message) = server
            .runtime
            .block_on(grpc_export(server.grpc, "gzip", bomb));
        let peak = peak_since(base);
        eprintln!("gRPC {what}: peak extra allocation {peak} bytes (limit {LIMIT})");
        assert!(
            peak <= bound(),
            "{what}: peak extra allocation {peak} bytes, over {} (limit {LIMIT})",
            bound()
        );
        assert_eq!(status, "8", "{what}: RESOURCE_EXHAUSTED: {message}");
        assert!(
            message.contains("server.max_body_bytes"),
            "{what}: {message}"
        );
    }
    assert_eq!(server.stored_series(), 0);
}

/// A gzip message within the limit costs over gRPC what the same body costs over HTTP:
/// the inflated message is held once (tonic, which copies what it decodes into its own
/// buffer, decodes an empty message in its place). It was 9.5 MB against 4.7.
#[test]
fn a_grpc_message_is_held_once_as_over_http() {
    let _serial = serial();
    let server = Server::start(256 << 20);
    // 3 MiB of zeros: within the limit, then refused as invalid protobuf.
    let body = gzip(&vec![0u8; 3 << 20]);
    let base = reset_peak();
    let resp = server.post(
        "/v1/metrics",
        &[PROTOBUF, ("Content-Encoding", "gzip")],
        &body,
    );
    let http = peak_since(base);
    assert_eq!(resp.status, 400, "{}", resp.text());
    let base = reset_peak();
    let (status, message) = server
        .runtime
        .block_on(grpc_export(server.grpc, "gzip", &body));
    let grpc = peak_since(base);
    assert_eq!(status, "3", "INVALID_ARGUMENT: {message}");
    eprintln!("3 MiB inflated: peak extra allocation {http} bytes over HTTP, {grpc} over gRPC");
    assert!(
        grpc <= http + ALLOWANCE,
        "gRPC {grpc} bytes, HTTP {http} bytes"
    );
}
