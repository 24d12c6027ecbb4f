//! The head's inverted index: for every label name and value, the series of one head shard
//! that carry it ("postings", as Prometheus's head calls them), so a selector costs what it
//! matches, not what the head holds.
//!
//! A series gets a slot, its position in the shard's insertion order, when it enters the
//! shard; a posting list is the ascending slots of the series with one label value. Series
//! never leave the head while the process runs (a flush takes their samples, not the
//! series), so the lists only grow and a new slot always goes at the end: they stay sorted
//! without searching. Lists of different values of one label are disjoint (a series has one
//! value per label), so their union is a concatenation and a sort.
//!
//! Selection follows PromQL: a matcher that does not match the empty string narrows to the
//! union of the lists of the values it matches (one lookup for `=` and for a regex of
//! literal alternatives, a pass over the label's values for any other regex); the lists are
//! intersected, smallest first. Matchers that match the empty string (`!=`, `!~`, `=""`,
//! `=~".*"`) also match series without the label, so they only remove: the lists of the
//! values they reject, or a check of each remaining series when few remain.

use std::borrow::Cow;
use std::collections::HashMap;
use std::mem::size_of;

use crate::Matcher;
use crate::model::series::SeriesId;
use crate::model::series_key::SeriesKey;

/// A series' position in its shard's postings.
pub(crate) type Slot = u32;

/// Candidates left at or below which a matcher that matches the empty string is checked
/// against each series' labels instead of through its value lists.
const CHECK_EACH_BELOW: usize = 64;

/// One head shard's postings.
#[derive(Debug, Default)]
pub(crate) struct Postings {
    /// Slot -> series id.
    ids: Vec<SeriesId>,
    /// Label name -> value -> ascending slots.
    labels: HashMap<Box<str>, HashMap<Box<str>, Vec<Slot>>>,
    /// Heap bytes of `labels`, from sizes and capacities, kept as it grows.
    bytes: usize,
}

/// Bytes of one map bucket holding `(K, V)`: the pair and hashbrown's control byte.
const fn bucket<K, V>() -> usize {
    size_of::<(K, V)>() + 1
}

impl Postings {
    /// Adds series `id` with labels `key` at the next slot.
    pub(crate) fn add(&mut self, id: SeriesId, key: &SeriesKey) {
        // A shard holds far fewer than 2^32 series: each takes over 100 bytes of memory.
        let slot = Slot::try_from(self.ids.len()).expect("fewer than 2^32 series per shard");
        self.ids.push(id);
        for (name, value) in key.pairs() {
            let values = match self.labels.get_mut(name) {
                Some(values) => values,
                None => {
                    self.bytes += name.len();
                    self.labels.entry(name.into()).or_default()
                }
            };
            let table = values.capacity();
            let list = match values.get_mut(value) {
                Some(list) => list,
                None => {
                    self.bytes += value.len();
                    values.entry(value.into()).or_default()
                }
            };
            let list_cap = list.capacity();
            list.push(slot);
            self.bytes += (list.capacity() - list_cap) * size_of::<Slot>();
            self.bytes += (values.capacity() - table) * bucket::<Box<str>, Vec<Slot>>();
        }
    }

    /// Estimated heap bytes: the value lists, the label and value strings, the maps' tables
    /// and the slot table.
    pub(crate) fn memory_bytes(&self) -> usize {
        self.bytes
            + self.labels.capacity() * bucket::<Box<str>, HashMap<Box<str>, Vec<Slot>>>()
            + self.ids.capacity() * size_of::<SeriesId>()
    }

    /// Label names present, in no particular order.
    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        self.labels.keys().map(|n| &**n)
    }

    /// The ids of the series carrying label `name`, grouped by value (in no particular
    /// order).
    pub(crate) fn values<'a>(
        &'a self,
        name: &str,
    ) -> impl Iterator<Item = (&'a str, SlotIds<'a>)> + use<'a> {
        self.labels
            .get(name)
            .into_iter()
            .flatten()
            .map(|(v, slots)| {
                (
                    &**v,
                    SlotIds {
                        ids: &self.ids,
                        slots,
                    },
                )
            })
    }

    /// The ids of the series carrying label `name` with any value.
    pub(crate) fn with_name<'a>(&'a self, name: &str) -> impl Iterator<Item = SeriesId> + use<'a> {
        self.values(name).flat_map(|(_, ids)| ids.iter())
    }

    /// The ids of the series whose labels pass every matcher (an absent label matching as
    /// `""`), in slot order. `check(id, m)` tells whether series `id` passes `m` by its own
    /// labels; it is asked only about series the lists already narrowed to.
    pub(crate) fn select(
        &self,
        matchers: &[Matcher],
        check: impl Fn(SeriesId, &Matcher) -> bool,
    ) -> Vec<SeriesId> {
        self.select_slots(matchers, check)
            .into_iter()
            .map(|s| self.ids[s as usize])
            .collect()
    }

    /// Series in the postings (the next slot).
    pub(crate) fn len(&self) -> usize {
        self.ids.len()
    }

    /// Every label name with its values and their ascending slots, in no particular order.
    pub(crate) fn lists(&self) -> impl Iterator<Item = (&str, &HashMap<Box<str>, Vec<Slot>>)> {
        self.labels.iter().map(|(n, v)| (&**n, v))
    }

    /// The values of label `name` with their ascending slots (none if no series has it).
    pub(crate) fn lists_of(&self, name: &str) -> Option<&HashMap<Box<str>, Vec<Slot>>> {
        self.labels.get(name)
    }

    /// [`Postings::select`] as slots, ascending.
    pub(crate) fn select_slots(
        &self,
        matchers: &[Matcher],
        check: impl Fn(SeriesId, &Matcher) -> bool,
    ) -> Vec<Slot> {
        let mut narrowing: Vec<Cow<'_, [Slot]>> = Vec::new();
        let mut removing: Vec<&Matcher> = Vec::new();
        for m in matchers {
            if m.matches_value("") {
                removing.push(m);
                continue;
            }
            let Some(values) = self.labels.get(m.name()) else {
                return Vec::new(); // no series has the label, and "" does not match
            };
            let set = matching(values, m, true);
            if set.is_empty() {
                return Vec::new();
            }
            narrowing.push(set);
        }
        narrowing.sort_by_key(|s| s.len());
        let mut slots: Vec<Slot> = match narrowing.split_first() {
            Some((first, rest)) => rest
                .iter()
                .fold(first.to_vec(), |acc, s| intersect(&acc, s)),
            None => (0..self.ids.len())
                .filter_map(|s| Slot::try_from(s).ok())
                .collect(),
        };
        for m in removing {
            if slots.is_empty() {
                break;
            }
            let Some(values) = self.labels.get(m.name()) else {
                continue; // no series has the label: all match as ""
            };
            let per_value = m.listed_values(false).is_some();
            if slots.len() <= CHECK_EACH_BELOW || (!per_value && slots.len() < values.len()) {
                slots.retain(|&s| check(self.ids[s as usize], m));
            } else {
                slots = difference(&slots, &matching(values, m, false));
            }
        }
        slots
    }
}

/// The series ids of one posting list.
#[derive(Clone, Copy)]
pub(crate) struct SlotIds<'a> {
    ids: &'a [SeriesId],
    slots: &'a [Slot],
}

impl<'a> SlotIds<'a> {
    pub(crate) fn iter(self) -> impl Iterator<Item = SeriesId> + 'a {
        self.slots.iter().map(|&s| self.ids[s as usize])
    }
}

/// The slots of the series whose value of `m`'s label passes `m` (`pass`) or fails it
/// (`!pass`), among those that carry the label, ascending.
fn matching<'a>(
    values: &'a HashMap<Box<str>, Vec<Slot>>,
    m: &Matcher,
    pass: bool,
) -> Cow<'a, [Slot]> {
    let lists: Vec<&[Slot]> = match m.listed_values(pass) {
        Some(vs) => vs
            .iter()
            .filter_map(|v| values.get(*v))
            .map(Vec::as_slice)
            .collect(),
        None => values
            .iter()
            .filter(|(v, _)| m.matches_value(v) == pass)
            .map(|(_, l)| l.as_slice())
            .collect(),
    };
    union(lists)
}

/// The union of disjoint ascending lists, ascending.
fn union(lists: Vec<&[Slot]>) -> Cow<'_, [Slot]> {
    match lists.as_slice() {
        [] => Cow::Borrowed(&[]),
        [one] => Cow::Borrowed(one),
        _ => {
            let mut all: Vec<Slot> = lists.concat();
            all.sort_unstable();
            Cow::Owned(all)
        }
    }
}

/// `a ∩ b`, both ascending: a merge, or binary searches of the smaller in the larger when
/// their sizes differ by much.
fn intersect(a: &[Slot], b: &[Slot]) -> Vec<Slot> {
    let (small, large) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    if small.len() * 16 < large.len() {
        let mut rest = large;
        let mut out = Vec::with_capacity(small.len());
        for &s in small {
            match rest.binary_search(&s) {
                Ok(i) => {
                    out.push(s);
                    rest = &rest[i + 1..];
                }
                Err(i) => rest = &rest[i..],
            }
        }
        return out;
    }
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::with_capacity(small.len());
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                out.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out
}

/// `a \ b`, both ascending: a merge, or binary searches in `b` when `a` is much smaller.
fn difference(a: &[Slot], b: &[Slot]) -> Vec<Slot> {
    if a.len() * 16 < b.len() {
        let mut rest = b;
        return a
            .iter()
            .copied()
            .filter(|s| match rest.binary_search(s) {
                Ok(i) => {
                    rest = &rest[i + 1..];
                    false
                }
                Err(i) => {
                    rest = &rest[i..];
                    true
                }
            })
            .collect();
    }
    let mut j = 0;
    a.iter()
        .copied()
        .filter(|&s| {
            while j < b.len() && b[j] < s {
                j += 1;
            }
            b.get(j) != Some(&s)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use proptest::prelude::*;

    use crate::metrics::series_index::SeriesIndex;
    use crate::model::matcher::MatchOp;
    use crate::model::series_key::SeriesKey;
    use crate::{Labels, Matcher};

    /// Label sets over a small alphabet, so matchers hit, miss, and meet absent labels.
    fn series() -> impl Strategy<Value = Vec<Vec<(String, String)>>> {
        let pair = (
            prop::sample::select(vec!["job", "instance", "zone", "le"]),
            prop::sample::select(vec!["a", "b", "c", "a.b", "x-1", "api"]),
        );
        let labels = (
            prop::sample::select(vec!["up", "rate", "node_load1"]),
            prop::collection::vec(pair, 0..4),
        );
        prop::collection::vec(labels, 1..60).prop_map(|v| {
            v.into_iter()
                .map(|(metric, pairs)| {
                    let mut map: HashMap<String, String> = pairs
                        .into_iter()
                        .map(|(n, v)| (n.to_owned(), v.to_owned()))
                        .collect();
                    map.insert("__name__".into(), metric.to_owned());
                    map.into_iter().collect()
                })
                .collect()
        })
    }

    fn matcher() -> impl Strategy<Value = (String, MatchOp, String)> {
        (
            prop::sample::select(vec!["__name__", "job", "instance", "zone", "missing"]),
            prop::sample::select(vec![
                MatchOp::Equal,
                MatchOp::NotEqual,
                MatchOp::Regex,
                MatchOp::NotRegex,
            ]),
            prop::sample::select(vec![
                "", "a", "b", "up", "a.b", "a|b", "(a|x-1)", "a\\.b", "a.*", ".*", ".+", "x-.",
                "up|rate",
            ]),
        )
            .prop_map(|(n, op, v)| (n.to_owned(), op, v.to_owned()))
    }

    proptest! {
        /// Selection through the postings returns exactly the series a check of every
        /// series' labels returns, whatever the matchers.
        #[test]
        fn postings_select_what_a_full_scan_selects(
            series in series(),
            matchers in prop::collection::vec(matcher(), 0..4),
        ) {
            let matchers: Vec<Matcher> = matchers
                .iter()
                .map(|(n, op, v)| Matcher::new(n, *op, v).unwrap())
                .collect();
            let mut index = SeriesIndex::default();
            let mut all = Vec::new();
            for pairs in &series {
                let labels = Labels::from_pairs(pairs.iter().map(|(n, v)| (n.as_str(), v.as_str()))).unwrap();
                let key = SeriesKey::from_labels(&labels);
                let (id, _) = index.get_or_insert(&key);
                all.push((id, labels));
            }
            let mut want: Vec<u64> = all
                .iter()
                .filter(|(_, l)| matchers.iter().all(|m| m.matches(l)))
                .map(|(id, _)| *id)
                .collect();
            want.sort_unstable();
            want.dedup();
            let mut got = index.select(&matchers);
            let n = got.len();
            got.sort_unstable();
            got.dedup();
            prop_assert_eq!(n, got.len(), "a series returned twice");
            prop_assert_eq!(got, want);
        }
    }

    #[test]
    fn set_operations_agree_with_a_naive_computation() {
        use super::{difference, intersect};
        let a: Vec<u32> = (0..3000).filter(|x| x % 7 == 0 || x % 11 == 0).collect();
        let b: Vec<u32> = (0..3000).filter(|x| x % 3 == 0).collect();
        let small: Vec<u32> = vec![0, 3, 14, 22, 999, 2997];
        for (x, y) in [(&a, &b), (&b, &a), (&small, &b), (&b, &small), (&small, &a)] {
            let inter: Vec<u32> = x.iter().copied().filter(|v| y.contains(v)).collect();
            let diff: Vec<u32> = x.iter().copied().filter(|v| !y.contains(v)).collect();
            assert_eq!(intersect(x, y), inter);
            assert_eq!(difference(x, y), diff);
        }
    }

    #[test]
    fn many_candidates_take_the_list_path_and_agree() {
        // Over CHECK_EACH_BELOW candidates, `!=` and `!~` subtract value lists.
        let mut index = SeriesIndex::default();
        let mut all = Vec::new();
        for i in 0..500 {
            let zone = ["a", "b", "c", "d"][i % 4];
            let labels =
                Labels::from_pairs([("__name__", "m"), ("i", &i.to_string()), ("zone", zone)])
                    .unwrap();
            let (id, _) = index.get_or_insert(&SeriesKey::from_labels(&labels));
            all.push((id, labels));
        }
        for (op, v) in [
            (MatchOp::NotEqual, "a"),
            (MatchOp::NotRegex, "a|b"),
            (MatchOp::NotRegex, "[ab]"),
            (MatchOp::Equal, ""),
            (MatchOp::Regex, "(a|)"),
        ] {
            let ms = [
                Matcher::new("__name__", MatchOp::Equal, "m").unwrap(),
                Matcher::new("zone", op, v).unwrap(),
            ];
            let mut got = index.select(&ms);
            got.sort_unstable();
            let mut want: Vec<u64> = all
                .iter()
                .filter(|(_, l)| ms.iter().all(|m| m.matches(l)))
                .map(|(id, _)| *id)
                .collect();
            want.sort_unstable();
            assert_eq!(got, want, "zone {op:?} {v:?}");
        }
    }

    #[test]
    fn memory_grows_with_the_lists_and_stays_small_per_series() {
        let mut index = SeriesIndex::default();
        let before = index.postings_bytes();
        for i in 0..10_000 {
            let labels = Labels::from_pairs([
                ("__name__", "node_cpu_seconds_total"),
                ("instance", &format!("host-{:05}:9100", i / 100)),
                ("cpu", &(i % 100).to_string()),
                ("mode", ["user", "system", "idle"][i % 3]),
                ("job", "node"),
            ])
            .unwrap();
            index.get_or_insert(&SeriesKey::from_labels(&labels));
        }
        assert_eq!(index.len(), 10_000);
        let per_series = (index.postings_bytes() - before) / 10_000;
        // Five labels: 4 bytes per slot in each list (plus growth) and 8 per id.
        assert!((28..=64).contains(&per_series), "{per_series} B per series");
    }
}
