//! Label matchers, with PromQL's semantics: a missing label matches as the empty string, and
//! regexes are fully anchored, with `.` matching newlines (Prometheus's `(?s)`).

use regex::{Regex, RegexBuilder};

use crate::{Error, Labels, Result};

/// Compiled size limit for one matcher's regex; larger patterns are rejected, not run.
pub const MAX_REGEX_SIZE: usize = 1 << 20;

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
            MatchOp::Regex | MatchOp::NotRegex => Some(
                // Prometheus's flags: fully anchored, and `.` matches a newline too.
                RegexBuilder::new(&format!("^(?s:{value})$"))
                    .size_limit(MAX_REGEX_SIZE)
                    .dfa_size_limit(MAX_REGEX_SIZE)
                    .build()
                    .map_err(|e| Error::InvalidMatcher {
                        label: name.to_owned(),
                        reason: e.to_string(),
                    })?,
            ),
            MatchOp::Equal | MatchOp::NotEqual => None,
        };
        Ok(Self {
            name: name.to_owned(),
            op,
            value: value.to_owned(),
            re,
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
}
