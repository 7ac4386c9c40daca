//! Kubernetes label selectors (`labelSelector=`) as apimachinery's `labels.Parse` reads
//! them, so `kubectl top pod -l app=web` selects on `metrics.k8s.io` exactly as it does on
//! metrics-server.
//!
//! Grammar: requirements separated by `,`, each one of `key`, `!key`, `key=value`,
//! `key==value`, `key!=value`, `key in (v1,v2)`, `key notin (v1,v2)`. Keys are qualified
//! names (an optional DNS-subdomain prefix and `/`), values at most 63 characters of
//! alphanumerics, `-`, `_` and `.`, starting and ending alphanumeric (or empty).

use std::collections::BTreeMap;

/// A selector string that apimachinery would refuse; the message is the API server's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectorError(pub String);

impl std::fmt::Display for SelectorError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Requirement {
    Exists(String),
    NotExists(String),
    Equals(String, String),
    NotEquals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
}

impl Requirement {
    fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let get = |k: &String| labels.get(k).map(String::as_str);
        match self {
            Requirement::Exists(k) => labels.contains_key(k),
            Requirement::NotExists(k) => !labels.contains_key(k),
            Requirement::Equals(k, v) => get(k) == Some(v.as_str()),
            // apimachinery: `!=` also selects objects without the key.
            Requirement::NotEquals(k, v) => get(k) != Some(v.as_str()),
            Requirement::In(k, vs) => get(k).is_some_and(|x| vs.iter().any(|v| v == x)),
            Requirement::NotIn(k, vs) => get(k).is_none_or(|x| vs.iter().all(|v| v != x)),
        }
    }
}

/// A parsed label selector; the empty selector selects everything.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LabelSelector(Vec<Requirement>);

impl LabelSelector {
    /// Parses `s`; `Err` carries the message the API server answers with (HTTP 400).
    pub fn parse(s: &str) -> Result<Self, SelectorError> {
        let mut requirements = Vec::new();
        for part in split_outside_parens(s) {
            let part = part.trim();
            if part.is_empty() {
                if s.trim().is_empty() {
                    continue;
                }
                return Err(SelectorError(format!(
                    "unable to parse requirement: found ',', expected: identifier in {s:?}"
                )));
            }
            requirements.push(parse_requirement(part)?);
        }
        Ok(LabelSelector(requirements))
    }

    /// Whether an object with `labels` is selected.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.0.iter().all(|r| r.matches(labels))
    }
}

/// Splits on commas that are not inside a `( … )` value set.
fn split_outside_parens(s: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

fn parse_requirement(part: &str) -> Result<Requirement, SelectorError> {
    if let Some(key) = part.strip_prefix('!') {
        return Ok(Requirement::NotExists(key_of(key.trim())?));
    }
    for (op, make) in [
        (
            "!=",
            Requirement::NotEquals as fn(String, String) -> Requirement,
        ),
        ("==", Requirement::Equals),
        ("=", Requirement::Equals),
    ] {
        if let Some((k, v)) = part.split_once(op) {
            return Ok(make(key_of(k.trim())?, value_of(v.trim())?));
        }
    }
    for (op, make) in [
        (
            " notin ",
            Requirement::NotIn as fn(String, Vec<String>) -> Requirement,
        ),
        (" in ", Requirement::In),
    ] {
        if let Some((k, set)) = part.split_once(op) {
            return Ok(make(key_of(k.trim())?, value_set(set.trim())?));
        }
    }
    Ok(Requirement::Exists(key_of(part)?))
}

fn value_set(s: &str) -> Result<Vec<String>, SelectorError> {
    let inner = s
        .strip_prefix('(')
        .and_then(|x| x.strip_suffix(')'))
        .ok_or_else(|| {
            SelectorError(format!(
                "unable to parse requirement: found '{s}', expected: '('"
            ))
        })?;
    let values = inner
        .split(',')
        .map(|v| value_of(v.trim()))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(values)
}

fn is_alnum(c: char) -> bool {
    c.is_ascii_alphanumeric()
}

/// A label value: empty, or ≤ 63 of `[A-Za-z0-9_.-]`, alphanumeric at both ends.
fn value_of(v: &str) -> Result<String, SelectorError> {
    let ok = v.is_empty()
        || (v.len() <= 63
            && v.starts_with(is_alnum)
            && v.ends_with(is_alnum)
            && v.chars().all(|c| is_alnum(c) || "-_.".contains(c)));
    if ok {
        Ok(v.to_owned())
    } else {
        Err(SelectorError(format!(
            "values[0][{v}]: Invalid value: {v:?}: a valid label must be an empty string or \
             consist of alphanumeric characters, '-', '_' or '.', and must start and end with \
             an alphanumeric character"
        )))
    }
}

/// A label key: `[prefix/]name`, name as a value (non-empty), prefix a DNS subdomain.
fn key_of(k: &str) -> Result<String, SelectorError> {
    let (prefix, name) = match k.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, k),
    };
    let name_ok = !name.is_empty() && value_of(name).is_ok();
    let prefix_ok = prefix.is_none_or(|p| {
        !p.is_empty()
            && p.len() <= 253
            && p.split('.').all(|l| {
                !l.is_empty()
                    && l.starts_with(is_alnum)
                    && l.ends_with(is_alnum)
                    && l.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            })
    });
    if name_ok && prefix_ok {
        Ok(k.to_owned())
    } else {
        Err(SelectorError(format!(
            "key: Invalid value: {k:?}: name part must consist of alphanumeric characters, \
             '-', '_' or '.', and must start and end with an alphanumeric character"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn every_operator_selects_as_apimachinery() {
        let web = labels(&[("app.kubernetes.io/name", "web"), ("tier", "front")]);
        let db = labels(&[("app.kubernetes.io/name", "db")]);
        let none = labels(&[]);
        let cases: &[(&str, [bool; 3])] = &[
            ("", [true, true, true]),
            ("app.kubernetes.io/name=web", [true, false, false]),
            ("app.kubernetes.io/name==web", [true, false, false]),
            ("app.kubernetes.io/name!=web", [false, true, true]),
            ("tier", [true, false, false]),
            ("!tier", [false, true, true]),
            ("app.kubernetes.io/name in (db, web)", [true, true, false]),
            ("app.kubernetes.io/name notin (web)", [false, true, true]),
            (
                "app.kubernetes.io/name in (web,db),tier=front",
                [true, false, false],
            ),
            (" tier = front ", [true, false, false]),
            // `=` needs the key present, even for the empty value.
            ("tier=", [false, false, false]),
        ];
        for (s, want) in cases {
            let sel = LabelSelector::parse(s).unwrap_or_else(|e| panic!("{s:?}: {e}"));
            let got = [sel.matches(&web), sel.matches(&db), sel.matches(&none)];
            assert_eq!(&got, want, "{s:?}");
        }
    }

    #[test]
    fn malformed_selectors_are_refused() {
        for s in [
            "a=b,,c",
            "a in b",
            "a in (b",
            "-a=b",
            "a=-b",
            "a=b c",
            "Example.com/a=b",
            "/a",
            "a=b=c",
        ] {
            assert!(LabelSelector::parse(s).is_err(), "{s:?} parsed");
        }
        assert_eq!(
            LabelSelector::parse("a=b,,c").unwrap_err().to_string(),
            "unable to parse requirement: found ',', expected: identifier in \"a=b,,c\""
        );
    }
}
