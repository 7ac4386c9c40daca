//! `file_sd_configs`: target groups read from JSON or YAML files matched by globs.
//!
//! Files are re-read when their modification time or size changes (polled every
//! `poll_interval`) and in full every `refresh_interval`. A group's source is
//! `<path>:<index>`, and every group gets `__meta_filepath`. A file that cannot be read or
//! parsed keeps its last groups (as Prometheus does); groups that vanish (a file removed or
//! shortened) are sent as empty groups so consumers drop them.

use std::collections::{BTreeMap, HashMap, HashSet};
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
    let mut out: Vec<PathBuf> = patterns.iter().flat_map(|p| expand_one(p)).collect();
    out.sort();
    out.dedup();
    out
}

/// The files one path or glob matches (an invalid glob is taken as a plain path, so reading it
/// reports the problem).
fn expand_one(pattern: &str) -> Vec<PathBuf> {
    match glob::glob(pattern) {
        Ok(paths) => paths.flatten().collect(),
        Err(_) => vec![PathBuf::from(pattern)],
    }
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
    /// Configured paths that matched no file and were warned about; a path leaves the set when
    /// it matches again, so a later disappearance warns again.
    unmatched: HashSet<String>,
    /// The last error logged per file: the same error is logged once, not at every poll.
    read_errors: HashMap<PathBuf, String>,
}

impl FileDiscoverer {
    /// A discoverer polling for changes every `poll_interval`.
    pub fn new(config: FileSdConfig, poll_interval: Duration) -> Self {
        Self {
            config,
            poll_interval,
            files: HashMap::new(),
            unmatched: HashSet::new(),
            read_errors: HashMap::new(),
        }
    }

    /// The files the configured paths match now. A path that matches nothing is warned about
    /// once (promtool warns about it too; Prometheus itself is silent) until it matches again.
    fn list_files(&mut self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for p in &self.config.files {
            let found = expand_one(p);
            if !found.is_empty() {
                self.unmatched.remove(p);
            } else if self.unmatched.insert(p.clone()) {
                tracing::warn!(path = %p, "No file matches file_sd path; it provides no targets until one appears");
            }
            out.extend(found);
        }
        out.sort();
        out.dedup();
        out
    }

    /// One pass: re-reads changed (or, with `force`, all) files and returns the groups that
    /// changed, including empty groups for vanished sources.
    fn refresh(&mut self, force: bool) -> Vec<TargetGroup> {
        let paths = self.list_files();
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
                    self.read_errors.remove(path);
                }
                Err(e) => {
                    // Keep the last good groups; retry on the next change or refresh. Logged
                    // with Prometheus' wording, once per distinct error of a file.
                    let msg = e.to_string();
                    if self.read_errors.get(path) != Some(&msg) {
                        tracing::error!(path = %name, err = %msg, "Error reading file");
                        self.read_errors.insert(path.clone(), msg);
                    }
                }
            }
        }
        let gone: Vec<PathBuf> = self
            .files
            .keys()
            .filter(|p| !paths.contains(p))
            .cloned()
            .collect();
        self.read_errors.retain(|p, _| paths.contains(p));
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
    use std::sync::{Arc, Mutex};

    /// A `tracing` writer that keeps every formatted event in memory.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Captured {
        /// The captured lines, emptied.
        fn take(&self) -> Vec<String> {
            let b = std::mem::take(&mut *self.0.lock().unwrap());
            String::from_utf8(b)
                .unwrap()
                .lines()
                .map(str::to_owned)
                .collect()
        }
    }

    /// Runs `f` with every event (debug and up) captured as `LEVEL target: message fields`.
    fn with_logs(cap: &Captured, f: impl FnOnce()) {
        let w = cap.clone();
        let sub = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .without_time()
            .with_writer(move || w.clone())
            .finish();
        tracing::subscriber::with_default(sub, f);
    }

    #[test]
    fn missing_files_and_read_errors_are_logged_once() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.json").display().to_string();
        let glob = dir.path().join("*.yml").display().to_string();
        let bad = dir.path().join("bad.json");
        std::fs::write(&bad, "{").unwrap();
        let bad_name = bad.display().to_string();
        let bad_glob = dir.path().join("bad*.json").display().to_string();
        let mut d = FileDiscoverer::new(
            FileSdConfig {
                files: vec![missing.clone(), glob.clone(), bad_glob],
                ..Default::default()
            },
            Duration::from_secs(1),
        );
        let cap = Captured::default();
        with_logs(&cap, || {
            assert_eq!(d.refresh(true), Vec::new());
        });
        let no_match = "No file matches file_sd path; it provides no targets until one appears";
        assert_eq!(
            cap.take(),
            vec![
                format!(" WARN scrapeline_sd::file_sd: {no_match} path={missing}"),
                format!(" WARN scrapeline_sd::file_sd: {no_match} path={glob}"),
                format!(
                    "ERROR scrapeline_sd::file_sd: Error reading file path={bad_name} err=parsing {bad_name}: invalid type: map, expected a sequence at line 1 column 0"
                ),
            ]
        );
        // Later polls and full refreshes repeat nothing while nothing changes.
        with_logs(&cap, || {
            d.refresh(false);
            d.refresh(true);
        });
        assert_eq!(cap.take(), Vec::<String>::new());
        // A file appears for the glob and the bad file is fixed: quiet, and the targets come.
        std::fs::write(dir.path().join("a.yml"), "- targets: [h:1]\n").unwrap();
        std::fs::write(&bad, "[]").unwrap();
        with_logs(&cap, || {
            assert_eq!(d.refresh(true).len(), 1);
        });
        assert_eq!(cap.take(), Vec::<String>::new());
        // The glob matches nothing again, the file breaks again: each is reported again, once.
        std::fs::remove_file(dir.path().join("a.yml")).unwrap();
        std::fs::write(&bad, "[1]").unwrap();
        with_logs(&cap, || {
            d.refresh(true);
            d.refresh(true);
        });
        let logs = cap.take();
        assert_eq!(logs.len(), 2, "{logs:?}");
        assert_eq!(
            logs[0],
            format!(" WARN scrapeline_sd::file_sd: {no_match} path={glob}")
        );
        assert!(
            logs[1].starts_with(&format!(
                "ERROR scrapeline_sd::file_sd: Error reading file path={bad_name} err=parsing {bad_name}: "
            )),
            "{logs:?}"
        );
    }

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
