//! Regexes and replacement templates with Go's (RE2 / `regexp`) semantics.
//!
//! Prometheus compiles every `regex` as `^(?s:<regex>)$` with Go's `regexp`, and
//! expands `replacement` / `target_label` with `Regexp.Expand`. The `regex` crate
//! speaks almost the same dialect; `translate_go` (in `goregex.rs`) rewrites the few constructs
//! whose meaning differs, and [`Template`] re-implements `Expand` exactly.

use super::goregex::translate_go;

use regex::{CaptureLocations, Regex, RegexBuilder};

/// How label names produced by rules are validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NameValidation {
    /// Prometheus 3's default: any non-empty UTF-8 string is a valid label name.
    #[default]
    Utf8,
    /// Prometheus 2's rule: `[a-zA-Z_][a-zA-Z0-9_]*`.
    Legacy,
}

impl NameValidation {
    /// Whether `name` is a valid label name under this scheme.
    pub fn is_valid(self, name: &str) -> bool {
        match self {
            NameValidation::Utf8 => !name.is_empty(),
            NameValidation::Legacy => {
                let mut bytes = name.bytes();
                matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
                    && bytes.all(is_word_byte)
            }
        }
    }

    /// Whether a `target_label` / labelmap `replacement` containing `$` templates is
    /// acceptable (Prometheus's `relabelTargetLegacy` for legacy names).
    pub(super) fn is_valid_with_vars(self, name: &str) -> bool {
        match self {
            NameValidation::Utf8 => !name.is_empty(),
            NameValidation::Legacy => legacy_with_vars(name),
        }
    }
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// `^(?:(?:[a-zA-Z_]|\$(?:\{\w+\}|\w+))+\w*)+$`: starts with a letter, `_` or a `$`
/// reference; otherwise word characters and `$name` / `${name}` references only.
fn legacy_with_vars(s: &str) -> bool {
    let b = s.as_bytes();
    match b.first() {
        Some(&c) if c.is_ascii_alphabetic() || c == b'_' || c == b'$' => {}
        _ => return false,
    }
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c != b'$' {
            if !is_word_byte(c) {
                return false;
            }
            i += 1;
            continue;
        }
        let braced = b.get(i + 1) == Some(&b'{');
        let start = i + 1 + usize::from(braced);
        let mut end = start;
        while b.get(end).is_some_and(|&c| is_word_byte(c)) {
            end += 1;
        }
        if end == start || (braced && b.get(end) != Some(&b'}')) {
            return false;
        }
        i = end + usize::from(braced);
    }
    true
}

/// Characters that never have a special meaning in a regex.
fn is_plain(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_-:/,=@;!%<>\"' ".contains(c)
}

/// The leading plain characters of a pattern without alternation (`|`), less a
/// last one that a quantifier applies to: every match starts with them.
pub(super) fn required_prefix(source: &str) -> String {
    if source.contains('|') {
        return String::new();
    }
    let end = source.find(|c: char| !is_plain(c)).unwrap_or(source.len());
    let (mut head, tail) = source.split_at(end);
    if tail.starts_with(['*', '+', '?', '{']) {
        head = head
            .char_indices()
            .last()
            .and_then(|(i, _)| head.get(..i))
            .unwrap_or("");
    }
    head.to_owned()
}

/// How a compiled pattern matches; the fast paths avoid the regex engine.
#[derive(Debug, Clone)]
pub(super) enum Matcher {
    /// `(.*)` or `.*`: matches every value.
    Any,
    /// `(.+)` or `.+`: matches every non-empty value.
    NonEmpty,
    /// A pattern without metacharacters: matches exactly that string.
    Literal(String),
    /// The general case, compiled as `^(?s:...)$`.
    Regex(Regex),
}

/// A compiled, fully anchored pattern.
#[derive(Debug, Clone)]
pub(super) struct Pattern {
    pub(super) matcher: Matcher,
    /// Number of groups, counting group 0 (the whole match).
    groups: usize,
    /// For a regex: a literal that every match starts with, checked first.
    prefix: String,
}

impl Pattern {
    /// Compiles `source` as Prometheus does (`^(?s:source)$`). The error is the
    /// regex crate's one-line reason.
    pub(super) fn new(source: &str) -> Result<Pattern, String> {
        let (matcher, groups) = match source {
            "(.*)" => (Matcher::Any, 2),
            ".*" => (Matcher::Any, 1),
            "(.+)" => (Matcher::NonEmpty, 2),
            ".+" => (Matcher::NonEmpty, 1),
            s if s.chars().all(is_plain) => (Matcher::Literal(s.to_owned()), 1),
            s => {
                let anchored = format!("^(?s:{})$", translate_go(s));
                let re = RegexBuilder::new(&anchored)
                    .octal(true)
                    .build()
                    .map_err(|e| {
                        let msg = e.to_string();
                        let last = msg
                            .lines()
                            .rev()
                            .find_map(|l| l.trim().strip_prefix("error: "));
                        last.map_or(msg.clone(), str::to_owned)
                    })?;
                let groups = re.captures_len();
                (Matcher::Regex(re), groups)
            }
        };
        let prefix = match matcher {
            Matcher::Regex(_) => required_prefix(source),
            _ => String::new(),
        };
        Ok(Pattern {
            matcher,
            groups,
            prefix,
        })
    }

    /// Whether the whole of `s` matches.
    pub(super) fn is_match(&self, s: &str) -> bool {
        match &self.matcher {
            Matcher::Any => true,
            Matcher::NonEmpty => !s.is_empty(),
            Matcher::Literal(l) => l == s,
            Matcher::Regex(re) => s.starts_with(&self.prefix) && re.is_match(s),
        }
    }

    /// The index of the group named `name`, if any.
    fn group_named(&self, name: &str) -> Option<usize> {
        match &self.matcher {
            Matcher::Regex(re) => re.capture_names().position(|n| n == Some(name)),
            _ => None,
        }
    }
}

/// One piece of a parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Lit(String),
    Group(usize),
}

/// A `$`-template (`replacement`, `target_label`) resolved against a pattern's
/// groups, with the semantics of Go's `Regexp.Expand`: `$$` is `$`; `$name` takes
/// the longest run of letters, digits and `_` (so `$1x` is the group named `1x`);
/// `${name}` is braced; all-digit names without a leading zero are group numbers;
/// unknown groups expand to nothing; a malformed reference is a literal `$`.
#[derive(Debug, Clone)]
pub(super) struct Template {
    pieces: Vec<Piece>,
    /// References a group other than the whole match.
    pub(super) needs_groups: bool,
}

impl Template {
    /// Parses `template` and resolves its references against `pattern`.
    pub(super) fn new(template: &str, pattern: &Pattern) -> Template {
        fn push_lit(pieces: &mut Vec<Piece>, s: &str) {
            match pieces.last_mut() {
                Some(Piece::Lit(l)) => l.push_str(s),
                _ if s.is_empty() => {}
                _ => pieces.push(Piece::Lit(s.to_owned())),
            }
        }
        let mut pieces: Vec<Piece> = Vec::new();
        let mut rest = template;
        while let Some((before, after)) = rest.split_once('$') {
            push_lit(&mut pieces, before);
            rest = after;
            if let Some(r) = rest.strip_prefix('$') {
                push_lit(&mut pieces, "$");
                rest = r;
                continue;
            }
            let Some((name, r)) = extract(rest) else {
                push_lit(&mut pieces, "$");
                continue;
            };
            rest = r;
            let index = match group_number(name) {
                Some(n) => Some(n).filter(|&n| n < pattern.groups),
                None => pattern.group_named(name),
            };
            if let Some(i) = index {
                pieces.push(Piece::Group(i));
            }
        }
        push_lit(&mut pieces, rest);
        let needs_groups = pieces
            .iter()
            .any(|p| matches!(p, Piece::Group(i) if *i > 0));
        Template {
            pieces,
            needs_groups,
        }
    }

    /// The template's text when it references no group at all.
    pub(super) fn as_literal(&self) -> Option<&str> {
        match self.pieces.as_slice() {
            [] => Some(""),
            [Piece::Lit(l)] => Some(l),
            _ => None,
        }
    }

    /// Appends the expansion to `out`. `value` is the whole (anchored) match;
    /// `locs` holds the groups of a regex match, if the matcher is a regex.
    pub(super) fn expand(
        &self,
        out: &mut String,
        value: &str,
        matcher: &Matcher,
        locs: Option<&CaptureLocations>,
    ) {
        for piece in &self.pieces {
            match piece {
                Piece::Lit(l) => out.push_str(l),
                Piece::Group(0) => out.push_str(value),
                Piece::Group(i) => match (matcher, locs) {
                    (Matcher::Any | Matcher::NonEmpty, _) => out.push_str(value),
                    (Matcher::Regex(_), Some(locs)) => {
                        if let Some(s) = locs.get(*i).and_then(|(a, b)| value.get(a..b)) {
                            out.push_str(s);
                        }
                    }
                    _ => {}
                },
            }
        }
    }
}

/// Go's `extract`: a name after `$`, either `{name}` or a bare run of letters,
/// digits and `_`. Returns the name and the rest of the template.
fn extract(s: &str) -> Option<(&str, &str)> {
    let (braced, body) = match s.strip_prefix('{') {
        Some(b) => (true, b),
        None => (false, s),
    };
    let end = body
        .char_indices()
        .find(|&(_, c)| !(c.is_alphabetic() || c.is_numeric() || c == '_'))
        .map_or(body.len(), |(i, _)| i);
    if end == 0 {
        return None;
    }
    let (name, rest) = body.split_at(end);
    if braced {
        return rest.strip_prefix('}').map(|r| (name, r));
    }
    Some((name, rest))
}

/// Go's group-number parse: ASCII digits only, no leading zero, below 1e8.
fn group_number(name: &str) -> Option<usize> {
    if !name.bytes().all(|b| b.is_ascii_digit()) || (name.len() > 1 && name.starts_with('0')) {
        return None;
    }
    name.parse::<usize>().ok().filter(|&n| n < 100_000_000)
}

/// Per-thread capture slots, one per rule of one rule set (`owner`), so that a
/// regex with groups reports them without allocating on every call.
#[derive(Debug, Default)]
pub(super) struct LocsCache {
    owner: u64,
    locs: Vec<Option<CaptureLocations>>,
}

impl LocsCache {
    /// The slots of rule set `owner` with `rules` rules; a different owner than
    /// last time starts afresh.
    pub(super) fn slots(&mut self, owner: u64, rules: usize) -> &mut [Option<CaptureLocations>] {
        if self.owner != owner {
            self.owner = owner;
            self.locs.clear();
        }
        if self.locs.len() < rules {
            self.locs.resize_with(rules, || None);
        }
        &mut self.locs
    }
}

/// Matches `s` against `pattern`, filling `slot` with the groups when `groups` is
/// set and the matcher is a regex. Returns whether it matched.
pub(super) fn match_with_groups(
    pattern: &Pattern,
    s: &str,
    groups: bool,
    slot: &mut Option<CaptureLocations>,
) -> bool {
    match &pattern.matcher {
        Matcher::Regex(_) if !s.starts_with(&pattern.prefix) => false,
        Matcher::Regex(re) if groups => {
            let locs = slot.get_or_insert_with(|| re.capture_locations());
            re.captures_read(locs, s).is_some()
        }
        _ => pattern.is_match(s),
    }
}
