//! Self-metrics of rule evaluation and alert notifications (`crate::rules`), rendered on
//! `/metrics` with the rest.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use super::exposition::{header, line};

/// What a notification to one destination came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Delivery {
    /// Alerts delivered (the destination answered 2xx).
    Sent,
    /// A delivery attempt failed (retried with backoff).
    Failed,
    /// Alerts given up after every retry failed.
    GaveUp,
    /// Alerts dropped because the destination's queue was full (the oldest go).
    QueueFull,
}

#[derive(Debug, Default)]
struct Counters {
    /// tenant -> rule evaluations.
    evaluations: BTreeMap<String, u64>,
    /// tenant -> failed rule evaluations.
    failures: BTreeMap<String, u64>,
    /// tenant -> (group evaluations, seconds spent, iterations missed).
    groups: BTreeMap<String, (u64, f64, u64)>,
    /// Reloads: (succeeded, failed); and whether the last one succeeded.
    reloads: (u64, u64, bool),
    /// (destination, outcome) -> alerts.
    deliveries: BTreeMap<(String, Delivery), u64>,
    /// destination -> alerts waiting.
    queued: BTreeMap<String, u64>,
}

/// The counters, behind one mutex (a few updates per group evaluation).
#[derive(Debug, Default)]
pub struct RuleMetrics(Mutex<Counters>);

impl RuleMetrics {
    fn lock(&self) -> std::sync::MutexGuard<'_, Counters> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts a group evaluation of `rules` rules, `failed` of which failed, that took
    /// `took`, after `missed` intervals with no evaluation (the previous ran late).
    pub fn record_group(
        &self,
        tenant: &str,
        rules: usize,
        failed: usize,
        took: Duration,
        missed: u64,
    ) {
        let mut c = self.lock();
        *c.evaluations.entry(tenant.to_owned()).or_default() += rules as u64;
        *c.failures.entry(tenant.to_owned()).or_default() += failed as u64;
        let g = c.groups.entry(tenant.to_owned()).or_default();
        g.0 += 1;
        g.1 += took.as_secs_f64();
        g.2 += missed;
    }

    /// Counts a reload of the rule files.
    pub fn record_reload(&self, ok: bool) {
        let mut c = self.lock();
        if ok {
            c.reloads.0 += 1;
        } else {
            c.reloads.1 += 1;
        }
        c.reloads.2 = ok;
    }

    /// Counts `n` alerts to `destination` with `outcome`.
    pub fn record_delivery(&self, destination: &str, outcome: Delivery, n: u64) {
        *self
            .lock()
            .deliveries
            .entry((destination.to_owned(), outcome))
            .or_default() += n;
    }

    /// Sets how many alerts wait for `destination`.
    pub fn set_queued(&self, destination: &str, n: usize) {
        self.lock().queued.insert(destination.to_owned(), n as u64);
    }

    /// Appends the text exposition; per-tenant series only for tenants `shown` allows.
    pub(crate) fn render(&self, o: &mut String, shown: &dyn Fn(&str) -> bool, all: bool) {
        let c = self.lock();
        let tenant_counter = |o: &mut String, name: &str, help: &str, m: &BTreeMap<String, u64>| {
            header(o, name, "counter", help);
            for (t, n) in m.iter().filter(|(t, _)| shown(t)) {
                line(o, name, &[("tenant", t)], *n as f64);
            }
        };
        tenant_counter(
            o,
            "strata_rule_evaluations_total",
            "Rule evaluations, recording and alerting, by tenant.",
            &c.evaluations,
        );
        tenant_counter(
            o,
            "strata_rule_evaluation_failures_total",
            "Rule evaluations that failed (the rule's lastError in /api/v1/rules says why).",
            &c.failures,
        );
        let groups = c.groups.iter().filter(|(t, _)| shown(t));
        let name = "strata_rule_group_iterations_total";
        header(o, name, "counter", "Rule group evaluations, by tenant.");
        for (t, g) in groups.clone() {
            line(o, name, &[("tenant", t)], g.0 as f64);
        }
        let name = "strata_rule_group_duration_seconds_total";
        header(
            o,
            name,
            "counter",
            "Seconds spent evaluating rule groups, by tenant.",
        );
        for (t, g) in groups.clone() {
            line(o, name, &[("tenant", t)], g.1);
        }
        let name = "strata_rule_group_iterations_missed_total";
        header(
            o,
            name,
            "counter",
            "Rule group evaluations skipped because the previous one ran past the interval.",
        );
        for (t, g) in groups {
            line(o, name, &[("tenant", t)], g.2 as f64);
        }
        if !all {
            return;
        }
        let name = "strata_rules_reloads_total";
        header(o, name, "counter", "Reloads of the rule files, by result.");
        line(o, name, &[("result", "success")], c.reloads.0 as f64);
        line(o, name, &[("result", "failure")], c.reloads.1 as f64);
        let name = "strata_rules_last_reload_successful";
        header(
            o,
            name,
            "gauge",
            "1 if the last reload of the rule files succeeded.",
        );
        let ok = c.reloads.2 || c.reloads == (0, 0, false);
        line(o, name, &[], if ok { 1.0 } else { 0.0 });
        let name = "strata_notifications_total";
        header(
            o,
            name,
            "counter",
            "Alerts by notification destination and outcome: sent, failed (an attempt, retried), gave_up (after the last retry), queue_full (dropped, oldest first).",
        );
        for ((d, what), n) in &c.deliveries {
            let outcome = match what {
                Delivery::Sent => "sent",
                Delivery::Failed => "failed",
                Delivery::GaveUp => "gave_up",
                Delivery::QueueFull => "queue_full",
            };
            line(
                o,
                name,
                &[("destination", d), ("outcome", outcome)],
                *n as f64,
            );
        }
        let name = "strata_notification_queue_length";
        header(
            o,
            name,
            "gauge",
            "Alerts waiting to be sent, by destination.",
        );
        for (d, n) in &c.queued {
            line(o, name, &[("destination", d)], *n as f64);
        }
    }
}
