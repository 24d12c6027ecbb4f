//! Targets: a job's target groups (static, or from file_sd) turned into the targets it
//! scrapes, as Prometheus turns them (`relabel_configs` over the discovered labels, then
//! `instance` from `__address__`, the URL from `__scheme__`, `__address__`,
//! `__metrics_path__` and the `__param_*` labels).

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use super::config::{Job, StaticYaml};
use crate::relabel::Outcome;
use crate::rules::file::parse_duration;

/// A label set, sorted by name.
pub(crate) type LabelSet = Vec<(String, String)>;

/// One target of a job.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub(crate) job: Arc<Job>,
    /// Its labels once relabeled, without the `__` ones: what every series it yields
    /// carries (`job`, `instance`, the group's labels).
    pub(crate) labels: LabelSet,
    /// The labels before relabeling (`discoveredLabels` in `/api/v1/targets`).
    pub(crate) discovered: LabelSet,
    pub(crate) url: String,
    pub(crate) interval: Duration,
    pub(crate) timeout: Duration,
}

impl Target {
    /// What identifies the target within its job: its labels and URL.
    pub(crate) fn key(&self) -> u64 {
        let mut h = twox_hash::XxHash64::with_seed(0);
        self.labels.hash(&mut h);
        self.url.hash(&mut h);
        h.finish()
    }
}

/// What relabeling made of one discovered target.
#[derive(Debug, Clone)]
pub(crate) enum Built {
    Active(Target),
    /// Dropped by `relabel_configs` (or without an address): its discovered labels.
    Dropped(LabelSet),
}

/// The targets of `group` (`source` names where it came from, as `__meta_filepath` for a
/// file_sd file).
pub(crate) fn build(job: &Arc<Job>, group: &StaticYaml, meta: &[(String, String)]) -> Vec<Built> {
    group
        .targets
        .iter()
        .map(|address| one(job, address, &group.labels, meta))
        .collect()
}

fn one(
    job: &Arc<Job>,
    address: &str,
    group: &BTreeMap<String, String>,
    meta: &[(String, String)],
) -> Built {
    let mut labels: BTreeMap<String, String> = group.clone();
    for (k, v) in meta {
        labels.insert(k.clone(), v.clone());
    }
    labels.insert("__address__".into(), address.to_owned());
    let defaults = [
        ("job", job.name.clone()),
        ("__scheme__", job.scheme.clone()),
        ("__metrics_path__", job.metrics_path.clone()),
        ("__scrape_interval__", prom_duration(job.interval)),
        ("__scrape_timeout__", prom_duration(job.timeout)),
    ];
    for (k, v) in defaults {
        labels.entry(k.to_owned()).or_insert(v);
    }
    for (name, values) in &job.params {
        if let Some(first) = values.first() {
            labels
                .entry(format!("__param_{name}"))
                .or_insert_with(|| first.clone());
        }
    }
    let discovered: LabelSet = labels.into_iter().collect();
    let mut set = discovered.clone();
    if let Outcome::Dropped { .. } = job.relabel.apply(&mut set) {
        return Built::Dropped(discovered);
    }
    let get = |set: &LabelSet, name: &str| {
        set.iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let address = get(&set, "__address__");
    if address.is_empty() {
        return Built::Dropped(discovered);
    }
    let interval = parse_duration(&get(&set, "__scrape_interval__")).unwrap_or(job.interval);
    let timeout = parse_duration(&get(&set, "__scrape_timeout__")).unwrap_or(job.timeout);
    if interval.is_zero() || timeout.is_zero() || timeout > interval {
        return Built::Dropped(discovered);
    }
    let scheme = match get(&set, "__scheme__") {
        s if s.is_empty() => job.scheme.clone(),
        s => s,
    };
    let path = get(&set, "__metrics_path__");
    let mut params: BTreeMap<String, Vec<String>> = job.params.clone();
    for (n, v) in &set {
        if let Some(p) = n.strip_prefix("__param_") {
            let values = params.entry(p.to_owned()).or_default();
            match values.first_mut() {
                Some(first) => *first = v.clone(),
                None => values.push(v.clone()),
            }
        }
    }
    let url = url(&scheme, &address, &path, &params);
    let mut labels: LabelSet = set
        .into_iter()
        .filter(|(n, _)| !n.starts_with("__"))
        .collect();
    if !labels.iter().any(|(n, _)| n == "instance") {
        labels.push(("instance".into(), address));
        labels.sort();
    }
    Built::Active(Target {
        job: job.clone(),
        labels,
        discovered,
        url,
        interval,
        timeout,
    })
}

fn url(scheme: &str, address: &str, path: &str, params: &BTreeMap<String, Vec<String>>) -> String {
    let path = if path.starts_with('/') {
        path.to_owned()
    } else {
        format!("/{path}")
    };
    let mut out = format!("{scheme}://{address}{path}");
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    let mut any = false;
    for (name, values) in params {
        for v in values {
            query.append_pair(name, v);
            any = true;
        }
    }
    if any {
        out.push(if path.contains('?') { '&' } else { '?' });
        out.push_str(&query.finish());
    }
    out
}

/// A duration as Prometheus prints one (`15s`, `1m`, `1m30s`, `500ms`).
pub(crate) fn prom_duration(d: Duration) -> String {
    let mut ms = d.as_millis() as u64;
    if ms == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    for (unit, size) in [
        ("y", 365 * 86_400_000),
        ("w", 7 * 86_400_000),
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
        ("ms", 1),
    ] {
        if ms >= size {
            out.push_str(&format!("{}{unit}", ms / size));
            ms %= size;
        }
    }
    out
}
