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
//! A writer whose requests carry a table of strings and series as references into it
//! (remote-write 2.0's symbols) remembers series by their labels instead
//! ([`RawKeys::insert_labels`]): each label string gets a number, a series is remembered
//! as its numbers, and a request's series are found by numbering its table once and
//! comparing numbers ([`RawKeys::string_ids`], [`RawKeys::get_by_strings`]), so no series
//! key is built or compared byte by byte. Numbers are exact (a string is numbered only if
//! no other string has its hash), so equal numbers are equal labels.

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

/// One tenant's raw key -> series id map, and its label strings' numbers.
#[derive(Debug)]
pub(crate) struct RawKeys {
    /// xxh3 of the raw bytes -> (the bytes, the id). A second key with the same hash is
    /// not cached (it takes the full path every time): exact, and vanishingly rare.
    map: IdMap<(Box<[u8]>, SeriesId)>,
    /// xxh3 of a label string -> (the string, its number). A second string with the same
    /// hash gets no number, and a series with it is not remembered: exact, as `map` is.
    strings: IdMap<(Box<str>, u32)>,
    /// [`ids_hash`] of a series' label numbers (name, value, name, value ...) -> (the
    /// numbers, the series).
    by_strings: IdMap<(Box<[u32]>, SeriesId)>,
    bytes: usize,
    owner: u64,
}

impl Default for RawKeys {
    fn default() -> Self {
        Self {
            map: HashMap::default(),
            strings: HashMap::default(),
            by_strings: HashMap::default(),
            bytes: 0,
            owner: OWNERS.fetch_add(1, Ordering::Relaxed),
        }
    }
}

/// A string [`RawKeys::string_ids`] has no number for.
pub(crate) const NO_STRING: u32 = u32::MAX;

/// The hash a series' label numbers are filed under: two numbers at a time into a
/// multiply-rotate chain, then murmur3's finaliser (the map takes it as it is).
pub(crate) fn ids_hash(ids: &[u32]) -> u64 {
    let mut h: u64 = 0x2D35_8DCC_AA6C_78A5 ^ ids.len() as u64;
    for pair in ids.chunks(2) {
        let x = (u64::from(pair[0]) << 32) | u64::from(*pair.get(1).unwrap_or(&NO_STRING));
        h = (h ^ x).wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(29);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
    h ^= h >> 33;
    h = h.wrapping_mul(0xC4CE_B9FE_1A85_EC53);
    h ^ (h >> 33)
}

/// xxh3 of a raw key or a label string: what `map` and `strings` are keyed by.
fn hash(raw: &[u8]) -> u64 {
    twox_hash::XxHash3_64::oneshot(raw)
}

impl RawKeys {
    /// The series stored under `raw`, if any.
    pub(crate) fn get(&self, raw: &[u8]) -> Option<KnownSeries> {
        match self.map.get(&hash(raw)) {
            Some((bytes, id)) if **bytes == *raw => Some(KnownSeries {
                id: *id,
                owner: self.owner,
            }),
            _ => None,
        }
    }

    /// Each of `strings`' number ([`NO_STRING`] if it has none), onto `out`.
    pub(crate) fn string_ids(&self, strings: &[&str], out: &mut Vec<u32>) {
        out.extend(
            strings
                .iter()
                .map(|s| match self.strings.get(&hash(s.as_bytes())) {
                    Some((known, n)) if **known == **s => *n,
                    _ => NO_STRING,
                }),
        );
    }

    /// The series remembered by the label numbers `ids` (name, value, name, value ...), if
    /// any.
    #[cfg(test)]
    pub(crate) fn get_by_strings(&self, ids: &[u32]) -> Option<KnownSeries> {
        self.get_by_strings_hashed(ids_hash(ids), ids)
    }

    /// [`RawKeys::get_by_strings`] with `ids`' [`ids_hash`] computed already.
    pub(crate) fn get_by_strings_hashed(&self, hash: u64, ids: &[u32]) -> Option<KnownSeries> {
        match self.by_strings.get(&hash) {
            Some((known, id)) if **known == *ids => Some(KnownSeries {
                id: *id,
                owner: self.owner,
            }),
            _ => None,
        }
    }

    /// Makes room for `more` bytes: past [`MAX_BYTES`], everything is forgotten.
    fn room(&mut self, more: usize) {
        if self.bytes + more > MAX_BYTES {
            self.map.clear();
            self.strings.clear();
            self.by_strings.clear();
            self.bytes = 0;
        }
    }

    /// Remembers the series `id` (already in the head) by its labels, in the order a
    /// writer will list them; not at all if a string's hash is another string's.
    pub(crate) fn insert_labels(&mut self, labels: &[(&str, &str)], id: SeriesId) {
        let size: usize = labels.iter().map(|(n, v)| n.len() + v.len() + 16).sum();
        self.room(size + labels.len() * 8);
        let mut ids = Vec::with_capacity(labels.len() * 2);
        for s in labels.iter().flat_map(|(n, v)| [*n, *v]) {
            let next = u32::try_from(self.strings.len()).unwrap_or(NO_STRING);
            let entry = self.strings.entry(hash(s.as_bytes()));
            let n = match entry {
                std::collections::hash_map::Entry::Occupied(e) if *e.get().0 == *s => e.get().1,
                std::collections::hash_map::Entry::Occupied(_) => return,
                std::collections::hash_map::Entry::Vacant(e) => {
                    if next == NO_STRING {
                        return;
                    }
                    e.insert((s.into(), next));
                    self.bytes += s.len() + 16;
                    next
                }
            };
            ids.push(n);
        }
        if let std::collections::hash_map::Entry::Vacant(e) = self.by_strings.entry(ids_hash(&ids))
        {
            self.bytes += ids.len() * 4 + 8;
            e.insert((ids.into(), id));
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

    /// Remembers `raw` for the series `id` (already in the head).
    pub(crate) fn insert(&mut self, raw: &[u8], id: SeriesId) {
        if raw.is_empty() {
            return;
        }
        self.room(raw.len());
        if let std::collections::hash_map::Entry::Vacant(e) = self.map.entry(hash(raw)) {
            e.insert((raw.into(), id));
            self.bytes += raw.len();
        }
    }

    /// Bytes it holds: the raw keys, the strings, the numbers and the maps' tables.
    pub(crate) fn memory_bytes(&self) -> usize {
        let table = |cap: usize, entry: usize| cap * (entry + 1);
        self.bytes
            + table(
                self.map.capacity(),
                std::mem::size_of::<(u64, (Box<[u8]>, SeriesId))>(),
            )
            + table(
                self.strings.capacity(),
                std::mem::size_of::<(u64, (Box<str>, u32))>(),
            )
            + table(
                self.by_strings.capacity(),
                std::mem::size_of::<(u64, (Box<[u32]>, SeriesId))>(),
            )
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
        keys.insert(b"a=1", 7);
        assert_eq!(keys.get(b"a=1").map(|k| k.id), Some(7));
        assert_eq!(keys.get(b"a=2"), None);
        let other = RawKeys::default();
        assert!(!other.owns(keys.get(b"a=1").expect("hit")));
        // Filling past the budget clears, so memory stays bounded.
        let big = vec![b'x'; MAX_BYTES / 4 + 1];
        for i in 0..4u8 {
            let mut k = big.clone();
            k[0] = i;
            keys.insert(&k, u64::from(i));
        }
        assert!(keys.bytes <= MAX_BYTES, "{}", keys.bytes);
        assert!(keys.len() < 5);
    }

    /// The numbers of `strings`.
    fn ids(keys: &RawKeys, strings: &[&str]) -> Vec<u32> {
        let mut out = Vec::new();
        keys.string_ids(strings, &mut out);
        out
    }

    #[test]
    fn series_by_label_numbers_are_exact_and_ordered() {
        let mut keys = RawKeys::default();
        keys.insert_labels(&[("__name__", "up"), ("job", "a")], 1);
        keys.insert_labels(&[("__name__", "up"), ("job", "b")], 2);
        // A table in another order numbers the same strings the same way.
        let table = ["b", "job", "up", "__name__", "a", "zone"];
        let n = ids(&keys, &table);
        assert_eq!(n[5], NO_STRING, "never remembered");
        let series = |refs: &[usize]| refs.iter().map(|&r| n[r]).collect::<Vec<_>>();
        let find = |refs: &[usize]| keys.get_by_strings(&series(refs)).map(|k| k.id);
        assert_eq!(find(&[3, 2, 1, 4]), Some(1));
        assert_eq!(find(&[3, 2, 1, 0]), Some(2));
        // Labels in another order, a label missing, a value swapped for a name: unknown.
        assert_eq!(find(&[1, 4, 3, 2]), None);
        assert_eq!(find(&[3, 2]), None);
        assert_eq!(find(&[3, 2, 1, 1]), None);
        // The byte keys live beside them, and the budget clears both.
        keys.insert(b"k", 3);
        assert_eq!(keys.get(b"k").map(|k| k.id), Some(3));
        let long = "x".repeat(MAX_BYTES / 2);
        keys.insert_labels(&[("big", &long)], 4);
        keys.insert_labels(&[("big2", &long)], 5);
        assert!(keys.bytes <= MAX_BYTES, "{}", keys.bytes);
        assert_eq!(keys.get(b"k"), None);
        assert_eq!(ids(&keys, &["__name__"]), [NO_STRING]);
    }
}
