//! The configuration file: Prometheus' `prometheus.yml`, plus a `storage` section of our own.
//!
//! Loading is strict where Prometheus is strict: an unknown or invalid field is an error that
//! names the file, the line and the field, and the values of secret fields never appear in it
//! (`check config` prints exactly these errors). Sections Prometheus has but Scrapeline does not
//! implement (`rule_files`, `alerting`, `remote_read`, …) are accepted and reported in
//! [`Config::ignored_sections`], so an existing `prometheus.yml` loads unchanged.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use scrapeline_exposition::Labels;
use scrapeline_scrape::{GlobalConfig, ScrapeConfig};
use serde::Deserialize;
use serde::de::IgnoredAny;

use scrapeline_remote_write::config::RemoteWriteConfig;

pub mod env_vars;
#[cfg(test)]
mod no_panic_tests;
mod snippet;

/// Masks secret values in configuration text (for `/api/v1/status/config` and error snippets).
pub use snippet::{MASK, mask_secrets};

/// Why a configuration could not be loaded: always names where.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The YAML is malformed, or a field is unknown or has the wrong type.
    #[error("{origin}: {message}")]
    Syntax {
        /// The file (or `<embedded default>`).
        origin: String,
        /// The parser's message, with line, column and a snippet in which the values of secret
        /// fields read `<secret>`.
        message: String,
    },
    /// The values are well-formed but not acceptable (a rule, a duration, a duplicate job).
    #[error("{origin}: {message}")]
    Invalid {
        /// The file (or `<embedded default>`).
        origin: String,
        /// What is wrong, naming the job or section and the field.
        message: String,
    },
}

/// The whole configuration, defaults applied and validated.
#[derive(Debug, Clone)]
pub struct Config {
    /// The scrape-related global settings, passed to the scrape manager.
    pub global: GlobalConfig,
    /// `global.external_labels`, `$VAR`/`${VAR}` expanded, attached to remote-written series.
    pub external_labels: Labels,
    /// Every scrape job, with the global defaults filled in.
    pub scrape_configs: Vec<ScrapeConfig>,
    /// Every remote-write endpoint.
    pub remote_write: Vec<RemoteWriteConfig>,
    /// The in-memory store's settings.
    pub storage: StorageConfig,
    /// Sections that were present but are not implemented, for a warning at start.
    pub ignored_sections: Vec<&'static str>,
}

/// `storage`: our own retention setting, plus Prometheus' TSDB keys accepted and ignored.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageConfig {
    /// How long samples are kept in memory (default `2h`).
    #[serde(default = "default_retention", deserialize_with = "de_duration")]
    pub retention: Duration,
    /// Prometheus' `storage.tsdb` (out-of-order window): accepted, not used.
    #[serde(default)]
    tsdb: Option<IgnoredAny>,
    /// Prometheus' `storage.exemplars`: accepted, not used.
    #[serde(default)]
    exemplars: Option<IgnoredAny>,
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            retention: default_retention(),
            tsdb: None,
            exemplars: None,
        }
    }
}

fn default_retention() -> Duration {
    Duration::from_secs(2 * 3600)
}

fn de_duration<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let s = String::deserialize(d)?;
    scrapeline_common::duration::parse_duration(&s).map_err(serde::de::Error::custom)
}

/// The file as written: the sections, each still raw where another crate validates it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileShape {
    #[serde(default)]
    global: Option<GlobalKeys>,
    #[serde(default)]
    scrape_configs: Vec<ScrapeConfig>,
    #[serde(default)]
    remote_write: Vec<RemoteWriteConfig>,
    #[serde(default)]
    storage: Option<StorageConfig>,
    // Prometheus sections Scrapeline does not implement: accepted and reported.
    #[serde(default)]
    rule_files: Option<IgnoredAny>,
    #[serde(default)]
    alerting: Option<IgnoredAny>,
    #[serde(default)]
    remote_read: Option<IgnoredAny>,
    #[serde(default)]
    scrape_config_files: Option<IgnoredAny>,
    #[serde(default)]
    otlp: Option<IgnoredAny>,
    #[serde(default)]
    runtime: Option<IgnoredAny>,
    #[serde(default)]
    tracing: Option<IgnoredAny>,
}

/// Every key Prometheus 3 allows under `global`, checked for spelling; the values are read by
/// [`GlobalValues`] and the scrape crate's [`GlobalConfig`].
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // fields exist to name the allowed keys
struct GlobalKeys {
    scrape_interval: Option<IgnoredAny>,
    scrape_timeout: Option<IgnoredAny>,
    scrape_protocols: Option<IgnoredAny>,
    evaluation_interval: Option<IgnoredAny>,
    rule_query_offset: Option<IgnoredAny>,
    external_labels: Option<IgnoredAny>,
    query_log_file: Option<IgnoredAny>,
    scrape_failure_log_file: Option<IgnoredAny>,
    body_size_limit: Option<IgnoredAny>,
    sample_limit: Option<IgnoredAny>,
    target_limit: Option<IgnoredAny>,
    label_limit: Option<IgnoredAny>,
    label_name_length_limit: Option<IgnoredAny>,
    label_value_length_limit: Option<IgnoredAny>,
    keep_dropped_targets: Option<IgnoredAny>,
    metric_name_validation_scheme: Option<IgnoredAny>,
    metric_name_escaping_scheme: Option<IgnoredAny>,
    scrape_native_histograms: Option<IgnoredAny>,
    always_scrape_classic_histograms: Option<IgnoredAny>,
    convert_classic_histograms_to_nhcb: Option<IgnoredAny>,
    extra_scrape_metrics: Option<IgnoredAny>,
}

/// The values of `global` that the facade itself uses.
#[derive(Debug, Default, Deserialize)]
struct GlobalValues {
    #[serde(default)]
    external_labels: BTreeMap<String, String>,
}

/// The two views of the file that need the `global` block's values.
#[derive(Debug, Deserialize)]
struct GlobalOnly<G> {
    #[serde(default = "Option::default")]
    global: Option<G>,
}

impl Config {
    /// Reads and validates a configuration file.
    pub fn load_file(path: &Path) -> Result<Config, ConfigError> {
        Config::load_file_with(path, false)
    }

    /// Reads and validates a configuration file; with `expand_env`, `$VAR` and `${VAR}` are
    /// first replaced from the environment (`--config.expand-env`, see [`env_vars`]).
    pub fn load_file_with(path: &Path, expand_env: bool) -> Result<Config, ConfigError> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let text = if expand_env {
            env_vars::expand(&text, env_vars::env_lookup)
        } else {
            text
        };
        Config::load_str(&text, &origin)
    }

    /// Parses and validates a configuration; `origin` names it in errors.
    pub fn load_str(text: &str, origin: &str) -> Result<Config, ConfigError> {
        let syntax = |e: serde_saphyr::Error| ConfigError::Syntax {
            origin: origin.to_owned(),
            message: snippet::render(&e, text, origin),
        };
        let invalid = |message: String| ConfigError::Invalid {
            origin: origin.to_owned(),
            message,
        };
        if text.trim().is_empty() {
            return Ok(Config::from_shape(
                FileShape::empty(),
                GlobalConfig::default(),
                Labels::empty(),
            ));
        }
        let shape: FileShape = serde_saphyr::from_str(text).map_err(syntax)?;
        let global: GlobalConfig = serde_saphyr::from_str::<GlobalOnly<GlobalConfig>>(text)
            .map_err(syntax)?
            .global
            .unwrap_or_default();
        global
            .validate()
            .map_err(|e| invalid(format!("global: {e}")))?;
        let values = serde_saphyr::from_str::<GlobalOnly<GlobalValues>>(text)
            .map_err(syntax)?
            .global
            .unwrap_or_default();
        let external_labels = expand_external_labels(&values.external_labels)
            .map_err(|e| invalid(format!("global.external_labels: {e}")))?;
        let mut config = Config::from_shape(shape, global, external_labels);
        config.validate().map_err(invalid)?;
        Ok(config)
    }

    fn from_shape(shape: FileShape, global: GlobalConfig, external_labels: Labels) -> Config {
        let mut ignored = Vec::new();
        let sections: [(&'static str, bool); 7] = [
            ("rule_files", shape.rule_files.is_some()),
            ("alerting", shape.alerting.is_some()),
            ("remote_read", shape.remote_read.is_some()),
            ("scrape_config_files", shape.scrape_config_files.is_some()),
            ("otlp", shape.otlp.is_some()),
            ("runtime", shape.runtime.is_some()),
            ("tracing", shape.tracing.is_some()),
        ];
        for (name, present) in sections {
            if present {
                ignored.push(name);
            }
        }
        let _ = shape.global;
        Config {
            global,
            external_labels,
            scrape_configs: shape.scrape_configs,
            remote_write: shape.remote_write,
            storage: shape.storage.unwrap_or_default(),
            ignored_sections: ignored,
        }
    }

    /// Prometheus' whole-file checks: defaults applied per job, unique job names, relabel
    /// rules compiled, remote-write endpoints valid.
    fn validate(&mut self) -> Result<(), String> {
        let mut seen = std::collections::HashSet::new();
        for sc in &mut self.scrape_configs {
            sc.apply_global(&self.global).map_err(|e| e.to_string())?;
            if !seen.insert(sc.job_name.clone()) {
                return Err(format!(
                    "found multiple scrape configs with job name {:?}",
                    sc.job_name
                ));
            }
        }
        let mut names = std::collections::HashSet::new();
        for (i, rw) in self.remote_write.iter().enumerate() {
            rw.validate()
                .map_err(|e| format!("remote_write[{i}] ({}): {e}", redact_url(&rw.url)))?;
            if !names.insert(rw.queue_name()) {
                return Err(format!(
                    "found multiple remote write configs with job name {:?}",
                    rw.queue_name()
                ));
            }
        }
        Ok(())
    }
}

impl FileShape {
    fn empty() -> FileShape {
        FileShape {
            global: None,
            scrape_configs: Vec::new(),
            remote_write: Vec::new(),
            storage: None,
            rule_files: None,
            alerting: None,
            remote_read: None,
            scrape_config_files: None,
            otlp: None,
            runtime: None,
            tracing: None,
        }
    }
}

/// `url` with the password of its user info replaced by `xxxxx`, as Go's `url.Redacted`
/// prints it, so that an error naming a remote-write endpoint does not print its password.
fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    let Some((userinfo, host)) = authority.rsplit_once('@') else {
        return url.to_owned();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:xxxxx@{host}{path}"),
        None => url.to_owned(),
    }
}

/// Prometheus 3's external-label rules: names must be non-empty, values are expanded from the
/// environment (`$VAR`, `${VAR}`, `$$` → `$`; unset → empty), and empty results drop the label.
fn expand_external_labels(raw: &BTreeMap<String, String>) -> Result<Labels, String> {
    let mut pairs = Vec::with_capacity(raw.len());
    for (name, value) in raw {
        if name.is_empty() {
            return Err("empty label name".to_owned());
        }
        let v = expand_env(value, |k| std::env::var(k).ok());
        if !v.is_empty() {
            pairs.push((name.clone(), v));
        }
    }
    Ok(Labels::from_pairs(pairs))
}

/// Go's `os.Expand` with Prometheus' mapping (`$$` → `$`).
fn expand_env(s: &str, lookup: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(s.len());
    let b = s.as_bytes();
    let mut i = 0;
    let mut last = 0;
    while i < b.len() {
        if b[i] == b'$' && i + 1 < b.len() {
            out.push_str(&s[last..i]);
            let (name, width) = shell_name(&s[i + 1..]);
            if name.is_empty() && width > 0 {
                // Bad syntax such as "${}": Go drops it.
            } else if name.is_empty() || name == "$" {
                // A lone `$`, or `$$`: a literal dollar sign.
                out.push('$');
            } else {
                out.push_str(&lookup(name).unwrap_or_default());
            }
            i += 1 + width;
            last = i;
        } else {
            i += 1;
        }
    }
    out.push_str(&s[last..]);
    out
}

/// Go's `getShellName`: the variable name after `$` and how many bytes it spans.
fn shell_name(s: &str) -> (&str, usize) {
    let b = s.as_bytes();
    if b.first() == Some(&b'{') {
        if b.len() > 2 && is_special(b[1]) && b[2] == b'}' {
            return (&s[1..2], 3);
        }
        for i in 1..b.len() {
            if b[i] == b'}' {
                if i == 1 {
                    return ("", 2);
                }
                return (&s[1..i], i + 1);
            }
        }
        return ("", 1);
    }
    if let Some(&c) = b.first()
        && is_special(c)
    {
        return (&s[0..1], 1);
    }
    let n = b
        .iter()
        .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
        .count();
    (&s[..n], n)
}

fn is_special(c: u8) -> bool {
    matches!(
        c,
        b'*' | b'#' | b'$' | b'@' | b'!' | b'?' | b'-' | b'0'..=b'9'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn examples_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/prometheus/config-examples")
    }

    #[test]
    fn the_four_kubernetes_examples_load_unchanged() {
        for name in [
            "01-prometheus-kubernetes.yml",
            "02-kubernetes-annotations.yml",
            "03-kubernetes-node-local-sharded.yml",
            "04-kubernetes-prometheus3-features.yml",
        ] {
            let path = examples_dir().join(name);
            let cfg = Config::load_file(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(!cfg.scrape_configs.is_empty(), "{name}");
        }
    }

    #[test]
    fn unknown_field_names_file_line_and_field() {
        let text = "global:\n  scrape_interval: 15s\nscrape_configs:\n  - job_name: a\n    scrape_intervall: 5s\n";
        let err = Config::load_str(text, "p.yml").unwrap_err().to_string();
        assert!(err.starts_with("p.yml: "), "{err}");
        assert!(err.contains("line 5"), "{err}");
        assert!(err.contains("scrape_intervall"), "{err}");
    }

    #[test]
    fn unknown_global_key_is_an_error() {
        let text = "global:\n  scrape_intervl: 15s\n";
        let err = Config::load_str(text, "p.yml").unwrap_err().to_string();
        assert!(err.contains("line 2"), "{err}");
        assert!(err.contains("unknown field `scrape_intervl`"), "{err}");
    }

    #[test]
    fn duplicate_job_names_are_rejected() {
        let text = "scrape_configs:\n  - job_name: a\n  - job_name: a\n";
        let err = Config::load_str(text, "p.yml").unwrap_err().to_string();
        assert_eq!(
            err,
            "p.yml: found multiple scrape configs with job name \"a\""
        );
    }

    #[test]
    fn unimplemented_sections_are_reported_not_fatal() {
        let text = "rule_files: [a.yml]\nalerting:\n  alertmanagers: []\nscrape_configs: []\n";
        let cfg = Config::load_str(text, "p.yml").unwrap();
        assert_eq!(cfg.ignored_sections, vec!["rule_files", "alerting"]);
    }

    /// Defect 4a: `retention: -1` panicked in promql-parser's `Duration::from_secs_f64`.
    #[test]
    fn negative_retention_is_prometheus_error_not_a_panic() {
        let text = "scrape_configs: []\nstorage:\n  retention: -1\n";
        let err = Config::load_str(text, "p.yml").unwrap_err().to_string();
        assert_eq!(
            err,
            "p.yml: error: line 3 column 14: not a valid duration string: \"-1\"\n \
             --> p.yml:3:14\n  |\n1 | scrape_configs: []\n2 | storage:\n3 |   retention: -1\n  \
             |              ^"
        );
    }

    /// Defect 4a: every duration of the file goes through `model.ParseDuration`'s grammar and
    /// messages, and the error names the line (the snippet shows the field).
    #[test]
    fn bad_durations_everywhere_are_errors_with_their_line() {
        for (text, head) in [
            (
                "remote_write:\n  - url: http://x/\n    remote_timeout: -1\n",
                r#"line 3 column 21: not a valid duration string: "-1""#,
            ),
            (
                "remote_write:\n  - url: http://x/\n    queue_config:\n      min_backoff: NaN\n",
                r#"line 4 column 20: not a valid duration string: "NaN""#,
            ),
            (
                "storage:\n  retention: 1e400s\n",
                r#"line 2 column 14: unknown unit "e" in duration "1e400s""#,
            ),
            (
                "storage:\n  retention: 1s1h\n",
                r#"line 2 column 14: not a valid duration string: "1s1h""#,
            ),
            (
                "storage:\n  retention: 300y\n",
                "line 2 column 14: duration out of range",
            ),
            (
                "global:\n  scrape_interval: -5s\n",
                r#"line 2 column 20: not a valid duration string: "-5s""#,
            ),
            (
                "scrape_configs:\n  - job_name: a\n    file_sd_configs:\n      - files: [a.json]\n        \
                 refresh_interval: inf\n",
                r#"line 5 column 27: not a valid duration string: "inf""#,
            ),
        ] {
            let err = Config::load_str(text, "p.yml").unwrap_err().to_string();
            let first_line = err.lines().next().unwrap_or_default();
            assert_eq!(first_line, format!("p.yml: error: {head}"), "{err}");
        }
    }

    /// Defect 5a: the snippet of a YAML error never shows a secret, but still the line and
    /// the field.
    #[test]
    fn syntax_error_snippet_masks_the_password_next_to_it() {
        let text = "remote_write:\n  - url: http://x/\n    basic_auth:\n      username: u\n      \
                    password: S3cret\n    remote_timeoutt: 5s\n";
        let err = Config::load_str(text, "p.yml").unwrap_err().to_string();
        assert!(!err.contains("S3cret"), "{err}");
        assert!(
            err.starts_with("p.yml: error: line 6 column 5: unknown field `remote_timeoutt`"),
            "{err}"
        );
        assert!(
            err.ends_with(
                " --> p.yml:6:5\n  |\n4 |       username: u\n5 |       password: <secret>\n\
                 6 |     remote_timeoutt: 5s\n  |     ^"
            ),
            "{err}"
        );
    }

    /// Defect 5a: a remote-write error names the endpoint without its password.
    #[test]
    fn remote_write_errors_redact_the_url_password() {
        let text = "remote_write:\n  - url: http://u:S3cret@vm:8428/api/v1/write\n    \
                    headers: {User-Agent: me}\n";
        let err = Config::load_str(text, "p.yml").unwrap_err().to_string();
        assert_eq!(
            err,
            "p.yml: remote_write[0] (http://u:xxxxx@vm:8428/api/v1/write): User-Agent is a \
             reserved header. It must not be changed"
        );
        assert_eq!(redact_url("https://vm/a@b"), "https://vm/a@b");
        assert_eq!(redact_url("http://u@vm/"), "http://u@vm/");
        assert_eq!(redact_url("not a url"), "not a url");
    }

    #[test]
    fn storage_retention_defaults_to_two_hours() {
        let cfg = Config::load_str("scrape_configs: []\n", "p.yml").unwrap();
        assert_eq!(cfg.storage.retention, Duration::from_secs(7200));
        let cfg = Config::load_str("storage:\n  retention: 30m\n", "p.yml").unwrap();
        assert_eq!(cfg.storage.retention, Duration::from_secs(1800));
    }

    #[test]
    fn external_labels_expand_like_go() {
        let env = |k: &str| match k {
            "REGION" => Some("eu-1".to_owned()),
            _ => None,
        };
        assert_eq!(expand_env("${REGION}", env), "eu-1");
        assert_eq!(expand_env("$REGION-x", env), "eu-1-x");
        assert_eq!(expand_env("a$$b", env), "a$b");
        assert_eq!(expand_env("$UNSET", env), "");
        assert_eq!(expand_env("cost$", env), "cost$");
    }
}
