//! Settings of SQL execution.

use std::time::Duration;

use super::error::{Error, Result};

/// Limits and tuning of SQL queries. Defaults suit a small server; [`SqlConfig::for_tests`]
/// is a small preset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlConfig {
    /// Memory all operators of one query may hold (hash tables, sorts, the deduplication of
    /// overlapping file sets), at most: the query's share of [`Self::memory`] is the smaller
    /// of this and the pool's per-query share. A query needing more spills where the pool
    /// has a spill directory, and otherwise fails with [`Error::OverMemoryBudget`].
    /// Default 1 GiB.
    pub memory_pool_bytes: usize,
    /// The process's query memory pool, shared with PromQL, LogQL and TraceQL: every SQL
    /// query (each [`super::tenant_session`]) takes its budget from it. Default: a pool of
    /// its own, 1 GiB.
    pub memory: crate::memory::QueryMemory,
    /// Longest a query may run before it fails with [`Error::Timeout`]. Default 2 min.
    pub timeout: Duration,
    /// Partitions (threads) a query may scan in parallel. Default: the number of CPUs.
    pub target_partitions: usize,
    /// Rows per Arrow batch. Default 8192.
    pub batch_size: usize,
    /// Decoded Parquet footers and page indexes kept between queries, in bytes (one
    /// cache per process; an hourly logs file of 3.6 M records takes 1.9 MB). `0`
    /// keeps none: every query reads and decodes them again. Default 64 MiB.
    pub metadata_cache_bytes: usize,
    /// Workers (`strata serve --role worker`, as `http://host:port` of their gRPC
    /// listeners) the Parquet scans of a query over a bucket are spread across
    /// (`super::distributed`). Empty (the default): the query runs in this process.
    pub workers: Vec<String>,
    /// Bytes of Parquet one scan partition reads when a query is spread over
    /// [`Self::workers`]: a scan gets one task per `target_partitions` such partitions,
    /// up to one per worker, so scans smaller than this stay in one task. Default 16 MiB.
    pub bytes_per_partition: usize,
    /// The secret query processes and workers present to workers (`[cluster]
    /// token_file`): sent as `authorization: Bearer <token>` with every task of a
    /// spread query. `None` (the default): tasks are sent without one.
    pub cluster_token: Option<ClusterToken>,
}

/// The secret shared by a cluster's query processes and workers. Its `Debug` does not
/// show it.
#[derive(Clone, PartialEq, Eq)]
pub struct ClusterToken(String);

impl ClusterToken {
    /// Shortest token accepted, in characters.
    pub const MIN_LEN: usize = 16;

    /// `text` trimmed, if it is at least [`Self::MIN_LEN`] visible ASCII characters (an
    /// HTTP header value, and not guessable by chance).
    pub fn new(text: &str) -> Result<Self, &'static str> {
        let t = text.trim();
        if t.len() < Self::MIN_LEN {
            return Err("the token must be at least 16 characters");
        }
        if !t.bytes().all(|b| b.is_ascii_graphic()) {
            return Err("the token must be visible ASCII characters without spaces");
        }
        Ok(Self(t.to_owned()))
    }

    /// The secret.
    pub fn secret(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for ClusterToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClusterToken(..)")
    }
}

impl Default for SqlConfig {
    fn default() -> Self {
        Self {
            memory_pool_bytes: 1 << 30,
            memory: crate::memory::QueryMemory::default(),
            timeout: Duration::from_secs(120),
            target_partitions: std::thread::available_parallelism().map_or(1, |n| n.get()),
            batch_size: 8192,
            metadata_cache_bytes: 64 << 20,
            workers: Vec::new(),
            bytes_per_partition: 16 << 20,
            cluster_token: None,
        }
    }
}

impl SqlConfig {
    /// A small preset for tests: 64 MiB, 30 s, 2 partitions.
    pub fn for_tests() -> Self {
        Self {
            memory_pool_bytes: 64 << 20,
            timeout: Duration::from_secs(30),
            target_partitions: 2,
            ..Self::default()
        }
    }

    /// Rejects settings that cannot work, naming the key.
    pub fn validate(&self) -> Result<()> {
        let bad = |key: &'static str, reason: &'static str| Err(Error::Config { key, reason });
        if self.memory_pool_bytes < 1 << 20 {
            return bad("sql.memory_pool_bytes", "must be at least 1 MiB");
        }
        if self.timeout.is_zero() {
            return bad("sql.timeout", "must be longer than zero");
        }
        if self.target_partitions == 0 {
            return bad("sql.target_partitions", "must be at least 1");
        }
        if self.batch_size == 0 {
            return bad("sql.batch_size", "must be at least 1");
        }
        if self.bytes_per_partition == 0 {
            return bad("cluster.bytes_per_partition", "must be at least 1");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validate_names_the_bad_key() {
        assert!(SqlConfig::default().validate().is_ok());
        assert!(SqlConfig::for_tests().validate().is_ok());
        let c = SqlConfig {
            timeout: Duration::ZERO,
            ..SqlConfig::default()
        };
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("sql.timeout")
        );
        let c = SqlConfig {
            memory_pool_bytes: 10,
            ..SqlConfig::default()
        };
        let err = c.validate().unwrap_err().to_string();
        assert!(err.contains("sql.memory_pool_bytes"), "{err}");
    }

    #[test]
    fn a_cluster_token_is_long_visible_ascii_and_not_printed() {
        let t = ClusterToken::new("  0123456789abcdef\n").unwrap();
        assert_eq!(t.secret(), "0123456789abcdef");
        assert!(!format!("{t:?}").contains("0123"));
        assert!(ClusterToken::new("short").is_err());
        assert!(ClusterToken::new("0123456789 abcdef").is_err());
        assert!(ClusterToken::new("0123456789abcdéf").is_err());
    }
}
