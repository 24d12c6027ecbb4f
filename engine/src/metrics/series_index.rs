//! One tenant's series in the head: id -> labels and head state, ids assigned (and
//! collisions resolved) as `model::series` describes.

use std::collections::hash_map::Entry;

use crate::Matcher;
use crate::metrics::postings::Postings;
use crate::metrics::series::{HeadSeries, SeriesBuf};
use crate::model::series::{IdHasher, IdMap, SeriesId, series_id};
use crate::model::series_key::SeriesKey;

/// One tenant's series: id -> labels and head state, in one map (one probe per lookup).
#[derive(Debug)]
pub(crate) struct SeriesIndex {
    by_id: IdMap<HeadSeries>,
    hasher: IdHasher,
    /// Bytes of the series' key allocations (label bytes and the `Arc` counts).
    key_bytes: usize,
    /// Label name and value -> series, kept with every insert.
    postings: Postings,
}

impl Default for SeriesIndex {
    fn default() -> Self {
        Self::with_hasher(series_id)
    }
}

impl SeriesIndex {
    pub(crate) fn with_hasher(hasher: IdHasher) -> Self {
        Self {
            by_id: IdMap::default(),
            hasher,
            key_bytes: 0,
            postings: Postings::default(),
        }
    }

    /// The id of the series with canonical bytes `key`: `Ok(id)` if registered, `Err(id)`
    /// with the id it would get.
    #[cfg(test)]
    pub(crate) fn find(&self, key: &[u8]) -> Result<SeriesId, SeriesId> {
        self.find_hashed(key, (self.hasher)(key, 0))
    }

    /// [`SeriesIndex::find`] with the seed-0 hash already computed (outside the lock).
    pub(crate) fn find_hashed(&self, key: &[u8], first: u64) -> Result<SeriesId, SeriesId> {
        debug_assert_eq!(first, (self.hasher)(key, 0));
        let mut id = first;
        for seed in 1.. {
            match self.by_id.get(&id) {
                None => return Err(id),
                Some(existing) if existing.key.bytes() == key => return Ok(id),
                Some(_) => {} // a collision: a different series owns this id, probe on
            }
            id = (self.hasher)(key, seed);
        }
        unreachable!("the probe sequence over u64 seeds always ends")
    }

    /// Registers `key` under `id`, which [`SeriesIndex::find_hashed`] returned as free.
    pub(crate) fn insert(&mut self, id: SeriesId, key: SeriesKey) -> &mut HeadSeries {
        match self.by_id.entry(id) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => {
                self.key_bytes += key.alloc_bytes();
                self.postings.add(id, &key);
                e.insert(HeadSeries {
                    key,
                    buf: SeriesBuf::default(),
                })
            }
        }
    }

    /// The id of `key`, registering it if new. Returns `(id, is_new)`.
    #[cfg(test)]
    pub(crate) fn get_or_insert(&mut self, key: &SeriesKey) -> (SeriesId, bool) {
        match self.find(key.bytes()) {
            Ok(id) => (id, false),
            Err(id) => {
                self.insert(id, key.clone());
                (id, true)
            }
        }
    }

    /// Restores a persisted (id, labels) pair. Returns `None` if the id belongs to another
    /// label set, which means the persisted data is inconsistent.
    pub(crate) fn restore(&mut self, id: SeriesId, key: &[u8]) -> Option<&mut HeadSeries> {
        let s = match self.by_id.entry(id) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => {
                let key = SeriesKey::from_canonical(key);
                self.key_bytes += key.alloc_bytes();
                self.postings.add(id, &key);
                e.insert(HeadSeries {
                    key,
                    buf: SeriesBuf::default(),
                })
            }
        };
        (s.key.bytes() == key).then_some(s)
    }

    /// The ids of the series whose labels pass every matcher (PromQL's semantics: an
    /// absent label matches as `""`), through the postings: the cost follows the series
    /// and label values the matchers touch, not the series in the index.
    pub(crate) fn select(&self, matchers: &[Matcher]) -> Vec<SeriesId> {
        self.postings.select(matchers, |id, m| {
            self.by_id
                .get(&id)
                .is_some_and(|s| m.matches_value(s.key.get(m.name()).unwrap_or("")))
        })
    }

    /// [`SeriesIndex::select`] as the series' postings slots, ascending.
    pub(crate) fn select_slots(&self, matchers: &[Matcher]) -> Vec<crate::metrics::postings::Slot> {
        self.postings.select_slots(matchers, |id, m| {
            self.by_id
                .get(&id)
                .is_some_and(|s| m.matches_value(s.key.get(m.name()).unwrap_or("")))
        })
    }

    /// The postings: label names and values with their series.
    pub(crate) fn postings(&self) -> &Postings {
        &self.postings
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (SeriesId, &HeadSeries)> {
        self.by_id.iter().map(|(id, s)| (*id, s))
    }

    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = (SeriesId, &mut HeadSeries)> {
        self.by_id.iter_mut().map(|(id, s)| (*id, s))
    }

    pub(crate) fn get(&self, id: SeriesId) -> Option<&HeadSeries> {
        self.by_id.get(&id)
    }

    pub(crate) fn get_mut(&mut self, id: SeriesId) -> Option<&mut HeadSeries> {
        self.by_id.get_mut(&id)
    }

    pub(crate) fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Bytes of the map's table: every bucket (id and [`HeadSeries`]) and its control byte.
    pub(crate) fn table_bytes(&self) -> usize {
        self.by_id.capacity() * (std::mem::size_of::<(SeriesId, HeadSeries)>() + 1)
    }

    /// Bytes of the series' keys.
    pub(crate) fn key_bytes(&self) -> usize {
        self.key_bytes
    }

    /// Bytes of the postings (see [`Postings::memory_bytes`]).
    pub(crate) fn postings_bytes(&self) -> usize {
        self.postings.memory_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::BuildHasherDefault;

    use crate::model::series::{IdMixHasher, LABEL_BITS};

    use crate::Labels;

    fn labels(v: &str) -> SeriesKey {
        SeriesKey::from_labels(&Labels::from_pairs([("__name__", "m"), ("v", v)]).unwrap())
    }

    #[test]
    fn same_labels_same_id_different_labels_different_ids() {
        let mut idx = SeriesIndex::default();
        let (a, new_a) = idx.get_or_insert(&labels("1"));
        let (b, new_b) = idx.get_or_insert(&labels("2"));
        let (a2, new_a2) = idx.get_or_insert(&labels("1"));
        assert!(new_a && new_b && !new_a2);
        assert_eq!(a, a2);
        assert_ne!(a, b);
        assert_eq!(
            a,
            labels("1").to_labels().hash_with_seed(0),
            "first choice is the plain hash"
        );
    }

    #[test]
    fn collisions_get_distinct_ids_and_are_never_merged() {
        // A hasher under which every series collides at seed 0.
        let mut idx = SeriesIndex::with_hasher(|_, seed| seed);
        let ids: Vec<_> = (0..50)
            .map(|i| idx.get_or_insert(&labels(&i.to_string())).0)
            .collect();
        assert_eq!(ids, (0..50).collect::<Vec<u64>>());
        for (i, id) in ids.iter().enumerate() {
            assert_eq!(idx.get(*id).unwrap().key, labels(&i.to_string()));
            assert_eq!(idx.get_or_insert(&labels(&i.to_string())).0, *id);
        }
        assert_eq!(idx.len(), 50);
    }

    fn key(metric: &str, v: &str) -> SeriesKey {
        SeriesKey::from_labels(&Labels::from_pairs([("__name__", metric), ("v", v)]).unwrap())
    }

    #[test]
    fn a_metrics_ids_share_their_top_bits_and_sort_together() {
        let mut idx = SeriesIndex::default();
        let mut ids: Vec<(SeriesId, &str)> = Vec::new();
        for i in 0..2_000 {
            for m in ["a", "b", "c"] {
                ids.push((idx.get_or_insert(&key(m, &i.to_string())).0, m));
            }
        }
        for m in ["a", "b", "c"] {
            let tops: std::collections::HashSet<_> = ids
                .iter()
                .filter(|(_, n)| *n == m)
                .map(|(id, _)| id >> LABEL_BITS)
                .collect();
            assert_eq!(tops.len(), 1, "metric {m}: {tops:?}");
        }
        // Sorted by id, each metric is one run; the low bits still differ per series.
        ids.sort();
        let runs = 1 + ids.windows(2).filter(|w| w[0].1 != w[1].1).count();
        assert_eq!(runs, 3);
        let lows: std::collections::HashSet<_> = ids
            .iter()
            .map(|(id, _)| id & ((1 << LABEL_BITS) - 1))
            .collect();
        assert_eq!(lows.len(), ids.len());
    }

    #[test]
    fn the_map_hash_spreads_one_metrics_ids_over_control_bits_and_buckets() {
        let build = BuildHasherDefault::<IdMixHasher>::default();
        let hash = |id: SeriesId| {
            use std::hash::BuildHasher;
            build.hash_one(id)
        };
        let ids: Vec<SeriesId> = (0..4_096)
            .map(|i| series_id(key("m", &i.to_string()).bytes(), 0))
            .collect();
        // hashbrown: the top 7 bits are the control byte, the low bits the bucket.
        let tags: std::collections::HashSet<_> = ids.iter().map(|&id| hash(id) >> 57).collect();
        let buckets: std::collections::HashSet<_> =
            ids.iter().map(|&id| hash(id) & 0xFFF).collect();
        assert_eq!(tags.len(), 128, "every control byte is used");
        assert!(buckets.len() > 2_000, "{} of 4096 buckets", buckets.len());
    }

    #[test]
    fn restore_detects_an_id_owned_by_other_labels() {
        let mut idx = SeriesIndex::default();
        assert!(idx.restore(7, labels("a").bytes()).is_some());
        assert!(idx.restore(7, labels("a").bytes()).is_some());
        assert!(idx.restore(7, labels("b").bytes()).is_none());
    }
}
