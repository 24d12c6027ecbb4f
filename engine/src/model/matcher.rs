//! Label matchers, with PromQL's semantics: a missing label matches as the empty string, and
//! regexes are fully anchored, with `.` matching newlines (Prometheus's `(?s)`).

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use regex::{Regex, RegexBuilder};

use crate::{Error, Labels, Result};

/// Compiled size limit for one matcher's regex; larger patterns are rejected, not run.
pub const MAX_REGEX_SIZE: usize = 1 << 20;

/// Patterns whose compiled regexes are kept for the next matcher with the same pattern.
/// Rules and dashboards send the same selectors again and again, and compiling a regex
/// (its lazy DFA's set-up) cost more than the rest of a small rule's evaluation: 7 % of
/// the rules benchmark's CPU. A `Regex` is shared by reference count; past this many
/// patterns the cache starts over, so it holds at most this many.
const CACHED_REGEXES: usize = 512;

static REGEXES: Mutex<Option<HashMap<String, Regex>>> = Mutex::new(None);

/// The compiled, anchored form of `value` (from the cache when it was compiled before).
fn compile(name: &str, value: &str) -> Result<Regex> {
    let cached = |value: &str| {
        let cache = REGEXES.lock().unwrap_or_else(PoisonError::into_inner);
        cache.as_ref().and_then(|c| c.get(value).cloned())
    };
    if let Some(re) = cached(value) {
        return Ok(re);
    }
    // Prometheus's flags: fully anchored, and `.` matches a newline too.
    let re = RegexBuilder::new(&format!("^(?s:{value})$"))
        .size_limit(MAX_REGEX_SIZE)
        .dfa_size_limit(MAX_REGEX_SIZE)
        .build()
        .map_err(|e| Error::InvalidMatcher {
            label: name.to_owned(),
            reason: e.to_string(),
        })?;
    let mut cache = REGEXES.lock().unwrap_or_else(PoisonError::into_inner);
    let c = cache.get_or_insert_with(HashMap::new);
    if c.len() >= CACHED_REGEXES {
        c.clear();
    }
    c.insert(value.to_owned(), re.clone());
    Ok(re)
}

/// The four PromQL matcher operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchOp {
    /// `=`
    Equal,
    /// `!=`
    NotEqual,
    /// `=~`
    Regex,
    /// `!~`
    NotRegex,
}

/// One label matcher.
#[derive(Debug, Clone)]
pub struct Matcher {
    name: String,
    op: MatchOp,
    value: String,
    re: Option<Regex>,
    /// For a regex that is only literal alternatives (`a|b|c`, as Grafana's multi-value
    /// variables write them), the strings it matches: an index looks them up instead of
    /// running the regex over every value.
    literals: Option<Vec<String>>,
}

impl Matcher {
    /// A matcher `name op value`; regexes are compiled here (anchored, size-limited).
    ///
    /// ```
    /// use strata_engine::{Labels, MatchOp, Matcher};
    ///
    /// let l = Labels::from_pairs([("__name__", "up"), ("job", "api")])?;
    /// assert!(Matcher::new("job", MatchOp::Regex, "a.*")?.matches(&l));
    /// assert!(!Matcher::new("job", MatchOp::Regex, "p")?.matches(&l)); // anchored
    /// assert!(Matcher::new("zone", MatchOp::Equal, "")?.matches(&l)); // absent = ""
    /// let multi = Labels::from_pairs([("__name__", "log"), ("msg", "a\nb")])?;
    /// assert!(Matcher::new("msg", MatchOp::Regex, "a.b")?.matches(&multi)); // (?s)
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(name: &str, op: MatchOp, value: &str) -> Result<Self> {
        let re = match op {
            MatchOp::Regex | MatchOp::NotRegex => Some(compile(name, value)?),
            MatchOp::Equal | MatchOp::NotEqual => None,
        };
        let literals = re.as_ref().and_then(|_| literal_alternatives(value));
        Ok(Self {
            name: name.to_owned(),
            op,
            value: value.to_owned(),
            re,
            literals,
        })
    }

    /// Whether a series with `labels` passes this matcher.
    pub fn matches(&self, labels: &Labels) -> bool {
        self.matches_value(labels.get(&self.name).unwrap_or(""))
    }

    /// The label name matched.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The operator.
    pub fn op(&self) -> MatchOp {
        self.op
    }

    /// The value or pattern, as given.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// Whether a label value `v` (`""` for an absent label) passes this matcher.
    pub fn matches_value(&self, v: &str) -> bool {
        match (&self.op, &self.re) {
            (MatchOp::Equal, _) => v == self.value,
            (MatchOp::NotEqual, _) => v != self.value,
            (MatchOp::Regex, Some(re)) => re.is_match(v),
            (MatchOp::NotRegex, Some(re)) => !re.is_match(v),
            (MatchOp::Regex | MatchOp::NotRegex, None) => false,
        }
    }

    /// The values whose outcome under this matcher is `pass` when they can be listed
    /// without running it on every value: `=`'s value passes and `!=`'s fails; a regex of
    /// literal alternatives passes its literals (`=~`) or fails them (`!~`). `None` when
    /// the values with that outcome are not a list (every other value of the label).
    pub(crate) fn listed_values(&self, pass: bool) -> Option<Vec<&str>> {
        match (self.op, self.literals.as_deref()) {
            (MatchOp::Equal, _) if pass => Some(vec![self.value.as_str()]),
            (MatchOp::NotEqual, _) if !pass => Some(vec![self.value.as_str()]),
            (MatchOp::Regex, Some(l)) if pass => Some(l.iter().map(String::as_str).collect()),
            (MatchOp::NotRegex, Some(l)) if !pass => Some(l.iter().map(String::as_str).collect()),
            _ => None,
        }
    }
}

/// The strings `pattern` matches if it is a `|`-separated list of literals (optionally in
/// one group, `(a|b)` or `(?:a|b)`; `\.` and other escaped metacharacters are literal);
/// `None` if any part is more than a literal.
fn literal_alternatives(pattern: &str) -> Option<Vec<String>> {
    const META: &str = "\\.+*?()|[]{}^$#&-~";
    let inner = pattern
        .strip_prefix("(?:")
        .or_else(|| pattern.strip_prefix('('))
        .and_then(|p| p.strip_suffix(')'))
        .filter(|p| !p.ends_with('\\'))
        .unwrap_or(pattern);
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(e) if META.contains(e) => cur.push(e),
                _ => return None, // a class (`\d`), an escape (`\n`) or a trailing `\`
            },
            '|' => out.push(std::mem::take(&mut cur)),
            '.' | '+' | '*' | '?' | '(' | ')' | '[' | ']' | '{' | '}' | '^' | '$' => return None,
            c => cur.push(c),
        }
    }
    out.push(cur);
    out.sort_unstable();
    out.dedup();
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_or_huge_regex_is_an_error_not_a_hang() {
        assert!(matches!(
            Matcher::new("a", MatchOp::Regex, "("),
            Err(Error::InvalidMatcher { .. })
        ));
        let huge = "(a|b|c|d|e|f|g|h){1000}".repeat(20);
        assert!(matches!(
            Matcher::new("a", MatchOp::Regex, &huge),
            Err(Error::InvalidMatcher { .. })
        ));
    }

    #[test]
    fn a_cached_regex_matches_as_a_fresh_one_and_errors_are_not_cached() {
        let l = Labels::from_pairs([("__name__", "http"), ("code", "503")]).expect("labels");
        for _ in 0..3 {
            assert!(
                Matcher::new("code", MatchOp::Regex, "5..")
                    .expect("re")
                    .matches(&l)
            );
            assert!(
                !Matcher::new("code", MatchOp::NotRegex, "5..")
                    .expect("re")
                    .matches(&l)
            );
            // The same pattern anchored in another matcher, and a bad one, every time.
            assert!(
                !Matcher::new("code", MatchOp::Regex, "5.")
                    .expect("re")
                    .matches(&l)
            );
            assert!(Matcher::new("code", MatchOp::Regex, "5..(").is_err());
        }
        // Past the cache's size it starts over and still answers right.
        for i in 0..CACHED_REGEXES + 10 {
            let m = Matcher::new("code", MatchOp::Regex, &format!("{i}|503")).expect("re");
            assert!(m.matches(&l));
        }
        let cached = REGEXES.lock().map(|c| c.as_ref().map_or(0, HashMap::len));
        assert!(cached.is_ok_and(|n| n <= CACHED_REGEXES));
    }

    #[test]
    fn negative_matchers_match_absent_labels() {
        let l = Labels::from_pairs([("__name__", "up")]).unwrap();
        assert!(
            Matcher::new("job", MatchOp::NotEqual, "x")
                .unwrap()
                .matches(&l)
        );
        assert!(
            Matcher::new("job", MatchOp::NotRegex, ".+")
                .unwrap()
                .matches(&l)
        );
        assert!(
            !Matcher::new("job", MatchOp::Regex, ".+")
                .unwrap()
                .matches(&l)
        );
    }

    #[test]
    fn literal_alternatives_are_exactly_what_the_regex_matches() {
        let probes = [
            "", "a", "b", "c", "ab", "a|b", "host-1", "host.1", "hostx1", "(a", "a)", "x y",
        ];
        for (pattern, literal) in [
            ("a|b", true),
            ("(a|b)", true),
            ("(?:a|b|)", true),
            ("host-1|host\\.1", true),
            ("a\\|b", true),
            ("\\(a", true),
            ("x y", true),
            ("", true),
            ("host.1", false),
            ("a+", false),
            ("(a)|(b)", false),
            ("(?i)a", false),
            ("\\d", false),
            ("[ab]", false),
        ] {
            let m = Matcher::new("l", MatchOp::Regex, pattern).unwrap();
            let Some(set) = m.listed_values(true) else {
                assert!(!literal, "{pattern:?} should be a literal set");
                continue;
            };
            assert!(literal, "{pattern:?} is not a literal set, got {set:?}");
            for p in probes {
                assert_eq!(set.contains(&p), m.matches_value(p), "{pattern:?} on {p:?}");
            }
        }
    }
}
