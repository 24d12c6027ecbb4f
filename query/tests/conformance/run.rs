//! Runs parsed scripts against a real `strata_engine::Engine`, each eval checked by
//! `check.rs`.

use std::time::Duration;

use strata_engine::{Engine, EngineConfig, Limits, TenantId};
use strata_query::promql::{EngineSource, PromqlEngine, QueryOptions, QueryResult, SeriesSource};
use strata_wal::{Durability, WalOptions};

use super::check::{Backend, Failure, run_eval};
use super::lists::DelayedCases;
use super::load;
use super::script::{Command, SeriesLine};

/// Outcome of one eval.
pub(crate) struct CaseResult {
    pub(crate) line: usize,
    pub(crate) passed: bool,
    pub(crate) detail: String,
    /// For a case run with delayed name removal because it is listed by line: whether it
    /// passes in the default mode too (then the listing is not needed).
    pub(crate) passes_by_default: Option<bool>,
}

fn engine_config() -> EngineConfig {
    EngineConfig {
        wal: WalOptions {
            durability: Durability::None,
            ..WalOptions::default()
        },
        out_of_order_window: Duration::from_secs(100 * 365 * 86_400),
        limits: Limits {
            max_active_series: 10_000_000,
            max_series_per_metric: 10_000_000,
            ingest_rate: 1e12,
            ingest_burst: 1e12,
            max_labels_per_series: 1000,
            // Scripts write samples from 1970 on.
            metrics_retention: Duration::from_secs(200 * 365 * 86_400),
            ..Limits::default()
        },
        ..EngineConfig::default()
    }
}

/// Where the evals read: the engine the data was written to, or a reader of the bucket
/// that engine mirrors to (`docs/scale-out.md`), as a query process reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// The writing engine, its head and files.
    Local,
    /// A reader engine over the in-memory bucket the writer mirrors to; before an eval
    /// that follows a load, the writer flushes and mirrors and the reader refreshes.
    Bucket,
}

struct Store {
    dir: tempfile::TempDir,
    engine: Option<Engine>,
    /// [`Mode::Bucket`]: the reader the evals read, and whether a load is not in it yet.
    reader: Option<Engine>,
    stale: bool,
    mode: Mode,
}

impl Store {
    fn open(mode: Mode) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = engine_config();
        let mut reader = None;
        if mode == Mode::Bucket {
            let bucket: std::sync::Arc<dyn object_store::ObjectStore> =
                std::sync::Arc::new(object_store::memory::InMemory::new());
            let mut remote = strata_engine::RemoteConfig::new(bucket.clone(), "c");
            remote.interval = Duration::from_secs(3600);
            config.remote = Some(remote);
            let mut read = strata_engine::ReaderConfig::new(bucket, "c");
            read.refresh = Duration::from_secs(3600);
            reader = Some(EngineConfig {
                reader: Some(read),
                ..engine_config()
            });
        }
        let engine = Engine::open(dir.path().join("data"), config).expect("open engine");
        let reader = reader.map(|c| Engine::open(dir.path().join("cache"), c).expect("reader"));
        Self {
            dir,
            engine: Some(engine),
            reader,
            stale: false,
            mode,
        }
    }

    fn clear(&mut self) {
        for e in [self.reader.take(), self.engine.take()]
            .into_iter()
            .flatten()
        {
            e.close().expect("close engine");
        }
        *self = Store::open(self.mode);
    }

    /// The engine evals read: the writer, or the reader once it holds every load.
    fn source(&mut self) -> Option<&Engine> {
        if self.mode == Mode::Local {
            return self.engine.as_ref();
        }
        if std::mem::take(&mut self.stale) {
            let writer = self.engine.as_ref()?;
            writer.flush().expect("flush");
            writer.sync_remote().expect("mirror");
            self.reader.as_ref()?.refresh().expect("refresh");
        }
        self.reader.as_ref()
    }

    fn load(&mut self, tenant: &TenantId, interval: i64, nhcb: bool, series: &[SeriesLine]) {
        let batches = load::batches(interval, nhcb, series);
        self.stale = true;
        if let Some(e) = &self.engine {
            let outcome = e.write(tenant, &batches.floats).expect("write");
            if !outcome.rejected.is_empty() {
                eprintln!("engine rejected samples: {:?}", outcome.messages);
            }
            let outcome = e
                .write_histograms(tenant, &batches.histograms)
                .expect("write histograms");
            if !outcome.rejected.is_empty() {
                eprintln!("engine rejected histograms: {:?}", outcome.messages);
            }
        }
    }
}

/// The evaluator over an engine, in one name-removal mode.
struct EngineBackend<'a> {
    promql: &'a PromqlEngine,
    src: &'a dyn SeriesSource,
}

fn failure(e: strata_query::promql::Error) -> Failure {
    Failure {
        parse: matches!(e, strata_query::promql::Error::Parse(_)),
        message: e.to_string(),
    }
}

impl Backend for EngineBackend<'_> {
    fn instant(&self, expr: &str, t: i64) -> Result<QueryResult, Failure> {
        self.promql.instant(self.src, expr, t).map_err(failure)
    }

    fn range(&self, expr: &str, start: i64, end: i64, step: i64) -> Result<QueryResult, Failure> {
        self.promql
            .range(self.src, expr, start, end, step)
            .map_err(failure)
    }
}

/// Runs a script; one result per eval. The evals `delayed` names run with delayed name
/// removal, the others in the default mode.
pub(crate) fn run_script(cmds: &[Command], delayed: &DelayedCases, mode: Mode) -> Vec<CaseResult> {
    let tenant = TenantId::default_tenant();
    let promql = PromqlEngine::new(QueryOptions::default());
    let promql_delayed = PromqlEngine::new(QueryOptions {
        delayed_name_removal: true,
        ..QueryOptions::default()
    });
    let mut store = Store::open(mode);
    let mut out = Vec::new();
    for cmd in cmds {
        match cmd {
            Command::Clear => store.clear(),
            Command::Load {
                interval,
                nhcb,
                series,
            } => store.load(&tenant, *interval, *nhcb, series),
            Command::Eval(ev) => {
                let Some(engine) = store.source() else {
                    continue;
                };
                let src = EngineSource::new(engine, &tenant);
                let run = |promql: &PromqlEngine| {
                    let b = EngineBackend { promql, src: &src };
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run_eval(&b, ev)))
                        .unwrap_or_else(|_| Err("panicked".into()))
                };
                let listed = delayed.lines.contains(&ev.line);
                let r = run(if delayed.has(ev.line) {
                    &promql_delayed
                } else {
                    &promql
                });
                out.push(CaseResult {
                    line: ev.line,
                    passed: r.is_ok(),
                    detail: r.err().unwrap_or_default(),
                    passes_by_default: listed.then(|| run(&promql).is_ok()),
                });
            }
        }
    }
    let _ = &store.dir;
    for e in [store.reader.take(), store.engine.take()]
        .into_iter()
        .flatten()
    {
        let _ = e.close();
    }
    out
}
