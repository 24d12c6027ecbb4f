//! The engine's public vocabulary, without state: samples, native histograms, labels, matchers, outcomes, records, any-values, series keys and ids.

pub(crate) mod anyvalue;
pub(crate) mod delete;
pub(crate) mod exemplar;
pub(crate) mod histogram;
pub(crate) mod interval;
pub(crate) mod labels;
pub(crate) mod matcher;
pub(crate) mod metadata;
pub(crate) mod outcome;
pub(crate) mod records;
pub(crate) mod retention_filter;
pub(crate) mod sample;
pub(crate) mod series;
pub(crate) mod series_key;
pub(crate) mod signal_outcome;
pub(crate) mod stats;
