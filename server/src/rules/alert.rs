//! The state of one alerting rule's alerts, with Prometheus's semantics: an alert the
//! expression returns is pending, fires once it has been pending for the rule's `for`, and
//! is resolved when the expression stops returning it (after `keep_firing_for`); a resolved
//! alert is kept 15 minutes so that notifiers keep sending its resolution.

use std::collections::BTreeMap;

use super::Labels;

/// How long a resolved alert is kept (and its resolution resent), as in Prometheus.
pub const RESOLVED_RETENTION_MS: i64 = 15 * 60 * 1000;

/// An alert's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum State {
    /// No longer returned by the expression (kept a while to send the resolution).
    Inactive,
    /// Returned, but not yet for the rule's `for`.
    Pending,
    /// Returned for at least the rule's `for`.
    Firing,
}

impl State {
    /// `inactive`, `pending` or `firing`, as the APIs and the `ALERTS` series name it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Inactive => "inactive",
            Self::Pending => "pending",
            Self::Firing => "firing",
        }
    }
}

/// One alert of a rule: a label set the expression returned.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// The result's labels without `__name__`, with the rule's labels and `alertname`.
    pub labels: Labels,
    /// The rule's annotations, expanded for this alert.
    pub annotations: BTreeMap<String, String>,
    /// Where it is.
    pub state: State,
    /// The value of the expression's sample at the last evaluation that returned it.
    pub value: f64,
    /// When it became pending (ms), possibly moved on by a restore.
    pub active_at: i64,
    /// When it started firing (ms).
    pub fired_at: Option<i64>,
    /// When it was resolved (ms).
    pub resolved_at: Option<i64>,
    /// When it was last sent to the notifiers (ms).
    pub last_sent_at: Option<i64>,
    /// Until when the last notification holds it firing, if no other comes (ms).
    pub valid_until: i64,
    /// Since when it has been kept firing by `keep_firing_for` (ms).
    pub keep_firing_since: Option<i64>,
}

impl Alert {
    /// Whether the notifiers should be sent this alert at `ts` (Prometheus's
    /// `needsSending`): never while pending; a resolution not yet sent; else once every
    /// `resend_delay`.
    pub fn needs_sending(&self, ts: i64, resend_delay_ms: i64) -> bool {
        if self.state == State::Pending {
            return false;
        }
        let Some(sent) = self.last_sent_at else {
            return true;
        };
        if self.resolved_at.is_some_and(|r| r > sent) {
            return true;
        }
        sent + resend_delay_ms < ts
    }
}

/// One result of the rule's expression, labels and annotations already expanded.
#[derive(Debug, Clone, PartialEq)]
pub struct Returned {
    /// The alert's labels.
    pub labels: Labels,
    /// Its annotations.
    pub annotations: BTreeMap<String, String>,
    /// The sample's value.
    pub value: f64,
}

/// The alerts of one rule, by label set.
#[derive(Debug, Clone, Default)]
pub struct Alerts {
    /// By label set (sorted, hence the order of the APIs' lists).
    pub active: BTreeMap<Labels, Alert>,
}

impl Alerts {
    /// One evaluation at `ts` (ms) that returned `results`, for a rule with `for` of
    /// `hold_ms` and `keep_firing_for` of `keep_ms`. Returns how many alerts are pending or
    /// firing after it.
    pub fn update(&mut self, ts: i64, results: Vec<Returned>, hold_ms: i64, keep_ms: i64) -> usize {
        let mut returned = std::collections::BTreeSet::new();
        for r in results {
            returned.insert(r.labels.clone());
            match self.active.get_mut(&r.labels) {
                Some(a) if a.state != State::Inactive => {
                    a.value = r.value;
                    a.annotations = r.annotations;
                }
                // New, or back after it was resolved: pending again from now.
                _ => {
                    self.active.insert(
                        r.labels.clone(),
                        Alert {
                            labels: r.labels,
                            annotations: r.annotations,
                            state: State::Pending,
                            value: r.value,
                            active_at: ts,
                            fired_at: None,
                            resolved_at: None,
                            last_sent_at: None,
                            valid_until: 0,
                            keep_firing_since: None,
                        },
                    );
                }
            }
        }
        let mut active = 0;
        self.active.retain(|labels, a| {
            if returned.contains(labels) {
                a.keep_firing_since = None;
            } else {
                let mut keep_firing = false;
                if a.state == State::Firing && keep_ms > 0 {
                    let since = *a.keep_firing_since.get_or_insert(ts);
                    keep_firing = ts - since < keep_ms;
                }
                // A pending alert that is gone is forgotten; a resolved one after a while.
                if a.state == State::Pending
                    || a.resolved_at
                        .is_some_and(|r| ts - r > RESOLVED_RETENTION_MS)
                {
                    return false;
                }
                if a.state != State::Inactive && !keep_firing {
                    a.state = State::Inactive;
                    a.resolved_at = Some(ts);
                }
                if !keep_firing {
                    return true;
                }
            }
            active += 1;
            if a.state == State::Pending && ts - a.active_at >= hold_ms {
                a.state = State::Firing;
                a.fired_at = Some(ts);
            }
            true
        });
        active
    }

    /// The pending and firing alerts (the ones the `ALERTS` series show).
    pub fn current(&self) -> impl Iterator<Item = &Alert> {
        self.active.values().filter(|a| a.state != State::Inactive)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(v: &str) -> Labels {
        Labels::from_pairs([("alertname", "Down"), ("instance", v)])
    }

    fn returned(v: &str) -> Returned {
        Returned {
            labels: labels(v),
            annotations: BTreeMap::new(),
            value: 1.0,
        }
    }

    fn state(a: &Alerts, v: &str) -> Option<State> {
        a.active.get(&labels(v)).map(|a| a.state)
    }

    #[test]
    fn pending_then_firing_after_for_then_resolved() {
        let mut a = Alerts::default();
        let hold = 60_000;
        assert_eq!(a.update(0, vec![returned("a")], hold, 0), 1);
        assert_eq!(state(&a, "a"), Some(State::Pending));
        a.update(30_000, vec![returned("a")], hold, 0);
        assert_eq!(state(&a, "a"), Some(State::Pending));
        a.update(60_000, vec![returned("a")], hold, 0);
        assert_eq!(state(&a, "a"), Some(State::Firing));
        assert_eq!(a.active[&labels("a")].fired_at, Some(60_000));
        assert_eq!(a.update(90_000, vec![], hold, 0), 0);
        assert_eq!(state(&a, "a"), Some(State::Inactive));
        assert_eq!(a.active[&labels("a")].resolved_at, Some(90_000));
        // Kept 15 minutes after the resolution, then forgotten.
        a.update(90_000 + RESOLVED_RETENTION_MS, vec![], hold, 0);
        assert_eq!(state(&a, "a"), Some(State::Inactive));
        a.update(90_001 + RESOLVED_RETENTION_MS, vec![], hold, 0);
        assert_eq!(state(&a, "a"), None);
    }

    #[test]
    fn a_pending_alert_that_goes_away_is_forgotten_at_once() {
        let mut a = Alerts::default();
        a.update(0, vec![returned("a")], 60_000, 0);
        a.update(15_000, vec![], 60_000, 0);
        assert_eq!(state(&a, "a"), None);
    }

    #[test]
    fn without_for_an_alert_fires_at_its_first_evaluation() {
        let mut a = Alerts::default();
        a.update(0, vec![returned("a"), returned("b")], 0, 0);
        assert_eq!(state(&a, "a"), Some(State::Firing));
        assert_eq!(a.current().count(), 2);
    }

    #[test]
    fn keep_firing_for_holds_a_firing_alert_after_it_goes_away() {
        let mut a = Alerts::default();
        let keep = 30_000;
        a.update(0, vec![returned("a")], 0, keep);
        assert_eq!(a.update(15_000, vec![], 0, keep), 1);
        assert_eq!(state(&a, "a"), Some(State::Firing));
        a.update(30_000, vec![], 0, keep);
        assert_eq!(state(&a, "a"), Some(State::Firing));
        a.update(45_000, vec![], 0, keep);
        assert_eq!(state(&a, "a"), Some(State::Inactive));
        assert_eq!(a.active[&labels("a")].resolved_at, Some(45_000));
    }

    #[test]
    fn a_resolved_alert_that_comes_back_is_pending_again() {
        let mut a = Alerts::default();
        a.update(0, vec![returned("a")], 10_000, 0);
        a.update(10_000, vec![returned("a")], 10_000, 0);
        a.update(20_000, vec![], 10_000, 0);
        a.update(30_000, vec![returned("a")], 10_000, 0);
        let alert = &a.active[&labels("a")];
        assert_eq!(
            (alert.state, alert.active_at, alert.resolved_at),
            (State::Pending, 30_000, None)
        );
    }

    #[test]
    fn sending_follows_resend_delay_and_resolutions() {
        let mut a = Alerts::default();
        a.update(0, vec![returned("a")], 10_000, 0);
        let pending = &a.active[&labels("a")];
        assert!(!pending.needs_sending(0, 60_000));
        a.update(10_000, vec![returned("a")], 10_000, 0);
        let alert = a.active.get_mut(&labels("a")).expect("alert");
        assert!(alert.needs_sending(10_000, 60_000));
        alert.last_sent_at = Some(10_000);
        assert!(!alert.needs_sending(70_000, 60_000));
        assert!(alert.needs_sending(70_001, 60_000));
        a.update(20_000, vec![], 10_000, 0);
        let alert = &a.active[&labels("a")];
        assert!(
            alert.needs_sending(20_000, 60_000),
            "the resolution goes out at once"
        );
    }
}
