//! `GET /loki/api/v1/tail` (WebSocket): the entries of a log query as they arrive, as
//! Grafana's live mode reads them: text frames `{"streams":[{"stream":{...},
//! "values":[["<ns>","<line>"]]}]}`.
//!
//! First the newest `limit` entries (default 100) since `start` (default an hour ago),
//! then every second the entries whose time is newer than what was sent. Entries are
//! found by time, not by arrival: one written with a time more than `delay_for` seconds
//! (default 0, at most 5) before the moment it arrives is not sent. A second's entries
//! beyond `limit` are counted in `dropped_entries`, as Loki does.

use std::collections::HashSet;
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket};
use strata_engine::{Clock, SystemClock};
use strata_query::logql::{self, Direction, LogExpr, LogOptions, Stream};

use super::Ctx;
use super::params::Params;
use super::response::push_labels;
use super::response::push_str;
use crate::http::error::ApiError;

const NS_PER_S: i64 = 1_000_000_000;
/// How long before now entries are still looked for on every poll (and deduplicated).
const LAG_NS: i64 = 2 * NS_PER_S;

/// A tail's parameters, checked before the upgrade.
pub(crate) struct Tail {
    log: LogExpr,
    start_ns: i64,
    limit: usize,
    delay_ns: i64,
}

/// Checks a tail request's parameters (Loki's: `query`, `start`, `limit`, `delay_for`).
pub(crate) fn parse(
    pairs: &[(String, String)],
    now_ns: i64,
    max_limit: usize,
) -> Result<Tail, ApiError> {
    let params = Params(pairs);
    let text = params
        .get("query")
        .ok_or_else(|| ApiError::BadRequest("query parameter is required".into()))?;
    let log = match logql::parse(text).map_err(|e| ApiError::BadRequest(e.to_string()))? {
        logql::Expr::Log(log) => log,
        logql::Expr::Metric(_) => {
            return Err(ApiError::BadRequest(
                "tailing a metric query is not supported".into(),
            ));
        }
    };
    let delay_s = match params.get("delay_for") {
        None => 0,
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|d| (0..=5).contains(d))
            .ok_or_else(|| ApiError::BadRequest("delay_for can't be greater than 5".into()))?,
    };
    let limit = params.limit(100)?;
    if limit > max_limit {
        return Err(ApiError::BadRequest(format!(
            "max entries limit per query exceeded, limit > max_entries_limit_per_query ({limit} > {max_limit})"
        )));
    }
    Ok(Tail {
        log,
        start_ns: params.time("start", now_ns - 3_600 * NS_PER_S)?,
        limit,
        delay_ns: delay_s * NS_PER_S,
    })
}

fn frame(streams: &[Stream], sent: &mut HashSet<(i64, String, String)>) -> Option<String> {
    let mut out = String::from(r#"{"streams":["#);
    let mut any = false;
    for s in streams {
        let mut labels = String::new();
        push_labels(&mut labels, &s.labels);
        let mut values = String::new();
        for e in &s.entries {
            if !sent.insert((e.ts_ns, labels.clone(), e.line.clone())) {
                continue;
            }
            if !values.is_empty() {
                values.push(',');
            }
            values.push_str(&format!(r#"["{}","#, e.ts_ns));
            push_str(&mut values, &e.line);
            values.push(']');
        }
        if values.is_empty() {
            continue;
        }
        if any {
            out.push(',');
        }
        any = true;
        out.push_str(r#"{"stream":"#);
        out.push_str(&labels);
        out.push_str(r#","values":["#);
        out.push_str(&values);
        out.push_str("]}");
    }
    out.push_str("]}");
    any.then_some(out)
}

/// Runs a tail on an upgraded socket until the client leaves or a query fails (the
/// failure is sent as a close frame's reason).
pub(crate) async fn run(ctx: Ctx, tail: Tail, mut socket: WebSocket) {
    let mut sent: HashSet<(i64, String, String)> = HashSet::new();
    let mut from = tail.start_ns;
    let mut first = true;
    loop {
        let now = SystemClock.now_ms().saturating_mul(1_000_000);
        let to = now - tail.delay_ns + 1;
        // The first answer is the newest entries; later ones run forward from the cursor.
        let direction = if first {
            Direction::Backward
        } else {
            Direction::Forward
        };
        let result = ctx
            .timed(logql::select_logs(
                &ctx.session,
                &ctx.sql,
                &ctx.queries.logql().limits,
                &tail.log,
                (from, to.max(from)),
                &LogOptions {
                    limit: tail.limit,
                    direction,
                    categorize: false,
                    interval_ns: 0,
                },
            ))
            .await;
        let streams = match result {
            Ok((streams, _)) => streams,
            Err(e) => {
                let _ = socket
                    .send(Message::Close(Some(axum::extract::ws::CloseFrame {
                        code: 1011,
                        reason: e.to_string().chars().take(120).collect::<String>().into(),
                    })))
                    .await;
                return;
            }
        };
        let newest = streams
            .iter()
            .flat_map(|s| s.entries.iter().map(|e| e.ts_ns))
            .max();
        if let Some(text) = frame(&streams, &mut sent)
            && socket.send(Message::Text(text.into())).await.is_err()
        {
            return;
        }
        first = false;
        // Look again from a little before the newest entry sent (entries of the same
        // moment may still arrive); what was sent is not sent twice.
        from = newest.map_or(to - LAG_NS, |n| n.min(to) - LAG_NS).max(from);
        sent.retain(|(ts, _, _)| *ts >= from);
        tokio::select! {
            msg = socket.recv() => match msg {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                Some(Ok(_)) => {}
            },
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}
