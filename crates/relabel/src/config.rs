//! `RelabelConfig` as written in YAML, and Prometheus' validation of it.

use std::fmt;

use scrapeline_exposition::labels::is_legacy_label_name;
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

/// The default `separator`.
pub const DEFAULT_SEPARATOR: &str = ";";
/// The default `regex` (anchored as `^(?s:(.*))$`).
pub const DEFAULT_REGEX: &str = "(.*)";
/// The default `replacement`.
pub const DEFAULT_REPLACEMENT: &str = "$1";

/// A relabel action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Action {
    /// `replace` (the default): set `target_label` to the expanded `replacement` if the regex
    /// matches the joined source values.
    #[default]
    Replace,
    /// `keep`: drop the label set unless the regex matches the joined source values.
    Keep,
    /// `drop`: drop the label set if the regex matches the joined source values.
    Drop,
    /// `keepequal`: drop the label set unless the joined source values equal `target_label`'s value.
    KeepEqual,
    /// `dropequal`: drop the label set if the joined source values equal `target_label`'s value.
    DropEqual,
    /// `hashmod`: set `target_label` to `md5(joined values)` (last 8 bytes, big-endian) `% modulus`.
    HashMod,
    /// `labelmap`: copy every label whose name matches to the expanded `replacement`.
    LabelMap,
    /// `labeldrop`: delete every label whose name matches.
    LabelDrop,
    /// `labelkeep`: delete every label whose name does not match.
    LabelKeep,
    /// `lowercase`: set `target_label` to the joined source values, lower-cased (Go rules).
    Lowercase,
    /// `uppercase`: set `target_label` to the joined source values, upper-cased (Go rules).
    Uppercase,
}

impl Action {
    /// Every action, in Prometheus' documentation order.
    pub const ALL: [Action; 11] = [
        Action::Replace,
        Action::Keep,
        Action::Drop,
        Action::KeepEqual,
        Action::DropEqual,
        Action::HashMod,
        Action::LabelMap,
        Action::LabelDrop,
        Action::LabelKeep,
        Action::Lowercase,
        Action::Uppercase,
    ];

    /// The name used in YAML (lower case).
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Replace => "replace",
            Action::Keep => "keep",
            Action::Drop => "drop",
            Action::KeepEqual => "keepequal",
            Action::DropEqual => "dropequal",
            Action::HashMod => "hashmod",
            Action::LabelMap => "labelmap",
            Action::LabelDrop => "labeldrop",
            Action::LabelKeep => "labelkeep",
            Action::Lowercase => "lowercase",
            Action::Uppercase => "uppercase",
        }
    }

    /// Parses an action name case-insensitively, as Prometheus does; the error shows
    /// Prometheus' message (`unknown relabel action "foo"`).
    pub fn parse(s: &str) -> Result<Action, UnknownAction> {
        let lower = s.to_lowercase();
        Action::ALL
            .into_iter()
            .find(|a| a.as_str() == lower)
            .ok_or_else(|| UnknownAction(s.to_owned()))
    }
}

/// An action name Prometheus does not know (the name as written).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown relabel action {}", go_quote(.0))]
pub struct UnknownAction(pub String);

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Action {
    type Err = UnknownAction;
    fn from_str(s: &str) -> Result<Action, UnknownAction> {
        Action::parse(s)
    }
}

impl<'de> Deserialize<'de> for Action {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Action, D::Error> {
        let s = Text::deserialize(d)?.0;
        Action::parse(&s).map_err(de::Error::custom)
    }
}

/// How label names are validated: Prometheus 3's `metric_name_validation_scheme`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum NameValidation {
    /// `utf8` (the 3.x default): any non-empty UTF-8 name.
    #[default]
    Utf8,
    /// `legacy`: `[a-zA-Z_][a-zA-Z0-9_]*`; templated target labels must match
    /// `^(?:(?:[a-zA-Z_]|\$(?:\{\w+\}|\w+))+\w*)+$`.
    Legacy,
}

impl NameValidation {
    /// Whether `name` is a valid label name under this scheme.
    pub fn is_valid(self, name: &str) -> bool {
        match self {
            NameValidation::Utf8 => !name.is_empty(),
            NameValidation::Legacy => is_legacy_label_name(name),
        }
    }

    /// Whether a target label that contains `$` templates is acceptable (Prometheus'
    /// `relabelTargetLegacy` pattern under `legacy`; any non-empty name under `utf8`).
    pub fn is_valid_template(self, name: &str) -> bool {
        match self {
            NameValidation::Utf8 => !name.is_empty(),
            NameValidation::Legacy => is_legacy_template(name),
        }
    }
}

/// `^(?:(?:[a-zA-Z_]|\$(?:\{\w+\}|\w+))+\w*)+$`, written out: the text is a non-empty sequence of
/// `[a-zA-Z_]`, `$word` and `${word}` items followed by word characters, which is the same as:
/// it starts with `[a-zA-Z_]` or a `$`-reference, and consists only of word characters and
/// well-formed `$`-references.
fn is_legacy_template(s: &str) -> bool {
    let b = s.as_bytes();
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let mut i = 0;
    let mut first = true;
    while i < b.len() {
        if b[i] == b'$' {
            i += 1;
            if b.get(i) == Some(&b'{') {
                let start = i + 1;
                let mut j = start;
                while j < b.len() && word(b[j]) {
                    j += 1;
                }
                if j == start || b.get(j) != Some(&b'}') {
                    return false;
                }
                i = j + 1;
            } else {
                let start = i;
                while i < b.len() && word(b[i]) {
                    i += 1;
                }
                if i == start {
                    return false;
                }
            }
        } else if word(b[i]) {
            if first && b[i].is_ascii_digit() {
                return false;
            }
            i += 1;
        } else {
            return false;
        }
        first = false;
    }
    !first
}

/// One relabel rule as written in YAML, with Prometheus' defaults applied.
///
/// [`RelabelConfig::default()`] is Prometheus' `DefaultRelabelConfig`. Deserializing follows
/// Prometheus' YAML rules: a missing field takes the default, an explicit YAML null takes Go's
/// zero value (`regex:` is the empty regex, which matches only `""`; `separator:` and
/// `replacement:` are `""`; `action:` is no action, rejected by validation), scalars such as
/// `regex: 1` are read as their text, action names are case-insensitive and unknown fields are
/// errors. Nothing else is checked here: [`Rule::new`](super::Rule::new) validates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelabelConfig {
    /// Labels whose values are joined with `separator`. `None` when not written (Go's nil
    /// slice), which matters only for `labeldrop`/`labelkeep` (they reject `source_labels: []`).
    pub source_labels: Option<Vec<String>>,
    /// Joins the source values (default `;`).
    pub separator: String,
    /// The regex as written, unanchored. `None` means the default `(.*)` was not written;
    /// `keepequal`/`dropequal` reject any written regex, even `(.*)`.
    pub regex: Option<String>,
    /// Modulus for `hashmod` (0 = not set).
    pub modulus: u64,
    /// Label to write (a template for `replace`).
    pub target_label: String,
    /// Template for the new value (`replace`) or name (`labelmap`); default `$1`.
    pub replacement: String,
    /// The action; `None` only for an explicit `action: null`, rejected by validation.
    pub action: Option<Action>,
}

impl Default for RelabelConfig {
    fn default() -> Self {
        RelabelConfig {
            source_labels: None,
            separator: DEFAULT_SEPARATOR.to_owned(),
            regex: None,
            modulus: 0,
            target_label: String::new(),
            replacement: DEFAULT_REPLACEMENT.to_owned(),
            action: Some(Action::Replace),
        }
    }
}

impl RelabelConfig {
    /// Prometheus' defaults with `action` set (a starting point for building rules in code).
    pub fn new(action: Action) -> Self {
        RelabelConfig {
            action: Some(action),
            ..Self::default()
        }
    }

    /// The regex text in effect (`(.*)` when none was written).
    pub fn regex_str(&self) -> &str {
        self.regex.as_deref().unwrap_or(DEFAULT_REGEX)
    }

    /// The source labels in effect (empty when none were written).
    pub fn source_labels(&self) -> &[String] {
        self.source_labels.as_deref().unwrap_or(&[])
    }

    /// Prometheus' `Config.Validate`, with the same checks in the same order and the same
    /// messages. Returns the field at fault and the message.
    pub(crate) fn validate(&self, scheme: NameValidation) -> Result<(), (&'static str, String)> {
        use Action::*;
        for name in self.source_labels() {
            if !scheme.is_valid(name) {
                return Err((
                    "source_labels",
                    format!("{} is not a valid label name", go_quote(name)),
                ));
            }
        }
        let Some(action) = self.action else {
            return Err(("action", "relabel action cannot be empty".to_owned()));
        };
        let target = self.target_label.as_str();
        let invalid_target = || {
            Err((
                "target_label",
                format!(
                    "{} is invalid 'target_label' for {action} action",
                    go_quote(target)
                ),
            ))
        };
        if self.modulus == 0 && action == HashMod {
            return Err((
                "modulus",
                "relabel configuration for hashmod requires non-zero modulus".to_owned(),
            ));
        }
        let needs_target = matches!(
            action,
            Replace | HashMod | Lowercase | Uppercase | KeepEqual | DropEqual
        );
        if needs_target && target.is_empty() {
            return Err((
                "target_label",
                format!("relabel configuration for {action} action requires 'target_label' value"),
            ));
        }
        let templated = target.contains('$');
        if action == Replace && !templated && !scheme.is_valid(target) {
            return invalid_target();
        }
        if action == Replace && templated && !scheme.is_valid_template(target) {
            return invalid_target();
        }
        let plain_target = matches!(action, Lowercase | Uppercase | KeepEqual | DropEqual);
        if plain_target && !scheme.is_valid(target) {
            return invalid_target();
        }
        if plain_target && self.replacement != DEFAULT_REPLACEMENT {
            return Err((
                "replacement",
                format!("'replacement' can not be set for {action} action"),
            ));
        }
        if action == LabelMap && !scheme.is_valid_template(&self.replacement) {
            return Err((
                "replacement",
                format!(
                    "{} is invalid 'replacement' for {action} action",
                    go_quote(&self.replacement)
                ),
            ));
        }
        if action == HashMod && !scheme.is_valid(target) {
            return invalid_target();
        }
        if matches!(action, KeepEqual | DropEqual)
            && (self.regex.is_some()
                || self.modulus != 0
                || self.separator != DEFAULT_SEPARATOR
                || self.replacement != DEFAULT_REPLACEMENT)
        {
            return Err((
                "action",
                format!(
                    "{action} action requires only 'source_labels' and `target_label`, and no other fields"
                ),
            ));
        }
        if matches!(action, LabelDrop | LabelKeep)
            && (self.source_labels.is_some()
                || !target.is_empty()
                || self.modulus != 0
                || self.separator != DEFAULT_SEPARATOR
                || self.replacement != DEFAULT_REPLACEMENT)
        {
            return Err((
                "action",
                format!("{action} action requires only 'regex', and no other fields"),
            ));
        }
        Ok(())
    }
}

/// Go's `%q` for the strings that appear in messages (valid UTF-8).
pub(crate) fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A YAML scalar read as text, as Go's YAML decoder does for a `string` field (`regex: 1` is
/// the text `1`).
struct Text(String);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Text, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Text;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text, E> {
                Ok(Text(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Text, E> {
                Ok(Text(v))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
        }
        d.deserialize_string(V)
    }
}

/// Present-or-not wrapper: `None` = field absent, `Some(None)` = explicit null.
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    #[serde(default, deserialize_with = "present")]
    source_labels: Option<Option<Vec<Text>>>,
    #[serde(default, deserialize_with = "present")]
    separator: Option<Option<Text>>,
    #[serde(default, deserialize_with = "present")]
    regex: Option<Option<Text>>,
    #[serde(default, deserialize_with = "present")]
    modulus: Option<Option<u64>>,
    #[serde(default, deserialize_with = "present")]
    target_label: Option<Option<Text>>,
    #[serde(default, deserialize_with = "present")]
    replacement: Option<Option<Text>>,
    #[serde(default, deserialize_with = "present")]
    action: Option<Option<Action>>,
}

impl<'de> Deserialize<'de> for RelabelConfig {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<RelabelConfig, D::Error> {
        let raw = Raw::deserialize(d)?;
        let def = RelabelConfig::default();
        // Absent → default; null → Go's zero value; value → value.
        fn text(f: Option<Option<Text>>, default: String) -> String {
            match f {
                None => default,
                Some(None) => String::new(),
                Some(Some(t)) => t.0,
            }
        }
        Ok(RelabelConfig {
            source_labels: raw
                .source_labels
                .flatten()
                .map(|v| v.into_iter().map(|t| t.0).collect()),
            separator: text(raw.separator, def.separator),
            regex: raw.regex.map(|r| r.map(|t| t.0).unwrap_or_default()),
            modulus: raw.modulus.flatten().unwrap_or(0),
            target_label: text(raw.target_label, def.target_label),
            replacement: text(raw.replacement, def.replacement),
            action: match raw.action {
                None => def.action,
                Some(a) => a,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_template_pattern() {
        for (s, ok) in [
            ("label", true),
            ("-label", false),
            ("${1}label", true),
            ("${", false),
            ("$", false),
            ("${}", false),
            ("$1", true),
            ("asd$2asd", true),
            ("_${1}_", true),
            ("1abc", false),
            ("$1abc", true),
            ("foo${bar}foo", true),
            ("bar.foo${1}bar", false),
        ] {
            assert_eq!(is_legacy_template(s), ok, "{s}");
        }
    }

    #[test]
    fn action_names() {
        assert_eq!(Action::parse("KeepEqual"), Ok(Action::KeepEqual));
        assert_eq!(
            Action::parse("foo").unwrap_err().to_string(),
            "unknown relabel action \"foo\""
        );
    }
}
