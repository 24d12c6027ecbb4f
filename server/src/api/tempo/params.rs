//! Query parameters as Tempo reads them (`pkg/api/http.go`): times in Unix seconds (the
//! metrics endpoints also take nanoseconds, fractional seconds and RFC 3339), Go durations
//! (`minDuration=1.5s`), Prometheus durations (`since=15m`), and positive integers.

use super::{Error, bad};

/// The parameters of a request, in order.
pub(crate) struct Params(Vec<(String, String)>);

impl Params {
    /// The parameters of a raw query string.
    pub(crate) fn parse(raw: Option<&str>) -> Result<Self, Error> {
        serde_urlencoded::from_str(raw.unwrap_or(""))
            .map(Self)
            .map_err(|e| bad(format!("malformed query string: {e}")))
    }

    /// The first non-empty value of `name`.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    /// `name` as a positive integer, if given.
    pub(crate) fn positive(&self, name: &str) -> Result<Option<usize>, Error> {
        let Some(text) = self.get(name) else {
            return Ok(None);
        };
        match text.trim().parse::<usize>() {
            Ok(0) => Err(bad(format!("invalid {name}: must be a positive number"))),
            Ok(n) => Ok(Some(n)),
            Err(_) => Err(bad(format!(
                "invalid {name} {text:?}: not a positive integer"
            ))),
        }
    }

    /// `name` in whole Unix seconds, as nanoseconds.
    pub(crate) fn seconds(&self, name: &str) -> Result<Option<i64>, Error> {
        self.get(name)
            .map(|t| {
                t.trim()
                    .parse::<u32>()
                    .map(|s| i64::from(s) * NS_PER_S)
                    .map_err(|_| bad(format!("invalid {name} {t:?}: Unix seconds")))
            })
            .transpose()
    }

    /// The `[start, end]` range (ns, both inclusive) of a search, a tag lookup or a trace by
    /// id: `start`/`end` in Unix seconds, the end second included whole; without them the
    /// last `default_ns` before `now_ns`.
    pub(crate) fn range(&self, now_ns: i64, default_ns: i64) -> Result<(i64, i64), Error> {
        let start = self.seconds("start")?.filter(|&s| s > 0);
        let end = self.seconds("end")?.filter(|&e| e > 0);
        let end_ns = end.map_or(now_ns, |e| e + NS_PER_S - 1);
        let start_ns = start.unwrap_or(end_ns - default_ns);
        if let (Some(s), Some(e)) = (start, end)
            && e <= s
        {
            return Err(bad(format!(
                "http parameter start must be before end. received start={} end={}",
                s / NS_PER_S,
                e / NS_PER_S
            )));
        }
        Ok((start_ns, end_ns))
    }

    /// The `[start, end]` (ns) of a metrics query: `start`/`end` as [`timestamp`]s, or
    /// `since` before `end` (default: the last hour).
    pub(crate) fn metrics_range(&self, now_ns: i64) -> Result<(i64, i64), Error> {
        let end_ns = match self.get("end") {
            Some(t) => {
                timestamp(t).map_err(|e| bad(format!("could not parse 'end' parameter: {e}")))?
            }
            None => now_ns,
        };
        let since = match self.get("since") {
            Some(t) => duration_ns(t)
                .map_err(|e| bad(format!("could not parse 'since' parameter: {e}")))?,
            None => 3_600 * NS_PER_S,
        };
        let start_ns = match self.get("start") {
            Some(t) => {
                timestamp(t).map_err(|e| bad(format!("could not parse 'start' parameter: {e}")))?
            }
            None => end_ns.min(now_ns).saturating_sub(since),
        };
        if start_ns >= end_ns {
            return Err(bad(format!(
                "invalid range: start {start_ns} ns is not before end {end_ns} ns"
            )));
        }
        Ok((start_ns, end_ns))
    }
}

/// Nanoseconds in a second.
pub(crate) const NS_PER_S: i64 = 1_000_000_000;

/// A time as Tempo's metrics API takes it: Unix seconds (up to 10 digits), Unix
/// nanoseconds (more digits), fractional seconds (`1700000000.5`) or RFC 3339; as ns.
pub(crate) fn timestamp(text: &str) -> Result<i64, String> {
    let t = text.trim();
    if t.contains('.')
        && let Ok(f) = t.parse::<f64>()
    {
        let ns = (f * 1e9).round();
        if ns.is_finite() && ns.abs() < 9.2e18 {
            return Ok(ns as i64);
        }
    }
    if let Ok(n) = t.parse::<i64>() {
        return Ok(if t.len() <= 10 {
            n.saturating_mul(NS_PER_S)
        } else {
            n
        });
    }
    chrono::DateTime::parse_from_rfc3339(t)
        .ok()
        .and_then(|d| d.timestamp_nanos_opt())
        .ok_or_else(|| format!("{text:?} is not Unix seconds, nanoseconds or RFC 3339"))
}

/// Nanoseconds of a duration with Go's units and Prometheus's `d`, `w`, `y`:
/// [`crate::http::duration`].
pub(crate) fn duration_ns(text: &str) -> Result<i64, String> {
    crate::http::duration::duration_ns(text, crate::http::duration::Units::WithDays)
}

/// A step as Tempo takes it: seconds (`15`, `0.5`) or a duration (`30s`); as ns, > 0.
pub(crate) fn step_ns(text: &str) -> Result<i64, String> {
    let ns = match text.trim().parse::<f64>() {
        Ok(s) if s.is_finite() && s.abs() < 9.2e9 => (s * 1e9) as i64,
        Ok(_) => return Err(format!("cannot parse {text:?} to a valid duration")),
        Err(_) => duration_ns(text)?,
    };
    if ns <= 0 {
        return Err(format!("cannot parse {text:?}: step must be positive"));
    }
    Ok(ns)
}

/// Tempo's default step for `[start, end]`: about 240 points, at least 1 s (50 ms steps
/// under a minute).
pub(crate) fn default_step_ns(start_ns: i64, end_ns: i64) -> i64 {
    let delta = end_ns - start_ns;
    let baseline = delta / 240;
    if delta < 60 * NS_PER_S {
        let g = 50_000_000;
        return if baseline > g { baseline / g * g } else { g };
    }
    (baseline / NS_PER_S * NS_PER_S).max(NS_PER_S)
}

/// The legacy `tags` parameter: logfmt (`service.name="shop" http.status_code=500`), as
/// Tempo decodes it; a key given twice is an error, as in Tempo.
pub(crate) fn logfmt(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            return Ok(out);
        }
        let key: String =
            std::iter::from_fn(|| chars.next_if(|&c| c != '=' && !c.is_whitespace())).collect();
        let value = if chars.next_if_eq(&'=').is_none() {
            String::new()
        } else if chars.next_if_eq(&'"').is_some() {
            let mut v = String::new();
            loop {
                match chars.next() {
                    Some('"') => break,
                    Some('\\') => v.push(chars.next().ok_or("invalid tags: unterminated quote")?),
                    Some(c) => v.push(c),
                    None => return Err("invalid tags: unterminated quote".into()),
                }
            }
            v
        } else {
            std::iter::from_fn(|| chars.next_if(|c| !c.is_whitespace())).collect()
        };
        if key.is_empty() {
            return Err(format!("invalid tags {text:?}: a value without a key"));
        }
        if out.iter().any(|(k, _)| *k == key) {
            return Err(format!("invalid tags: tag {key} has been set twice"));
        }
        out.push((key, value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(q: &str) -> Params {
        Params::parse(Some(q)).expect("parses")
    }

    #[test]
    fn ranges_in_seconds_include_the_end_second() {
        let now = 10_000 * NS_PER_S;
        let (s, e) = p("start=100&end=200")
            .range(now, 3_600 * NS_PER_S)
            .expect("ok");
        assert_eq!((s, e), (100 * NS_PER_S, 201 * NS_PER_S - 1));
        let (s, e) = p("").range(now, 60 * NS_PER_S).expect("ok");
        assert_eq!((s, e), (now - 60 * NS_PER_S, now));
        assert!(p("start=200&end=100").range(now, 1).is_err());
        assert!(p("start=x").range(now, 1).is_err());
        assert!(p("limit=0").positive("limit").is_err());
        assert_eq!(p("limit=7").positive("limit").ok().flatten(), Some(7));
    }

    #[test]
    fn metric_times_and_steps() {
        assert_eq!(timestamp("1700000000"), Ok(1_700_000_000 * NS_PER_S));
        assert_eq!(
            timestamp("1700000000123456789"),
            Ok(1_700_000_000_123_456_789)
        );
        assert_eq!(timestamp("1700000000.5"), Ok(1_700_000_000_500_000_000));
        assert_eq!(
            timestamp("2023-11-14T22:13:20Z"),
            Ok(1_700_000_000 * NS_PER_S)
        );
        assert!(timestamp("soon").is_err());
        assert_eq!(step_ns("30s"), Ok(30 * NS_PER_S));
        assert_eq!(step_ns("15"), Ok(15 * NS_PER_S));
        assert_eq!(step_ns("1m30s"), Ok(90 * NS_PER_S));
        assert!(step_ns("0").is_err() && step_ns("-5").is_err() && step_ns("x").is_err());
        assert_eq!(duration_ns("1d"), Ok(86_400 * NS_PER_S));
        assert_eq!(default_step_ns(0, 3_600 * NS_PER_S), 15 * NS_PER_S);
        assert_eq!(default_step_ns(0, 10 * NS_PER_S), 50_000_000);
        let (s, e) = p("since=15m").metrics_range(1_000 * NS_PER_S).expect("ok");
        assert_eq!((s, e), (100 * NS_PER_S, 1_000 * NS_PER_S));
        assert!(p("start=20&end=10").metrics_range(1).is_err());
    }

    #[test]
    fn legacy_tags_are_logfmt() {
        let pairs = |v: &[(&str, &str)]| -> Vec<(String, String)> {
            v.iter()
                .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
                .collect()
        };
        assert_eq!(
            logfmt(r#" service.name="shop" name="GET /cart" code=500"#),
            Ok(pairs(&[
                ("service.name", "shop"),
                ("name", "GET /cart"),
                ("code", "500")
            ]))
        );
        assert_eq!(logfmt(r#"a="x \"y\"""#), Ok(pairs(&[("a", r#"x "y""#)])));
        assert_eq!(logfmt(""), Ok(vec![]));
        assert!(logfmt("a=1 a=2").is_err());
        assert!(logfmt(r#"a="open"#).is_err());
        assert!(logfmt("=v").is_err());
    }
}
