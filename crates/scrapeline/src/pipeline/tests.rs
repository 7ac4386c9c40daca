use std::collections::BTreeMap;

use futures::future::BoxFuture;
use scrapeline_scrape::Metadata;
use scrapeline_sd::TargetGroup;
use scrapeline_sd::discovery::{Discoverer, DiscovererError};
use scrapeline_testkit::farm::{Behavior, Farm};
use tokio::sync::mpsc;

use super::*;

/// Two endpoints on a closed port: what is appended stays pending in its queue, so a queue's
/// pending count tells whether a reload kept it.
fn remote_config(b_url: &str, extra: &str) -> Config {
    let text = format!(
        "remote_write:\n  - url: http://127.0.0.1:9/a\n    name: a\n  - url: {b_url}\n    \
         name: b\n{extra}"
    );
    Config::load_str(&text, "p.yml").unwrap_or_else(|e| panic!("{e}"))
}

fn append_one(sink: &Arc<dyn Appendable>, name: &str) {
    let mut app = sink.appender();
    let l = Labels::from_pairs([("__name__", name)]);
    app.append(0, &l, 1_700_000_000_000, 1.0)
        .unwrap_or_else(|e| panic!("{e}"));
    app.commit().unwrap_or_else(|e| panic!("{e}"));
}

fn pending(p: &Pipeline) -> Vec<usize> {
    p.remote_write()
        .queues()
        .iter()
        .map(|q| q.pending())
        .collect()
}

fn metrics(p: &Pipeline) -> String {
    let mut out = String::new();
    p.remote_write().write_metrics(&mut out);
    out
}

/// Issue 16: a reload restarts the remote-write queues whose config changed and keeps the
/// others (the binary only warned "restart to apply them" before).
#[tokio::test]
async fn reload_restarts_only_changed_remote_write_queues() {
    let p = Pipeline::builder(remote_config("http://127.0.0.1:9/b", ""))
        .flush_deadline(Duration::from_millis(50))
        .start()
        .unwrap_or_else(|e| panic!("{e}"));
    append_one(&p.appendable(), "x");
    assert_eq!(pending(&p), vec![1, 1]);

    p.reload(remote_config("http://127.0.0.1:9/b2", ""))
        .unwrap_or_else(|e| panic!("{e}"));
    // `a` kept its queue (and its pending sample); `b` is a fresh queue at the new URL.
    assert_eq!(pending(&p), vec![1, 0]);
    let m = metrics(&p);
    assert!(
        m.contains("remote_name=\"b\",url=\"http://127.0.0.1:9/b2\""),
        "{m}"
    );
    assert!(!m.contains("url=\"http://127.0.0.1:9/b\""), "{m}");

    // Scrapes now reach the new queue.
    append_one(&p.appendable(), "y");
    assert_eq!(pending(&p), vec![2, 1]);

    // Changed external labels restart every queue (they are part of each queue's config).
    let text = "global:\n  external_labels: {cluster: eu}\nremote_write:\n  - url: \
                http://127.0.0.1:9/a\n    name: a\n  - url: http://127.0.0.1:9/b2\n    name: b\n";
    p.reload(Config::load_str(text, "p.yml").unwrap_or_else(|e| panic!("{e}")))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(pending(&p), vec![0, 0]);
    p.shutdown().await;
}

/// A reload that fails leaves everything as it was: queues, config and jobs.
#[tokio::test]
async fn failed_reload_changes_nothing() {
    let jobs =
        "scrape_configs:\n  - job_name: keep\n    static_configs: [{targets: ['127.0.0.1:9']}]\n";
    let p = Pipeline::builder(remote_config("http://127.0.0.1:9/b", jobs))
        .flush_deadline(Duration::from_millis(50))
        .start()
        .unwrap_or_else(|e| panic!("{e}"));
    append_one(&p.appendable(), "x");
    // `b` changes, and a new endpoint's CA file is missing: its queue cannot start.
    let bad = "  - url: https://127.0.0.1:9/c\n    name: c\n    tls_config: {ca_file: \
               /nonexistent/ca.pem}\nscrape_configs:\n  - job_name: other\n";
    let err = p
        .reload(remote_config("http://127.0.0.1:9/b2", bad))
        .expect_err("a missing CA file must fail the reload");
    assert!(err.to_string().contains("/nonexistent/ca.pem"), "{err}");
    assert_eq!(pending(&p), vec![1, 1]);
    assert!(metrics(&p).contains("url=\"http://127.0.0.1:9/b\""));
    let cfg = p.config();
    let names: Vec<&str> = cfg
        .scrape_configs
        .iter()
        .map(|s| s.job_name.as_str())
        .collect();
    assert_eq!(names, vec!["keep"]);
    p.shutdown().await;
}

/// What a test sink saw: committed samples by metric name, and family types by name.
#[derive(Default)]
struct Seen {
    samples: BTreeMap<String, f64>,
    types: BTreeMap<String, String>,
}

#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Seen>>);

struct RecorderScrape {
    seen: Arc<Mutex<Seen>>,
    batch: Vec<(String, f64)>,
    next: SeriesRef,
}

impl Appendable for Recorder {
    fn appender(&self) -> Box<dyn Appender> {
        Box::new(RecorderScrape {
            seen: self.0.clone(),
            batch: Vec::new(),
            next: 1 << 40,
        })
    }
}

impl Appender for RecorderScrape {
    fn append(
        &mut self,
        series: SeriesRef,
        labels: &Labels,
        _t: i64,
        v: f64,
    ) -> Result<SeriesRef, AppendError> {
        let name = labels.get("__name__").unwrap_or("").to_owned();
        self.batch.push((name, v));
        self.next += 1;
        Ok(if series == 0 { self.next } else { series })
    }

    fn update_metadata(
        &mut self,
        series: SeriesRef,
        labels: &Labels,
        metadata: &Metadata,
    ) -> Result<SeriesRef, AppendError> {
        let name = labels.get("__name__").unwrap_or("").to_owned();
        let kind = metadata
            .kind
            .as_str(scrapeline_exposition::parser::Format::Text);
        lock(&self.seen).types.insert(name, kind.to_owned());
        Ok(series)
    }

    fn commit(&mut self) -> Result<(), AppendError> {
        let mut seen = lock(&self.seen);
        for (n, v) in self.batch.drain(..) {
            seen.samples.insert(n, v);
        }
        Ok(())
    }

    fn rollback(&mut self) {
        self.batch.clear();
    }
}

/// A custom discoverer: one fixed target.
struct OneTarget(String);

impl Discoverer for OneTarget {
    fn run(
        self: Box<Self>,
        out: mpsc::Sender<Vec<TargetGroup>>,
    ) -> BoxFuture<'static, Result<(), DiscovererError>> {
        Box::pin(async move {
            let group = TargetGroup {
                source: "inventory/0".into(),
                targets: vec![Labels::from_pairs([("__address__", self.0.as_str())])],
                labels: Labels::from_pairs([("__meta_inventory_rack", "r1")]),
            };
            if out.send(vec![group]).await.is_ok() {
                out.closed().await;
            }
            Ok(())
        })
    }
}

async fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A custom SD attached to a job by name feeds the scrape manager, which appends into the
/// embedder's sink, and it stays attached across a reload of the job.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_sd_targets_are_scraped_into_the_sink() {
    let farm = Farm::start().await;
    farm.set(
        "/metrics",
        Behavior::text("# TYPE jobs_total counter\njobs_total 7\n"),
    );
    let addr = farm.addr().to_string();
    let yaml = "scrape_configs:\n  - job_name: inv\n    scrape_interval: 100ms\n    \
                scrape_timeout: 100ms\n    relabel_configs:\n      - source_labels: \
                [__meta_inventory_rack]\n        target_label: rack\n";
    let config = Config::load_str(yaml, "p.yml").unwrap_or_else(|e| panic!("{e}"));
    let rec = Recorder::default();
    let a = addr.clone();
    let p = Pipeline::builder(config.clone())
        .sink(Arc::new(rec.clone()))
        .custom_sd(
            "inv",
            CustomSd::new("inventory", "fixed", move || {
                Box::new(OneTarget(a.clone())) as Box<dyn Discoverer>
            }),
        )
        .start()
        .unwrap_or_else(|e| panic!("{e}"));
    wait_for("the first scrape", || {
        lock(&rec.0).samples.contains_key("jobs_total")
    })
    .await;
    let targets = p.targets().active;
    assert_eq!(targets.len(), 1);
    assert_eq!(targets[0].labels.get("rack"), Some("r1"));
    assert_eq!(targets[0].scrape_url, format!("http://{addr}/metrics"));
    {
        let seen = lock(&rec.0);
        assert_eq!(seen.samples.get("jobs_total"), Some(&7.0));
        assert_eq!(seen.samples.get("up"), Some(&1.0));
    }
    p.reload(config).unwrap_or_else(|e| panic!("{e}"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(p.targets().active.len(), 1);
    p.shutdown().await;
}

/// In agent mode (no sink) the refs handed out are the pipeline's own and stay unique, so a
/// queue started by a reload never confuses two series.
#[test]
fn agent_refs_are_unique_and_kept() {
    let issuer = RefIssuer::default();
    let mut a = issuer.appender();
    let mut b = issuer.appender();
    let l = Labels::empty();
    assert_eq!(a.append(0, &l, 0, 0.0), Ok(1));
    assert_eq!(b.append(0, &l, 0, 0.0), Ok(2));
    assert_eq!(a.append(2, &l, 0, 0.0), Ok(2));
}

#[test]
fn discovery_options_resolve_against_the_config_directory() {
    let o = discovery_options(Some(Path::new("conf/prometheus.yml")));
    assert_eq!(o.kube.config_dir, PathBuf::from("conf"));
    let o = discovery_options(Some(Path::new("prometheus.yml")));
    assert_eq!(o.kube.config_dir, PathBuf::from("."));
    assert_eq!(o.file_poll_interval, Duration::from_secs(1));
}
