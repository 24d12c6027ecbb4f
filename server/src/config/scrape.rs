//! `[scrape]`: which Prometheus configuration files' `scrape_configs` each tenant scrapes
//! (`docs/scrape.md`). A reload (SIGHUP, `POST /-/reload`) reads this section again, and
//! the Prometheus files it names.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use strata_engine::TenantId;

use crate::error::{Error, Result};

/// `[scrape]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ScrapeSection {
    files: Option<Vec<String>>,
    native_histograms: Option<bool>,
    tenants: Option<BTreeMap<String, TenantSection>>,
}

/// `[scrape.tenants.<id>]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TenantSection {
    files: Option<Vec<String>>,
}

/// The section alone, for a reload.
#[derive(Debug, Default, Deserialize)]
struct ReloadedFile {
    #[serde(default)]
    scrape: ScrapeSection,
}

/// The resolved `[scrape]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScrapeSettings {
    /// The config file, read again on reload (`None`: no file).
    pub source: Option<PathBuf>,
    /// Where relative paths start: the config file's directory.
    pub base_dir: PathBuf,
    /// Each tenant's Prometheus configuration files (`[scrape] files` is the default
    /// tenant's): their `global` and `scrape_configs` sections are read.
    pub tenants: BTreeMap<TenantId, Vec<PathBuf>>,
    /// `native_histograms`: every job scrapes native histograms (asking for the protobuf
    /// format first) unless its file says otherwise (`scrape_native_histograms`), as
    /// Prometheus 2's `--enable-feature=native-histograms`.
    pub native_histograms: bool,
}

impl Default for ScrapeSettings {
    fn default() -> Self {
        Self {
            source: None,
            base_dir: PathBuf::from("."),
            tenants: BTreeMap::new(),
            native_histograms: false,
        }
    }
}

impl ScrapeSettings {
    /// The section of the config file at `path`, read again (a reload).
    pub fn reread(path: &Path) -> Result<Self> {
        let file: ReloadedFile = super::sections_of(path, &["scrape"])?
            .try_into()
            .map_err(|e: toml::de::Error| Error::config("", e.to_string()).in_file(path))?;
        let mut s = resolve(file.scrape)?;
        s.set_source(path);
        Ok(s)
    }

    /// Records `path` as the config file: reloads read it, and relative paths start from
    /// its directory.
    pub(crate) fn set_source(&mut self, path: &Path) {
        self.source = Some(path.to_owned());
        self.base_dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
            _ => PathBuf::from("."),
        };
    }

    /// `file` as read: relative to the config file's directory unless absolute.
    pub fn path_of(&self, file: &Path) -> PathBuf {
        if file.is_absolute() {
            file.to_owned()
        } else {
            self.base_dir.join(file)
        }
    }
}

/// Checks and resolves the section.
pub(crate) fn resolve(section: ScrapeSection) -> Result<ScrapeSettings> {
    let mut s = ScrapeSettings {
        native_histograms: section.native_histograms.unwrap_or(false),
        ..ScrapeSettings::default()
    };
    let files = |list: Option<Vec<String>>, key: &str| -> Result<Vec<PathBuf>> {
        let list = list.unwrap_or_default();
        if list.iter().any(|f| f.trim().is_empty()) {
            return Err(Error::config(key, "a file name is empty"));
        }
        Ok(list.into_iter().map(PathBuf::from).collect())
    };
    let default = files(section.files, "scrape.files")?;
    if !default.is_empty() {
        s.tenants.insert(TenantId::default_tenant(), default);
    }
    for (name, t) in section.tenants.unwrap_or_default() {
        let key = format!("scrape.tenants.{name}");
        let id = TenantId::new(&name).map_err(|e| Error::config(&key, e.to_string()))?;
        if s.tenants.contains_key(&id) {
            return Err(Error::config(
                key,
                "the default tenant's files are [scrape] files; list them there only",
            ));
        }
        let list = files(t.files, &format!("{key}.files"))?;
        if !list.is_empty() {
            s.tenants.insert(id, list);
        }
    }
    Ok(s)
}
