//! The collection loop: every tick it expires the halves that waited long enough (Tempo
//! checks every 2 s); every `collection_interval` it writes each tenant's counters as
//! cumulative samples through the metrics write path ([`Ingest::write_metrics`]: the
//! `[relabel]` rules, the WAL, the tenant's series caps and rate), and counts what that
//! path refused. As Tempo's registry does (`modules/generator/registry`): a series' first
//! write adds a zero one second before the minute began (so `increase()` sees its first
//! spans), and a series without spans for `stale_duration` is dropped, its series ended
//! by a staleness marker.

use std::sync::{Arc, PoisonError};
use std::time::Duration;

use strata_engine::{Clock, Sample, SeriesSamples, SystemClock};
use strata_query::promql::STALE_NAN_BITS;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::histogram::{Counts, EDGE_BUCKETS_NS, SPAN_BUCKETS_NS, le_labels};
use super::servicegraph::{self, CLIENT_SECONDS, REQUEST_FAILED, REQUEST_TOTAL, SERVER_SECONDS};
use super::spanmetrics::{CALLS, LATENCY, SpanSeries};
use super::{Derive, DeriveError, TenantState, lock};
use crate::runtime::ingest_handle::Ingest;

/// The running loop.
#[derive(Debug)]
pub(crate) struct Collector {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Collector {
    /// Starts the loop over `derive`, writing through `ingest`.
    pub(crate) fn start(derive: Arc<Derive>, ingest: Ingest) -> Self {
        let (stop, rx) = watch::channel(false);
        let task = tokio::spawn(run(derive, ingest, rx));
        Self { stop, task }
    }

    /// Stops the loop after one last collection (before the engine closes).
    pub(crate) async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

async fn run(derive: Arc<Derive>, ingest: Ingest, mut stop: watch::Receiver<bool>) {
    let s = derive.settings();
    let interval = s.collection_interval;
    let tick = interval
        .min(s.service_graph_wait)
        .min(Duration::from_secs(2))
        .max(Duration::from_millis(10));
    let mut next = tokio::time::Instant::now() + interval;
    loop {
        let stopping = tokio::select! {
            _ = tokio::time::sleep(tick) => false,
            _ = stop.changed() => true,
        };
        let now_ms = SystemClock.now_ms();
        for t in derive.tenants() {
            expire(&t, now_ms);
        }
        if stopping || tokio::time::Instant::now() >= next {
            next = tokio::time::Instant::now() + interval;
            if ingest.engine().is_ok() {
                for t in derive.tenants() {
                    if let Err(e) = collect(&ingest, &t, s.stale_duration, now_ms).await {
                        tracing::warn!(error = %e, "derived series not written");
                    }
                }
            }
        }
        if stopping {
            return;
        }
    }
}

/// Expires `t`'s halves that waited long enough, counting the edges they still make.
fn expire(t: &TenantState, now_ms: i64) {
    let mut done = Vec::new();
    let mut expired = [0u64; 6];
    lock(&t.store).expire(now_ms, &mut done, &mut expired);
    t.counters.add_expired(&expired);
    if !done.is_empty() {
        servicegraph::count(&mut lock(&t.edges), &done, now_ms);
    }
    // Node names nothing holds any more (a waiting half, a batch) are let go.
    if let Ok(mut nodes) = t.nodes.try_write() {
        nodes.retain(|n| Arc::strong_count(n) > 1);
    }
}

/// Where a series' first zero goes: one second before the minute of `now_ms` began
/// (Tempo's `getEndOfLastMinuteMs`).
fn first_zero_ms(now_ms: i64) -> i64 {
    now_ms - now_ms.rem_euclid(60_000) - 1_000
}

/// Builds one series' samples: `(ts, value)`s.
fn series(
    name: &str,
    labels: &[(String, String)],
    extra: Option<(&str, &str)>,
    samples: Vec<Sample>,
) -> SeriesSamples {
    let mut l = Vec::with_capacity(labels.len() + 2);
    l.push(("__name__".to_owned(), name.to_owned()));
    l.extend(labels.iter().cloned());
    if let Some((k, v)) = extra {
        l.push((k.to_owned(), v.to_owned()));
    }
    SeriesSamples { labels: l, samples }
}

/// The samples of a counter at `now_ms` (with the first zero when `first`; a staleness
/// marker when `value` is `None`).
fn points(value: Option<f64>, first: bool, now_ms: i64) -> Vec<Sample> {
    let Some(v) = value else {
        return vec![Sample {
            ts: now_ms,
            value: f64::from_bits(STALE_NAN_BITS),
        }];
    };
    let mut out = Vec::with_capacity(2);
    if first {
        out.push(Sample {
            ts: first_zero_ms(now_ms),
            value: 0.0,
        });
    }
    out.push(Sample {
        ts: now_ms,
        value: v,
    });
    out
}

/// A histogram's `_bucket`, `_sum` and `_count` series (`None`: staleness markers).
fn histogram(
    out: &mut Vec<SeriesSamples>,
    name: &str,
    labels: &[(String, String)],
    le: &[String],
    h: Option<&Counts>,
    first: bool,
    now_ms: i64,
) {
    let bucket = format!("{name}_bucket");
    let cumulative = h.map(Counts::cumulative);
    for (i, le) in le.iter().enumerate() {
        let v = cumulative.as_ref().map(|c| c[i] as f64);
        out.push(series(
            &bucket,
            labels,
            Some(("le", le)),
            points(v, first, now_ms),
        ));
    }
    // Tempo adds no zero before `_sum`.
    out.push(series(
        &format!("{name}_sum"),
        labels,
        None,
        points(h.map(|h| h.sum), false, now_ms),
    ));
    out.push(series(
        &format!("{name}_count"),
        labels,
        None,
        points(h.map(|h| h.count as f64), first, now_ms),
    ));
}

fn span_series(
    out: &mut Vec<SeriesSamples>,
    s: &SpanSeries,
    le: &[String],
    live: bool,
    now_ms: i64,
) {
    let (acc, first) = {
        let mut a = s.lock();
        let first = !a.emitted;
        a.emitted = true;
        (a.clone(), first)
    };
    let calls = live.then_some(acc.calls as f64);
    out.push(series(CALLS, &s.labels, None, points(calls, first, now_ms)));
    let h = live.then_some(&acc.latency);
    histogram(out, LATENCY, &s.labels, le, h, first, now_ms);
}

/// Writes `t`'s series at `now_ms`; drops (and ends) those stale for `stale`.
async fn collect(
    ingest: &Ingest,
    t: &TenantState,
    stale: Duration,
    now_ms: i64,
) -> Result<(), DeriveError> {
    let stale_before = now_ms.saturating_sub(i64::try_from(stale.as_millis()).unwrap_or(i64::MAX));
    let mut out = Vec::new();
    let span_le = le_labels(&SPAN_BUCKETS_NS);
    let (live, gone) = {
        let mut table = t.table.write().unwrap_or_else(PoisonError::into_inner);
        let mut gone = Vec::new();
        table.series.retain(|_, s| {
            let keep = s.lock().last_ms >= stale_before;
            if !keep {
                gone.push(s.clone());
            }
            keep
        });
        if !gone.is_empty() {
            table.rebuild_names();
        }
        (table.series.values().cloned().collect::<Vec<_>>(), gone)
    };
    for s in &live {
        span_series(&mut out, s, &span_le, true, now_ms);
    }
    for s in &gone {
        span_series(&mut out, s, &span_le, false, now_ms);
    }
    let edge_le = le_labels(&EDGE_BUCKETS_NS);
    {
        let mut edges = lock(&t.edges);
        let mut gone = Vec::new();
        for (k, e) in edges.iter_mut() {
            let live = e.last_ms >= stale_before;
            let first = !e.emitted;
            e.emitted = true;
            let (total, failed) = (e.total as f64, e.failed as f64);
            out.push(series(
                REQUEST_TOTAL,
                &e.labels,
                None,
                points(live.then_some(total), first, now_ms),
            ));
            // Tempo makes the failed counter at the first failed request.
            if e.failed > 0 {
                let first_failed = !e.failed_emitted;
                e.failed_emitted = true;
                out.push(series(
                    REQUEST_FAILED,
                    &e.labels,
                    None,
                    points(live.then_some(failed), first_failed, now_ms),
                ));
            }
            histogram(
                &mut out,
                SERVER_SECONDS,
                &e.labels,
                &edge_le,
                live.then_some(&e.server),
                first,
                now_ms,
            );
            histogram(
                &mut out,
                CLIENT_SECONDS,
                &e.labels,
                &edge_le,
                live.then_some(&e.client),
                first,
                now_ms,
            );
            if !live {
                gone.push(*k);
            }
        }
        for k in gone {
            edges.remove(&k);
        }
    }
    if out.is_empty() {
        return Ok(());
    }
    let samples: usize = out.iter().map(|s| s.samples.len()).sum();
    match ingest.write_metrics(&t.tenant, out).await {
        Ok(outcome) => {
            t.counters
                .add_written(outcome.accepted + outcome.duplicates);
            for (reason, n) in &outcome.rejected {
                t.counters.add_rejected(reason.as_str(), *n);
            }
            Ok(())
        }
        Err(e) => {
            t.counters.add_rejected("write_failed", samples as u64);
            Err(DeriveError::Write {
                tenant: t.tenant.clone(),
                samples,
                message: e.to_string(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_zero_is_a_second_before_the_minute() {
        assert_eq!(first_zero_ms(120_500), 119_000);
        assert_eq!(first_zero_ms(120_000), 119_000);
    }
}
