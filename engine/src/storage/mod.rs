//! Partitions on disk, the same for every signal: layout and manifests, Parquet helpers (the
//! native histograms file in `histograms`), prefetch, retention, the file steps of a checkpoint.

pub(crate) mod checkpoint;
pub(crate) mod fs;
// Used by tests only until flush, compaction and deletes write histograms files (issue 41,
// stage S5's second half): remove the allow then.
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) mod histograms;
pub(crate) mod parquet_io;
pub(crate) mod partition;
pub(crate) mod prefetch;
pub(crate) mod prune;
pub(crate) mod remote;
pub(crate) mod retention;
pub(crate) mod snapshot_file;
pub(crate) mod tier_file;
pub(crate) mod tier_paths;
