//! Content negotiation against the real 1.x receivers installed here: Debian's Prometheus
//! 2.42 (`--web.enable-remote-write-receiver`) and VictoriaMetrics 1.79. Neither speaks 2.0;
//! what each answers to a 2.0 request must make the endpoint fall back to 1.0 without losing
//! the batch, and the samples must then be queryable. A test whose binary is missing prints
//! why and passes without running.

use std::time::{Duration, SystemTime};

use scrapeline_exposition::Labels;
use scrapeline_testkit::http;

use super::*;
use crate::client::{Client, MessageError};
use crate::receivers::{
    Proc, free_port, installed, prometheus_receiver_args, victoria_metrics_args, wait_ready,
};

/// What both receivers answer a 2.0 request: they decode it as an empty 1.0 request (its
/// fields 1 to 3 are reserved) and answer 204 without the 2.0 `Written` headers.
const NO_WRITTEN_HEADERS: &str = "server returned HTTP status 204 No Content to a \
    io.prometheus.write.v2.Request request without any X-Prometheus-Remote-Write-*-Written \
    header; assuming 415 Unsupported Media Type (a 1.0 receiver that does not check the \
    Content-Type)";

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Records of `rw2_fallback{series="i"}` = i at `t`, for i in 0..4, with 2.0 extras.
fn records(t: i64) -> Vec<Vec<u8>> {
    (0..4)
        .map(|i| {
            let labels =
                Labels::from_pairs([("__name__", "rw2_fallback"), ("series", &i.to_string())]);
            let mut out = Vec::new();
            write_series(
                &mut out,
                labels.iter(),
                std::iter::once((f64::from(i), t)),
                &SeriesExtras {
                    metadata: Metadata {
                        metric_type: MetricType::Gauge,
                        help: "A test gauge.",
                        unit: "",
                    },
                    created_timestamp_ms: t - 60_000,
                    ..SeriesExtras::default()
                },
            );
            out
        })
        .collect()
}

/// Sends one 2.0 batch to `url` through the negotiation, after checking what the receiver
/// answers a 2.0 request (`answer`: the text of [`MessageError::Unsupported`]); returns the
/// endpoint's message afterwards and what was confirmed.
async fn send_v2(url: &str, answer: &str) -> (WriteMessage, WrittenCounts, i64) {
    let cfg = crate::tests::config(url, "protobuf_message: io.prometheus.write.v2.Request\n");
    let client = Client::new(&cfg).unwrap();
    let negotiation = Negotiation::new(cfg.write_message());
    let mut codec = Codec::default();
    let t = now_ms() - 10_000;
    let recs = records(t);
    let it = || recs.iter().map(Vec::as_slice);
    let probe = codec.request(WriteMessage::V2, it()).unwrap();
    assert_eq!(
        client.send_message(&probe).await,
        Err(MessageError::Unsupported(answer.to_owned()))
    );
    let mut req = codec.request(negotiation.message(), it()).unwrap();
    let written = send_negotiated(&client, &negotiation, &mut codec, &mut req, it, "q", url)
        .await
        .unwrap();
    (negotiation.message(), written, t)
}

/// Prometheus 2.42 decodes any body as 1.0: a 2.0 request is an empty write, answered 204
/// without `Written` headers. That is the spec's "assume 415": the batch goes again as 1.0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_2_42_gets_a_2_0_batch_as_1_0() {
    if !installed("prometheus") {
        println!("SKIPPED: `prometheus` is not installed (apt-get install -y prometheus)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let prom = Proc::spawn("prometheus", &prometheus_receiver_args(dir.path(), port));
    wait_ready(port, "/-/ready", prom.name).await;
    let (message, written, t) = send_v2(
        &format!("http://127.0.0.1:{port}/api/v1/write"),
        NO_WRITTEN_HEADERS,
    )
    .await;
    assert_eq!(message, WriteMessage::V1);
    assert_eq!(written.samples, 4);

    let (code, body) = http::get(
        port,
        &format!(
            "/api/v1/query?query=rw2_fallback&time={}",
            t as f64 / 1000.0
        ),
        Duration::from_secs(5),
    )
    .await
    .unwrap();
    assert_eq!(code, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let mut got: Vec<(String, String)> = v["data"]["result"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|r| {
            (
                r["metric"]["series"].as_str().unwrap_or("").to_owned(),
                r["value"][1].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        (0..4)
            .map(|i| (i.to_string(), i.to_string()))
            .collect::<Vec<_>>()
    );
}

/// VictoriaMetrics 1.79 answers a 2.0 request as a 1.x receiver too; after the fallback
/// every sample is there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn victoria_metrics_1_79_gets_a_2_0_batch_as_1_0() {
    if !installed("victoria-metrics") {
        println!(
            "SKIPPED: `victoria-metrics` is not installed (apt-get install -y victoria-metrics)"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let vm = Proc::spawn("victoria-metrics", &victoria_metrics_args(dir.path(), port));
    wait_ready(port, "/health", vm.name).await;
    let (message, written, t) = send_v2(
        &format!("http://127.0.0.1:{port}/api/v1/write"),
        NO_WRITTEN_HEADERS,
    )
    .await;
    assert_eq!(message, WriteMessage::V1);
    assert_eq!(written.samples, 4);
    let flush = http::get(port, "/internal/force_flush", Duration::from_secs(5)).await;
    assert_eq!(flush.map(|r| r.0), Ok(200));
    let (code, body) = http::get(
        port,
        &format!(
            "/api/v1/export?match[]=rw2_fallback&start={}&end={}",
            t / 1000 - 1,
            t / 1000 + 1
        ),
        Duration::from_secs(5),
    )
    .await
    .unwrap();
    assert_eq!(code, 200, "{body}");
    let mut got: Vec<(String, Vec<i64>)> = body
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (
                v["metric"]["series"].as_str().unwrap_or("").to_owned(),
                v["timestamps"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .iter()
                    .filter_map(serde_json::Value::as_i64)
                    .collect(),
            )
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        (0..4).map(|i| (i.to_string(), vec![t])).collect::<Vec<_>>()
    );
}
