//! `[derived]`: RED metrics and the service graph computed from spans at ingest
//! (`crate::derive`, `docs/traces-api.md`), a default for every tenant and
//! `[derived.tenants.<id>]` overrides (each key given replaces the default's).
//!
//! The defaults are those of Tempo's metrics-generator (`modules/generator/registry/config.go`:
//! `collection_interval` 15s, `stale_duration` 15m; `processor/servicegraphs/config.go`:
//! `wait` 10s, `max_items` 10,000, the peer attributes).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use strata_engine::TenantId;

use super::parse_duration;
use crate::error::{Error, Result};

/// Default `collection_interval` (Tempo's registry default).
pub(crate) const DEFAULT_COLLECTION_INTERVAL: Duration = Duration::from_secs(15);
/// Default `stale_duration` (Tempo's registry default).
pub(crate) const DEFAULT_STALE_DURATION: Duration = Duration::from_secs(15 * 60);
/// Default `service_graph_wait` (Tempo's service-graphs `wait`).
pub(crate) const DEFAULT_SERVICE_GRAPH_WAIT: Duration = Duration::from_secs(10);
/// Default `service_graph_max_items` (Tempo's service-graphs `max_items`).
pub(crate) const DEFAULT_SERVICE_GRAPH_MAX_ITEMS: usize = 10_000;
/// Default `max_span_names_per_service`.
pub(crate) const DEFAULT_MAX_SPAN_NAMES: usize = 500;

/// `[derived]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DerivedSection {
    collection_interval: Option<String>,
    stale_duration: Option<String>,
    service_graph_wait: Option<String>,
    enabled: Option<bool>,
    dimensions: Option<Vec<String>>,
    max_span_names_per_service: Option<usize>,
    service_graph_max_items: Option<usize>,
    #[serde(default)]
    tenants: BTreeMap<String, TenantValues>,
}

/// The keys a tenant may override, as written.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct TenantValues {
    enabled: Option<bool>,
    dimensions: Option<Vec<String>>,
    max_span_names_per_service: Option<usize>,
    service_graph_max_items: Option<usize>,
}

/// The resolved `[derived]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DerivedSettings {
    /// How often the in-memory counters are written as samples (`collection_interval`).
    pub collection_interval: Duration,
    /// A series with no span for this long is no longer written (`stale_duration`).
    pub stale_duration: Duration,
    /// How long half an edge waits for the other half (`service_graph_wait`).
    pub service_graph_wait: Duration,
    /// Every tenant's settings, unless overridden.
    pub default: TenantDerived,
    /// Per-tenant settings (the default with the tenant's keys applied).
    pub tenants: BTreeMap<TenantId, TenantDerived>,
}

/// One tenant's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantDerived {
    /// Whether RED metrics and the service graph are computed (`enabled`, default true).
    pub enabled: bool,
    /// Extra span-metrics dimensions: attribute keys looked up in the resource, then the
    /// span (`dimensions`).
    pub dimensions: Vec<String>,
    /// Distinct span names per service before new names collapse
    /// (`max_span_names_per_service`).
    pub max_span_names_per_service: usize,
    /// Half edges waiting for their other half, at most (`service_graph_max_items`).
    pub service_graph_max_items: usize,
}

impl Default for TenantDerived {
    fn default() -> Self {
        Self {
            enabled: true,
            dimensions: Vec::new(),
            max_span_names_per_service: DEFAULT_MAX_SPAN_NAMES,
            service_graph_max_items: DEFAULT_SERVICE_GRAPH_MAX_ITEMS,
        }
    }
}

impl Default for DerivedSettings {
    fn default() -> Self {
        Self {
            collection_interval: DEFAULT_COLLECTION_INTERVAL,
            stale_duration: DEFAULT_STALE_DURATION,
            service_graph_wait: DEFAULT_SERVICE_GRAPH_WAIT,
            default: TenantDerived::default(),
            tenants: BTreeMap::new(),
        }
    }
}

impl DerivedSettings {
    /// `tenant`'s settings.
    pub fn for_tenant(&self, tenant: &TenantId) -> &TenantDerived {
        self.tenants.get(tenant).unwrap_or(&self.default)
    }
}

/// Applies `v` over `base`, checking each key (named under `prefix`).
fn apply(prefix: &str, base: &TenantDerived, v: TenantValues) -> Result<TenantDerived> {
    let mut out = base.clone();
    if let Some(e) = v.enabled {
        out.enabled = e;
    }
    if let Some(dims) = v.dimensions {
        for d in &dims {
            if d.is_empty() {
                return Err(Error::config(
                    format!("{prefix}.dimensions"),
                    "an attribute key must not be empty",
                ));
            }
        }
        out.dimensions = dims;
    }
    if let Some(n) = v.max_span_names_per_service {
        if n == 0 {
            return Err(Error::config(
                format!("{prefix}.max_span_names_per_service"),
                "must be at least 1",
            ));
        }
        out.max_span_names_per_service = n;
    }
    if let Some(n) = v.service_graph_max_items {
        if n == 0 {
            return Err(Error::config(
                format!("{prefix}.service_graph_max_items"),
                "must be at least 1",
            ));
        }
        out.service_graph_max_items = n;
    }
    Ok(out)
}

/// Checks and resolves the section.
pub(crate) fn resolve(s: DerivedSection) -> Result<DerivedSettings> {
    let positive = |key: &str, text: &Option<String>, default: Duration| -> Result<Duration> {
        let Some(t) = text else {
            return Ok(default);
        };
        let d = parse_duration(key, t)?;
        if d < Duration::from_millis(10) {
            return Err(Error::config(key, "must be at least 10ms"));
        }
        Ok(d)
    };
    let mut out = DerivedSettings {
        collection_interval: positive(
            "derived.collection_interval",
            &s.collection_interval,
            DEFAULT_COLLECTION_INTERVAL,
        )?,
        stale_duration: positive(
            "derived.stale_duration",
            &s.stale_duration,
            DEFAULT_STALE_DURATION,
        )?,
        service_graph_wait: positive(
            "derived.service_graph_wait",
            &s.service_graph_wait,
            DEFAULT_SERVICE_GRAPH_WAIT,
        )?,
        default: TenantDerived::default(),
        tenants: BTreeMap::new(),
    };
    let values = TenantValues {
        enabled: s.enabled,
        dimensions: s.dimensions,
        max_span_names_per_service: s.max_span_names_per_service,
        service_graph_max_items: s.service_graph_max_items,
    };
    out.default = apply("derived", &TenantDerived::default(), values)?;
    for (name, v) in s.tenants {
        let key = format!("derived.tenants.{name}");
        let id = TenantId::new(&name).map_err(|e| Error::config(&key, e.to_string()))?;
        let t = apply(&key, &out.default, v)?;
        out.tenants.insert(id, t);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<DerivedSettings> {
        let s: DerivedSection =
            toml::from_str(text).map_err(|e| Error::config("derived", e.to_string()))?;
        resolve(s)
    }

    #[test]
    fn defaults_are_tempos_and_tenants_override_single_keys() {
        let d = parse("").unwrap();
        assert_eq!(d.collection_interval, Duration::from_secs(15));
        assert_eq!(d.stale_duration, Duration::from_secs(900));
        assert_eq!(d.service_graph_wait, Duration::from_secs(10));
        assert!(d.default.enabled);
        assert_eq!(d.default.service_graph_max_items, 10_000);
        let d = parse(
            "dimensions = [\"http.method\"]\nmax_span_names_per_service = 7\n\
             [tenants.acme]\nenabled = false\n",
        )
        .unwrap();
        let acme = d.for_tenant(&TenantId::new("acme").unwrap());
        assert!(!acme.enabled);
        assert_eq!(acme.dimensions, vec!["http.method".to_owned()]);
        assert_eq!(acme.max_span_names_per_service, 7);
        assert!(d.for_tenant(&TenantId::new("other").unwrap()).enabled);
    }

    #[test]
    fn bad_values_name_their_key() {
        for (text, key) in [
            (
                "max_span_names_per_service = 0",
                "derived.max_span_names_per_service",
            ),
            (
                "collection_interval = \"1ms\"",
                "derived.collection_interval",
            ),
            (
                "[tenants.a]\ndimensions = [\"\"]",
                "derived.tenants.a.dimensions",
            ),
            (
                "[tenants.a]\nservice_graph_max_items = 0",
                "derived.tenants.a.service_graph_max_items",
            ),
        ] {
            let e = parse(text).unwrap_err().to_string();
            assert!(e.contains(key), "{text}: {e}");
        }
        assert!(parse("bogus = 1").is_err());
    }
}
