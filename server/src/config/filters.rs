//! `[[retention.filters]]`: retention by selector (`docs/retention.md`).
//!
//! ```toml
//! [[retention.filters]]
//! match = '{__name__=~"go_.*"}'    # metrics (the default signal): a series selector
//! keep = "3d"
//!
//! [[retention.filters]]
//! signal = "logs"                  # or "traces"
//! where = "severity_text = 'DEBUG'"  # as a delete's predicate: field = 'value' AND ...
//! keep = "1d"
//! ```

use serde::Deserialize;
use strata_engine::{FilterTarget, RecordPredicate, RecordSignal, RetentionFilter};

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

/// The engine's filters for `entries`, each named by its selector or predicate.
pub(crate) fn resolve(entries: &[FilterEntry]) -> Result<Vec<RetentionFilter>> {
    entries
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let key = |k: &str| format!("retention.filters[{i}].{k}");
            let (name, target) = match e.signal.as_deref().unwrap_or("metrics") {
                "metrics" => {
                    if e.predicate.is_some() {
                        return Err(Error::config(
                            key("where"),
                            "a metrics filter takes `match`, a series selector",
                        ));
                    }
                    let selector = e.selector.as_deref().ok_or_else(|| {
                        Error::config(key("match"), "required: a series selector")
                    })?;
                    let matchers = strata_query::prom_api::series_selectors(&[selector.to_owned()])
                        .map_err(|err| Error::config(key("match"), err.to_string()))?
                        .into_iter()
                        .next()
                        .unwrap_or_default();
                    (selector, FilterTarget::Series(matchers))
                }
                signal @ ("logs" | "traces") => {
                    if e.selector.is_some() {
                        return Err(Error::config(
                            key("match"),
                            "a logs or traces filter takes `where`, a predicate",
                        ));
                    }
                    let text = e.predicate.as_deref().ok_or_else(|| {
                        Error::config(
                            key("where"),
                            "required: a predicate (field = 'value' AND ...)",
                        )
                    })?;
                    let pred = RecordPredicate::parse(text, i64::MIN, i64::MAX)
                        .map_err(|err| Error::config(key("where"), err.to_string()))?;
                    let rs = if signal == "logs" {
                        RecordSignal::Logs
                    } else {
                        RecordSignal::Spans
                    };
                    (text, FilterTarget::Records(rs, pred))
                }
                other => {
                    return Err(Error::config(
                        key("signal"),
                        format!("{other:?} is not \"metrics\", \"logs\" or \"traces\""),
                    ));
                }
            };
            let keep = e
                .keep
                .as_deref()
                .ok_or_else(|| Error::config(key("keep"), "required: how long to keep"))?;
            Ok(RetentionFilter {
                name: name.to_owned(),
                target,
                keep: parse_duration(&key("keep"), keep)?,
            })
        })
        .collect()
}
