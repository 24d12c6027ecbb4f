//! Attribute rules for spans and logs: drop, keep, hash (HMAC-SHA256) or rewrite
//! attribute values, e.g. to keep personal data out of storage.

use std::cell::RefCell;
use std::fmt;
use std::sync::atomic::Ordering;

use sha2::{Digest as _, Sha256};

use super::RelabelError;
use super::apply::NEXT_OWNER;
use super::config::{AttributeRuleConfig, DEFAULT_REPLACEMENT};
use super::pattern::{LocsCache, Pattern, Template, match_with_groups};

/// The shortest accepted `hash_key`, in bytes.
const MIN_HASH_KEY: usize = 16;

/// An attribute action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AttrAction {
    Drop,
    Hash,
    Replace,
    Keep,
}

/// A compiled attribute rule.
#[derive(Debug, Clone)]
struct AttrRule {
    action: AttrAction,
    /// Sorted, deduplicated exact keys.
    keys: Vec<String>,
    keys_regex: Option<Pattern>,
    /// `replace`'s value regex and replacement.
    value: Option<(Pattern, Template)>,
}

impl AttrRule {
    fn selects(&self, key: &str) -> bool {
        self.keys.binary_search_by(|k| k.as_str().cmp(key)).is_ok()
            || self.keys_regex.as_ref().is_some_and(|p| p.is_match(key))
    }
}

/// HMAC-SHA256 (RFC 2104) with the key's inner and outer pads already hashed.
#[derive(Clone)]
struct Hmac {
    inner: Sha256,
    outer: Sha256,
}

impl Hmac {
    fn new(key: &[u8]) -> Hmac {
        let mut block = [0u8; 64];
        if key.len() > block.len() {
            block
                .iter_mut()
                .zip(Sha256::digest(key).iter())
                .for_each(|(b, k)| *b = *k);
        } else {
            block.iter_mut().zip(key).for_each(|(b, k)| *b = *k);
        }
        let (mut inner, mut outer) = (Sha256::new(), Sha256::new());
        inner.update(block.map(|b| b ^ 0x36));
        outer.update(block.map(|b| b ^ 0x5c));
        Hmac { inner, outer }
    }

    fn mac(&self, msg: &[u8]) -> [u8; 32] {
        let mut inner = self.inner.clone();
        inner.update(msg);
        let mut outer = self.outer.clone();
        outer.update(inner.finalize());
        let mut out = [0u8; 32];
        out.iter_mut()
            .zip(outer.finalize().iter())
            .for_each(|(o, d)| *o = *d);
        out
    }

    /// Appends the hex of the first 16 bytes of the MAC of `msg` to `out`.
    fn push_hex16(&self, msg: &[u8], out: &mut String) {
        let hex = |nibble: u8| char::from_digit(u32::from(nibble), 16).unwrap_or('0');
        for byte in self.mac(msg).iter().take(16) {
            out.push(hex(byte >> 4));
            out.push(hex(byte & 0xf));
        }
    }
}

impl fmt::Debug for Hmac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Hmac(<key redacted>)")
    }
}

/// An attribute value the rules can read and rewrite as text: a `String`, or a span or
/// log record's typed value (`strata_engine::AnyValue`: strings, and numbers and booleans
/// as their text; bytes, arrays and maps are only dropped or kept).
pub trait AttrText {
    /// The value as text, if it has one.
    fn text(&self) -> Option<std::borrow::Cow<'_, str>>;
    /// Replaces the value by the string `s`.
    fn set_text(&mut self, s: &str);
}

impl AttrText for String {
    fn text(&self) -> Option<std::borrow::Cow<'_, str>> {
        Some(std::borrow::Cow::Borrowed(self))
    }

    fn set_text(&mut self, s: &str) {
        self.clear();
        self.push_str(s);
    }
}

/// A compiled list of span/log attribute rules; cheap to share (`&self` methods).
#[derive(Debug, Clone)]
pub struct AttributeRules {
    rules: Vec<AttrRule>,
    names: Vec<String>,
    hmac: Hmac,
    owner: u64,
}

thread_local! {
    static SCRATCH: RefCell<(String, LocsCache)> = RefCell::new(Default::default());
}

impl AttributeRules {
    /// Validates and compiles `rules`. `hash_key` keys the `hash` action; it must
    /// be at least 16 bytes when a `hash` rule is present (32 random bytes are
    /// recommended, kept secret: whoever has it can test guesses of a value).
    pub fn new(
        rules: &[AttributeRuleConfig],
        hash_key: &[u8],
    ) -> Result<AttributeRules, RelabelError> {
        let compiled = rules
            .iter()
            .enumerate()
            .map(|(i, cfg)| compile(i, cfg, hash_key))
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
        Ok(AttributeRules {
            rules: compiled,
            names,
            hmac: Hmac::new(hash_key),
            owner: NEXT_OWNER.fetch_add(1, Ordering::Relaxed),
        })
    }

    /// Applies every rule in order to `attrs` (key, value as string), in place and
    /// keeping the attributes' order. For each rule that changed or removed at
    /// least one attribute, calls `on_change(rule index, count)` (0-based index
    /// into [`AttributeRules::rule_names`]), e.g. to bump counters. A `replace`
    /// that leaves a value as it was does not count.
    pub fn apply<V: AttrText>(
        &self,
        attrs: &mut Vec<(String, V)>,
        mut on_change: impl FnMut(usize, u32),
    ) {
        if self.rules.is_empty() || attrs.is_empty() {
            return;
        }
        let fresh = || RefCell::new(<(String, LocsCache)>::default());
        let mut run = |scratch: &mut (String, LocsCache)| {
            let (buf, cache) = scratch;
            let slots = cache.slots(self.owner, self.rules.len());
            for (i, (rule, slot)) in self.rules.iter().zip(slots.iter_mut()).enumerate() {
                let n = self.apply_rule(rule, attrs, buf, slot);
                if n > 0 {
                    on_change(i, u32::try_from(n).unwrap_or(u32::MAX));
                }
            }
        };
        let done = SCRATCH.try_with(|cell| match cell.try_borrow_mut() {
            Ok(mut scratch) => run(&mut scratch),
            Err(_) => run(&mut fresh().borrow_mut()),
        });
        if done.is_err() {
            run(&mut fresh().borrow_mut());
        }
    }

    /// What the `hash` action makes of `value`: lowercase hex of the first 16
    /// bytes of HMAC-SHA256(hash key, value). Lets a query for a known value find
    /// its hashed form.
    pub fn hash_value(&self, value: &str) -> String {
        let mut out = String::with_capacity(32);
        self.hmac.push_hex16(value.as_bytes(), &mut out);
        out
    }

    /// The rules' names (configured, or `rule N`), indexed like `on_change`'s
    /// rule index.
    pub fn rule_names(&self) -> &[String] {
        &self.names
    }

    /// The number of rules.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// Whether there are no rules.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Applies one rule; returns how many attributes it changed or removed.
    fn apply_rule<V: AttrText>(
        &self,
        rule: &AttrRule,
        attrs: &mut Vec<(String, V)>,
        buf: &mut String,
        slot: &mut Option<regex::CaptureLocations>,
    ) -> usize {
        let before = attrs.len();
        match rule.action {
            AttrAction::Drop => attrs.retain(|(k, _)| !rule.selects(k)),
            AttrAction::Keep => attrs.retain(|(k, _)| rule.selects(k)),
            AttrAction::Hash => {
                let mut n = 0;
                for (_, v) in attrs.iter_mut().filter(|(k, _)| rule.selects(k)) {
                    let Some(text) = v.text() else {
                        continue;
                    };
                    buf.clear();
                    self.hmac.push_hex16(text.as_bytes(), buf);
                    drop(text);
                    v.set_text(buf);
                    n += 1;
                }
                return n;
            }
            AttrAction::Replace => {
                let Some((pattern, template)) = &rule.value else {
                    return 0;
                };
                let mut n = 0;
                for (_, v) in attrs.iter_mut().filter(|(k, _)| rule.selects(k)) {
                    let Some(text) = v.text() else {
                        continue;
                    };
                    if !match_with_groups(pattern, &text, template.needs_groups, slot) {
                        continue;
                    }
                    buf.clear();
                    template.expand(buf, &text, &pattern.matcher, slot.as_ref());
                    let changed = *buf != *text;
                    drop(text);
                    if changed {
                        v.set_text(buf);
                        n += 1;
                    }
                }
                return n;
            }
        }
        before - attrs.len()
    }
}

/// Validates and compiles the attribute rule at 0-based `index`.
fn compile(
    index: usize,
    cfg: &AttributeRuleConfig,
    hash_key: &[u8],
) -> Result<AttrRule, RelabelError> {
    let err = |field: &'static str, reason: String| RelabelError::Attribute {
        position: index + 1,
        name: cfg.name.clone(),
        action: cfg.action.clone(),
        field,
        reason,
    };
    let action = match cfg.action.to_ascii_lowercase().as_str() {
        "drop" => AttrAction::Drop,
        "hash" => AttrAction::Hash,
        "replace" => AttrAction::Replace,
        "keep" => AttrAction::Keep,
        other => {
            let reason =
                format!("unknown action {other:?}; expected one of drop, hash, replace, keep");
            return Err(err("action", reason));
        }
    };
    if cfg.name.as_deref() == Some("") {
        return Err(err("name", "name must not be empty".into()));
    }
    if cfg.attributes.iter().any(String::is_empty) {
        return Err(err("attributes", "attribute keys must not be empty".into()));
    }
    if cfg.attributes.is_empty() && cfg.attributes_regex.is_none() {
        return Err(err(
            "attributes",
            "attributes or attributes_regex is required".into(),
        ));
    }
    let keys_regex = match &cfg.attributes_regex {
        Some(re) => Some(
            Pattern::new(re)
                .map_err(|e| err("attributes_regex", format!("invalid regex {re:?}: {e}")))?,
        ),
        None => None,
    };
    if action != AttrAction::Replace {
        for (field, set) in [
            ("regex", cfg.regex.is_some()),
            ("replacement", cfg.replacement.is_some()),
        ] {
            if set {
                return Err(err(
                    field,
                    format!("{field} is only valid for the replace action"),
                ));
            }
        }
    }
    let value = if action == AttrAction::Replace {
        if cfg.regex.is_none() && cfg.replacement.is_none() {
            return Err(err(
                "replacement",
                "replace requires regex or replacement (it would change nothing)".into(),
            ));
        }
        let regex = cfg.regex.as_deref().unwrap_or("(.*)");
        let pattern = Pattern::new(regex)
            .map_err(|e| err("regex", format!("invalid regex {regex:?}: {e}")))?;
        let template = Template::new(
            cfg.replacement.as_deref().unwrap_or(DEFAULT_REPLACEMENT),
            &pattern,
        );
        Some((pattern, template))
    } else {
        None
    };
    if action == AttrAction::Hash && hash_key.len() < MIN_HASH_KEY {
        let reason = format!(
            "hash requires a hash key of at least {MIN_HASH_KEY} bytes, got {}",
            hash_key.len()
        );
        return Err(err("hash_key", reason));
    }
    let mut keys = cfg.attributes.clone();
    keys.sort();
    keys.dedup();
    Ok(AttrRule {
        action,
        keys,
        keys_regex,
        value,
    })
}
