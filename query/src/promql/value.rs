//! The values a PromQL expression evaluates to, with Prometheus's label semantics.

use std::fmt;
use std::sync::Arc;

use super::native::FloatHistogram;

/// The label holding the metric name.
pub const METRIC_NAME: &str = "__name__";

/// Prometheus's staleness marker: a NaN with this exact bit pattern ends a series.
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

/// Whether `v` is the staleness marker (not just any NaN).
pub fn is_stale_nan(v: f64) -> bool {
    v.to_bits() == STALE_NAN_BITS
}

/// A label set, sorted by name, names unique, no empty values.
///
/// The pairs are shared: cloning a label set is a reference-count increment, and changing
/// one copies the pairs only if another holder shares them; the names and values are
/// shared too, so that copy (dropping `__name__` from each result, say) counts references
/// instead of copying strings. Equality, hashing and order are by content.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Labels(Arc<Vec<(Arc<str>, Arc<str>)>>);

impl Labels {
    /// Builds a label set from pairs in any order; empty values are dropped and a later
    /// duplicate name replaces an earlier one.
    pub fn from_pairs<I, N, V>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (N, V)>,
        N: Into<String>,
        V: Into<String>,
    {
        let mut out = Labels::default();
        for (n, v) in pairs {
            out.set(n.into(), v.into());
        }
        out
    }

    /// [`Labels::from_pairs`] for pairs that are usually sorted by name already (storage's
    /// canonical labels): those are taken as they are, without a search per pair.
    /// `pairs` gives the pairs anew at each call.
    pub(crate) fn from_sorted_pairs<'a, I>(pairs: impl Fn() -> I) -> Self
    where
        I: Iterator<Item = (&'a str, &'a str)>,
    {
        let mut prev: Option<&str> = None;
        let canonical = pairs().all(|(n, v)| {
            let ok = !v.is_empty() && prev.is_none_or(|p| p < n);
            prev = Some(n);
            ok
        });
        if !canonical {
            return Self::from_pairs(pairs());
        }
        Labels(Arc::new(
            pairs().map(|(n, v)| (Arc::from(n), Arc::from(v))).collect(),
        ))
    }

    /// The value of `name`, or `""` when absent (PromQL treats both alike).
    pub fn get(&self, name: &str) -> &str {
        match self.0.binary_search_by(|(n, _)| (**n).cmp(name)) {
            Ok(i) => &self.0[i].1,
            Err(_) => "",
        }
    }

    /// Whether `name` is present.
    pub fn has(&self, name: &str) -> bool {
        self.0.binary_search_by(|(n, _)| (**n).cmp(name)).is_ok()
    }

    /// Sets `name` to `value`; an empty value removes the label.
    pub fn set(&mut self, name: String, value: String) {
        match self.0.binary_search_by(|(n, _)| (**n).cmp(name.as_str())) {
            Ok(i) if value.is_empty() => {
                Arc::make_mut(&mut self.0).remove(i);
            }
            Ok(i) if *self.0[i].1 == *value => {}
            Ok(i) => Arc::make_mut(&mut self.0)[i].1 = value.into(),
            Err(_) if value.is_empty() => {}
            Err(i) => Arc::make_mut(&mut self.0).insert(i, (name.into(), value.into())),
        }
    }

    /// Removes `name`.
    pub fn remove(&mut self, name: &str) {
        if let Ok(i) = self.0.binary_search_by(|(n, _)| (**n).cmp(name)) {
            Arc::make_mut(&mut self.0).remove(i);
        }
    }

    /// Whether the set holds a label that dropping the metric name removes: `__name__`,
    /// `__type__` or `__unit__`.
    pub(crate) fn has_metric_metadata(&self) -> bool {
        self.has(METRIC_NAME) || self.has("__type__") || self.has("__unit__")
    }

    /// The labels without `__name__`.
    pub fn without_name(&self) -> Labels {
        let mut l = self.clone();
        l.remove(METRIC_NAME);
        l
    }

    /// The metric name, or `""`.
    pub fn name(&self) -> &str {
        self.get(METRIC_NAME)
    }

    /// The (name, value) pairs in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (&**n, &**v))
    }

    /// Number of labels.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no labels.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Keeps only the labels `keep` says yes to.
    pub fn retain(&mut self, mut keep: impl FnMut(&str) -> bool) {
        if self.0.iter().all(|(n, _)| keep(n)) {
            return;
        }
        Arc::make_mut(&mut self.0).retain(|(n, _)| keep(n));
    }

    /// The address of the shared pairs: equal for clones of one label set (and for the
    /// interned copies the evaluator hands out), so it can key caches while a clone is held.
    pub(crate) fn ptr(&self) -> usize {
        Arc::as_ptr(&self.0) as usize
    }
}

impl fmt::Display for Labels {
    /// Prometheus's notation for label sets in messages: `{a="x", b="y"}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, (n, v)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{n}={v:?}")?;
        }
        f.write_str("}")
    }
}

/// Removes the metric name and the metadata labels that travel with it (`__type__`,
/// `__unit__`).
pub(crate) fn drop_name(l: &mut Labels) {
    l.remove(METRIC_NAME);
    l.remove("__type__");
    l.remove("__unit__");
}

/// Whether `h` is a staleness marker: a histogram whose sum has the stale-NaN bits.
pub fn is_stale_histogram(h: &FloatHistogram) -> bool {
    is_stale_nan(h.sum)
}

/// One element of an instant vector.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The series' labels.
    pub labels: Labels,
    /// Timestamp in ms: the sample's own for a plain selector, else the evaluation time.
    pub ts: i64,
    /// The value (ignored, and 0, when [`Sample::h`] is set).
    pub value: f64,
    /// The native histogram, when the sample is one.
    pub h: Option<Arc<FloatHistogram>>,
    /// Set by a function or operator that drops the metric name: by default the evaluator
    /// removes it (with `__type__` and `__unit__`) as soon as that node has run, as
    /// Prometheus does; with [`crate::promql::QueryOptions::delayed_name_removal`] it is
    /// removed at the end of evaluation. Always `false` in a query's result.
    pub drop_name: bool,
}

/// One series of a range vector (matrix): its points sorted by time.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// The series' labels.
    pub labels: Labels,
    /// (timestamp ms, value) in time order.
    pub points: Vec<(i64, f64)>,
    /// (timestamp ms, native histogram) in time order, at times `points` does not have.
    pub hpoints: Vec<(i64, Arc<FloatHistogram>)>,
    /// As [`Sample::drop_name`].
    pub drop_name: bool,
}

impl Sample {
    /// A float sample.
    pub fn float(labels: Labels, ts: i64, value: f64) -> Self {
        Self {
            labels,
            ts,
            value,
            h: None,
            drop_name: false,
        }
    }
}

/// A query result value, of one of PromQL's four types.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A number at a time (ms).
    Scalar {
        /// Evaluation time in ms.
        ts: i64,
        /// The value.
        value: f64,
    },
    /// A string at a time (ms).
    String {
        /// Evaluation time in ms.
        ts: i64,
        /// The value.
        value: String,
    },
    /// An instant vector, in evaluation order (sort functions define it; otherwise
    /// unspecified).
    Vector(Vec<Sample>),
    /// A range vector or the result of a range query, sorted by labels.
    Matrix(Vec<Series>),
}

/// A successful query's value and the annotations Prometheus would attach to it.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryResult {
    /// The value.
    pub value: Value,
    /// Warnings: `PromQL warning: ...` texts.
    pub warnings: Vec<String>,
    /// Informational notes: `PromQL info: ...` texts.
    pub infos: Vec<String>,
}
