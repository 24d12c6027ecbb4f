//! Why rules could not be loaded, or a rule could not be evaluated.

use std::fmt;
use std::path::PathBuf;

/// Why a set of rule files could not be loaded; on reload the rules running keep running.
#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    /// A rule file could not be read.
    #[error("cannot read rule file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A rule file has problems (every one found is listed).
    #[error("{}", file_problems(path, problems))]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong, and where.
        problems: Vec<Problem>,
    },
    /// A `files` pattern is not a valid glob.
    #[error("rule files pattern {pattern:?}: {reason}")]
    Pattern {
        /// The pattern.
        pattern: String,
        /// Why.
        reason: String,
    },
    /// The rules' configuration, or one or more of its files, cannot be used (every
    /// problem, one per line).
    #[error("{0}")]
    Config(String),
}

/// One problem of a rule file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// 1-based line; 0 when the YAML parser names it in `reason`.
    pub line: usize,
    /// The group and rule (`group "g", rule 2, "name"`), or empty.
    pub context: String,
    /// What is wrong.
    pub reason: String,
}

impl Problem {
    /// A YAML syntax or structure error, whose message names the line itself.
    pub(crate) fn yaml(message: &str) -> Self {
        // The parser's message is a first line and a source snippet; the first line is
        // `error: line L column C: ...`.
        let first = message.lines().next().unwrap_or(message);
        Self {
            line: 0,
            context: String::new(),
            reason: first.trim_start_matches("error: ").to_owned(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.context.is_empty()) {
            (0, true) => write!(f, "{}", self.reason),
            (0, false) => write!(f, "{}: {}", self.context, self.reason),
            (l, true) => write!(f, "line {l}: {}", self.reason),
            (l, false) => write!(f, "line {l}: {}: {}", self.context, self.reason),
        }
    }
}

fn file_problems(path: &std::path::Path, problems: &[Problem]) -> String {
    let mut out = String::new();
    for (i, p) in problems.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&format!("{}: {p}", path.display()));
    }
    out
}

/// Why one evaluation of one rule failed (shown as the rule's `lastError`).
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum EvalError {
    /// The query failed.
    #[error("{0}")]
    Query(String),
    /// The result cannot be stored or used as the rule asks.
    #[error("{0}")]
    Result(String),
    /// More series or alerts than the group's `limit`.
    #[error("exceeded limit of {limit} with {count} {what}")]
    Limit {
        /// The group's limit.
        limit: usize,
        /// What the rule produced.
        count: usize,
        /// `series` or `alerts`.
        what: &'static str,
    },
    /// The engine refused the write of the rule's samples.
    #[error("write: {0}")]
    Write(String),
}
