//! Partitions on disk, the same for every signal: layout and manifests, Parquet helpers, prefetch, retention, the file steps of a checkpoint.

pub(crate) mod checkpoint;
pub(crate) mod fs;
pub(crate) mod parquet_io;
pub(crate) mod partition;
pub(crate) mod prefetch;
pub(crate) mod remote;
pub(crate) mod retention;
pub(crate) mod snapshot_file;
