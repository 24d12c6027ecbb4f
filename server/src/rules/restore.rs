//! Restoring alerts' `for` state after a start, as Prometheus does: each pending or firing
//! alert's `ALERTS_FOR_STATE` series (its value is when the alert became active, in
//! seconds) tells how long it had been pending when the server went down, so a long `for`
//! does not start again from zero. Runs once per group, after its second evaluation.

use std::time::Duration;

use super::env::Env;
use super::file::RuleKind;
use super::group::Group;

/// The restore's settings (`[rules] outage_tolerance`, `for_grace_period`).
#[derive(Debug, Clone, Copy)]
pub struct RestoreSettings {
    /// How far back to look for the state.
    pub outage_tolerance: Duration,
    /// The least time an alert waits after a start before it fires.
    pub for_grace_period: Duration,
}

/// Restores the `for` state of `group`'s alerting rules at `now` (ms).
pub async fn restore(group: &mut Group, env: &Env, now: i64, settings: RestoreSettings) {
    let grace = settings.for_grace_period.as_millis() as i64;
    let since = now - settings.outage_tolerance.as_millis() as i64;
    for rule in &mut group.rules {
        if rule.restored || !matches!(rule.spec.kind, RuleKind::Alert(_)) {
            rule.restored = true;
            continue;
        }
        let hold = rule.spec.hold.as_millis() as i64;
        if hold < grace {
            rule.restored = true;
            continue;
        }
        for alert in rule.alerts.active.values_mut() {
            let found = match env.for_state(&alert.labels, since, now).await {
                Ok(found) => found,
                Err(e) => {
                    tracing::warn!(tenant = %env.tenant, rule = rule.spec.name(), labels = %alert.labels, error = %e, "cannot read ALERTS_FOR_STATE; the alert's for state starts anew");
                    continue;
                }
            };
            let Some((down_at, active_at_s)) = found else {
                continue;
            };
            alert.active_at = restored_active_at(down_at, active_at_s, hold, grace, now);
            tracing::debug!(tenant = %env.tenant, rule = rule.spec.name(), labels = %alert.labels, active_at = alert.active_at, "for state restored");
        }
        rule.restored = true;
    }
}

/// When an alert counts as active after a restart at `now` (ms), its last
/// `ALERTS_FOR_STATE` sample written at `down_at` (ms) with value `active_at_s` (s), for a
/// rule with `for` of `hold` and a grace period `grace` (ms): the time it had spent
/// pending still counts, the downtime does not, and it waits at least `grace`.
pub fn restored_active_at(down_at: i64, active_at_s: f64, hold: i64, grace: i64, now: i64) -> i64 {
    // Prometheus works in whole seconds here.
    let down_at = down_at.div_euclid(1000) * 1000;
    let active_at = (active_at_s as i64).saturating_mul(1000);
    let remaining = hold - (down_at - active_at);
    if remaining <= 0 {
        // It was firing: it fires again at the next evaluation that returns it.
        active_at
    } else if remaining < grace {
        now + grace - hold
    } else {
        active_at + (now - down_at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;

    #[test]
    fn pending_time_before_the_outage_counts_and_the_outage_does_not() {
        // for 30m, pending since t=0, down at 10m, back at 40m: 20m remain, so it fires at
        // 60m (active since 30m).
        let at = restored_active_at(10 * MIN, 0.0, 30 * MIN, 10 * MIN, 40 * MIN);
        assert_eq!(at, 30 * MIN);
    }

    #[test]
    fn an_alert_about_to_fire_waits_the_grace_period() {
        // for 30m, pending since 0, down at 25m (5m remaining < 10m grace), back at 40m:
        // fires at 50m.
        let at = restored_active_at(25 * MIN, 0.0, 30 * MIN, 10 * MIN, 40 * MIN);
        assert_eq!(at + 30 * MIN, 50 * MIN);
    }

    #[test]
    fn a_firing_alert_keeps_its_active_time() {
        let at = restored_active_at(45 * MIN, 60.0, 30 * MIN, 10 * MIN, 50 * MIN);
        assert_eq!(at, 60_000);
    }
}
