//! The metric-family table, like cAdvisor's `lib/metrics/prometheus.go`: name, HELP, type,
//! extra labels, whether samples carry the collection timestamp, and the value getter.

use crate::stats::ContainerStats;

/// A family's Prometheus type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FamilyType {
    /// `counter`.
    Counter,
    /// `gauge`.
    Gauge,
}

impl FamilyType {
    /// The `# TYPE` word.
    pub fn as_str(self) -> &'static str {
        match self {
            FamilyType::Counter => "counter",
            FamilyType::Gauge => "gauge",
        }
    }
}

/// The labels every container series carries, in output (name) order: the kubelet's
/// `containerPrometheusLabelsFunc` set.
pub const BASE_LABELS: [&str; 6] = ["container", "id", "image", "name", "namespace", "pod"];

/// Where a getter puts the samples of one cgroup: the values of the family's extra labels
/// (in the order of [`ContainerFamily::extra_labels`]) and the value.
pub struct Sink<'a> {
    /// The collection time in Unix seconds (`container_last_seen`'s value).
    pub now_unix: f64,
    pub(crate) rows: Vec<([&'a str; 2], f64)>,
}

impl<'a> Sink<'a> {
    /// Adds one sample.
    pub fn push(&mut self, extra: [&'a str; 2], value: f64) {
        self.rows.push((extra, value));
    }
}

/// A getter: pushes zero or more samples of one cgroup.
pub type Getter = for<'a, 'b> fn(&'a ContainerStats, &'b mut Sink<'a>);

/// One per-container family.
pub struct ContainerFamily {
    /// Metric name.
    pub name: &'static str,
    /// HELP text, as cAdvisor writes it.
    pub help: &'static str,
    /// counter or gauge.
    pub kind: FamilyType,
    /// Labels besides [`BASE_LABELS`] (at most two).
    pub extra_labels: &'static [&'static str],
    /// Whether samples carry the collection timestamp (spec families do not).
    pub timestamped: bool,
    /// The value getter.
    pub get: Getter,
}

const NONE: [&str; 2] = ["", ""];

fn secs(ns: u64) -> f64 {
    ns as f64 / 1e9
}

macro_rules! fam {
    ($name:literal, $help:literal, $kind:ident, [$($l:literal),*], $ts:literal, $get:expr) => {
        ContainerFamily {
            name: $name,
            help: $help,
            kind: FamilyType::$kind,
            extra_labels: &[$($l),*],
            timestamped: $ts,
            get: $get,
        }
    };
}

macro_rules! mem {
    ($name:literal, $help:literal, $kind:ident, $field:ident) => {
        fam!($name, $help, $kind, [], true, |c, s| {
            if let Some(m) = &c.memory {
                s.push(NONE, m.$field as f64);
            }
        })
    };
}

macro_rules! net {
    ($name:literal, $help:literal, $field:ident) => {
        fam!($name, $help, Counter, ["interface"], true, |c, s| {
            for i in &c.network {
                s.push([i.name.as_str(), ""], i.$field as f64);
            }
        })
    };
}

macro_rules! disk {
    ($name:literal, $help:literal, $field:ident) => {
        fam!($name, $help, Counter, ["device"], true, |c, s| {
            for d in &c.disk_io {
                s.push([d.device.as_str(), ""], d.$field as f64);
            }
        })
    };
}

macro_rules! psi {
    ($name:literal, $help:literal, $res:ident, $field:ident) => {
        fam!($name, $help, Counter, [], true, |c, s| {
            if let Some(p) = c.pressure.as_ref().and_then(|p| p.$res) {
                // cAdvisor's asMicrosecondsToSeconds.
                s.push(NONE, p.$field as f64 / 1e6);
            }
        })
    };
}

/// Every per-container family the collector emits, sorted by name (the kubelet core set of
/// the spec, plus `container_memory_total_{active,inactive}_file_bytes`,
/// `container_oom_events_total` (only with an OOM source) and the six
/// `container_pressure_*` families (only where cgroup v2 `*.pressure` files exist)).
pub static CONTAINER_FAMILIES: &[ContainerFamily] = &[
    fam!(
        "container_cpu_cfs_periods_total",
        "Number of elapsed enforcement period intervals.",
        Counter,
        [],
        true,
        |c, s| {
            if let Some(f) = c.cpu.as_ref().and_then(|x| x.cfs) {
                s.push(NONE, f.periods as f64);
            }
        }
    ),
    fam!(
        "container_cpu_cfs_throttled_periods_total",
        "Number of throttled period intervals.",
        Counter,
        [],
        true,
        |c, s| {
            if let Some(f) = c.cpu.as_ref().and_then(|x| x.cfs) {
                s.push(NONE, f.throttled_periods as f64);
            }
        }
    ),
    fam!(
        "container_cpu_cfs_throttled_seconds_total",
        "Total time duration the container has been throttled.",
        Counter,
        [],
        true,
        |c, s| {
            if let Some(f) = c.cpu.as_ref().and_then(|x| x.cfs) {
                s.push(NONE, secs(f.throttled_ns));
            }
        }
    ),
    fam!(
        "container_cpu_system_seconds_total",
        "Cumulative system cpu time consumed in seconds.",
        Counter,
        [],
        true,
        |c, s| {
            if let Some(x) = &c.cpu {
                s.push(NONE, secs(x.system_ns));
            }
        }
    ),
    fam!(
        "container_cpu_usage_seconds_total",
        "Cumulative cpu time consumed in seconds.",
        Counter,
        ["cpu"],
        true,
        |c, s| {
            // cAdvisor: no per-CPU data and a zero total → no series at all.
            if let Some(x) = c.cpu.as_ref().filter(|x| x.usage_ns > 0) {
                s.push(["total", ""], secs(x.usage_ns));
            }
        }
    ),
    fam!(
        "container_cpu_user_seconds_total",
        "Cumulative user cpu time consumed in seconds.",
        Counter,
        [],
        true,
        |c, s| {
            if let Some(x) = &c.cpu {
                s.push(NONE, secs(x.user_ns));
            }
        }
    ),
    disk!(
        "container_fs_reads_bytes_total",
        "Cumulative count of bytes read",
        read_bytes
    ),
    disk!(
        "container_fs_reads_total",
        "Cumulative count of reads completed",
        reads
    ),
    disk!(
        "container_fs_writes_bytes_total",
        "Cumulative count of bytes written",
        write_bytes
    ),
    disk!(
        "container_fs_writes_total",
        "Cumulative count of writes completed",
        writes
    ),
    fam!(
        "container_last_seen",
        "Last time a container was seen by the exporter",
        Gauge,
        [],
        true,
        |_, s| {
            let now = s.now_unix;
            s.push(NONE, now);
        }
    ),
    mem!(
        "container_memory_cache",
        "Number of bytes of page cache memory.",
        Gauge,
        cache_bytes
    ),
    mem!(
        "container_memory_failcnt",
        "Number of memory usage hits limits",
        Counter,
        failcnt
    ),
    fam!(
        "container_memory_failures_total",
        "Cumulative count of memory allocation failures.",
        Counter,
        ["failure_type", "scope"],
        true,
        |c, s| {
            if let Some(m) = &c.memory {
                // cAdvisor emits the same value for both scopes.
                s.push(["pgfault", "container"], m.pgfault as f64);
                s.push(["pgfault", "hierarchy"], m.pgfault as f64);
                s.push(["pgmajfault", "container"], m.pgmajfault as f64);
                s.push(["pgmajfault", "hierarchy"], m.pgmajfault as f64);
            }
        }
    ),
    mem!(
        "container_memory_mapped_file",
        "Size of memory mapped files in bytes.",
        Gauge,
        mapped_file_bytes
    ),
    mem!(
        "container_memory_max_usage_bytes",
        "Maximum memory usage recorded in bytes",
        Gauge,
        max_usage_bytes
    ),
    mem!(
        "container_memory_rss",
        "Size of RSS in bytes.",
        Gauge,
        rss_bytes
    ),
    mem!(
        "container_memory_swap",
        "Container swap usage in bytes.",
        Gauge,
        swap_bytes
    ),
    mem!(
        "container_memory_total_active_file_bytes",
        "Current total active file in bytes.",
        Gauge,
        active_file_bytes
    ),
    mem!(
        "container_memory_total_inactive_file_bytes",
        "Current total inactive file in bytes.",
        Gauge,
        inactive_file_bytes
    ),
    mem!(
        "container_memory_usage_bytes",
        "Current memory usage in bytes, including all memory regardless of when it was accessed",
        Gauge,
        usage_bytes
    ),
    mem!(
        "container_memory_working_set_bytes",
        "Current working set in bytes.",
        Gauge,
        working_set_bytes
    ),
    net!(
        "container_network_receive_bytes_total",
        "Cumulative count of bytes received",
        rx_bytes
    ),
    net!(
        "container_network_receive_errors_total",
        "Cumulative count of errors encountered while receiving",
        rx_errors
    ),
    net!(
        "container_network_receive_packets_dropped_total",
        "Cumulative count of packets dropped while receiving",
        rx_dropped
    ),
    net!(
        "container_network_receive_packets_total",
        "Cumulative count of packets received",
        rx_packets
    ),
    net!(
        "container_network_transmit_bytes_total",
        "Cumulative count of bytes transmitted",
        tx_bytes
    ),
    net!(
        "container_network_transmit_errors_total",
        "Cumulative count of errors encountered while transmitting",
        tx_errors
    ),
    net!(
        "container_network_transmit_packets_dropped_total",
        "Cumulative count of packets dropped while transmitting",
        tx_dropped
    ),
    net!(
        "container_network_transmit_packets_total",
        "Cumulative count of packets transmitted",
        tx_packets
    ),
    fam!(
        "container_oom_events_total",
        "Count of out of memory events observed for the container",
        Counter,
        [],
        true,
        |c, s| {
            if let Some(n) = c.oom_events {
                s.push(NONE, n as f64);
            }
        }
    ),
    psi!(
        "container_pressure_cpu_stalled_seconds_total",
        "Total time duration no tasks in the container could make progress due to CPU congestion.",
        cpu,
        full_total_us
    ),
    psi!(
        "container_pressure_cpu_waiting_seconds_total",
        "Total time duration tasks in the container have waited due to CPU congestion.",
        cpu,
        some_total_us
    ),
    psi!(
        "container_pressure_io_stalled_seconds_total",
        "Total time duration no tasks in the container could make progress due to IO congestion.",
        io,
        full_total_us
    ),
    psi!(
        "container_pressure_io_waiting_seconds_total",
        "Total time duration tasks in the container have waited due to IO congestion.",
        io,
        some_total_us
    ),
    psi!(
        "container_pressure_memory_stalled_seconds_total",
        "Total time duration no tasks in the container could make progress due to memory congestion.",
        memory,
        full_total_us
    ),
    psi!(
        "container_pressure_memory_waiting_seconds_total",
        "Total time duration tasks in the container have waited due to memory congestion.",
        memory,
        some_total_us
    ),
    fam!(
        "container_processes",
        "Number of processes running inside the container.",
        Gauge,
        [],
        true,
        |c, s| {
            if let Some(p) = &c.processes {
                s.push(NONE, p.processes as f64);
            }
        }
    ),
    fam!(
        "container_spec_cpu_period",
        "CPU period of the container.",
        Gauge,
        [],
        false,
        |c, s| {
            if let Some(v) = c.spec.cpu_period_us {
                s.push(NONE, v as f64);
            }
        }
    ),
    fam!(
        "container_spec_cpu_quota",
        "CPU quota of the container.",
        Gauge,
        [],
        false,
        |c, s| {
            if let Some(v) = c.spec.cpu_quota_us.filter(|q| *q != 0) {
                s.push(NONE, v as f64);
            }
        }
    ),
    fam!(
        "container_spec_cpu_shares",
        "CPU share of the container.",
        Gauge,
        [],
        false,
        |c, s| {
            if let Some(v) = c.spec.cpu_shares {
                s.push(NONE, v as f64);
            }
        }
    ),
    fam!(
        "container_spec_memory_limit_bytes",
        "Memory limit for the container.",
        Gauge,
        [],
        false,
        |c, s| {
            if let Some(v) = c.spec.memory_limit_bytes {
                s.push(NONE, v as f64);
            }
        }
    ),
    fam!(
        "container_start_time_seconds",
        "Start time of the container since unix epoch in seconds.",
        Gauge,
        [],
        false,
        |c, s| s.push(NONE, c.start_time_unix as f64)
    ),
    fam!(
        "container_threads",
        "Number of threads running inside the container",
        Gauge,
        [],
        true,
        |c, s| {
            if let Some(p) = &c.processes {
                s.push(NONE, p.threads as f64);
            }
        }
    ),
    fam!(
        "container_threads_max",
        "Maximum number of threads allowed inside the container, infinity if value is zero",
        Gauge,
        [],
        true,
        |c, s| {
            if let Some(p) = &c.processes {
                s.push(NONE, p.threads_max as f64);
            }
        }
    ),
];

/// `container_scrape_error`: no labels, 1 when listing the cgroups failed.
pub const SCRAPE_ERROR: (&str, &str) = (
    "container_scrape_error",
    "1 if there was an error while getting container metrics, 0 otherwise",
);

/// The machine families (labels `boot_id`, `machine_id`, `system_uuid`; no timestamp).
pub const MACHINE_FAMILIES: [(&str, &str); 2] = [
    ("machine_cpu_cores", "Number of logical CPU cores."),
    (
        "machine_memory_bytes",
        "Amount of memory installed on the machine.",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_and_unique() {
        let names: Vec<&str> = CONTAINER_FAMILIES.iter().map(|f| f.name).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(names, sorted);
        assert_eq!(names.len(), 45);
        for f in CONTAINER_FAMILIES {
            assert!(f.extra_labels.len() <= 2, "{}", f.name);
        }
    }
}
