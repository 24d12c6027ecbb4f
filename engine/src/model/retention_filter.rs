//! Retention by selector: the series or records a filter matches are kept only as long as
//! it says.

use std::time::Duration;

use crate::Matcher;
use crate::model::delete::{RecordPredicate, RecordSignal};

/// A retention filter ([`crate::Engine::set_retention_filters`]): the series or records it
/// matches are removed from every partition of its signal whose end is more than `keep`
/// ago, unless another filter of that signal that matches them too keeps them longer (the
/// longest wins). The signal's retention stays the outer bound: a `keep` longer than it
/// keeps nothing longer.
#[derive(Debug, Clone)]
pub struct RetentionFilter {
    /// Its name in logs and self-metrics (the selector or predicate as written, say).
    pub name: String,
    /// What it matches.
    pub target: FilterTarget,
    /// How long what it matches is kept.
    pub keep: Duration,
}

/// What a [`RetentionFilter`] matches.
#[derive(Debug, Clone)]
pub enum FilterTarget {
    /// Metrics series all of whose matchers hold (at least one).
    Series(Vec<Matcher>),
    /// Spans or log records a predicate matches (its time range is not used: the
    /// partition's age decides).
    Records(RecordSignal, RecordPredicate),
}

impl RetentionFilter {
    /// [`RetentionFilter::keep`] in milliseconds.
    pub(crate) fn keep_ms(&self) -> i64 {
        i64::try_from(self.keep.as_millis()).unwrap_or(i64::MAX)
    }
}
