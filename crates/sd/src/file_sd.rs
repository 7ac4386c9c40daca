//! `file_sd_configs`: target groups read from JSON or YAML files matched by globs.
//!
//! Files are re-read when their modification time or size changes (polled every
//! `poll_interval`) and in full every `refresh_interval`. A group's source is
//! `<path>:<index>`, and every group gets `__meta_filepath`. A file that cannot be read or
//! parsed keeps its last groups (as Prometheus does); groups that vanish (a file removed or
//! shortened) are sent as empty groups so consumers drop them.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use scrapeline_exposition::Labels;
use serde::Deserialize;
use tokio::sync::mpsc;

use crate::TargetGroup;
use crate::config::FileSdConfig;

/// Label holding the file a target came from.
pub const FILEPATH_LABEL: &str = "__meta_filepath";

/// Why a file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum FileSdError {
    /// Reading failed.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The contents are not a list of `{targets, labels}`.
    #[error("parsing {path}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// The parser's message.
        message: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileGroup {
    #[serde(default)]
    targets: Vec<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

/// Parses one file's contents into its groups (JSON for `.json`, YAML otherwise).
pub fn parse_file(path: &str, content: &str) -> Result<Vec<TargetGroup>, FileSdError> {
    let parse_err = |message: String| FileSdError::Parse {
        path: path.to_string(),
        message,
    };
    let groups: Vec<FileGroup> = if path.ends_with(".json") {
        serde_json::from_str(content).map_err(|e| parse_err(e.to_string()))?
    } else if content.trim().is_empty() {
        Vec::new()
    } else {
        serde_saphyr::from_str::<Option<Vec<FileGroup>>>(content)
            .map_err(|e| parse_err(e.to_string()))?
            .unwrap_or_default()
    };
    let mut out = Vec::with_capacity(groups.len());
    for (i, g) in groups.into_iter().enumerate() {
        if g.labels.keys().any(String::is_empty) {
            return Err(parse_err("empty label name".into()));
        }
        let mut labels: Vec<(&str, &str)> = g
            .labels
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        labels.push((FILEPATH_LABEL, path));
        out.push(TargetGroup {
            source: format!("{path}:{i}"),
            targets: g
                .targets
                .iter()
                .map(|t| Labels::from_pairs([("__address__", t.as_str())]))
                .collect(),
            labels: Labels::from_pairs(labels),
        });
    }
    Ok(out)
}

/// Expands the configured paths and globs into the sorted list of matching files.
pub fn expand(patterns: &[String]) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = Vec::new();
    for p in patterns {
        match glob::glob(p) {
            Ok(paths) => out.extend(paths.flatten()),
            Err(_) => out.push(PathBuf::from(p)),
        }
    }
    out.sort();
    out.dedup();
    out
}

#[derive(Debug, Clone, PartialEq)]
struct FileState {
    stamp: Option<(SystemTime, u64)>,
    groups: Vec<TargetGroup>,
}

fn stamp(path: &Path) -> Option<(SystemTime, u64)> {
    let m = std::fs::metadata(path).ok()?;
    Some((m.modified().ok()?, m.len()))
}

/// Runs one `file_sd_configs` entry.
pub struct FileDiscoverer {
    config: FileSdConfig,
    poll_interval: Duration,
    files: HashMap<PathBuf, FileState>,
}

impl FileDiscoverer {
    /// A discoverer polling for changes every `poll_interval`.
    pub fn new(config: FileSdConfig, poll_interval: Duration) -> Self {
        Self {
            config,
            poll_interval,
            files: HashMap::new(),
        }
    }

    /// One pass: re-reads changed (or, with `force`, all) files and returns the groups that
    /// changed, including empty groups for vanished sources.
    fn refresh(&mut self, force: bool) -> Vec<TargetGroup> {
        let paths = expand(&self.config.files);
        let mut changed = Vec::new();
        for path in &paths {
            let st = stamp(path);
            let prev = self.files.get(path);
            if !force && prev.is_some_and(|p| p.stamp == st && st.is_some()) {
                continue;
            }
            let name = path.display().to_string();
            let parsed = std::fs::read_to_string(path)
                .map_err(|source| FileSdError::Read {
                    path: name.clone(),
                    source,
                })
                .and_then(|c| parse_file(&name, &c));
            match parsed {
                Ok(groups) => {
                    let old = prev.map(|p| p.groups.clone()).unwrap_or_default();
                    if old != groups {
                        for g in old.iter().skip(groups.len()) {
                            changed.push(TargetGroup {
                                source: g.source.clone(),
                                ..Default::default()
                            });
                        }
                        changed.extend(groups.iter().cloned());
                    }
                    self.files
                        .insert(path.clone(), FileState { stamp: st, groups });
                }
                Err(e) => {
                    // Keep the last good groups; retry on the next change or refresh.
                    tracing::warn!(error = %e, "file_sd: keeping the last groups");
                }
            }
        }
        let gone: Vec<PathBuf> = self
            .files
            .keys()
            .filter(|p| !paths.contains(p))
            .cloned()
            .collect();
        for p in gone {
            if let Some(st) = self.files.remove(&p) {
                changed.extend(st.groups.into_iter().map(|g| TargetGroup {
                    source: g.source,
                    ..Default::default()
                }));
            }
        }
        changed
    }

    /// Runs until `out` closes: first the complete set, then the groups of changed files.
    pub async fn run(mut self, out: mpsc::Sender<Vec<TargetGroup>>) {
        let first = self.refresh(true);
        let mut all: Vec<TargetGroup> = first
            .into_iter()
            .filter(|g| !g.targets.is_empty() || !g.labels.is_empty())
            .collect();
        all.sort_by(|a, b| a.source.cmp(&b.source));
        if out.send(all).await.is_err() {
            return;
        }
        let mut last_full = Instant::now();
        let mut tick = tokio::time::interval(self.poll_interval.max(Duration::from_millis(10)));
        tick.tick().await;
        loop {
            tokio::select! {
                _ = out.closed() => return,
                _ = tick.tick() => {}
            }
            let force = last_full.elapsed() >= self.config.refresh_interval;
            if force {
                last_full = Instant::now();
            }
            let changed = self.refresh(force);
            if !changed.is_empty() && out.send(changed).await.is_err() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_json_and_yaml() {
        let g = parse_file(
            "a.json",
            r#"[{"targets": ["h:1", "h:2"], "labels": {"env": "x"}}]"#,
        )
        .unwrap();
        assert_eq!(g.len(), 1);
        assert_eq!(g[0].source, "a.json:0");
        assert_eq!(
            g[0].labels,
            Labels::from_pairs([("env", "x"), ("__meta_filepath", "a.json")])
        );
        assert_eq!(
            g[0].targets[1],
            Labels::from_pairs([("__address__", "h:2")])
        );
        let y = parse_file(
            "b.yml",
            "- targets: [a:1]\n- targets: [b:2]\n  labels: {k: v}\n",
        )
        .unwrap();
        assert_eq!(y.len(), 2);
        assert_eq!(y[1].source, "b.yml:1");
        assert!(parse_file("c.json", "{").is_err());
        assert_eq!(parse_file("d.yaml", "").unwrap(), Vec::new());
    }
}
