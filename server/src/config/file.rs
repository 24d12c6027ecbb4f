//! The TOML file as operators write it: every key optional, unknown keys refused.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;

/// The whole file. Every field is optional; what is missing keeps its default.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileConfig {
    pub(crate) data_dir: Option<PathBuf>,
    #[serde(default)]
    pub(crate) server: ServerSection,
    #[serde(default)]
    pub(crate) wal: WalSection,
    #[serde(default)]
    pub(crate) retention: RetentionSection,
    #[serde(default)]
    pub(crate) limits: LimitValues,
    #[serde(default)]
    pub(crate) engine: EngineSection,
    #[serde(default)]
    pub(crate) sql: SqlSection,
    #[serde(default)]
    pub(crate) promql: PromqlSection,
    #[serde(default)]
    pub(crate) logql: LogqlSection,
    #[serde(default)]
    pub(crate) auth: AuthSection,
    #[serde(default)]
    pub(crate) log: LogSection,
    #[serde(default)]
    pub(crate) storage: super::storage::StorageSection,
    #[serde(default)]
    pub(crate) cluster: ClusterSection,
    #[serde(default)]
    pub(crate) rules: super::rules::RulesSection,
    #[serde(default)]
    pub(crate) alerting: super::rules::AlertingSection,
    #[serde(default)]
    pub(crate) relabel: super::relabel::RelabelSection,
    #[serde(default)]
    pub(crate) derived: super::derive::DerivedSection,
    #[serde(default)]
    pub(crate) tempo: super::tempo::TempoSection,
    #[serde(default)]
    pub(crate) scrape: super::scrape::ScrapeSection,
    #[serde(default)]
    pub(crate) otlp: OtlpSection,
}

/// `[otlp]`: how OTLP metrics map onto Prometheus series.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct OtlpSection {
    pub(crate) convert_histograms_to_nhcb: Option<bool>,
    pub(crate) delta_to_cumulative: Option<bool>,
}

/// `[cluster]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ClusterSection {
    pub(crate) role: Option<String>,
    pub(crate) workers: Option<Vec<String>>,
    pub(crate) bytes_per_partition: Option<usize>,
    pub(crate) token_file: Option<std::path::PathBuf>,
}

/// `[server]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ServerSection {
    pub(crate) http_addr: Option<SocketAddr>,
    pub(crate) grpc_addr: Option<SocketAddr>,
    pub(crate) max_body_bytes: Option<u64>,
    pub(crate) max_inflight_bytes: Option<u64>,
    pub(crate) tls: Option<TlsSection>,
    pub(crate) memory_limit: Option<SizeValue>,
    pub(crate) query_memory_bytes: Option<SizeValue>,
    pub(crate) rules_memory_bytes: Option<SizeValue>,
    pub(crate) exemplar_memory_bytes: Option<SizeValue>,
    pub(crate) max_concurrent_queries: Option<usize>,
    pub(crate) query_queue_timeout: Option<String>,
}

/// A size: bytes as an integer, or text with a unit (`"512MiB"`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(crate) enum SizeValue {
    Bytes(u64),
    Text(String),
}

impl SizeValue {
    /// The bytes, or an error naming `key`.
    pub(crate) fn bytes(&self, key: &str) -> crate::error::Result<u64> {
        match self {
            Self::Bytes(n) => Ok(*n),
            Self::Text(t) => {
                crate::memory::plan::parse_size(t).map_err(|e| crate::error::Error::config(key, e))
            }
        }
    }
}

/// `[server.tls]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TlsSection {
    pub(crate) cert_file: Option<PathBuf>,
    pub(crate) key_file: Option<PathBuf>,
    pub(crate) client_ca_file: Option<PathBuf>,
    pub(crate) self_signed: Option<bool>,
}

/// `[wal]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct WalSection {
    pub(crate) durability: Option<String>,
    pub(crate) fsync_interval: Option<String>,
    pub(crate) segment_size: Option<u64>,
}

/// `[retention]`: durations per signal.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RetentionSection {
    pub(crate) metrics: Option<String>,
    pub(crate) traces: Option<String>,
    pub(crate) logs: Option<String>,
    pub(crate) filters: Option<Vec<super::filters::FilterEntry>>,
    pub(crate) downsampling: Option<Vec<TierEntry>>,
}

/// One `[[retention.downsampling]]` (or `[[limits.tenants.<id>.downsampling]]`) table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TierEntry {
    pub(crate) after: String,
    pub(crate) resolution: String,
    #[serde(rename = "match")]
    pub(crate) selector: Option<String>,
}

/// `[limits]` (defaults of every tenant) and each `[limits.tenants.<id>]` override: the same
/// keys; `tenants` is allowed only at the top (checked when resolving).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LimitValues {
    pub(crate) max_active_series: Option<usize>,
    pub(crate) max_series_per_metric: Option<usize>,
    pub(crate) active_series_window: Option<String>,
    pub(crate) ingest_rate: Option<f64>,
    pub(crate) ingest_burst: Option<f64>,
    pub(crate) max_labels_per_series: Option<usize>,
    pub(crate) max_label_name_len: Option<usize>,
    pub(crate) max_label_value_len: Option<usize>,
    pub(crate) disk_budget_bytes: Option<u64>,
    pub(crate) metrics_retention: Option<String>,
    pub(crate) traces_retention: Option<String>,
    pub(crate) logs_retention: Option<String>,
    pub(crate) cold_after: Option<String>,
    pub(crate) downsampling: Option<Vec<TierEntry>>,
    pub(crate) signal_record_rate: Option<f64>,
    pub(crate) signal_record_burst: Option<f64>,
    pub(crate) signal_byte_rate: Option<f64>,
    pub(crate) signal_byte_burst: Option<f64>,
    pub(crate) max_attributes: Option<usize>,
    pub(crate) max_attribute_value_len: Option<usize>,
    pub(crate) max_attribute_depth: Option<usize>,
    pub(crate) max_events: Option<usize>,
    pub(crate) max_links: Option<usize>,
    pub(crate) max_exemplars: Option<usize>,
    pub(crate) max_native_histogram_buckets: Option<usize>,
    pub(crate) tenants: Option<BTreeMap<String, LimitValues>>,
}

/// `[engine]`: storage tuning.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EngineSection {
    pub(crate) out_of_order_window: Option<String>,
    pub(crate) flush_interval: Option<String>,
    pub(crate) flush_head_samples: Option<u64>,
    pub(crate) max_head_bytes: Option<u64>,
    pub(crate) maintenance_interval: Option<String>,
    pub(crate) page_cache_bytes: Option<u64>,
}

/// `[sql]`: the SQL API's limits.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SqlSection {
    pub(crate) max_result_bytes: Option<u64>,
    pub(crate) memory_pool_bytes: Option<usize>,
    pub(crate) metadata_cache_bytes: Option<usize>,
    pub(crate) timeout: Option<String>,
    pub(crate) max_spill_bytes: Option<SizeValue>,
}

/// `[promql]`: PromQL semantics.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PromqlSection {
    pub(crate) delayed_name_removal: Option<bool>,
    pub(crate) max_samples: Option<usize>,
}

/// `[log]`: the server's own log lines.
/// `[logql]`: bounds on one LogQL query.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LogqlSection {
    pub(crate) max_query_length: Option<String>,
    pub(crate) max_query_series: Option<usize>,
    pub(crate) max_entries_limit_per_query: Option<usize>,
    pub(crate) max_query_bytes_read: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LogSection {
    pub(crate) format: Option<String>,
}

/// `[auth]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AuthSection {
    #[serde(default)]
    pub(crate) tokens: Vec<TokenEntry>,
}

/// One `[[auth.tokens]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TokenEntry {
    pub(crate) sha256: String,
    pub(crate) tenant: String,
    pub(crate) scopes: Vec<String>,
    #[serde(default)]
    pub(crate) choose_tenant: bool,
}
