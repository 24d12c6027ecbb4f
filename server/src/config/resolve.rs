//! From the parsed file and the command line's overrides to a [`Config`].

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use strata_engine::Limits;
use strata_query::sql::ClusterToken;
use strata_wal::Durability;

use super::file::{
    ClusterSection, EngineSection, FileConfig, LimitValues, LogqlSection, RetentionSection,
    ServerSection, SqlSection, WalSection,
};
use super::tokens::TokenConfig;
use super::{Config, DEFAULT_FSYNC_INTERVAL, LogFormat, parse_duration};
use crate::error::{Error, Result};

impl Config {
    /// Defaults, then the file at `path` (if any), then `overrides` (environment and flags,
    /// already merged by the command line); validated.
    pub fn load(path: Option<&Path>, overrides: &Overrides) -> Result<Self> {
        let mut config = match path {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| Error::ReadConfig {
                    path: path.to_owned(),
                    source,
                })?;
                // The role decides how `[storage]` is read, so it goes in first.
                let mut file = parse(&text).map_err(|e| e.in_file(path))?;
                if let Some(role) = overrides.role {
                    file.cluster.role = Some(role.as_str().to_owned());
                }
                let mut config = from_file(file).map_err(|e| e.in_file(path))?;
                config.rules.set_source(path);
                config.scrape.set_source(path);
                config.file = toml::from_str(&text).ok();
                config
            }
            None if overrides.role.is_some_and(super::Role::reads_bucket) => {
                return Err(Error::config(
                    "cluster.role",
                    "a query process or worker reads a bucket: give a config file with [storage] backend = \"s3\"",
                ));
            }
            None => Self::default(),
        };
        overrides.apply(&mut config)?;
        config.plan_memory()?;
        config.validate()?;
        Ok(config)
    }

    /// Defaults overridden by the TOML text (not yet validated as a whole).
    /// The memory limit is divided as [`Config::load`] divides it.
    pub fn from_toml(text: &str) -> Result<Self> {
        let mut config = from_file(parse(text)?)?;
        config.file = toml::from_str(text).ok();
        config.plan_memory()?;
        Ok(config)
    }
}

fn parse(text: &str) -> Result<FileConfig> {
    toml::from_str(text).map_err(|e| Error::Config {
        key: String::new(),
        reason: e.to_string(),
    })
}

/// Values from `STRATA_*` environment variables and flags (clap merges the two, flags
/// winning); each one set replaces the file's value.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `data_dir`.
    pub data_dir: Option<PathBuf>,
    /// `server.http_addr`.
    pub http_addr: Option<SocketAddr>,
    /// `server.grpc_addr`.
    pub grpc_addr: Option<SocketAddr>,
    /// `server.max_body_bytes`.
    pub max_body_bytes: Option<u64>,
    /// `server.max_inflight_bytes`.
    pub max_inflight_bytes: Option<u64>,
    /// `wal.durability`.
    pub wal_durability: Option<String>,
    /// `retention.metrics`.
    pub retention_metrics: Option<String>,
    /// `server.memory_limit`, bytes.
    pub memory_limit: Option<u64>,
    /// `log.format`.
    pub log_format: Option<LogFormat>,
    /// `cluster.role`.
    pub role: Option<super::Role>,
}

impl Overrides {
    pub(crate) fn apply(&self, config: &mut Config) -> Result<()> {
        if let Some(dir) = &self.data_dir {
            config.data_dir = dir.clone();
        }
        if let Some(addr) = self.http_addr {
            config.http_addr = addr;
        }
        if let Some(addr) = self.grpc_addr {
            config.grpc_addr = addr;
        }
        if let Some(n) = self.max_body_bytes {
            config.max_body_bytes = n;
        }
        if let Some(n) = self.max_inflight_bytes {
            config.max_inflight_bytes = n;
            config
                .memory_settings
                .explicit
                .insert(crate::memory::plan::INFLIGHT, n);
        }
        if let Some(n) = self.memory_limit {
            config.memory_settings.limit = Some(n);
        }
        if let Some(d) = &self.wal_durability {
            let interval = match config.engine.wal.durability {
                Durability::Interval(i) => i,
                _ => DEFAULT_FSYNC_INTERVAL,
            };
            config.engine.wal.durability = durability(d, interval)?;
        }
        if let Some(r) = &self.retention_metrics {
            set_metrics_retention(config, parse_duration("retention.metrics", r)?);
        }
        if let Some(f) = self.log_format {
            config.log_format = f;
        }
        Ok(())
    }
}

/// `log.format`: `text` or `json`.
fn log_format(text: &str) -> Result<LogFormat> {
    match text.trim() {
        "text" => Ok(LogFormat::Text),
        "json" => Ok(LogFormat::Json),
        other => Err(Error::config(
            "log.format",
            format!("{other:?} is not \"text\" or \"json\""),
        )),
    }
}

/// Sets the metrics retention of the defaults and of every tenant override that does not
/// set its own.
fn set_metrics_retention(config: &mut Config, retention: Duration) {
    let old = config.engine.limits.metrics_retention;
    config.engine.limits.metrics_retention = retention;
    for limits in config.engine.tenant_limits.values_mut() {
        if limits.metrics_retention == old {
            limits.metrics_retention = retention;
        }
    }
}

fn durability(text: &str, interval: Duration) -> Result<Durability> {
    match text {
        "fsync" => Ok(Durability::Fsync),
        "interval" => Ok(Durability::Interval(interval)),
        "none" => Ok(Durability::None),
        other => Err(Error::config(
            "wal.durability",
            format!("{other:?} is not one of \"fsync\", \"interval\", \"none\""),
        )),
    }
}

pub(super) fn from_file(file: FileConfig) -> Result<Config> {
    let mut c = Config::default();
    super::memory::read(&file, &mut c)?;
    if let Some(dir) = file.data_dir {
        c.data_dir = dir;
    }
    read_server(file.server, &mut c)?;
    if let Some(f) = &file.log.format {
        c.log_format = log_format(f)?;
    }
    c.rules = super::rules::resolve(file.rules, file.alerting)?;
    c.relabel = super::relabel::resolve(file.relabel)?;
    c.derived = super::derive::resolve(file.derived)?;
    c.tempo = super::tempo::resolve(file.tempo)?;
    c.otlp = super::OtlpSettings {
        convert_histograms_to_nhcb: file.otlp.convert_histograms_to_nhcb.unwrap_or(false),
        delta_to_cumulative: file.otlp.delta_to_cumulative.unwrap_or(false),
    };
    c.scrape = super::scrape::resolve(file.scrape)?;
    read_wal(&file.wal, &mut c)?;
    read_retention(&file.retention, &mut c)?;
    c.retention_filters =
        super::filters::resolve(file.retention.filters.as_deref().unwrap_or(&[]))?;
    if let Some(t) = &file.storage.cold_after {
        c.engine.limits.cold_after = parse_duration("storage.cold_after", t)?;
    }
    if let Some(tiers) = &file.retention.downsampling {
        c.engine.limits.downsampling = read_tiers("retention.downsampling", tiers)?;
    }
    read_engine(&file.engine, &mut c)?;
    read_sql(&file.sql, &mut c)?;
    if let Some(on) = file.promql.delayed_name_removal {
        c.promql.delayed_name_removal = on;
    }
    read_logql(&file.logql, &mut c)?;
    read_limits(file.limits, &mut c)?;
    read_cluster(file.cluster, &file.storage, &mut c)?;
    for (i, t) in file.auth.tokens.into_iter().enumerate() {
        c.tokens.push(TokenConfig::from_entry(i, t)?);
    }
    Ok(c)
}

/// `[server]`: the listeners, the body and in-flight limits, TLS (the memory and admission
/// keys are read by `memory.rs`).
fn read_server(s: ServerSection, c: &mut Config) -> Result<()> {
    c.http_addr = s.http_addr.unwrap_or(c.http_addr);
    c.grpc_addr = s.grpc_addr.unwrap_or(c.grpc_addr);
    c.max_body_bytes = s.max_body_bytes.unwrap_or(c.max_body_bytes);
    c.max_inflight_bytes = s.max_inflight_bytes.unwrap_or(c.max_inflight_bytes);
    if let Some(t) = s.tls {
        let self_signed = t.self_signed.unwrap_or(false);
        let (cert_file, key_file) = match (t.cert_file, t.key_file, self_signed) {
            (Some(cert), Some(key), false) => (cert, key),
            (None, None, true) => (PathBuf::new(), PathBuf::new()),
            (_, _, true) => {
                return Err(Error::config(
                    "server.tls",
                    "give cert_file and key_file, or self_signed = true, not both",
                ));
            }
            _ => {
                return Err(Error::config(
                    "server.tls",
                    "give both cert_file and key_file (or self_signed = true)",
                ));
            }
        };
        c.tls = Some(super::TlsFiles {
            self_signed,
            cert_file,
            key_file,
            client_ca_file: t.client_ca_file,
        });
    }
    Ok(())
}

/// `[wal]`: durability and segment size.
fn read_wal(w: &WalSection, c: &mut Config) -> Result<()> {
    let interval = match &w.fsync_interval {
        Some(t) => parse_duration("wal.fsync_interval", t)?,
        None => DEFAULT_FSYNC_INTERVAL,
    };
    if let Some(d) = &w.durability {
        c.engine.wal.durability = durability(d, interval)?;
    }
    if let Some(size) = w.segment_size {
        c.engine.wal.segment_size = size;
    }
    Ok(())
}

/// `[retention]`: how long each signal is kept.
fn read_retention(r: &RetentionSection, c: &mut Config) -> Result<()> {
    if let Some(t) = &r.metrics {
        c.engine.limits.metrics_retention = parse_duration("retention.metrics", t)?;
    }
    if let Some(t) = &r.traces {
        c.engine.limits.traces_retention = parse_duration("retention.traces", t)?;
    }
    if let Some(t) = &r.logs {
        c.engine.limits.logs_retention = parse_duration("retention.logs", t)?;
    }
    Ok(())
}

/// Sets `into` to the duration `v` spells, if it is given.
fn set_duration(key: &str, v: &Option<String>, into: &mut Duration) -> Result<()> {
    if let Some(t) = v {
        *into = parse_duration(key, t)?;
    }
    Ok(())
}

/// `[engine]`: the out-of-order window, flushes, maintenance, the head and page cache.
fn read_engine(e: &EngineSection, c: &mut Config) -> Result<()> {
    set_duration(
        "engine.out_of_order_window",
        &e.out_of_order_window,
        &mut c.engine.out_of_order_window,
    )?;
    set_duration(
        "engine.flush_interval",
        &e.flush_interval,
        &mut c.engine.flush_interval,
    )?;
    set_duration(
        "engine.maintenance_interval",
        &e.maintenance_interval,
        &mut c.engine.maintenance_interval,
    )?;
    if let Some(n) = e.flush_head_samples {
        c.engine.flush_head_samples = n;
    }
    if let Some(n) = e.max_head_bytes {
        c.engine.max_head_bytes = n;
    }
    if let Some(n) = e.page_cache_bytes {
        c.engine.page_cache_bytes = n;
    }
    Ok(())
}

/// `[sql]`: the result size, the memory pool, the metadata cache, the timeout.
fn read_sql(q: &SqlSection, c: &mut Config) -> Result<()> {
    if let Some(n) = q.max_result_bytes {
        c.sql.max_result_bytes = n;
    }
    if let Some(n) = q.memory_pool_bytes {
        c.sql.query.memory_pool_bytes = n;
        c.sql.pool_explicit = true;
    }
    if let Some(n) = q.metadata_cache_bytes {
        c.sql.query.metadata_cache_bytes = n;
    }
    set_duration("sql.timeout", &q.timeout, &mut c.sql.query.timeout)
}

/// `[logql]`: the query length, series, entries and bytes a query may reach.
fn read_logql(l: &LogqlSection, c: &mut Config) -> Result<()> {
    set_duration(
        "logql.max_query_length",
        &l.max_query_length,
        &mut c.logql.max_query_length,
    )?;
    if let Some(n) = l.max_query_series {
        c.logql.limits.max_query_series = n;
    }
    if let Some(n) = l.max_entries_limit_per_query {
        c.logql.max_entries_limit_per_query = n;
    }
    if let Some(n) = l.max_query_bytes_read {
        c.logql.limits.max_query_bytes_read = n;
    }
    Ok(())
}

/// `[limits]` and each tenant's overrides (`[limits.tenants.<id>]`, over the defaults).
fn read_limits(mut limits: LimitValues, c: &mut Config) -> Result<()> {
    let tenants = limits.tenants.take().unwrap_or_default();
    apply_limits(&mut c.engine.limits, &limits, "limits")?;
    for (tenant, values) in tenants {
        let prefix = format!("limits.tenants.{tenant}");
        if values.tenants.is_some() {
            return Err(Error::config(
                format!("{prefix}.tenants"),
                "unknown key: tenant overrides do not nest",
            ));
        }
        strata_engine::TenantId::new(&tenant)
            .map_err(|e| Error::config(prefix.clone(), e.to_string()))?;
        let mut tl = c.engine.limits.clone();
        apply_limits(&mut tl, &values, &prefix)?;
        c.engine.tenant_limits.insert(tenant, tl);
    }
    Ok(())
}

/// `[cluster]`: the role (which decides how `[storage]` is read), the workers, the
/// partition size, the cluster token.
fn read_cluster(
    cluster: ClusterSection,
    storage: &super::storage::StorageSection,
    c: &mut Config,
) -> Result<()> {
    c.role = match cluster.role.as_deref() {
        None | Some("writer") => super::Role::Writer,
        Some("query") => super::Role::Query,
        Some("worker") => super::Role::Worker,
        Some(other) => {
            return Err(Error::config(
                "cluster.role",
                format!("{other:?} is not one of \"writer\", \"query\", \"worker\""),
            ));
        }
    };
    if c.role.reads_bucket() {
        c.engine.reader = Some(super::storage::reader(storage)?);
    } else {
        c.engine.remote = super::storage::remote(storage)?;
    }
    if let Some(workers) = cluster.workers {
        if c.role != super::Role::Query && !workers.is_empty() {
            return Err(Error::config(
                "cluster.workers",
                "only a query process (role = \"query\") spreads its queries over workers",
            ));
        }
        for w in &workers {
            let url = url::Url::parse(w).map_err(|e| {
                Error::config("cluster.workers", format!("{w:?} is not a URL: {e}"))
            })?;
            if url.scheme() != "http" || url.host().is_none() {
                return Err(Error::config(
                    "cluster.workers",
                    format!("{w:?}: give a worker's gRPC listener as http://host:port"),
                ));
            }
        }
        c.sql.query.workers = workers;
    }
    if let Some(n) = cluster.bytes_per_partition {
        c.sql.query.bytes_per_partition = n;
    }
    if let Some(path) = cluster.token_file {
        c.sql.query.cluster_token = Some(cluster_token(c.role, &path)?);
    }
    Ok(())
}

/// The cluster token in the file at `path` (`[cluster] token_file`), for a query process
/// or worker.
fn cluster_token(role: super::Role, path: &Path) -> Result<ClusterToken> {
    const KEY: &str = "cluster.token_file";
    if !role.reads_bucket() {
        return Err(Error::config(
            KEY,
            "only query processes and workers (role = \"query\" or \"worker\") use a cluster token",
        ));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::config(KEY, format!("cannot read {}: {e}", path.display())))?;
    ClusterToken::new(&text).map_err(|e| Error::config(KEY, format!("{}: {e}", path.display())))
}

fn apply_limits(l: &mut Limits, v: &LimitValues, prefix: &str) -> Result<()> {
    let key = |k: &str| format!("{prefix}.{k}");
    macro_rules! set {
        ($field:ident) => {
            if let Some(x) = v.$field {
                l.$field = x;
            }
        };
    }
    set!(max_active_series);
    set!(max_series_per_metric);
    set!(ingest_rate);
    set!(ingest_burst);
    set!(max_labels_per_series);
    set!(max_label_name_len);
    set!(max_label_value_len);
    set!(signal_record_rate);
    set!(signal_record_burst);
    set!(signal_byte_rate);
    set!(signal_byte_burst);
    set!(max_attributes);
    set!(max_attribute_value_len);
    set!(max_attribute_depth);
    set!(max_events);
    set!(max_links);
    set!(max_exemplars);
    set!(max_native_histogram_buckets);
    if let Some(b) = v.disk_budget_bytes {
        l.disk_budget = Some(b);
    }
    if let Some(t) = &v.active_series_window {
        l.active_series_window = parse_duration(&key("active_series_window"), t)?;
    }
    if let Some(t) = &v.metrics_retention {
        l.metrics_retention = parse_duration(&key("metrics_retention"), t)?;
    }
    if let Some(t) = &v.traces_retention {
        l.traces_retention = parse_duration(&key("traces_retention"), t)?;
    }
    if let Some(t) = &v.logs_retention {
        l.logs_retention = parse_duration(&key("logs_retention"), t)?;
    }
    if let Some(t) = &v.cold_after {
        l.cold_after = parse_duration(&key("cold_after"), t)?;
    }
    if let Some(tiers) = &v.downsampling {
        l.downsampling = read_tiers(&key("downsampling"), tiers)?;
    }
    Ok(())
}

/// Downsampled tiers as configured (`docs/retention.md`); the engine checks the ladder.
fn read_tiers(
    at: &str,
    tiers: &[super::file::TierEntry],
) -> Result<Vec<strata_engine::Downsampling>> {
    let tiers = tiers
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let matchers = match &t.selector {
                None => Vec::new(),
                Some(s) => strata_query::prom_api::series_selectors(std::slice::from_ref(s))
                    .map_err(|e| Error::config(format!("{at}[{i}].match"), e.to_string()))?
                    .into_iter()
                    .next()
                    .unwrap_or_default()
                    .iter()
                    .map(|m| {
                        let op = match m.op() {
                            strata_engine::MatchOp::Equal => "=",
                            strata_engine::MatchOp::NotEqual => "!=",
                            strata_engine::MatchOp::Regex => "=~",
                            strata_engine::MatchOp::NotRegex => "!~",
                        };
                        strata_engine::TierMatch {
                            name: m.name().to_owned(),
                            op: op.to_owned(),
                            value: m.value().to_owned(),
                        }
                    })
                    .collect(),
            };
            Ok(strata_engine::Downsampling {
                after: parse_duration(&format!("{at}[{i}].after"), &t.after)?,
                resolution: parse_duration(&format!("{at}[{i}].resolution"), &t.resolution)?,
                matchers,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let check = Limits {
        downsampling: tiers.clone(),
        ..Limits::default()
    };
    if let Err(strata_engine::Error::InvalidConfig { reason, .. }) = check.validate() {
        return Err(Error::config(at.to_owned(), reason));
    }
    Ok(tiers)
}
