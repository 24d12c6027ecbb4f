//! Series ids: a stable 64-bit hash of the canonical label set, with collisions detected and
//! resolved, never merged.
//!
//! A series' id has two parts (data format 2, `docs/formats/partitions.md`): the top
//! [`METRIC_BITS`] bits are xxh3-64 of the metric name, the low [`LABEL_BITS`] bits xxh3-64 of
//! the canonical label set (seed 0). Samples files are sorted by id, so a metric's series are
//! contiguous in them and the page index on `series_id` prunes pages per metric. If an id
//! already belongs to a different label set, the next seeds (1, 2, ...) replace the low part
//! until a free id or the series' own id is found. Which id a colliding series got therefore depends on history, so ids are
//! persisted with their labels (WAL series records, later the partitions' series tables) and
//! restored as they were, never recomputed.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A series id, unique within a tenant.
pub type SeriesId = u64;

/// How ids are derived from canonical label bytes; replaceable in tests to force collisions.
pub(crate) type IdHasher = fn(&[u8], u64) -> u64;

/// Bits of an id taken from the metric name's hash.
pub(crate) const METRIC_BITS: u32 = 24;
/// Bits of an id taken from the label set's hash.
pub(crate) const LABEL_BITS: u32 = 64 - METRIC_BITS;

/// The production id: the metric name's hash on top, the label set's hash (with `seed`)
/// below. `bytes` are canonical label bytes ([`crate::Labels::hash_with_seed`]).
pub(crate) fn series_id(bytes: &[u8], seed: u64) -> u64 {
    let metric = crate::model::series_key::canonical_metric(bytes);
    let hi = twox_hash::XxHash3_64::oneshot(metric.as_bytes()) >> LABEL_BITS;
    let lo = twox_hash::XxHash3_64::oneshot_with_seed(seed, bytes) & ((1 << LABEL_BITS) - 1);
    hi << LABEL_BITS | lo
}

/// Multiplier of [`IdMixHasher`] (2^64 / golden ratio, odd).
pub(crate) const MIX: u64 = 0x9E37_79B9_7F4A_7C15;

/// Hashes a [`SeriesId`] with one multiplication. Ids are already hashes, but the series of
/// one metric share their top bits, and hashbrown takes its control bits from the top of the
/// hash: the multiplication carries the random low bits into the top ones, and keeps the
/// low bits (the bucket) a bijection of the id's random low bits. SipHash (std's default)
/// would be wasted work on every probe.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct IdMixHasher(u64);

impl Hasher for IdMixHasher {
    fn finish(&self) -> u64 {
        self.0.wrapping_mul(MIX)
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

/// A map keyed by series id (or another hash) with [`IdMixHasher`].
pub(crate) type IdMap<V> = HashMap<SeriesId, V, BuildHasherDefault<IdMixHasher>>;

impl crate::Labels {
    /// The series id these labels get with `seed` (0 for a series' first-choice id; others
    /// after a collision): xxh3-64 of the metric name in the top 24 bits, xxh3-64 of the
    /// canonical bytes with `seed` in the low 40.
    pub fn hash_with_seed(&self, seed: u64) -> u64 {
        series_id(&self.canonical_bytes(), seed)
    }
}
