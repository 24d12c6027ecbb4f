//! The `global` and `scrape_configs` sections of a Prometheus configuration file, read as
//! Prometheus reads them (defaults, checks and error messages naming the job), into
//! [`Job`]s. Every other section of the file (`rule_files`, `alerting`, `remote_write`,
//! ...) is left alone, so an unchanged `prometheus.yml` serves. A field of a scrape config
//! Strata does not implement (another service discovery, a proxy) is an error naming it:
//! never a job silently scraped differently.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::error::ScrapeError;
use crate::relabel::{Relabel, RuleConfig};
use crate::rules::file::parse_duration;

/// The file as written: what Strata reads of it.
#[derive(Debug, Default, Deserialize)]
struct FileYaml {
    #[serde(default)]
    global: GlobalYaml,
    #[serde(default)]
    scrape_configs: Vec<JobYaml>,
    #[serde(default)]
    scrape_config_files: Vec<String>,
}

/// A file named by `scrape_config_files`: scrape configs only.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct JobsFileYaml {
    #[serde(default)]
    scrape_configs: Vec<JobYaml>,
}

/// `global`: the scrape defaults (other keys, such as `evaluation_interval`, ignored).
#[derive(Debug, Default, Deserialize)]
struct GlobalYaml {
    scrape_interval: Option<String>,
    scrape_timeout: Option<String>,
    body_size_limit: Option<String>,
    sample_limit: Option<u64>,
    label_limit: Option<u64>,
    label_name_length_limit: Option<u64>,
    label_value_length_limit: Option<u64>,
    scrape_protocols: Option<Vec<String>>,
    scrape_native_histograms: Option<bool>,
    always_scrape_classic_histograms: Option<bool>,
}

/// One `scrape_configs` entry as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct JobYaml {
    job_name: String,
    scrape_interval: Option<String>,
    scrape_timeout: Option<String>,
    metrics_path: Option<String>,
    scheme: Option<String>,
    #[serde(default)]
    params: BTreeMap<String, Vec<String>>,
    honor_labels: Option<bool>,
    honor_timestamps: Option<bool>,
    enable_compression: Option<bool>,
    follow_redirects: Option<bool>,
    enable_http2: Option<bool>,
    scrape_protocols: Option<Vec<String>>,
    scrape_native_histograms: Option<bool>,
    always_scrape_classic_histograms: Option<bool>,
    /// Prometheus 2's name for `always_scrape_classic_histograms`.
    scrape_classic_histograms: Option<bool>,
    #[serde(default)]
    static_configs: Vec<StaticYaml>,
    #[serde(default)]
    file_sd_configs: Vec<FileSdYaml>,
    #[serde(default)]
    relabel_configs: Vec<RuleConfig>,
    #[serde(default)]
    metric_relabel_configs: Vec<RuleConfig>,
    sample_limit: Option<u64>,
    label_limit: Option<u64>,
    label_name_length_limit: Option<u64>,
    label_value_length_limit: Option<u64>,
    body_size_limit: Option<String>,
    target_limit: Option<u64>,
    basic_auth: Option<BasicAuthYaml>,
    authorization: Option<AuthorizationYaml>,
    bearer_token: Option<String>,
    bearer_token_file: Option<String>,
    tls_config: Option<TlsYaml>,
}

/// A `static_configs` entry, and a file_sd file's entries.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StaticYaml {
    #[serde(default)]
    pub(crate) targets: Vec<String>,
    #[serde(default)]
    pub(crate) labels: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSdYaml {
    files: Vec<String>,
    refresh_interval: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BasicAuthYaml {
    username: Option<String>,
    username_file: Option<String>,
    password: Option<String>,
    password_file: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuthorizationYaml {
    #[serde(rename = "type")]
    kind: Option<String>,
    credentials: Option<String>,
    credentials_file: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TlsYaml {
    ca_file: Option<String>,
    cert_file: Option<String>,
    key_file: Option<String>,
    server_name: Option<String>,
    insecure_skip_verify: Option<bool>,
    min_version: Option<String>,
}

/// How a target is authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Auth {
    /// `basic_auth`.
    Basic { username: String, password: String },
    /// `authorization` (or the older `bearer_token`): `<type> <credentials>`.
    Header(String),
}

/// `tls_config`, with its files read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Tls {
    pub(crate) ca_pem: Option<Vec<u8>>,
    /// The client certificate and key, PEM, concatenated.
    pub(crate) identity_pem: Option<Vec<u8>>,
    pub(crate) server_name: Option<String>,
    pub(crate) insecure_skip_verify: bool,
    /// `min_version: TLS13` (TLS12, the default, allows both).
    pub(crate) min_tls13: bool,
}

/// A `file_sd_configs` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FileSd {
    /// Glob patterns, relative ones from the Prometheus file's directory.
    pub(crate) patterns: Vec<PathBuf>,
    pub(crate) refresh: Duration,
}

/// One scrape job, checked, with Prometheus's defaults filled in.
#[derive(Debug, Clone)]
pub(crate) struct Job {
    pub(crate) name: String,
    pub(crate) interval: Duration,
    pub(crate) timeout: Duration,
    pub(crate) metrics_path: String,
    pub(crate) scheme: String,
    pub(crate) params: BTreeMap<String, Vec<String>>,
    pub(crate) honor_labels: bool,
    pub(crate) honor_timestamps: bool,
    pub(crate) compression: bool,
    pub(crate) follow_redirects: bool,
    pub(crate) statics: Vec<StaticYaml>,
    pub(crate) file_sd: Vec<FileSd>,
    pub(crate) relabel: Relabel,
    pub(crate) metric_relabel: Relabel,
    /// 0: no limit (as every limit below).
    pub(crate) sample_limit: u64,
    pub(crate) label_limit: u64,
    pub(crate) label_name_length_limit: u64,
    pub(crate) label_value_length_limit: u64,
    pub(crate) body_size_limit: u64,
    pub(crate) target_limit: u64,
    pub(crate) auth: Option<Auth>,
    pub(crate) tls: Tls,
    /// The `Accept` header of its scrapes, from `scrape_protocols`.
    pub(crate) accept: String,
    /// `scrape_native_histograms`: native histograms of protobuf bodies are stored as such
    /// (else as their classic buckets).
    pub(crate) native_histograms: bool,
    /// `always_scrape_classic_histograms`: a native histogram's classic buckets too.
    pub(crate) classic_histograms: bool,
    /// The file it came from.
    pub(crate) source: PathBuf,
}

/// The `scrape_protocols` Strata reads, with the media type each asks for.
const PROTOCOLS: [(&str, &str); 5] = [
    (
        "PrometheusProto",
        "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited",
    ),
    (
        "OpenMetricsText1.0.0",
        "application/openmetrics-text;version=1.0.0",
    ),
    (
        "OpenMetricsText0.0.1",
        "application/openmetrics-text;version=0.0.1",
    ),
    ("PrometheusText1.0.0", "text/plain;version=1.0.0"),
    ("PrometheusText0.0.4", "text/plain;version=0.0.4"),
];

/// Prometheus's default protocols, and those with native histograms scraped.
const DEFAULT_PROTOCOLS: [&str; 4] = [
    "OpenMetricsText1.0.0",
    "OpenMetricsText0.0.1",
    "PrometheusText1.0.0",
    "PrometheusText0.0.4",
];

/// The `Accept` header for `protocols` as Prometheus writes it: each media type with a
/// weight falling from `q=0.6`, then `*/*`.
fn accept(protocols: &[String]) -> Result<String, String> {
    let mut weight = PROTOCOLS.len() + 1;
    let mut out = Vec::with_capacity(protocols.len() + 1);
    for p in protocols {
        let Some((_, media)) = PROTOCOLS.iter().find(|(name, _)| name == p) else {
            let known: Vec<&str> = PROTOCOLS.iter().map(|(n, _)| *n).collect();
            return Err(format!(
                "scrape_protocols: unknown scrape protocol {p:?}, supported: {}",
                known.join(", ")
            ));
        };
        out.push(format!("{media};q=0.{weight}"));
        weight = weight.saturating_sub(1);
    }
    out.push(format!("*/*;q=0.{weight}"));
    Ok(out.join(","))
}

/// Prometheus's defaults.
const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Reads the jobs of the Prometheus configuration file at `path`; `native_histograms` is
/// the default of `scrape_native_histograms` (`[scrape] native_histograms`).
pub(crate) fn load(path: &Path, native_histograms: bool) -> Result<Vec<Job>, ScrapeError> {
    let text = read(path)?;
    let file: FileYaml = yaml(path, &text)?;
    let dir = parent(path);
    let g = &file.global;
    let global = Defaults {
        interval: duration(path, "global.scrape_interval", g.scrape_interval.as_deref())?
            .unwrap_or(DEFAULT_INTERVAL),
        timeout: duration(path, "global.scrape_timeout", g.scrape_timeout.as_deref())?
            .unwrap_or(DEFAULT_TIMEOUT),
        body_size_limit: match &g.body_size_limit {
            Some(s) => bytes(path, "global.body_size_limit", s)?,
            None => 0,
        },
        sample_limit: g.sample_limit.unwrap_or(0),
        label_limit: g.label_limit.unwrap_or(0),
        label_name_length_limit: g.label_name_length_limit.unwrap_or(0),
        label_value_length_limit: g.label_value_length_limit.unwrap_or(0),
        protocols: g.scrape_protocols.clone(),
        native_histograms: g.scrape_native_histograms.unwrap_or(native_histograms),
        classic_histograms: g.always_scrape_classic_histograms.unwrap_or(false),
    };
    if global.timeout > global.interval {
        return Err(bad(
            path,
            "global",
            "scrape_timeout is greater than scrape_interval",
        ));
    }
    let mut yamls: Vec<(JobYaml, PathBuf)> = file
        .scrape_configs
        .into_iter()
        .map(|j| (j, path.to_owned()))
        .collect();
    for pattern in &file.scrape_config_files {
        for p in glob_files(&dir, pattern).map_err(|e| bad(path, "scrape_config_files", &e))? {
            let text = read(&p)?;
            let more: JobsFileYaml = yaml(&p, &text)?;
            yamls.extend(more.scrape_configs.into_iter().map(|j| (j, p.clone())));
        }
    }
    let mut jobs: Vec<Job> = Vec::with_capacity(yamls.len());
    for (y, from) in yamls {
        if jobs.iter().any(|j| j.name == y.job_name) {
            return Err(bad(
                &from,
                &format!("job {:?}", y.job_name),
                "found multiple scrape configs with this job name",
            ));
        }
        jobs.push(job(&from, &parent(&from), &global, y)?);
    }
    Ok(jobs)
}

/// `global`'s values: each job's defaults.
struct Defaults {
    interval: Duration,
    timeout: Duration,
    body_size_limit: u64,
    sample_limit: u64,
    label_limit: u64,
    label_name_length_limit: u64,
    label_value_length_limit: u64,
    protocols: Option<Vec<String>>,
    native_histograms: bool,
    classic_histograms: bool,
}

fn job(path: &Path, dir: &Path, g: &Defaults, y: JobYaml) -> Result<Job, ScrapeError> {
    let at = format!("job {:?}", y.job_name);
    let err = |reason: &str| bad(path, &at, reason);
    if y.job_name.is_empty() {
        return Err(err("job_name is empty"));
    }
    let interval = duration(path, &at, y.scrape_interval.as_deref())?.unwrap_or(g.interval);
    if interval.is_zero() {
        return Err(err("scrape_interval must be greater than 0"));
    }
    // As Prometheus: an unset timeout is the global one, but never over the interval.
    let timeout = match duration(path, &at, y.scrape_timeout.as_deref())? {
        Some(t) => t,
        None => g.timeout.min(interval),
    };
    if timeout > interval {
        return Err(err(&format!(
            "scrape timeout greater than scrape interval ({} > {})",
            humantime::format_duration(timeout),
            humantime::format_duration(interval)
        )));
    }
    if timeout.is_zero() {
        return Err(err("scrape_timeout must be greater than 0"));
    }
    let scheme = y.scheme.unwrap_or_else(|| "http".into());
    if scheme != "http" && scheme != "https" {
        return Err(err(&format!(
            "scheme {scheme:?}: only http and https are supported"
        )));
    }
    let metrics_path = y.metrics_path.unwrap_or_else(|| "/metrics".into());
    let native_histograms = y.scrape_native_histograms.unwrap_or(g.native_histograms);
    let classic_histograms = y
        .always_scrape_classic_histograms
        .or(y.scrape_classic_histograms)
        .unwrap_or(g.classic_histograms);
    // As Prometheus: with native histograms scraped, the protobuf format comes first.
    let protocols = match y.scrape_protocols.or_else(|| g.protocols.clone()) {
        Some(p) => p,
        None => {
            let first = native_histograms.then_some("PrometheusProto");
            first
                .into_iter()
                .chain(DEFAULT_PROTOCOLS)
                .map(String::from)
                .collect()
        }
    };
    let accept = accept(&protocols).map_err(|e| err(&e))?;
    let relabel =
        Relabel::new(&y.relabel_configs).map_err(|e| err(&format!("relabel_configs: {e}")))?;
    let metric_relabel = Relabel::new(&y.metric_relabel_configs)
        .map_err(|e| err(&format!("metric_relabel_configs: {e}")))?;
    let mut file_sd = Vec::new();
    for f in y.file_sd_configs {
        let refresh =
            duration(path, &at, f.refresh_interval.as_deref())?.unwrap_or(Duration::from_secs(300));
        file_sd.push(FileSd {
            patterns: f.files.iter().map(|p| dir.join(p)).collect(),
            refresh,
        });
    }
    let auth = auth(
        path,
        dir,
        &at,
        y.basic_auth,
        y.authorization,
        y.bearer_token,
        y.bearer_token_file,
    )?;
    let tls = match y.tls_config {
        Some(t) => tls(path, dir, &at, t)?,
        None => Tls::default(),
    };
    let body_size_limit = match &y.body_size_limit {
        Some(s) => bytes(path, &at, s)?,
        None => g.body_size_limit,
    };
    let _ = y.enable_http2;
    Ok(Job {
        name: y.job_name,
        interval,
        timeout,
        metrics_path,
        scheme,
        params: y.params,
        honor_labels: y.honor_labels.unwrap_or(false),
        honor_timestamps: y.honor_timestamps.unwrap_or(true),
        compression: y.enable_compression.unwrap_or(true),
        follow_redirects: y.follow_redirects.unwrap_or(true),
        statics: y.static_configs,
        file_sd,
        relabel,
        metric_relabel,
        sample_limit: y.sample_limit.unwrap_or(g.sample_limit),
        label_limit: y.label_limit.unwrap_or(g.label_limit),
        label_name_length_limit: y
            .label_name_length_limit
            .unwrap_or(g.label_name_length_limit),
        label_value_length_limit: y
            .label_value_length_limit
            .unwrap_or(g.label_value_length_limit),
        body_size_limit,
        target_limit: y.target_limit.unwrap_or(0),
        auth,
        tls,
        accept,
        native_histograms,
        classic_histograms,
        source: path.to_owned(),
    })
}

#[allow(clippy::too_many_arguments)]
fn auth(
    path: &Path,
    dir: &Path,
    at: &str,
    basic: Option<BasicAuthYaml>,
    authorization: Option<AuthorizationYaml>,
    bearer: Option<String>,
    bearer_file: Option<String>,
) -> Result<Option<Auth>, ScrapeError> {
    let secret = |inline: Option<String>,
                  file: Option<String>,
                  what: &str|
     -> Result<Option<String>, ScrapeError> {
        match (inline, file) {
            (Some(_), Some(_)) => Err(bad(
                path,
                at,
                &format!("at most one of {what} and {what}_file must be configured"),
            )),
            (Some(s), None) => Ok(Some(s)),
            (None, Some(f)) => Ok(Some(read(&dir.join(f))?.trim().to_owned())),
            (None, None) => Ok(None),
        }
    };
    let mut out = Vec::new();
    if let Some(b) = basic {
        let username = secret(b.username, b.username_file, "username")?.unwrap_or_default();
        let password = secret(b.password, b.password_file, "password")?.unwrap_or_default();
        out.push(Auth::Basic { username, password });
    }
    if let Some(a) = authorization {
        let kind = a.kind.unwrap_or_else(|| "Bearer".into());
        if kind.eq_ignore_ascii_case("basic") {
            return Err(bad(
                path,
                at,
                "authorization type cannot be set to \"basic\", use \"basic_auth\" instead",
            ));
        }
        let credentials =
            secret(a.credentials, a.credentials_file, "credentials")?.unwrap_or_default();
        out.push(Auth::Header(format!("{kind} {credentials}")));
    }
    if let Some(t) = secret(bearer, bearer_file, "bearer_token")? {
        out.push(Auth::Header(format!("Bearer {t}")));
    }
    if out.len() > 1 {
        return Err(bad(
            path,
            at,
            "at most one of basic_auth, authorization and bearer_token may be configured",
        ));
    }
    Ok(out.pop())
}

fn tls(path: &Path, dir: &Path, at: &str, t: TlsYaml) -> Result<Tls, ScrapeError> {
    let file = |f: &Option<String>| -> Result<Option<Vec<u8>>, ScrapeError> {
        f.as_ref()
            .map(|f| {
                let p = dir.join(f);
                std::fs::read(&p).map_err(|source| ScrapeError::Read { path: p, source })
            })
            .transpose()
    };
    let identity_pem = match (file(&t.cert_file)?, file(&t.key_file)?) {
        (Some(mut cert), Some(key)) => {
            cert.push(b'\n');
            cert.extend_from_slice(&key);
            Some(cert)
        }
        (None, None) => None,
        _ => {
            return Err(bad(
                path,
                at,
                "tls_config: cert_file and key_file must both be set",
            ));
        }
    };
    if let Some(v) = &t.min_version
        && !matches!(v.as_str(), "TLS12" | "TLS13")
    {
        return Err(bad(
            path,
            at,
            &format!("tls_config.min_version {v:?}: TLS12 or TLS13"),
        ));
    }
    Ok(Tls {
        ca_pem: file(&t.ca_file)?,
        identity_pem,
        server_name: t.server_name,
        insecure_skip_verify: t.insecure_skip_verify.unwrap_or(false),
        min_tls13: t.min_version.as_deref() == Some("TLS13"),
    })
}

fn read(path: &Path) -> Result<String, ScrapeError> {
    std::fs::read_to_string(path).map_err(|source| ScrapeError::Read {
        path: path.to_owned(),
        source,
    })
}

fn yaml<T: serde::de::DeserializeOwned + Default>(
    path: &Path,
    text: &str,
) -> Result<T, ScrapeError> {
    if text.lines().all(|l| {
        let l = l.trim();
        l.is_empty() || l.starts_with('#')
    }) {
        return Ok(T::default());
    }
    serde_saphyr::from_str(text).map_err(|e| ScrapeError::Config {
        path: path.to_owned(),
        at: String::new(),
        reason: e.to_string(),
    })
}

fn parent(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    }
}

fn bad(path: &Path, at: &str, reason: &str) -> ScrapeError {
    ScrapeError::Config {
        path: path.to_owned(),
        at: at.to_owned(),
        reason: reason.to_owned(),
    }
}

fn duration(path: &Path, at: &str, text: Option<&str>) -> Result<Option<Duration>, ScrapeError> {
    text.map(|t| parse_duration(t).map_err(|e| bad(path, at, &e)))
        .transpose()
}

/// A size as Prometheus writes one (`units.Base2Bytes`): `512`, `10KB`, `5MB`, `1GB`
/// (powers of 1,024).
pub(crate) fn parse_bytes(s: &str) -> Option<u64> {
    let s = s.trim();
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    let n: u64 = s.get(..digits)?.parse().ok()?;
    let mul: u64 = match s.get(digits..)?.trim() {
        "" | "B" => 1,
        "KB" | "KiB" => 1 << 10,
        "MB" | "MiB" => 1 << 20,
        "GB" | "GiB" => 1 << 30,
        "TB" | "TiB" => 1 << 40,
        _ => return None,
    };
    n.checked_mul(mul)
}

fn bytes(path: &Path, at: &str, s: &str) -> Result<u64, ScrapeError> {
    parse_bytes(s).ok_or_else(|| {
        bad(
            path,
            at,
            &format!("body_size_limit {s:?} is not a size like \"10MB\""),
        )
    })
}

/// The files `pattern` (relative to `dir`) names, sorted.
pub(crate) fn glob_files(dir: &Path, pattern: &str) -> Result<Vec<PathBuf>, String> {
    let full = dir.join(pattern);
    let text = full.to_string_lossy();
    let mut out: Vec<PathBuf> = glob::glob(&text)
        .map_err(|e| format!("{pattern:?}: {e}"))?
        .filter_map(std::result::Result::ok)
        .collect();
    out.sort();
    Ok(out)
}
