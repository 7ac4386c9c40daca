//! The configs shipped in `deploy/*.yaml` ConfigMaps, checked as a pod loads them: valid YAML
//! before expansion, accepted by `check config --config.expand-env` after it, and accepted by
//! Debian's real `promtool` except for the fields `deploy/README.md` lists with their reason.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use scrapeline::config::env_vars as expand_env;

#[allow(dead_code)]
#[path = "../src/default_config.rs"]
mod default_config;

/// The environment a pod would give the configs (downward API and the manifests' `env`).
const SAMPLE_ENV: [(&str, &str); 3] = [("SHARDS", "3"), ("SHARD", "1"), ("NODE_NAME", "node-a")];

fn sample_env(name: &str) -> Option<String> {
    SAMPLE_ENV
        .iter()
        .find(|(k, _)| *k == name)
        .map(|(_, v)| (*v).to_owned())
}

fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy")
}

/// Every `(manifest file, ConfigMap name, data key, config text)` in `deploy/*.yaml`.
fn embedded_configs() -> Vec<(String, String, String, String)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(deploy_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let docs: Vec<Value> = serde_saphyr::from_multiple(&text)
            .unwrap_or_else(|e| panic!("{file} is not valid YAML: {e}"));
        for doc in docs {
            if doc["kind"] != "ConfigMap" {
                continue;
            }
            let name = doc["metadata"]["name"].as_str().unwrap().to_owned();
            for (key, value) in doc["data"].as_object().unwrap() {
                if key.ends_with(".yml") || key.ends_with(".yaml") {
                    let config = value.as_str().unwrap().to_owned();
                    out.push((file.clone(), name.clone(), key.clone(), config));
                }
            }
        }
    }
    out
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn every_manifest_config_is_found() {
    let found: Vec<(String, String)> = embedded_configs()
        .into_iter()
        .map(|(file, name, _, _)| (file, name))
        .collect();
    assert_eq!(
        found,
        vec![
            ("daemonset.yaml".to_owned(), "scrapeline-node".to_owned()),
            (
                "statefulset-sharded.yaml".to_owned(),
                "scrapeline-shards".to_owned()
            ),
        ]
    );
}

#[test]
fn configs_are_yaml_before_expansion_and_pass_check_config_after() {
    let dir = tempfile::tempdir().unwrap();
    for (file, name, key, config) in embedded_configs() {
        // A ConfigMap's config must be YAML as written: kubectl and editors see it unexpanded.
        serde_saphyr::from_str::<Value>(&config)
            .unwrap_or_else(|e| panic!("{file} {name}/{key} is not YAML before expansion: {e}"));
        let path = write(dir.path(), &format!("{name}.yml"), &config);
        let out = Command::new(env!("CARGO_BIN_EXE_mini-prometheus"))
            .args(["check", "config", "--config.expand-env"])
            .arg(&path)
            .env_clear()
            .envs(SAMPLE_ENV)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{file} {name}/{key}: {stderr}");
        let jobs = if file == "daemonset.yaml" { 3 } else { 1 };
        assert_eq!(
            stdout,
            format!(
                "Checking {}\n  SUCCESS: {jobs} scrape configs, 1 remote write endpoints\n",
                path.display()
            ),
            "{file} {name}/{key}"
        );
    }
}

#[test]
fn sharded_config_needs_its_variables() {
    let dir = tempfile::tempdir().unwrap();
    let (_, name, _, config) = embedded_configs()
        .into_iter()
        .find(|(file, ..)| file == "statefulset-sharded.yaml")
        .unwrap();
    let path = write(dir.path(), &format!("{name}.yml"), &config);
    let check = |expand: bool, envs: &[(&str, &str)]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_mini-prometheus"));
        cmd.args(["check", "config"]);
        if expand {
            cmd.arg("--config.expand-env");
        }
        let out = cmd
            .arg(&path)
            .env_clear()
            .envs(envs.iter().copied())
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    // Without the flag `${SHARDS}` is text where a number belongs: file, line and field named.
    let (code, err) = check(false, &SAMPLE_ENV);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains(&format!("{}: ", path.display())), "{err}");
    assert!(err.contains("line 15 column 18: invalid u64"), "{err}");
    assert!(err.contains("modulus: ${SHARDS}"), "{err}");
    // With the flag but SHARDS unset, the modulus is empty: Prometheus' error for it.
    let (code, err) = check(true, &[("SHARD", "0")]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains(
            "scrape config for job \"kubernetes-service-endpoints\": relabel_configs: relabel rule 1: relabel configuration for hashmod requires non-zero modulus"
        ),
        "{err}"
    );
}

/// `deploy/README.md`'s table of fields promtool rejects: field path to the config files.
fn listed_differences() -> BTreeMap<String, BTreeSet<String>> {
    let readme = std::fs::read_to_string(deploy_dir().join("README.md")).unwrap();
    let start = readme
        .find("<!-- promtool-differences")
        .expect("table start marker");
    let end = readme
        .find("<!-- end promtool-differences -->")
        .expect("table end marker");
    let mut out = BTreeMap::new();
    for line in readme[start..end].lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        // `| field | configs | why |` rows have 5 cells around the 4 bars.
        let [_, field, configs, why, _] = cells.as_slice() else {
            continue;
        };
        let Some(field) = field.strip_prefix('`').and_then(|f| f.strip_suffix('`')) else {
            continue;
        };
        assert!(!why.is_empty(), "{field}: no reason given");
        let configs = configs.split(',').map(|c| c.trim().to_owned()).collect();
        out.insert(field.to_owned(), configs);
    }
    assert!(!out.is_empty(), "no rows in the promtool-differences table");
    out
}

/// Removes `path` (`a.b`, `a[].b`: every element of an array) from `value`.
fn remove_path(value: &mut Value, path: &str) {
    let (head, rest) = match path.split_once('.') {
        Some((h, r)) => (h, Some(r)),
        None => (path, None),
    };
    let (key, each) = match head.strip_suffix("[]") {
        Some(k) => (k, true),
        None => (head, false),
    };
    let Some(map) = value.as_object_mut() else {
        return;
    };
    match (rest, each) {
        (None, false) => {
            map.remove(key);
        }
        (Some(rest), false) => {
            if let Some(v) = map.get_mut(key) {
                remove_path(v, rest);
            }
        }
        (rest, true) => {
            if let Some(Value::Array(items)) = map.get_mut(key) {
                for item in items {
                    match rest {
                        Some(rest) => remove_path(item, rest),
                        None => *item = Value::Null,
                    }
                }
            }
        }
    }
}

/// Runs promtool on `path`: whether it accepted it, and the fields its errors name.
fn promtool(path: &Path) -> (bool, BTreeSet<String>, String) {
    let out = Command::new("/usr/bin/promtool")
        .args(["check", "config"])
        .arg(path)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let fields = text
        .lines()
        .filter_map(|l| {
            let (_, after) = l.split_once(": field ")?;
            let (field, _) = after.split_once(" not found in type ")?;
            Some(field.to_owned())
        })
        .collect();
    (out.status.success(), fields, text)
}

#[test]
fn promtool_rejects_only_the_listed_fields() {
    if !Path::new("/usr/bin/promtool").exists() {
        eprintln!("skipping: /usr/bin/promtool is not installed (Debian package prometheus)");
        return;
    }
    let listed = listed_differences();
    let dir = tempfile::tempdir().unwrap();
    let mut configs: Vec<(String, String)> = embedded_configs()
        .into_iter()
        .map(|(file, _, _, config)| (file, expand_env::expand(&config, sample_env)))
        .collect();
    let default = default_config::DEFAULT_CONFIG
        .replace("{listen}", "127.0.0.1:9090")
        .replace("{node_job}", default_config::DEFAULT_NODE_JOB);
    configs.push(("embedded default".to_owned(), default));
    for (file, text) in configs {
        let expected: BTreeSet<&String> = listed
            .iter()
            .filter(|(_, files)| files.contains(&file))
            .map(|(field, _)| field)
            .collect();
        // promtool names a field by its last segment.
        let expected_names: BTreeSet<String> = expected
            .iter()
            .map(|f| {
                let last = f.rsplit('.').next().unwrap_or(f);
                last.trim_end_matches("[]").to_owned()
            })
            .collect();
        let path = write(dir.path(), "as-written.yml", &text);
        let (ok, fields, output) = promtool(&path);
        assert_eq!(ok, expected.is_empty(), "{file}: {output}");
        assert_eq!(fields, expected_names, "{file}: {output}");
        // Without the listed fields promtool accepts the rest (relabel rules, durations, URLs).
        let mut value: Value = serde_saphyr::from_str(&text).unwrap();
        for field in &expected {
            remove_path(&mut value, field);
        }
        // JSON is YAML to promtool.
        let path = write(dir.path(), "stripped.yml", &value.to_string());
        let (ok, _, output) = promtool(&path);
        assert!(ok, "{file} without {expected:?}: {output}");
        assert!(output.contains("SUCCESS"), "{file}: {output}");
    }
}

#[test]
fn remove_path_removes_nested_and_per_element_fields() {
    let mut v = serde_json::json!({
        "storage": {"retention": "30m", "tsdb": {}},
        "scrape_configs": [{"job_name": "a", "kubernetes_sd_configs": []}, {"job_name": "b"}],
    });
    remove_path(&mut v, "storage.retention");
    remove_path(&mut v, "scrape_configs[].kubernetes_sd_configs");
    assert_eq!(
        v,
        serde_json::json!({
            "storage": {"tsdb": {}},
            "scrape_configs": [{"job_name": "a"}, {"job_name": "b"}],
        })
    );
}
