//! Loki pattern expressions: the `| pattern "<ip> - <_> ..."` parser stage
//! and the `|> "..."` / `!> "..."` line filters (pkg/logql/log/pattern).
//!
//! Syntax: `<name>` captures (`name` = `[A-Za-z_][A-Za-z0-9_]*`), `<_>` is an
//! unnamed capture, everything else (including a `<` that does not start a
//! valid capture) is literal text. Two captures may not be adjacent.

use thiserror::Error;

/// Errors reported when compiling a pattern.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PatternError {
    /// The pattern is empty (parser stage only).
    #[error("syntax error: unexpected $end, expecting IDENTIFIER or LITERAL")]
    Empty,
    /// The parser stage needs at least one named capture.
    #[error("at least one capture is required")]
    NoCapture,
    /// Two captures follow each other, e.g. `<a><b>`.
    #[error("found consecutive capture '{0}': invalid expression")]
    ConsecutiveCaptures(String),
    /// The same capture name is used twice.
    #[error("duplicate capture name ({0}): invalid expression")]
    DuplicateCapture(String),
    /// Line filters only allow `<_>`.
    #[error("named captures are not allowed: found '<{0}>'")]
    NamedCaptureNotAllowed(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Node {
    /// `<name>`; `None` for `<_>`.
    Capture(Option<String>),
    Literal(String),
}

/// A compiled pattern expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    nodes: Vec<Node>,
    names: Vec<String>,
}

/// Length of a capture token `<ident>` at the start of `s`, if any.
fn capture_len(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    if b.first() != Some(&b'<') {
        return None;
    }
    let first = *b.get(1)?;
    if !(first.is_ascii_alphabetic() || first == b'_') {
        return None;
    }
    let mut i = 2;
    while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
        i += 1;
    }
    (b.get(i) == Some(&b'>')).then_some(i + 1)
}

fn lex(src: &str) -> Vec<Node> {
    let mut nodes = Vec::new();
    let mut lit = String::new();
    let mut i = 0;
    while i < src.len() {
        let rest = &src[i..];
        if let Some(n) = capture_len(rest) {
            if !lit.is_empty() {
                nodes.push(Node::Literal(std::mem::take(&mut lit)));
            }
            let name = &rest[1..n - 1];
            nodes.push(Node::Capture((name != "_").then(|| name.to_string())));
            i += n;
            continue;
        }
        let Some(c) = rest.chars().next() else { break };
        lit.push(c);
        i += c.len_utf8();
    }
    if !lit.is_empty() {
        nodes.push(Node::Literal(lit));
    }
    nodes
}

fn node_text(n: &Node) -> String {
    match n {
        Node::Capture(Some(name)) => format!("<{name}>"),
        Node::Capture(None) => "<_>".to_string(),
        Node::Literal(l) => l.clone(),
    }
}

fn check_consecutive(nodes: &[Node]) -> Result<(), PatternError> {
    for w in nodes.windows(2) {
        if let [a @ Node::Capture(_), b @ Node::Capture(_)] = w {
            return Err(PatternError::ConsecutiveCaptures(
                node_text(a) + &node_text(b),
            ));
        }
    }
    Ok(())
}

impl Pattern {
    /// Compiles a pattern for the `| pattern` parser stage: it must be
    /// non-empty, contain at least one named capture, no adjacent captures and
    /// no duplicate names.
    pub fn parse(src: &str) -> Result<Pattern, PatternError> {
        if src.is_empty() {
            return Err(PatternError::Empty);
        }
        let nodes = lex(src);
        let mut names: Vec<String> = Vec::new();
        for n in &nodes {
            if let Node::Capture(Some(name)) = n {
                names.push(name.clone());
            }
        }
        if names.is_empty() {
            return Err(PatternError::NoCapture);
        }
        check_consecutive(&nodes)?;
        for (i, name) in names.iter().enumerate() {
            if names[..i].contains(name) {
                return Err(PatternError::DuplicateCapture(name.clone()));
            }
        }
        Ok(Pattern { nodes, names })
    }

    /// Compiles a pattern for the `|>` / `!>` line filters: only `<_>`
    /// captures are allowed; the empty pattern matches only empty lines.
    pub fn parse_line_filter(src: &str) -> Result<Pattern, PatternError> {
        let nodes = lex(src);
        check_consecutive(&nodes)?;
        if let Some(Node::Capture(Some(name))) =
            nodes.iter().find(|n| matches!(n, Node::Capture(Some(_))))
        {
            return Err(PatternError::NamedCaptureNotAllowed(name.clone()));
        }
        Ok(Pattern {
            nodes,
            names: Vec::new(),
        })
    }

    /// Names of the named captures, in order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The literal parts of the pattern, in order.
    pub fn literals(&self) -> Vec<&str> {
        self.nodes
            .iter()
            .filter_map(|n| match n {
                Node::Literal(l) => Some(l.as_str()),
                Node::Capture(_) => None,
            })
            .collect()
    }

    /// Extracts the named captures from `line` (the `| pattern` stage).
    ///
    /// As in Loki, a leading literal must match at the start of the line,
    /// each capture extends to the next occurrence of the following literal,
    /// a capture whose following literal is missing takes the rest of the line
    /// and ends matching (so a partial list may be returned), and a trailing
    /// literal need not end the line. Returns `None` when nothing is captured.
    pub fn matches(&self, line: &str) -> Option<Vec<(String, String)>> {
        if line.is_empty() || self.nodes.is_empty() {
            return None;
        }
        let mut out = Vec::new();
        let mut input = line;
        let mut nodes = self.nodes.as_slice();
        if let Some(Node::Literal(l)) = nodes.first() {
            input = input.strip_prefix(l.as_str())?;
            nodes = &nodes[1..];
        }
        while let Some(Node::Capture(name)) = nodes.first() {
            let Some(Node::Literal(lit)) = nodes.get(1) else {
                // Ending on a capture: it takes the rest of the line.
                if let Some(n) = name {
                    out.push((n.clone(), input.to_string()));
                }
                break;
            };
            nodes = &nodes[2..];
            match input.find(lit.as_str()) {
                None => {
                    if let Some(n) = name {
                        out.push((n.clone(), input.to_string()));
                    }
                    break;
                }
                Some(i) => {
                    if let Some(n) = name {
                        out.push((n.clone(), input[..i].to_string()));
                    }
                    input = &input[i + lit.len()..];
                }
            }
        }
        (!out.is_empty()).then_some(out)
    }

    /// Tests whether `line` fully matches the pattern (the `|>` filter):
    /// literals must appear in order, captures must be non-empty, and a
    /// pattern ending in a literal must end the line.
    pub fn is_match(&self, line: &str) -> bool {
        if line.is_empty() || self.nodes.is_empty() {
            return line.is_empty() && self.nodes.is_empty();
        }
        let mut off = 0;
        for (i, n) in self.nodes.iter().enumerate() {
            let Node::Literal(lit) = n else { continue };
            let Some(j) = line[off..].find(lit.as_str()) else {
                return false;
            };
            if i != 0 && j == 0 {
                // Empty capture or repeated literal.
                return false;
            }
            // Note: like Loki's `Test`, a leading literal may be found anywhere.
            off += j + lit.len();
        }
        let ends_on_capture = matches!(self.nodes.last(), Some(Node::Capture(_)));
        ends_on_capture == (off != line.len())
    }
}

#[cfg(test)]
#[path = "pattern_tests.rs"]
mod tests;
