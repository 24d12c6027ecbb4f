//! `strata serve`: bind both listeners, open the engine on a blocking thread (the server
//! answers `/live` at once and `/ready` once recovery is done), serve until SIGTERM or
//! SIGINT, then stop accepting, finish in-flight requests and close the engine (flush).
//! With `[server.tls]` both listeners speak TLS only (`crate::tls`).

use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::serve::ListenerExt as _;
use strata_engine::Engine;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::server::TcpIncoming;
use tracing::{debug, error, info, warn};

use crate::auth::Auth;
use crate::auth::cluster::TaskCheck;
use crate::config::{Config, Role};
use crate::error::{Error, Result};
use crate::ingest::otlp::grpc;
use crate::router;
use crate::rules::Rules;
use crate::runtime::state::AppState;
use crate::scrape::Scraper;
use crate::tls::Tls;

/// How long shutdown waits for writes whose clients went away to release the engine.
const RELEASE_WAIT: Duration = Duration::from_secs(30);

/// How long, after the stop signal, the listeners wait for their connections to finish
/// in-flight requests and close. Past it the connections are dropped: a graceful HTTP/2
/// close needs the client to answer a ping, and a client that does not (hung, partitioned,
/// or a single-threaded runtime busy elsewhere) would otherwise keep the server from exiting.
const DRAIN_WAIT: Duration = Duration::from_secs(10);

/// Sets SQL's spill directory, `<data_dir>/spill`, emptied first (a crash leaves files
/// there), unless `sql.max_spill_bytes` is 0. A query process over a bucket spills there
/// too: its data directory is its cache.
fn spill_to(config: &mut Config) -> Result<()> {
    if config.sql.max_spill_bytes == 0 {
        return Ok(());
    }
    let dir = config.data_dir.join("spill");
    if dir.exists() {
        std::fs::remove_dir_all(&dir).map_err(|e| {
            Error::Server(format!(
                "cannot empty the spill directory {}: {e}",
                dir.display()
            ))
        })?;
    }
    let pool = config.sql.query.memory.clone();
    config.sql.query.memory = pool
        .spilling_to(&dir, config.sql.max_spill_bytes)
        .map_err(|e| {
            Error::Server(format!(
                "cannot make the spill directory {}: {e}",
                dir.display()
            ))
        })?;
    Ok(())
}

/// Runs the server until a signal stops it.
pub fn run(config: Config) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("strata-rt")
        .build()
        .map_err(|e| Error::Server(format!("cannot start the tokio runtime: {e}")))?;
    runtime.block_on(serve(config))
}

async fn bind(addr: SocketAddr, what: &'static str) -> Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| Error::Bind { addr, what, source })
}

async fn serve(mut config: Config) -> Result<()> {
    let auth = Auth::new(&config.tokens)?;
    for line in config.memory.describe().lines() {
        info!("{}", line.trim_start());
    }
    spill_to(&mut config)?;
    let tls = load_tls(&config)?;
    // Handlers first, so a SIGTERM right after the address line is a clean shutdown.
    let term = signals()?;
    let http_listener = bind(config.http_addr, "http").await?;
    let grpc_listener = bind(config.grpc_addr, "grpc").await?;
    let http_addr = local(&http_listener, config.http_addr);
    let grpc_addr = local(&grpc_listener, config.grpc_addr);
    warn_if_exposed([http_addr, grpc_addr], &auth, tls.is_some());
    // The one line on stdout: where we listen (ports may have been chosen by the OS).
    let mut stdout = std::io::stdout();
    let _ = writeln!(stdout, "strata listening http={http_addr} grpc={grpc_addr}");
    let _ = stdout.flush();
    info!(%http_addr, %grpc_addr, data_dir = %config.data_dir.display(), auth = auth.enabled(), tls = tls.is_some(), "listening; opening the engine");

    let state = AppState::new(auth, &config);
    if let Err(e) = state.watch_pressure() {
        warn!(error = %e, "cannot start the memory pressure watch");
    }
    set_relabeling(&state, &config)?;
    let rules = start_rules(&state, &config).await?;
    let scraper = start_scraper(&state, &config).await?;
    let derived = start_derive(&state, &config);
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(on_signal(term, stop_tx.clone()));
    tokio::spawn(sample_history(state.clone(), stop_rx.clone()));
    if rules.is_some() || scraper.is_some() {
        tokio::spawn(on_hangup(hangup()?, rules.clone(), scraper.clone()));
    }
    let opener = open_engine(state.clone(), &config, stop_tx);

    let mut app = router::router(state.clone());
    if let Some(rules) = &rules {
        app = app.layer(axum::Extension(rules.clone()));
    }
    if let Some(scraper) = &scraper {
        app = app.layer(axum::Extension(scraper.clone()));
    }
    let http_server = serve_http(http_listener, app, tls.as_ref(), &stop_rx)?;
    let grpc_server = serve_grpc(
        grpc_listener,
        grpc_addr,
        &state,
        &config,
        tls.as_ref(),
        &stop_rx,
    )?;
    let (http_result, grpc_result) = tokio::join!(
        drained(http_server, stop_rx.clone(), "http"),
        drained(grpc_server, stop_rx.clone(), "grpc"),
    );
    info!("listeners closed, in-flight requests finished");
    if let Some(scraper) = &scraper {
        scraper.stop().await;
    }
    if let Some(rules) = &rules {
        rules.stop().await;
    }
    if let Some(derived) = derived {
        derived.stop().await;
    }
    let opened = opener
        .await
        .map_err(|e| Error::Server(format!("engine open task failed: {e}")))?;
    let closed = close_engine(&state, &config).await;
    http_result.map_err(|e| Error::Server(format!("http server: {e}")))?;
    grpc_result.map_err(|e| Error::Server(format!("grpc server: {e}")))?;
    opened?;
    closed
}

/// `[server.tls]`'s certificate and key, made first when `self_signed` asks for them.
fn load_tls(config: &Config) -> Result<Option<Tls>> {
    let Some(files) = &config.tls else {
        return Ok(None);
    };
    let tls_err = |e: crate::tls::TlsError| Error::config("server.tls", e.to_string());
    let files = if files.self_signed {
        let addrs = [config.http_addr, config.grpc_addr];
        crate::tls::self_signed::files(files, &config.data_dir, &addrs).map_err(tls_err)?
    } else {
        files.clone()
    };
    Ok(Some(Tls::load(&files).map_err(tls_err)?))
}

/// Warns of each listener off loopback that serves without auth, or sends tokens in clear.
fn warn_if_exposed(addrs: [SocketAddr; 2], auth: &Auth, tls: bool) {
    for addr in addrs {
        if addr.ip().is_loopback() {
            continue;
        }
        if !auth.enabled() {
            warn!(
                %addr,
                "auth is OFF and this listener is not on loopback: anyone who can reach it can read and write every tenant; configure [[auth.tokens]]"
            );
        } else if !tls {
            warn!(
                %addr,
                "this listener is not on loopback and speaks plaintext: bearer tokens cross the network in clear; configure [server.tls]"
            );
        }
    }
}

/// Compiles the `[relabel]` rules (with the hash key, made if needed) into `state`.
fn set_relabeling(state: &AppState, config: &Config) -> Result<()> {
    if config.relabel.is_empty() {
        return Ok(());
    }
    let key = if config.relabel.hashes() {
        crate::relabel::key::load_or_create(
            config.relabel.hash_key_file.as_deref(),
            &config.data_dir,
        )
        .map_err(|e| Error::config("relabel.hash_key_file", e.to_string()))?
    } else {
        Vec::new()
    };
    let rules = crate::relabel::Relabeling::compile(&config.relabel, &key)
        .map_err(|e| Error::config("relabel", e.to_string()))?;
    state.set_relabeling(Arc::new(rules));
    Ok(())
}

/// Starts the rules on the writer: their results are writes. Files are checked before the
/// engine opens, so a bad rule file stops the start at once.
async fn start_rules(state: &AppState, config: &Config) -> Result<Option<Rules>> {
    Ok(match config.role {
        Role::Writer => Some(
            Rules::start(state.clone(), config.rules.clone())
                .await
                .map_err(|e| Error::config("rules", e.to_string()))?,
        ),
        Role::Query | Role::Worker => None,
    })
}

/// Starts the scraper on the writer when `[scrape]` names files: scraped samples are
/// writes. The files are checked here, so a bad one stops the start at once.
async fn start_scraper(state: &AppState, config: &Config) -> Result<Option<Scraper>> {
    if config.role != Role::Writer || config.scrape.tenants.is_empty() {
        return Ok(None);
    }
    Scraper::start(state.clone(), config.scrape.clone())
        .await
        .map(Some)
        .map_err(|e| Error::config("scrape", e.to_string()))
}

/// Starts RED metrics and the service graph from spans: on the writer, which takes the spans.
fn start_derive(state: &AppState, config: &Config) -> Option<crate::derive::collect::Collector> {
    match config.role {
        Role::Writer => {
            let derive = Arc::new(crate::derive::Derive::new(config.derived.clone()));
            state.ingest.set_span_derive(derive.clone());
            Some(crate::derive::collect::Collector::start(
                derive,
                state.ingest.clone(),
            ))
        }
        Role::Query | Role::Worker => None,
    }
}

/// Opens the engine on a blocking thread and hands it to `state`; on failure, sends the
/// stop signal.
fn open_engine(
    state: AppState,
    config: &Config,
    stop_tx: watch::Sender<bool>,
) -> tokio::task::JoinHandle<Result<()>> {
    let dir = config.data_dir.clone();
    let engine_config = config.engine.clone();
    let filters = config.retention_filters.clone();
    tokio::task::spawn_blocking(move || {
        let start = Instant::now();
        match Engine::open(&dir, engine_config) {
            Ok(engine) => {
                if let Err(e) = engine.set_retention_filters(filters) {
                    warn!(error = %e, "retention filters not set");
                }
                state.metrics.record_engine_open(start.elapsed());
                state.set_engine(Arc::new(engine));
                info!(
                    took_ms = start.elapsed().as_millis() as u64,
                    "engine open, recovery done: ready"
                );
                Ok(())
            }
            Err(source) => {
                error!(error = %source, "cannot open the engine; shutting down");
                let _ = stop_tx.send(true);
                Err(Error::Engine { dir, source })
            }
        }
    })
}

/// The HTTP listener serving `app`, over TLS when it is configured, until the stop signal.
fn serve_http(
    listener: TcpListener,
    app: axum::Router,
    tls: Option<&Tls>,
    stop_rx: &watch::Receiver<bool>,
) -> Result<Serving<std::io::Error>> {
    Ok(match tls {
        None => Box::pin(
            axum::serve(http_incoming(listener), app)
                .with_graceful_shutdown(stopped(stop_rx.clone()))
                .into_future(),
        ),
        Some(t) => Box::pin(
            axum::serve(tls_incoming(listener, t.http.clone(), "http")?, app)
                .with_graceful_shutdown(stopped(stop_rx.clone()))
                .into_future(),
        ),
    })
}

/// The gRPC listener: OTLP and Arrow Flight SQL in every role (routed by service name), the
/// worker service on a worker; over TLS when it is configured, until the stop signal.
fn serve_grpc(
    listener: TcpListener,
    grpc_addr: SocketAddr,
    state: &AppState,
    config: &Config,
    tls: Option<&Tls>,
    stop_rx: &watch::Receiver<bool>,
) -> Result<Serving<tonic::transport::Error>> {
    let mut routes = grpc::routes(state).add_service(crate::api::flightsql::service(state));
    if let [worker] = config.sql.query.workers.as_slice() {
        warn!(
            %worker,
            "one worker takes no work: a scan of one task runs in the query process; list two or more in [cluster] workers"
        );
    }
    if config.role == Role::Worker {
        routes = with_worker(routes, state, config)?;
        info!(%grpc_addr, "serving the parts of distributed SQL queries on the gRPC listener");
        if !grpc_addr.ip().is_loopback() && config.sql.query.cluster_token.is_none() {
            warn!(
                %grpc_addr,
                "a worker without [cluster] token_file runs any query plan its gRPC listener receives, over every tenant's files: set a token, or keep this listener on a private network"
            );
        }
    }
    let grpc_router = tonic::transport::Server::builder().add_routes(routes);
    Ok(match tls {
        None => Box::pin(
            grpc_router
                .serve_with_incoming_shutdown(grpc_incoming(listener), stopped(stop_rx.clone())),
        ),
        Some(t) => Box::pin(grpc_router.serve_with_incoming_shutdown(
            tls_incoming(listener, t.grpc.clone(), "grpc")?.grpc(),
            stopped(stop_rx.clone()),
        )),
    })
}

/// `routes` and the `datafusion-distributed` worker service of `--role worker`: the tasks
/// query processes send read the bucket's files through this process's engine once it is
/// open; with a cluster token, only tasks carrying it run (`crate::auth::cluster`).
fn with_worker(
    routes: tonic::service::Routes,
    state: &AppState,
    config: &Config,
) -> Result<tonic::service::Routes> {
    let engine = state.clone();
    let slot: strata_query::sql::EngineSlot = Arc::new(move || engine.engine().ok());
    let worker = strata_query::sql::worker_for(&config.data_dir, slot, &config.sql.query)
        .map_err(|e| Error::Server(format!("cannot start the worker service: {e}")))?;
    let server = worker.into_worker_server();
    Ok(match &config.sql.query.cluster_token {
        Some(token) => routes.add_service(InterceptedService::new(server, TaskCheck::new(token))),
        None => routes.add_service(server),
    })
}

/// The HTTP listener's connections, each with `TCP_NODELAY` set. Without it a response
/// written after a small segment the client has not acknowledged yet (the first chunk of a
/// streamed query result) waits for the client's delayed ACK, ~40 ms on Linux.
fn http_incoming(
    listener: TcpListener,
) -> impl axum::serve::Listener<Io = TcpStream, Addr = SocketAddr> {
    listener.tap_io(|tcp: &mut TcpStream| {
        if let Err(e) = tcp.set_nodelay(true) {
            debug!(error = %e, "cannot set TCP_NODELAY on an HTTP connection");
        }
    })
}

/// The gRPC listener's connections, each with `TCP_NODELAY` set. Without it, the answer to
/// an export larger than the HTTP/2 window waited behind the server's last WINDOW_UPDATE
/// for the client's delayed ACK: ~40 ms per request, which held a connection sending
/// 1,000-span exports to ~48 k spans/s (docs/benchmarks-history.md, "OTLP/gRPC without Nagle").
fn grpc_incoming(listener: TcpListener) -> TcpIncoming {
    TcpIncoming::from(listener).with_nodelay(Some(true))
}

/// A listener's server, running until the stop signal.
type Serving<E> = std::pin::Pin<Box<dyn Future<Output = std::result::Result<(), E>> + Send>>;

/// `listener`'s connections over TLS with `config` (`crate::tls::listen`).
fn tls_incoming(
    listener: TcpListener,
    config: Arc<rustls::ServerConfig>,
    what: &'static str,
) -> Result<crate::tls::listen::Incoming> {
    crate::tls::listen::incoming(listener, config, what)
        .map_err(|e| Error::Server(format!("cannot start the TLS listener ({what}): {e}")))
}

fn local(listener: &TcpListener, asked: SocketAddr) -> SocketAddr {
    listener.local_addr().unwrap_or(asked)
}

/// `server`'s result, or `Ok(())` when its connections are still open [`DRAIN_WAIT`] after
/// the stop signal (the future, and with it the wait, is dropped; the connections' tasks end
/// with the runtime).
async fn drained<E>(
    server: impl Future<Output = std::result::Result<(), E>>,
    stop: watch::Receiver<bool>,
    what: &'static str,
) -> std::result::Result<(), E> {
    let deadline = async {
        stopped(stop).await;
        tokio::time::sleep(DRAIN_WAIT).await;
    };
    tokio::select! {
        result = server => result,
        () = deadline => {
            warn!(
                listener = what,
                "connections still open {DRAIN_WAIT:?} after the stop signal; closing them"
            );
            Ok(())
        }
    }
}

/// Takes a point of the ingest history (`runtime/history.rs`) every
/// [`crate::runtime::history::INTERVAL`] until the stop signal.
async fn sample_history(state: AppState, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(crate::runtime::history::INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await; // the first tick is immediate: nothing has happened yet
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        state.history.sample(now, state.metrics.tenant_totals());
    }
}

async fn stopped(mut rx: watch::Receiver<bool>) {
    // An error means every sender is gone, which only happens at exit: stop too.
    let _ = rx.wait_for(|stop| *stop).await;
}

fn signals() -> Result<tokio::signal::unix::Signal> {
    use tokio::signal::unix::{SignalKind, signal};
    signal(SignalKind::terminate())
        .map_err(|e| Error::Server(format!("cannot listen for SIGTERM: {e}")))
}

fn hangup() -> Result<tokio::signal::unix::Signal> {
    use tokio::signal::unix::{SignalKind, signal};
    signal(SignalKind::hangup())
        .map_err(|e| Error::Server(format!("cannot listen for SIGHUP: {e}")))
}

/// SIGHUP reloads the rule files and the scrape configuration (as `POST /-/reload` does).
async fn on_hangup(
    mut hup: tokio::signal::unix::Signal,
    rules: Option<Rules>,
    scraper: Option<Scraper>,
) {
    while hup.recv().await.is_some() {
        info!("SIGHUP: reloading the rule files and the scrape configuration");
        if let Some(rules) = &rules {
            let _ = rules.reload().await;
        }
        if let Some(scraper) = &scraper
            && let Err(e) = scraper.reload().await
        {
            warn!(error = %e, "the scrape configuration was not reloaded");
        }
    }
}

async fn on_signal(mut term: tokio::signal::unix::Signal, tx: watch::Sender<bool>) {
    tokio::select! {
        _ = term.recv() => info!("SIGTERM: shutting down"),
        _ = tokio::signal::ctrl_c() => info!("SIGINT: shutting down"),
    }
    let _ = tx.send(true);
}

/// Flushes and closes the engine once no request holds it.
async fn close_engine(state: &AppState, config: &Config) -> Result<()> {
    let Some(mut engine) = state.take_engine() else {
        return Ok(());
    };
    let deadline = Instant::now() + RELEASE_WAIT;
    let engine = loop {
        match Arc::try_unwrap(engine) {
            Ok(e) => break e,
            Err(shared) if Instant::now() < deadline => {
                engine = shared;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(_) => {
                warn!(
                    "writes still hold the engine; exiting without a final flush (the WAL has every acknowledged write)"
                );
                return Ok(());
            }
        }
    };
    let dir = config.data_dir.clone();
    let start = Instant::now();
    tokio::task::spawn_blocking(move || engine.close())
        .await
        .map_err(|e| Error::Server(format!("engine close task failed: {e}")))?
        .map_err(|source| Error::Engine { dir, source })?;
    info!(
        took_ms = start.elapsed().as_millis() as u64,
        "engine flushed and closed"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use axum::serve::Listener as _;
    use tonic::codegen::tokio_stream::StreamExt as _;

    use super::*;

    async fn loopback() -> (TcpListener, SocketAddr) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local address");
        (listener, addr)
    }

    #[tokio::test]
    async fn accepted_http_connections_do_not_wait_for_acks() {
        let (listener, addr) = loopback().await;
        let plain = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let plain_addr = plain.local_addr().expect("local address");
        let _client = TcpStream::connect(plain_addr).await.expect("connect");
        let (tcp, _) = plain.accept().await.expect("accept");
        assert!(
            !tcp.nodelay().expect("nodelay"),
            "the system default is Nagle on"
        );

        let mut incoming = http_incoming(listener);
        let _client = TcpStream::connect(addr).await.expect("connect");
        let (tcp, _) = incoming.accept().await;
        assert!(tcp.nodelay().expect("nodelay"));
    }

    #[tokio::test]
    async fn accepted_grpc_connections_do_not_wait_for_acks() {
        let (listener, addr) = loopback().await;
        let mut incoming = grpc_incoming(listener);
        let _client = TcpStream::connect(addr).await.expect("connect");
        let tcp = incoming
            .next()
            .await
            .expect("a connection")
            .expect("accepted");
        assert!(tcp.nodelay().expect("nodelay"));
    }
}
