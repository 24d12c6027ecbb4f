//! One rule group's evaluation, with Prometheus's semantics: every rule in order at one
//! timestamp, each rule's results written before the next rule runs (so later rules read
//! them); a series a rule wrote last time and not this time gets a staleness marker;
//! alerting rules keep their alerts' state and write the `ALERTS` and `ALERTS_FOR_STATE`
//! series.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use strata_engine::{PendingWrite, WriteOutcome};
use strata_query::promql::{Labels, STALE_NAN_BITS};

use super::alert::{Alert, Alerts, Returned, State};
use super::env::{Env, Point};
use super::error::EvalError;
use super::file::{GroupSpec, RuleKind, RuleSpec};
use super::template::{Template, Value};
use super::{ALERTS, ALERTS_FOR_STATE, Lang};

/// A group's identity: its file and name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GroupKey {
    /// The file, as configured (globs expanded).
    pub file: PathBuf,
    /// The group's name.
    pub name: String,
}

/// Settings every group of a tenant shares.
#[derive(Debug, Clone, PartialEq)]
pub struct Shared {
    /// `[alerting] external_labels`: in templates as `$externalLabels`, and on alerts sent.
    pub external_labels: BTreeMap<String, String>,
    /// `[alerting] external_url`: in templates as `$externalURL`.
    pub external_url: String,
}

/// How a rule fared at its last evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// Not evaluated yet.
    Unknown,
    /// Evaluated without error.
    Ok,
    /// Its last evaluation failed.
    Err,
}

impl Health {
    /// `unknown`, `ok` or `err`, as Prometheus's API says it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unknown => "unknown",
            Self::Ok => "ok",
            Self::Err => "err",
        }
    }
}

/// A rule and its state.
#[derive(Debug, Clone)]
pub struct Rule {
    /// As written.
    pub spec: RuleSpec,
    /// Its last evaluation's outcome.
    pub health: Health,
    /// Why its last evaluation failed.
    pub last_error: Option<String>,
    /// When it was last evaluated (ms, wall clock).
    pub last_eval: Option<i64>,
    /// How long that took.
    pub last_duration: Duration,
    /// An alerting rule's alerts.
    pub alerts: Alerts,
    /// Whether an alerting rule's `for` state has been restored after a start (until then
    /// it writes no `ALERTS` series, as Prometheus).
    pub restored: bool,
    /// The series written at the last evaluation, for staleness markers.
    written: HashSet<Labels>,
    labels: Vec<(String, Template)>,
    annotations: Vec<(String, Template)>,
}

impl Rule {
    /// A rule from its (checked) spec. `restored` is false at a server start, when
    /// alerting rules wait for the restore of their `for` state.
    pub fn new(spec: RuleSpec, restored: bool) -> Self {
        let compile = |what: &str, m: &BTreeMap<String, String>| -> Vec<(String, Template)> {
            if !matches!(spec.kind, RuleKind::Alert(_)) {
                return Vec::new();
            }
            m.iter()
                // Checked when the file was loaded (`file::check_rule`).
                .filter_map(|(k, v)| {
                    let t = Template::parse_rule(&format!("{what} {k}"), v).ok()?;
                    Some((k.clone(), t))
                })
                .collect()
        };
        let labels = compile("label", &spec.labels);
        let annotations = compile("annotation", &spec.annotations);
        Self {
            spec,
            health: Health::Unknown,
            last_error: None,
            last_eval: None,
            last_duration: Duration::ZERO,
            alerts: Alerts::default(),
            restored,
            written: HashSet::new(),
            labels,
            annotations,
        }
    }
}

/// A group: its rules and their state.
#[derive(Debug, Clone)]
pub struct Group {
    /// File and name.
    pub key: GroupKey,
    /// Its expressions' language.
    pub lang: Lang,
    /// Evaluated every `interval`.
    pub interval: Duration,
    /// The group's `limit`.
    pub limit: usize,
    /// The group's `query_offset`.
    pub query_offset: Duration,
    /// In file order.
    pub rules: Vec<Rule>,
    /// When it was last evaluated (ms, wall clock).
    pub last_eval: Option<i64>,
    /// How long that took.
    pub last_duration: Duration,
    /// Series of rules a reload removed from the group: they get staleness markers at the
    /// next evaluation.
    removed: Vec<Labels>,
}

impl Group {
    /// A group from its spec; `interval` applies when the spec sets none.
    pub fn new(
        file: PathBuf,
        lang: Lang,
        spec: GroupSpec,
        interval: Duration,
        restored: bool,
    ) -> Self {
        Self {
            key: GroupKey {
                file,
                name: spec.name,
            },
            lang,
            interval: spec.interval.unwrap_or(interval),
            limit: spec.limit,
            query_offset: spec.query_offset,
            rules: spec
                .rules
                .into_iter()
                .map(|r| Rule::new(r, restored))
                .collect(),
            last_eval: None,
            last_duration: Duration::ZERO,
            removed: Vec::new(),
        }
    }

    /// Whether `other` has the same rules and settings (a reload keeps such a group
    /// running, state and schedule untouched).
    pub fn same_as(&self, other: &Group) -> bool {
        self.key == other.key
            && self.lang == other.lang
            && self.interval == other.interval
            && self.limit == other.limit
            && self.query_offset == other.query_offset
            && self.rules.len() == other.rules.len()
            && self
                .rules
                .iter()
                .zip(&other.rules)
                .all(|(a, b)| same_rule(&a.spec, &b.spec))
    }

    /// Takes over the state of `old`'s rules of the same kind and name (the n-th rule of a
    /// name takes the n-th's), as Prometheus does on reload: alerts keep their state, and
    /// series the old rules wrote get staleness markers if the new ones stop writing them.
    pub fn copy_state(&mut self, old: &mut Group) {
        let mut by_name: BTreeMap<(bool, String), Vec<&mut Rule>> = BTreeMap::new();
        for r in old.rules.iter_mut().rev() {
            let key = (
                matches!(r.spec.kind, RuleKind::Alert(_)),
                r.spec.name().to_owned(),
            );
            by_name.entry(key).or_default().push(r);
        }
        for r in &mut self.rules {
            let key = (
                matches!(r.spec.kind, RuleKind::Alert(_)),
                r.spec.name().to_owned(),
            );
            if let Some(o) = by_name.get_mut(&key).and_then(Vec::pop) {
                r.written = std::mem::take(&mut o.written);
                r.alerts = std::mem::take(&mut o.alerts);
                r.restored = o.restored;
                r.health = o.health;
                r.last_error = o.last_error.take();
                r.last_eval = o.last_eval;
                r.last_duration = o.last_duration;
            }
        }
        // Rules that are gone end their series at the next evaluation, as in Prometheus.
        for rules in by_name.into_values() {
            for r in rules {
                self.removed.extend(r.written.drain());
            }
        }
        self.last_eval = old.last_eval;
        self.last_duration = old.last_duration;
    }

    /// Evaluates every rule at `ts` (ms), writing their results; `now` is the wall clock
    /// (ms) recorded as the evaluation time. Returns how many rules failed.
    pub async fn eval(&mut self, env: &Env, shared: &Shared, ts: i64, now: i64) -> usize {
        let started = Instant::now();
        let mut failed = 0;
        let query_ts = ts - self.query_offset.as_millis() as i64;
        if !self.removed.is_empty() {
            let stale: Vec<Point> = std::mem::take(&mut self.removed)
                .into_iter()
                .map(|l| Point::float(l, f64::from_bits(STALE_NAN_BITS)))
                .collect();
            if let Err(e) = env.write(&stale, query_ts).await {
                tracing::warn!(tenant = %env.tenant, group = %self.key.name, error = %e, "cannot end the series of removed rules");
            }
        }
        // Each rule's samples are placed at once (the next rules read them) and
        // acknowledged together at the end: one WAL wait per evaluation, not one per rule.
        let runs = match self.lang {
            Lang::Promql => self.run_promql(env, shared, query_ts).await,
            Lang::Logql => {
                let mut runs = Vec::with_capacity(self.rules.len());
                for i in 0..self.rules.len() {
                    let rule_started = Instant::now();
                    let (outcome, pending) = match self.eval_rule(i, env, shared, query_ts).await {
                        Ok(p) => (Ok(()), p),
                        Err(e) => (Err(e), None),
                    };
                    runs.push((outcome, pending, rule_started.elapsed()));
                }
                runs
            }
        };
        let mut outcomes: Vec<Result<(), EvalError>> = Vec::with_capacity(self.rules.len());
        let mut pending = Vec::new();
        for (i, (outcome, submitted, took)) in runs.into_iter().enumerate() {
            outcomes.push(outcome);
            if let Some((p, n)) = submitted {
                pending.push((i, p, n));
            }
            if let Some(rule) = self.rules.get_mut(i) {
                rule.last_eval = Some(now);
                rule.last_duration = took;
            }
        }
        for (i, p, n) in pending {
            let settled = env.settle(p).await;
            let Some(outcome) = outcomes.get_mut(i) else {
                continue;
            };
            *outcome = match (std::mem::replace(outcome, Ok(())), settled) {
                // A failed rule's staleness markers: the rule's own error stands.
                (Err(e), Ok(_)) => Err(e),
                (Ok(()), Ok((0, _))) => Ok(()),
                (Ok(()), Ok((rejected, first))) => Err(EvalError::Write(format!(
                    "{rejected} of {n} samples rejected: {first}"
                ))),
                (_, Err(e)) => Err(e),
            };
        }
        for (rule, outcome) in self.rules.iter_mut().zip(outcomes) {
            match outcome {
                Ok(()) => {
                    rule.health = Health::Ok;
                    rule.last_error = None;
                }
                Err(e) => {
                    tracing::warn!(
                        tenant = %env.tenant,
                        file = %self.key.file.display(),
                        group = %self.key.name,
                        rule = rule.spec.name(),
                        error = %e,
                        "rule evaluation failed"
                    );
                    failed += 1;
                    rule.health = Health::Err;
                    rule.last_error = Some(e.to_string());
                }
            }
        }
        self.last_eval = Some(now);
        self.last_duration = started.elapsed();
        failed
    }

    /// Every rule of a PromQL group at `ts`, in order, on one blocking thread (a thread
    /// hop per rule, for its query and again for its write, cost more than a short
    /// rule's query: the rules benchmark's head-heavy run spent ~20 % of its CPU waking
    /// threads).
    async fn run_promql(&mut self, env: &Env, shared: &Shared, ts: i64) -> Vec<Outcome> {
        let limit = self.limit;
        // The rules go to the thread and come back with it; a panic there leaves them in
        // the cell, as far as they got.
        let cell = Arc::new(Mutex::new(std::mem::take(&mut self.rules)));
        let (rules, env2, shared2) = (cell.clone(), env.clone(), shared.clone());
        let joined = tokio::task::spawn_blocking(move || {
            let mut rules = rules.lock().unwrap_or_else(PoisonError::into_inner);
            rules
                .iter_mut()
                .map(|rule| {
                    let started = Instant::now();
                    let result = env2.promql_blocking(&rule.spec.expr, ts);
                    let (batch, failed) = to_write(rule, &shared2, limit, result, ts);
                    let n = batch.len();
                    let (outcome, pending) = match env2.submit_blocking(&batch, ts) {
                        Err(e) => (Err(e), None),
                        Ok(p) => (failed.map_or(Ok(()), Err), p.map(|p| (p, n))),
                    };
                    (outcome, pending, started.elapsed())
                })
                .collect::<Vec<Outcome>>()
        })
        .await;
        self.rules = std::mem::take(&mut *cell.lock().unwrap_or_else(PoisonError::into_inner));
        joined.unwrap_or_else(|e| {
            self.rules
                .iter()
                .map(|_| {
                    let e = EvalError::Query(format!("query task failed: {e}"));
                    (Err(e), None, Duration::ZERO)
                })
                .collect()
        })
    }

    /// One rule at `ts`: its samples submitted, with how many there are (`None`: nothing
    /// to write).
    async fn eval_rule(&mut self, i: usize, env: &Env, shared: &Shared, ts: i64) -> Run {
        let lang = self.lang;
        let limit = self.limit;
        let rule = &mut self.rules[i];
        let result = env.instant(lang, &rule.spec.expr, ts).await;
        let (batch, failed) = to_write(rule, shared, limit, result, ts);
        if let Some(e) = failed {
            // A failed rule writes nothing; what it wrote before goes stale, as in
            // Prometheus.
            env.write(&batch, ts).await?;
            return Err(e);
        }
        let n = batch.len();
        Ok(env.submit(&batch, ts).await?.map(|p| (p, n)))
    }

    /// A copy for readers (the APIs), without the bookkeeping of written series.
    pub fn view(&self) -> Group {
        let mut g = Group {
            key: self.key.clone(),
            lang: self.lang,
            interval: self.interval,
            limit: self.limit,
            query_offset: self.query_offset,
            rules: Vec::with_capacity(self.rules.len()),
            last_eval: self.last_eval,
            last_duration: self.last_duration,
            removed: Vec::new(),
        };
        for r in &self.rules {
            g.rules.push(Rule {
                spec: r.spec.clone(),
                health: r.health,
                last_error: r.last_error.clone(),
                last_eval: r.last_eval,
                last_duration: r.last_duration,
                alerts: r.alerts.clone(),
                restored: r.restored,
                written: HashSet::new(),
                labels: Vec::new(),
                annotations: Vec::new(),
            });
        }
        g
    }

    /// Every alert of the group's alerting rules, with the rule's index.
    pub fn alerts(&self) -> impl Iterator<Item = (usize, &Alert)> {
        self.rules
            .iter()
            .enumerate()
            .flat_map(|(i, r)| r.alerts.active.values().map(move |a| (i, a)))
    }
}

fn same_rule(a: &RuleSpec, b: &RuleSpec) -> bool {
    a.kind == b.kind
        && a.expr == b.expr
        && a.hold == b.hold
        && a.keep_firing_for == b.keep_firing_for
        && a.labels == b.labels
        && a.annotations == b.annotations
}

/// What a rule's evaluation submitted: its pending write and how many samples it holds
/// (`None`: nothing to write), or its error.
type Run = Result<Option<(PendingWrite<WriteOutcome>, usize)>, EvalError>;

/// A rule's evaluation: how it went, the write it submitted (its samples, or a failed
/// rule's staleness markers) with how many samples that holds, and how long it took.
type Outcome = (
    Result<(), EvalError>,
    Option<(PendingWrite<WriteOutcome>, usize)>,
    Duration,
);

/// What a rule writes at `ts` after its query gave `result`: its points (recorded, or its
/// alerts' series) and staleness markers for the series it wrote last time and not now;
/// or, when the query or its result failed, the error and markers for everything it
/// wrote before (a failed rule writes nothing new, as in Prometheus).
fn to_write(
    rule: &mut Rule,
    shared: &Shared,
    limit: usize,
    result: Result<Vec<Point>, EvalError>,
    ts: i64,
) -> (Vec<Point>, Option<EvalError>) {
    let points = result.and_then(|points| match &rule.spec.kind {
        RuleKind::Record(name) => recorded(name, &rule.spec.labels, points, limit),
        RuleKind::Alert(_) => alert_points(rule, shared, points, ts, limit),
    });
    match points {
        Ok(points) => {
            let now: HashSet<Labels> = points.iter().map(|p| p.labels.clone()).collect();
            let mut batch = points;
            batch.extend(stale_points(&rule.written, &now));
            rule.written = now;
            (batch, None)
        }
        Err(e) => {
            let stale = stale_points(&rule.written, &HashSet::new());
            rule.written.clear();
            (stale, Some(e))
        }
    }
}

/// A recording rule's series: each result with `__name__` set to the rule's name and the
/// rule's labels over its own.
fn recorded(
    name: &str,
    labels: &BTreeMap<String, String>,
    points: Vec<Point>,
    limit: usize,
) -> Result<Vec<Point>, EvalError> {
    let mut out = Vec::with_capacity(points.len());
    let mut seen = HashSet::with_capacity(points.len());
    for mut p in points {
        p.labels.set("__name__".into(), name.to_owned());
        for (k, val) in labels {
            p.labels.set(k.clone(), val.clone());
        }
        if !seen.insert(p.labels.clone()) {
            return Err(EvalError::Result(
                "vector contains metrics with the same labelset after applying rule labels".into(),
            ));
        }
        out.push(p);
    }
    if limit > 0 && out.len() > limit {
        return Err(EvalError::Limit {
            limit,
            count: out.len(),
            what: "series",
        });
    }
    Ok(out)
}

/// An alerting rule's evaluation: its alerts updated from `points`, and the `ALERTS` and
/// `ALERTS_FOR_STATE` samples to write.
fn alert_points(
    rule: &mut Rule,
    shared: &Shared,
    points: Vec<Point>,
    ts: i64,
    limit: usize,
) -> Result<Vec<Point>, EvalError> {
    let RuleKind::Alert(alertname) = &rule.spec.kind else {
        return Ok(Vec::new());
    };
    let mut returned = Vec::with_capacity(points.len());
    let mut seen = HashSet::with_capacity(points.len());
    for Point {
        labels: l,
        value: v,
        ..
    } in points
    {
        let data = template_data(&l, shared, v);
        let mut labels = l.without_name();
        for (k, t) in &rule.labels {
            labels.set(k.clone(), expand(t, &data));
        }
        labels.set("alertname".into(), alertname.clone());
        let annotations = rule
            .annotations
            .iter()
            .map(|(k, t)| (k.clone(), expand(t, &data)))
            .collect();
        if !seen.insert(labels.clone()) {
            return Err(EvalError::Result(
                "vector contains metrics with the same labelset after applying alert labels".into(),
            ));
        }
        returned.push(Returned {
            labels,
            annotations,
            value: v,
        });
    }
    let hold = rule.spec.hold.as_millis() as i64;
    let keep = rule.spec.keep_firing_for.as_millis() as i64;
    let active = rule.alerts.update(ts, returned, hold, keep);
    if limit > 0 && active > limit {
        rule.alerts.active.clear();
        return Err(EvalError::Limit {
            limit,
            count: active,
            what: "alerts",
        });
    }
    if !rule.restored {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for a in rule.alerts.current() {
        let mut l = a.labels.clone();
        l.set("__name__".into(), ALERTS.into());
        l.set("alertstate".into(), a.state.as_str().into());
        out.push(Point::float(l, 1.0));
        let mut f = a.labels.clone();
        f.set("__name__".into(), ALERTS_FOR_STATE.into());
        out.push(Point::float(f, (a.active_at / 1000) as f64));
    }
    debug_assert!(rule.alerts.current().all(|a| a.state != State::Inactive));
    Ok(out)
}

/// What templates see as `.`: Prometheus's `Labels`, `ExternalLabels`, `ExternalURL` and
/// `Value`.
fn template_data(labels: &Labels, shared: &Shared, value: f64) -> Value {
    let map = |it: &mut dyn Iterator<Item = (&str, &str)>| {
        Value::Map(
            it.map(|(k, v)| (k.to_owned(), Value::Str(v.to_owned())))
                .collect(),
        )
    };
    let mut data = BTreeMap::new();
    data.insert("Labels".to_owned(), map(&mut labels.iter()));
    data.insert(
        "ExternalLabels".to_owned(),
        map(&mut shared
            .external_labels
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))),
    );
    data.insert(
        "ExternalURL".to_owned(),
        Value::Str(shared.external_url.clone()),
    );
    data.insert("Value".to_owned(), Value::Num(value));
    Value::Map(data)
}

/// A template's output, or Prometheus's text for a failed expansion.
fn expand(t: &Template, data: &Value) -> String {
    t.render(data)
        .unwrap_or_else(|e| format!("<error expanding template: {e}>"))
}

/// Staleness markers for the series in `before` that are not in `now`.
fn stale_points(before: &HashSet<Labels>, now: &HashSet<Labels>) -> Vec<Point> {
    before
        .iter()
        .filter(|l| !now.contains(*l))
        .map(|l| Point::float(l.clone(), f64::from_bits(STALE_NAN_BITS)))
        .collect()
}

/// Staleness markers for every series the group's rules wrote last (a group removed by a
/// reload ends its series at once, as in Prometheus).
pub fn all_stale(group: &Group) -> Vec<Point> {
    let none = HashSet::new();
    group
        .rules
        .iter()
        .flat_map(|r| stale_points(&r.written, &none))
        .collect()
}
