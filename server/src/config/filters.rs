//! `[[retention.filters]]`: retention by selector (`docs/retention.md`).
//!
//! ```toml
//! [[retention.filters]]
//! signal = "metrics"               # the only signal filters apply to so far
//! match = '{__name__=~"go_.*"}'    # a series selector, as `match[]` takes
//! keep = "3d"
//! ```

use serde::Deserialize;
use strata_engine::RetentionFilter;

use super::parse_duration;
use crate::error::{Error, Result};

/// One `[[retention.filters]]` table as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FilterEntry {
    pub(crate) signal: Option<String>,
    #[serde(rename = "match")]
    pub(crate) selector: Option<String>,
    #[serde(rename = "where")]
    pub(crate) predicate: Option<String>,
    pub(crate) keep: Option<String>,
}

/// The engine's filters for `entries`, each named by its selector.
pub(crate) fn resolve(entries: &[FilterEntry]) -> Result<Vec<RetentionFilter>> {
    entries
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let key = |k: &str| format!("retention.filters[{i}].{k}");
            match e.signal.as_deref().unwrap_or("metrics") {
                "metrics" => {}
                "logs" | "traces" => {
                    return Err(Error::config(
                        key("signal"),
                        "filters apply to metrics only so far (logs and traces keep their retention)",
                    ));
                }
                other => {
                    return Err(Error::config(
                        key("signal"),
                        format!("{other:?} is not \"metrics\""),
                    ));
                }
            }
            if e.predicate.is_some() {
                return Err(Error::config(
                    key("where"),
                    "a metrics filter takes `match`, a series selector",
                ));
            }
            let selector = e
                .selector
                .as_deref()
                .ok_or_else(|| Error::config(key("match"), "required: a series selector"))?;
            let matchers = strata_query::prom_api::series_selectors(&[selector.to_owned()])
                .map_err(|err| Error::config(key("match"), err.to_string()))?
                .into_iter()
                .next()
                .unwrap_or_default();
            let keep = e
                .keep
                .as_deref()
                .ok_or_else(|| Error::config(key("keep"), "required: how long to keep"))?;
            Ok(RetentionFilter {
                name: selector.to_owned(),
                matchers,
                keep: parse_duration(&key("keep"), keep)?,
            })
        })
        .collect()
}
