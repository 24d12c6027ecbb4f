//! One tenant's exemplars in memory: a circular buffer of at most `max_exemplars`, oldest
//! first, and each series' newest exemplar for the duplicate and order checks.
//!
//! Entries are numbered in arrival order. A flush cut takes the entries from `cut` on and
//! moves `cut` to the end; once its files are published, `published` follows, and reads of
//! memory skip the entries below it (those are in files). Entries a flush took stay in the
//! ring, so a series' newest exemplar is still known to the checks, until newer ones push
//! them out.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use crate::Labels;
use crate::model::exemplar::{Exemplar, ExemplarReject};

/// One stored exemplar and its series.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub(crate) series: Arc<Labels>,
    pub(crate) exemplar: Exemplar,
}

/// A series' newest exemplar, and how many of its exemplars the ring holds.
#[derive(Debug)]
struct Newest {
    exemplar: Exemplar,
    held: usize,
}

/// See the module docs.
#[derive(Debug, Default)]
pub(crate) struct Ring {
    entries: VecDeque<Entry>,
    /// The number of the next entry pushed.
    next: u64,
    /// Entries numbered below this were taken by a flush cut.
    cut: u64,
    /// Entries numbered below this are in published files.
    published: u64,
    newest: HashMap<Arc<Labels>, Newest>,
    /// Exemplars refused since open, by reason (for self-metrics).
    pub(crate) rejected: BTreeMap<ExemplarReject, u64>,
    /// Exemplars pushed out by newer ones over the limit since open.
    pub(crate) evicted: u64,
}

impl Ring {
    /// The ring's shared copy of `labels`, so entries of one series share one allocation.
    pub(crate) fn series(&self, labels: Labels) -> Arc<Labels> {
        match self.newest.get_key_value(&labels) {
            Some((k, _)) => k.clone(),
            None => Arc::new(labels),
        }
    }

    /// Whether `e` may follow the series' newest exemplar: `Err` with the reason if it is
    /// the same one again, or older.
    pub(crate) fn check(&self, series: &Labels, e: &Exemplar) -> Result<(), ExemplarReject> {
        let Some(newest) = self.newest.get(series) else {
            return Ok(());
        };
        if e.same(&newest.exemplar) {
            return Err(ExemplarReject::Duplicate);
        }
        if e.before(&newest.exemplar) {
            return Err(ExemplarReject::OutOfOrder);
        }
        Ok(())
    }

    /// Appends an exemplar, pushing out the oldest while the ring holds more than `max`.
    pub(crate) fn push(&mut self, series: Arc<Labels>, exemplar: Exemplar, max: usize) {
        match self.newest.get_mut(&series) {
            Some(n) => {
                n.exemplar = exemplar.clone();
                n.held += 1;
            }
            None => {
                self.newest.insert(
                    series.clone(),
                    Newest {
                        exemplar: exemplar.clone(),
                        held: 1,
                    },
                );
            }
        }
        self.entries.push_back(Entry { series, exemplar });
        self.next += 1;
        while self.entries.len() > max {
            self.pop_oldest();
        }
    }

    fn pop_oldest(&mut self) {
        let Some(old) = self.entries.pop_front() else {
            return;
        };
        let first = self.first();
        if first > self.cut {
            // An entry no flush took: gone for good, as in Prometheus.
            self.evicted += 1;
            self.cut = first;
        }
        self.published = self.published.max(first);
        if let Some(n) = self.newest.get_mut(&old.series) {
            n.held -= 1;
            if n.held == 0 {
                self.newest.remove(&old.series);
            }
        }
    }

    /// The number of the oldest entry held.
    fn first(&self) -> u64 {
        self.next - self.entries.len() as u64
    }

    /// Entries from `from` on.
    fn from(&self, from: u64) -> impl Iterator<Item = &Entry> {
        let skip = from.saturating_sub(self.first()) as usize;
        self.entries.iter().skip(skip)
    }

    /// Takes (copies) the entries no cut took yet; they stay readable until published.
    pub(crate) fn cut(&mut self) -> Vec<Entry> {
        let taken = self.from(self.cut).cloned().collect();
        self.cut = self.next;
        taken
    }

    /// After a failed flush: the entries of its cut are to be taken again.
    pub(crate) fn restore(&mut self) {
        self.cut = self.published.max(self.first());
    }

    /// After a committed flush: the entries its cut took are in published files.
    pub(crate) fn publish(&mut self) {
        self.published = self.cut;
    }

    /// Entries not in published files with a timestamp in `[start, end]` whose series
    /// passes `keep`.
    pub(crate) fn select(
        &self,
        start: i64,
        end: i64,
        keep: impl Fn(&Labels) -> bool,
    ) -> Vec<Entry> {
        self.from(self.published)
            .filter(|e| (start..=end).contains(&e.exemplar.ts) && keep(&e.series))
            .cloned()
            .collect()
    }

    /// Exemplars held in memory.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(name: &str) -> Labels {
        Labels::from_pairs([("__name__", name)]).unwrap()
    }

    fn ex(ts: i64, value: f64) -> Exemplar {
        Exemplar {
            labels: vec![],
            ts,
            value,
        }
    }

    #[test]
    fn over_the_limit_the_oldest_go_and_the_rest_stay_readable() {
        let mut r = Ring::default();
        for i in 0..10 {
            let s = r.series(labels(if i % 2 == 0 { "a" } else { "b" }));
            r.push(s, ex(i, i as f64), 4);
        }
        let got: Vec<i64> = r
            .select(0, 100, |_| true)
            .iter()
            .map(|e| e.exemplar.ts)
            .collect();
        assert_eq!(got, vec![6, 7, 8, 9]);
        assert_eq!(r.evicted, 6);
        assert_eq!(r.len(), 4);
    }

    #[test]
    fn duplicates_and_older_exemplars_are_refused_per_series() {
        let mut r = Ring::default();
        let a = r.series(labels("a"));
        r.push(a.clone(), ex(10, 1.0), 100);
        assert_eq!(r.check(&a, &ex(10, 1.0)), Err(ExemplarReject::Duplicate));
        assert_eq!(r.check(&a, &ex(9, 5.0)), Err(ExemplarReject::OutOfOrder));
        assert_eq!(r.check(&a, &ex(10, 0.5)), Err(ExemplarReject::OutOfOrder));
        assert_eq!(r.check(&a, &ex(11, 0.5)), Ok(()));
        assert_eq!(r.check(&labels("b"), &ex(1, 0.5)), Ok(()));
    }

    #[test]
    fn a_cut_takes_each_entry_once_and_reads_skip_published_ones() {
        let mut r = Ring::default();
        let a = r.series(labels("a"));
        r.push(a.clone(), ex(1, 1.0), 100);
        r.push(a.clone(), ex(2, 1.0), 100);
        assert_eq!(r.cut().len(), 2);
        assert_eq!(
            r.select(0, 10, |_| true).len(),
            2,
            "readable until published"
        );
        r.restore();
        assert_eq!(r.cut().len(), 2, "a failed flush's entries are taken again");
        r.publish();
        assert!(r.select(0, 10, |_| true).is_empty());
        r.push(a.clone(), ex(3, 1.0), 100);
        assert_eq!(r.cut().len(), 1);
        // The published entries still guard the series' order.
        assert_eq!(r.check(&a, &ex(3, 1.0)), Err(ExemplarReject::Duplicate));
    }
}
