//! The running rules: a task per group that evaluates it on its schedule, restores `for`
//! state after a start, and hands alerts to the notifier; reloads that swap the rule set
//! only once every file has loaded and checked.

use std::collections::BTreeMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use strata_engine::{Clock, SystemClock, TenantId};
use tokio::sync::{Mutex, watch};
use tokio::task::JoinHandle;

use super::alert::State;
use super::env::Env;
use super::error::RulesError;
use super::file::RuleKind;
use super::group::{Group, GroupKey, Shared, all_stale};
use super::load::load_files;
use super::notify::{Notice, Notifier};
use super::restore::{RestoreSettings, restore};
use super::schedule;
use crate::config::rules::RulesSettings;
use crate::runtime::state::AppState;

type Key = (TenantId, GroupKey);

struct Running {
    group: Group,
    stop: watch::Sender<bool>,
    task: JoinHandle<Group>,
}

struct Inner {
    state: AppState,
    settings: std::sync::Mutex<RulesSettings>,
    shared: RwLock<Arc<Shared>>,
    notifier: RwLock<Arc<Notifier>>,
    running: Mutex<BTreeMap<Key, Running>>,
    views: RwLock<BTreeMap<Key, Arc<Group>>>,
}

/// The rule manager. Cheap to clone.
#[derive(Clone)]
pub struct Rules(Arc<Inner>);

impl std::fmt::Debug for Rules {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rules").finish_non_exhaustive()
    }
}

impl Rules {
    /// Loads and checks every rule file of `settings` and starts evaluating them (each
    /// group waits for the engine to open). Fails, starting nothing, if any file has a
    /// problem.
    pub async fn start(state: AppState, settings: RulesSettings) -> Result<Self, RulesError> {
        let files = load_files(&settings)?;
        let notifier = Notifier::start(&settings.alerting, state.clone())?;
        let shared = Arc::new(shared_of(&settings));
        let rules = Self(Arc::new(Inner {
            state,
            settings: std::sync::Mutex::new(settings.clone()),
            shared: RwLock::new(shared),
            notifier: RwLock::new(notifier),
            running: Mutex::new(BTreeMap::new()),
            views: RwLock::new(BTreeMap::new()),
        }));
        rules.apply(&settings, files, true).await;
        Ok(rules)
    }

    /// Reads the rule files (and, with a config file, its `[rules]` and `[alerting]`)
    /// again and swaps the rule set; on any problem the running rules keep running and
    /// the problem is returned. Returns how many groups run.
    pub async fn reload(&self) -> Result<usize, RulesError> {
        let result = self.try_reload().await;
        self.0.state.metrics.rules().record_reload(result.is_ok());
        match &result {
            Ok(n) => tracing::info!(groups = n, "rules reloaded"),
            Err(e) => {
                tracing::error!(error = %e, "rules not reloaded; the previous rules keep running")
            }
        }
        result
    }

    async fn try_reload(&self) -> Result<usize, RulesError> {
        let source = lock(&self.0.settings).source.clone();
        let settings = match source {
            Some(path) => {
                RulesSettings::reread(&path).map_err(|e| RulesError::Config(e.to_string()))?
            }
            None => lock(&self.0.settings).clone(),
        };
        let files = load_files(&settings)?;
        let alerting_changed = lock(&self.0.settings).alerting != settings.alerting;
        if alerting_changed {
            let notifier = Notifier::start(&settings.alerting, self.0.state.clone())?;
            *self
                .0
                .notifier
                .write()
                .unwrap_or_else(PoisonError::into_inner) = notifier;
        }
        *self
            .0
            .shared
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(shared_of(&settings));
        *lock(&self.0.settings) = settings.clone();
        Ok(self.apply(&settings, files, false).await)
    }

    /// Starts, keeps, replaces or stops groups so that the groups of `files` run.
    async fn apply(
        &self,
        settings: &RulesSettings,
        files: Vec<(TenantId, super::file::RuleFile)>,
        at_start: bool,
    ) -> usize {
        let mut wanted = BTreeMap::new();
        for (tenant, file) in files {
            for spec in file.groups {
                let g = Group::new(
                    file.path.clone(),
                    file.lang,
                    spec,
                    settings.evaluation_interval,
                    !at_start,
                );
                wanted.insert((tenant.clone(), g.key.clone()), g);
            }
        }
        let restore_settings = RestoreSettings {
            outage_tolerance: settings.outage_tolerance,
            for_grace_period: settings.for_grace_period,
        };
        let mut running = self.0.running.lock().await;
        let mut old = std::mem::take(&mut *running);
        let count = wanted.len();
        for (key, mut group) in wanted {
            let restoring = match old.remove(&key) {
                Some(r) if r.group.same_as(&group) => {
                    running.insert(key, r);
                    continue;
                }
                Some(r) => {
                    let mut previous = stop(r).await;
                    if let Some(p) = &mut previous {
                        group.copy_state(p);
                    }
                    false
                }
                None => at_start,
            };
            let r = self.spawn(key.clone(), group, restoring, restore_settings);
            running.insert(key, r);
        }
        for (key, r) in old {
            if let Some(g) = stop(r).await {
                let env = self.env(&key.0);
                let stale = all_stale(&g);
                if let Err(e) = env.write(&stale, SystemClock.now_ms()).await {
                    tracing::warn!(tenant = %key.0, group = %key.1.name, error = %e, "cannot end a removed group's series");
                }
            }
            self.0
                .views
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(&key);
        }
        count
    }

    fn env(&self, tenant: &TenantId) -> Env {
        Env {
            state: self.0.state.clone(),
            tenant: tenant.clone(),
        }
    }

    fn spawn(&self, key: Key, group: Group, restoring: bool, settings: RestoreSettings) -> Running {
        self.publish(&key.0, &group);
        let (stop_tx, stop_rx) = watch::channel(false);
        let task = tokio::spawn(self.clone().run(
            key.0.clone(),
            group.clone(),
            stop_rx,
            restoring,
            settings,
        ));
        Running {
            group,
            stop: stop_tx,
            task,
        }
    }

    fn publish(&self, tenant: &TenantId, group: &Group) {
        self.0
            .views
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert((tenant.clone(), group.key.clone()), Arc::new(group.view()));
    }

    /// A group's task: evaluate at every slot until stopped; returns the group's state.
    async fn run(
        self,
        tenant: TenantId,
        mut group: Group,
        mut stop: watch::Receiver<bool>,
        mut restoring: bool,
        settings: RestoreSettings,
    ) -> Group {
        let env = self.env(&tenant);
        while !env.state.engine.is_ready() {
            tokio::select! {
                () = tokio::time::sleep(Duration::from_millis(100)) => {}
                _ = stop.changed() => return group,
            }
        }
        let interval = group.interval;
        let interval_ns = interval.as_nanos() as i64;
        let offset = schedule::offset_ns(&group.key, interval);
        let mut slot = schedule::slot_at_or_before(now_ns(), offset, interval) + interval_ns;
        let mut missed = 0;
        let mut evals = 0u32;
        loop {
            let wait = Duration::from_nanos((slot - now_ns()).max(0) as u64);
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                _ = stop.changed() => return group,
            }
            let ts = slot.div_euclid(1_000_000);
            let shared = self
                .0
                .shared
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .clone();
            let failed = group.eval(&env, &shared, ts, SystemClock.now_ms()).await;
            self.0.state.metrics.rules().record_group(
                tenant.as_str(),
                group.rules.len(),
                failed,
                group.last_duration,
                missed,
            );
            evals += 1;
            if restoring && evals >= 2 {
                restore(&mut group, &env, SystemClock.now_ms(), settings).await;
                restoring = false;
            }
            self.send_alerts(&tenant, &mut group, ts, &shared);
            self.publish(&tenant, &group);
            // Prometheus's catch-up: a slot fully passed during the evaluation is skipped
            // (counted missed), and the evaluation runs at the latest slot that passed.
            let behind = (now_ns() - slot) / interval_ns;
            missed = (behind - 1).max(0) as u64;
            slot += behind.max(1) * interval_ns;
        }
    }

    fn send_alerts(&self, tenant: &TenantId, group: &mut Group, ts: i64, shared: &Shared) {
        let notifier = self
            .0
            .notifier
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if notifier.is_empty() {
            return;
        }
        let resend = lock(&self.0.settings).alerting.resend_delay.as_millis() as i64;
        let valid_for = 4 * resend.max(group.interval.as_millis() as i64);
        let mut out = Vec::new();
        for rule in &mut group.rules {
            let RuleKind::Alert(_) = rule.spec.kind else {
                continue;
            };
            let link = generator_url(notifier.external_url(), &rule.spec.expr);
            for a in rule.alerts.active.values_mut() {
                if !a.needs_sending(ts, resend) {
                    continue;
                }
                a.last_sent_at = Some(ts);
                a.valid_until = ts + valid_for;
                let mut labels: BTreeMap<String, String> = a
                    .labels
                    .iter()
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .collect();
                for (k, v) in &shared.external_labels {
                    labels.entry(k.clone()).or_insert_with(|| v.clone());
                }
                if tenant.as_str() != TenantId::DEFAULT {
                    labels
                        .entry("tenant".into())
                        .or_insert_with(|| tenant.as_str().to_owned());
                }
                let resolved = a.state == State::Inactive;
                out.push(Notice {
                    labels,
                    annotations: a.annotations.clone(),
                    starts_at: rfc3339(a.fired_at.unwrap_or(a.active_at)),
                    ends_at: rfc3339(a.resolved_at.unwrap_or(a.valid_until)),
                    generator_url: link.clone(),
                    resolved,
                });
            }
        }
        notifier.send(&out);
    }

    /// The groups `tenant` runs, by file and name, as of their last evaluation.
    pub fn groups(&self, tenant: &TenantId) -> Vec<Arc<Group>> {
        self.0
            .views
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter(|((t, _), _)| t == tenant)
            .map(|(_, g)| g.clone())
            .collect()
    }

    /// Stops every group (a shutdown: no staleness markers, so a restart restores).
    pub async fn stop(&self) {
        let running = std::mem::take(&mut *self.0.running.lock().await);
        for (_, r) in running {
            stop(r).await;
        }
    }
}

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

async fn stop(r: Running) -> Option<Group> {
    let _ = r.stop.send(true);
    match r.task.await {
        Ok(g) => Some(g),
        Err(e) => {
            tracing::error!(group = %r.group.key.name, error = %e, "a rule group's task failed; its state is lost");
            None
        }
    }
}

fn shared_of(s: &RulesSettings) -> Shared {
    Shared {
        external_labels: s.alerting.external_labels.clone(),
        external_url: s.alerting.external_url.clone(),
    }
}

fn now_ns() -> i64 {
    SystemClock.now_ms().saturating_mul(1_000_000)
}

/// Prometheus's link to an expression's table view.
fn generator_url(base: &str, expr: &str) -> String {
    let q: String = url::form_urlencoded::byte_serialize(expr.as_bytes()).collect();
    format!("{}/graph?g0.expr={q}&g0.tab=1", base.trim_end_matches('/'))
}

/// `ms` as RFC 3339 in UTC with milliseconds.
pub(crate) fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}
