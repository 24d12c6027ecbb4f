//! Decoded samples pages kept between queries, up to a byte budget.
//!
//! A samples page holds 8,192 rows, zstd-compressed with byte-stream-split values and
//! delta-encoded times; a query wanting a few samples of a series decodes the whole page.
//! Dashboards repeat the same queries over the same recent pages, so decoded pages are kept
//! (16 bytes per row plus 16 per run of one series), keyed by file set and first row, and
//! the least recently used are dropped when the budget is exceeded; a read decoding more
//! than a quarter of the budget keeps nothing (see [`PageCache::admits`]). Files are immutable, so
//! an entry never goes stale; a retired file's entries age out.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::model::series::SeriesId;

/// One decoded page: its rows' series as runs, times and values.
#[derive(Debug, Default)]
pub(crate) struct Page {
    /// (series id, end row) of each run of rows of one series, in row order.
    pub(crate) runs: Vec<(SeriesId, u32)>,
    pub(crate) ts: Vec<i64>,
    pub(crate) values: Vec<f64>,
}

impl Page {
    /// Appends a row (rows come sorted by series).
    pub(crate) fn push(&mut self, id: SeriesId, ts: i64, value: f64) {
        let row = self.ts.len() as u32;
        match self.runs.last_mut() {
            Some((last, end)) if *last == id => *end = row + 1,
            _ => self.runs.push((id, row + 1)),
        }
        self.ts.push(ts);
        self.values.push(value);
    }

    /// Rows held.
    pub(crate) fn len(&self) -> usize {
        self.ts.len()
    }

    /// Bytes this page holds in memory (approximately).
    fn bytes(&self) -> u64 {
        (self.runs.capacity() * 16 + self.ts.capacity() * 8 + self.values.capacity() * 8 + 64)
            as u64
    }

    /// Hands the rows of each series in `ids` (sorted) with `ts` in `[start, end]` to
    /// `visit`, a run of one series' times and values at a time, returning how many rows
    /// there were.
    pub(crate) fn visit(
        &self,
        ids: &[SeriesId],
        start: i64,
        end: i64,
        visit: &mut impl FnMut(SeriesId, &[i64], &[f64]),
    ) -> u64 {
        let mut n = 0;
        let mut from = 0usize;
        for &(id, to) in &self.runs {
            let to = to as usize;
            if ids.binary_search(&id).is_ok() {
                let run = &self.ts[from..to];
                let lo = from + run.partition_point(|&t| t < start);
                let hi = from + run.partition_point(|&t| t <= end);
                if lo < hi {
                    visit(id, &self.ts[lo..hi], &self.values[lo..hi]);
                    n += (hi - lo) as u64;
                }
            }
            from = to;
        }
        n
    }
}

/// A key: a file set's [`crate::storage::partition::file_uid`] and the page's first row in the file.
type Key = (u64, u64);

/// The cache; see the module docs.
#[derive(Debug)]
pub(crate) struct PageCache {
    budget: u64,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    pages: HashMap<Key, (Arc<Page>, u64)>,
    bytes: u64,
    clock: u64,
}

impl PageCache {
    /// A cache holding at most `budget` bytes (0: nothing is kept).
    pub(crate) fn new(budget: u64) -> Self {
        Self {
            budget,
            inner: Mutex::default(),
        }
    }

    /// Whether pages are kept at all.
    pub(crate) fn enabled(&self) -> bool {
        self.budget > 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // Every update leaves the map and its byte count consistent; keep serving.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Drops every page; returns the bytes they held.
    pub(crate) fn clear(&self) -> u64 {
        let mut inner = self.lock();
        let bytes = inner.bytes;
        inner.pages = HashMap::new();
        inner.bytes = 0;
        bytes
    }

    /// The bytes the kept pages hold.
    pub(crate) fn bytes(&self) -> u64 {
        self.lock().bytes
    }

    /// Whether a read decoding `rows` rows keeps them: a read of more than a quarter of the
    /// budget would push out everything else and not fit again next time (a least recently
    /// used cache keeps nothing of a scan larger than itself), so it bypasses the cache.
    pub(crate) fn admits(&self, rows: u64) -> bool {
        rows.saturating_mul(16) <= self.budget / 4
    }

    /// The page of file set `file` starting at row `row`, if kept.
    pub(crate) fn get(&self, file: u64, row: u64) -> Option<Arc<Page>> {
        let mut inner = self.lock();
        inner.clock += 1;
        let now = inner.clock;
        let (page, used) = inner.pages.get_mut(&(file, row))?;
        *used = now;
        Some(page.clone())
    }

    /// Keeps `page`, dropping the least recently used pages while over the budget.
    pub(crate) fn insert(&self, file: u64, row: u64, page: Arc<Page>) {
        let size = page.bytes();
        if size > self.budget / 4 {
            return;
        }
        let mut inner = self.lock();
        inner.clock += 1;
        let now = inner.clock;
        if let Some((old, _)) = inner.pages.insert((file, row), (page, now)) {
            inner.bytes -= old.bytes();
        }
        inner.bytes += size;
        if inner.bytes > self.budget {
            // Down to 7/8 of the budget at once, so eviction runs once per many inserts.
            let mut by_age: Vec<(u64, Key, u64)> = inner
                .pages
                .iter()
                .map(|(k, (p, used))| (*used, *k, p.bytes()))
                .collect();
            by_age.sort_unstable();
            let target = self.budget / 8 * 7;
            for (_, k, b) in by_age {
                if inner.bytes <= target {
                    break;
                }
                inner.pages.remove(&k);
                inner.bytes -= b;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(rows: usize) -> Arc<Page> {
        let mut p = Page::default();
        for i in 0..rows {
            p.push((i / 10) as u64, i as i64, i as f64);
        }
        Arc::new(p)
    }

    #[test]
    fn keeps_recently_used_pages_within_the_budget() {
        let one = page(1000).bytes();
        let cache = PageCache::new(one * 4);
        for row in 0..4 {
            cache.insert(1, row, page(1000));
        }
        assert!(cache.get(1, 0).is_some());
        cache.insert(1, 4, page(1000));
        // Over budget: the least recently used go first, page 0 was just used.
        assert!(cache.get(1, 0).is_some());
        assert!(cache.get(1, 1).is_none());
        assert!(cache.get(1, 4).is_some());
        assert!(cache.lock().bytes <= one * 4);
    }

    #[test]
    fn a_read_of_more_than_a_quarter_of_the_budget_bypasses_it() {
        let cache = PageCache::new(16 * 4096);
        assert!(cache.admits(1024));
        assert!(!cache.admits(1025));
        assert!(!PageCache::new(0).admits(1));
    }

    #[test]
    fn visits_wanted_series_in_the_time_range() {
        let p = page(100);
        let mut got = Vec::new();
        let n = p.visit(&[2, 5], 22, 51, &mut |id, ts, vs| {
            assert_eq!(ts.len(), vs.len());
            got.extend(ts.iter().map(|&t| (id, t)));
        });
        assert_eq!(n, 8 + 2);
        let want: Vec<(u64, i64)> = (22..30).map(|t| (2, t)).chain([(5, 50), (5, 51)]).collect();
        assert_eq!(got, want);
    }
}
