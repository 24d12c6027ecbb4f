//! The `strata` command line: its subcommands, each with the flags it owns (the
//! configuration's in `config/args.rs`, the offline queries' in `offline/`). Every config
//! key set by a flag can also be set by its `STRATA_*` environment variable; flags win over
//! the environment, which wins over the config file (`docs/configuration.md`). `snapshot` and
//! `delete` call a running server's admin API (`api/admin.rs`).

use clap::{Args, Parser, Subcommand};

use crate::config::Config;
use crate::config::LogFormat;
use crate::config::args::ConfigArgs;
use crate::error::Result;
use crate::offline::promql::PromqlArgs;
use crate::offline::sql::SqlArgs;

/// Strata: an embedded columnar telemetry store.
#[derive(Debug, Parser)]
#[command(name = "strata", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands of `strata`.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server on a data directory (default ./strata-data, HTTP on 127.0.0.1:4318,
    /// OTLP gRPC on 127.0.0.1:4317).
    Serve(ServeArgs),
    /// Run a PromQL query (instant, or range with --start) on a data directory, offline.
    Promql(PromqlArgs),
    /// Run a read-only SQL query (DataFusion) on a data directory, offline.
    Sql(SqlArgs),
    /// Load and validate the configuration, print a summary, and exit.
    CheckConfig(ConfigArgs),
    /// Work with rule files (Prometheus's format; Loki's for LogQL rules).
    #[command(subcommand)]
    Rules(RulesCommand),
    /// Ask a running server for a snapshot of its data directory (admin scope); prints
    /// the snapshot's name: its directory is <data_dir>/snapshots/<name>. Every tenant's
    /// data with a token bound to no tenant, else the token's tenant's. Also lists,
    /// removes, and keeps the newest N.
    Snapshot(SnapshotArgs),
    /// Ask a running server to delete samples, spans or log records (admin scope).
    #[command(subcommand)]
    Delete(DeleteCommand),
    /// Import history into a running server from VictoriaMetrics, Prometheus or a file;
    /// resumable; compares the counts at the end (docs/import-export.md).
    Import(crate::migrate::ImportArgs),
    /// Print the version and exit.
    Version,
}

/// `strata rules ...`.
#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Check rule files as `promtool check rules` does: every problem with its file and
    /// line; exit status 1 if any file has one.
    Check(RulesCheckArgs),
}

/// Flags of `strata rules check`.
#[derive(Debug, Args)]
pub struct RulesCheckArgs {
    /// The rule files.
    #[arg(required = true)]
    pub files: Vec<std::path::PathBuf>,
    /// The files hold LogQL rules (Loki's ruler format) instead of PromQL ones.
    #[arg(long)]
    pub logql: bool,
}

impl RulesCheckArgs {
    /// Checks every file, printing what it finds to `out`; fails if any file has a problem.
    pub fn run(&self, out: &mut impl std::io::Write) -> Result<()> {
        let lang = if self.logql {
            crate::rules::Lang::Logql
        } else {
            crate::rules::Lang::Promql
        };
        let mut failed = 0;
        for path in &self.files {
            writeln!(out, "Checking {}", path.display())?;
            match crate::rules::file::load(path, lang) {
                Ok(f) => {
                    let n: usize = f.groups.iter().map(|g| g.rules.len()).sum();
                    writeln!(out, "  SUCCESS: {n} rules found")?;
                }
                Err(e) => {
                    failed += 1;
                    writeln!(out, "  FAILED:")?;
                    for line in e.to_string().lines() {
                        writeln!(out, "{line}")?;
                    }
                }
            }
            writeln!(out)?;
        }
        if failed > 0 {
            return Err(crate::error::Error::Usage(format!(
                "{failed} of {} rule files have problems",
                self.files.len()
            )));
        }
        Ok(())
    }
}

/// Flags of `strata serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The configuration.
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Log lines on stderr: text (coloured only on a terminal) or json (one object per
    /// line) [default: text].
    #[arg(long, env = "STRATA_LOG_FORMAT", value_enum)]
    pub log_format: Option<LogFormat>,
}

impl ServeArgs {
    /// The configuration, as [`ConfigArgs::load`] gives it, with `--log-format` over the
    /// file's `log.format`.
    pub fn load(&self) -> Result<Config> {
        self.config.load_with_log_format(self.log_format)
    }
}

/// How to reach a running server's admin API.
#[derive(Debug, Args)]
pub struct AdminServerArgs {
    /// The server's HTTP base URL.
    #[arg(long, env = "STRATA_URL", default_value = "http://127.0.0.1:4318")]
    pub url: String,
    /// A bearer token with the admin scope (needed when the server has tokens).
    #[arg(long, env = "STRATA_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// The tenant to act for (X-Scope-OrgID): when auth is off, or the token may choose.
    #[arg(long)]
    pub tenant: Option<String>,
}

/// Flags of `strata snapshot`.
#[derive(Debug, Args)]
pub struct SnapshotArgs {
    /// The server.
    #[command(flatten)]
    pub server: AdminServerArgs,
    /// Only what is flushed already, not what the server holds in memory (Prometheus's
    /// skip_head).
    #[arg(long)]
    pub skip_head: bool,
    /// After taking it, remove the oldest snapshots of the same reach (the tenant's, or
    /// the server-wide ones) until N are left.
    #[arg(long, value_name = "N")]
    pub keep: Option<usize>,
    /// List the snapshots instead (name, tenant, time, bytes, bytes only it holds).
    #[arg(long, conflicts_with_all = ["keep", "remove", "skip_head"])]
    pub list: bool,
    /// Remove the snapshot NAME instead.
    #[arg(long, value_name = "NAME", conflicts_with_all = ["keep", "skip_head"])]
    pub remove: Option<String>,
}

impl SnapshotArgs {
    /// Takes the snapshot and prints its name to `out` (then the names `--keep` removed),
    /// or lists or removes.
    pub fn run(&self, out: &mut impl std::io::Write) -> Result<()> {
        use crate::error::Error;
        if self.list {
            for s in self.server.snapshots()? {
                let tenant = s["tenant"].as_str().unwrap_or("(all tenants)");
                writeln!(
                    out,
                    "{}\t{tenant}\t{}\t{} bytes\t{} bytes only here",
                    s["name"].as_str().unwrap_or(""),
                    s["created"].as_str().unwrap_or(""),
                    s["bytes"],
                    s["exclusiveBytes"],
                )?;
            }
            return Ok(());
        }
        if let Some(name) = &self.remove {
            self.server.delete(&snapshot_path(name))?;
            writeln!(out, "removed {name}")?;
            return Ok(());
        }
        let params = vec![("skip_head".to_owned(), self.skip_head.to_string())];
        let body = self.server.post("/api/v1/admin/tsdb/snapshot", &params)?;
        let name = body
            .as_ref()
            .and_then(|b| b["data"]["name"].as_str())
            .ok_or_else(|| Error::Server("the answer names no snapshot".into()))?
            .to_owned();
        writeln!(out, "{name}")?;
        let Some(keep) = self.keep else {
            return Ok(());
        };
        // Of the same reach as the one just taken: a server-wide caller prunes the
        // server-wide snapshots, not the tenants' own.
        let all = self.server.snapshots()?;
        let taken = all.iter().find(|s| s["name"] == name.as_str());
        let reach = taken.map(|s| s["tenant"].clone()).unwrap_or_default();
        let mut same: Vec<&str> = all
            .iter()
            .filter(|s| s["tenant"] == reach)
            .filter_map(|s| s["name"].as_str())
            .collect();
        // Oldest first, as listed; never the one just taken.
        same.retain(|n| *n != name);
        let extra = (same.len() + 1).saturating_sub(keep.max(1));
        for old in &same[..extra] {
            self.server.delete(&snapshot_path(old))?;
            writeln!(out, "removed {old}")?;
        }
        Ok(())
    }
}

/// The API path of snapshot `name` (percent-encoded: it is one path segment).
fn snapshot_path(name: &str) -> String {
    let segment: String = url::form_urlencoded::byte_serialize(name.as_bytes()).collect();
    format!("/api/v1/admin/tsdb/snapshots/{segment}")
}

/// `strata delete ...`.
#[derive(Debug, Subcommand)]
pub enum DeleteCommand {
    /// Samples of the series matching selectors (Prometheus's delete_series).
    Series(DeleteSeriesArgs),
    /// Spans matching a condition.
    Spans(DeleteRecordsArgs),
    /// Log records matching a condition.
    Logs(DeleteRecordsArgs),
}

/// Flags of `strata delete series`.
#[derive(Debug, Args)]
pub struct DeleteSeriesArgs {
    /// The server.
    #[command(flatten)]
    pub server: AdminServerArgs,
    /// A series selector (repeat for several): `up{job="api"}`.
    #[arg(long = "match", required = true)]
    pub matchers: Vec<String>,
    /// Earliest time deleted (RFC 3339 or Unix seconds) [default: all time].
    #[arg(long)]
    pub start: Option<String>,
    /// Latest time deleted (RFC 3339 or Unix seconds) [default: all time].
    #[arg(long)]
    pub end: Option<String>,
}

/// Flags of `strata delete spans` and `strata delete logs`.
#[derive(Debug, Args)]
pub struct DeleteRecordsArgs {
    /// The server.
    #[command(flatten)]
    pub server: AdminServerArgs,
    /// Which records: `key = 'value' AND ...`, a key being an attribute
    /// (`client.address`), a column (`service_name`) or `resource_attributes['k']`.
    #[arg(long = "where")]
    pub query: String,
    /// Earliest time deleted (RFC 3339 or Unix seconds) [default: all time].
    #[arg(long)]
    pub start: Option<String>,
    /// Latest time deleted (RFC 3339 or Unix seconds) [default: all time].
    #[arg(long)]
    pub end: Option<String>,
}

impl DeleteCommand {
    /// Asks for the delete and prints what it did to `out`.
    pub fn run(&self, out: &mut impl std::io::Write) -> Result<()> {
        let range = |start: &Option<String>, end: &Option<String>| {
            let mut p = Vec::new();
            p.extend(start.iter().map(|s| ("start".to_owned(), s.clone())));
            p.extend(end.iter().map(|e| ("end".to_owned(), e.clone())));
            p
        };
        match self {
            Self::Series(a) => {
                let mut params: Vec<(String, String)> = a
                    .matchers
                    .iter()
                    .map(|m| ("match[]".to_owned(), m.clone()))
                    .collect();
                params.extend(range(&a.start, &a.end));
                a.server.post("/api/v1/admin/tsdb/delete_series", &params)?;
                writeln!(out, "deleted the samples of {} selectors", a.matchers.len())?;
            }
            Self::Spans(a) | Self::Logs(a) => {
                let signal = if matches!(self, Self::Spans(_)) {
                    "spans"
                } else {
                    "logs"
                };
                let mut params = vec![
                    ("signal".to_owned(), signal.to_owned()),
                    ("query".to_owned(), a.query.clone()),
                ];
                params.extend(range(&a.start, &a.end));
                let body = a.server.post("/api/v1/admin/delete_records", &params)?;
                let data = body.as_ref().map(|b| &b["data"]);
                let n = |k: &str| data.and_then(|d| d[k].as_u64()).unwrap_or(0);
                writeln!(
                    out,
                    "deleted {} {signal}: {} files rewritten, {} removed, of {} checked",
                    n("rowsDeleted"),
                    n("filesRewritten"),
                    n("filesRemoved"),
                    n("filesChecked")
                )?;
            }
        }
        Ok(())
    }
}

impl AdminServerArgs {
    /// POSTs `params` as a form to `path`; the JSON answer (`None` for 204), or the
    /// server's refusal as an error.
    fn post(&self, path: &str, params: &[(String, String)]) -> Result<Option<serde_json::Value>> {
        let form = serde_urlencoded::to_string(params).map_err(|e| {
            crate::error::Error::Usage(format!("cannot encode the parameters: {e}"))
        })?;
        self.call(reqwest::Method::POST, path, form)
    }

    /// DELETE `path`.
    fn delete(&self, path: &str) -> Result<()> {
        self.call(reqwest::Method::DELETE, path, String::new())
            .map(drop)
    }

    /// The snapshots this token may see, oldest first (`GET /api/v1/admin/tsdb/snapshots`).
    fn snapshots(&self) -> Result<Vec<serde_json::Value>> {
        let path = "/api/v1/admin/tsdb/snapshots";
        let body = self.call(reqwest::Method::GET, path, String::new())?;
        Ok(body
            .and_then(|b| b["data"].as_array().cloned())
            .unwrap_or_default())
    }

    /// One request (a form body when not empty); the JSON answer (`None` for an empty
    /// one), or the server's refusal as an error.
    fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        form: String,
    ) -> Result<Option<serde_json::Value>> {
        use crate::error::Error;
        let url = format!("{}{path}", self.url.trim_end_matches('/'));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::Server(format!("cannot start a runtime: {e}")))?;
        let (status, text) = runtime.block_on(async {
            let mut req = reqwest::Client::new().request(method.clone(), &url);
            if !form.is_empty() {
                req = req
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(form);
            }
            if let Some(t) = &self.token {
                req = req.bearer_auth(t);
            }
            if let Some(t) = &self.tenant {
                req = req.header(crate::auth::TENANT_HEADER, t);
            }
            let resp = req
                .send()
                .await
                .map_err(|e| Error::Server(format!("{method} {url}: {e}")))?;
            let status = resp.status();
            let text = resp
                .text()
                .await
                .map_err(|e| Error::Server(format!("{method} {url}: reading the answer: {e}")))?;
            Ok::<_, Error>((status, text))
        })?;
        if !status.is_success() {
            let reason = serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .and_then(|v| v["error"].as_str().map(str::to_owned))
                .unwrap_or_else(|| text.trim().to_owned());
            return Err(Error::Server(format!("{method} {url}: {status}: {reason}")));
        }
        if text.is_empty() {
            return Ok(None);
        }
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| Error::Server(format!("{method} {url}: the answer is not JSON: {e}")))
    }
}
