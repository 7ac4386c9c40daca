//! The typed result of one collection: plain structs, usable without the text format.
//!
//! The exposition ([`Collection::encode_text`](crate::Collection::encode_text)) is one view
//! of these values; the kubelet Summary API and `metrics.k8s.io` are another, and read the
//! same fields.

use crate::path::CgroupIdentity;

pub use crate::parse::InterfaceStats;

/// One collection: every cgroup reported, machine facts and what was skipped.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Collection {
    /// When the cgroups were read (ms since the Unix epoch): the timestamp of every sample.
    pub timestamp_ms: i64,
    /// Machine-wide facts (`machine_*` families, the root cgroup's limits).
    pub machine: MachineInfo,
    /// One entry per cgroup, sorted by [`ContainerStats::id`].
    pub containers: Vec<ContainerStats>,
    /// What was skipped and why.
    pub stats: CollectStats,
}

impl Collection {
    /// The cgroup with this `id` (path), if it was collected.
    pub fn get(&self, id: &str) -> Option<&ContainerStats> {
        self.containers
            .binary_search_by(|c| c.id.as_str().cmp(id))
            .ok()
            .and_then(|i| self.containers.get(i))
    }
}

/// Counters of everything a collection skipped. A collection never fails as a whole.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CollectStats {
    /// Cgroups reported.
    pub cgroups: u64,
    /// Cgroups that disappeared between listing and reading (skipped).
    pub cgroups_vanished: u64,
    /// Files or directories that exist but could not be read (permission, I/O error).
    pub files_unreadable: u64,
    /// Files whose content did not parse (the value is left out).
    pub parse_errors: u64,
    /// Lines or fields with a key outside a closed vocabulary (blkio operations, `io.stat`
    /// fields), skipped. Open-ended files (`memory.stat`, `cpu.stat`) gain keys with every
    /// kernel and are not counted.
    pub unknown_keys: u64,
    /// Block devices left out because another device of the same cgroup already had the
    /// same `device` label (several unnamed devices map to `""`).
    pub duplicate_devices: u64,
    /// Whether listing the cgroup hierarchy itself failed (`container_scrape_error` 1).
    pub list_failed: bool,
}

/// Machine facts (cAdvisor `MachineInfo`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MachineInfo {
    /// Logical CPUs (`machine_cpu_cores`).
    pub cpu_cores: u64,
    /// `MemTotal` in bytes (`machine_memory_bytes`).
    pub memory_bytes: u64,
    /// `SwapTotal` in bytes.
    pub swap_bytes: u64,
    /// `SwapTotal − SwapFree` in bytes (the root cgroup's swap on v2).
    pub swap_used_bytes: u64,
    /// `/etc/machine-id` (label `machine_id`).
    pub machine_id: String,
    /// DMI product UUID (label `system_uuid`).
    pub system_uuid: String,
    /// `/proc/sys/kernel/random/boot_id` (label `boot_id`).
    pub boot_id: String,
    /// Boot time as cAdvisor floors creation times: `(now − uptime)` truncated to the
    /// minute, in Unix seconds.
    pub boot_time_unix: i64,
}

/// Everything read for one cgroup.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerStats {
    /// The cgroup path relative to the hierarchy root (`/`, `/kubepods.slice/...`): label
    /// `id`.
    pub id: String,
    /// Kubernetes identity decoded from [`Self::id`].
    pub identity: CgroupIdentity,
    /// Label `container` (Kubernetes container name; `""` for raw cgroups and containerd
    /// sandboxes).
    pub container: String,
    /// Label `image`.
    pub image: String,
    /// Label `name` (the runtime alias; the 64-hex id under containerd).
    pub name: String,
    /// Label `namespace`.
    pub namespace: String,
    /// Label `pod`.
    pub pod: String,
    /// Creation time of the cgroup in Unix seconds (`container_start_time_seconds`).
    pub start_time_unix: i64,
    /// CPU accounting, when the cgroup has it.
    pub cpu: Option<CpuStats>,
    /// Memory accounting, when the cgroup has it.
    pub memory: Option<MemoryStats>,
    /// Configured limits.
    pub spec: SpecStats,
    /// Block I/O per device, sorted by `MAJ:MIN`, one entry per distinct `device` label.
    pub disk_io: Vec<DiskIo>,
    /// Network interfaces (root and pod sandboxes only), sorted by name.
    pub network: Vec<InterfaceStats>,
    /// Process and thread counts.
    pub processes: Option<ProcessStats>,
    /// OOM kills attributed to this cgroup since the OOM source started
    /// (`container_oom_events_total`); `None` when the collector has no OOM source.
    pub oom_events: Option<u64>,
    /// Pressure stall information (cgroup v2 `*.pressure` files), when present.
    pub pressure: Option<PressureStats>,
}

impl ContainerStats {
    /// An entry with only its path and identity; everything else empty.
    pub(crate) fn new(id: String, identity: CgroupIdentity) -> Self {
        Self {
            id,
            identity,
            container: String::new(),
            image: String::new(),
            name: String::new(),
            namespace: String::new(),
            pod: String::new(),
            start_time_unix: 0,
            cpu: None,
            memory: None,
            spec: SpecStats::default(),
            disk_io: Vec::new(),
            network: Vec::new(),
            processes: None,
            oom_events: None,
            pressure: None,
        }
    }

    /// Empties everything but the path and identity, keeping the allocations of its
    /// strings and vectors for the values about to be read.
    pub(crate) fn reset(&mut self) {
        self.container.clear();
        self.image.clear();
        self.name.clear();
        self.namespace.clear();
        self.pod.clear();
        self.start_time_unix = 0;
        self.cpu = None;
        self.memory = None;
        self.spec = SpecStats::default();
        self.processes = None;
        self.oom_events = None;
        self.pressure = None;
        // `disk_io` and `network` are rebuilt in place by the reader (their entries'
        // strings reused) and truncated to what was read.
    }
}

/// Pressure stall information of one cgroup (cgroup v2 `cpu.pressure`, `memory.pressure`,
/// `io.pressure`); a resource is `None` when its file is absent (v1, or PSI disabled).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PressureStats {
    /// `cpu.pressure`.
    pub cpu: Option<Psi>,
    /// `memory.pressure`.
    pub memory: Option<Psi>,
    /// `io.pressure`.
    pub io: Option<Psi>,
}

/// The cumulative stall times of one pressure file, in microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Psi {
    /// `some ... total=`: time at least one task was stalled (the `waiting` families).
    pub some_total_us: u64,
    /// `full ... total=`: time all non-idle tasks were stalled (the `stalled` families).
    pub full_total_us: u64,
}

/// CPU time, in nanoseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuStats {
    /// Total CPU time (v1 `cpuacct.usage`, v2 `usage_usec` × 1000).
    pub usage_ns: u64,
    /// User time (v1 from USER_HZ ticks, so coarser).
    pub user_ns: u64,
    /// System time.
    pub system_ns: u64,
    /// CFS bandwidth counters, present only when a quota is set.
    pub cfs: Option<CfsStats>,
}

/// CFS bandwidth control counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CfsStats {
    /// Elapsed enforcement periods.
    pub periods: u64,
    /// Periods in which the cgroup was throttled.
    pub throttled_periods: u64,
    /// Total throttled time in nanoseconds.
    pub throttled_ns: u64,
}

/// Memory usage, in bytes unless stated.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MemoryStats {
    /// v1 `memory.usage_in_bytes`, v2 `memory.current` (root: `anon + file`).
    pub usage_bytes: u64,
    /// `usage − inactive_file`, floored at 0: what the kubelet evicts on.
    pub working_set_bytes: u64,
    /// v1 `total_rss`, v2 `anon`.
    pub rss_bytes: u64,
    /// v1 `total_cache`, v2 `file`.
    pub cache_bytes: u64,
    /// v1 `total_mapped_file`, v2 `file_mapped`.
    pub mapped_file_bytes: u64,
    /// v1 `total_swap`, v2 `memory.swap.current` (root: `SwapTotal − SwapFree`).
    pub swap_bytes: u64,
    /// v1 `memory.max_usage_in_bytes`, v2 `memory.peak` (0 when absent).
    pub max_usage_bytes: u64,
    /// v1 `memory.failcnt`; always 0 on v2.
    pub failcnt: u64,
    /// Page faults (v1: the cgroup's own non-`total_` key; v2: hierarchical).
    pub pgfault: u64,
    /// Major page faults (same sources as `pgfault`).
    pub pgmajfault: u64,
    /// v1 `total_active_file`, v2 `active_file`.
    pub active_file_bytes: u64,
    /// v1 `total_inactive_file`, v2 `inactive_file`.
    pub inactive_file_bytes: u64,
}

/// Configured limits (cAdvisor `ContainerSpec`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SpecStats {
    /// CFS period in µs (`None` when the cgroup has no cpu controller; 0 on the v2 root).
    pub cpu_period_us: Option<u64>,
    /// CFS quota in µs, `None` when unlimited.
    pub cpu_quota_us: Option<u64>,
    /// v1 `cpu.shares`; on v2 derived from `cpu.weight` (0 on the root).
    pub cpu_shares: Option<u64>,
    /// Memory limit in bytes; 0 when unlimited; `MemTotal` on the root.
    pub memory_limit_bytes: Option<u64>,
}

/// Block I/O of one device.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DiskIo {
    /// Device major number.
    pub major: u32,
    /// Device minor number.
    pub minor: u32,
    /// Label `device` (`/dev/sda`, or `""` for devices cAdvisor cannot name, like loops).
    pub device: String,
    /// Bytes read.
    pub read_bytes: u64,
    /// Bytes written.
    pub write_bytes: u64,
    /// Read operations completed.
    pub reads: u64,
    /// Write operations completed.
    pub writes: u64,
}

/// Process and thread counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProcessStats {
    /// Processes in this cgroup only (lines of `cgroup.procs`).
    pub processes: u64,
    /// Tasks in this cgroup and its descendants (`pids.current`).
    pub threads: u64,
    /// `pids.max`; 0 when unlimited.
    pub threads_max: u64,
}
