//! Log queries: the entries a selector and pipeline yield in `[start, end)`, at most
//! `limit` of them, the newest (`backward`) or the oldest (`forward`) first, grouped into
//! streams by their final labels.
//!
//! The range is read in windows of whole hours (partitions), starting at the end the
//! direction starts from, and a window's entries go into a heap that holds at most
//! `limit`; once it is full, a window further away cannot hold a better entry and the
//! read stops. Memory is bounded by the limit, whatever the range. The first window is
//! one hour; each next one covers the hours the entries found so far say the limit still
//! needs, at most twice the last ([`next_hours`]): a rare match (a needle) is read in a
//! few scans whose files DataFusion spreads over the cores, not one scan an hour, while
//! a common one stops after the hour that filled the limit. Queries with an `interval`
//! keep one-hour windows, as they hold a window's entries to sort them.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::ops::ControlFlow;

use datafusion::prelude::SessionContext;

use super::ast::LogExpr;
use super::error::{Error, Result};
use super::pipeline::{Category, Pipeline, Processed};
use super::scan::{ScanStats, for_each_entry, window_sql};
use super::streams::Labels;
use super::{Direction, Limits};
use crate::sql::SqlConfig;

const WINDOW_NS: i64 = 3_600 * 1_000_000_000;

/// One stream of a log query's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Stream {
    /// Its labels: stream labels, structured metadata and parsed labels.
    pub labels: Labels,
    /// Its entries, in the query's direction.
    pub entries: Vec<StreamEntry>,
}

/// One entry of a [`Stream`].
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct StreamEntry {
    /// Nanoseconds since the epoch.
    pub ts_ns: i64,
    /// The line after the pipeline.
    pub line: String,
    /// With labels categorized: its structured metadata (else empty).
    pub metadata: Labels,
    /// With labels categorized: the labels its pipeline set (else empty).
    pub parsed: Labels,
}

/// An entry held for the answer; ordered by time, then by arrival (`seq`).
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Held {
    ts_ns: i64,
    seq: u64,
    labels: Labels,
    line: String,
    metadata: Labels,
    parsed: Labels,
}

impl Held {
    /// The entry at `ts_ns` a pipeline produced (`p`), arrived `seq`th: keyed by all its
    /// labels, or with `categorize` by its stream labels, its structured metadata and
    /// parsed labels apart.
    fn new(p: Processed, ts_ns: i64, seq: u64, categorize: bool) -> Self {
        let (labels, metadata, parsed) = if categorize {
            (
                p.labels.of(Category::Stream),
                p.labels.of(Category::Metadata),
                p.labels.of(Category::Parsed),
            )
        } else {
            (p.labels.flat(), Vec::new(), Vec::new())
        };
        Held {
            ts_ns,
            seq,
            labels,
            line: p.line,
            metadata,
            parsed,
        }
    }
}

/// The heap of the best `limit` entries so far, whichever direction.
enum Best {
    /// Keeps the newest: a min-heap, the oldest on top to be evicted.
    Newest(BinaryHeap<Reverse<Held>>),
    /// Keeps the oldest: a max-heap.
    Oldest(BinaryHeap<Held>),
}

impl Best {
    fn len(&self) -> usize {
        match self {
            Self::Newest(h) => h.len(),
            Self::Oldest(h) => h.len(),
        }
    }

    fn push(&mut self, held: Held, limit: usize) {
        match self {
            Self::Newest(h) => {
                h.push(Reverse(held));
                if h.len() > limit {
                    h.pop();
                }
            }
            Self::Oldest(h) => {
                h.push(held);
                if h.len() > limit {
                    h.pop();
                }
            }
        }
    }

    fn into_vec(self) -> Vec<Held> {
        match self {
            Self::Newest(h) => h.into_iter().map(|r| r.0).collect(),
            Self::Oldest(h) => h.into_vec(),
        }
    }
}

/// How a log query answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogOptions {
    /// At most this many entries.
    pub limit: usize,
    /// The newest or the oldest first.
    pub direction: Direction,
    /// Loki's `categorize-labels`: a stream is keyed by its stream labels only and each
    /// entry carries its structured metadata and parsed labels; otherwise all labels key
    /// the stream.
    pub categorize: bool,
    /// Loki's `interval` (0: none): in the direction's order over all streams, an entry
    /// is returned only at least this long after (before) the last one returned.
    pub interval_ns: i64,
}

/// Entries one hour may hold for an `interval` query, which must sort them all.
const MAX_INTERVAL_ENTRIES: usize = 1_000_000;

/// Runs a log query over `[start_ns, end_ns)`.
pub async fn select_logs(
    ctx: &SessionContext,
    config: &SqlConfig,
    limits: &Limits,
    expr: &LogExpr,
    (start_ns, end_ns): (i64, i64),
    opts: &LogOptions,
) -> Result<(Vec<Stream>, ScanStats)> {
    let LogOptions {
        limit,
        direction,
        categorize,
        interval_ns,
    } = *opts;
    let pipeline = Pipeline::new(&expr.selector, &expr.pipeline)?;
    // With an interval: the entries returned so far, and the time of the last one.
    let mut thinned: Vec<Held> = Vec::new();
    let mut last: Option<i64> = None;
    let mut best = match direction {
        Direction::Backward => Best::Newest(BinaryHeap::new()),
        Direction::Forward => Best::Oldest(BinaryHeap::new()),
    };
    let mut stats = ScanStats::default();
    let mut seq = 0u64;
    let hours = windows(start_ns, end_ns, direction);
    let selector = Pipeline::new(&expr.selector, &[])?;
    // Hours read so far, entries they held, and how many hours the last window took.
    let (mut at, mut found, mut last_hours) = (0usize, 0u64, 0usize);
    while at < hours.len() {
        if limit == 0 {
            break;
        }
        let take = if interval_ns > 0 {
            1
        } else {
            next_hours(at, found, last_hours, limit.saturating_sub(best.len()))
        };
        let group = next_window(ctx, &selector, &hours, &mut at, take).await?;
        if group.is_empty() {
            continue;
        }
        last_hours = group.len();
        let from = group.iter().map(|w| w.0).min().unwrap_or(start_ns);
        let to = group.iter().map(|w| w.1).max().unwrap_or(end_ns);
        let sql = window_sql(&expr.selector, &expr.pipeline, from, to);
        let mut window: Vec<Held> = Vec::new();
        let mut overflow = false;
        let (read, _) = for_each_entry(ctx, config, limits, &sql, |entry| {
            if let Some(p) = pipeline.run(&entry) {
                seq += 1;
                let held = Held::new(p, entry.ts_ns, seq, categorize);
                found += 1;
                if interval_ns > 0 {
                    if window.len() >= MAX_INTERVAL_ENTRIES {
                        overflow = true;
                        return ControlFlow::Break(());
                    }
                    window.push(held);
                } else {
                    best.push(held, limit);
                }
            }
            ControlFlow::Continue(())
        })
        .await?;
        stats.lines += read.lines;
        stats.bytes += read.bytes;
        if overflow {
            return Err(Error::Limit(format!(
                "an interval query may read at most {MAX_INTERVAL_ENTRIES} entries an hour; \
                 narrow the selector or drop the interval"
            )));
        }
        if interval_ns > 0 {
            thin(
                window,
                direction,
                interval_ns,
                limit,
                &mut last,
                &mut thinned,
            );
            if thinned.len() >= limit {
                break;
            }
        } else if best.len() >= limit {
            break;
        }
    }
    let held = if interval_ns > 0 {
        thinned
    } else {
        best.into_vec()
    };
    Ok((into_streams(held, direction), stats))
}

/// The next window of a log query: the next `take` of `hours` from `at` (moved past
/// them), or fewer: an hour none of whose streams `selector` selects (by the logs
/// summaries) is not read, and ends the window (which must be one range).
async fn next_window(
    ctx: &SessionContext,
    selector: &Pipeline,
    hours: &[(i64, i64)],
    at: &mut usize,
    take: usize,
) -> Result<Vec<(i64, i64)>> {
    let mut group: Vec<(i64, i64)> = Vec::with_capacity(take);
    while *at < hours.len() && group.len() < take {
        let hour = hours[*at];
        *at += 1;
        if super::summary::none_selected(ctx, selector, hour).await? {
            if group.is_empty() {
                continue;
            }
            break;
        }
        group.push(hour);
    }
    Ok(group)
}

/// An `interval` query's thinning of one window's entries: in the direction's order, an
/// entry joins `thinned` (at most `limit`) only at least `interval_ns` after (before) the
/// `last` one that did.
fn thin(
    mut window: Vec<Held>,
    direction: Direction,
    interval_ns: i64,
    limit: usize,
    last: &mut Option<i64>,
    thinned: &mut Vec<Held>,
) {
    window.sort_unstable_by_key(|h| (h.ts_ns, h.seq));
    if direction == Direction::Backward {
        window.reverse();
    }
    for h in window {
        let due = last.is_none_or(|l| match direction {
            Direction::Forward => h.ts_ns >= l.saturating_add(interval_ns),
            Direction::Backward => h.ts_ns <= l.saturating_sub(interval_ns),
        });
        if due && thinned.len() < limit {
            *last = Some(h.ts_ns);
            thinned.push(h);
        }
    }
}

/// The held entries grouped into streams by their labels, each stream's entries in the
/// query's direction (ties in arrival order).
fn into_streams(held: Vec<Held>, direction: Direction) -> Vec<Stream> {
    let mut streams: BTreeMap<Labels, Vec<(u64, StreamEntry)>> = BTreeMap::new();
    for h in held {
        let entry = StreamEntry {
            ts_ns: h.ts_ns,
            line: h.line,
            metadata: h.metadata,
            parsed: h.parsed,
        };
        streams.entry(h.labels).or_default().push((h.seq, entry));
    }
    streams
        .into_iter()
        .map(|(labels, mut entries)| {
            entries.sort_unstable_by_key(|(seq, e)| (e.ts_ns, *seq));
            if direction == Direction::Backward {
                entries.reverse();
            }
            Stream {
                labels,
                entries: entries.into_iter().map(|(_, e)| e).collect(),
            }
        })
        .collect()
}

/// How many hours the next window of a log query covers, given `read` hours read so far
/// holding `found` entries, a last window of `last` hours and `wanted` entries still
/// missing: the hours that `found / read` entries an hour would take to give `wanted`,
/// rounded up, at least one and at most twice the last window (one hour first).
fn next_hours(read: usize, found: u64, last: usize, wanted: usize) -> usize {
    if read == 0 {
        return 1;
    }
    let most = last.saturating_mul(2).max(1);
    if found == 0 {
        return most;
    }
    let per_hour = found as f64 / read as f64;
    let need = (wanted as f64 / per_hour).ceil();
    if need >= most as f64 {
        most
    } else {
        (need as usize).max(1)
    }
}

/// `[start, end)` cut at hour boundaries, in the order the direction reads them.
fn windows(start_ns: i64, end_ns: i64, direction: Direction) -> Vec<(i64, i64)> {
    let mut out = Vec::new();
    let mut from = start_ns;
    while from < end_ns {
        let next = (from.div_euclid(WINDOW_NS) + 1).saturating_mul(WINDOW_NS);
        let to = next.min(end_ns);
        out.push((from, to));
        from = to;
    }
    if direction == Direction::Backward {
        out.reverse();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_follow_hours_and_direction() {
        let h = WINDOW_NS;
        assert_eq!(
            windows(h / 2, 2 * h + 5, Direction::Forward),
            vec![(h / 2, h), (h, 2 * h), (2 * h, 2 * h + 5)]
        );
        assert_eq!(windows(0, h, Direction::Backward), vec![(0, h)]);
        assert!(windows(5, 5, Direction::Backward).is_empty());
    }

    #[test]
    fn windows_grow_while_the_limit_is_far() {
        assert_eq!(next_hours(0, 0, 0, 1000), 1, "one hour first");
        assert_eq!(next_hours(1, 0, 1, 1000), 2, "nothing found: double");
        assert_eq!(next_hours(3, 0, 2, 1000), 4);
        assert_eq!(
            next_hours(1, 45, 1, 955),
            2,
            "45 an hour: 22 hours, at most 2"
        );
        assert_eq!(next_hours(7, 315, 4, 685), 8);
        assert_eq!(next_hours(15, 675, 8, 325), 8, "8 hours at 45 an hour");
        assert_eq!(next_hours(1, 900, 1, 100), 1, "one more hour fills it");
        assert_eq!(next_hours(1, 500, 1, 500), 1);
        assert_eq!(next_hours(2, 500, 1, 500), 2);
    }
}
