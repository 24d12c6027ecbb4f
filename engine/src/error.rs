//! The engine's error type.

use std::path::PathBuf;

/// Everything that can fail in the engine, other than per-sample rejections (those are
/// counted in [`crate::WriteOutcome`], not raised).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A tenant id outside `[A-Za-z0-9_-]{1,64}`.
    #[error("invalid tenant id {id:?}: {reason}")]
    InvalidTenant {
        /// The id as given (possibly truncated for display by the caller).
        id: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A label matcher that cannot be used (bad regex, or over the regex size limit).
    #[error("invalid matcher for label {label:?}: {reason}")]
    InvalidMatcher {
        /// The label the matcher is on.
        label: String,
        /// What is wrong.
        reason: String,
    },
    /// A configuration value out of range.
    #[error("invalid engine config {key}: {reason}")]
    InvalidConfig {
        /// The config key.
        key: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The write-ahead log failed. A failed write or fsync poisons the engine: every later
    /// write fails with this error until the engine is reopened.
    #[error("write-ahead log: {0}")]
    Wal(#[from] strata_wal::Error),
    /// A partition written in another data format (format 1: series ids without the metric
    /// name's hash, before this Strata). Its data must be loaded into a new data directory.
    #[error(
        "{}: data format {found}, this Strata reads format {expected} (series ids changed \
         in format 2); load the data into a new data directory",
        path.display()
    )]
    DataFormat {
        /// The partition's manifest.
        path: PathBuf,
        /// Its format version.
        found: u32,
        /// The version this build reads.
        expected: u32,
    },
    /// A WAL record the engine cannot decode: written by a newer Strata, or damaged in a way
    /// its checksum did not catch.
    #[error("undecodable WAL record at LSN {lsn}: {reason}")]
    BadRecord {
        /// Where it is.
        lsn: u64,
        /// What is wrong.
        reason: String,
    },
    /// A native histogram held in memory could not be decoded (a bug: the engine encoded
    /// it).
    #[error("series {id}: histogram at {ts} in memory: {reason}")]
    HeadHistogram {
        /// The series.
        id: u64,
        /// The histogram's timestamp.
        ts: i64,
        /// What is wrong (the decoding error).
        reason: String,
    },
    /// A select with a limit ([`crate::Engine::select_within`]) would gather more than it.
    #[error("the read would hold more than its limit of {limit} bytes of samples")]
    ReadLimit {
        /// The limit, in bytes.
        limit: usize,
    },
    /// A flush failed earlier; the engine refuses writes until it is reopened (its data is
    /// safe in the WAL and recovered on open).
    #[error("engine is poisoned, reopen to recover: {reason}")]
    Poisoned {
        /// What failed.
        reason: String,
    },
    /// Memory for unflushed samples, spans and log records is over `max_head_bytes`.
    /// Retryable: a flush is under way; the server answers 503 with Retry-After.
    #[error(
        "over capacity: {head_bytes} bytes of unflushed data in memory, budget {budget}; retry shortly"
    )]
    OverCapacity {
        /// Estimated bytes held.
        head_bytes: u64,
        /// The configured budget (`max_head_bytes`).
        budget: u64,
    },
    /// A [`crate::KnownSeries`] passed for another tenant than the one it was found for:
    /// nothing of the write was stored.
    #[error("series handle {id} belongs to another tenant; resolve it for this tenant")]
    ForeignSeries {
        /// The series id in the handle.
        id: u64,
    },
    /// The object-storage tier failed (the bucket is held by another writer, or a
    /// request failed).
    #[error(transparent)]
    Remote(#[from] RemoteError),
    /// A write to an engine that reads a bucket (a query process): writes go to the
    /// bucket's writer.
    #[error(
        "this process reads object storage (a query process) and takes no writes; send them to the writer"
    )]
    ReadOnly,
    /// A request the engine cannot carry out as given (a delete without a condition or
    /// with its start after its end, a snapshot into a directory that is not empty):
    /// nothing was changed.
    #[error("invalid request: {reason}")]
    InvalidRequest {
        /// What is wrong with it.
        reason: String,
    },
    /// An I/O error outside the WAL.
    #[error("I/O error on {}: {source}", path.display())]
    Io {
        /// File or directory.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An error of the object-storage tier.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    /// The store refused or failed a request.
    #[error("object store: {op} {key}: {source}")]
    Store {
        /// What was done (`put`, `delete`, `list`, ...).
        op: &'static str,
        /// The object's key.
        key: String,
        /// The store's error.
        source: Box<object_store::Error>,
    },
    /// A local file could not be read for upload, or written from a download.
    #[error("local file {path}: {source}")]
    Local {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// Another data directory's writer holds the prefix (its `_writer` object).
    #[error(
        "the bucket prefix is held by another writer ({holder}); one writer per prefix: \
         stop it, or delete the prefix's _writer object if that writer is gone for good"
    )]
    Locked {
        /// The id in the `_writer` object.
        holder: String,
    },
    /// A key or local path that cannot be mirrored.
    #[error("cannot mirror {0}: not a path below the data directory, or not a valid key")]
    Key(String),
    /// An object of the bucket that is not what its key says (a manifest that does not
    /// parse, a partition key of no known layout).
    #[error("object {key} cannot be read: {reason}")]
    Object {
        /// The object's key.
        key: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The mirror's runtime could not start or a pass could not run.
    #[error("object store runtime: {0}")]
    Runtime(String),
    /// A download stopped making progress: the store sent nothing for `secs` seconds.
    #[error("object store: get {key}: nothing received for {secs} s")]
    Stalled {
        /// The object's key.
        key: String,
        /// How long nothing came.
        secs: u64,
    },
}
