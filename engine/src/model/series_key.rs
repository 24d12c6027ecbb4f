//! The head's compact form of a label set, and the writer's allocation-free way to get it.
//!
//! A [`SeriesKey`] holds a series' canonical bytes ([`Labels::canonical_bytes`]: for each
//! label in name order, `u32 LE name length, name, u32 LE value length, value`) in one shared
//! allocation. That is ~150 B for a typical 6-label series where a [`Labels`] (a `Vec` of
//! `String` pairs) takes ~740 B, and it is the very byte string series ids are hashed from
//! and WAL records carry, so a lookup is a hash and a `memcmp`. [`Labels`] are built from it
//! only for readers.
//!
//! [`PreparedBatch`] validates and canonicalises a write's label sets into one reused
//! buffer, outside the tenant lock: no allocation per series, whether the series exists or not.

use std::sync::Arc;

use crate::model::labels::METRIC_NAME;
use crate::model::outcome::RejectReason;
use crate::{Label, Labels, Limits};

/// A series' canonical label bytes. Cloning shares them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct SeriesKey(Arc<[u8]>);

impl SeriesKey {
    pub(crate) fn from_labels(labels: &Labels) -> Self {
        Self(labels.canonical_bytes().into())
    }

    /// Wraps bytes that are known to be canonical (from [`PreparedBatch`] or
    /// [`canonical_len`]).
    pub(crate) fn from_canonical(bytes: &[u8]) -> Self {
        Self(bytes.into())
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        &self.0
    }

    /// Bytes of its allocation: the label bytes and the `Arc`'s two counts.
    pub(crate) fn alloc_bytes(&self) -> usize {
        self.0.len() + 2 * std::mem::size_of::<usize>()
    }

    /// (name, value) pairs in name order.
    pub(crate) fn pairs(&self) -> Pairs<'_> {
        Pairs { rest: &self.0 }
    }

    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.pairs().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    pub(crate) fn metric_name(&self) -> &str {
        self.get(METRIC_NAME).unwrap_or_default()
    }

    /// Number of labels.
    pub(crate) fn len(&self) -> usize {
        self.pairs().count()
    }

    /// The label set, for readers.
    pub(crate) fn to_labels(&self) -> Labels {
        Labels::from_canonical(
            self.pairs()
                .map(|(n, v)| Label {
                    name: n.to_owned(),
                    value: v.to_owned(),
                })
                .collect(),
        )
    }
}

/// A label set as (name, value) pairs in name order: what the flush and compaction write
/// into series tables and indexes, from the head's keys or from labels read back.
pub(crate) trait LabelPairs {
    fn label_pairs(&self) -> impl Iterator<Item = (&str, &str)>;

    fn metric(&self) -> &str {
        self.label_pairs()
            .find(|(n, _)| *n == METRIC_NAME)
            .map_or("", |(_, v)| v)
    }
}

impl LabelPairs for SeriesKey {
    fn label_pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs()
    }
}

impl LabelPairs for Arc<Labels> {
    fn label_pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.iter().map(|l| (l.name.as_str(), l.value.as_str()))
    }

    fn metric(&self) -> &str {
        self.metric_name()
    }
}

/// Iterator over the pairs of canonical bytes.
pub(crate) struct Pairs<'a> {
    rest: &'a [u8],
}

impl<'a> Pairs<'a> {
    fn part(&mut self) -> Option<&'a str> {
        let (len, rest) = self.rest.split_first_chunk::<4>()?;
        let len = u32::from_le_bytes(*len) as usize;
        let (s, rest) = rest.split_at_checked(len)?;
        self.rest = rest;
        // Canonical bytes are built from `str`s; this never fails.
        std::str::from_utf8(s).ok()
    }
}

impl<'a> Iterator for Pairs<'a> {
    type Item = (&'a str, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        Some((self.part()?, self.part()?))
    }
}

/// The metric name in canonical label bytes, `""` if there is none.
pub(crate) fn canonical_metric(bytes: &[u8]) -> &str {
    Pairs { rest: bytes }
        .find(|(n, _)| *n == METRIC_NAME)
        .map_or("", |(_, v)| v)
}

/// If `bytes` start with `n_labels` labels in canonical form (names non-empty, strictly
/// increasing, values non-empty, UTF-8, `__name__` among them), their length in bytes.
/// Replay uses it to take a logged label set as it is, without rebuilding it.
pub(crate) fn canonical_len(bytes: &[u8], n_labels: usize) -> Option<usize> {
    let mut p = Pairs { rest: bytes };
    let mut prev: Option<&str> = None;
    let mut has_name = false;
    for _ in 0..n_labels {
        let (n, v) = p.next()?;
        if n.is_empty() || v.is_empty() || prev.is_some_and(|prev| prev >= n) {
            return None;
        }
        has_name |= n == METRIC_NAME;
        prev = Some(n);
    }
    has_name.then_some(bytes.len() - p.rest.len())
}

/// One series of a write, canonicalised.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Prepared {
    start: usize,
    end: usize,
    /// Byte range of the metric name's value.
    metric: (usize, usize),
    /// The series' first-choice id (seed 0, [`crate::model::series::series_id`]).
    pub(crate) hash: u64,
}

/// The label sets of one write, validated and canonicalised into one buffer.
#[derive(Debug, Default)]
pub(crate) struct PreparedBatch {
    bytes: Vec<u8>,
    order: Vec<usize>,
}

impl PreparedBatch {
    /// Validates `pairs` as [`Labels::from_pairs`] does, then the label limits, and appends
    /// their canonical bytes. The same checks in the same order, so the same reason wins.
    pub(crate) fn prepare<L: AsRef<str>>(
        &mut self,
        pairs: &[(L, L)],
        limits: &Limits,
        hash: fn(&[u8], u64) -> u64,
    ) -> Result<Prepared, RejectReason> {
        let name = |i: usize| pairs[i].0.as_ref();
        self.order.clear();
        self.order
            .extend((0..pairs.len()).filter(|&i| !pairs[i].1.as_ref().is_empty()));
        // Senders usually sort their labels (Prometheus does): check before sorting.
        if !self.order.is_sorted_by(|&a, &b| name(a) <= name(b)) {
            self.order.sort_unstable_by(|&a, &b| name(a).cmp(name(b)));
        }
        let sorted = || {
            self.order
                .iter()
                .map(|&i| (pairs[i].0.as_ref(), pairs[i].1.as_ref()))
        };
        if sorted().any(|(n, _)| n.is_empty()) {
            return Err(RejectReason::EmptyLabelName);
        }
        if self.order.windows(2).any(|w| name(w[0]) == name(w[1])) {
            return Err(RejectReason::DuplicateLabelName);
        }
        if !sorted().any(|(n, _)| n == METRIC_NAME) {
            return Err(RejectReason::MissingMetricName);
        }
        if self.order.len() > limits.max_labels_per_series {
            return Err(RejectReason::TooManyLabels);
        }
        for (n, v) in sorted() {
            if n.len() > limits.max_label_name_len {
                return Err(RejectReason::LabelNameTooLong);
            }
            if v.len() > limits.max_label_value_len {
                return Err(RejectReason::LabelValueTooLong);
            }
        }
        let start = self.bytes.len();
        let mut metric = (0, 0);
        for (n, v) in sorted() {
            // Lossless: label sizes are limited far below 4 GiB (config validation).
            self.bytes
                .extend_from_slice(&(n.len() as u32).to_le_bytes());
            self.bytes.extend_from_slice(n.as_bytes());
            self.bytes
                .extend_from_slice(&(v.len() as u32).to_le_bytes());
            if n == METRIC_NAME {
                metric = (self.bytes.len(), self.bytes.len() + v.len());
            }
            self.bytes.extend_from_slice(v.as_bytes());
        }
        let end = self.bytes.len();
        Ok(Prepared {
            start,
            end,
            metric,
            hash: hash(&self.bytes[start..end], 0),
        })
    }

    pub(crate) fn bytes(&self, p: &Prepared) -> &[u8] {
        &self.bytes[p.start..p.end]
    }

    pub(crate) fn metric_name(&self, p: &Prepared) -> &str {
        std::str::from_utf8(&self.bytes[p.metric.0..p.metric.1]).unwrap_or_default()
    }

    /// The series as [`Labels`].
    #[cfg(test)]
    pub(crate) fn labels(&self, p: &Prepared) -> Labels {
        SeriesKey::from_canonical(self.bytes(p)).to_labels()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    use crate::model::series::series_id;

    #[test]
    fn prepared_bytes_are_the_canonical_bytes_of_labels() {
        let raw = [
            ("zone", "eu"),
            ("__name__", "up"),
            ("empty", ""),
            ("job", "api"),
        ];
        let labels = Labels::from_pairs(raw).unwrap();
        let mut batch = PreparedBatch::default();
        let limits = Limits::default();
        let _other = batch
            .prepare(&pairs(&[("__name__", "x")]), &limits, series_id)
            .unwrap();
        let p = batch.prepare(&pairs(&raw), &limits, series_id).unwrap();
        assert_eq!(batch.bytes(&p), labels.canonical_bytes());
        assert_eq!(p.hash, labels.hash_with_seed(0));
        assert_eq!(batch.metric_name(&p), "up");
        assert_eq!(batch.labels(&p), labels);
        let key = SeriesKey::from_labels(&labels);
        assert_eq!(key.to_labels(), labels);
        assert_eq!(key.get("job"), Some("api"));
        assert_eq!(key.get("empty"), None);
        assert_eq!(key.len(), 3);
        assert_eq!(canonical_len(key.bytes(), 3), Some(key.bytes().len()));
    }

    #[test]
    fn prepare_rejects_what_from_pairs_rejects_in_the_same_order() {
        let limits = Limits {
            max_labels_per_series: 3,
            max_label_name_len: 8,
            max_label_value_len: 5,
            ..Limits::default()
        };
        let cases: &[(&[(&str, &str)], RejectReason)] = &[
            (&[("job", "x")], RejectReason::MissingMetricName),
            (
                &[("__name__", "m"), ("", "x")],
                RejectReason::EmptyLabelName,
            ),
            (
                &[("", "x"), ("a", "1"), ("a", "2")],
                RejectReason::EmptyLabelName,
            ),
            (
                &[("__name__", "m"), ("a", "1"), ("a", "2")],
                RejectReason::DuplicateLabelName,
            ),
            (
                &[("a", "1"), ("b", "1"), ("c", "1"), ("__name__", "m")],
                RejectReason::TooManyLabels,
            ),
            (
                &[("__name__", "m"), ("abcdefghi", "1")],
                RejectReason::LabelNameTooLong,
            ),
            (
                &[("__name__", "m"), ("a", "123456")],
                RejectReason::LabelValueTooLong,
            ),
        ];
        let mut batch = PreparedBatch::default();
        for (raw, want) in cases {
            let got = batch.prepare(&pairs(raw), &limits, series_id).map(|_| ());
            assert_eq!(got, Err(*want), "{raw:?}");
        }
        // An empty value is an absent label, whatever its name.
        assert!(
            batch
                .prepare(&pairs(&[("__name__", "m"), ("", "")]), &limits, series_id)
                .is_ok()
        );
    }

    proptest::proptest! {
        #[test]
        fn prepare_agrees_with_from_pairs(raw in proptest::collection::vec(
            ("(__name__|[a-c]{0,2})", "[xy]{0,3}"), 0..6)) {
            let limits = Limits {
                max_labels_per_series: 3,
                max_label_name_len: 8,
                max_label_value_len: 2,
                ..Limits::default()
            };
            let want = Labels::from_pairs(raw.iter().cloned()).and_then(|l| {
                if l.len() > 3 {
                    return Err(RejectReason::TooManyLabels);
                }
                if l.iter().any(|x| x.value.len() > 2) {
                    return Err(RejectReason::LabelValueTooLong);
                }
                Ok(l)
            });
            let mut batch = PreparedBatch::default();
            let got = batch.prepare(&raw, &limits, series_id).map(|p| batch.labels(&p));
            proptest::prop_assert_eq!(got, want);
        }
    }

    #[test]
    fn canonical_len_refuses_what_is_not_canonical() {
        let key = |p: &[(&str, &str)]| {
            let mut out = Vec::new();
            for (n, v) in p {
                for s in [n, v] {
                    out.extend_from_slice(&(s.len() as u32).to_le_bytes());
                    out.extend_from_slice(s.as_bytes());
                }
            }
            out
        };
        assert_eq!(
            canonical_len(&key(&[("__name__", "m"), ("a", "1")]), 2),
            Some(27)
        );
        assert_eq!(
            canonical_len(&key(&[("a", "1"), ("__name__", "m")]), 2),
            None
        );
        assert_eq!(
            canonical_len(&key(&[("__name__", "m"), ("a", "")]), 2),
            None
        );
        assert_eq!(canonical_len(&key(&[("a", "1")]), 1), None, "no __name__");
        assert_eq!(
            canonical_len(&key(&[("__name__", "m")]), 2),
            None,
            "too short"
        );
    }
}
