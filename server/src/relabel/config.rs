//! Rule configuration (serde) and its validation into compiled rules.

use serde::Deserialize;

use super::RelabelError;
use super::pattern::{Matcher, NameValidation, Pattern, Template};

/// One metric relabel rule, with the field names of Prometheus's `relabel_config`.
///
/// Every field is optional; the defaults are Prometheus's. TOML has no null, so
/// Prometheus's empty `regex:` is written `regex = ""`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RuleConfig {
    /// Labels whose values are joined with `separator` into the value the rule
    /// works on. A missing label contributes `""`.
    pub source_labels: Vec<String>,
    /// Joins the source values; default `;`.
    pub separator: Option<String>,
    /// A Go (RE2) regex, fully anchored; default `(.*)`.
    pub regex: Option<String>,
    /// The modulus of `hashmod`; required (non-zero) for that action only.
    pub modulus: Option<u64>,
    /// The label written by `replace`, `hashmod`, `lowercase` and `uppercase`, or
    /// compared by `keepequal` and `dropequal`. `replace` expands `$` references.
    pub target_label: Option<String>,
    /// The value written by `replace`, or the label name made by `labelmap`, with
    /// `$` references expanded; default `$1`.
    pub replacement: Option<String>,
    /// One of `replace` (default), `keep`, `drop`, `keepequal`, `dropequal`,
    /// `hashmod`, `labelmap`, `labeldrop`, `labelkeep`, `lowercase`, `uppercase`;
    /// case-insensitive.
    pub action: Option<String>,
    /// Strata extension: the rule's name in counters; default `rule N`, N being
    /// the rule's 1-based position.
    pub name: Option<String>,
}

/// One span/log attribute rule.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttributeRuleConfig {
    /// `drop`, `hash`, `replace` or `keep` (case-insensitive).
    pub action: String,
    /// Attribute keys selected exactly.
    #[serde(default)]
    pub attributes: Vec<String>,
    /// For `replace`: a fully anchored regex on the value (default `(.*)`).
    #[serde(default)]
    pub regex: Option<String>,
    /// For `replace`: the new value, with `$` references expanded (default `$1`).
    #[serde(default)]
    pub replacement: Option<String>,
    /// Also selects the keys this fully anchored regex matches.
    #[serde(default)]
    pub attributes_regex: Option<String>,
    /// The rule's name in counters; default `rule N` (1-based position).
    #[serde(default)]
    pub name: Option<String>,
}

/// A relabel action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Action {
    Replace,
    Keep,
    Drop,
    KeepEqual,
    DropEqual,
    HashMod,
    LabelMap,
    LabelDrop,
    LabelKeep,
    Lowercase,
    Uppercase,
}

const ACTIONS: [(&str, Action); 11] = [
    ("replace", Action::Replace),
    ("keep", Action::Keep),
    ("drop", Action::Drop),
    ("keepequal", Action::KeepEqual),
    ("dropequal", Action::DropEqual),
    ("hashmod", Action::HashMod),
    ("labelmap", Action::LabelMap),
    ("labeldrop", Action::LabelDrop),
    ("labelkeep", Action::LabelKeep),
    ("lowercase", Action::Lowercase),
    ("uppercase", Action::Uppercase),
];

impl Action {
    fn parse(s: &str) -> Option<Action> {
        ACTIONS
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(s))
            .map(|&(_, a)| a)
    }
}

/// A validated, compiled relabel rule.
#[derive(Debug, Clone)]
pub(super) struct Rule {
    pub(super) action: Action,
    pub(super) source_labels: Vec<String>,
    pub(super) separator: String,
    pub(super) pattern: Pattern,
    /// Non-zero for `hashmod`.
    pub(super) modulus: u64,
    /// As configured (used as is by every action but `replace`).
    pub(super) target_label: String,
    /// `target_label` as a template (used by `replace`).
    pub(super) target: Template,
    pub(super) replacement: Template,
    /// The regex must report capture groups (a template references one).
    pub(super) needs_locs: bool,
}

/// The default `separator`, `regex` and `replacement`.
const DEFAULT_SEPARATOR: &str = ";";
const DEFAULT_REGEX: &str = "(.*)";
pub(super) const DEFAULT_REPLACEMENT: &str = "$1";

/// Validates and compiles the rule at 0-based `index`, with Prometheus's checks
/// (`Config.Validate`, plus the regex and label-name checks of its YAML parsing).
pub(super) fn compile_rule(
    index: usize,
    cfg: &RuleConfig,
    scheme: NameValidation,
) -> Result<Rule, RelabelError> {
    let action_str = cfg.action.as_deref().unwrap_or("replace");
    let err = |field: &'static str, reason: String| RelabelError::Rule {
        position: index + 1,
        name: cfg.name.clone(),
        action: action_str.to_owned(),
        field,
        reason,
    };
    let action = Action::parse(action_str).ok_or_else(|| {
        let names: Vec<&str> = ACTIONS.iter().map(|(n, _)| *n).collect();
        let reason = format!(
            "unknown action {action_str:?}; expected one of {}",
            names.join(", ")
        );
        err("action", reason)
    })?;
    let act = ACTIONS
        .iter()
        .find(|(_, a)| *a == action)
        .map_or("", |(n, _)| *n);
    if cfg.name.as_deref() == Some("") {
        return Err(err("name", "name must not be empty".into()));
    }
    if let Some(bad) = cfg.source_labels.iter().find(|l| !scheme.is_valid(l)) {
        return Err(err(
            "source_labels",
            format!("{bad:?} is not a valid label name"),
        ));
    }
    let regex = cfg.regex.as_deref().unwrap_or(DEFAULT_REGEX);
    let pattern =
        Pattern::new(regex).map_err(|e| err("regex", format!("invalid regex {regex:?}: {e}")))?;
    let separator = cfg.separator.as_deref().unwrap_or(DEFAULT_SEPARATOR);
    let replacement = cfg.replacement.as_deref().unwrap_or(DEFAULT_REPLACEMENT);
    let target = cfg.target_label.as_deref().unwrap_or("");
    let modulus = cfg.modulus.unwrap_or(0);

    use Action::*;
    if action == HashMod && modulus == 0 {
        return Err(err(
            "modulus",
            "modulus is required and must be non-zero".into(),
        ));
    }
    let writes_target = matches!(
        action,
        Replace | HashMod | Lowercase | Uppercase | KeepEqual | DropEqual
    );
    if writes_target && target.is_empty() {
        return Err(err("target_label", format!("{act} requires target_label")));
    }
    let invalid_target = || {
        err(
            "target_label",
            format!("{target:?} is an invalid target_label for {act}"),
        )
    };
    if action == Replace {
        let ok = if target.contains('$') {
            scheme.is_valid_with_vars(target)
        } else {
            scheme.is_valid(target)
        };
        if !ok {
            return Err(invalid_target());
        }
    }
    let fixed_target = matches!(action, Lowercase | Uppercase | KeepEqual | DropEqual);
    if (fixed_target || action == HashMod) && !scheme.is_valid(target) {
        return Err(invalid_target());
    }
    if fixed_target && replacement != DEFAULT_REPLACEMENT {
        return Err(err(
            "replacement",
            format!("replacement can not be set for {act}"),
        ));
    }
    if action == LabelMap && !scheme.is_valid_with_vars(replacement) {
        let reason = format!("{replacement:?} is an invalid replacement for {act}");
        return Err(err("replacement", reason));
    }
    if matches!(action, KeepEqual | DropEqual) {
        let extra = [
            ("regex", cfg.regex.is_some()),
            ("modulus", modulus != 0),
            ("separator", separator != DEFAULT_SEPARATOR),
        ];
        if let Some((field, _)) = extra.iter().find(|(_, set)| *set) {
            let reason =
                format!("{act} takes only source_labels and target_label; {field} must not be set");
            return Err(err(field, reason));
        }
    }
    if matches!(action, LabelDrop | LabelKeep) {
        let extra = [
            ("source_labels", !cfg.source_labels.is_empty()),
            ("target_label", !target.is_empty()),
            ("modulus", modulus != 0),
            ("separator", separator != DEFAULT_SEPARATOR),
            ("replacement", replacement != DEFAULT_REPLACEMENT),
        ];
        if let Some((field, _)) = extra.iter().find(|(_, set)| *set) {
            let reason = format!("{act} takes only regex; {field} must not be set");
            return Err(err(field, reason));
        }
    }

    let target_tpl = Template::new(if action == Replace { target } else { "" }, &pattern);
    let replacement_tpl = Template::new(replacement, &pattern);
    let is_regex = matches!(pattern.matcher, Matcher::Regex(_));
    let needs_locs = is_regex
        && match action {
            Replace => target_tpl.needs_groups || replacement_tpl.needs_groups,
            LabelMap => replacement_tpl.needs_groups,
            _ => false,
        };
    Ok(Rule {
        action,
        source_labels: cfg.source_labels.clone(),
        separator: separator.to_owned(),
        pattern,
        modulus,
        target_label: target.to_owned(),
        target: target_tpl,
        replacement: replacement_tpl,
        needs_locs,
    })
}
