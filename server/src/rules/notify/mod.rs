//! Sending alerts: to Alertmanager through its v2 API, and to webhooks with a templated
//! body (a Slack or Discord incoming webhook works without Alertmanager).
//!
//! Each destination has its own bounded queue and task, so a destination that is down
//! delays no other. A batch (at most [`MAX_BATCH`] alerts) that fails is retried with
//! exponential backoff ([`RETRY_FIRST`] doubling to [`RETRY_MAX`]) up to [`ATTEMPTS`]
//! times, then given up; a full queue drops its oldest alerts. Every outcome is counted in
//! `strata_notifications_total`. Firing alerts are sent again every `resend_delay` anyway
//! (Prometheus's semantics), so an alert given up is sent again while it fires.

mod body;

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::{Notify, watch};

use super::error::RulesError;
use super::template::Template;
use crate::config::rules::AlertingSettings;
use crate::runtime::self_metrics::rules::Delivery;
use crate::runtime::state::AppState;

/// Most alerts in one request (Prometheus's notifier sends 64 at most).
pub const MAX_BATCH: usize = 64;
/// Delivery attempts per batch.
pub const ATTEMPTS: u32 = 5;
/// The wait after a first failed attempt; it doubles after each.
pub const RETRY_FIRST: Duration = Duration::from_secs(1);
/// The longest wait between attempts.
pub const RETRY_MAX: Duration = Duration::from_secs(30);

/// An alert as notifiers receive it (Alertmanager's postable alert).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Notice {
    /// Its labels, external labels added.
    pub labels: BTreeMap<String, String>,
    /// Its annotations.
    pub annotations: BTreeMap<String, String>,
    /// When it started firing (RFC 3339).
    #[serde(rename = "startsAt")]
    pub starts_at: String,
    /// When it was resolved, or until when this notice holds it firing (RFC 3339).
    #[serde(rename = "endsAt")]
    pub ends_at: String,
    /// A link to the expression.
    #[serde(rename = "generatorURL")]
    pub generator_url: String,
    /// Whether it is resolved.
    #[serde(skip)]
    pub resolved: bool,
}

/// Where a destination sends.
enum Kind {
    Alertmanager(url::Url),
    Webhook {
        url: url::Url,
        template: Option<Template>,
    },
}

struct Destination {
    name: String,
    kind: Kind,
    queue: Mutex<VecDeque<Notice>>,
    wake: Notify,
    capacity: usize,
}

/// The destinations of `[alerting]`, each with its queue and sending task.
pub struct Notifier {
    destinations: Vec<Arc<Destination>>,
    state: AppState,
    external_url: String,
    _stop: watch::Sender<bool>,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.destinations.iter().map(|d| d.name.as_str()).collect();
        f.debug_struct("Notifier")
            .field("destinations", &names)
            .finish()
    }
}

impl Notifier {
    /// Starts a task per destination of `settings` (they stop when the notifier is
    /// dropped). Fails on a webhook template that does not parse.
    pub fn start(settings: &AlertingSettings, state: AppState) -> Result<Arc<Self>, RulesError> {
        let mut destinations = Vec::new();
        for u in &settings.alertmanagers {
            let mut url = u.clone();
            let path = format!("{}/api/v2/alerts", url.path().trim_end_matches('/'));
            url.set_path(&path);
            destinations.push((format!("alertmanager {u}"), Kind::Alertmanager(url)));
        }
        for w in &settings.webhooks {
            let template = match &w.template {
                Some(t) => Some(
                    Template::parse(&format!("webhook {}", w.name), t)
                        .map_err(|e| RulesError::Config(e.to_string()))?,
                ),
                None => None,
            };
            destinations.push((
                w.name.clone(),
                Kind::Webhook {
                    url: w.url.clone(),
                    template,
                },
            ));
        }
        let client = reqwest::Client::builder()
            .timeout(settings.timeout)
            .build()
            .map_err(|e| RulesError::Config(format!("cannot build the HTTP client: {e}")))?;
        let (stop, stopped) = watch::channel(false);
        let destinations: Vec<Arc<Destination>> = destinations
            .into_iter()
            .map(|(name, kind)| {
                Arc::new(Destination {
                    name,
                    kind,
                    queue: Mutex::new(VecDeque::new()),
                    wake: Notify::new(),
                    capacity: settings.queue_capacity,
                })
            })
            .collect();
        for d in &destinations {
            tokio::spawn(deliver(
                d.clone(),
                client.clone(),
                state.clone(),
                settings.external_url.clone(),
                stopped.clone(),
            ));
        }
        Ok(Arc::new(Self {
            destinations,
            state,
            external_url: settings.external_url.clone(),
            _stop: stop,
        }))
    }

    /// Whether there is anywhere to send.
    pub fn is_empty(&self) -> bool {
        self.destinations.is_empty()
    }

    /// The base of generator URLs.
    pub fn external_url(&self) -> &str {
        &self.external_url
    }

    /// Queues `alerts` for every destination; a full queue drops its oldest.
    pub fn send(&self, alerts: &[Notice]) {
        if alerts.is_empty() {
            return;
        }
        let metrics = self.state.metrics.rules();
        for d in &self.destinations {
            let (dropped, len) = {
                let mut q = d.queue.lock().unwrap_or_else(PoisonError::into_inner);
                q.extend(alerts.iter().cloned());
                let over = q.len().saturating_sub(d.capacity);
                q.drain(..over);
                (over, q.len())
            };
            if dropped > 0 {
                tracing::warn!(destination = %d.name, dropped, "alert queue full: the oldest alerts were dropped");
                metrics.record_delivery(&d.name, Delivery::QueueFull, dropped as u64);
            }
            metrics.set_queued(&d.name, len);
            d.wake.notify_one();
        }
    }
}

/// A destination's task: batches from its queue, each tried until it is delivered or
/// [`ATTEMPTS`] attempts failed.
async fn deliver(
    d: Arc<Destination>,
    client: reqwest::Client,
    state: AppState,
    external_url: String,
    mut stop: watch::Receiver<bool>,
) {
    let metrics = state.metrics.rules();
    loop {
        let batch: Vec<Notice> = {
            let mut q = d.queue.lock().unwrap_or_else(PoisonError::into_inner);
            let n = q.len().min(MAX_BATCH);
            q.drain(..n).collect()
        };
        if batch.is_empty() {
            tokio::select! {
                () = d.wake.notified() => continue,
                _ = stop.changed() => return,
            }
        }
        metrics.set_queued(
            &d.name,
            d.queue.lock().unwrap_or_else(PoisonError::into_inner).len(),
        );
        let body = match &d.kind {
            Kind::Alertmanager(_) => body::alertmanager(&batch),
            Kind::Webhook { template, .. } => {
                body::webhook(&d.name, template.as_ref(), &batch, &external_url)
            }
        };
        let body = match body {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(destination = %d.name, error = %e, "cannot make the notification body; alerts given up");
                metrics.record_delivery(&d.name, Delivery::GaveUp, batch.len() as u64);
                continue;
            }
        };
        let url = match &d.kind {
            Kind::Alertmanager(u) | Kind::Webhook { url: u, .. } => u.clone(),
        };
        let mut wait = RETRY_FIRST;
        let mut delivered = false;
        for attempt in 1..=ATTEMPTS {
            match post(&client, &url, &body).await {
                Ok(()) => {
                    delivered = true;
                    break;
                }
                Err(e) => {
                    metrics.record_delivery(&d.name, Delivery::Failed, batch.len() as u64);
                    tracing::warn!(destination = %d.name, attempt, error = %e, "notification failed");
                    if attempt == ATTEMPTS {
                        break;
                    }
                    tokio::select! {
                        () = tokio::time::sleep(wait) => {}
                        _ = stop.changed() => return,
                    }
                    wait = (wait * 2).min(RETRY_MAX);
                }
            }
        }
        let outcome = if delivered {
            Delivery::Sent
        } else {
            Delivery::GaveUp
        };
        metrics.record_delivery(&d.name, outcome, batch.len() as u64);
    }
}

async fn post(client: &reqwest::Client, url: &url::Url, body: &str) -> Result<(), String> {
    let resp = client
        .post(url.as_str())
        .header("content-type", "application/json")
        .header("user-agent", concat!("strata/", env!("CARGO_PKG_VERSION")))
        .body(body.to_owned())
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = resp.status();
    if status.is_success() {
        return Ok(());
    }
    let text = resp.text().await.unwrap_or_default();
    let text: String = text.chars().take(300).collect();
    Err(format!("{status}: {text}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Auth;
    use crate::config::Config;
    use crate::config::rules::WebhookSettings;

    fn notice(i: usize) -> Notice {
        Notice {
            labels: BTreeMap::from([("alertname".to_owned(), format!("A{i}"))]),
            annotations: BTreeMap::new(),
            starts_at: String::new(),
            ends_at: String::new(),
            generator_url: String::new(),
            resolved: false,
        }
    }

    #[tokio::test]
    async fn a_full_queue_drops_the_oldest_and_counts_them() {
        let state = AppState::new(Auth::new(&[]).expect("auth"), &Config::default());
        let settings = AlertingSettings {
            webhooks: vec![WebhookSettings {
                name: "down".into(),
                // Nothing listens on port 9 (discard) here: every attempt fails.
                url: url::Url::parse("http://127.0.0.1:9/hook").expect("url"),
                template: None,
            }],
            queue_capacity: 3,
            ..AlertingSettings::default()
        };
        let n = Notifier::start(&settings, state.clone()).expect("notifier");
        let alerts: Vec<Notice> = (0..10).map(notice).collect();
        n.send(&alerts);
        {
            let q = n.destinations[0].queue.lock().expect("queue");
            let kept: Vec<&str> = q.iter().map(|a| a.labels["alertname"].as_str()).collect();
            assert_eq!(kept, ["A7", "A8", "A9"], "the newest are kept");
        }
        let text = state.metrics.render(None, None);
        assert!(
            text.contains(
                "strata_notifications_total{destination=\"down\",outcome=\"queue_full\"} 7\n"
            ),
            "{text}"
        );
    }
}
