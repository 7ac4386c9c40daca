//! The queues' metrics under Prometheus' names (`storage/remote/queue_manager.go`).

use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use crate::{BATCH_BUCKETS, Queue, RemoteWrite};

type Get = fn(&Queue) -> f64;

fn load(a: &std::sync::atomic::AtomicU64) -> f64 {
    a.load(Ordering::Relaxed) as f64
}

/// Per-endpoint families: name, type, help, the `reason` label if any, the value.
const FAMILIES: &[(&str, &str, &str, Option<&str>, Get)] = &[
    (
        "prometheus_remote_storage_samples_total",
        "counter",
        "Total number of samples sent to remote storage.",
        None,
        |q| load(&q.m.sent),
    ),
    (
        "prometheus_remote_storage_samples_failed_total",
        "counter",
        "Total number of samples which failed on send to remote storage, non-recoverable errors.",
        None,
        |q| load(&q.m.failed),
    ),
    (
        "prometheus_remote_storage_samples_retried_total",
        "counter",
        "Total number of samples which failed on send to remote storage but were retried because the send error was recoverable.",
        None,
        |q| load(&q.m.retried),
    ),
    (
        "prometheus_remote_storage_samples_dropped_total",
        "counter",
        "Total number of samples which were dropped after being read from the WAL before being sent via remote write, either via relabelling, due to being too old or unintentionally because of an unknown reference ID.",
        Some("relabel"),
        |q| load(&q.m.dropped_relabel),
    ),
    (
        "prometheus_remote_storage_samples_dropped_total",
        "",
        "",
        Some("too_old"),
        |q| load(&q.m.dropped_too_old),
    ),
    (
        "prometheus_remote_storage_samples_dropped_total",
        "",
        "",
        Some("unknown_reference"),
        |q| load(&q.m.dropped_unknown),
    ),
    (
        "prometheus_remote_storage_samples_dropped_total",
        "",
        "",
        Some("queue_full"),
        |q| load(&q.m.dropped_full),
    ),
    (
        "prometheus_remote_storage_samples_dropped_total",
        "",
        "",
        Some("shutdown"),
        |q| load(&q.m.dropped_shutdown),
    ),
    (
        "prometheus_remote_storage_samples_pending",
        "gauge",
        "The number of samples pending in the queues shards to be sent to the remote storage.",
        None,
        |q| q.pending() as f64,
    ),
    (
        "prometheus_remote_storage_bytes_total",
        "counter",
        "The total number of bytes of data (not metadata) sent by the queue after compression.",
        None,
        |q| load(&q.m.sent_bytes),
    ),
    (
        "prometheus_remote_storage_queue_highest_sent_timestamp_seconds",
        "gauge",
        "Timestamp from a WAL sample, the highest timestamp successfully sent by this queue, in seconds since epoch.",
        None,
        |q| {
            let t = q.m.highest_sent_ms.load(Ordering::Relaxed);
            if t <= 0 { 0.0 } else { t as f64 / 1000.0 }
        },
    ),
    (
        "prometheus_remote_storage_shards",
        "gauge",
        "The number of shards used for parallel sending to the remote storage.",
        None,
        |q| q.active() as f64,
    ),
    (
        "prometheus_remote_storage_shards_min",
        "gauge",
        "The minimum number of shards that the queue is allowed to run.",
        None,
        |q| q.cfg.min_shards as f64,
    ),
    (
        "prometheus_remote_storage_shards_max",
        "gauge",
        "The maximum number of shards that the queue is allowed to run.",
        None,
        |q| q.cfg.max_shards as f64,
    ),
    (
        "prometheus_remote_storage_shards_desired",
        "gauge",
        "The number of shards that the queues shard calculation wants to run based on the rate of samples in vs. samples out.",
        None,
        |q| q.desired_shards() as f64,
    ),
    (
        "prometheus_remote_storage_shard_capacity",
        "gauge",
        "The capacity of each shard of the queue used for parallel sending to the remote storage.",
        None,
        |q| q.cfg.capacity as f64,
    ),
    (
        "prometheus_remote_storage_max_samples_per_send",
        "gauge",
        "The maximum number of samples to be sent, in a single request, to the remote storage.",
        None,
        |q| q.cfg.max_samples_per_send as f64,
    ),
    (
        "prometheus_remote_storage_enqueue_retries_total",
        "counter",
        "Total number of times enqueue has failed because a shards queue was full.",
        None,
        |q| load(&q.m.enqueue_retries),
    ),
    (
        "scrapeline_remote_write_series",
        "gauge",
        "Series a queue reading the WAL knows the labels of (series dropped from a checkpoint are forgotten).",
        None,
        |q| load(&q.m.known_series),
    ),
    (
        "scrapeline_remote_write_requests_total",
        "counter",
        "Requests attempted, retries included.",
        None,
        |q| load(&q.m.requests),
    ),
];

fn labels(out: &mut String, q: &Queue) {
    out.push_str("remote_name=\"");
    scrapeline_exposition::value::escape_label_value(&q.name, out);
    out.push_str("\",url=\"");
    scrapeline_exposition::value::escape_label_value(&q.url, out);
    out.push('"');
}

fn value(out: &mut String, v: f64) {
    out.push(' ');
    scrapeline_exposition::value::format_value(v, out);
    out.push('\n');
}

/// Writes every family for `queues` (nothing when there are none).
pub fn write(queues: &[RemoteWrite], out: &mut String) {
    if queues.is_empty() {
        return;
    }
    // Process-wide, as in Prometheus (no labels).
    let samples_in = queues
        .iter()
        .map(|q| q.inner.m.samples_in.load(Ordering::Relaxed))
        .max()
        .unwrap_or(0);
    let _ = writeln!(
        out,
        "# HELP prometheus_remote_storage_samples_in_total Samples in to remote storage, compare to samples out for queue managers.\n\
         # TYPE prometheus_remote_storage_samples_in_total counter\n\
         prometheus_remote_storage_samples_in_total {samples_in}"
    );
    for (name, kind, help, reason, get) in FAMILIES {
        if !help.is_empty() {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        }
        for q in queues {
            let q = &q.inner;
            out.push_str(name);
            out.push('{');
            if let Some(r) = reason {
                let _ = write!(out, "reason=\"{r}\",");
            }
            labels(out, q);
            out.push('}');
            value(out, get(q));
        }
    }
    let name = "prometheus_remote_storage_sent_batch_duration_seconds";
    let _ = writeln!(
        out,
        "# HELP {name} Duration of send calls to the remote storage.\n# TYPE {name} histogram"
    );
    for q in queues {
        let m = &q.inner.m;
        for (b, le) in m.batch_buckets.iter().zip(BATCH_BUCKETS) {
            let _ = write!(out, "{name}_bucket{{");
            labels(out, &q.inner);
            let _ = write!(out, ",le=\"{le}\"}}");
            value(out, load(b));
        }
        let _ = write!(out, "{name}_bucket{{");
        labels(out, &q.inner);
        out.push_str(",le=\"+Inf\"}");
        value(out, load(&m.batch_count));
        let _ = write!(out, "{name}_sum{{");
        labels(out, &q.inner);
        out.push('}');
        value(out, m.batch_nanos.load(Ordering::Relaxed) as f64 / 1e9);
        let _ = write!(out, "{name}_count{{");
        labels(out, &q.inner);
        out.push('}');
        value(out, load(&m.batch_count));
    }
}
