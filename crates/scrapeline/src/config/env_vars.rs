//! `--config.expand-env` ([`Config::load_file_with`](crate::Config::load_file_with)): environment variables in the config file text, replaced before the
//! YAML is parsed, so one ConfigMap serves every replica (`modulus: ${SHARDS}`, the node name
//! in a field selector).
//!
//! The syntax is Go's `os.ExpandEnv` (what Grafana Agent's and Mimir's `-config.expand-env`
//! and Prometheus' own `external_labels` expansion build on): `$VAR` and `${VAR}`; an unset
//! variable expands to the empty string; a `$` followed by nothing that can start a name stays
//! (`foo$`, `$"`); `${}` and an unclosed `${` are dropped as Go drops them. Two additions, both
//! there so that relabel templates survive the flag:
//!
//! - `$$` is a literal `$` (Prometheus' mapping for `external_labels`), the escape for
//!   anything that must not be expanded, e.g. a named group `$${name}`.
//! - A name made only of digits (`$1`, `${2}`) is a regex group reference in a relabel
//!   `replacement`, never an environment variable (POSIX names cannot start with a digit): it
//!   is kept as written, where Go would replace it with the empty string and silently break
//!   every `replacement: $1:$2`.
//!
//! Expansion never fails; the YAML parser then reports errors against the expanded text, with
//! the file's name, line and field.

/// The process environment; a value that is not UTF-8 is read lossily rather than dropped.
pub(crate) fn env_lookup(name: &str) -> Option<String> {
    // `var_os` panics on names with `=` or NUL on some platforms; such names are never set.
    if name.is_empty() || name.contains(['=', '\0']) {
        return None;
    }
    std::env::var_os(name).map(|v| v.to_string_lossy().into_owned())
}

/// Go's `os.Expand(text, mapping)` with the mapping described in the module docs: `lookup`
/// gives a variable's value (`None`: unset, expands to nothing).
pub fn expand(text: &str, lookup: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(dollar) = rest.find('$') {
        out.push_str(&rest[..dollar]);
        let after = &rest[dollar + 1..];
        if after.is_empty() {
            // A `$` ending the text stays.
            out.push('$');
            return out;
        }
        let reference = shell_name(after);
        let written = &rest[dollar..dollar + 1 + reference.width];
        match reference.name {
            Name::Invalid => {}
            Name::None => out.push('$'),
            Name::Var("$") => out.push('$'),
            Name::Var(name) if name.bytes().all(|b| b.is_ascii_digit()) => out.push_str(written),
            Name::Var(name) => out.push_str(&lookup(name).unwrap_or_default()),
        }
        rest = &after[reference.width..];
    }
    out.push_str(rest);
    out
}

/// What follows a `$`.
enum Name<'a> {
    /// A variable name (`$NAME`, `${NAME}`, or one special character such as `$$`).
    Var(&'a str),
    /// Nothing that starts a name: the `$` is literal.
    None,
    /// Bad syntax (`${}`, an unclosed `${`): Go drops what it spans.
    Invalid,
}

/// A reference after `$`: its name and how many bytes of the text it spans (after the `$`).
struct Reference<'a> {
    name: Name<'a>,
    width: usize,
}

/// Go's `getShellName` on the non-empty text after a `$`.
fn shell_name(s: &str) -> Reference<'_> {
    let b = s.as_bytes();
    if b.first() == Some(&b'{') {
        if b.len() > 2 && is_shell_special(b[1]) && b[2] == b'}' {
            return Reference {
                name: Name::Var(&s[1..2]),
                width: 3,
            };
        }
        return match s[1..].find('}') {
            Some(0) => Reference {
                name: Name::Invalid,
                width: 2,
            },
            Some(end) => Reference {
                name: Name::Var(&s[1..1 + end]),
                width: end + 2,
            },
            None => Reference {
                name: Name::Invalid,
                width: 1,
            },
        };
    }
    if b.first().is_some_and(|&c| is_shell_special(c)) {
        return Reference {
            name: Name::Var(&s[..1]),
            width: 1,
        };
    }
    let len = b
        .iter()
        .take_while(|&&c| c == b'_' || c.is_ascii_alphanumeric())
        .count();
    Reference {
        name: if len == 0 {
            Name::None
        } else {
            Name::Var(&s[..len])
        },
        width: len,
    }
}

/// Go's `isShellSpecialVar`: one character that is a name on its own after `$`.
fn is_shell_special(c: u8) -> bool {
    matches!(c, b'*' | b'#' | b'$' | b'@' | b'!' | b'?' | b'-') || c.is_ascii_digit()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Config;
    use proptest::prelude::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "SHARDS" => Some("3".to_owned()),
            "NODE_NAME" => Some("node-a".to_owned()),
            "EMPTY" => Some(String::new()),
            "a b" => Some("spaced".to_owned()),
            _ => None,
        }
    }

    #[test]
    fn expands_both_forms_and_unset_is_empty() {
        assert_eq!(expand("modulus: ${SHARDS}", env), "modulus: 3");
        assert_eq!(expand("n=$NODE_NAME.", env), "n=node-a.");
        assert_eq!(expand("a${UNSET}b$UNSET-c", env), "ab-c");
        assert_eq!(expand("x${EMPTY}y", env), "xy");
        assert_eq!(expand("$SHARDS$SHARDS", env), "33");
        // Braces take any name up to the closing brace, as Go's.
        assert_eq!(expand("${a b}", env), "spaced");
    }

    #[test]
    fn literal_dollars_follow_go() {
        assert_eq!(expand("cost$", env), "cost$");
        assert_eq!(expand("regex: foo$\nx: 1", env), "regex: foo$\nx: 1");
        assert_eq!(expand(r#"regex: "^(.+)$""#, env), r#"regex: "^(.+)$""#);
        assert_eq!(expand("$ $.", env), "$ $.");
        // Bad syntax is dropped: `${}` entirely, an unclosed `${` (its name stays).
        assert_eq!(expand("a${}b", env), "ab");
        assert_eq!(expand("a${SHARDS", env), "aSHARDS");
        // Special one-character names are variables (unset here).
        assert_eq!(expand("a$?b$*c${-}d", env), "abcd");
    }

    #[test]
    fn escapes_and_group_references_survive() {
        assert_eq!(expand("a$$b", env), "a$b");
        assert_eq!(expand("$${name}", env), "${name}");
        assert_eq!(expand("replacement: $1:$2", env), "replacement: $1:$2");
        assert_eq!(expand("${1}x ${12} $12", env), "${1}x ${12} $12");
        assert_eq!(expand("$$1", env), "$1");
    }

    #[test]
    fn multibyte_text_is_kept() {
        assert_eq!(expand("é$SHARDSé${NODE_NAME}ü$", env), "é3énode-aü$");
        assert_eq!(expand("${é}", env), "");
    }

    #[test]
    fn load_file_with_expands_before_parsing_and_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.yml");
        // `$1` stays a group reference; the hashmod modulus comes from the environment (an
        // unusual name, so no other test's environment meets it).
        let text = "scrape_configs:\n  - job_name: j\n    relabel_configs:\n      - source_labels: [__address__]\n        modulus: ${SCRAPELINE_TEST_EXPAND_MODULUS}\n        target_label: __tmp\n        action: hashmod\n      - source_labels: [__address__]\n        regex: (.*)\n        replacement: $1\n        target_label: a\n";
        std::fs::write(&path, text).unwrap();
        // Unset: the modulus is empty (null), which Prometheus also rejects, naming the file,
        // the job and the rule.
        let err = Config::load_file_with(&path, true).unwrap_err().to_string();
        assert_eq!(
            err,
            format!(
                "{}: scrape config for job \"j\": relabel_configs: relabel rule 0: relabel configuration for hashmod requires non-zero modulus",
                path.display()
            )
        );
        // A bad value: the parser's error names the line and shows the expanded text.
        let bad = expand(text, |_| Some("three".to_owned()));
        let err = Config::load_str(&bad, "p.yml").unwrap_err().to_string();
        assert!(err.starts_with("p.yml: "), "{err}");
        assert!(err.contains("line 5"), "{err}");
        assert!(err.contains("modulus: three"), "{err}");
        // Without the flag the text is parsed as written: `${...}` is not a number.
        let err = Config::load_file_with(&path, false)
            .unwrap_err()
            .to_string();
        assert!(err.contains("SCRAPELINE_TEST_EXPAND_MODULUS"), "{err}");
        // Set: the modulus is the variable's value and `$1` is still a group reference.
        let expanded = expand(text, |n| {
            (n == "SCRAPELINE_TEST_EXPAND_MODULUS").then(|| "4".to_owned())
        });
        let cfg = Config::load_str(&expanded, "p.yml").unwrap();
        let rules = &cfg.scrape_configs[0].relabel_configs;
        assert_eq!(rules[0].modulus, 4);
        assert_eq!(rules[1].replacement, "$1");
    }

    proptest! {
        #[test]
        fn no_input_panics(text in ".{0,64}", set in proptest::option::of("[ -~]{0,8}")) {
            let out = expand(&text, |_| set.clone());
            // Text without `$` is returned unchanged.
            if !text.contains('$') {
                prop_assert_eq!(out, text);
            }
        }

        #[test]
        fn dollar_heavy_input_never_panics(text in "[${}a-z0-9_ é?*\n-]{0,48}") {
            let _ = expand(&text, env);
        }
    }
}
