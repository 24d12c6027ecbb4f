//! Admission for queries: at most `server.max_concurrent_queries` run at once, of every
//! language together; the others wait their turn in arrival order for up to
//! `server.query_queue_timeout`, then get 503 with Retry-After. A query's permit is held
//! until its answer is sent (the last byte of a streamed answer), so the queries running
//! are those holding memory: with the pool's per-query share, their memory adds up to the
//! query pool at most.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::http::error::ApiError;

/// Seconds a client refused for a full queue is told to wait.
const QUEUE_RETRY_AFTER_SECS: u64 = 5;

/// The query gate; cheap to clone (clones share it).
#[derive(Debug, Clone)]
pub(crate) struct Admission(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    permits: Arc<Semaphore>,
    max: usize,
    timeout: Duration,
    waiting: AtomicUsize,
    admitted: AtomicU64,
    timed_out: AtomicU64,
    wait_nanos: AtomicU64,
    pressure: Option<super::pressure::Pressure>,
}

/// A running query's turn; the next waiting query starts when it is dropped.
#[derive(Debug)]
pub(crate) struct Turn {
    _permit: OwnedSemaphorePermit,
}

impl Admission {
    /// A gate letting `max` queries run at once, the others waiting up to `timeout`, and
    /// refusing new queries at once (503) while `pressure` says so.
    pub(crate) fn new(
        max: usize,
        timeout: Duration,
        pressure: Option<super::pressure::Pressure>,
    ) -> Self {
        let max = max.max(1);
        Self(Arc::new(Inner {
            permits: Arc::new(Semaphore::new(max)),
            max,
            timeout,
            waiting: AtomicUsize::new(0),
            admitted: AtomicU64::new(0),
            timed_out: AtomicU64::new(0),
            wait_nanos: AtomicU64::new(0),
            pressure,
        }))
    }

    /// Waits for a turn (first come, first served), or fails with 503 after the timeout.
    pub(crate) async fn admit(&self) -> Result<Turn, ApiError> {
        let i = &self.0;
        if let Some(p) = &i.pressure {
            p.check_query()?;
        }
        if let Ok(p) = i.permits.clone().try_acquire_owned() {
            i.admitted.fetch_add(1, Ordering::Relaxed);
            return Ok(Turn { _permit: p });
        }
        i.waiting.fetch_add(1, Ordering::Relaxed);
        let start = std::time::Instant::now();
        let got = tokio::time::timeout(i.timeout, i.permits.clone().acquire_owned()).await;
        i.waiting.fetch_sub(1, Ordering::Relaxed);
        i.wait_nanos
            .fetch_add(start.elapsed().as_nanos() as u64, Ordering::Relaxed);
        match got {
            Ok(Ok(p)) => {
                i.admitted.fetch_add(1, Ordering::Relaxed);
                Ok(Turn { _permit: p })
            }
            // The semaphore is never closed; a timeout is the only other way here.
            _ => {
                i.timed_out.fetch_add(1, Ordering::Relaxed);
                Err(ApiError::Unavailable {
                    message: format!(
                        "too many queries: {} run at once (server.max_concurrent_queries) and this one waited {} s for a turn (server.query_queue_timeout); retry later",
                        i.max,
                        i.timeout.as_secs_f64()
                    ),
                    retry_after: QUEUE_RETRY_AFTER_SECS,
                })
            }
        }
    }

    /// Queries running now.
    pub(crate) fn running(&self) -> usize {
        self.0.max - self.0.permits.available_permits()
    }

    /// Queries waiting for a turn now.
    pub(crate) fn waiting(&self) -> usize {
        self.0.waiting.load(Ordering::Relaxed)
    }

    /// Appends the gate's self-metrics to `out` (Prometheus text format); `memory_refused`
    /// is the query pool's count of queries refused for memory.
    pub(crate) fn render(&self, out: &mut String, memory_refused: u64) {
        use std::fmt::Write as _;
        let i = &self.0;
        let _ = write!(
            out,
            "# HELP strata_queries_running Queries running now (at most strata_queries_max_concurrent).\n\
             # TYPE strata_queries_running gauge\nstrata_queries_running {}\n\
             # HELP strata_queries_max_concurrent server.max_concurrent_queries.\n\
             # TYPE strata_queries_max_concurrent gauge\nstrata_queries_max_concurrent {}\n\
             # HELP strata_queries_waiting Queries waiting for a turn now.\n\
             # TYPE strata_queries_waiting gauge\nstrata_queries_waiting {}\n\
             # HELP strata_queries_admitted_total Queries that got a turn.\n\
             # TYPE strata_queries_admitted_total counter\nstrata_queries_admitted_total {}\n\
             # HELP strata_queries_queue_seconds_total Time queries spent waiting for a turn.\n\
             # TYPE strata_queries_queue_seconds_total counter\nstrata_queries_queue_seconds_total {}\n",
            self.running(),
            i.max,
            self.waiting(),
            i.admitted.load(Ordering::Relaxed),
            i.wait_nanos.load(Ordering::Relaxed) as f64 / 1e9,
        );
        let _ = write!(
            out,
            "# HELP strata_queries_refused_total Queries refused, by reason: queue (no turn within server.query_queue_timeout, 503), memory (over the query's share of the pool, 422).\n\
             # TYPE strata_queries_refused_total counter\nstrata_queries_refused_total{{reason=\"queue\"}} {}\n\
             strata_queries_refused_total{{reason=\"memory\"}} {memory_refused}\n\
             strata_queries_refused_total{{reason=\"pressure\"}} {}\n",
            i.timed_out.load(Ordering::Relaxed),
            i.pressure.as_ref().map_or(0, |p| p.refused_queries()),
        );
    }
}

/// Whether a request to route `path` (axum's matched pattern) is a query that takes a turn:
/// the evaluations of every language and the searches that read stored data. Label and
/// metadata lookups, health, status and ingest do not.
pub(crate) fn is_query(path: &str) -> bool {
    matches!(
        path,
        "/api/v1/query"
            | "/api/v1/query_range"
            | "/api/v1/series"
            | "/api/v1/sql"
            | "/api/v1/logs"
            | "/loki/api/v1/query"
            | "/loki/api/v1/query_range"
            | "/loki/api/v1/series"
            | "/loki/api/v1/index/stats"
            | "/loki/api/v1/index/volume"
            | "/loki/api/v1/index/volume_range"
            | "/loki/api/v1/patterns"
            | "/api/search"
            | "/api/metrics/query_range"
            | "/api/metrics/query"
            | "/api/traces/{trace_id}"
            | "/api/v2/traces/{trace_id}"
            | "/jaeger/api/traces"
            | "/jaeger/api/traces/{trace_id}"
            | "/jaeger/api/dependencies"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn queries_wait_in_order_and_time_out_with_503() {
        let gate = Admission::new(1, Duration::from_millis(200), None);
        let first = gate.admit().await.expect("first runs");
        assert_eq!(gate.running(), 1);
        let g = gate.clone();
        let waiter = tokio::spawn(async move { g.admit().await.map(|_| ()) });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(gate.waiting(), 1);
        drop(first);
        waiter
            .await
            .expect("join")
            .expect("second gets the freed turn");
        let _held = gate.admit().await.expect("third");
        let err = gate.admit().await.expect_err("no turn in time");
        assert_eq!(err.status(), axum::http::StatusCode::SERVICE_UNAVAILABLE);
        assert!(
            err.to_string().contains("server.max_concurrent_queries"),
            "{err}"
        );
        let mut text = String::new();
        gate.render(&mut text, 7);
        assert!(
            text.contains("strata_queries_refused_total{reason=\"queue\"} 1"),
            "{text}"
        );
        assert!(text.contains("strata_queries_admitted_total 3"), "{text}");
        assert!(
            text.contains("strata_queries_refused_total{reason=\"memory\"} 7"),
            "{text}"
        );
    }

    #[test]
    fn only_queries_take_a_turn() {
        assert!(is_query("/api/v1/query_range"));
        assert!(is_query("/loki/api/v1/query_range"));
        assert!(!is_query("/api/v1/write"));
        assert!(!is_query("/api/v1/labels"));
        assert!(!is_query("/metrics"));
    }
}
