//! The parameters of Loki's query endpoints, parsed as Loki parses them: times as Unix
//! nanoseconds (or seconds when ten digits or fewer), float seconds or RFC 3339; `step`
//! and `interval` as float seconds or a duration; `limit`, `direction`.

use strata_query::logql::Direction;

use crate::http::error::ApiError;

/// Loki's bound on the points of one series in a range query.
pub(crate) const MAX_POINTS: i64 = 11_000;
const NS_PER_S: i64 = 1_000_000_000;

/// The parameters of one request, first value of each name wins.
pub(crate) struct Params<'a>(pub(crate) &'a [(String, String)]);

impl Params<'_> {
    /// The first non-empty value of `name`.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `name` (`match[]` may repeat).
    pub(crate) fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// A time parameter, or `default`.
    pub(crate) fn time(&self, name: &str, default: i64) -> Result<i64, ApiError> {
        self.get(name).map_or(Ok(default), |v| parse_time(name, v))
    }

    /// `start` and `end` (defaults: an hour before `end`, and `now`), checked in order;
    /// `since` (a duration) moves the default start.
    pub(crate) fn range(&self, now_ns: i64) -> Result<(i64, i64), ApiError> {
        let end = self.time("end", now_ns)?;
        let since = self.duration("since")?.unwrap_or(3_600 * NS_PER_S);
        let start = self.time("start", end.min(now_ns).saturating_sub(since))?;
        if end < start {
            return Err(ApiError::BadRequest(
                "end timestamp must not be before or equal to start time".into(),
            ));
        }
        Ok((start, end))
    }

    /// `limit` (default 100).
    pub(crate) fn limit(&self, default: usize) -> Result<usize, ApiError> {
        match self.get("limit") {
            None => Ok(default),
            Some(v) => match v.parse::<usize>() {
                Ok(0) | Err(_) => Err(ApiError::BadRequest(
                    "limit must be a positive value".into(),
                )),
                Ok(n) => Ok(n),
            },
        }
    }

    /// `direction` (default backward).
    pub(crate) fn direction(&self) -> Result<Direction, ApiError> {
        match self
            .get("direction")
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("backward") => Ok(Direction::Backward),
            Some("forward") => Ok(Direction::Forward),
            Some(other) => Err(ApiError::BadRequest(format!("invalid direction '{other}'"))),
        }
    }

    /// A duration parameter (`step`, `interval`) in nanoseconds.
    pub(crate) fn duration(&self, name: &str) -> Result<Option<i64>, ApiError> {
        self.get(name).map(|v| parse_duration(name, v)).transpose()
    }

    /// `step`, defaulting as Loki does to a 250th of the range (at least a second), and
    /// checked against Loki's 11,000 points per series.
    pub(crate) fn step(&self, start: i64, end: i64) -> Result<i64, ApiError> {
        let step = match self.duration("step")? {
            Some(s) => s,
            None => ((end - start) / 250 / NS_PER_S).max(1) * NS_PER_S,
        };
        if step <= 0 {
            return Err(ApiError::BadRequest(
                "zero or negative query resolution step widths are not accepted. Try a positive integer".into(),
            ));
        }
        if (end - start) / step > MAX_POINTS {
            return Err(ApiError::BadRequest(
                "exceeded maximum resolution of 11,000 points per time series. Try increasing the value of the step parameter".into(),
            ));
        }
        Ok(step)
    }
}

/// A Loki timestamp: an integer of at most ten digits is seconds, a longer one
/// nanoseconds; a number with a fraction is seconds; otherwise RFC 3339.
pub(crate) fn parse_time(name: &str, v: &str) -> Result<i64, ApiError> {
    let bad = || {
        ApiError::BadRequest(format!(
            "could not parse '{name}' parameter: {v:?} is not Unix nanoseconds or seconds, or RFC 3339"
        ))
    };
    if let Ok(n) = v.parse::<i64>() {
        let digits = v.trim_start_matches('-').len();
        return if digits <= 10 {
            n.checked_mul(NS_PER_S).ok_or_else(bad)
        } else {
            Ok(n)
        };
    }
    if v.contains('.')
        && let Ok(f) = v.parse::<f64>()
    {
        let ns = (f * 1e9).round();
        return if ns.is_finite() && ns.abs() < 9.2e18 {
            Ok(ns as i64)
        } else {
            Err(bad())
        };
    }
    chrono::DateTime::parse_from_rfc3339(v)
        .ok()
        .and_then(|t| t.timestamp_nanos_opt())
        .ok_or_else(bad)
}

/// A duration: float seconds (`15`, `0.5`) or a Prometheus duration (`1m30s`, `250ms`).
pub(crate) fn parse_duration(name: &str, v: &str) -> Result<i64, ApiError> {
    strata_query::prom_api::parse_duration(v)
        .map_err(|e| ApiError::BadRequest(format!("could not parse '{name}' parameter: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::params::owned as p;

    #[test]
    fn times_as_loki_reads_them() {
        assert_eq!(
            parse_time("t", "1700000000").unwrap(),
            1_700_000_000 * NS_PER_S
        );
        assert_eq!(
            parse_time("t", "1700000000123456789").unwrap(),
            1_700_000_000_123_456_789
        );
        assert_eq!(
            parse_time("t", "1700000000.5").unwrap(),
            1_700_000_000_500_000_000
        );
        assert_eq!(
            parse_time("t", "2023-11-14T22:13:20Z").unwrap(),
            1_700_000_000 * NS_PER_S
        );
        assert!(parse_time("t", "yesterday").is_err());
    }

    #[test]
    fn ranges_steps_and_defaults() {
        let now = 10_000 * NS_PER_S;
        let q = p(&[]);
        let params = Params(&q);
        assert_eq!(params.range(now).unwrap(), (now - 3_600 * NS_PER_S, now));
        assert_eq!(params.step(0, 3_600 * NS_PER_S).unwrap(), 14 * NS_PER_S);
        assert_eq!(params.limit(100).unwrap(), 100);
        assert_eq!(params.direction().unwrap(), Direction::Backward);
        let q = p(&[("step", "30s"), ("start", "20"), ("end", "10")]);
        let params = Params(&q);
        assert!(params.range(now).is_err());
        assert_eq!(params.step(0, 60 * NS_PER_S).unwrap(), 30 * NS_PER_S);
        let q = p(&[("step", "0.001")]);
        assert!(
            Params(&q).step(0, 3_600 * NS_PER_S).is_err(),
            "too many points"
        );
        let q = p(&[("direction", "sideways")]);
        assert!(Params(&q).direction().is_err());
    }
}
