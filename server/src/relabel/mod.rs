//! Ingest-time relabeling: Prometheus `relabel_configs` for metric series, and
//! attribute rules for span and log attributes.
//!
//! # Metric series: [`Relabel`]
//!
//! [`RuleConfig`] has the field names of Prometheus's `relabel_config`, so a
//! YAML rule pastes into TOML field for field. Rules run in order on a series'
//! labels (including `__name__`); the first rule whose action drops the series
//! ends processing with [`Outcome::Dropped`]. Semantics are Prometheus 3's:
//!
//! - The values of `source_labels` (a missing label is `""`) are joined with
//!   `separator` (default `;`). `regex` (default `(.*)`) is fully anchored: it is
//!   compiled as `^(?s:<regex>)$`, so `.` also matches a newline. The regex dialect
//!   is Go's RE2: `\d`, `\w`, `\s` and `\b` are ASCII-only, as in Go.
//! - `replacement` (default `$1`) and a `target_label` that contains `$` are
//!   expanded as Go's `Regexp.Expand` does: `$1`, `${1}`, `$name`, `${name}`, and
//!   `$$` for a literal `$`. A name is the longest run of letters, digits and `_`,
//!   so `$1x` means the group named `1x`, which expands to nothing: write `${1}x`.
//! - A label set to `""` is removed, and a missing label reads as `""`.
//!
//! | action | effect |
//! |---|---|
//! | `replace` (default) | if `regex` matches the joined value, sets the expanded `target_label` to the expanded `replacement` (an empty result removes the label); no match, or an expanded target that is not a valid label name, changes nothing |
//! | `keep` / `drop` | drops the series unless / if `regex` matches the joined value |
//! | `keepequal` / `dropequal` | drops the series unless / if the joined value equals the value of `target_label` |
//! | `hashmod` | sets `target_label` to `sum64(md5(joined value)) % modulus`, where `sum64` reads the last 8 bytes of the MD5 digest as a big-endian integer |
//! | `labelmap` | for every label whose *name* matches `regex`, copies its value to the label named by the expanded `replacement` |
//! | `labeldrop` / `labelkeep` | removes every label whose name matches / does not match `regex` |
//! | `lowercase` / `uppercase` | sets `target_label` to the joined value in lower / upper case |
//!
//! Rules are checked when compiled, with Prometheus's checks (for example
//! `hashmod` needs a non-zero `modulus`; `labeldrop` takes only `regex`); each error
//! names the rule's position (1-based), its name, the action and the field.
//! `name` is a Strata extension that names a rule for counters; it defaults to
//! `rule N`, N being the rule's 1-based position.
//!
//! Dropping a per-peer label from every metric series (here the list is read
//! from a table array called `rules`; the caller decides where it lives):
//!
//! ```toml
//! [[rules]]
//! name = "no peer_id"
//! action = "labeldrop"
//! regex = "peer_id"
//! ```
//!
//! # Spans and logs: [`AttributeRules`]
//!
//! [`AttributeRuleConfig`] selects attributes by exact key (`attributes`) and/or
//! by a fully anchored regex on the key (`attributes_regex`), then:
//!
//! | action | effect |
//! |---|---|
//! | `drop` | removes the selected attributes |
//! | `keep` | removes every attribute that is not selected |
//! | `hash` | replaces each selected value by the hex of the first 16 bytes of HMAC-SHA256(hash key, value): equal values stay equal, so they can still be joined and grouped on, but without the key they cannot be brute-forced back |
//! | `replace` | where the anchored `regex` (default `(.*)`) matches a selected value, replaces the value by the expanded `replacement` (default `$1`); no match leaves it unchanged |
//!
//! Hashing client IP addresses on spans and logs:
//!
//! ```toml
//! [[attribute_rules]]
//! name = "hash client IPs"
//! action = "hash"
//! attributes = ["client.address", "net.peer.ip"]
//! ```
//!
//! # Where this differs from Prometheus
//!
//! - `labelmap` skips a label whose expanded name is not a valid label name (with
//!   UTF-8 names: empty); Prometheus writes it and fails the scrape later. When two
//!   labels map to the same name, the later one in name order wins (Prometheus
//!   visits the labels that earlier rules set last, in the order they were set).
//! - Regexes run on the `regex` crate; the Go constructs whose meaning differs
//!   are rewritten (ASCII `\d \w \s \b`, `\Q...\E`, literal `\<`, `\>`, `{`
//!   and class `[ && ~~`). A few patterns Go refuses are accepted (e.g. `(?x)`,
//!   `\1` read as octal), and class difference `--` keeps the `regex` meaning.
//! - The label-name scheme ([`NameValidation`]) is chosen per rule set, not
//!   read from a global setting; UTF-8 (Prometheus 3's default) unless told.
//! - An empty `action` is reported as unknown (Prometheus: "cannot be empty");
//!   `source_labels = []` counts as unset.
//!
//! # Cost
//!
//! Labels are a `Vec` sorted by name; reads and writes are binary searches. A
//! rule that changes nothing allocates nothing: joined values, expansions and
//! regex capture slots live in per-thread scratch buffers. The default regex
//! `(.*)` / `(.+)` and regexes without metacharacters skip the regex engine, and
//! a regex's literal prefix is compared before the engine runs. A rule costs
//! O(source labels × log n) plus one match; `labelmap`, `labeldrop` and
//! `labelkeep` cost one match per label. On a 2-core EPYC (release build, see
//! `tests/bench.rs`), normalising 8 sorted labels takes ~20 ns, a no-op copy
//! rule ~50 ns more, and Prometheus's 20-rule Kubernetes benchmark ~2.4 µs.

mod apply;
mod attributes;
mod config;
mod goregex;
pub mod key;
mod pattern;
mod tenants;
#[cfg(test)]
mod tests;

pub use apply::{Outcome, Relabel};
pub use attributes::{AttrText, AttributeRules};
pub use config::{AttributeRuleConfig, RuleConfig};
pub use pattern::NameValidation;
pub use tenants::{
    RelabelSettings, Relabeling, RuleCounts, SignalRules, TenantOverrides, TenantRules, keyed,
    logs, owned, owned_histograms, spans,
};

/// An invalid relabel or attribute rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RelabelError {
    /// A metric relabel rule ([`RuleConfig`]) is invalid.
    #[error("relabel rule {position}{} (action {action}): {reason}", name_suffix(.name))]
    Rule {
        /// The rule's 1-based position in the list.
        position: usize,
        /// The rule's configured name, if any.
        name: Option<String>,
        /// The action as configured.
        action: String,
        /// The offending field, e.g. `"regex"` or `"target_label"`.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A span/log attribute rule ([`AttributeRuleConfig`]) is invalid.
    #[error("attribute rule {position}{} (action {action}): {reason}", name_suffix(.name))]
    Attribute {
        /// The rule's 1-based position in the list.
        position: usize,
        /// The rule's configured name, if any.
        name: Option<String>,
        /// The action as configured.
        action: String,
        /// The offending field, e.g. `"attributes_regex"`, or `"hash_key"`.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
}

impl RelabelError {
    /// The offending configuration field.
    pub fn field(&self) -> &'static str {
        match self {
            RelabelError::Rule { field, .. } | RelabelError::Attribute { field, .. } => field,
        }
    }
}

fn name_suffix(name: &Option<String>) -> String {
    name.as_ref().map(|n| format!(" {n:?}")).unwrap_or_default()
}
