//! `| regexp "..."` parser stage (Loki `RegexpParser`) and the Go-RE2 →
//! Rust-regex translation shared with the template functions
//! (`regexReplaceAll`, `count`) and `decolorize`.
//!
//! Go's RE2 dialect and the `regex` crate agree on almost everything; the
//! differences handled by [`compile_go`] are:
//! * `\d`, `\w`, `\s`, `\b` (and negations) are ASCII-only in Go but Unicode
//!   in Rust, so they are rewritten to their ASCII classes;
//! * `\Q...\E` literal quoting (Go only) is expanded to escaped text.

use regex::Regex;
use thiserror::Error;

use super::names::sanitize_label_name;

/// Errors from compiling a `| regexp` expression.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RegexpError {
    /// The expression does not compile.
    #[error("{0}")]
    Compile(String),
    /// No named capture group (Loki `errMissingCapture`).
    #[error("at least one named capture must be supplied")]
    MissingCapture,
}

/// Rewrites Go RE2 syntax into an equivalent `regex`-crate pattern.
pub fn translate_go(src: &str) -> String {
    let mut out = String::with_capacity(src.len() + 16);
    let mut chars = src.chars().peekable();
    let mut in_class = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let Some(e) = chars.next() else {
                    out.push('\\');
                    break;
                };
                match e {
                    'd' => out.push_str("[0-9]"),
                    'D' => out.push_str("[^0-9]"),
                    'w' => out.push_str("[0-9A-Za-z_]"),
                    'W' => out.push_str("[^0-9A-Za-z_]"),
                    's' => out.push_str("[\\t\\n\\f\\r ]"),
                    'S' => out.push_str("[^\\t\\n\\f\\r ]"),
                    'b' if !in_class => out.push_str("(?-u:\\b)"),
                    'B' if !in_class => out.push_str("(?-u:\\B)"),
                    'Q' => {
                        let mut lit = String::new();
                        while let Some(q) = chars.next() {
                            if q == '\\' && chars.peek() == Some(&'E') {
                                chars.next();
                                break;
                            }
                            lit.push(q);
                        }
                        out.push_str(&regex::escape(&lit));
                    }
                    other => {
                        out.push('\\');
                        out.push(other);
                    }
                }
            }
            '[' if !in_class => {
                in_class = true;
                out.push('[');
                if chars.peek() == Some(&'^') {
                    chars.next();
                    out.push('^');
                }
                // A `]` right after `[` / `[^` is a literal.
                if chars.peek() == Some(&']') {
                    chars.next();
                    out.push_str("\\]");
                }
            }
            '[' if in_class && chars.peek() == Some(&':') => {
                // POSIX class `[:alpha:]` inside a bracket expression.
                out.push('[');
                for p in chars.by_ref() {
                    out.push(p);
                    if p == ']' {
                        break;
                    }
                }
            }
            '[' if in_class => out.push_str("\\["),
            ']' if in_class => {
                in_class = false;
                out.push(']');
            }
            // `&&` and `~~` are set operators inside Rust classes only.
            '&' | '~' if in_class => {
                out.push('\\');
                out.push(c);
            }
            other => out.push(other),
        }
    }
    out
}

/// Compiles a Go RE2 expression with Go's ASCII semantics for Perl classes.
pub fn compile_go(src: &str) -> Result<Regex, RegexpError> {
    Regex::new(&translate_go(src)).map_err(|e| RegexpError::Compile(e.to_string()))
}

/// A compiled `| regexp` stage.
#[derive(Debug, Clone)]
pub struct RegexpParser {
    re: Regex,
    /// (group index, sanitized label name)
    names: Vec<(usize, String)>,
}

impl RegexpParser {
    /// Compiles `src`; at least one named group (`(?P<name>...)` or
    /// `(?<name>...)`) is required, as in Loki.
    pub fn new(src: &str) -> Result<RegexpParser, RegexpError> {
        let re = compile_go(src)?;
        let names: Vec<(usize, String)> = re
            .capture_names()
            .enumerate()
            .filter_map(|(i, n)| n.map(|n| (i, sanitize_label_name(n))))
            .filter(|(_, n)| !n.is_empty())
            .collect();
        if names.is_empty() {
            return Err(RegexpError::MissingCapture);
        }
        Ok(RegexpParser { re, names })
    }

    /// Names of the labels this stage can produce, in group order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.names.iter().map(|(_, n)| n.as_str())
    }

    /// Runs the expression on `line` (leftmost-first match, like Go's
    /// `FindSubmatch`). When it matches, every named group yields a pair —
    /// groups that did not participate yield `""`; when it does not match,
    /// nothing is extracted.
    pub fn extract(&self, line: &str) -> Vec<(String, String)> {
        let Some(caps) = self.re.captures(line) else {
            return Vec::new();
        };
        self.names
            .iter()
            .map(|(i, n)| {
                (
                    n.clone(),
                    caps.get(*i).map_or("", |m| m.as_str()).to_string(),
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(src: &str) -> RegexpParser {
        RegexpParser::new(src).unwrap_or_else(|e| panic!("{src}: {e}"))
    }

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    // Loki: parser_test.go TestNewRegexpParser
    #[test]
    fn compile_rules() {
        assert_eq!(
            RegexpParser::new("w.*").map(|_| ()),
            Err(RegexpError::MissingCapture)
        );
        assert_eq!(
            RegexpParser::new("f(.*) (foo|bar|buzz)").map(|_| ()),
            Err(RegexpError::MissingCapture)
        );
        assert!(RegexpParser::new("blah (.*) (?P<foo>)").is_ok());
        assert!(RegexpParser::new("blah (.*) (?P<foo>foo)(?P<bar>barr)").is_ok());
        assert!(RegexpParser::new("blah (.*) (?P<foo$>foo)(?P<bar>barr)").is_err());
        assert!(RegexpParser::new("blah (.*) (?P<foo>foo)(?P<foo>barr)").is_err());
        assert!(RegexpParser::new("(?<new>style)").is_ok());
        assert!(matches!(
            RegexpParser::new("(?P<a>[)"),
            Err(RegexpError::Compile(_))
        ));
    }

    // Loki: parser_test.go Test_regexpParser_Parse
    #[test]
    fn loki_extraction_table() {
        assert_eq!(p("(?P<foo>foo|bar)buzz").extract("blah"), vec![]);
        assert_eq!(
            p("(?P<foo>.*)buzz").extract("matchebuzz barbuzz"),
            pairs(&[("foo", "matchebuzz bar")])
        );
        assert_eq!(
            p("(?P<bar>bar)buzz").extract("barbuzz"),
            pairs(&[("bar", "bar")])
        );
        assert_eq!(
            p(r"status=(?P<status>\w+),latency=(?P<latency>\w+)(ms|ns)")
                .extract("status=200,latency=500ms"),
            pairs(&[("status", "200"), ("latency", "500")])
        );
        // Loki KeyShortCircuit/benchmark expressions
        let nginx = r#"10.1.0.88 - - [14/Dec/2020:22:56:24 +0000] "GET /static/img/about/bob.jpg HTTP/1.1" 200 60755 "https://grafana.com/go/observabilitycon/grafana-the-open-and-composable-observability-platform/?tech=ggl-o&pg=oss-graf&plcmt=hero-txt" "Mozilla/5.0""#;
        assert_eq!(
            p(r"GET (?P<path>.*?)/\?").extract(nginx),
            pairs(&[(
                "path",
                "/static/img/about/bob.jpg HTTP/1.1\" 200 60755 \"https://grafana.com/go/observabilitycon/grafana-the-open-and-composable-observability-platform"
            )])
        );
        assert_eq!(
            p(r#"HTTP/1.1" (?P<statuscode>\d{3}) "#).extract(nginx),
            pairs(&[("statuscode", "200")])
        );
        // non-participating group -> empty value
        assert_eq!(
            p("(?P<a>x)|(?P<b>y)").extract("y"),
            pairs(&[("a", ""), ("b", "y")])
        );
    }

    #[test]
    fn go_ascii_perl_classes() {
        let digits = compile_go(r"^\d+$").unwrap_or_else(|e| panic!("{e}"));
        assert!(digits.is_match("0123"));
        assert!(!digits.is_match("٣")); // Arabic-Indic digit: not \d in Go
        let word = compile_go(r"^\w+$").unwrap_or_else(|e| panic!("{e}"));
        assert!(!word.is_match("é"));
        let space = compile_go(r"a\sb").unwrap_or_else(|e| panic!("{e}"));
        assert!(space.is_match("a\tb"));
        assert!(!space.is_match("a\u{a0}b"));
        let class = compile_go(r"^[\d\s]+$").unwrap_or_else(|e| panic!("{e}"));
        assert!(class.is_match("1 2"));
        let neg = compile_go(r"^[^\d]+$").unwrap_or_else(|e| panic!("{e}"));
        assert!(neg.is_match("abc") && !neg.is_match("a1"));
        let bound = compile_go(r"\bfoo\b").unwrap_or_else(|e| panic!("{e}"));
        assert!(bound.is_match("a foo b") && !bound.is_match("afoo"));
        let quoted = compile_go(r"\Qa.b*\E+").unwrap_or_else(|e| panic!("{e}"));
        assert!(quoted.is_match("a.b**") && !quoted.is_match("axb"));
        let posix = compile_go(r"^[[:alpha:]\]]+$").unwrap_or_else(|e| panic!("{e}"));
        assert!(posix.is_match("ab]"));
        let bracket = compile_go(r"^[]a]+$").unwrap_or_else(|e| panic!("{e}"));
        assert!(bracket.is_match("]a"));
        assert_eq!(translate_go(r"\\d"), r"\\d");
        let ops = compile_go(r"^[a&&b~~]+$").unwrap_or_else(|e| panic!("{e}"));
        assert!(ops.is_match("a&b~"));
        assert!(compile_go("trailing\\").is_err());
    }
}
