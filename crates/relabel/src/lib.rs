//! Relabeling with Prometheus 3's exact semantics, compiled once and applied without
//! allocating on the common path.
//!
//! Relabeling rewrites a label set with an ordered list of rules: discovered targets
//! (`relabel_configs`) and scraped series (`metric_relabel_configs`) go through the same
//! machinery. Users bring the rules they already run in Prometheus, so every rule here does
//! exactly what it does there:
//!
//! - regexes are Go RE2, anchored as `^(?s:RE)$`: `\d \w \s \b` are ASCII, `\Q…\E` and octal
//!   escapes work, `(?x)`, repeat counts over 1000 and `a**` are rejected — the pattern is
//!   checked with Go's parser rules and translated for the `regex` crate ([`Regex`]);
//! - `$1`, `${1}`, `$name` expand as Go's `Regexp.Expand` (`$1x` names group `1x`, `$01` is a
//!   name, malformed references stay literal), in `replacement` and in a `replace` rule's
//!   `target_label`;
//! - `lowercase`/`uppercase` map one character at a time like Go (`ß` stays `ß`);
//! - `hashmod` is bit-for-bit Prometheus' (MD5, last 8 bytes big-endian, modulo);
//! - an empty value deletes the label; the first failing `keep`/`drop` drops the set;
//! - validation rejects what Prometheus rejects, with its messages, naming the rule and field.
//!
//! # Example
//!
//! ```
//! use scrapeline_exposition::labels::{Labels, LabelsBuilder};
//! use scrapeline_relabel::{self as relabel, RelabelConfig};
//!
//! let yaml = r#"
//! - source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_scrape]
//!   action: keep
//!   regex: "true"
//! - action: labelmap
//!   regex: __meta_kubernetes_pod_label_(.+)
//! - source_labels: [__meta_kubernetes_namespace]
//!   target_label: namespace
//! "#;
//! let configs: Vec<RelabelConfig> = serde_saphyr::from_str(yaml).unwrap();
//! let rules = relabel::compile(&configs).unwrap(); // once, at config load
//!
//! let target = Labels::from_pairs([
//!     ("__meta_kubernetes_pod_annotation_prometheus_io_scrape", "true"),
//!     ("__meta_kubernetes_pod_label_app", "web"),
//!     ("__meta_kubernetes_namespace", "shop"),
//! ]);
//! let mut b = LabelsBuilder::from_labels(&target);
//! assert!(relabel::relabel(&rules, &mut b)); // false would mean "dropped"
//! assert_eq!(b.get("app"), Some("web"));
//! assert_eq!(b.get("namespace"), Some("shop"));
//!
//! // Validation names the rule and the field, with Prometheus' message.
//! let bad: Vec<RelabelConfig> = serde_saphyr::from_str("- action: hashmod").unwrap();
//! let err = relabel::compile(&bad).unwrap_err();
//! assert_eq!(err.index, 0);
//! assert_eq!(err.field, "modulus");
//! assert_eq!(
//!     err.to_string(),
//!     "relabel rule 0: relabel configuration for hashmod requires non-zero modulus"
//! );
//! ```
//!
//! # Why not just the `regex` crate and `str::to_uppercase`?
//! They read and match a slightly different language: `\d` would match Arabic-Indic digits,
//! `\s` would match `\v`, `(?x)` would silently change a rule's meaning, `$01` would mean
//! group 1, `ß` would become `SS`. Each difference is a target that Prometheus keeps and we
//! drop (or the reverse); this module closes every one its test vectors and Go's source show.
//!
//! # Speed
//! Rules are compiled once. Matching the default `(.*)`, `(.+)`, literals, alternations of
//! literals and literal prefixes (`__meta_kubernetes_pod_label_(.+)`) skips the regex engine;
//! constant templates are pre-expanded. Working buffers live in a per-thread scratch area, so
//! a rule chain that changes nothing allocates nothing (tested with a counting allocator), and
//! one that adds labels allocates only while the builder grows.
//!
//! # Deviation
//! A `labelmap` whose expanded name is not a valid label name (empty, or not legacy under the
//! `legacy` scheme) is skipped; Prometheus would create the label and reject the target or
//! series later.

mod case;
mod config;
mod expand;
mod pattern;
mod re2;

use std::cell::RefCell;
use std::fmt::Write as _;

use md5::{Digest, Md5};
use scrapeline_exposition::LabelsBuilder;

pub use config::{
    Action, DEFAULT_REGEX, DEFAULT_REPLACEMENT, DEFAULT_SEPARATOR, NameValidation, RelabelConfig,
    UnknownAction,
};
use expand::Template;
pub use pattern::{Regex, RegexError};

/// Why a rule (or a list of rules) was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("relabel rule {index}: {message}")]
pub struct RelabelError {
    /// 0-based position of the rule in its list.
    pub index: usize,
    /// The field at fault (`regex`, `target_label`, `modulus`, `replacement`, `action`,
    /// `source_labels`, or `rule` for a null entry).
    pub field: &'static str,
    /// What is wrong: Prometheus' message, naming the field.
    pub message: String,
}

/// Which list a rule comes from, for the "null rule" message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleKind {
    /// `relabel_configs` (targets).
    Target,
    /// `metric_relabel_configs` (scraped series).
    Metric,
}

/// A compiled rule, ready to apply.
#[derive(Debug, Clone)]
pub struct Rule {
    config: RelabelConfig,
    action: Action,
    source_labels: Box<[Box<str>]>,
    separator: Box<str>,
    regex: Regex,
    modulus: u64,
    target_label: Box<str>,
    target: Template,
    replacement: Template,
    scheme: NameValidation,
}

impl Rule {
    /// Validates and compiles one rule (`index` is used in the error), with the `utf8` name
    /// validation scheme (Prometheus 3's default).
    pub fn new(config: &RelabelConfig, index: usize) -> Result<Rule, RelabelError> {
        Rule::with_validation(config, index, NameValidation::Utf8)
    }

    /// Validates and compiles one rule under a name validation scheme.
    pub fn with_validation(
        config: &RelabelConfig,
        index: usize,
        scheme: NameValidation,
    ) -> Result<Rule, RelabelError> {
        let fail = |field: &'static str, message: String| RelabelError {
            index,
            field,
            message,
        };
        // Go compiles the regex while decoding, before validating.
        let regex = Regex::new(config.regex_str())
            .map_err(|e| fail("regex", format!("invalid 'regex': {e}")))?;
        config
            .validate(scheme)
            .map_err(|(field, message)| fail(field, message))?;
        let action = config.action.unwrap_or_default();
        Ok(Rule {
            action,
            source_labels: config
                .source_labels()
                .iter()
                .map(|s| s.as_str().into())
                .collect(),
            separator: config.separator.as_str().into(),
            target: Template::parse(&config.target_label, &regex),
            replacement: Template::parse(&config.replacement, &regex),
            target_label: config.target_label.as_str().into(),
            modulus: config.modulus,
            regex,
            scheme,
            config: config.clone(),
        })
    }

    /// The action.
    pub fn action(&self) -> Action {
        self.action
    }

    /// The configuration this rule was compiled from.
    pub fn config(&self) -> &RelabelConfig {
        &self.config
    }

    /// The compiled regex.
    pub fn regex(&self) -> &Regex {
        &self.regex
    }

    /// A copy whose regex always runs the engine (to test fast paths against).
    #[doc(hidden)]
    pub fn without_fast_path(&self) -> Rule {
        let mut r = self.clone();
        r.regex = r.regex.without_fast_path();
        r
    }
}

/// Validates and compiles a list of rules (`utf8` name validation).
pub fn compile(configs: &[RelabelConfig]) -> Result<Vec<Rule>, RelabelError> {
    compile_with(configs, NameValidation::Utf8)
}

/// Validates and compiles a list of rules under a name validation scheme.
pub fn compile_with(
    configs: &[RelabelConfig],
    scheme: NameValidation,
) -> Result<Vec<Rule>, RelabelError> {
    configs
        .iter()
        .enumerate()
        .map(|(i, c)| Rule::with_validation(c, i, scheme))
        .collect()
}

/// Validates and compiles a list read from YAML as `Vec<Option<RelabelConfig>>`, rejecting a
/// null entry (`- ` with no content) as Prometheus does ("empty or null target relabeling
/// rule").
pub fn compile_entries(
    entries: &[Option<RelabelConfig>],
    kind: RuleKind,
    scheme: NameValidation,
) -> Result<Vec<Rule>, RelabelError> {
    entries
        .iter()
        .enumerate()
        .map(|(i, c)| match c {
            Some(c) => Rule::with_validation(c, i, scheme),
            None => Err(RelabelError {
                index: i,
                field: "rule",
                message: format!(
                    "empty or null {} relabeling rule",
                    match kind {
                        RuleKind::Target => "target",
                        RuleKind::Metric => "metric",
                    }
                ),
            }),
        })
        .collect()
}

/// Applies `rules` in order to `labels`; returns `false` when a rule dropped the set (the
/// builder's content is then unspecified).
pub fn relabel(rules: &[Rule], labels: &mut LabelsBuilder) -> bool {
    if rules.is_empty() {
        return true;
    }
    SCRATCH.with(|s| match s.try_borrow_mut() {
        Ok(mut s) => apply_all(rules, labels, &mut s),
        Err(_) => apply_all(rules, labels, &mut Scratch::default()),
    })
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// Reusable working memory for one thread.
#[derive(Default)]
struct Scratch {
    value: String,
    name: String,
    out: String,
    /// Names set by rules in this chain, in Go's `labels.Builder` "add" order (only tracked
    /// when the chain has a `labelmap`, the one action whose result depends on it).
    added: Vec<String>,
    added_len: usize,
    track: bool,
    /// `labelmap`'s snapshot of matching labels.
    snapshot: Vec<(String, String)>,
}

impl Scratch {
    fn note_set(&mut self, name: &str) {
        if !self.track || self.added[..self.added_len].iter().any(|n| n == name) {
            return;
        }
        if self.added_len < self.added.len() {
            let s = &mut self.added[self.added_len];
            s.clear();
            s.push_str(name);
        } else {
            self.added.push(name.to_owned());
        }
        self.added_len += 1;
    }

    fn note_del(&mut self, name: &str) {
        if !self.track {
            return;
        }
        if let Some(i) = self.added[..self.added_len].iter().position(|n| n == name) {
            self.added[i..self.added_len].rotate_left(1);
            self.added_len -= 1;
        }
    }
}

/// Sets (or, for an empty value, deletes) a label, keeping the add-order bookkeeping.
fn set(b: &mut LabelsBuilder, s: &mut Scratch, name: &str, value: &str) {
    b.set(name, value);
    if value.is_empty() {
        s.note_del(name);
    } else {
        s.note_set(name);
    }
}

fn apply_all(rules: &[Rule], b: &mut LabelsBuilder, s: &mut Scratch) -> bool {
    s.added_len = 0;
    s.track = rules.iter().any(|r| r.action == Action::LabelMap);
    rules.iter().all(|r| apply(r, b, s))
}

/// Applies one rule; `false` = dropped.
fn apply(r: &Rule, b: &mut LabelsBuilder, s: &mut Scratch) -> bool {
    let mut value = std::mem::take(&mut s.value);
    value.clear();
    for (i, name) in r.source_labels.iter().enumerate() {
        if i > 0 {
            value.push_str(&r.separator);
        }
        value.push_str(b.get(name).unwrap_or(""));
    }
    let keep = apply_value(r, b, s, &value);
    s.value = value;
    keep
}

fn apply_value(r: &Rule, b: &mut LabelsBuilder, s: &mut Scratch, val: &str) -> bool {
    match r.action {
        Action::Drop => return !r.regex.is_match(val),
        Action::Keep => return r.regex.is_match(val),
        Action::DropEqual => return b.get(&r.target_label).unwrap_or("") != val,
        Action::KeepEqual => return b.get(&r.target_label).unwrap_or("") == val,
        Action::Replace => replace(r, b, s, val),
        Action::Lowercase | Action::Uppercase => {
            let mut out = std::mem::take(&mut s.out);
            out.clear();
            if r.action == Action::Lowercase {
                case::push_lower(&mut out, val);
            } else {
                case::push_upper(&mut out, val);
            }
            set(b, s, &r.target_label, &out);
            s.out = out;
        }
        Action::HashMod => {
            let mut out = std::mem::take(&mut s.out);
            out.clear();
            let _ = write!(out, "{}", hashmod(val, r.modulus));
            set(b, s, &r.target_label, &out);
            s.out = out;
        }
        Action::LabelMap => labelmap(r, b, s),
        Action::LabelDrop => {
            b.retain(|n, _| !r.regex.is_match(n));
            forget_deleted(b, s);
        }
        Action::LabelKeep => {
            b.retain(|n, _| r.regex.is_match(n));
            forget_deleted(b, s);
        }
    }
    true
}

fn forget_deleted(b: &LabelsBuilder, s: &mut Scratch) {
    if !s.track {
        return;
    }
    let mut i = 0;
    while i < s.added_len {
        if b.get(&s.added[i]).is_none() {
            s.added[i..s.added_len].rotate_left(1);
            s.added_len -= 1;
        } else {
            i += 1;
        }
    }
}

/// Prometheus' `hashmod`: MD5 of the value, the last 8 bytes as a big-endian `u64`, modulo.
pub fn hashmod(value: &str, modulus: u64) -> u64 {
    let d = Md5::digest(value.as_bytes());
    let mut last = [0u8; 8];
    last.copy_from_slice(&d[8..16]);
    u64::from_be_bytes(last).checked_rem(modulus).unwrap_or(0)
}

fn replace(r: &Rule, b: &mut LabelsBuilder, s: &mut Scratch, val: &str) {
    let (Some(target), Some(repl)) = (r.target.constant(), r.replacement.constant()) else {
        return replace_expanding(r, b, s, val);
    };
    // Constant templates: only whether the regex matches matters.
    if !r.regex.is_match(val) || !r.scheme.is_valid(target) {
        return;
    }
    set(b, s, target, repl);
}

fn replace_expanding(r: &Rule, b: &mut LabelsBuilder, s: &mut Scratch, val: &str) {
    let mut name = std::mem::take(&mut s.name);
    let mut out = std::mem::take(&mut s.out);
    name.clear();
    out.clear();
    let matched = r
        .regex
        .with_captures(val, |caps| {
            r.target.expand(&mut name, val, caps);
            r.replacement.expand(&mut out, val, caps);
        })
        .is_some();
    if matched && r.scheme.is_valid(&name) {
        set(b, s, &name, &out);
    }
    s.name = name;
    s.out = out;
}

fn labelmap(r: &Rule, b: &mut LabelsBuilder, s: &mut Scratch) {
    // Snapshot the matching labels in Go's `Builder.Range` order: labels no rule touched, in
    // name order, then labels set by earlier rules, in the order they were first set.
    let mut snap = std::mem::take(&mut s.snapshot);
    let mut n = 0;
    let mut push = |snap: &mut Vec<(String, String)>, name: &str, value: &str| {
        if n < snap.len() {
            let e = &mut snap[n];
            e.0.clear();
            e.0.push_str(name);
            e.1.clear();
            e.1.push_str(value);
        } else {
            snap.push((name.to_owned(), value.to_owned()));
        }
        n += 1;
    };
    let added = &s.added[..s.added_len];
    for l in b.iter() {
        if r.regex.is_match(l.name) && !added.iter().any(|a| a == l.name) {
            push(&mut snap, l.name, l.value);
        }
    }
    for a in added {
        if let Some(v) = b.get(a)
            && r.regex.is_match(a)
        {
            push(&mut snap, a, v);
        }
    }
    let mut name = std::mem::take(&mut s.name);
    for (ln, lv) in &snap[..n] {
        name.clear();
        r.regex.replace_all_into(&mut name, ln, &r.replacement);
        if r.scheme.is_valid(&name) {
            set(b, s, &name, lv);
        }
    }
    s.name = name;
    s.snapshot = snap;
}

#[cfg(test)]
mod tests {
    use super::*;
    use scrapeline_exposition::labels::Labels;

    fn yaml(s: &str) -> RelabelConfig {
        serde_saphyr::from_str(s).expect("yaml")
    }

    #[test]
    fn rules_are_shareable() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<Rule>();
        send_sync::<Regex>();
    }

    #[test]
    fn yaml_scalars_are_text() {
        assert_eq!(yaml("regex: 1.50").regex.as_deref(), Some("1.50"));
        assert_eq!(yaml("regex: true").regex.as_deref(), Some("true"));
        assert_eq!(yaml("regex: 0x1F").regex.as_deref(), Some("0x1F"));
        assert_eq!(yaml("regex: ~").regex.as_deref(), Some(""));
        assert_eq!(yaml("separator: ''").separator, "");
        assert_eq!(yaml("{}"), RelabelConfig::default());
        assert!(serde_saphyr::from_str::<RelabelConfig>("regexp: a").is_err());
        let e = serde_saphyr::from_str::<RelabelConfig>("action: nope")
            .expect_err("unknown action")
            .to_string();
        assert!(e.contains("unknown relabel action \"nope\""), "{e}");
    }

    #[test]
    fn errors_name_rule_and_field() {
        let configs = [
            RelabelConfig {
                target_label: "a".into(),
                ..RelabelConfig::default()
            },
            RelabelConfig {
                regex: Some("a(".into()),
                target_label: "b".into(),
                ..RelabelConfig::default()
            },
        ];
        let e = compile(&configs).expect_err("bad regex");
        assert_eq!((e.index, e.field), (1, "regex"));
        assert_eq!(
            e.to_string(),
            "relabel rule 1: invalid 'regex': error parsing regexp: missing closing ): `^(?s:a()$`"
        );
        let e = compile_entries(&[None], RuleKind::Metric, NameValidation::Utf8)
            .expect_err("null rule");
        assert_eq!(e.message, "empty or null metric relabeling rule");
    }

    #[test]
    fn labelmap_order_follows_deletions() {
        // a_x is set, deleted, then set again: it is an "added" label, visited last.
        let rules = compile(&[
            yaml("{target_label: a_x, replacement: one}"),
            yaml("{action: labeldrop, regex: a_x}"),
            yaml("{target_label: a_x, replacement: two}"),
            yaml("{action: labelmap, regex: '[ab]_(.*)'}"),
        ])
        .expect("valid");
        let mut b = LabelsBuilder::from_labels(&Labels::from_pairs([("b_x", "base")]));
        assert!(relabel(&rules, &mut b));
        assert_eq!(
            b.labels(),
            Labels::from_pairs([("a_x", "two"), ("b_x", "base"), ("x", "two")])
        );
    }
}
