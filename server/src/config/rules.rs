//! `[rules]` and `[alerting]`: which rule files each tenant evaluates, and where alerts go
//! (`docs/rules.md`). A reload (SIGHUP, `POST /-/reload`) reads these two sections of the
//! config file again; the rest of the file needs a restart.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use strata_engine::TenantId;

use super::parse_duration;
use crate::error::{Error, Result};

/// `[rules]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RulesSection {
    files: Option<Vec<String>>,
    logql_files: Option<Vec<String>>,
    evaluation_interval: Option<String>,
    outage_tolerance: Option<String>,
    for_grace_period: Option<String>,
    tenants: Option<BTreeMap<String, TenantSection>>,
}

/// `[rules.tenants.<id>]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TenantSection {
    files: Option<Vec<String>>,
    logql_files: Option<Vec<String>>,
}

/// `[alerting]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AlertingSection {
    alertmanagers: Option<Vec<String>>,
    webhooks: Option<Vec<WebhookSection>>,
    resend_delay: Option<String>,
    external_url: Option<String>,
    external_labels: Option<BTreeMap<String, String>>,
    queue_capacity: Option<usize>,
    timeout: Option<String>,
}

/// One `[[alerting.webhooks]]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WebhookSection {
    name: Option<String>,
    url: String,
    template: Option<String>,
}

/// The two sections alone, for a reload.
#[derive(Debug, Default, Deserialize)]
struct ReloadedFile {
    #[serde(default)]
    rules: RulesSection,
    #[serde(default)]
    alerting: AlertingSection,
}

/// The rule files of one tenant: glob patterns, relative ones from the config file's
/// directory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TenantRules {
    /// PromQL rule files (Prometheus's format).
    pub files: Vec<String>,
    /// LogQL rule files (Loki's ruler format).
    pub logql_files: Vec<String>,
}

/// The resolved `[rules]` and `[alerting]`.
#[derive(Debug, Clone, PartialEq)]
pub struct RulesSettings {
    /// The config file, read again on reload (`None`: no file, nothing to reload).
    pub source: Option<PathBuf>,
    /// Where relative patterns start: the config file's directory.
    pub base_dir: PathBuf,
    /// Each tenant's files (`[rules] files` is the default tenant's).
    pub tenants: BTreeMap<TenantId, TenantRules>,
    /// How often a group without `interval` is evaluated. Default 1 min.
    pub evaluation_interval: Duration,
    /// How far back a start looks for `ALERTS_FOR_STATE` to restore. Default 1 h.
    pub outage_tolerance: Duration,
    /// An alert that would fire within this of a start waits this long instead; `for`
    /// shorter than it is not restored. Default 10 min.
    pub for_grace_period: Duration,
    /// Where alerts go.
    pub alerting: AlertingSettings,
}

/// Where alerts go, and how.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertingSettings {
    /// Alertmanager base URLs (`http://host:9093`); alerts are posted to `/api/v2/alerts`.
    pub alertmanagers: Vec<url::Url>,
    /// Webhooks that take a templated body (Slack, Discord, anything).
    pub webhooks: Vec<WebhookSettings>,
    /// How often a firing alert is sent again. Default 1 min.
    pub resend_delay: Duration,
    /// In templates as `$externalURL`, and the base of alerts' generator URLs.
    pub external_url: String,
    /// Added to every alert sent (not overriding its own labels), and in templates.
    pub external_labels: BTreeMap<String, String>,
    /// Alerts each destination may hold waiting; past it the oldest are dropped. Default
    /// 10,000.
    pub queue_capacity: usize,
    /// How long one delivery attempt may take. Default 10 s.
    pub timeout: Duration,
}

/// One `[[alerting.webhooks]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookSettings {
    /// The name in `/metrics` (default `webhook-N`, N from 1).
    pub name: String,
    /// Where the body is posted.
    pub url: url::Url,
    /// The body: a Go template over the notification (`docs/rules.md`); `None` sends
    /// Alertmanager's webhook JSON.
    pub template: Option<String>,
}

impl Default for RulesSettings {
    fn default() -> Self {
        Self {
            source: None,
            base_dir: PathBuf::from("."),
            tenants: BTreeMap::new(),
            evaluation_interval: Duration::from_secs(60),
            outage_tolerance: Duration::from_secs(3600),
            for_grace_period: Duration::from_secs(600),
            alerting: AlertingSettings::default(),
        }
    }
}

impl Default for AlertingSettings {
    fn default() -> Self {
        Self {
            alertmanagers: Vec::new(),
            webhooks: Vec::new(),
            resend_delay: Duration::from_secs(60),
            external_url: String::new(),
            external_labels: BTreeMap::new(),
            queue_capacity: 10_000,
            timeout: Duration::from_secs(10),
        }
    }
}

impl RulesSettings {
    /// The two sections of the config file at `path`, read again (a reload).
    pub fn reread(path: &Path) -> Result<Self> {
        let file: ReloadedFile = super::sections_of(path, &["rules", "alerting"])?
            .try_into()
            .map_err(|e: toml::de::Error| Error::config("", e.to_string()).in_file(path))?;
        let mut s = resolve(file.rules, file.alerting)?;
        s.set_source(path);
        Ok(s)
    }

    /// Records `path` as the config file: reloads read it, and relative patterns start
    /// from its directory.
    pub(crate) fn set_source(&mut self, path: &Path) {
        self.source = Some(path.to_owned());
        self.base_dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
            _ => PathBuf::from("."),
        };
    }
}

/// Checks and resolves the two sections.
pub(crate) fn resolve(rules: RulesSection, alerting: AlertingSection) -> Result<RulesSettings> {
    let mut s = RulesSettings::default();
    let default = TenantRules {
        files: rules.files.unwrap_or_default(),
        logql_files: rules.logql_files.unwrap_or_default(),
    };
    if default != TenantRules::default() {
        s.tenants.insert(TenantId::default_tenant(), default);
    }
    for (name, t) in rules.tenants.unwrap_or_default() {
        let key = format!("rules.tenants.{name}");
        let id = TenantId::new(&name).map_err(|e| Error::config(&key, e.to_string()))?;
        if s.tenants.contains_key(&id) {
            return Err(Error::config(
                key,
                "the default tenant's files are [rules] files; list them there only",
            ));
        }
        s.tenants.insert(
            id,
            TenantRules {
                files: t.files.unwrap_or_default(),
                logql_files: t.logql_files.unwrap_or_default(),
            },
        );
    }
    let positive = |key: &str, v: Option<String>, default: Duration| -> Result<Duration> {
        let d = match v {
            Some(t) => parse_duration(key, &t)?,
            None => default,
        };
        if d.is_zero() {
            return Err(Error::config(key, "must be greater than 0"));
        }
        Ok(d)
    };
    s.evaluation_interval = positive(
        "rules.evaluation_interval",
        rules.evaluation_interval,
        s.evaluation_interval,
    )?;
    s.outage_tolerance = positive(
        "rules.outage_tolerance",
        rules.outage_tolerance,
        s.outage_tolerance,
    )?;
    s.for_grace_period = positive(
        "rules.for_grace_period",
        rules.for_grace_period,
        s.for_grace_period,
    )?;

    let a = &mut s.alerting;
    for (i, u) in alerting
        .alertmanagers
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        a.alertmanagers
            .push(http_url(&format!("alerting.alertmanagers[{i}]"), u)?);
    }
    for (i, w) in alerting
        .webhooks
        .unwrap_or_default()
        .into_iter()
        .enumerate()
    {
        let key = format!("alerting.webhooks[{i}]");
        let url = http_url(&format!("{key}.url"), &w.url)?;
        let name = w.name.unwrap_or_else(|| format!("webhook-{}", i + 1));
        if a.webhooks.iter().any(|o| o.name == name) {
            return Err(Error::config(
                format!("{key}.name"),
                format!("{name:?} is used twice"),
            ));
        }
        a.webhooks.push(WebhookSettings {
            name,
            url,
            template: w.template,
        });
    }
    a.resend_delay = positive(
        "alerting.resend_delay",
        alerting.resend_delay,
        a.resend_delay,
    )?;
    a.timeout = positive("alerting.timeout", alerting.timeout, a.timeout)?;
    a.external_url = alerting.external_url.unwrap_or_default();
    a.external_labels = alerting.external_labels.unwrap_or_default();
    for k in a.external_labels.keys() {
        if !crate::relabel::NameValidation::Legacy.is_valid(k) {
            return Err(Error::config(
                format!("alerting.external_labels.{k}"),
                "not a valid label name ([a-zA-Z_][a-zA-Z0-9_]*)",
            ));
        }
    }
    a.queue_capacity = alerting.queue_capacity.unwrap_or(a.queue_capacity);
    if a.queue_capacity == 0 {
        return Err(Error::config(
            "alerting.queue_capacity",
            "must be at least 1",
        ));
    }
    Ok(s)
}

fn http_url(key: &str, text: &str) -> Result<url::Url> {
    let u = url::Url::parse(text).map_err(|e| Error::config(key, format!("{text:?}: {e}")))?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err(Error::config(key, format!("{text:?}: not an http(s) URL")));
    }
    Ok(u)
}
