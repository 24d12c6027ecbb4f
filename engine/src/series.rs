//! Series ids: a stable 64-bit hash of the canonical label set, with collisions detected and
//! resolved, never merged.
//!
//! A series' id is xxh3-64 of its canonical labels (seed 0). If that id already belongs to a
//! different label set, the next seeds (1, 2, ...) are tried until a free id or the series'
//! own id is found. Which id a colliding series got therefore depends on history, so ids are
//! persisted with their labels (WAL series records, later the partitions' series tables) and
//! restored as they were, never recomputed.

use std::collections::HashMap;
use std::sync::Arc;

use crate::Labels;

/// A series id, unique within a tenant.
pub type SeriesId = u64;

/// How ids are derived from labels; replaceable in tests to force collisions.
pub(crate) type IdHasher = fn(&Labels, u64) -> u64;

fn xxh3(labels: &Labels, seed: u64) -> u64 {
    labels.hash_with_seed(seed)
}

/// One tenant's series: id -> labels.
#[derive(Debug)]
pub(crate) struct SeriesIndex {
    by_id: HashMap<SeriesId, Arc<Labels>>,
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
            by_id: HashMap::new(),
            hasher,
        }
    }

    /// The id of `labels`: `Ok(id)` if registered, `Err(id)` with the id it would get.
    pub(crate) fn find(&self, labels: &Labels) -> Result<SeriesId, SeriesId> {
        for seed in 0.. {
            let id = (self.hasher)(labels, seed);
            match self.by_id.get(&id) {
                None => return Err(id),
                Some(existing) if **existing == *labels => return Ok(id),
                Some(_) => {} // a collision: a different series owns this id, probe on
            }
        }
        unreachable!("the probe sequence over u64 seeds always ends")
    }

    /// Registers `labels` under `id`, which [`SeriesIndex::find`] returned as free.
    pub(crate) fn insert(&mut self, id: SeriesId, labels: Labels) -> Arc<Labels> {
        let labels = Arc::new(labels);
        self.by_id.insert(id, labels.clone());
        labels
    }

    /// The id of `labels`, registering it if new. Returns `(id, labels, is_new)`.
    #[cfg(test)]
    pub(crate) fn get_or_insert(&mut self, labels: Labels) -> (SeriesId, Arc<Labels>, bool) {
        match self.find(&labels) {
            Ok(id) => (id, self.by_id[&id].clone(), false),
            Err(id) => (id, self.insert(id, labels), true),
        }
    }

    /// Restores a persisted (id, labels) pair. Returns false if the id belongs to another
    /// label set, which means the persisted data is inconsistent.
    pub(crate) fn restore(&mut self, id: SeriesId, labels: Labels) -> bool {
        match self.by_id.get(&id) {
            Some(existing) => **existing == labels,
            None => {
                self.by_id.insert(id, Arc::new(labels));
                true
            }
        }
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (SeriesId, &Arc<Labels>)> {
        self.by_id.iter().map(|(id, l)| (*id, l))
    }

    pub(crate) fn get(&self, id: SeriesId) -> Option<&Arc<Labels>> {
        self.by_id.get(&id)
    }

    pub(crate) fn len(&self) -> usize {
        self.by_id.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(v: &str) -> Labels {
        Labels::from_pairs([("__name__", "m"), ("v", v)]).unwrap()
    }

    #[test]
    fn same_labels_same_id_different_labels_different_ids() {
        let mut idx = SeriesIndex::default();
        let (a, _, new_a) = idx.get_or_insert(labels("1"));
        let (b, _, new_b) = idx.get_or_insert(labels("2"));
        let (a2, _, new_a2) = idx.get_or_insert(labels("1"));
        assert!(new_a && new_b && !new_a2);
        assert_eq!(a, a2);
        assert_ne!(a, b);
        assert_eq!(
            a,
            labels("1").hash_with_seed(0),
            "first choice is the plain hash"
        );
    }

    #[test]
    fn collisions_get_distinct_ids_and_are_never_merged() {
        // A hasher under which every series collides at seed 0.
        let mut idx = SeriesIndex::with_hasher(|_, seed| seed);
        let ids: Vec<_> = (0..50)
            .map(|i| idx.get_or_insert(labels(&i.to_string())).0)
            .collect();
        assert_eq!(ids, (0..50).collect::<Vec<u64>>());
        for (i, id) in ids.iter().enumerate() {
            assert_eq!(**idx.get(*id).unwrap(), labels(&i.to_string()));
            assert_eq!(idx.get_or_insert(labels(&i.to_string())).0, *id);
        }
        assert_eq!(idx.len(), 50);
    }

    #[test]
    fn restore_detects_an_id_owned_by_other_labels() {
        let mut idx = SeriesIndex::default();
        assert!(idx.restore(7, labels("a")));
        assert!(idx.restore(7, labels("a")));
        assert!(!idx.restore(7, labels("b")));
    }
}
