//! Exemplars (`docs/exemplars.md`): each tenant's in-memory ring (`ring.rs`), bounded by
//! `limits.max_exemplars` as Prometheus's circular exemplar storage is (over the limit, the
//! oldest go), the checks a write passes (`check.rs`), and the `exemplars-<B>.parquet` file a
//! flush writes into each metrics partition (`file.rs`, `docs/formats/exemplars.md`).
//!
//! Writes are logged to the WAL (`wal_records/exemplars.rs`) under the store's lock, so a flush cut,
//! which takes that lock before it syncs the WAL, sees each write wholly logged or not at
//! all; the exemplars a cut takes are written with the partition's other files and
//! committed with them.

pub(crate) mod check;
pub(crate) mod file;
pub(crate) mod ring;
pub(crate) mod store;
