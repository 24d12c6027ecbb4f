//! `[tempo]`: bounds of the Tempo query API (`server/src/api/tempo/`, `docs/traces-api.md`).

use std::time::Duration;

use serde::Deserialize;

use crate::error::{Error, Result};

/// Tempo's own default for `query_frontend.max_query_expression_size_bytes` (128 KiB).
pub(crate) const DEFAULT_MAX_TRACEQL_LENGTH: usize = 128 * 1024;

/// Tempo's default for `query_frontend.search.max_duration` (a week).
pub(crate) const DEFAULT_MAX_SEARCH_DURATION: Duration = Duration::from_secs(168 * 3_600);

/// `[tempo]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TempoSection {
    max_traceql_length: Option<usize>,
    max_search_duration: Option<String>,
}

/// The resolved `[tempo]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TempoSettings {
    /// `max_traceql_length`: the longest TraceQL text (bytes) `/api/search`, the tag
    /// lookups' `q` and `/api/metrics/*` take; a longer one is a 400.
    pub max_traceql_length: usize,
    /// `max_search_duration`: the longest `end - start` `/api/search` takes (a longer one
    /// is a 400, as Tempo's `query_frontend.search.max_duration`); zero: no limit.
    pub max_search_duration: Duration,
}

impl Default for TempoSettings {
    fn default() -> Self {
        Self {
            max_traceql_length: DEFAULT_MAX_TRACEQL_LENGTH,
            max_search_duration: DEFAULT_MAX_SEARCH_DURATION,
        }
    }
}

/// The settings of `section`, checked.
pub(crate) fn resolve(section: TempoSection) -> Result<TempoSettings> {
    let mut s = TempoSettings::default();
    if let Some(n) = section.max_traceql_length {
        if n == 0 {
            return Err(Error::config(
                "tempo.max_traceql_length",
                "must be positive",
            ));
        }
        s.max_traceql_length = n;
    }
    if let Some(d) = &section.max_search_duration {
        s.max_search_duration = super::parse_duration("tempo.max_search_duration", d)?;
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_to_tempos_limit_and_refuses_zero() {
        let s = resolve(TempoSection::default()).expect("default");
        assert_eq!(s.max_traceql_length, 131_072);
        let s = resolve(TempoSection {
            max_traceql_length: Some(10),
            max_search_duration: Some("2h".into()),
        })
        .expect("set");
        assert_eq!(s.max_traceql_length, 10);
        assert_eq!(s.max_search_duration, Duration::from_secs(7_200));
        assert_eq!(
            resolve(TempoSection::default())
                .expect("default")
                .max_search_duration,
            Duration::from_secs(168 * 3_600)
        );
        assert!(
            resolve(TempoSection {
                max_traceql_length: Some(0),
                max_search_duration: None,
            })
            .is_err()
        );
        assert!(
            resolve(TempoSection {
                max_traceql_length: None,
                max_search_duration: Some("a while".into()),
            })
            .is_err()
        );
    }
}
