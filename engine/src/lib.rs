//! strata-engine: the storage engine Strata is built around.
//!
//! It will own tenants and their limits, memtables, time-partitioned Parquet files with their
//! series tables and inverted indexes, flush, compaction, retention and recovery, and the scan
//! API that the query layer reads through. It writes through [`strata_wal`] and knows nothing
//! of the query or server layers above it.
//!
//! Status: not built yet (issue #3). This crate currently only fixes its place in the
//! dependency graph so the workspace's version set is checked as a whole.
