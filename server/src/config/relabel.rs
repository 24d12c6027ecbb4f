//! `[relabel]`: ingest-time rules per signal, defaults and per-tenant replacements
//! (`docs/relabeling.md`); checked here, compiled at start (`crate::relabel`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;
use strata_engine::TenantId;

use crate::error::{Error, Result};
use crate::relabel::{
    AttributeRuleConfig, RelabelSettings, Relabeling, RuleConfig, SignalRules, TenantOverrides,
};

/// `[relabel]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RelabelSection {
    hash_key_file: Option<PathBuf>,
    #[serde(default)]
    metrics: Vec<RuleConfig>,
    #[serde(default)]
    traces: Vec<AttributeRuleConfig>,
    #[serde(default)]
    logs: Vec<AttributeRuleConfig>,
    #[serde(default)]
    tenants: BTreeMap<String, TenantSection>,
}

/// `[relabel.tenants.<id>]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TenantSection {
    metrics: Option<Vec<RuleConfig>>,
    traces: Option<Vec<AttributeRuleConfig>>,
    logs: Option<Vec<AttributeRuleConfig>>,
}

/// Checks every rule (compiled with a stand-in hash key; the real one is read at start).
pub(crate) fn resolve(s: RelabelSection) -> Result<RelabelSettings> {
    let mut out = RelabelSettings {
        default: SignalRules {
            metrics: s.metrics,
            traces: s.traces,
            logs: s.logs,
        },
        tenants: Vec::new(),
        hash_key_file: s.hash_key_file,
    };
    for (name, t) in s.tenants {
        let key = format!("relabel.tenants.{name}");
        let id = TenantId::new(&name).map_err(|e| Error::config(&key, e.to_string()))?;
        out.tenants.push((
            id,
            TenantOverrides {
                metrics: t.metrics,
                traces: t.traces,
                logs: t.logs,
            },
        ));
    }
    let stand_in = [0u8; 32];
    Relabeling::compile(&out, &stand_in).map_err(|e| Error::config("relabel", e.to_string()))?;
    Ok(out)
}
