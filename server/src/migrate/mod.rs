//! `strata import`: history from the store a team runs today into a running Strata, through
//! its import API (`/api/v1/import`, the write path every write takes):
//!
//! - `--from-vm URL`: VictoriaMetrics's `/api/v1/export` (JSON lines, as they are);
//! - `--from-prometheus URL`: Prometheus's remote read (`/api/v1/read`, `SAMPLES`), made
//!   into JSON lines (staleness markers left out);
//! - `--from-file PATH`: VictoriaMetrics JSON lines, the text format or OpenMetrics (by
//!   content), or OTLP JSON lines as the OpenTelemetry Collector's file exporter writes
//!   them (metrics, spans and logs, each line posted to `/v1/metrics`, `/v1/traces` or
//!   `/v1/logs`).
//!
//! A remote source is read in slices of `--step` over `[--start, --end]`, a file in batches
//! of whole lines; each done slice or batch is recorded in the checkpoint file, so an
//! interrupted import started again with the same flags goes on where it stopped. A
//! progress line (samples, rate, ETA) goes to stderr; at the end the series and sample
//! counts of the source and of Strata over the range are compared (`source.rs`).

mod checkpoint;
mod compare;
mod source;

use std::io::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use clap::Args;

use crate::error::{Error, Result};
use checkpoint::Checkpoint;
use source::{Counts, Source};

/// The Strata an import writes into (as `strata snapshot` names a server).
#[derive(Debug, Clone, Args)]
pub struct ServerArgs {
    /// The server's HTTP base URL.
    #[arg(long, env = "STRATA_URL", default_value = "http://127.0.0.1:4318")]
    pub url: String,
    /// A bearer token with the write and read scopes (needed when the server has tokens).
    #[arg(long, env = "STRATA_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// The tenant to write into (X-Scope-OrgID): when auth is off, or the token may choose.
    #[arg(long)]
    pub tenant: Option<String>,
}

impl ServerArgs {
    /// `req` with this server's token and tenant.
    pub(super) fn authorize(&self, mut req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        if let Some(t) = &self.tenant {
            req = req.header(crate::auth::TENANT_HEADER, t);
        }
        req
    }
}

/// The one HTTP client of an import: its connections are reused from part to part.
pub(super) fn http() -> &'static reqwest::Client {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    CLIENT.get_or_init(reqwest::Client::new)
}

/// Flags of `strata import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The Strata to write into (a token with the write and read scopes).
    #[command(flatten)]
    pub server: ServerArgs,
    /// A VictoriaMetrics to read through its export API (`http://vm:8428`).
    #[arg(long, group = "from")]
    pub from_vm: Option<String>,
    /// A Prometheus to read through remote read (`http://prometheus:9090`).
    #[arg(long, group = "from")]
    pub from_prometheus: Option<String>,
    /// A file: VictoriaMetrics JSON lines, text/OpenMetrics, or OTLP JSON lines.
    #[arg(long, group = "from")]
    pub from_file: Option<PathBuf>,
    /// Series selectors (remote sources); default every series.
    #[arg(long = "match", default_value = "{__name__!=\"\"}")]
    pub matches: Vec<String>,
    /// The range's start (RFC 3339 or Unix seconds; remote sources). Default: 30 days before
    /// --end.
    #[arg(long)]
    pub start: Option<String>,
    /// The range's end. Default: a minute ago (VictoriaMetrics hides its newest 30 s from
    /// queries, which the final comparison would miss).
    #[arg(long)]
    pub end: Option<String>,
    /// A remote source's slice: the unit of progress and of resuming.
    #[arg(long, default_value = "6h")]
    pub step: String,
    /// Where progress is recorded for resuming (removed once the import finishes).
    #[arg(long, default_value = "strata-import.checkpoint.json")]
    pub checkpoint: PathBuf,
    /// Stop after this many parts, leaving the checkpoint (a long import spread over
    /// several runs: the next run goes on from there).
    #[arg(long)]
    pub max_parts: Option<usize>,
    /// Place history however far behind the series' newest samples (`?backfill=true`):
    /// for series already scraped or written live, whose history is past the
    /// out-of-order window. Not for OTLP lines of a file.
    #[arg(long)]
    pub backfill: bool,
    /// No progress line.
    #[arg(long)]
    pub quiet: bool,
}

impl ImportArgs {
    /// Runs the import; prints the comparison to `out`. Fails when the counts differ.
    pub fn run(&self, out: &mut impl std::io::Write) -> Result<()> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::Server(format!("cannot start a runtime: {e}")))?;
        runtime.block_on(self.run_async(out))
    }

    async fn run_async(&self, out: &mut impl std::io::Write) -> Result<()> {
        let source = Source::from_args(self)?;
        let mut cp = Checkpoint::load(&self.checkpoint, &source.id())?;
        let started = Instant::now();
        let total = source.units();
        let mut counts = Counts::default();
        let mut progress = Progress::new(self.quiet, total);
        if cp.done() > 0 {
            let of = total.map_or(String::new(), |t| format!(" of {t}"));
            writeln!(out, "resuming: {}{of} parts done before", cp.done())?;
        }
        let mut unit = 0;
        let mut sent = 0;
        while let Some(part) = source.next(unit, &mut cp).await? {
            if self.max_parts.is_some_and(|m| sent >= m) {
                progress.finish();
                writeln!(
                    out,
                    "stopped after {sent} parts ({} samples); run again to go on",
                    counts.samples
                )?;
                return Ok(());
            }
            counts.add(&part.counts);
            if !part.body.is_empty() {
                let answer = self.server_post(&part).await?;
                if let Some(signal) = part.otlp {
                    counts.otlp_refused[signal] += otlp_refused(&answer, signal);
                }
                sent += 1;
            }
            cp.mark(unit, part.resume)?;
            unit += 1;
            progress.show(unit, counts.samples, started);
        }
        progress.finish();
        cp.remove()?;
        let elapsed = started.elapsed().as_secs_f64();
        writeln!(
            out,
            "imported {} samples in {:.1} s ({:.0} samples/s)",
            counts.samples,
            elapsed,
            counts.samples as f64 / elapsed.max(1e-9)
        )?;
        let compared = compare::compare(&source, &self.server, &counts).await?;
        for line in &compared.lines {
            writeln!(out, "{line}")?;
        }
        if !compared.equal {
            return Err(Error::Server(
                "the source and Strata hold different counts".into(),
            ));
        }
        Ok(())
    }

    /// Posts a part; over the tenant's ingest rate (429) or busy (503) it waits as asked
    /// and sends the part again (what was stored comes back as duplicates). Returns the
    /// answer's body.
    async fn server_post(&self, part: &source::Part) -> Result<String> {
        let mut waits = 0u32;
        loop {
            let wait = match self.post_once(part).await? {
                Posted::Done(body) => return Ok(body),
                Posted::Retry(wait) => wait,
            };
            waits += 1;
            if waits == 1 && !self.quiet {
                eprintln!(
                    "\nStrata asks to slow down (over the tenant's ingest rate, or busy): waiting and sending again"
                );
            }
            tokio::time::sleep(wait).await;
        }
    }

    /// One attempt.
    async fn post_once(&self, part: &source::Part) -> Result<Posted> {
        if part.body.is_empty() {
            return Ok(Posted::Done(String::new()));
        }
        let mut url = format!("{}{}", self.server.url.trim_end_matches('/'), part.path);
        if self.backfill && part.path.starts_with("/api/v1/import") {
            url.push_str("?backfill=true");
        }
        let req = self.server.authorize(
            http()
                .post(&url)
                .header("content-type", part.content_type)
                .body(part.body.clone()),
        );
        let resp = req
            .send()
            .await
            .map_err(|e| Error::Server(format!("POST {url}: {e}")))?;
        let status = resp.status();
        if status.as_u16() == 429 || status.as_u16() == 503 {
            let secs = resp
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(1);
            return Ok(Posted::Retry(std::time::Duration::from_secs(
                secs.clamp(1, 60),
            )));
        }
        if !status.is_success() {
            let text = resp.text().await.unwrap_or_default();
            return Err(Error::Server(format!(
                "POST {url}: {status}: {}",
                text.trim()
            )));
        }
        Ok(Posted::Done(resp.text().await.unwrap_or_default()))
    }
}

/// What one POST of a part came to.
enum Posted {
    /// Stored; the answer's body.
    Done(String),
    /// Strata asked to send it again after this.
    Retry(std::time::Duration),
}

/// How many items of `signal` an OTLP/HTTP JSON answer says were refused
/// (`partialSuccess`; a 64-bit count is a JSON string in OTLP's JSON, or a number).
fn otlp_refused(answer: &str, signal: usize) -> u64 {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(answer) else {
        return 0;
    };
    let field = &v["partialSuccess"][source::OTLP_SIGNALS[signal].1];
    field
        .as_u64()
        .or_else(|| field.as_str().and_then(|s| s.parse().ok()))
        .unwrap_or(0)
}

/// The progress line on stderr.
struct Progress {
    quiet: bool,
    total: Option<usize>,
}

impl Progress {
    fn new(quiet: bool, total: Option<usize>) -> Self {
        Self { quiet, total }
    }

    fn show(&mut self, done: usize, samples: u64, started: Instant) {
        if self.quiet {
            return;
        }
        let secs = started.elapsed().as_secs_f64().max(1e-9);
        let rate = samples as f64 / secs;
        let line = match self.total {
            Some(total) if total > 0 => {
                let eta = secs * (total.saturating_sub(done)) as f64 / done.max(1) as f64;
                let width = 30;
                let filled = width * done / total;
                format!(
                    "[{}{}] {done}/{total} parts, {samples} samples, {rate:.0}/s, ETA {eta:.0} s",
                    "#".repeat(filled),
                    " ".repeat(width - filled)
                )
            }
            _ => format!("{done} parts, {samples} samples, {rate:.0}/s"),
        };
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r{line}   ");
        let _ = err.flush();
    }

    fn finish(&self) {
        if !self.quiet {
            eprintln!();
        }
    }
}
