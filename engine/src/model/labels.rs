//! Label sets: the identity of a series, in canonical (sorted) form.
//!
//! The model is Prometheus 3's: a series is a set of (name, value) pairs, one of them
//! `__name__` (the metric name). Names and values are any UTF-8; a label with an empty
//! value is the same as no label, so empty values are dropped.

use std::fmt;

use crate::model::outcome::RejectReason;

/// The label that holds the metric name.
pub const METRIC_NAME: &str = "__name__";

/// One label.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Label {
    /// The label's name.
    pub name: String,
    /// Its value, never empty.
    pub value: String,
}

/// A canonical label set: sorted by name, names unique, no empty values, `__name__` present.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Labels(Vec<Label>);

impl Labels {
    /// Builds a canonical label set from pairs in any order.
    ///
    /// ```
    /// use strata_engine::Labels;
    ///
    /// let a = Labels::from_pairs([("job", "api"), ("__name__", "up"), ("zone", "")])?;
    /// let b = Labels::from_pairs([("__name__", "up"), ("job", "api")])?;
    /// assert_eq!(a, b); // order does not matter, empty values are absent labels
    /// assert_eq!(a.metric_name(), "up");
    /// assert_eq!(a.to_string(), r#"up{job="api"}"#);
    /// # Ok::<(), strata_engine::RejectReason>(())
    /// ```
    pub fn from_pairs<I, N, V>(pairs: I) -> Result<Self, RejectReason>
    where
        I: IntoIterator<Item = (N, V)>,
        N: Into<String>,
        V: Into<String>,
    {
        let mut labels: Vec<Label> = pairs
            .into_iter()
            .map(|(n, v)| Label {
                name: n.into(),
                value: v.into(),
            })
            .filter(|l| !l.value.is_empty())
            .collect();
        labels.sort_unstable_by(|a, b| a.name.cmp(&b.name));
        if labels.iter().any(|l| l.name.is_empty()) {
            return Err(RejectReason::EmptyLabelName);
        }
        if labels.windows(2).any(|w| w[0].name == w[1].name) {
            return Err(RejectReason::DuplicateLabelName);
        }
        if !labels.iter().any(|l| l.name == METRIC_NAME) {
            return Err(RejectReason::MissingMetricName);
        }
        Ok(Self(labels))
    }

    /// Wraps labels already in canonical form (from a [`crate::model::series_key::SeriesKey`]).
    pub(crate) fn from_canonical(labels: Vec<Label>) -> Self {
        Self(labels)
    }

    /// The metric name (the `__name__` label).
    pub fn metric_name(&self) -> &str {
        self.get(METRIC_NAME).unwrap_or_default()
    }

    /// The value of label `name`, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .binary_search_by(|l| l.name.as_str().cmp(name))
            .ok()
            .map(|i| self.0[i].value.as_str())
    }

    /// The labels in name order.
    pub fn iter(&self) -> impl Iterator<Item = &Label> {
        self.0.iter()
    }

    /// Number of labels, `__name__` included.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Always false: a label set has at least `__name__`.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The canonical byte form that series ids are hashed from: for each label in name order,
    /// `u32 LE name length, name, u32 LE value length, value`.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            self.0
                .iter()
                .map(|l| 8 + l.name.len() + l.value.len())
                .sum(),
        );
        for l in &self.0 {
            for part in [&l.name, &l.value] {
                // Lossless: label sizes are limited far below 4 GiB before they get here.
                out.extend_from_slice(&(part.len() as u32).to_le_bytes());
                out.extend_from_slice(part.as_bytes());
            }
        }
        out
    }
}

impl fmt::Display for Labels {
    /// Prometheus notation: `name{a="x", b="y"}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.metric_name())?;
        f.write_str("{")?;
        let mut first = true;
        for l in self.0.iter().filter(|l| l.name != METRIC_NAME) {
            if !first {
                f.write_str(", ")?;
            }
            first = false;
            write!(f, "{}={:?}", l.name, l.value)?;
        }
        f.write_str("}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_form_ignores_order_and_empty_values() {
        let a = Labels::from_pairs([("b", "2"), ("__name__", "m"), ("a", "1"), ("c", "")]).unwrap();
        let b = Labels::from_pairs([("a", "1"), ("b", "2"), ("__name__", "m")]).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.hash_with_seed(0), b.hash_with_seed(0));
        assert_ne!(a.hash_with_seed(0), a.hash_with_seed(1));
        let names: Vec<_> = a.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["__name__", "a", "b"]);
    }

    #[test]
    fn canonical_bytes_are_unambiguous() {
        // Moving bytes between a name and a value must change the identity.
        let a = Labels::from_pairs([("__name__", "m"), ("ab", "c")]).unwrap();
        let b = Labels::from_pairs([("__name__", "m"), ("a", "bc")]).unwrap();
        assert_ne!(a.canonical_bytes(), b.canonical_bytes());
    }

    #[test]
    fn bad_sets_are_rejected_with_their_reason() {
        let cases: [(&[(&str, &str)], RejectReason); 3] = [
            (&[("job", "x")], RejectReason::MissingMetricName),
            (
                &[("__name__", "m"), ("", "x")],
                RejectReason::EmptyLabelName,
            ),
            (
                &[("__name__", "m"), ("a", "1"), ("a", "2")],
                RejectReason::DuplicateLabelName,
            ),
        ];
        for (pairs, want) in cases {
            assert_eq!(
                Labels::from_pairs(pairs.iter().copied()),
                Err(want),
                "{pairs:?}"
            );
        }
    }

    #[test]
    fn utf8_names_are_allowed_as_in_prometheus_3() {
        let l = Labels::from_pairs([("__name__", "http.server.duration"), ("ünï", "✓")]).unwrap();
        assert_eq!(l.get("ünï"), Some("✓"));
    }
}
