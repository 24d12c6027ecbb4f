//! The built-in scraper (`docs/scrape.md`): the `scrape_configs` of unchanged Prometheus
//! configuration files (`[scrape] files`, per tenant `[scrape.tenants.<id>] files`),
//! scraped as Prometheus scrapes them and written through the server's write path.
//!
//! - `config.rs`: a Prometheus file's `global` and `scrape_configs` into [`config::Job`]s.
//! - `target.rs`: a job's target groups (static, file_sd) into targets, by
//!   `relabel_configs`.
//! - `discovery.rs`: file_sd files, watched.
//! - `cache.rs`: a target's series by the bytes that name them (Prometheus's scrape cache).
//! - `process.rs`: a scraped body into samples, staleness markers and report series.
//! - `batch.rs`: one scrape's samples in one keyed engine write.
//! - `run.rs`: a target's loop: fetch, process, write.
//! - `tls.rs`: a job's `tls_config` as its client's rustls configuration.
//! - `api.rs`: `GET /api/v1/targets`.
//!
//! [`Scraper`] holds a loop per target, keyed by tenant, job and target: a reload or a
//! file_sd change starts the targets that appear and stops those that go (their series
//! then end with staleness markers); a target whose job did not change keeps its loop and
//! its series cache. Shutdown stops every loop without markers (the series go on after a
//! restart, as with Prometheus).

pub(crate) mod api;
mod batch;
mod cache;
pub(crate) mod config;
mod discovery;
pub(crate) mod error;
pub(crate) mod process;
pub(crate) mod run;
pub(crate) mod target;
#[cfg(test)]
mod tests;
mod tls;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use strata_engine::TenantId;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{info, warn};

use crate::config::scrape::ScrapeSettings;
use crate::runtime::state::AppState;
use config::Job;
use discovery::FileSd;
pub(crate) use error::ScrapeError;
use target::{Built, LabelSet, Target};

/// How often file_sd files are checked for changes.
const DISCOVERY_TICK: Duration = Duration::from_secs(5);

/// What a stop asks of a target's loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    Run,
    /// The target went: mark its series stale.
    Gone,
    /// The server stops: leave its series as they are.
    Shutdown,
}

/// The scraper of a running server (the writer). Cheap to clone.
#[derive(Clone)]
pub(crate) struct Scraper(Arc<Inner>);

struct Inner {
    state: AppState,
    settings: Mutex<ScrapeSettings>,
    pools: tokio::sync::Mutex<BTreeMap<(TenantId, String), Pool>>,
    /// What `/api/v1/targets` shows, refreshed at each change.
    view: Mutex<BTreeMap<(TenantId, String), PoolView>>,
    ticker: Mutex<Option<JoinHandle<()>>>,
}

/// One job of one tenant.
struct Pool {
    job: Arc<Job>,
    /// The job as configured, to tell a changed job on reload.
    fingerprint: String,
    client: reqwest::Client,
    sd: FileSd,
    running: HashMap<u64, Running>,
}

struct Running {
    target: Arc<Target>,
    status: Arc<Mutex<run::Status>>,
    stop: watch::Sender<Stop>,
    task: JoinHandle<()>,
}

/// A pool as `/api/v1/targets` lists it.
#[derive(Clone, Default)]
pub(crate) struct PoolView {
    pub(crate) active: Vec<(Arc<Target>, Arc<Mutex<run::Status>>)>,
    pub(crate) dropped: Vec<LabelSet>,
}

impl Scraper {
    /// Reads every configured Prometheus file and starts scraping. A file that cannot be
    /// read or is wrong stops the start with its reason.
    pub(crate) async fn start(
        state: AppState,
        settings: ScrapeSettings,
    ) -> Result<Self, ScrapeError> {
        let jobs = load(&settings)?;
        let me = Self(Arc::new(Inner {
            state,
            settings: Mutex::new(settings),
            pools: tokio::sync::Mutex::default(),
            view: Mutex::default(),
            ticker: Mutex::default(),
        }));
        let n = me.sync(jobs).await?;
        if n > 0 {
            info!(targets = n, "scraping");
        }
        let weak = Arc::downgrade(&me.0);
        let ticker = tokio::spawn(async move {
            loop {
                tokio::time::sleep(DISCOVERY_TICK).await;
                let Some(inner) = weak.upgrade() else { break };
                Scraper(inner).rediscover().await;
            }
        });
        *me.0.ticker.lock().unwrap_or_else(|p| p.into_inner()) = Some(ticker);
        Ok(me)
    }

    /// Reads `[scrape]` and the Prometheus files again and applies them; the number of
    /// targets scraped. On an error nothing changes.
    pub(crate) async fn reload(&self) -> Result<usize, ScrapeError> {
        let source = self.settings().source.clone();
        let settings = match source {
            Some(path) => ScrapeSettings::reread(&path).map_err(|e| ScrapeError::Config {
                path,
                at: "[scrape]".into(),
                reason: e.to_string(),
            })?,
            None => self.settings(),
        };
        let jobs = load(&settings)?;
        *self.0.settings.lock().unwrap_or_else(|p| p.into_inner()) = settings;
        let n = self.sync(jobs).await?;
        info!(targets = n, "scrape configuration reloaded");
        Ok(n)
    }

    /// Stops every loop (no staleness markers: the server stops).
    pub(crate) async fn stop(&self) {
        if let Some(t) = self
            .0
            .ticker
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            t.abort();
        }
        let mut pools = self.0.pools.lock().await;
        let mut tasks = Vec::new();
        for (_, pool) in std::mem::take(&mut *pools) {
            for (_, r) in pool.running {
                let _ = r.stop.send(Stop::Shutdown);
                tasks.push(r.task);
            }
        }
        for t in tasks {
            let _ = t.await;
        }
    }

    fn settings(&self) -> ScrapeSettings {
        self.0
            .settings
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The pools of `tenant`, by job name.
    pub(crate) fn view(&self, tenant: &TenantId) -> Vec<(String, PoolView)> {
        self.0
            .view
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter(|((t, _), _)| t == tenant)
            .map(|((_, job), v)| (job.clone(), v.clone()))
            .collect()
    }

    /// Applies `jobs` (by tenant): new pools start, gone ones stop, changed ones restart.
    async fn sync(&self, jobs: BTreeMap<TenantId, Vec<Job>>) -> Result<usize, ScrapeError> {
        let mut pools = self.0.pools.lock().await;
        let mut wanted: BTreeMap<(TenantId, String), Job> = BTreeMap::new();
        for (tenant, list) in jobs {
            for job in list {
                wanted.insert((tenant.clone(), job.name.clone()), job);
            }
        }
        // Pools no longer configured, or configured differently, stop.
        let keys: Vec<_> = pools.keys().cloned().collect();
        for key in keys {
            let keep = wanted.get(&key).is_some_and(|j| {
                pools
                    .get(&key)
                    .is_some_and(|p| p.fingerprint == format!("{j:?}"))
            });
            if !keep && let Some(pool) = pools.remove(&key) {
                stop_all(pool.running, Stop::Gone);
            }
        }
        for (key, job) in wanted {
            if pools.contains_key(&key) {
                continue;
            }
            let fingerprint = format!("{job:?}");
            let client = client(&job)?;
            let sd = FileSd::new(&job.file_sd);
            pools.insert(
                key,
                Pool {
                    job: Arc::new(job),
                    fingerprint,
                    client,
                    sd,
                    running: HashMap::new(),
                },
            );
        }
        let mut total = 0;
        let mut views = BTreeMap::new();
        for ((tenant, name), pool) in pools.iter_mut() {
            pool.sd.refresh();
            let view = self.apply(tenant, pool);
            total += view.active.len();
            views.insert((tenant.clone(), name.clone()), view);
        }
        *self.0.view.lock().unwrap_or_else(|p| p.into_inner()) = views;
        Ok(total)
    }

    /// Checks the file_sd files; pools whose targets changed are applied again.
    async fn rediscover(&self) {
        let mut pools = self.0.pools.lock().await;
        for ((tenant, name), pool) in pools.iter_mut() {
            if !pool.sd.refresh() {
                continue;
            }
            let view = self.apply(tenant, pool);
            self.0
                .view
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert((tenant.clone(), name.clone()), view);
        }
    }

    /// Starts the pool's targets not running yet and stops those no longer wanted.
    fn apply(&self, tenant: &TenantId, pool: &mut Pool) -> PoolView {
        let mut groups: Vec<(config::StaticYaml, LabelSet)> = pool
            .job
            .statics
            .iter()
            .map(|g| (g.clone(), Vec::new()))
            .collect();
        groups.extend(pool.sd.groups());
        let mut wanted: HashMap<u64, Target> = HashMap::new();
        let mut dropped = Vec::new();
        for (group, meta) in &groups {
            for built in target::build(&pool.job, group, meta) {
                match built {
                    Built::Active(t) => {
                        wanted.entry(t.key()).or_insert(t);
                    }
                    Built::Dropped(labels) => dropped.push(labels),
                }
            }
        }
        let limit = pool.job.target_limit;
        let error = (limit > 0 && wanted.len() as u64 > limit).then(|| {
            format!(
                "target_limit exceeded (number of targets: {}, limit: {limit})",
                wanted.len()
            )
        });
        // Over its target limit a job scrapes nothing; each target says why.
        let mut refused = Vec::new();
        if let Some(e) = &error {
            warn!(job = %pool.job.name, error = %e, "not scraping the job's targets");
            for (_, t) in wanted.drain() {
                let status = run::Status {
                    health: "down",
                    last_error: e.clone(),
                    ..run::Status::default()
                };
                refused.push((Arc::new(t), Arc::new(Mutex::new(status))));
            }
        }
        let gone: Vec<u64> = pool
            .running
            .keys()
            .filter(|k| !wanted.contains_key(k))
            .copied()
            .collect();
        stop_all(
            gone.iter()
                .filter_map(|k| pool.running.remove_entry(k))
                .collect::<Vec<_>>(),
            Stop::Gone,
        );
        for (key, t) in wanted {
            if pool.running.contains_key(&key) {
                continue;
            }
            let target = Arc::new(t);
            let status = Arc::new(Mutex::new(run::Status {
                health: "unknown",
                ..run::Status::default()
            }));
            let (stop, rx) = watch::channel(Stop::Run);
            let task = tokio::spawn(run::run(
                self.0.state.clone(),
                tenant.clone(),
                target.clone(),
                pool.client.clone(),
                status.clone(),
                rx,
            ));
            pool.running.insert(
                key,
                Running {
                    target,
                    status,
                    stop,
                    task,
                },
            );
        }
        let mut active: Vec<_> = pool
            .running
            .values()
            .map(|r| (r.target.clone(), r.status.clone()))
            .collect();
        active.extend(refused);
        active.sort_by(|a, b| a.0.labels.cmp(&b.0.labels));
        PoolView { active, dropped }
    }
}

fn stop_all(running: impl IntoIterator<Item = (u64, Running)>, why: Stop) {
    for (_, r) in running {
        let _ = r.stop.send(why);
        drop(r.task);
    }
}

/// Every tenant's jobs.
fn load(settings: &ScrapeSettings) -> Result<BTreeMap<TenantId, Vec<Job>>, ScrapeError> {
    let mut out = BTreeMap::new();
    for (tenant, files) in &settings.tenants {
        let mut jobs: Vec<Job> = Vec::new();
        for f in files {
            for job in config::load(&settings.path_of(f), settings.native_histograms)? {
                if let Some(other) = jobs.iter().find(|j| j.name == job.name) {
                    return Err(ScrapeError::Config {
                        path: job.source.clone(),
                        at: format!("job {:?}", job.name),
                        reason: format!(
                            "the tenant already has this job, from {}",
                            other.source.display()
                        ),
                    });
                }
                jobs.push(job);
            }
        }
        out.insert(tenant.clone(), jobs);
    }
    Ok(out)
}

/// The HTTP client of a job: its TLS settings and redirects.
fn client(job: &Job) -> Result<reqwest::Client, ScrapeError> {
    let bad = |reason: String| ScrapeError::Config {
        path: job.source.clone(),
        at: format!("job {:?}", job.name),
        reason,
    };
    let mut b = reqwest::Client::builder()
        .user_agent(concat!("Strata/", env!("CARGO_PKG_VERSION")))
        .redirect(if job.follow_redirects {
            reqwest::redirect::Policy::limited(10)
        } else {
            reqwest::redirect::Policy::none()
        })
        .pool_max_idle_per_host(2);
    let tls = tls::client_config(&job.tls).map_err(bad)?;
    b = b.use_preconfigured_tls(tls);
    b.build().map_err(|e| bad(format!("HTTP client: {e}")))
}
