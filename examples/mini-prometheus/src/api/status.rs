//! `/api/v1/status/{config,flags,runtimeinfo,tsdb}` in Prometheus' JSON shapes
//! (`web/api/v1/api.go`: `prometheusConfig`, the flags map, `RuntimeInfo`, `TSDBStatus`).
//!
//! [`ServerStatus`] holds what the server knows about itself (flags, start time, the loaded
//! configuration and the outcome of the last reload); the run loop updates it on every load.
//! The TSDB statistics are computed from the store on each request, as Prometheus computes
//! them from its head's postings.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use super::json;
use crate::store::Store;

/// The server's own state, as the status endpoints report it.
pub struct ServerStatus {
    flags: Vec<(String, String)>,
    start_time: SystemTime,
    cwd: String,
    retention: Duration,
    config: Mutex<ConfigState>,
}

/// The loaded configuration and how the last (re)load went.
struct ConfigState {
    /// The configuration text, secrets masked.
    yaml: String,
    success: bool,
    last_time: Option<SystemTime>,
}

impl ServerStatus {
    /// The status of a server started now with these flags (name without `--`, value as a
    /// string) and this storage retention.
    pub fn new(flags: Vec<(String, String)>, retention: Duration) -> ServerStatus {
        ServerStatus {
            flags,
            start_time: SystemTime::now(),
            cwd: std::env::current_dir()
                .map(|d| d.display().to_string())
                .unwrap_or_else(|_| "<unknown>".to_owned()),
            retention,
            config: Mutex::new(ConfigState {
                yaml: String::new(),
                success: false,
                last_time: None,
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, ConfigState> {
        self.config.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A configuration was loaded: `text` is its YAML as written (secrets are masked here).
    pub fn config_loaded(&self, text: &str) {
        let mut masked = scrapeline::config::mask_secrets(text).join("\n");
        if text.ends_with('\n') {
            masked.push('\n');
        }
        let mut st = self.state();
        st.yaml = masked;
        st.success = true;
        st.last_time = Some(SystemTime::now());
    }

    /// A reload failed: the running configuration stays, `reloadConfigSuccess` turns false.
    pub fn config_failed(&self) {
        self.state().success = false;
    }

    /// `{"yaml":"…"}`.
    pub fn write_config(&self, out: &mut String) {
        out.push_str("{\"yaml\":");
        json::string(out, &self.state().yaml);
        out.push('}');
    }

    /// `{"flag.name":"value",…}`, every flag with its value or default, sorted by name.
    pub fn write_flags(&self, out: &mut String) {
        let mut flags: Vec<&(String, String)> = self.flags.iter().collect();
        flags.sort();
        out.push('{');
        for (i, (k, v)) in flags.into_iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            json::string(out, k);
            out.push(':');
            json::string(out, v);
        }
        out.push('}');
    }

    /// Prometheus 3's `RuntimeInfo`: the Go runtime's fields report their counterparts here
    /// (`goroutineCount`: live tokio tasks, `GOMAXPROCS`: tokio worker threads,
    /// `GOMEMLIMIT`: Go's "no limit", i64::MAX, as nothing here caps the heap; `GOGC` and
    /// `GODEBUG`: those environment variables, as Prometheus reads them).
    pub fn write_runtime_info(&self, runtime: &RuntimeCounts, out: &mut String) {
        let st = self.state();
        out.push_str("{\"startTime\":");
        json::time(out, Some(self.start_time));
        out.push_str(",\"CWD\":");
        json::string(out, &self.cwd);
        out.push_str(",\"hostname\":");
        json::string(out, &crate::run::hostname());
        out.push_str(",\"serverTime\":");
        json::time(out, Some(SystemTime::now()));
        let _ = write!(out, ",\"reloadConfigSuccess\":{}", st.success);
        out.push_str(",\"lastConfigTime\":");
        json::time(out, st.last_time);
        let _ = write!(
            out,
            ",\"corruptionCount\":0,\"goroutineCount\":{},\"GOMAXPROCS\":{},\"GOMEMLIMIT\":{}",
            runtime.tasks,
            runtime.threads,
            i64::MAX
        );
        out.push_str(",\"GOGC\":");
        json::string(out, &std::env::var("GOGC").unwrap_or_default());
        out.push_str(",\"GODEBUG\":");
        json::string(out, &std::env::var("GODEBUG").unwrap_or_default());
        out.push_str(",\"storageRetention\":");
        json::string(out, &json::prom_duration(self.retention));
        out.push('}');
    }
}

/// The runtime's task and thread counts (`goroutineCount`, `GOMAXPROCS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuntimeCounts {
    /// Live async tasks.
    pub tasks: usize,
    /// Worker threads.
    pub threads: usize,
}

impl RuntimeCounts {
    /// The counts of the tokio runtime this runs on (zeros outside one).
    pub fn current() -> RuntimeCounts {
        match tokio::runtime::Handle::try_current() {
            Ok(h) => {
                let m = h.metrics();
                RuntimeCounts {
                    tasks: m.num_alive_tasks(),
                    threads: m.num_workers(),
                }
            }
            Err(_) => RuntimeCounts {
                tasks: 0,
                threads: 0,
            },
        }
    }
}

/// Every long flag of `cmd` with the value `matches` holds for it (its default when not
/// given; `""` for an unset optional one; `true`/`false` for switches), as Prometheus' flags
/// map. `help` and `version` are left out.
pub fn flag_map(cmd: &clap::Command, matches: &clap::ArgMatches) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for arg in cmd.get_arguments() {
        let Some(long) = arg.get_long() else {
            continue;
        };
        let id = arg.get_id().as_str();
        if matches!(long, "help" | "version") {
            continue;
        }
        let value = match matches.try_get_raw(id) {
            Ok(Some(values)) => values
                .map(|v| v.to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join(","),
            _ => String::new(),
        };
        out.push((long.to_owned(), value));
    }
    out
}

/// Prometheus' bound on `/api/v1/status/tsdb?limit=`.
const MAX_TSDB_LIMIT: usize = 10_000;

/// The `limit` parameter of `/api/v1/status/tsdb`: 10 when absent, else 1 to 10000.
pub fn tsdb_limit(value: Option<&str>) -> Result<usize, String> {
    let Some(s) = value.filter(|s| !s.is_empty()) else {
        return Ok(10);
    };
    match s.parse::<i64>() {
        Ok(n) if n >= 1 => {
            let n = usize::try_from(n).unwrap_or(usize::MAX);
            if n > MAX_TSDB_LIMIT {
                Err(format!("limit must not exceed {MAX_TSDB_LIMIT}"))
            } else {
                Ok(n)
            }
        }
        _ => Err("limit must be a positive number".to_owned()),
    }
}

/// Prometheus' `labels.SizeOfLabels` (stringlabels build): a name and a value, each with a
/// one-byte length below 255 bytes (four bytes above), times the series carrying the pair.
fn label_pair_bytes(name: &str, value: &str, series: u64) -> u64 {
    let len = |s: &str| s.len() as u64 + if s.len() < 255 { 1 } else { 4 };
    (len(name) + len(value)) * series
}

/// The `limit` largest of `stats`, largest first (ties by name, where Prometheus' order is
/// that of a hash map).
fn top(mut stats: Vec<(String, u64)>, limit: usize) -> Vec<(String, u64)> {
    stats.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    stats.truncate(limit);
    stats
}

fn write_stats(out: &mut String, key: &str, stats: &[(String, u64)]) {
    let _ = write!(out, ",\"{key}\":[");
    for (i, (name, value)) in stats.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"name\":");
        json::string(out, name);
        let _ = write!(out, ",\"value\":{value}}}");
    }
    out.push(']');
}

/// Prometheus' `TSDBStatus` over the store: `headStats` (series, distinct label pairs,
/// chunks, oldest and newest sample time; an empty store reports Prometheus' empty head,
/// `minTime` = i64::MAX and `maxTime` = i64::MIN) and the top `limit` metric names by
/// series, label names by distinct values, label names by bytes, and label pairs by series.
pub fn write_tsdb(store: &Store, limit: usize, out: &mut String) {
    // label name -> value -> series
    let mut postings: HashMap<String, HashMap<String, u64>> = HashMap::new();
    let (mut series, mut chunks) = (0u64, 0u64);
    let mut min_t = i64::MAX;
    store.for_each_series_summary(|labels, chunk_count, first| {
        series += 1;
        chunks += chunk_count as u64;
        if let Some(t) = first {
            min_t = min_t.min(t);
        }
        for l in labels.iter() {
            let values = match postings.get_mut(l.name) {
                Some(v) => v,
                None => postings.entry(l.name.to_owned()).or_default(),
            };
            match values.get_mut(l.value) {
                Some(n) => *n += 1,
                None => {
                    values.insert(l.value.to_owned(), 1);
                }
            }
        }
    });
    let max_t = match store.max_time() {
        Some(t) if series > 0 => t,
        _ => i64::MIN,
    };
    if series == 0 {
        min_t = i64::MAX;
    }
    let mut by_metric = Vec::new();
    let mut value_counts = Vec::new();
    let mut bytes = Vec::new();
    let mut pairs = Vec::new();
    let mut num_pairs = 0usize;
    for (name, values) in &postings {
        value_counts.push((name.clone(), values.len() as u64));
        num_pairs += values.len();
        let mut size = 0u64;
        for (value, n) in values {
            if name == "__name__" {
                by_metric.push((value.clone(), *n));
            }
            pairs.push((format!("{name}={value}"), *n));
            size += label_pair_bytes(name, value, *n);
        }
        bytes.push((name.clone(), size));
    }
    let _ = write!(
        out,
        "{{\"headStats\":{{\"numSeries\":{series},\"numLabelPairs\":{num_pairs},\"chunkCount\":{chunks},\"minTime\":{min_t},\"maxTime\":{max_t}}}"
    );
    write_stats(out, "seriesCountByMetricName", &top(by_metric, limit));
    write_stats(out, "labelValueCountByLabelName", &top(value_counts, limit));
    write_stats(out, "memoryInBytesByLabelName", &top(bytes, limit));
    write_stats(out, "seriesCountByLabelValuePair", &top(pairs, limit));
    out.push('}');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreConfig;
    use scrapeline_exposition::Labels;
    use scrapeline_scrape::Appendable;

    fn l(pairs: &[(&str, &str)]) -> Labels {
        Labels::from_pairs(pairs.iter().copied())
    }

    #[test]
    fn tsdb_status_counts_cardinality() {
        let store = Store::new(StoreConfig::default());
        let mut app = store.appender();
        for (labels, t) in [
            (
                l(&[("__name__", "up"), ("job", "a"), ("instance", "x")]),
                1000,
            ),
            (
                l(&[("__name__", "up"), ("job", "b"), ("instance", "x")]),
                2000,
            ),
            (
                l(&[("__name__", "http_total"), ("job", "a"), ("code", "200")]),
                3000,
            ),
        ] {
            app.append(0, &labels, t, 1.0).unwrap();
        }
        app.commit().unwrap();
        let mut out = String::new();
        write_tsdb(&store, 2, &mut out);
        // __name__: up (2 series: (8+1 + 2+1)*2 = 24) + http_total ((8+1 + 10+1)*1 = 20) = 44
        // job: a (2: (3+1+1+1)*2 = 12) + b (1: 6) = 18; instance: x (2: (8+1+1+1)*2 = 22);
        // code: 200 (1: 4+1+3+1 = 9).
        assert_eq!(
            out,
            concat!(
                r#"{"headStats":{"numSeries":3,"numLabelPairs":6,"chunkCount":3,"minTime":1000,"maxTime":3000},"#,
                r#""seriesCountByMetricName":[{"name":"up","value":2},{"name":"http_total","value":1}],"#,
                r#""labelValueCountByLabelName":[{"name":"__name__","value":2},{"name":"job","value":2}],"#,
                r#""memoryInBytesByLabelName":[{"name":"__name__","value":44},{"name":"instance","value":22}],"#,
                r#""seriesCountByLabelValuePair":[{"name":"__name__=up","value":2},{"name":"instance=x","value":2}]}"#
            )
        );
    }

    #[test]
    fn empty_store_reports_an_empty_head() {
        let store = Store::new(StoreConfig::default());
        let mut out = String::new();
        write_tsdb(&store, 10, &mut out);
        assert_eq!(
            out,
            r#"{"headStats":{"numSeries":0,"numLabelPairs":0,"chunkCount":0,"minTime":9223372036854775807,"maxTime":-9223372036854775808},"seriesCountByMetricName":[],"labelValueCountByLabelName":[],"memoryInBytesByLabelName":[],"seriesCountByLabelValuePair":[]}"#
        );
    }

    #[test]
    fn tsdb_limit_follows_prometheus() {
        assert_eq!(tsdb_limit(None), Ok(10));
        assert_eq!(tsdb_limit(Some("")), Ok(10));
        assert_eq!(tsdb_limit(Some("10000")), Ok(10_000));
        assert_eq!(
            tsdb_limit(Some("10001")),
            Err("limit must not exceed 10000".to_owned())
        );
        for bad in ["0", "-1", "x", "1.5"] {
            assert_eq!(
                tsdb_limit(Some(bad)),
                Err("limit must be a positive number".to_owned()),
                "{bad}"
            );
        }
    }

    #[test]
    fn config_is_masked_and_reload_outcome_kept() {
        let st = ServerStatus::new(vec![], Duration::from_secs(7200));
        st.config_loaded("scrape_configs:\n- job_name: a\n  basic_auth:\n    username: u\n    password: hunter2\n");
        let mut out = String::new();
        st.write_config(&mut out);
        assert_eq!(
            out,
            r#"{"yaml":"scrape_configs:\n- job_name: a\n  basic_auth:\n    username: u\n    password: \u003csecret\u003e\n"}"#
        );
        let mut out = String::new();
        st.write_runtime_info(
            &RuntimeCounts {
                tasks: 7,
                threads: 2,
            },
            &mut out,
        );
        assert!(out.contains(r#""reloadConfigSuccess":true,"#), "{out}");
        assert!(
            out.contains(r#","corruptionCount":0,"goroutineCount":7,"GOMAXPROCS":2,"GOMEMLIMIT":9223372036854775807,"#),
            "{out}"
        );
        assert!(out.ends_with(r#","storageRetention":"2h"}"#), "{out}");
        st.config_failed();
        let mut out = String::new();
        st.write_runtime_info(
            &RuntimeCounts {
                tasks: 7,
                threads: 2,
            },
            &mut out,
        );
        assert!(out.contains(r#""reloadConfigSuccess":false,"#), "{out}");
    }

    #[test]
    fn flags_map_has_every_long_flag() {
        use clap::CommandFactory as _;
        let cmd = crate::cli::Cli::command();
        let m = cmd
            .clone()
            .try_get_matches_from(["mini-prometheus", "--config", "p.yml", "--agent"])
            .unwrap();
        let flags = flag_map(&cmd, &m);
        let get = |k: &str| flags.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("config.file"), Some("p.yml"));
        assert_eq!(get("agent"), Some("true"));
        assert_eq!(get("config.expand-env"), Some("false"));
        assert_eq!(get("web.listen-address"), Some("127.0.0.1:9090"));
        assert_eq!(get("query.timeout"), Some("2m"));
        assert_eq!(get("kubernetes.node-name"), Some(""));
        assert_eq!(get("help"), None);
        let st = ServerStatus::new(
            vec![("b".into(), "2".into()), ("a.x".into(), "\"q\"".into())],
            Duration::ZERO,
        );
        let mut out = String::new();
        st.write_flags(&mut out);
        assert_eq!(out, r#"{"a.x":"\"q\"","b":"2"}"#);
    }

    /// The endpoints through the router, as clients see them.
    mod routes {
        use super::*;
        use crate::api::Api;
        use crate::api::metadata::TargetMetadata;
        use crate::api::tests::Fixed;
        use bytes::Bytes;
        use http::Request;
        use http_body_util::{BodyExt, Full};
        use scrapeline_exposition::parser::MetricType;
        use scrapeline_scrape::Metadata;
        use std::sync::Arc;

        async fn get(api: &Api, uri: &str) -> (u16, String, String) {
            let req = Request::get(uri).body(Full::new(Bytes::new())).unwrap();
            let resp = api.handle(req).await;
            let code = resp.status().as_u16();
            let ct = resp
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default();
            let body = resp.into_body().collect().await.unwrap().to_bytes();
            (code, ct, String::from_utf8(body.to_vec()).unwrap())
        }

        fn api() -> Api {
            let status = Arc::new(ServerStatus::new(
                vec![
                    ("web.listen-address".into(), "127.0.0.1:9090".into()),
                    ("agent".into(), "false".into()),
                ],
                Duration::from_secs(86400),
            ));
            status.config_loaded("global:\n  scrape_interval: 15s\n");
            let meta = TargetMetadata::new();
            let mut app = meta.appender();
            let series = l(&[
                ("__name__", "node_load1"),
                ("instance", "10.0.0.1:9100"),
                ("job", "node"),
            ]);
            let m = Metadata {
                family: "node_load1".into(),
                kind: MetricType::Gauge,
                help: "1m load average.".into(),
                unit: String::new(),
            };
            app.update_metadata(1, &series, &m).unwrap();
            app.commit().unwrap();
            Api::new(Store::new(StoreConfig::default()))
                .with_targets(Arc::new(Fixed))
                .with_status(status)
                .with_target_metadata(meta)
        }

        #[tokio::test]
        async fn status_endpoints_answer_in_prometheus_shapes() {
            let api = api();
            let (code, ct, body) = get(&api, "/api/v1/status/flags").await;
            assert_eq!(
                (code, ct.as_str(), body.as_str()),
                (
                    200,
                    "application/json",
                    r#"{"status":"success","data":{"agent":"false","web.listen-address":"127.0.0.1:9090"}}"#
                )
            );
            let (code, _, body) = get(&api, "/api/v1/status/config").await;
            assert_eq!(
                (code, body.as_str()),
                (
                    200,
                    r#"{"status":"success","data":{"yaml":"global:\n  scrape_interval: 15s\n"}}"#
                )
            );
            let (code, _, body) = get(&api, "/api/v1/status/runtimeinfo").await;
            assert_eq!(code, 200);
            let v: serde_json::Value = serde_json::from_str(&body).unwrap();
            let data = v["data"].as_object().unwrap();
            let keys: Vec<&str> = data.keys().map(String::as_str).collect();
            let mut want = vec![
                "startTime",
                "CWD",
                "hostname",
                "serverTime",
                "reloadConfigSuccess",
                "lastConfigTime",
                "corruptionCount",
                "goroutineCount",
                "GOMAXPROCS",
                "GOMEMLIMIT",
                "GOGC",
                "GODEBUG",
                "storageRetention",
            ];
            want.sort_unstable();
            assert_eq!(keys, want);
            assert_eq!(data["storageRetention"], "1d");
            assert_eq!(data["hostname"], crate::run::hostname());
            assert_eq!(data["GOMEMLIMIT"], i64::MAX);
            assert_eq!(data["reloadConfigSuccess"], true);
            assert_eq!(data["corruptionCount"], 0);
            assert!(data["GOMAXPROCS"].as_u64().unwrap() >= 1, "{body}");
            assert_eq!(
                data["CWD"],
                std::env::current_dir().unwrap().display().to_string()
            );
            let (code, _, body) = get(&api, "/api/v1/status/tsdb?limit=0").await;
            assert_eq!(
                (code, body.as_str()),
                (
                    400,
                    r#"{"status":"error","errorType":"bad_data","error":"limit must be a positive number"}"#
                )
            );
            let (code, _, body) = get(&api, "/api/v1/status/tsdb").await;
            assert_eq!(code, 200);
            assert!(
                body.starts_with(r#"{"status":"success","data":{"headStats":{"numSeries":0,"#),
                "{body}"
            );
        }

        #[tokio::test]
        async fn status_without_server_state_is_not_found() {
            let api = Api::new(Store::new(StoreConfig::default()));
            for path in [
                "/api/v1/status/config",
                "/api/v1/status/flags",
                "/api/v1/status/runtimeinfo",
            ] {
                let (code, _, body) = get(&api, path).await;
                assert_eq!(
                    (code, body.as_str()),
                    (404, "404 page not found\n"),
                    "{path}"
                );
            }
        }

        #[tokio::test]
        async fn metadata_endpoints_through_the_router() {
            let api = api();
            let (code, _, body) = get(&api, "/api/v1/metadata").await;
            assert_eq!(
                (code, body.as_str()),
                (
                    200,
                    r#"{"status":"success","data":{"node_load1":[{"type":"gauge","unit":"","help":"1m load average."}]}}"#
                )
            );
            let (code, _, body) = get(&api, "/api/v1/metadata?limit_per_metric=x").await;
            assert_eq!(
                (code, body.as_str()),
                (
                    400,
                    r#"{"status":"error","errorType":"bad_data","error":"limit_per_metric must be a number"}"#
                )
            );
            let (code, _, body) = get(
                &api,
                "/api/v1/targets/metadata?match_target=%7Bjob%3D%22node%22%7D",
            )
            .await;
            assert_eq!(
                (code, body.as_str()),
                (
                    200,
                    r#"{"status":"success","data":[{"target":{"instance":"10.0.0.1:9100","job":"node"},"metric":"node_load1","type":"gauge","help":"1m load average.","unit":""}]}"#
                )
            );
            let (code, _, body) = get(
                &api,
                "/api/v1/targets/metadata?match_target=%7Bjob%3D%22api%22%7D",
            )
            .await;
            assert_eq!(
                (code, body.as_str()),
                (200, r#"{"status":"success","data":[]}"#)
            );
            let (code, _, body) = get(&api, "/api/v1/targets/metadata?match_target=up(").await;
            assert_eq!(code, 400);
            assert!(
                body.contains(r#""error":"invalid parameter \"match_target\": "#),
                "{body}"
            );
            let (code, _, body) = get(&api, "/api/v1/targets/metadata?limit=1.5").await;
            assert_eq!(
                (code, body.as_str()),
                (
                    400,
                    r#"{"status":"error","errorType":"bad_data","error":"limit must be a number"}"#
                )
            );
        }

        #[tokio::test]
        async fn graph_page_is_served_and_linked() {
            let api = api();
            let (code, ct, body) = get(&api, "/graph").await;
            assert_eq!((code, ct.as_str()), (200, "text/html; charset=utf-8"));
            assert_eq!(body, crate::api::graph::PAGE);
            assert!(body.contains("<input id=\"expr\""), "{body}");
            // Self-contained: nothing loaded from elsewhere.
            assert!(!body.contains("src="), "{body}");
            assert!(
                !body.contains("http://") || !body.contains("<link"),
                "{body}"
            );
            let req = Request::get("/").body(Full::new(Bytes::new())).unwrap();
            let resp = api.handle(req).await;
            assert_eq!(resp.status().as_u16(), 302);
            assert_eq!(resp.headers()["location"], "/graph");
            let (_, _, targets) = get(&api, "/targets").await;
            assert!(
                targets.contains("<a href=\"/graph\">Graph</a>"),
                "{targets}"
            );
        }
    }
}
