//! Relabeling with Prometheus' exact semantics.
//!
//! CONTRACT STUB: the public types and signatures below are fixed (the scrape crate and the
//! binary code against them); the implementation is being written.

use scrapeline_exposition::LabelsBuilder;
use serde::Deserialize;

/// A relabel action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Action {
    /// `replace` (the default).
    #[default]
    Replace,
    /// `keep`.
    Keep,
    /// `drop`.
    Drop,
    /// `keepequal`.
    KeepEqual,
    /// `dropequal`.
    DropEqual,
    /// `hashmod`.
    HashMod,
    /// `labelmap`.
    LabelMap,
    /// `labeldrop`.
    LabelDrop,
    /// `labelkeep`.
    LabelKeep,
    /// `lowercase`.
    Lowercase,
    /// `uppercase`.
    Uppercase,
}

/// One relabel rule as written in YAML, with Prometheus' defaults applied.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
pub struct RelabelConfig {}

/// Why a rule (or a list of rules) was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("relabel rule {index}: {message}")]
pub struct RelabelError {
    /// 0-based position of the rule in its list.
    pub index: usize,
    /// What is wrong, naming the field.
    pub message: String,
}

/// A compiled rule, ready to apply.
#[derive(Debug, Clone)]
pub struct Rule {}

impl Rule {
    /// Validates and compiles one rule (`index` is used in the error).
    pub fn new(config: &RelabelConfig, index: usize) -> Result<Rule, RelabelError> {
        let _ = (config, index);
        todo!()
    }
}

/// Validates and compiles a list of rules.
pub fn compile(configs: &[RelabelConfig]) -> Result<Vec<Rule>, RelabelError> {
    configs
        .iter()
        .enumerate()
        .map(|(i, c)| Rule::new(c, i))
        .collect()
}

/// Applies `rules` in order to `labels`; returns `false` when a rule dropped the set (the
/// builder's content is then unspecified).
pub fn relabel(rules: &[Rule], labels: &mut LabelsBuilder) -> bool {
    let _ = (rules, labels);
    todo!()
}
