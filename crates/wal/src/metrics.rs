//! The log's own metrics, under the names Prometheus uses: the WAL's own
//! (`prometheus_tsdb_wal_*`, the same in a server and an agent), its owner's corruption and
//! checkpoint counters (`prometheus_tsdb_*` in a server, `prometheus_agent_*` in an agent),
//! and our extras under `scrapeline_wal_`.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::Wal;

/// Counters and gauges, updated where things happen.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    pub corruptions: AtomicU64,
    pub repairs: AtomicU64,
    pub segment_current: AtomicU64,
    pub truncations: AtomicU64,
    pub truncations_failed: AtomicU64,
    pub write_failures: AtomicU64,
    pub checkpoint_creations: AtomicU64,
    pub checkpoint_creations_failed: AtomicU64,
    pub checkpoint_deletions: AtomicU64,
    pub fsync_count: AtomicU64,
    pub fsync_nanos: AtomicU64,
    pub commit_count: AtomicU64,
    pub commit_nanos: AtomicU64,
    pub bytes_written: AtomicU64,
    pub samples_appended: AtomicU64,
    pub samples_dropped: AtomicU64,
    pub segments_dropped: AtomicU64,
}

impl Metrics {
    pub fn observe_fsync(&self, d: Duration) {
        self.fsync_count.fetch_add(1, Ordering::Relaxed);
        self.fsync_nanos
            .fetch_add(d.as_nanos() as u64, Ordering::Relaxed);
    }

    pub fn observe_commit(&self, d: Duration) {
        self.commit_count.fetch_add(1, Ordering::Relaxed);
        self.commit_nanos
            .fetch_add(d.as_nanos() as u64, Ordering::Relaxed);
    }
}

impl Wal {
    /// Samples deleted unsent because of the disk or age bound so far.
    pub fn samples_dropped(&self) -> u64 {
        self.metrics.samples_dropped.load(Ordering::Relaxed)
    }

    /// Damaged segments repaired at open so far.
    pub fn corruptions(&self) -> u64 {
        self.metrics.corruptions.load(Ordering::Relaxed)
    }

    /// Appends the log's metrics in the text format, named as an agent's (`agent`) or a
    /// server's TSDB names them.
    pub fn write_metrics(&self, agent: bool, out: &mut String) {
        let m = &self.metrics;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let secs = |a: &AtomicU64| get(a) as f64 / 1e9;
        let mut family = |name: String, kind: &str, help: &str, lines: &[(&str, f64)]| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for (suffix, v) in lines {
                out.push_str(&name);
                out.push_str(suffix);
                out.push(' ');
                scrapeline_exposition::value::format_value(*v, out);
                out.push('\n');
            }
        };
        let p = "prometheus_tsdb_";
        // Corruptions and checkpoints are counted by the log's owner: the agent's DB or the
        // TSDB head.
        let (corruptions, owner) = if agent {
            ("prometheus_agent_corruptions_total", "prometheus_agent_")
        } else {
            ("prometheus_tsdb_wal_corruptions_total", "prometheus_tsdb_")
        };
        family(
            corruptions.to_owned(),
            "counter",
            "Total number of WAL corruptions.",
            &[("", get(&m.corruptions) as f64)],
        );
        for (name, help, v) in [
            (
                "checkpoint_creations_total",
                "Total number of checkpoint creations attempted.",
                &m.checkpoint_creations,
            ),
            (
                "checkpoint_creations_failed_total",
                "Total number of checkpoint creations that failed.",
                &m.checkpoint_creations_failed,
            ),
            (
                "checkpoint_deletions_total",
                "Total number of checkpoint deletions attempted.",
                &m.checkpoint_deletions,
            ),
        ] {
            family(
                format!("{owner}{name}"),
                "counter",
                help,
                &[("", get(v) as f64)],
            );
        }
        family(
            format!("{p}wal_fsync_duration_seconds"),
            "summary",
            "Duration of write log fsync.",
            &[
                ("_sum", secs(&m.fsync_nanos)),
                ("_count", get(&m.fsync_count) as f64),
            ],
        );
        for (name, help, v) in [
            (
                "wal_corruptions_total",
                "Total number of WAL corruptions.",
                &m.corruptions,
            ),
            (
                "wal_truncations_total",
                "Total number of write log truncations attempted.",
                &m.truncations,
            ),
            (
                "wal_truncations_failed_total",
                "Total number of write log truncations that failed.",
                &m.truncations_failed,
            ),
            (
                "wal_writes_failed_total",
                "Total number of write log writes that failed.",
                &m.write_failures,
            ),
            (
                "checkpoint_creations_total",
                "Total number of checkpoint creations attempted.",
                &m.checkpoint_creations,
            ),
            (
                "checkpoint_creations_failed_total",
                "Total number of checkpoint creations that failed.",
                &m.checkpoint_creations_failed,
            ),
            (
                "checkpoint_deletions_total",
                "Total number of checkpoint deletions attempted.",
                &m.checkpoint_deletions,
            ),
        ] {
            family(
                format!("{p}{name}"),
                "counter",
                help,
                &[("", get(v) as f64)],
            );
        }
        family(
            format!("{p}wal_segment_current"),
            "gauge",
            "Write log segment index that TSDB is currently writing to.",
            &[("", get(&m.segment_current) as f64)],
        );
        family(
            format!("{p}wal_storage_size_bytes"),
            "gauge",
            "Size of the write log directory.",
            &[("", self.disk_size() as f64)],
        );
        for (name, help, v) in [
            (
                "scrapeline_wal_samples_appended_total",
                "Samples committed to the write log.",
                &m.samples_appended,
            ),
            (
                "scrapeline_wal_bytes_written_total",
                "Bytes written to write log segments.",
                &m.bytes_written,
            ),
            (
                "scrapeline_wal_samples_dropped_total",
                "Samples deleted before every reader had sent them, because of the size or age bound.",
                &m.samples_dropped,
            ),
            (
                "scrapeline_wal_segments_dropped_total",
                "Segments deleted before every reader had passed them, because of the size or age bound.",
                &m.segments_dropped,
            ),
        ] {
            family(name.to_owned(), "counter", help, &[("", get(v) as f64)]);
        }
        family(
            "scrapeline_wal_commit_duration_seconds".to_owned(),
            "summary",
            "Duration of write log commits (one write per scrape).",
            &[
                ("_sum", secs(&m.commit_nanos)),
                ("_count", get(&m.commit_count) as f64),
            ],
        );
    }
}
