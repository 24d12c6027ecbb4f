//! Series ids: a stable 64-bit hash of the canonical label set, with collisions detected and
//! resolved, never merged.
//!
//! A series' id is xxh3-64 of its canonical labels (seed 0). If that id already belongs to a
//! different label set, the next seeds (1, 2, ...) are tried until a free id or the series'
//! own id is found. Which id a colliding series got therefore depends on history, so ids are
//! persisted with their labels (WAL series records, later the partitions' series tables) and
//! restored as they were, never recomputed.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::head::{HeadSeries, SeriesBuf};
use crate::series_key::SeriesKey;

/// A series id, unique within a tenant.
pub type SeriesId = u64;

/// How ids are derived from canonical label bytes; replaceable in tests to force collisions.
pub(crate) type IdHasher = fn(&[u8], u64) -> u64;

/// The production id hash: xxh3-64 of the canonical bytes ([`crate::Labels::hash_with_seed`]).
pub(crate) fn xxh3(bytes: &[u8], seed: u64) -> u64 {
    twox_hash::XxHash3_64::oneshot_with_seed(seed, bytes)
}

/// Hashes a [`SeriesId`] as itself: ids are already xxh3 hashes, so a second hash (SipHash,
/// std's default) is wasted work on every probe.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct IdentityHasher(u64);

impl Hasher for IdentityHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used for ids; fold anything else in so it still works.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// A map keyed by series id with the identity hash.
pub(crate) type IdMap<V> = HashMap<SeriesId, V, BuildHasherDefault<IdentityHasher>>;

/// One tenant's series: id -> labels and head state, in one map (one probe per lookup).
#[derive(Debug)]
pub(crate) struct SeriesIndex {
    by_id: IdMap<HeadSeries>,
    hasher: IdHasher,
}

impl Default for SeriesIndex {
    fn default() -> Self {
        Self::with_hasher(xxh3)
    }
}

impl SeriesIndex {
    pub(crate) fn with_hasher(hasher: IdHasher) -> Self {
        Self {
            by_id: IdMap::default(),
            hasher,
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
        self.by_id.entry(id).or_insert(HeadSeries {
            key,
            buf: SeriesBuf::default(),
        })
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
        let s = self.by_id.entry(id).or_insert_with(|| HeadSeries {
            key: SeriesKey::from_canonical(key),
            buf: SeriesBuf::default(),
        });
        (s.key.bytes() == key).then_some(s)
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
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn restore_detects_an_id_owned_by_other_labels() {
        let mut idx = SeriesIndex::default();
        assert!(idx.restore(7, labels("a").bytes()).is_some());
        assert!(idx.restore(7, labels("a").bytes()).is_some());
        assert!(idx.restore(7, labels("b").bytes()).is_none());
    }
}
