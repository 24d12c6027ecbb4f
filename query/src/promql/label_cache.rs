//! Label sets derived from other label sets (group keys, names dropped), kept across the
//! steps of a range query so that each series' derived labels are computed once.
//!
//! Label sets share their pairs ([`Labels`] clones are reference counts), so a series read
//! from storage keeps one address through every step. The cache keys derived label sets by
//! (site, input address) and interns every result, so equal derived label sets are one
//! shared value: callers can group by address instead of hashing contents.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

use super::value::Labels;

/// A hasher for keys made of addresses and small integers (one multiply per word).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct WordHasher(u64);

impl Hasher for WordHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(u64::from(*b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
}

/// [`WordHasher`] as a map's hasher.
pub(crate) type WordBuild = BuildHasherDefault<WordHasher>;

/// A map keyed by addresses or indexes.
pub(crate) type WordMap<K, V> = HashMap<K, V, WordBuild>;

struct Entry {
    /// Held so that its address is not reused while the entry exists.
    _input: Labels,
    output: Labels,
    /// The generation that last used the entry.
    used: u64,
}

/// Derived label sets used in the current or the previous generation (top-level step),
/// and the interned results.
#[derive(Default)]
pub(crate) struct LabelCache {
    entries: WordMap<(usize, usize), Entry>,
    generation: u64,
    interned: HashSet<Labels>,
}

impl LabelCache {
    /// `derive(input)` for derivation `site` (an address identifying the expression and
    /// what it derives), computed once per input label set and interned.
    pub(crate) fn derive(
        &mut self,
        site: usize,
        input: &Labels,
        derive: impl FnOnce(&Labels) -> Labels,
    ) -> Labels {
        let key = (site, input.ptr());
        let generation = self.generation;
        // One lookup on a hit: the entry is stamped, not moved between maps.
        if let Some(e) = self.entries.get_mut(&key) {
            e.used = generation;
            return e.output.clone();
        }
        let output = self.intern(derive(input));
        self.entries.insert(
            key,
            Entry {
                _input: input.clone(),
                output: output.clone(),
                used: generation,
            },
        );
        output
    }

    /// The shared copy of `labels`: equal label sets interned here have one address.
    pub(crate) fn intern(&mut self, labels: Labels) -> Labels {
        if let Some(l) = self.interned.get(&labels) {
            return l.clone();
        }
        self.interned.insert(labels.clone());
        labels
    }

    /// Starts a new generation: derivations not used since the previous call are dropped,
    /// so inputs that are new at every step (computed label sets) do not pile up.
    pub(crate) fn next_generation(&mut self) {
        // Keeps what the generation that ends used (one pass, no hashing).
        let ended = self.generation;
        self.entries.retain(|_, e| e.used == ended);
        self.generation += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_labels_are_computed_once_and_interned() {
        let mut cache = LabelCache::default();
        let a = Labels::from_pairs([("__name__", "x"), ("job", "a")]);
        let b = Labels::from_pairs([("__name__", "y"), ("job", "a")]);
        let calls = std::cell::Cell::new(0);
        let drop = |l: &Labels| {
            calls.set(calls.get() + 1);
            l.without_name()
        };
        let da = cache.derive(1, &a, drop);
        let db = cache.derive(1, &b, drop);
        assert_eq!(da, Labels::from_pairs([("job", "a")]));
        assert_eq!(da.ptr(), db.ptr(), "equal results share one address");
        cache.next_generation();
        let again = cache.derive(1, &a.clone(), drop);
        assert_eq!(again.ptr(), da.ptr());
        assert_eq!(
            calls.get(),
            2,
            "the second generation reuses the first's result"
        );
        cache.next_generation();
        cache.next_generation();
        cache.derive(1, &a, drop);
        assert_eq!(
            calls.get(),
            3,
            "an entry unused for a generation is dropped"
        );
    }
}
