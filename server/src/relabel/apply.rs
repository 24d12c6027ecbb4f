//! Compiled relabel rules and their application to a series' labels.

use std::cell::RefCell;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

use md5::{Digest as _, Md5};
use regex::CaptureLocations;

use super::RelabelError;
use super::config::{Action, Rule, RuleConfig, compile_rule};
use super::pattern::{LocsCache, NameValidation, match_with_groups};

/// Distinguishes rule sets in the per-thread capture cache.
pub(super) static NEXT_OWNER: AtomicU64 = AtomicU64::new(1);

/// A compiled list of metric relabel rules; cheap to share (`&self` methods).
#[derive(Debug, Clone)]
pub struct Relabel {
    rules: Vec<Rule>,
    names: Vec<String>,
    scheme: NameValidation,
    /// Identifies these compiled regexes (a clone shares them, and the id).
    owner: u64,
}

/// What [`Relabel::apply`] decided for a series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum Outcome {
    /// The series is kept, with its labels rewritten in place.
    Kept,
    /// The series is dropped.
    Dropped {
        /// 0-based index of the rule that dropped it, into [`Relabel::rule_names`].
        rule: usize,
    },
}

/// Per-thread buffers reused across calls.
#[derive(Debug, Default)]
struct Scratch {
    joined: String,
    target: String,
    value: String,
    /// `labelmap`'s pending writes: names and values back to back, and their ends.
    arena: String,
    pending: Vec<(usize, usize, usize)>,
    locs: LocsCache,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

impl Default for Relabel {
    fn default() -> Relabel {
        Relabel {
            rules: Vec::new(),
            names: Vec::new(),
            scheme: NameValidation::Utf8,
            owner: 0,
        }
    }
}

impl Relabel {
    /// Validates and compiles `rules`, with Prometheus 3's label-name validation
    /// (any non-empty UTF-8 name).
    pub fn new(rules: &[RuleConfig]) -> Result<Relabel, RelabelError> {
        Relabel::with_validation(rules, NameValidation::Utf8)
    }

    /// Validates and compiles `rules`, validating label names with `scheme`.
    pub fn with_validation(
        rules: &[RuleConfig],
        scheme: NameValidation,
    ) -> Result<Relabel, RelabelError> {
        let compiled = rules
            .iter()
            .enumerate()
            .map(|(i, cfg)| compile_rule(i, cfg, scheme))
            .collect::<Result<Vec<_>, _>>()?;
        let names = rules
            .iter()
            .enumerate()
            .map(|(i, cfg)| {
                cfg.name
                    .clone()
                    .unwrap_or_else(|| format!("rule {}", i + 1))
            })
            .collect();
        Ok(Relabel {
            rules: compiled,
            names,
            scheme,
            owner: NEXT_OWNER.fetch_add(1, Ordering::Relaxed),
        })
    }

    /// Applies every rule in order to `labels`, `(name, value)` pairs including
    /// `__name__`.
    ///
    /// `labels` need not be sorted: it is sorted by name first, labels with empty
    /// values are removed, and of a repeated name only the first is kept. On
    /// [`Outcome::Kept`] `labels` holds the result, sorted by name and without
    /// empty values (it may lack `__name__`: Prometheus keeps such a series and so
    /// does this; the caller judges). On [`Outcome::Dropped`] `labels` holds
    /// whatever the rules had made of it by then.
    pub fn apply(&self, labels: &mut Vec<(String, String)>) -> Outcome {
        normalize(labels);
        if self.rules.is_empty() {
            return Outcome::Kept;
        }
        let fresh = || RefCell::new(Scratch::default());
        let outcome = SCRATCH.try_with(|cell| match cell.try_borrow_mut() {
            Ok(mut scratch) => self.run(labels, &mut scratch),
            Err(_) => self.run(labels, &mut fresh().borrow_mut()),
        });
        match outcome {
            Ok(outcome) => outcome,
            Err(_) => self.run(labels, &mut fresh().borrow_mut()),
        }
    }

    /// The rules' names (configured, or `rule N`), indexed like
    /// [`Outcome::Dropped::rule`].
    pub fn rule_names(&self) -> &[String] {
        &self.names
    }

    /// The number of rules.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// Whether there are no rules (then [`Relabel::apply`] only normalises).
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    fn run(&self, labels: &mut Vec<(String, String)>, s: &mut Scratch) -> Outcome {
        let slots = s.locs.slots(self.owner, self.rules.len());
        let mut bufs = Bufs {
            joined: &mut s.joined,
            target: &mut s.target,
            value: &mut s.value,
            arena: &mut s.arena,
            pending: &mut s.pending,
        };
        for (i, (rule, slot)) in self.rules.iter().zip(slots.iter_mut()).enumerate() {
            if !apply_rule(rule, self.scheme, labels, &mut bufs, slot) {
                return Outcome::Dropped { rule: i };
            }
        }
        Outcome::Kept
    }
}

/// The scratch buffers, borrowed apart from the capture cache.
struct Bufs<'a> {
    joined: &'a mut String,
    target: &'a mut String,
    value: &'a mut String,
    arena: &'a mut String,
    pending: &'a mut Vec<(usize, usize, usize)>,
}

/// Sorts by name, removes empty values and repeated names (first one wins).
fn normalize(labels: &mut Vec<(String, String)>) {
    let sorted = labels.windows(2).all(|w| matches!(w, [a, b] if a.0 < b.0));
    if sorted && labels.iter().all(|(_, v)| !v.is_empty()) {
        return;
    }
    labels.retain(|(_, v)| !v.is_empty());
    labels.sort_by(|a, b| a.0.cmp(&b.0));
    labels.dedup_by(|later, earlier| later.0 == earlier.0);
}

fn find(labels: &[(String, String)], name: &str) -> Result<usize, usize> {
    labels.binary_search_by(|(n, _)| n.as_str().cmp(name))
}

/// The value of `name`, or `""` when missing.
fn get<'a>(labels: &'a [(String, String)], name: &str) -> &'a str {
    find(labels, name)
        .ok()
        .and_then(|i| labels.get(i))
        .map_or("", |(_, v)| v.as_str())
}

/// Sets `name` to `value`, removing it when `value` is empty. Allocates only for
/// a new label or a longer value.
fn set(labels: &mut Vec<(String, String)>, name: &str, value: &str) {
    match find(labels, name) {
        Ok(i) if value.is_empty() => {
            labels.remove(i);
        }
        Ok(i) => {
            if let Some((_, v)) = labels.get_mut(i)
                && v != value
            {
                v.clear();
                v.push_str(value);
            }
        }
        Err(i) if !value.is_empty() => labels.insert(i, (name.to_owned(), value.to_owned())),
        Err(_) => {}
    }
}

/// Applies one rule; returns false when the series is to be dropped.
fn apply_rule(
    rule: &Rule,
    scheme: NameValidation,
    labels: &mut Vec<(String, String)>,
    b: &mut Bufs<'_>,
    slot: &mut Option<CaptureLocations>,
) -> bool {
    // The joined source value: borrowed when there is one source label, and not
    // needed by the actions on label names.
    let val = match (rule.action, rule.source_labels.as_slice()) {
        (Action::LabelMap | Action::LabelDrop | Action::LabelKeep, _) => "",
        (_, [one]) => get(labels, one),
        (_, names) => {
            b.joined.clear();
            for (k, name) in names.iter().enumerate() {
                if k > 0 {
                    b.joined.push_str(&rule.separator);
                }
                b.joined.push_str(get(labels, name));
            }
            b.joined.as_str()
        }
    };
    let value = &mut *b.value;
    match rule.action {
        Action::Drop => return !rule.pattern.is_match(val),
        Action::Keep => return rule.pattern.is_match(val),
        Action::DropEqual => return get(labels, &rule.target_label) != val,
        Action::KeepEqual => return get(labels, &rule.target_label) == val,
        Action::Replace => {
            if !match_with_groups(&rule.pattern, val, rule.needs_locs, slot) {
                return true;
            }
            let (matcher, locs) = (&rule.pattern.matcher, slot.as_ref());
            let target = match rule.target.as_literal() {
                Some(t) => t,
                None => {
                    b.target.clear();
                    rule.target.expand(b.target, val, matcher, locs);
                    b.target.as_str()
                }
            };
            if !scheme.is_valid(target) {
                return true;
            }
            let new = match rule.replacement.as_literal() {
                Some(r) => r,
                None => {
                    value.clear();
                    rule.replacement.expand(value, val, matcher, locs);
                    value.as_str()
                }
            };
            set(labels, target, new);
        }
        Action::Lowercase | Action::Uppercase => {
            value.clear();
            if rule.action == Action::Lowercase {
                push_lower(val, value);
            } else {
                push_upper(val, value);
            }
            set(labels, &rule.target_label, value);
        }
        Action::HashMod => {
            let digest = Md5::digest(val.as_bytes());
            let sum64 = digest
                .iter()
                .skip(8)
                .fold(0u64, |acc, &x| acc << 8 | u64::from(x));
            value.clear();
            let _ = write!(value, "{}", sum64.checked_rem(rule.modulus).unwrap_or(0));
            set(labels, &rule.target_label, value);
        }
        Action::LabelMap => {
            // Prometheus reads a snapshot of the labels, then writes: collect first.
            b.arena.clear();
            b.pending.clear();
            for (name, v) in labels.iter() {
                if !match_with_groups(&rule.pattern, name, rule.needs_locs, slot) {
                    continue;
                }
                let start = b.arena.len();
                rule.replacement
                    .expand(b.arena, name, &rule.pattern.matcher, slot.as_ref());
                let mid = b.arena.len();
                b.arena.push_str(v);
                b.pending.push((start, mid, b.arena.len()));
            }
            for &(start, mid, end) in b.pending.iter() {
                if let (Some(name), Some(v)) = (b.arena.get(start..mid), b.arena.get(mid..end))
                    && scheme.is_valid(name)
                {
                    set(labels, name, v);
                }
            }
        }
        Action::LabelDrop => labels.retain(|(name, _)| !rule.pattern.is_match(name)),
        Action::LabelKeep => labels.retain(|(name, _)| rule.pattern.is_match(name)),
    }
    true
}

/// Go's `strings.ToLower`: each rune to its simple (single-rune) lower case.
pub(super) fn push_lower(s: &str, out: &mut String) {
    if s.is_ascii() {
        out.extend(s.bytes().map(|b| char::from(b.to_ascii_lowercase())));
        return;
    }
    for c in s.chars() {
        let mut m = c.to_lowercase();
        out.push(match (m.next(), m.next()) {
            (Some(l), None) => l,
            // The only multi-rune lower case; its simple mapping is `i`.
            _ if c == '\u{130}' => 'i',
            _ => c,
        });
    }
}

/// Go's `strings.ToUpper`: each rune to its simple (single-rune) upper case.
pub(super) fn push_upper(s: &str, out: &mut String) {
    if s.is_ascii() {
        out.extend(s.bytes().map(|b| char::from(b.to_ascii_uppercase())));
        return;
    }
    for c in s.chars() {
        let mut m = c.to_uppercase();
        out.push(match (m.next(), m.next()) {
            (Some(u), None) => u,
            // Multi-rune upper cases (`ß` -> `SS`): Go keeps the rune, except for
            // Greek letters with ypogegrammeni, whose simple mapping is the
            // titlecase letter.
            _ => match u32::from(c) {
                0x1F80..=0x1F87 | 0x1F90..=0x1F97 | 0x1FA0..=0x1FA7 => {
                    char::from_u32(u32::from(c) + 8).unwrap_or(c)
                }
                0x1FB3 => '\u{1FBC}',
                0x1FC3 => '\u{1FCC}',
                0x1FF3 => '\u{1FFC}',
                _ => c,
            },
        });
    }
}
