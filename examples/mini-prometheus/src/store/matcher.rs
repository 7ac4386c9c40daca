//! Label matchers (`=`, `!=`, `=~`, `!~`) with Prometheus' semantics.
//!
//! An absent label matches as the empty string, and regular expressions are fully anchored as
//! Prometheus 3 anchors them: `^(?s:RE)$`.

use regex::Regex;
use scrapeline_exposition::Labels;

/// How a matcher compares a label value.
#[derive(Debug, Clone)]
pub enum MatchOp {
    /// `name="value"`.
    Equal(String),
    /// `name!="value"`.
    NotEqual(String),
    /// `name=~"re"`, anchored.
    Regex(Regex),
    /// `name!~"re"`, anchored.
    NotRegex(Regex),
}

/// One label matcher.
#[derive(Debug, Clone)]
pub struct Matcher {
    /// The label name the matcher looks at.
    pub name: String,
    /// The comparison.
    pub op: MatchOp,
}

/// Why a matcher could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid regular expression {pattern:?}: {message}")]
pub struct MatcherError {
    /// The pattern as written.
    pub pattern: String,
    /// What the regex engine said.
    pub message: String,
}

impl Matcher {
    /// `name="value"`.
    pub fn equal(name: &str, value: &str) -> Matcher {
        Matcher {
            name: name.to_owned(),
            op: MatchOp::Equal(value.to_owned()),
        }
    }

    /// `name!="value"`.
    pub fn not_equal(name: &str, value: &str) -> Matcher {
        Matcher {
            name: name.to_owned(),
            op: MatchOp::NotEqual(value.to_owned()),
        }
    }

    /// `name=~"re"`, anchored as `^(?s:re)$`.
    pub fn regex(name: &str, re: &str) -> Result<Matcher, MatcherError> {
        Ok(Matcher {
            name: name.to_owned(),
            op: MatchOp::Regex(anchored(re)?),
        })
    }

    /// `name!~"re"`, anchored as `^(?s:re)$`.
    pub fn not_regex(name: &str, re: &str) -> Result<Matcher, MatcherError> {
        Ok(Matcher {
            name: name.to_owned(),
            op: MatchOp::NotRegex(anchored(re)?),
        })
    }

    /// Whether `value` (the empty string for an absent label) satisfies the matcher.
    pub fn matches_value(&self, value: &str) -> bool {
        match &self.op {
            MatchOp::Equal(v) => value == v,
            MatchOp::NotEqual(v) => value != v,
            MatchOp::Regex(re) => re.is_match(value),
            MatchOp::NotRegex(re) => !re.is_match(value),
        }
    }

    /// Whether the label set satisfies the matcher.
    pub fn matches(&self, labels: &Labels) -> bool {
        self.matches_value(labels.get(&self.name).unwrap_or(""))
    }

    /// The metric name this matcher pins, if it is `__name__="x"`: lets the store use its
    /// name index instead of scanning every series.
    pub fn pinned_name(&self) -> Option<&str> {
        match &self.op {
            MatchOp::Equal(v) if self.name == scrapeline_exposition::labels::METRIC_NAME => Some(v),
            _ => None,
        }
    }
}

/// Whether every matcher of the set matches `labels`.
pub fn matches_all(matchers: &[Matcher], labels: &Labels) -> bool {
    matchers.iter().all(|m| m.matches(labels))
}

fn anchored(re: &str) -> Result<Regex, MatcherError> {
    Regex::new(&format!("^(?s:{re})$")).map_err(|e| MatcherError {
        pattern: re.to_owned(),
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ls() -> Labels {
        Labels::from_pairs([("__name__", "up"), ("job", "node"), ("path", "a\nb")])
    }

    #[test]
    fn equality_and_absent_labels() {
        assert!(Matcher::equal("job", "node").matches(&ls()));
        assert!(!Matcher::equal("job", "nod").matches(&ls()));
        assert!(Matcher::equal("missing", "").matches(&ls()));
        assert!(!Matcher::not_equal("missing", "").matches(&ls()));
        assert!(Matcher::not_equal("job", "x").matches(&ls()));
    }

    #[test]
    fn regexes_are_anchored_and_dot_matches_newline() {
        let m = Matcher::regex("job", "no").unwrap();
        assert!(!m.matches(&ls()));
        assert!(Matcher::regex("job", "no.*").unwrap().matches(&ls()));
        assert!(Matcher::regex("job", "a|node").unwrap().matches(&ls()));
        assert!(Matcher::regex("path", "a.b").unwrap().matches(&ls()));
        assert!(Matcher::not_regex("job", "x.*").unwrap().matches(&ls()));
        assert!(!Matcher::not_regex("job", "n.*").unwrap().matches(&ls()));
        assert!(Matcher::regex("missing", ".*").unwrap().matches(&ls()));
    }

    #[test]
    fn bad_regex_is_an_error() {
        let err = Matcher::regex("job", "(").unwrap_err();
        assert_eq!(err.pattern, "(");
    }

    #[test]
    fn pinned_name() {
        assert_eq!(Matcher::equal("__name__", "up").pinned_name(), Some("up"));
        assert_eq!(Matcher::equal("job", "up").pinned_name(), None);
    }
}
