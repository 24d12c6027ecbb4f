//! From `[rules]` to rule files: each tenant's patterns expanded (relative ones from the
//! config file's directory) and every file loaded and checked.

use std::path::{Path, PathBuf};

use strata_engine::TenantId;

use super::error::RulesError;
use super::file::{self, Lang, RuleFile};
use crate::config::rules::RulesSettings;

/// Every rule file of every tenant, checked; all problems found, or the files.
pub fn load_files(settings: &RulesSettings) -> Result<Vec<(TenantId, RuleFile)>, RulesError> {
    let mut out = Vec::new();
    let mut problems: Vec<String> = Vec::new();
    for (tenant, t) in &settings.tenants {
        for (patterns, lang) in [(&t.files, Lang::Promql), (&t.logql_files, Lang::Logql)] {
            let mut paths = Vec::new();
            for p in patterns {
                match expand(&settings.base_dir, p) {
                    Ok(found) => paths.extend(found),
                    Err(e) => problems.push(e.to_string()),
                }
            }
            paths.sort();
            paths.dedup();
            for path in paths {
                match file::load(&path, lang) {
                    Ok(f) => out.push((tenant.clone(), f)),
                    Err(e) => problems.push(e.to_string()),
                }
            }
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(RulesError::Config(problems.join("\n")))
    }
}

/// The files `pattern` names. A pattern without glob characters must name a file; a glob
/// may match nothing (a directory of rule files not written yet).
pub fn expand(base: &Path, pattern: &str) -> Result<Vec<PathBuf>, RulesError> {
    let full = base.join(pattern);
    let text = full.to_string_lossy().into_owned();
    let is_glob = pattern.contains(['*', '?', '[']);
    if !is_glob {
        if !full.is_file() {
            return Err(RulesError::Read {
                path: full,
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
            });
        }
        return Ok(vec![full]);
    }
    let paths = glob::glob(&text).map_err(|e| RulesError::Pattern {
        pattern: pattern.to_owned(),
        reason: e.to_string(),
    })?;
    let mut out = Vec::new();
    for p in paths {
        let p = p.map_err(|e| RulesError::Pattern {
            pattern: pattern.to_owned(),
            reason: e.to_string(),
        })?;
        if p.is_file() {
            out.push(p);
        }
    }
    if out.is_empty() {
        tracing::warn!(pattern, "no rule file matches this pattern");
    }
    Ok(out)
}
