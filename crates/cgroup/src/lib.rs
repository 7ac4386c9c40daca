//! A cAdvisor-compatible container metrics collector for cgroup v1, v2 and hybrid hosts.
//!
//! This crate reads cgroupfs and `/proc` the way the cAdvisor embedded in the kubelet does
//! and produces the kubelet's `/metrics/cadvisor` exposition: the same family names, HELP
//! texts, types, label sets (`container`, `id`, `image`, `name`, `namespace`, `pod`),
//! ordering, Go float formatting and explicit timestamps, so existing dashboards, recording
//! rules and alerts (kubernetes-mixin, kube-prometheus) work unchanged.
//!
//! # Overview
//!
//! * [`Collector`] is the entry point. [`Collector::new`] reads `mountinfo` and detects the
//!   [`layout::Layout`] (v1, hybrid or v2); [`Collector::collect`] reads `/` plus every
//!   cgroup under the kubepods roots into a [`Collection`]; [`Collector::collect_into`]
//!   does the same into the previous collection, reusing its strings and vectors.
//! * Cgroup files are kept open between collections and re-read with one `pread(2)`, as
//!   far as `RLIMIT_NOFILE` allows ([`CollectorConfig::open_files`]); a binary
//!   should call [`raise_fd_limit`] at start, as every Go program (the kubelet included)
//!   does implicitly.
//! * A [`Collection`] is plain data: per cgroup a [`ContainerStats`] with typed
//!   [`CpuStats`], [`MemoryStats`], [`SpecStats`], [`DiskIo`], [`InterfaceStats`] and
//!   [`ProcessStats`], and [`MachineInfo`]. [`Collection::encode_text`] writes it in the
//!   text format; other consumers (the kubelet Summary API) read the fields.
//! * Kubernetes identity comes from the cgroup path ([`path::decode`]: pod UID, QoS class,
//!   container id for the cgroupfs and systemd drivers and the containerd, CRI-O and
//!   cri-dockerd naming) and, for names and images, from a [`PodLookup`] you supply.
//! * Nothing fails a collection: a cgroup that vanishes mid-walk, an unreadable file, a
//!   malformed line or an unknown key is skipped and counted in [`CollectStats`].
//!
//! # Example
//!
//! ```no_run
//! use scrapeline_cgroup::{Collector, CollectorConfig};
//!
//! # fn main() -> Result<(), scrapeline_cgroup::CgroupError> {
//! let collector = Collector::new(CollectorConfig::default())?;
//! let now_ms = 1_767_225_600_000;
//! let collection = collector.collect(now_ms);
//! let mut text = String::new();
//! collection.encode_text(&mut text);
//! print!("{text}");
//! if let Some(root) = collection.get("/") {
//!     println!("root working set: {:?}", root.memory.map(|m| m.working_set_bytes));
//! }
//! # Ok(())
//! # }
//! ```
//!
//! Supplying Kubernetes metadata (the binary fills this from pod discovery):
//!
//! ```
//! use std::sync::Arc;
//! use scrapeline_cgroup::{ContainerMeta, PodLookup};
//!
//! struct OnePod;
//! impl PodLookup for OnePod {
//!     fn lookup(&self, pod_uid: &str, container_id: &str) -> Option<ContainerMeta> {
//!         (pod_uid == "6a0c8b4e-5f3d-4c2a-9b1e-7f8d2c3a4b5c").then(|| ContainerMeta {
//!             namespace: "default".into(),
//!             pod: "web".into(),
//!             container: if container_id.is_empty() { String::new() } else { "nginx".into() },
//!             image: "docker.io/library/nginx:1.27.3".into(),
//!             ..ContainerMeta::default()
//!         })
//!     }
//! }
//! let _lookup: Arc<dyn PodLookup + Send + Sync> = Arc::new(OnePod);
//! ```
//!
//! # Which cgroups and which families
//!
//! `/` (always) and everything below [`CollectorConfig::roots`] (default `/kubepods` and
//! `/kubepods.slice`), as the kubelet's cAdvisor accepts them. Container cgroups are leaves;
//! CRI-O `crio-conmon-*` scopes are skipped. Network families are emitted for `/` (from
//! `/proc/1/net/dev`) and pod sandboxes only, as containerd/CRI-O do. The families are in
//! the crate's family table (`CONTAINER_FAMILIES`) plus `container_scrape_error`, `machine_cpu_cores` and
//! `machine_memory_bytes`. `container_pressure_*` come from cgroup v2 `*.pressure` files where
//! they exist ([`CollectorConfig::pressure`]); `container_oom_events_total` needs an OOM
//! source ([`Collector::set_oom_counts`]).
//!
//! # OOM kills
//!
//! As in cAdvisor, OOM kills are counted from the kernel log, not from `memory.events`: an
//! [`OomWatcher`] tails `/dev/kmsg` on a thread, counts kills per cgroup path from its start,
//! and the collector reports the count of every cgroup (0 when none):
//!
//! ```no_run
//! use scrapeline_cgroup::{Collector, CollectorConfig, OomWatcher};
//!
//! # fn main() -> Result<(), scrapeline_cgroup::CgroupError> {
//! let collector = Collector::new(CollectorConfig::default())?;
//! // Keep the watcher alive as long as the collector: dropping it stops the thread.
//! let watcher = OomWatcher::start(collector.kmsg_path())?;
//! let collector = collector.with_oom_watcher(&watcher);
//! let _ = collector.collect_now();
//! # Ok(())
//! # }
//! ```
//!
//! # Layers
//!
//! Public layers: [`parse`] (pure parsers from `&str`, for anyone reading cgroup files),
//! [`fs`] (host paths, a counting reader), [`layout`] (mountinfo → v1/v2/hybrid), [`path`]
//! (Kubernetes path decoding). Inside: the descriptor budget for kept-open files, the family
//! table, and the collector and encoder on top, whose types are re-exported here.

mod collector;
mod encode;
mod error;
mod families;
pub mod fs;
pub mod layout;
mod limits;
mod machine;
mod meta;
mod oom;
pub mod parse;
pub mod path;
mod read;
mod stats;

pub use collector::{Collector, CollectorConfig};
pub use error::{CgroupError, FormatError};
pub use limits::raise_fd_limit;
pub use meta::{ContainerMeta, PodLookup};
pub use oom::{OomCounter, OomCounts, OomWatcher, OomWatcherConfig};
pub use parse::InterfaceStats;
pub use read::weight_to_shares;
pub use stats::{
    CfsStats, CollectStats, Collection, ContainerStats, CpuStats, DiskIo, MachineInfo, MemoryStats,
    PressureStats, ProcessStats, Psi, SpecStats,
};

impl Collection {
    /// Appends this collection in the kubelet `/metrics/cadvisor` text format (0.0.4) to
    /// `out`.
    pub fn encode_text(&self, out: &mut String) {
        encode::encode_text(self, out);
    }
}
