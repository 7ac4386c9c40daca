//! Against Debian's real `prometheus-node-exporter` on 127.0.0.1 (skipped with a printed
//! reason when the binary is absent; CI installs it).

mod common;

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use common::Recorder;
use scrapeline_exposition::{Entry, Format, Labels, LabelsBuilder, Parser};
use scrapeline_scrape::{GlobalConfig, Health, ManagerOptions, ScrapeConfig, ScrapeManager};
use scrapeline_sd::TargetGroup;

const BIN: &str = "/usr/bin/prometheus-node-exporter";

struct Child(tokio::process::Child);
impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.start_kill();
    }
}

async fn start() -> Option<(Child, String)> {
    if !std::path::Path::new(BIN).exists() {
        eprintln!("SKIP: {BIN} not installed (apt-get install -y prometheus-node-exporter)");
        return None;
    }
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let addr = format!("127.0.0.1:{port}");
    let child = tokio::process::Command::new(BIN)
        .arg(format!("--web.listen-address={addr}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let child = Child(child);
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(&addr).await.is_ok() {
            return Some((child, addr));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("node exporter did not listen on {addr}");
}

/// The body as a plain HTTP/1.0 GET returns it (text format).
async fn fetch(addr: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET /metrics HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out.split_once("\r\n\r\n").unwrap().1.to_string()
}

fn job(yaml: &str) -> ScrapeConfig {
    serde_saphyr::from_str(yaml).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scrapes_real_node_exporter() {
    let Some((_child, addr)) = start().await else {
        return;
    };
    // The expected label set of node_exporter_build_info, from the exporter's own body.
    let body = fetch(&addr).await;
    let mut p = Parser::new(body.as_bytes(), Format::Text);
    let mut lb = LabelsBuilder::new();
    let mut build_info = None;
    while let Some(e) = p.next_entry().unwrap() {
        if let Entry::Series(s) = e
            && s.name() == "node_exporter_build_info"
        {
            s.write_labels(&mut lb);
            lb.set("instance", &addr);
            lb.set("job", "node");
            build_info = Some(lb.labels().to_string());
        }
    }
    let build_info = build_info.expect("node_exporter_build_info exposed");

    let rec = Recorder::default();
    let m = ScrapeManager::new(Arc::new(rec.clone()), ManagerOptions::default());
    m.apply_config(
        vec![
            job("job_name: node\nscrape_interval: 2s\nscrape_timeout: 1500ms\n"),
            job("job_name: node-nogo\nscrape_interval: 2s\nscrape_timeout: 1500ms\nmetric_relabel_configs:\n  - source_labels: [__name__]\n    regex: go_.*\n    action: drop\n"),
        ],
        &GlobalConfig::default(),
    )
    .unwrap();
    let g = TargetGroup {
        source: "ne".into(),
        targets: vec![Labels::from_pairs([("__address__", addr.as_str())])],
        labels: Labels::empty(),
    };
    m.sync("node", vec![g.clone()]);
    m.sync("node-nogo", vec![g]);
    let up = format!("{{__name__=\"up\", instance=\"{addr}\", job=\"node\"}}");
    let end = tokio::time::Instant::now() + Duration::from_secs(10);
    while rec.series(&up).len() < 2 {
        assert!(
            tokio::time::Instant::now() < end,
            "no two scrapes of {addr}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let snap = m.targets();
    for t in &snap.active {
        assert_eq!(
            (t.health, t.last_error.as_str()),
            (Health::Up, ""),
            "{}",
            t.scrape_pool
        );
    }
    let ups = rec.series(&up);
    assert_eq!(
        ups.iter().map(|u| u.1).collect::<Vec<_>>(),
        vec![1.0; ups.len()]
    );
    let bi = rec.series(&build_info);
    assert_eq!(bi.len(), ups.len(), "{build_info}");
    assert!(bi.iter().zip(&ups).all(|(b, u)| b == &(u.0, 1.0)));

    let rep = |name: &str, job: &str| -> Vec<f64> {
        rec.series(&format!(
            "{{__name__=\"{name}\", instance=\"{addr}\", job=\"{job}\"}}"
        ))
        .into_iter()
        .map(|x| x.1)
        .collect()
    };
    let scraped = rep("scrape_samples_scraped", "node");
    let post = rep("scrape_samples_post_metric_relabeling", "node");
    let added = rep("scrape_series_added", "node");
    assert_eq!(scraped, post);
    assert_eq!(added[0], scraped[0]);
    assert_eq!(added[1], 0.0);
    // Samples written per scrape equal scrape_samples_scraped (no duplicates in its output).
    let first_ts = ups[0].0;
    let per_scrape = rec
        .all()
        .into_iter()
        .filter(|s| {
            s.t == first_ts
                && s.labels.contains("job=\"node\"")
                && !s.labels.starts_with("{__name__=\"up\"")
                && !s.labels.starts_with("{__name__=\"scrape_")
        })
        .count();
    assert_eq!(per_scrape as f64, scraped[0]);

    // Metric relabeling dropped every go_* series of the second job, and only those.
    let nogo_scraped = rep("scrape_samples_scraped", "node-nogo");
    let nogo_post = rep("scrape_samples_post_metric_relabeling", "node-nogo");
    let go_lines = body.lines().filter(|l| l.starts_with("go_")).count() as f64;
    assert!(go_lines > 10.0);
    assert_eq!(nogo_post[0], nogo_scraped[0] - go_lines);
    assert!(
        !rec.all()
            .iter()
            .any(|s| s.labels.contains("job=\"node-nogo\"")
                && s.labels.starts_with("{__name__=\"go_"))
    );
    m.shutdown().await;
}
