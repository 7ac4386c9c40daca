//! File SD: JSON and YAML files through globs, reload on change, vanished sources, unreadable
//! files keeping their last groups.

use std::collections::BTreeMap;
use std::time::Duration;

use scrapeline_exposition::Labels;
use scrapeline_sd::TargetGroup;
use scrapeline_sd::config::FileSdConfig;
use scrapeline_sd::file_sd::FileDiscoverer;
use tokio::sync::mpsc;

fn group(source: &str, path: &str, targets: &[&str], labels: &[(&str, &str)]) -> TargetGroup {
    let mut l: Vec<(&str, &str)> = labels.to_vec();
    l.push(("__meta_filepath", path));
    TargetGroup {
        source: source.to_string(),
        targets: targets
            .iter()
            .map(|t| Labels::from_pairs([("__address__", *t)]))
            .collect(),
        labels: Labels::from_pairs(l),
    }
}

fn empty(source: &str) -> TargetGroup {
    TargetGroup {
        source: source.to_string(),
        ..Default::default()
    }
}

struct Run {
    rx: mpsc::Receiver<Vec<TargetGroup>>,
    state: BTreeMap<String, TargetGroup>,
    _task: tokio::task::JoinHandle<()>,
}

impl Run {
    fn start(patterns: Vec<String>) -> Run {
        let cfg = FileSdConfig {
            files: patterns,
            ..Default::default()
        };
        let (tx, rx) = mpsc::channel(16);
        let task = tokio::spawn(FileDiscoverer::new(cfg, Duration::from_millis(20)).run(tx));
        Run {
            rx,
            state: BTreeMap::new(),
            _task: task,
        }
    }

    async fn next(&mut self) -> Vec<TargetGroup> {
        let b = tokio::time::timeout(Duration::from_secs(5), self.rx.recv())
            .await
            .expect("a batch within 5s")
            .expect("discoverer alive");
        for g in &b {
            self.state.insert(g.source.clone(), g.clone());
        }
        b
    }
}

/// Writes a file so its modification is seen (size or mtime changes).
fn write(path: &std::path::Path, content: &str) {
    std::fs::write(path, content).unwrap();
}

#[tokio::test]
async fn json_and_yaml_through_globs() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.json");
    let b = dir.path().join("b.yml");
    write(
        &a,
        r#"[{"targets": ["h1:9100", "h2:9100"], "labels": {"env": "prod"}}]"#,
    );
    write(
        &b,
        "- targets: ['h3:80']\n- targets: ['h4:80']\n  labels: {team: x}\n",
    );
    let (ap, bp) = (a.display().to_string(), b.display().to_string());
    let mut run = Run::start(vec![
        format!("{}/*.json", dir.path().display()),
        format!("{}/*.yml", dir.path().display()),
    ]);
    let first = run.next().await;
    assert_eq!(
        first,
        vec![
            group(
                &format!("{ap}:0"),
                &ap,
                &["h1:9100", "h2:9100"],
                &[("env", "prod")]
            ),
            group(&format!("{bp}:0"), &bp, &["h3:80"], &[]),
            group(&format!("{bp}:1"), &bp, &["h4:80"], &[("team", "x")]),
        ]
    );
}

#[tokio::test]
async fn reload_on_change_and_vanished_sources() {
    let dir = tempfile::tempdir().unwrap();
    let b = dir.path().join("b.yaml");
    write(&b, "- targets: ['h3:80']\n- targets: ['h4:80']\n");
    let bp = b.display().to_string();
    let mut run = Run::start(vec![format!("{}/*.yaml", dir.path().display())]);
    assert_eq!(run.next().await.len(), 2);

    // Shrink to one group with another target: group 1 vanishes.
    write(&b, "- targets: ['h5:8080']\n");
    let batch = run.next().await;
    assert_eq!(
        batch,
        vec![
            empty(&format!("{bp}:1")),
            group(&format!("{bp}:0"), &bp, &["h5:8080"], &[])
        ]
    );

    // Broken content keeps the last groups: nothing is sent; fixing it sends the new groups.
    write(&b, "- targets: [unclosed\n");
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert!(run.rx.try_recv().is_err(), "a broken file changes nothing");
    write(&b, "- targets: ['h6:1']\n");
    assert_eq!(
        run.next().await,
        vec![group(&format!("{bp}:0"), &bp, &["h6:1"], &[])]
    );

    // Removing the file empties its groups.
    std::fs::remove_file(&b).unwrap();
    assert_eq!(run.next().await, vec![empty(&format!("{bp}:0"))]);

    // A new file matching the glob appears.
    let c = dir.path().join("c.yaml");
    write(&c, "- targets: ['h7:1']\n");
    let cp = c.display().to_string();
    assert_eq!(
        run.next().await,
        vec![group(&format!("{cp}:0"), &cp, &["h7:1"], &[])]
    );
}
