//! The rules of every tenant and signal (`[relabel]`), compiled once at start, and their
//! application to what ingest writes: metric series before the engine sees them (so before
//! the series caps), span and log record attributes before they are stored.

use std::collections::HashMap;
use std::sync::Arc;

use strata_engine::{
    AnyValue, Attributes, KeyedSeries, LogRecord, SeriesSamples, SpanRecord, TenantId,
};

use super::{
    AttrText, AttributeRuleConfig, AttributeRules, Outcome, Relabel, RelabelError, RuleConfig,
};

/// The rules of one tenant, or the defaults, as configured.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SignalRules {
    /// Prometheus `relabel_configs` over metric series.
    pub metrics: Vec<RuleConfig>,
    /// Attribute rules over spans (their, their resource's, events' and links' attributes).
    pub traces: Vec<AttributeRuleConfig>,
    /// Attribute rules over log records (their and their resource's attributes).
    pub logs: Vec<AttributeRuleConfig>,
}

/// A tenant's rules per signal: `Some` replaces the default rules of that signal.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TenantOverrides {
    /// Over metric series.
    pub metrics: Option<Vec<RuleConfig>>,
    /// Over spans.
    pub traces: Option<Vec<AttributeRuleConfig>>,
    /// Over log records.
    pub logs: Option<Vec<AttributeRuleConfig>>,
}

/// `[relabel]` resolved: the defaults and each tenant's replacements (a tenant that lists
/// rules for a signal has those instead of the defaults for that signal).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RelabelSettings {
    /// Every tenant's rules unless it has its own.
    pub default: SignalRules,
    /// Per tenant, per signal: `Some` replaces the default rules of that signal.
    pub tenants: Vec<(TenantId, TenantOverrides)>,
    /// The key of `hash` rules (`hash_key_file`; else made at first start under the data
    /// directory).
    pub hash_key_file: Option<std::path::PathBuf>,
}

impl RelabelSettings {
    /// Whether any rule hashes (so a key is needed).
    pub fn hashes(&self) -> bool {
        let hashes =
            |r: &[AttributeRuleConfig]| r.iter().any(|c| c.action.eq_ignore_ascii_case("hash"));
        hashes(&self.default.traces)
            || hashes(&self.default.logs)
            || self.tenants.iter().any(|(_, o)| {
                o.traces.as_deref().is_some_and(hashes) || o.logs.as_deref().is_some_and(hashes)
            })
    }

    /// Whether there is no rule at all.
    pub fn is_empty(&self) -> bool {
        self.default == SignalRules::default() && self.tenants.is_empty()
    }
}

/// One tenant's compiled rules.
#[derive(Debug, Clone)]
pub struct TenantRules {
    /// Over metric series.
    pub metrics: Relabel,
    /// Over spans.
    pub traces: AttributeRules,
    /// Over log records.
    pub logs: AttributeRules,
}

/// Every tenant's compiled rules.
#[derive(Debug, Clone)]
pub struct Relabeling {
    default: Arc<TenantRules>,
    tenants: HashMap<TenantId, Arc<TenantRules>>,
}

impl Relabeling {
    /// Compiles `settings` with `hash_key` (at least 16 bytes when a rule hashes).
    pub fn compile(settings: &RelabelSettings, hash_key: &[u8]) -> Result<Self, RelabelError> {
        let d = &settings.default;
        let default = Arc::new(TenantRules {
            metrics: Relabel::new(&d.metrics)?,
            traces: AttributeRules::new(&d.traces, hash_key)?,
            logs: AttributeRules::new(&d.logs, hash_key)?,
        });
        let mut tenants = HashMap::new();
        for (t, o) in &settings.tenants {
            let rules = TenantRules {
                metrics: match &o.metrics {
                    Some(m) => Relabel::new(m)?,
                    None => default.metrics.clone(),
                },
                traces: match &o.traces {
                    Some(r) => AttributeRules::new(r, hash_key)?,
                    None => default.traces.clone(),
                },
                logs: match &o.logs {
                    Some(r) => AttributeRules::new(r, hash_key)?,
                    None => default.logs.clone(),
                },
            };
            tenants.insert(t.clone(), Arc::new(rules));
        }
        Ok(Self { default, tenants })
    }

    /// `tenant`'s rules.
    pub fn for_tenant(&self, tenant: &TenantId) -> &TenantRules {
        self.tenants.get(tenant).unwrap_or(&self.default)
    }
}

/// What rules did to one write: per rule (index into its list), how many samples (metrics)
/// or attributes (spans, logs) they dropped or changed.
pub type RuleCounts = Vec<(usize, u64)>;

fn bump(counts: &mut RuleCounts, rule: usize, n: u64) {
    match counts.iter_mut().find(|(r, _)| *r == rule) {
        Some((_, c)) => *c += n,
        None => counts.push((rule, n)),
    }
}

/// Calls `write` with `series` after `rules`: the series the engine does not know by key
/// get their labels rewritten (a known key is the rewritten series already: its labels were
/// rewritten when it was first written), and dropped series are left out. Returns what
/// `write` returned (`None` when nothing is left to write) and the samples each rule
/// dropped.
pub fn keyed<R>(
    rules: &Relabel,
    series: &[KeyedSeries<'_>],
    write: impl FnOnce(&[KeyedSeries<'_>]) -> R,
) -> (Option<R>, RuleCounts) {
    let mut dropped = RuleCounts::new();
    // Every series known by its key (the steady state of a sender): nothing to rewrite.
    if rules.is_empty() || series.iter().all(|s| s.known.is_some()) {
        return ((!series.is_empty()).then(|| write(series)), dropped);
    }
    // Rewritten labels, owned; then the batch borrowing them.
    let mut owned: Vec<Option<Vec<(String, String)>>> = Vec::with_capacity(series.len());
    for s in series {
        if s.known.is_some() {
            owned.push(None);
            continue;
        }
        let mut labels: Vec<(String, String)> = s
            .labels
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect();
        match rules.apply(&mut labels) {
            Outcome::Kept => owned.push(Some(labels)),
            Outcome::Dropped { rule } => {
                let n = s.samples.len() + s.histograms.len();
                bump(&mut dropped, rule, n as u64);
                owned.push(Some(Vec::new()));
            }
        }
    }
    let refs: Vec<Vec<(&str, &str)>> = owned
        .iter()
        .map(|o| {
            o.as_ref()
                .map(|l| l.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect())
                .unwrap_or_default()
        })
        .collect();
    let kept: Vec<KeyedSeries<'_>> = series
        .iter()
        .zip(owned.iter().zip(&refs))
        .filter_map(|(s, (o, r))| match o {
            None => Some(*s),
            Some(l) if l.is_empty() => None,
            Some(_) => Some(KeyedSeries {
                key: s.key,
                // Remembered by the key it was sent with: its labels are rewritten.
                by_symbols: false,
                known: None,
                labels: r,
                samples: s.samples,
                histograms: s.histograms,
                sample_starts: s.sample_starts,
                histogram_starts: s.histogram_starts,
            }),
        })
        .collect();
    ((!kept.is_empty()).then(|| write(&kept)), dropped)
}

/// `rules` over owned series: labels rewritten in place, dropped series removed.
pub fn owned(rules: &Relabel, series: &mut Vec<SeriesSamples>) -> RuleCounts {
    let mut dropped = RuleCounts::new();
    if rules.is_empty() {
        return dropped;
    }
    series.retain_mut(|s| match rules.apply(&mut s.labels) {
        Outcome::Kept => true,
        Outcome::Dropped { rule } => {
            bump(&mut dropped, rule, s.samples.len() as u64);
            false
        }
    });
    dropped
}

/// [`owned`] for native histogram series.
pub fn owned_histograms(
    rules: &Relabel,
    series: &mut Vec<strata_engine::SeriesHistograms>,
) -> RuleCounts {
    let mut dropped = RuleCounts::new();
    if rules.is_empty() {
        return dropped;
    }
    series.retain_mut(|s| match rules.apply(&mut s.labels) {
        Outcome::Kept => true,
        Outcome::Dropped { rule } => {
            bump(&mut dropped, rule, s.histograms.len() as u64);
            false
        }
    });
    dropped
}

impl AttrText for AnyValue {
    fn text(&self) -> Option<std::borrow::Cow<'_, str>> {
        match self {
            AnyValue::String(s) => Some(std::borrow::Cow::Borrowed(s)),
            AnyValue::Int(i) => Some(i.to_string().into()),
            AnyValue::Double(d) => Some(d.to_string().into()),
            AnyValue::Bool(b) => Some(b.to_string().into()),
            _ => None,
        }
    }

    fn set_text(&mut self, s: &str) {
        *self = AnyValue::String(s.to_owned());
    }
}

/// Applies `rules` to a list of attributes and to each distinct resource's (a resource
/// shared by many records is rewritten once).
struct Pass<'a> {
    rules: &'a AttributeRules,
    counts: RuleCounts,
    /// By the address of a resource seen: it (kept alive, so the address stays its own)
    /// and its rewritten copy.
    resources: HashMap<usize, (Arc<Attributes>, Arc<Attributes>)>,
}

impl<'a> Pass<'a> {
    fn new(rules: &'a AttributeRules) -> Self {
        Self {
            rules,
            counts: RuleCounts::new(),
            resources: HashMap::new(),
        }
    }

    fn attrs(&mut self, attrs: &mut Attributes) {
        let counts = &mut self.counts;
        self.rules
            .apply(attrs, |rule, n| bump(counts, rule, u64::from(n)));
    }

    fn resource(&mut self, res: &mut Arc<Attributes>) {
        let key = Arc::as_ptr(res) as usize;
        if let Some((_, done)) = self.resources.get(&key) {
            *res = done.clone();
            return;
        }
        let mut copy = Attributes::clone(res);
        self.attrs(&mut copy);
        let done = Arc::new(copy);
        let original = std::mem::replace(res, done.clone());
        self.resources.insert(key, (original, done));
    }
}

/// `rules` over spans: their attributes, their resource's, and their events' and links'.
pub fn spans(rules: &AttributeRules, spans: &mut [SpanRecord]) -> RuleCounts {
    if rules.is_empty() {
        return RuleCounts::new();
    }
    let mut pass = Pass::new(rules);
    for s in spans {
        pass.attrs(&mut s.attributes);
        pass.resource(&mut s.resource_attributes);
        for e in &mut s.events {
            pass.attrs(&mut e.attributes);
        }
        for l in &mut s.links {
            pass.attrs(&mut l.attributes);
        }
    }
    pass.counts
}

/// `rules` over log records: their attributes and their resource's.
pub fn logs(rules: &AttributeRules, logs: &mut [LogRecord]) -> RuleCounts {
    if rules.is_empty() {
        return RuleCounts::new();
    }
    let mut pass = Pass::new(rules);
    for l in logs {
        pass.attrs(&mut l.attributes);
        pass.resource(&mut l.resource_attributes);
    }
    pass.counts
}
