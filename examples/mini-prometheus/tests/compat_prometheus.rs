//! Differential test: Debian's Prometheus 2.42 and mini-prometheus scrape the same loopback
//! target farm with the same `prometheus.yml`, and must agree.
//!
//! The farm (testkit `Farm`, one listener per "host") serves targets whose series change over
//! time and fail: one value changes on every scrape, one series disappears and another appears,
//! one target answers 500 for a while, one target is removed from file SD mid-run, one target
//! exceeds `sample_limit`, two expose conflicting `job`/`instance` labels (one job with
//! `honor_labels: true`, one without). The config has `file_sd_configs` and `static_configs`
//! jobs with `drop`, `keep`, `replace`, `labelmap`, `hashmod` and `labeldrop` target relabeling
//! and `drop`, `replace`, `labeldrop` metric relabeling.
//!
//! Compared in three phases (steady; series vanished + target failing; target recovered +
//! target removed), each after both scrapers made two more scrapes of every target:
//! (a) `/api/v1/targets` per scrape pool: active targets' `labels`, `scrapeUrl`, `health` (and
//!     `lastError` where Prometheus wrote the message itself, not Go's network stack), dropped
//!     targets' `discoveredLabels`;
//! (b) `/federate?match[]={job=~".+"}`: the same series, the same values (changing values: each
//!     must be one the farm served; `scrape_duration_seconds`: existence), report series
//!     included;
//! (c) staleness via `/api/v1/query`: a vanished series and the series of a failing target stop
//!     being returned within 2 scrape intervals; the series of a removed target (and its `up`)
//!     within 3 intervals after the target left `/api/v1/targets` (Prometheus writes end-of-run
//!     markers only after two more ticks plus interval/10, dated at the first tick).
//!
//! The referee is 2.42; mini-prometheus follows Prometheus 3 (the team's scrape
//! semantics notes, §10, after Prometheus' `scrape/`). Differences the test expects and normalises, and why:
//! - **Default port** (2.42 adds `:80`/`:443` to an address without a port, 3.x never does):
//!   job `default-port` scrapes `127.0.0.1`; Prometheus' `instance="127.0.0.1:80"` and
//!   `scrapeUrl` `http://127.0.0.1:80/metrics` are mapped to the port-less 3.x form before
//!   comparing, and ours must be port-less.
//! - **`.` and newlines in regexes** (2.42 anchors `^(?:re)$`, 3.x `^(?s:re)$`): a label value
//!   `line1\nline2` meets the metric-relabel regex `line1.line2`. 3.x matches and adds
//!   `multiline="dot-matched-newline"`; 2.42 does not. The test requires exactly that: the label
//!   on our series, not on Prometheus', then compares the rest.
//! - **Internal labels in `discoveredLabels`**: Prometheus 3.13+ adds
//!   `__scrape_native_histograms__`, `__always_scrape_classic_histograms__` and
//!   `__convert_classic_histograms_to_nhcb__` (from the job's histogram settings, so relabeling
//!   can change them per target); 2.42 predates them. They are removed from ours after checking
//!   they carry the job's defaults (`"false"`).
//! - **2.42 `discoveredLabels` bug**: 2.42's relabeling reused the discovered label slice as its
//!   output buffer, so `discoveredLabels` shows the relabel output for active targets and, for a
//!   target dropped by a rule after others, the labels after the last rule that ran, sorted and
//!   cut to the original count (the `shard` job: `__tmp_shard` appears, the last label falls
//!   off). Active targets' `discoveredLabels` are therefore not compared; a dropped one from
//!   Prometheus is accepted if it equals ours or equals ours plus one label Prometheus shows,
//!   sorted and cut to our length (the bug's exact effect). Jobs drop with their first rule
//!   where they can, which the bug does not touch.
//! - Not used because 2.42 cannot parse or behaves differently by design: UTF-8 names,
//!   `scrape_protocols`, `enable_compression`, `__param_*` from SD together with `params`,
//!   responses without a text `Content-Type` (the farm always sends one), duplicate series.
//!
//! Run: `cargo test -p mini-prometheus --test compat_prometheus -- --nocapture`. Without
//! `/usr/bin/prometheus` the test prints `SKIP` and passes.

mod compat_common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use compat_common::*;
use scrapeline_testkit::farm::{Behavior, Farm};

/// Every job scrapes this often.
const INTERVAL: Duration = Duration::from_secs(1);
/// The labels Prometheus 3.13+ adds to `discoveredLabels` and 2.42 does not have.
const HISTOGRAM_INTERNAL_LABELS: [&str; 3] = [
    "__scrape_native_histograms__",
    "__always_scrape_classic_histograms__",
    "__convert_classic_histograms_to_nhcb__",
];
const REFEREE: &str = "Prometheus 2.42";

/// What the farm's changing targets serve, shared with their payload closures.
struct Script {
    /// 1: steady, 2: `app_vanishing` gone and `app_late` new, 3: same as 2.
    phase: AtomicU8,
    /// Next `app_inflight` value (unique per response).
    next: AtomicU64,
    /// Every `app_inflight` value served.
    served: Mutex<BTreeSet<u64>>,
}

/// The body of an "app" host: stable counters, a gauge that changes every scrape, a summary the
/// metric relabeling drops, a label metric relabeling renames, and the phase-dependent series.
fn app_payload(host: &str, script: &Script) -> String {
    let v = script.next.fetch_add(1, Ordering::SeqCst);
    script
        .served
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(v);
    let phase = script.phase.load(Ordering::SeqCst);
    let mut s = String::new();
    s.push_str("# HELP app_requests_total Requests served.\n# TYPE app_requests_total counter\n");
    s.push_str("app_requests_total{code=\"200\",handler=\"/api/items\",method=\"GET\"} 1027\n");
    s.push_str("app_requests_total{code=\"503\",handler=\"/api/items\",method=\"POST\"} 3\n");
    s.push_str("# HELP app_temperature_celsius Sensor temperature.\n# TYPE app_temperature_celsius gauge\n");
    s.push_str("app_temperature_celsius{instance_zone=\"eu-west-1a\",sensor=\"cpu\"} 21.5\n");
    s.push_str("# TYPE go_gc_duration_seconds summary\n");
    s.push_str("go_gc_duration_seconds{quantile=\"0.5\"} 0.0001\ngo_gc_duration_seconds_sum 0.5\ngo_gc_duration_seconds_count 12\n");
    s.push_str("# TYPE app_inflight gauge\n");
    s.push_str(&format!("app_inflight {v}\n"));
    s.push_str(&format!(
        "app_build_info{{host=\"{host}\",version=\"1.4.2\"}} 1\n"
    ));
    if host == "web-1" {
        if phase < 2 {
            s.push_str("app_vanishing{kind=\"temp\"} 7\n");
        } else {
            s.push_str("app_late{kind=\"new\"} 1\n");
        }
        s.push_str("app_note{text=\"line1\\nline2\"} 1\n");
    }
    if host == "web-2" {
        s.push_str("app_conflict{instance=\"foo:1\",job=\"exported\"} 1\n");
    }
    s
}

/// A host of the farm: its own listener, so `instance` differs per host.
struct Host {
    name: &'static str,
    farm: Farm,
}

impl Host {
    fn addr(&self) -> String {
        self.farm.addr().to_string()
    }
}

/// One scrape target: where it is served, to count both scrapers' requests.
#[derive(Clone)]
struct Target {
    host: usize,
    path: &'static str,
}

/// The config both servers load. `dir` holds the file SD files.
fn config(dir: &Path, misc: &str) -> String {
    format!(
        r#"global:
  scrape_interval: 1s
  scrape_timeout: 900ms
  external_labels: {{}}

scrape_configs:
  # file SD, honor_labels false (web-2 exposes job/instance: they become exported_*).
  - job_name: app
    honor_labels: false
    params:
      format: [prometheus]
    file_sd_configs:
      - files: ["{dir}/app-*.json"]
    relabel_configs:
      - source_labels: [env]
        regex: dev
        action: drop
      - regex: __meta_ext_(.+)
        action: labelmap
        replacement: ext_$1
      - source_labels: [service, __address__]
        separator: "@"
        target_label: instance
      - source_labels: [env]
        regex: (prod|staging)
        target_label: tier
        replacement: ${{1}}-tier
      - regex: team_internal
        action: labeldrop
      - source_labels: [env]
        regex: nomatch-(.*)
        target_label: never_set
    metric_relabel_configs:
      - source_labels: [__name__]
        regex: go_gc_.*
        action: drop
      - source_labels: [code]
        regex: (\d)..
        target_label: code_class
        replacement: ${{1}}xx
      - regex: instance_zone
        action: labeldrop
      - source_labels: [text]
        regex: line1.line2
        target_label: multiline
        replacement: dot-matched-newline

  # static, honor_labels true: the exposed job/instance win.
  - job_name: honor
    honor_labels: true
    static_configs:
      - targets: ["{misc}"]
        labels: {{__metrics_path__: /honor, env: prod}}
    metric_relabel_configs:
      - source_labels: [__name__]
        regex: app_(plain|conflict)
        action: keep

  # static, sharded by hashmod: node-2 and node-3 are kept, node-1 and node-4 dropped.
  - job_name: shard
    static_configs:
      - targets: ["{misc}"]
        labels: {{__metrics_path__: /shard/node-1, node: node-1}}
      - targets: ["{misc}"]
        labels: {{__metrics_path__: /shard/node-2, node: node-2}}
      - targets: ["{misc}"]
        labels: {{__metrics_path__: /shard/node-3, node: node-3}}
      - targets: ["{misc}"]
        labels: {{__metrics_path__: /shard/node-4, node: node-4}}
    relabel_configs:
      - source_labels: [node]
        modulus: 2
        target_label: __tmp_shard
        action: hashmod
      - source_labels: [__tmp_shard]
        regex: "1"
        action: keep
      - source_labels: [node]
        target_label: instance

  # limits: 8 samples against sample_limit 5 fail; 3 pass.
  - job_name: limits
    sample_limit: 5
    static_configs:
      - targets: ["{misc}"]
        labels: {{__metrics_path__: /limit/big, size: big}}
      - targets: ["{misc}"]
        labels: {{__metrics_path__: /limit/small, size: small}}

  # The relabeled address is empty ("no address", as an Ingress rule without a host): a sync
  # failure, listed neither as active nor as dropped, by Prometheus and by us.
  - job_name: no-address
    static_configs:
      - targets: ["{misc}"]
    relabel_configs:
      - target_label: __address__
        replacement: ""

  # No port: 2.42 adds :80, Prometheus 3 does not (normalised, see the file's doc).
  - job_name: default-port
    static_configs:
      - targets: ["127.0.0.1"]
"#,
        dir = dir.display(),
    )
}

/// The file SD file of the web hosts.
fn web_sd(hosts: &[Host]) -> String {
    format!(
        r#"[{{"targets": ["{}", "{}"], "labels": {{"env": "prod", "service": "web", "team_internal": "a-team", "__meta_ext_rack": "r1"}}}}]"#,
        hosts[0].addr(),
        hosts[1].addr()
    )
}

/// The file SD file of the search hosts (with or without search-2) and the dev host (dropped).
fn search_sd(hosts: &[Host], with_search2: bool) -> String {
    let targets = if with_search2 {
        format!(r#""{}", "{}""#, hosts[2].addr(), hosts[3].addr())
    } else {
        format!(r#""{}""#, hosts[2].addr())
    };
    format!(
        r#"[{{"targets": [{targets}], "labels": {{"env": "staging", "service": "search", "__meta_ext_rack": "r2"}}}},
 {{"targets": ["{}"], "labels": {{"env": "dev", "service": "legacy"}}}}]"#,
        hosts[4].addr()
    )
}

/// Both servers, their ports, and the farm.
struct Env {
    prom: Proc,
    mini: Proc,
    prom_port: u16,
    mini_port: u16,
    hosts: Vec<Host>,
    script: Arc<Script>,
}

impl Env {
    fn procs(&self) -> [&Proc; 2] {
        [&self.mini, &self.prom]
    }

    /// Waits until each scraper requested every target in `targets` `n` times since `since`.
    async fn wait_scrapes(&mut self, targets: &[Target], since: SystemTime, n: usize, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let mut missing = Vec::new();
            for t in targets {
                let log = self.hosts[t.host].farm.access_log(t.path);
                let (mut theirs, mut ours) = (0, 0);
                for a in log.iter().filter(|a| a.wall >= since) {
                    let ua = a
                        .headers
                        .get("user-agent")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("");
                    if ua.starts_with("Prometheus/") {
                        theirs += 1;
                    } else {
                        ours += 1;
                    }
                }
                if theirs < n || ours < n {
                    missing.push(format!(
                        "{}{} (mini-prometheus {ours}, {REFEREE} {theirs})",
                        self.hosts[t.host].name, t.path
                    ));
                }
            }
            if missing.is_empty() {
                // Let the last scrape's append finish before reading.
                tokio::time::sleep(Duration::from_millis(300)).await;
                return;
            }
            if Instant::now() > deadline {
                panic!(
                    "{what}: targets not scraped {n} times by both within 30 s: {}\n{}\n{}",
                    missing.join(", "),
                    self.mini.log_tail(20),
                    self.prom.log_tail(20)
                );
            }
            for p in [&mut self.mini, &mut self.prom] {
                if !p.alive() {
                    panic!("{} exited\n{}", p.name, p.log_tail(40));
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Active and dropped targets of one server, normalised to compare.
#[derive(Default, Debug)]
struct TargetsView {
    /// pool → scrapeUrl → (labels, health, lastError).
    active: BTreeMap<String, BTreeMap<String, (LabelMap, String, String)>>,
    /// pool → discoveredLabels of dropped targets.
    dropped: BTreeMap<String, Vec<LabelMap>>,
}

fn targets_view(v: &serde_json::Value) -> TargetsView {
    let mut out = TargetsView::default();
    let data = &v["data"];
    for t in data["activeTargets"].as_array().into_iter().flatten() {
        let pool = t["scrapePool"].as_str().unwrap_or("").to_owned();
        let url = t["scrapeUrl"].as_str().unwrap_or("").to_owned();
        out.active.entry(pool).or_default().insert(
            url,
            (
                label_map(&t["labels"]),
                t["health"].as_str().unwrap_or("").to_owned(),
                t["lastError"].as_str().unwrap_or("").to_owned(),
            ),
        );
    }
    for t in data["droppedTargets"].as_array().into_iter().flatten() {
        // Ours also lists targets that could not be created, with an `error` key (issue 18);
        // Prometheus only logs those, so they are not compared.
        if t.get("error").is_some() {
            continue;
        }
        let ls = label_map(&t["discoveredLabels"]);
        // 2.42 has no `scrapePool` on dropped targets; `job` is the pool here.
        let pool = ls.get("job").cloned().unwrap_or_default();
        out.dropped.entry(pool).or_default().push(ls);
    }
    out
}

/// 2.42 default port → 3.x form, for the `default-port` job only.
fn strip_default_port_url(url: &str) -> String {
    url.replacen("http://127.0.0.1:80/", "http://127.0.0.1/", 1)
}

/// Whether a dropped target's labels from 2.42 are ours, allowing for 2.42's buffer-reuse bug.
fn dropped_matches_242(ours: &LabelMap, theirs: &LabelMap) -> bool {
    if ours == theirs {
        return true;
    }
    // The bug: the labels after the last relabel step that ran (ours plus the label that step
    // added), sorted, cut to the original length.
    for (n, v) in theirs.iter().filter(|(n, _)| !ours.contains_key(*n)) {
        let mut plus = ours.clone();
        plus.insert(n.clone(), v.clone());
        let cut: LabelMap = plus.into_iter().take(ours.len()).collect();
        if &cut == theirs {
            return true;
        }
    }
    false
}

/// Prometheus' own messages (not Go network errors), which must match exactly.
fn comparable_error(e: &str) -> bool {
    e.starts_with("server returned HTTP status") || e == "sample limit exceeded"
}

async fn compare_targets(env: &Env, phase: &str) -> (TargetsView, TargetsView) {
    let ours = get_json(env.mini_port, "/api/v1/targets")
        .await
        .unwrap_or_else(|e| panic!("{phase}: mini-prometheus /api/v1/targets: {e}"));
    let theirs = get_json(env.prom_port, "/api/v1/targets")
        .await
        .unwrap_or_else(|e| panic!("{phase}: {REFEREE} /api/v1/targets: {e}"));
    let (mut ours, mut theirs) = (targets_view(&ours), targets_view(&theirs));
    let mut diffs = Vec::new();

    // Default port (2.42 adds :80): normalise theirs, and ours must be port-less.
    if let Some(pool) = theirs.active.get_mut("default-port") {
        let moved: BTreeMap<_, _> = std::mem::take(pool)
            .into_iter()
            .map(|(url, (mut ls, h, e))| {
                if ls.get("instance").map(String::as_str) == Some("127.0.0.1:80") {
                    ls.insert("instance".into(), "127.0.0.1".into());
                }
                (strip_default_port_url(&url), (ls, h, e))
            })
            .collect();
        *pool = moved;
    }

    // Histogram internal labels (3.13+): must be the job defaults, then removed.
    for (pool, list) in ours.dropped.iter_mut() {
        for ls in list.iter_mut() {
            for name in HISTOGRAM_INTERNAL_LABELS {
                match ls.remove(name) {
                    Some(v) if v == "false" => {}
                    other => diffs.push(format!(
                        "job {pool:?} dropped target {:?}: label {name}: ours {other:?}, expected \"false\" (Prometheus 3.13+)",
                        ls.get("__address__")
                    )),
                }
            }
        }
    }

    let pools: BTreeSet<&String> = ours.active.keys().chain(theirs.active.keys()).collect();
    for pool in pools {
        let empty = BTreeMap::new();
        let a = ours.active.get(pool).unwrap_or(&empty);
        let b = theirs.active.get(pool).unwrap_or(&empty);
        let urls: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
        for url in urls {
            match (a.get(url), b.get(url)) {
                (Some(x), None) => diffs.push(format!(
                    "job {pool:?} target {url}: active only in mini-prometheus (labels {:?})",
                    x.0
                )),
                (None, Some(y)) => diffs.push(format!(
                    "job {pool:?} target {url}: active only in {REFEREE} (labels {:?})",
                    y.0
                )),
                (Some(x), Some(y)) => {
                    for d in label_diff(&x.0, &y.0) {
                        diffs.push(format!("job {pool:?} target {url}: {d}"));
                    }
                    if x.1 != y.1 {
                        diffs.push(format!(
                            "job {pool:?} target {url}: health: ours {:?} (lastError {:?}), theirs {:?} (lastError {:?})",
                            x.1, x.2, y.1, y.2
                        ));
                    }
                    if comparable_error(&y.2) && x.2 != y.2 {
                        diffs.push(format!(
                            "job {pool:?} target {url}: lastError: ours {:?}, theirs {:?}",
                            x.2, y.2
                        ));
                    }
                }
                (None, None) => {}
            }
        }
    }

    let pools: BTreeSet<&String> = ours.dropped.keys().chain(theirs.dropped.keys()).collect();
    for pool in pools {
        let a = ours.dropped.get(pool).cloned().unwrap_or_default();
        let mut b = theirs.dropped.get(pool).cloned().unwrap_or_default();
        for ls in &a {
            match b.iter().position(|t| dropped_matches_242(ls, t)) {
                Some(i) => {
                    b.remove(i);
                }
                None => {
                    let near = b.iter().find(|t| {
                        t.get("__address__") == ls.get("__address__")
                            && t.get("__metrics_path__") == ls.get("__metrics_path__")
                    });
                    match near {
                        Some(t) => {
                            for d in label_diff(ls, t) {
                                diffs.push(format!(
                                    "job {pool:?} dropped target {:?}{:?}: discoveredLabels {d}",
                                    ls.get("__address__"),
                                    ls.get("__metrics_path__")
                                ));
                            }
                        }
                        None => diffs.push(format!(
                            "job {pool:?}: dropped only in mini-prometheus: {ls:?}"
                        )),
                    }
                }
            }
        }
        for t in b {
            if !a.iter().any(|ls| {
                t.get("__address__") == ls.get("__address__")
                    && t.get("__metrics_path__") == ls.get("__metrics_path__")
            }) {
                diffs.push(format!("job {pool:?}: dropped only in {REFEREE}: {t:?}"));
            }
        }
    }
    assert_no_diffs(&format!("{phase}: /api/v1/targets"), &diffs, &env.procs());
    (ours, theirs)
}

/// `/federate` of one server as a map from series to value.
async fn federate(port: u16, who: &str, phase: &str) -> BTreeMap<String, (LabelMap, f64)> {
    let path = format!("/federate?match[]={}", enc("{job=~\".+\"}"));
    let (code, body) = http_get(port, &path)
        .await
        .unwrap_or_else(|e| panic!("{phase}: {who} /federate: {e}"));
    assert_eq!(code, 200, "{phase}: {who} /federate: {body}");
    let samples =
        parse_federate(&body).unwrap_or_else(|e| panic!("{phase}: {who} /federate: {e}\n{body}"));
    samples
        .into_iter()
        .map(|s| (series_string(&s.labels), (s.labels, s.value)))
        .collect()
}

/// Compares stored series; returns ours for phase-specific expectations.
async fn compare_federate(env: &Env, phase: &str) -> BTreeMap<String, (LabelMap, f64)> {
    let ours = federate(env.mini_port, "mini-prometheus", phase).await;
    let theirs_raw = federate(env.prom_port, REFEREE, phase).await;
    let mut diffs = Vec::new();

    // Default port: 2.42's instance "127.0.0.1:80" is 3.x's "127.0.0.1".
    let theirs: BTreeMap<String, (LabelMap, f64)> = theirs_raw
        .into_values()
        .map(|(mut ls, v)| {
            if ls.get("job").map(String::as_str) == Some("default-port")
                && ls.get("instance").map(String::as_str) == Some("127.0.0.1:80")
            {
                ls.insert("instance".into(), "127.0.0.1".into());
            }
            (series_string(&ls), (ls, v))
        })
        .collect();
    // `.` matches a newline in 3.x, not in 2.42: ours must have the label, theirs must not.
    let mut ours_norm = BTreeMap::new();
    for (_, (mut ls, v)) in ours.clone() {
        if ls.get("text").map(String::as_str) == Some("line1\nline2")
            && ls.remove("multiline").as_deref() != Some("dot-matched-newline")
        {
            diffs.push(format!(
                "{}: ours lacks multiline=\"dot-matched-newline\": Prometheus 3 regexes are ^(?s:…)$, so `.` matches the newline",
                series_string(&ls)
            ));
        }
        ours_norm.insert(series_string(&ls), (ls, v));
    }
    for (k, (ls, _)) in &theirs {
        if ls.get("text").map(String::as_str) == Some("line1\nline2")
            && ls.contains_key("multiline")
        {
            diffs.push(format!(
                "{k}: {REFEREE} set multiline although 2.42 regexes are ^(?:…)$ (no newline for `.`)"
            ));
        }
    }

    let served = env
        .script
        .served
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let keys: BTreeSet<&String> = ours_norm.keys().chain(theirs.keys()).collect();
    for k in keys {
        let where_ = |ls: &LabelMap| {
            format!(
                "job {:?} instance {:?}",
                ls.get("job").map(String::as_str).unwrap_or(""),
                ls.get("instance").map(String::as_str).unwrap_or("")
            )
        };
        match (ours_norm.get(k), theirs.get(k)) {
            (Some((ls, v)), None) => diffs.push(format!(
                "{}: series {k} only in mini-prometheus (value {v})",
                where_(ls)
            )),
            (None, Some((ls, v))) => diffs.push(format!(
                "{}: series {k} only in {REFEREE} (value {v})",
                where_(ls)
            )),
            (Some((ls, a)), Some((_, b))) => {
                let name = ls.get("__name__").map(String::as_str).unwrap_or("");
                match name {
                    "scrape_duration_seconds" => {}
                    "app_inflight" => {
                        for (who, v) in [("ours", a), ("theirs", b)] {
                            if !(v.fract() == 0.0 && served.contains(&(*v as u64))) {
                                diffs.push(format!(
                                    "{}: series {k}: {who} value {v} was never served by the farm",
                                    where_(ls)
                                ));
                            }
                        }
                    }
                    _ => {
                        if a.to_bits() != b.to_bits() && !(a.is_nan() && b.is_nan()) {
                            diffs.push(format!(
                                "{}: series {k}: value ours {a}, theirs {b}",
                                where_(ls)
                            ));
                        }
                    }
                }
            }
            (None, None) => {}
        }
    }
    assert_no_diffs(&format!("{phase}: /federate"), &diffs, &env.procs());
    ours_norm
}

/// Instant query: the series returned (as strings), or why not.
async fn query(port: u16, q: &str) -> Result<Vec<String>, String> {
    let v = get_json(port, &format!("/api/v1/query?query={}", enc(q))).await?;
    if v["status"] != "success" {
        return Err(format!("query {q}: {v}"));
    }
    Ok(v["data"]["result"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| series_string(&label_map(&r["metric"])))
        .collect())
}

/// The same instant query on both servers must return the same series (and not none).
async fn compare_query(env: &Env, q: &str, phase: &str) {
    let mut ours = query(env.mini_port, q)
        .await
        .unwrap_or_else(|e| panic!("{phase}: mini-prometheus: {e}"));
    let mut theirs = query(env.prom_port, q)
        .await
        .unwrap_or_else(|e| panic!("{phase}: {REFEREE}: {e}"));
    ours.sort();
    theirs.sort();
    assert!(
        !theirs.is_empty(),
        "{phase}: {REFEREE} returned nothing for {q}"
    );
    assert_eq!(
        ours, theirs,
        "{phase}: /api/v1/query?query={q}: mini-prometheus (left) vs {REFEREE} (right)"
    );
}

/// Polls `q` on both servers until it returns nothing; returns when each was first seen empty.
async fn wait_gone(env: &Env, q: &str, deadline: Instant) -> [Instant; 2] {
    let mut gone = [None, None];
    loop {
        for (i, port) in [env.mini_port, env.prom_port].into_iter().enumerate() {
            if gone[i].is_none() {
                match query(port, q).await {
                    Ok(r) if r.is_empty() => gone[i] = Some(Instant::now()),
                    Ok(_) => {}
                    Err(e) => panic!("query {q}: {e}"),
                }
            }
        }
        if let [Some(a), Some(b)] = gone {
            return [a, b];
        }
        if Instant::now() > deadline {
            panic!(
                "{q} still returns series: mini-prometheus {:?}, {REFEREE} {:?}",
                query(env.mini_port, q).await,
                query(env.prom_port, q).await
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn expect_value(
    series: &BTreeMap<String, (LabelMap, f64)>,
    name: &str,
    want: &[(&str, &str)],
    value: f64,
    phase: &str,
) {
    let found: Vec<f64> = series
        .values()
        .filter(|(ls, _)| {
            ls.get("__name__").map(String::as_str) == Some(name)
                && want
                    .iter()
                    .all(|(k, v)| ls.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|(_, v)| *v)
        .collect();
    assert_eq!(
        found,
        vec![value],
        "{phase}: {name}{want:?} in mini-prometheus (and so in {REFEREE})"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mini_prometheus_agrees_with_prometheus_242() {
    let Some(prom_bin) = find_binary("prometheus") else {
        eprintln!(
            "SKIP compat_prometheus: no `prometheus` binary (apt-get install prometheus; .ci/run installs it)"
        );
        return;
    };
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));

    // The farm: five app hosts and one host for the static jobs.
    let script = Arc::new(Script {
        phase: AtomicU8::new(1),
        next: AtomicU64::new(1000),
        served: Mutex::new(BTreeSet::new()),
    });
    let mut hosts = Vec::new();
    for name in ["web-1", "web-2", "search-1", "search-2", "legacy-1", "misc"] {
        hosts.push(Host {
            name,
            farm: Farm::start().await,
        });
    }
    let app = |name: &'static str| {
        let s = script.clone();
        Behavior::changing(move |_| app_payload(name, &s))
    };
    for h in &hosts[..5] {
        h.farm.set("/metrics", app(h.name));
    }
    let misc = &hosts[5].farm;
    misc.set(
        "/honor",
        Behavior::text(
            "app_conflict{instance=\"foo:1\",job=\"exported\"} 1\napp_plain{kind=\"x\"} 5\napp_dropped 1\n",
        ),
    );
    for n in 1..=4 {
        misc.set(
            &format!("/shard/node-{n}"),
            Behavior::text(format!(
                "node_load1 0.{n}\nnode_boot_time_seconds 1.7e+09\n"
            )),
        );
    }
    misc.set(
        "/limit/big",
        Behavior::text(
            (0..8)
                .map(|i| format!("big_series{{i=\"{i}\"}} {i}\n"))
                .collect::<String>(),
        ),
    );
    misc.set(
        "/limit/small",
        Behavior::text("small_a 1\nsmall_b 2\nsmall_c 3\n"),
    );

    let sd_dir = dir.path().join("sd");
    std::fs::create_dir_all(&sd_dir).unwrap_or_else(|e| panic!("mkdir: {e}"));
    write_atomic(&sd_dir.join("app-web.json"), &web_sd(&hosts));
    write_atomic(&sd_dir.join("app-search.json"), &search_sd(&hosts, true));
    let cfg_path = dir.path().join("prometheus.yml");
    std::fs::write(&cfg_path, config(&sd_dir, &hosts[5].addr()))
        .unwrap_or_else(|e| panic!("write config: {e}"));

    let Pair {
        prom,
        prom_port,
        mini,
        mini_port,
    } = Pair::start(
        dir.path(),
        &prom_bin,
        &cfg_path,
        &cfg_path,
        Duration::from_secs(20),
    )
    .await;
    let mut env = Env {
        prom,
        mini,
        prom_port,
        mini_port,
        hosts,
        script,
    };

    let t = |host: usize, path: &'static str| Target { host, path };
    let app_targets = [
        t(0, "/metrics"),
        t(1, "/metrics"),
        t(2, "/metrics"),
        t(3, "/metrics"),
    ];
    let static_targets = vec![
        t(5, "/honor"),
        t(5, "/shard/node-2"),
        t(5, "/shard/node-3"),
        t(5, "/limit/big"),
        t(5, "/limit/small"),
    ];
    let all: Vec<Target> = app_targets.iter().chain(&static_targets).cloned().collect();
    let inst = |h: usize, svc: &str| format!("{svc}@{}", env.hosts[h].addr());
    let (web1, web2, search1, search2) = (
        inst(0, "web"),
        inst(1, "web"),
        inst(2, "search"),
        inst(3, "search"),
    );

    // Phase 1: steady state.
    let t1 = SystemTime::now() - Duration::from_secs(3600);
    env.wait_scrapes(&all, t1, 2, "phase 1").await;
    let p1 = SystemTime::now();
    env.wait_scrapes(&all, p1, 2, "phase 1").await;
    let (ours_t, _) = compare_targets(&env, "phase 1").await;
    assert_eq!(
        ours_t.active.values().map(BTreeMap::len).sum::<usize>(),
        10,
        "phase 1: active targets in mini-prometheus (and so in {REFEREE}): {:?}",
        ours_t.active
    );
    assert_eq!(
        ours_t.dropped.values().map(Vec::len).sum::<usize>(),
        3,
        "phase 1: dropped targets: {:?}",
        ours_t.dropped
    );
    let s = compare_federate(&env, "phase 1").await;
    expect_value(&s, "up", &[("instance", &search1)], 1.0, "phase 1");
    expect_value(
        &s,
        "up",
        &[("job", "limits"), ("size", "big")],
        0.0,
        "phase 1",
    );
    expect_value(
        &s,
        "scrape_samples_scraped",
        &[("job", "limits"), ("size", "big")],
        8.0,
        "phase 1",
    );
    expect_value(&s, "app_vanishing", &[("instance", &web1)], 7.0, "phase 1");
    expect_value(
        &s,
        "app_conflict",
        &[
            ("instance", &web2),
            ("exported_job", "exported"),
            ("exported_instance", "foo:1"),
        ],
        1.0,
        "phase 1",
    );
    expect_value(
        &s,
        "app_conflict",
        &[("job", "exported"), ("instance", "foo:1")],
        1.0,
        "phase 1",
    );
    expect_value(
        &s,
        "scrape_samples_post_metric_relabeling",
        &[("instance", &web2)],
        6.0,
        "phase 1",
    );
    compare_query(&env, "app_vanishing", "phase 1").await;
    compare_query(&env, &format!("{{instance=\"{search1}\"}}"), "phase 1").await;
    compare_query(&env, &format!("{{instance=\"{search2}\"}}"), "phase 1").await;
    compare_query(&env, "up{job!=\"default-port\"}", "phase 1").await;
    eprintln!(
        "phase 1 equal ({} series) at {:?}",
        s.len(),
        started.elapsed()
    );

    // Phase 2: app_vanishing disappears (app_late appears), search-1 answers 500.
    env.script.phase.store(2, Ordering::SeqCst);
    env.hosts[2].farm.set("/metrics", Behavior::Status(500));
    let (p2, p2i) = (SystemTime::now(), Instant::now());
    let limit = 2 * INTERVAL + Duration::from_millis(500);
    for q in [
        "app_vanishing".to_owned(),
        format!("app_requests_total{{instance=\"{search1}\"}}"),
    ] {
        let [a, b] = wait_gone(&env, &q, p2i + Duration::from_secs(10)).await;
        let (a, b) = (a - p2i, b - p2i);
        assert!(
            a <= limit && b <= limit,
            "phase 2: {q} must go stale within 2 intervals: mini-prometheus {a:?}, {REFEREE} {b:?}"
        );
    }
    env.wait_scrapes(&all, p2, 2, "phase 2").await;
    compare_targets(&env, "phase 2").await;
    let s = compare_federate(&env, "phase 2").await;
    expect_value(&s, "up", &[("instance", &search1)], 0.0, "phase 2");
    expect_value(&s, "app_late", &[("instance", &web1)], 1.0, "phase 2");
    expect_value(&s, "up", &[("instance", &search2)], 1.0, "phase 2");
    eprintln!(
        "phase 2 equal ({} series) at {:?}",
        s.len(),
        started.elapsed()
    );

    // Phase 3: search-1 recovers, search-2 leaves file SD.
    env.script.phase.store(3, Ordering::SeqCst);
    let s = env.script.clone();
    env.hosts[2].farm.set(
        "/metrics",
        Behavior::changing(move |_| app_payload("search-1", &s)),
    );
    write_atomic(
        &sd_dir.join("app-search.json"),
        &search_sd(&env.hosts, false),
    );
    let (p3, p3i) = (SystemTime::now(), Instant::now());
    // Per side: when search-2 left the active targets, then when its series went stale.
    let search2_url = format!("http://{}/metrics?format=prometheus", env.hosts[3].addr());
    let q = format!("{{instance=\"{search2}\"}}");
    let limit = 3 * INTERVAL + Duration::from_secs(1);
    let mut left: [Option<Instant>; 2] = [None, None];
    let mut gone: [Option<Instant>; 2] = [None, None];
    let deadline = Instant::now() + Duration::from_secs(30);
    while gone.iter().any(Option::is_none) {
        for (i, port) in [env.mini_port, env.prom_port].into_iter().enumerate() {
            if left[i].is_none() {
                let v = get_json(port, "/api/v1/targets")
                    .await
                    .unwrap_or_else(|e| panic!("phase 3: {e}"));
                if !v.to_string().contains(&search2_url) {
                    left[i] = Some(Instant::now());
                }
            } else if gone[i].is_none() {
                let r = query(port, &q)
                    .await
                    .unwrap_or_else(|e| panic!("phase 3: {e}"));
                if r.is_empty() {
                    gone[i] = Some(Instant::now());
                }
            }
        }
        assert!(
            Instant::now() < deadline,
            "phase 3: 30 s after search-2 left file SD: left the targets (mini-prometheus {}, {REFEREE} {}), series gone (mini-prometheus {}, {REFEREE} {})",
            left[0].is_some(),
            left[1].is_some(),
            gone[0].is_some(),
            gone[1].is_some()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for (i, who) in ["mini-prometheus", REFEREE].into_iter().enumerate() {
        let (Some(l), Some(g)) = (left[i], gone[i]) else {
            unreachable!("loop ends when both are set")
        };
        let took = g - l;
        eprintln!(
            "phase 3: {who}: search-2 left the targets after {:?}, its series went stale {took:?} later",
            l - p3i
        );
        assert!(
            took <= limit,
            "phase 3: {who}: series of the removed target {search2} (incl. up) must go stale within 3 intervals of the target leaving: took {took:?}"
        );
    }
    let recovered = [t(0, "/metrics"), t(1, "/metrics"), t(2, "/metrics")];
    let all3: Vec<Target> = recovered.iter().chain(&static_targets).cloned().collect();
    env.wait_scrapes(&all3, p3, 2, "phase 3").await;
    compare_targets(&env, "phase 3").await;
    let s = compare_federate(&env, "phase 3").await;
    expect_value(&s, "up", &[("instance", &search1)], 1.0, "phase 3");
    assert!(
        !s.values()
            .any(|(ls, _)| ls.get("instance") == Some(&search2)),
        "phase 3: series of removed {search2} still federated"
    );
    eprintln!(
        "phase 3 equal ({} series) at {:?}",
        s.len(),
        started.elapsed()
    );
}
