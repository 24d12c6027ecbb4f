//! A per-tenant map from a writer's raw label bytes to series ids, so a writer that sees
//! the same series again and again (remote-write: the same `TimeSeries` labels every
//! scrape) can skip decoding, validating and canonicalising its labels.
//!
//! The raw bytes are opaque to the engine: any encoding that determines the label set works
//! (remote-write passes the protobuf bytes of a `TimeSeries`' label fields). Entries are
//! added only for series the head accepted, so a hit is a series that exists and passed
//! the label checks. Lookups compare the bytes, never only a hash. Memory is bounded by
//! [`MAX_BYTES`]: past it the map is cleared and refills from the next writes.
//!
//! An entry is filed under the xxh3 of its bytes, or under a hash the writer computes its
//! own way ([`RawKeys::get_hashed`]): remote-write 2.0 combines per-symbol hashes, so a
//! series it knows is found, and checked against the stored bytes, without building its
//! key. Both kinds share one map; a lookup still compares the bytes, so a hash of one kind
//! equal to one of the other is a miss, never a wrong series.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::model::series::{IdMap, SeriesId};

/// Raw key bytes held per tenant before the map is cleared.
pub(crate) const MAX_BYTES: usize = 16 << 20;

/// A series the engine already knows for a tenant, from [`crate::Engine::known_series`]:
/// pass it to [`crate::Engine::write_keyed`] to skip the labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownSeries {
    pub(crate) id: SeriesId,
    /// The [`RawKeys::owner`] of the tenant head it came from.
    pub(crate) owner: u64,
}

/// Source of [`RawKeys::owner`] values: unique per tenant head in the process.
static OWNERS: AtomicU64 = AtomicU64::new(1);

/// One tenant's raw key -> series id map.
#[derive(Debug)]
pub(crate) struct RawKeys {
    /// xxh3 of the raw bytes -> (the bytes, the id). A second key with the same hash is
    /// not cached (it takes the full path every time): exact, and vanishingly rare.
    map: IdMap<(Box<[u8]>, SeriesId)>,
    bytes: usize,
    owner: u64,
}

impl Default for RawKeys {
    fn default() -> Self {
        Self {
            map: HashMap::default(),
            bytes: 0,
            owner: OWNERS.fetch_add(1, Ordering::Relaxed),
        }
    }
}

/// The hash an entry is filed under when the writer gives none.
pub(crate) fn hash(raw: &[u8]) -> u64 {
    twox_hash::XxHash3_64::oneshot(raw)
}

impl RawKeys {
    /// The series stored under `raw`, if any.
    pub(crate) fn get(&self, raw: &[u8]) -> Option<KnownSeries> {
        self.get_hashed(hash(raw), |bytes| bytes == raw)
    }

    /// The series filed under `hash` whose stored bytes `same` accepts, if any.
    pub(crate) fn get_hashed(
        &self,
        hash: u64,
        same: impl FnOnce(&[u8]) -> bool,
    ) -> Option<KnownSeries> {
        match self.map.get(&hash) {
            Some((bytes, id)) if same(bytes) => Some(KnownSeries {
                id: *id,
                owner: self.owner,
            }),
            _ => None,
        }
    }

    /// Whether `known` came from this map's tenant.
    #[cfg(test)]
    pub(crate) fn owns(&self, known: KnownSeries) -> bool {
        known.owner == self.owner
    }

    /// The id [`KnownSeries`] from this map carry.
    pub(crate) fn owner(&self) -> u64 {
        self.owner
    }

    /// Remembers `raw` for the series `id` (already in the head), under `hash` (`None`: the
    /// xxh3 of `raw`).
    pub(crate) fn insert(&mut self, raw: &[u8], hash: Option<u64>, id: SeriesId) {
        if raw.is_empty() {
            return;
        }
        if self.bytes + raw.len() > MAX_BYTES {
            self.map.clear();
            self.bytes = 0;
        }
        let h = hash.unwrap_or_else(|| self::hash(raw));
        if let std::collections::hash_map::Entry::Vacant(e) = self.map.entry(h) {
            e.insert((raw.into(), id));
            self.bytes += raw.len();
        }
    }

    /// Bytes it holds: the raw keys and the map's table.
    pub(crate) fn memory_bytes(&self) -> usize {
        self.bytes + self.map.capacity() * (std::mem::size_of::<(u64, (Box<[u8]>, SeriesId))>() + 1)
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hits_need_equal_bytes_and_the_map_stays_under_its_budget() {
        let mut keys = RawKeys::default();
        keys.insert(b"a=1", None, 7);
        assert_eq!(keys.get(b"a=1").map(|k| k.id), Some(7));
        assert_eq!(keys.get(b"a=2"), None);
        // A writer's own hash: found only under it, and only if the bytes agree.
        keys.insert(b"b=2", Some(42), 8);
        assert_eq!(keys.get_hashed(42, |b| b == b"b=2").map(|k| k.id), Some(8));
        assert_eq!(keys.get_hashed(42, |b| b == b"b=3"), None);
        assert_eq!(keys.get(b"b=2"), None);
        let h = hash(b"a=1");
        assert_eq!(keys.get_hashed(h, |b| b == b"a=1").map(|k| k.id), Some(7));
        assert_eq!(keys.get_hashed(h, |b| b == b"a=2"), None);
        let other = RawKeys::default();
        assert!(!other.owns(keys.get(b"a=1").expect("hit")));
        // Filling past the budget clears, so memory stays bounded.
        let big = vec![b'x'; MAX_BYTES / 4 + 1];
        for i in 0..4u8 {
            let mut k = big.clone();
            k[0] = i;
            keys.insert(&k, None, u64::from(i));
        }
        assert!(keys.bytes <= MAX_BYTES, "{}", keys.bytes);
        assert!(keys.len() < 5);
    }
}
