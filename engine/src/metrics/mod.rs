//! Metrics: the in-memory head, the write path, flush and compaction of samples, scans, the index and the page cache, deletes.

pub(crate) mod cardinality;
pub(crate) mod compact;
pub(crate) mod delete;
pub(crate) mod files;
pub(crate) mod flush;
pub(crate) mod head;
pub(crate) mod histograms;
pub(crate) mod index;
pub(crate) mod metadata;
pub(crate) mod page_cache;
pub(crate) mod postings;
pub(crate) mod raw_keys;
pub(crate) mod read;
pub(crate) mod scan;
pub(crate) mod seek;
pub(crate) mod series;
pub(crate) mod series_index;
pub(crate) mod snapshot;
pub(crate) mod store;
pub(crate) mod tiers;
pub(crate) mod write;
