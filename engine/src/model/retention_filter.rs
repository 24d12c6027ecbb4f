//! Retention by selector: the series a filter matches are kept only as long as it says.

use std::time::Duration;

use crate::Matcher;

/// A retention filter of metrics series ([`crate::Engine::set_retention_filters`]): the
/// series all of whose `matchers` hold are removed from every partition whose end is more
/// than `keep` ago, unless another filter that matches them too keeps them longer (the
/// longest wins). The metrics retention stays the outer bound: a `keep` longer than it
/// keeps nothing longer.
#[derive(Debug, Clone)]
pub struct RetentionFilter {
    /// Its name in logs and self-metrics (the selector as written, say).
    pub name: String,
    /// The series it applies to (each must hold; at least one).
    pub matchers: Vec<Matcher>,
    /// How long those series are kept.
    pub keep: Duration,
}

impl RetentionFilter {
    /// [`RetentionFilter::keep`] in milliseconds.
    pub(crate) fn keep_ms(&self) -> i64 {
        i64::try_from(self.keep.as_millis()).unwrap_or(i64::MAX)
    }
}
