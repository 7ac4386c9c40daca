//! Remote write request building, 1.0 vs 2.0, for one realistic batch: 2,000 samples from 500
//! series with Kubernetes-like labels (`max_samples_per_send`'s default), each series sampled
//! four times (15 s apart), as a shard takes them from its queue.
//!
//! * `send/v1`: the 1.0 request from the queued records (concatenation) + snappy.
//! * `send/v2`: the 2.0 request from the same records (symbol table, refs) + snappy.
//! * `send/v2_metadata`: 2.0 with each series' type and help, as 2.0 is meant to be sent.
//! * `append_and_send/*`: the same plus writing the records (what the appenders do).
//!
//! Sizes before and after snappy are printed once per variant. Run with
//! `cargo bench -p scrapeline-remote-write --bench encode`; see `main` for a mode that builds
//! a fixed number of requests, for `perf stat`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group};
use scrapeline_exposition::Labels;
use scrapeline_remote_write::v2::{
    Codec, Metadata, MetricType, SeriesExtras, WriteMessage, write_series,
};

const SERIES: usize = 500;
const SAMPLES_PER_SERIES: usize = 4;

struct Sample {
    labels: Labels,
    help: String,
    metric_type: MetricType,
    value: f64,
    t: i64,
}

/// 25 metrics of a typical pod (cAdvisor / app metrics) × 20 pods on 4 nodes, labelled as
/// the Prometheus Kubernetes pod role and the usual relabeling leave them.
fn batch() -> Vec<Sample> {
    let metrics = [
        ("container_cpu_usage_seconds_total", MetricType::Counter),
        ("container_memory_working_set_bytes", MetricType::Gauge),
        ("container_memory_rss", MetricType::Gauge),
        ("container_network_receive_bytes_total", MetricType::Counter),
        (
            "container_network_transmit_bytes_total",
            MetricType::Counter,
        ),
        ("container_fs_reads_bytes_total", MetricType::Counter),
        ("container_fs_writes_bytes_total", MetricType::Counter),
        ("http_requests_total", MetricType::Counter),
        ("http_request_duration_seconds_sum", MetricType::Summary),
        ("http_request_duration_seconds_count", MetricType::Summary),
        ("process_cpu_seconds_total", MetricType::Counter),
        ("process_resident_memory_bytes", MetricType::Gauge),
        ("process_open_fds", MetricType::Gauge),
        ("process_start_time_seconds", MetricType::Gauge),
        ("go_goroutines", MetricType::Gauge),
        ("go_threads", MetricType::Gauge),
        ("go_memstats_alloc_bytes", MetricType::Gauge),
        ("go_memstats_heap_inuse_bytes", MetricType::Gauge),
        ("go_gc_duration_seconds_sum", MetricType::Summary),
        ("go_gc_duration_seconds_count", MetricType::Summary),
        ("grpc_server_handled_total", MetricType::Counter),
        ("grpc_server_started_total", MetricType::Counter),
        (
            "kube_pod_container_status_restarts_total",
            MetricType::Counter,
        ),
        ("up", MetricType::Gauge),
        ("scrape_duration_seconds", MetricType::Gauge),
    ];
    let mut series = Vec::with_capacity(SERIES);
    for pod in 0..SERIES / metrics.len() {
        let app = ["checkout", "payments", "catalog", "frontend"][pod % 4];
        let hash = format!("{:x}", 0x7d9f_8c6b_u32.wrapping_mul(pod as u32 + 1));
        for (name, metric_type) in metrics {
            let labels = Labels::from_pairs([
                ("__name__", name.to_owned()),
                ("app_kubernetes_io_name", app.to_owned()),
                ("container", app.to_owned()),
                ("endpoint", "http-metrics".to_owned()),
                ("instance", format!("10.244.{}.{}:8080", pod % 4, 10 + pod)),
                ("job", "kubernetes-pods".to_owned()),
                ("namespace", format!("team-{}", pod % 3)),
                ("node", format!("worker-{}", pod % 4)),
                ("pod", format!("{app}-{hash}-{:05x}", pod * 7919)),
                ("pod_template_hash", hash.clone()),
                ("service", app.to_owned()),
            ]);
            series.push((labels, name, metric_type));
        }
    }
    let mut out = Vec::with_capacity(SERIES * SAMPLES_PER_SERIES);
    for i in 0..SAMPLES_PER_SERIES {
        for (k, (labels, name, metric_type)) in series.iter().enumerate() {
            out.push(Sample {
                labels: labels.clone(),
                help: format!("Help text of {name}."),
                metric_type: *metric_type,
                value: (k * 1_000 + i) as f64 * 1.25,
                t: 1_700_000_000_000 + i as i64 * 15_000,
            });
        }
    }
    out
}

/// Writes every sample's record, as appenders do; with or without metadata.
fn write_records(batch: &[Sample], metadata: bool, out: &mut Vec<u8>, ends: &mut Vec<usize>) {
    out.clear();
    ends.clear();
    for s in batch {
        let extras = SeriesExtras {
            metadata: if metadata {
                Metadata {
                    metric_type: s.metric_type,
                    help: &s.help,
                    unit: "",
                }
            } else {
                Metadata::default()
            },
            ..SeriesExtras::default()
        };
        write_series(
            out,
            s.labels.iter(),
            std::iter::once((s.value, s.t)),
            &extras,
        );
        ends.push(out.len());
    }
}

/// The records as per-sample slices, as a shard's chunks yield them.
fn slices<'a>(buf: &'a [u8], ends: &'a [usize]) -> impl Iterator<Item = &'a [u8]> + 'a {
    let mut start = 0;
    ends.iter().map(move |&end| {
        let s = buf.get(start..end).unwrap_or_default();
        start = end;
        s
    })
}

fn bench(c: &mut Criterion) {
    let batch = batch();
    let variants = [
        ("v1", WriteMessage::V1, false),
        ("v2", WriteMessage::V2, false),
        ("v2_metadata", WriteMessage::V2, true),
    ];
    let mut codec = Codec::default();
    let (mut buf, mut ends) = (Vec::new(), Vec::new());
    for (name, message, metadata) in variants {
        write_records(&batch, metadata, &mut buf, &mut ends);
        let e = codec.encode(message, slices(&buf, &ends)).unwrap();
        println!(
            "{name}: {} samples, records {} B, request {} B, snappy {} B",
            e.counts.samples,
            buf.len(),
            e.uncompressed_len,
            e.body.len()
        );
    }

    let mut g = c.benchmark_group("send");
    for (name, message, metadata) in variants {
        write_records(&batch, metadata, &mut buf, &mut ends);
        g.bench_function(name, |b| {
            b.iter(|| {
                let e = codec.encode(message, slices(&buf, &ends)).unwrap();
                black_box(e.body.len())
            })
        });
    }
    g.finish();

    let mut g = c.benchmark_group("append_and_send");
    for (name, message, metadata) in variants {
        g.bench_function(name, |b| {
            b.iter(|| {
                write_records(&batch, metadata, &mut buf, &mut ends);
                let e = codec.encode(message, slices(&buf, &ends)).unwrap();
                black_box(e.body.len())
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);

/// `ENCODE_ONLY=<v1|v2|v2_metadata>:<iterations>` builds that many requests of one variant
/// and exits, without criterion: for counting CPU cycles and instructions with `perf stat`,
/// which a loaded machine does not skew the way it skews wall-clock time.
fn main() {
    if let Some((name, n)) = std::env::var("ENCODE_ONLY").ok().and_then(|v| {
        v.split_once(':')
            .map(|(a, b)| (a.to_owned(), b.parse::<u64>().ok()))
    }) {
        let (message, metadata) = match name.as_str() {
            "v1" => (WriteMessage::V1, false),
            "v2" => (WriteMessage::V2, false),
            "v2_metadata" => (WriteMessage::V2, true),
            other => panic!("unknown variant {other}"),
        };
        let batch = batch();
        let mut codec = Codec::default();
        let (mut buf, mut ends) = (Vec::new(), Vec::new());
        write_records(&batch, metadata, &mut buf, &mut ends);
        for _ in 0..n.unwrap_or(1000) {
            let e = codec.encode(message, slices(&buf, &ends)).unwrap();
            black_box(e.body.len());
        }
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
