//! Which workers a spread query may use. A worker that failed a query (it could not be
//! reached, or its stream broke off) and then does not accept a connection is left out of
//! every query's plan for [`DOWN_FOR`]; a query it failed before sending any row is
//! planned again over the workers still up, or in the query process alone when none is
//! ([`Spread`], used by [`crate::sql::SqlStream`]). The counts are [`spread_stats`].

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use datafusion::error::DataFusionError;
use datafusion_distributed::WorkerResolver;
use url::Url;

/// How long a worker found down is left out of plans before queries try it again.
pub const DOWN_FOR: Duration = Duration::from_secs(30);

/// Longest a probe of a worker waits for its connection.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// Workers found down in this process, with when they may be tried again.
static DOWN: Mutex<Vec<(Url, Instant)>> = Mutex::new(Vec::new());

static RETRIES: AtomicU64 = AtomicU64::new(0);
static LOCAL_RUNS: AtomicU64 = AtomicU64::new(0);
static TASKS: AtomicU64 = AtomicU64::new(0);

/// What this process's spread queries did about workers that failed them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SpreadStats {
    /// Queries planned again over the workers still up after one failed them.
    pub retries: u64,
    /// Queries run again in this process alone (no worker was up, or a second spread
    /// attempt failed too, or the stream broke off after rows were built: see
    /// [`note_local_run`]).
    pub local_runs: u64,
    /// Workers left out of plans now.
    pub down: u64,
    /// Tasks of spread queries this process ran as a worker (on a query process, the
    /// stages it keeps for itself).
    pub tasks: u64,
}

/// The counts since the process started, and the workers down now.
pub fn spread_stats() -> SpreadStats {
    let now = Instant::now();
    let down = lock().iter().filter(|(_, until)| *until > now).count() as u64;
    SpreadStats {
        retries: RETRIES.load(Ordering::Relaxed),
        local_runs: LOCAL_RUNS.load(Ordering::Relaxed),
        down,
        tasks: TASKS.load(Ordering::Relaxed),
    }
}

/// Counts a task this process's worker service took.
pub(crate) fn note_task() {
    TASKS.fetch_add(1, Ordering::Relaxed);
}

/// Counts a query a caller ran again in this process itself (the SQL API does, for a
/// stream that broke off after its first batch: it sends nothing before the end).
pub fn note_local_run() {
    LOCAL_RUNS.fetch_add(1, Ordering::Relaxed);
}

fn lock() -> std::sync::MutexGuard<'static, Vec<(Url, Instant)>> {
    DOWN.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Whether `url` is left out of plans at `now`.
fn is_down(down: &[(Url, Instant)], url: &Url, now: Instant) -> bool {
    down.iter().any(|(u, until)| u == url && *until > now)
}

/// Leaves `url` out of plans for [`DOWN_FOR`] from `now`.
fn mark_down(url: &Url, now: Instant) {
    let mut down = lock();
    down.retain(|(u, until)| u != url && *until > now);
    down.push((url.clone(), now + DOWN_FOR));
}

/// Whether a TCP connection to `url`'s host and port opens within [`PROBE_TIMEOUT`].
async fn accepts(url: &Url) -> bool {
    let (Some(host), Some(port)) = (url.host_str(), url.port_or_known_default()) else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let connect = tokio::net::TcpStream::connect((host, port));
    matches!(
        tokio::time::timeout(PROBE_TIMEOUT, connect).await,
        Ok(Ok(_))
    )
}

/// Probes each of `urls` at once and marks down those that do not accept a connection;
/// how many that were.
pub(crate) async fn probe(urls: &[Url]) -> usize {
    let answers = futures::future::join_all(urls.iter().map(accepts)).await;
    let now = Instant::now();
    let mut marked = 0;
    for (url, up) in urls.iter().zip(answers) {
        if !up {
            tracing::warn!(worker = %url, secs = DOWN_FOR.as_secs(), "a worker does not accept connections: left out of spread queries");
            mark_down(url, now);
            marked += 1;
        }
    }
    marked
}

/// The workers of one session (`[cluster] workers`), its resolver: those not down, or
/// none once the session is turned local. Also a session extension, for
/// [`crate::sql::SqlStream`] to find.
#[derive(Debug)]
pub(crate) struct Spread {
    urls: Vec<Url>,
    local: AtomicBool,
}

impl Spread {
    pub(crate) fn new(urls: Vec<Url>) -> Self {
        Self {
            urls,
            local: AtomicBool::new(false),
        }
    }

    /// The configured workers, down or not.
    pub(crate) fn configured(&self) -> &[Url] {
        &self.urls
    }

    /// The workers a plan made now may use.
    pub(crate) fn live(&self) -> Vec<Url> {
        if self.is_local() {
            return Vec::new();
        }
        let now = Instant::now();
        let down = lock();
        self.urls
            .iter()
            .filter(|u| !is_down(&down, u, now))
            .cloned()
            .collect()
    }

    /// Whether plans of this session use no worker.
    pub(crate) fn is_local(&self) -> bool {
        self.local.load(Ordering::Relaxed)
    }

    /// Plans from now on use no worker: every stage runs in the query process.
    pub(crate) fn go_local(&self) {
        self.local.store(true, Ordering::Relaxed);
    }

    /// Plans from now on may spread again: each query of a session starts here, so one
    /// query that ran alone does not keep the session's later queries off the workers.
    pub(crate) fn spread_again(&self) {
        self.local.store(false, Ordering::Relaxed);
    }

    /// After a failure for an unreachable worker on attempt `attempt` (from 1): probes the
    /// workers and decides the next attempt. `true`: plan again over the workers still up
    /// (counted as a retry); `false` with the session turned local: run it here alone
    /// (counted as a local run).
    pub(crate) async fn after_failure(&self, attempt: u32) -> bool {
        probe(&self.urls).await;
        if attempt < 2 && !self.live().is_empty() {
            RETRIES.fetch_add(1, Ordering::Relaxed);
            true
        } else {
            self.go_local();
            LOCAL_RUNS.fetch_add(1, Ordering::Relaxed);
            false
        }
    }
}

/// The resolver the planner and [`super::placement`] ask for workers.
#[derive(Debug, Clone)]
pub(crate) struct LiveWorkers(pub(crate) std::sync::Arc<Spread>);

impl WorkerResolver for LiveWorkers {
    fn get_urls(&self) -> Result<Vec<Url>, DataFusionError> {
        Ok(self.0.live())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(port: u16) -> Url {
        Url::parse(&format!("http://127.0.0.1:{port}")).expect("url")
    }

    #[tokio::test]
    async fn a_worker_that_refuses_connections_is_left_out_and_a_listening_one_kept() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let up = url(listener.local_addr().expect("addr").port());
        // A port nobody listens on: bound, then closed.
        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            l.local_addr().expect("addr").port()
        };
        let gone = url(closed);
        let spread = Spread::new(vec![up.clone(), gone.clone()]);
        assert_eq!(spread.live(), vec![up.clone(), gone.clone()]);
        let before = spread_stats();
        assert!(spread.after_failure(1).await, "one worker is still up");
        assert_eq!(spread.live(), vec![up.clone()]);
        assert_eq!(spread.configured().len(), 2);
        // A second failure runs it locally, whatever is up.
        assert!(!spread.after_failure(2).await);
        assert!(spread.live().is_empty());
        // The session's next query (`SqlStream::start_with`) spreads again over what is up.
        spread.spread_again();
        assert_eq!(spread.live(), vec![up.clone()]);
        let after = spread_stats();
        assert!(after.retries > before.retries && after.local_runs > before.local_runs);
        assert!(after.down >= 1);
        // Another session still sees the down worker left out, until it is forgotten.
        let other = Spread::new(vec![gone.clone()]);
        assert!(other.live().is_empty());
        assert!(!other.after_failure(1).await, "no worker left: local");
        let now = Instant::now();
        assert!(!is_down(
            &lock(),
            &gone,
            now + DOWN_FOR + Duration::from_secs(1)
        ));
        drop(listener);
    }
}
