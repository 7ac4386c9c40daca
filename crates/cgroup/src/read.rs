//! Reading one cgroup's stats from v1 or v2 files, with cAdvisor's arithmetic.

use std::collections::HashMap;
use std::path::PathBuf;

use crate::fs::{At, HostPaths, MAX_DIRS, OpenFiles, Reader, join_rel};
use crate::layout::Layout;
use crate::meta::PodLookup;
use crate::parse;
use crate::path::CgroupKind;
use crate::stats::{
    CfsStats, ContainerStats, CpuStats, DiskIo, MachineInfo, MemoryStats, PressureStats,
    ProcessStats, SpecStats,
};

/// Anything above this is "unlimited" (v1 writes `9223372036854771712`).
const UNLIMITED: u64 = 1 << 62;
/// USER_HZ: `cpuacct.stat` counts in these ticks per second.
const USER_HZ: u64 = 100;

/// Everything shared by the reads of one collection.
pub(crate) struct Ctx<'a> {
    pub layout: &'a Layout,
    /// The directories cgroups live in (v1 hierarchies read, or the unified tree), at most
    /// [`MAX_DIRS`].
    pub stat_dirs: &'a [PathBuf],
    /// Index into `stat_dirs` of each controller of [`CTRL`].
    pub ctrl: &'a [Option<usize>; 5],
    pub paths: &'a HostPaths,
    pub machine: &'a MachineInfo,
    pub devices: &'a HashMap<(u32, u32), String>,
    pub lookup: Option<&'a (dyn PodLookup + Send + Sync)>,
    /// Whether to read v2 `*.pressure` files.
    pub pressure: bool,
}

/// The controllers read on v1, in the order of [`Ctx::ctrl`].
pub(crate) const CTRL: [&str; 5] = ["cpu", "cpuacct", "memory", "blkio", "pids"];
const CPU: usize = 0;
const CPUACCT: usize = 1;
const MEMORY: usize = 2;
const BLKIO: usize = 3;
const PIDS: usize = 4;
/// Which of the cgroup's directories holds each controller of [`CTRL`]; the directories
/// themselves are the reader's ([`Reader::begin_cgroup`]).
struct Dirs {
    ctrl: [Option<usize>; 5],
    /// Bit `i`: the cgroup has a directory in base `i`.
    present: u8,
}

impl Dirs {
    /// The directory of `controller`, for [`At::Cgroup`] reads (files may be kept open).
    fn get(&self, controller: usize) -> Option<At<'static>> {
        let i = self.ctrl.get(controller).copied().flatten()?;
        let i = u8::try_from(i).ok()?;
        (self.present & (1 << i) != 0).then_some(At::Cgroup(i))
    }
}

/// How long configured limits are reused before the files are read again: cAdvisor
/// refreshes a container's spec at most every 5 s (`containerData.GetInfo`).
pub(crate) const SPEC_TTL_MS: i64 = 5_000;

/// What is kept of a cgroup between collections.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cached {
    /// Creation time (computed once, as cAdvisor does when it first sees a container).
    pub start_time_unix: i64,
    /// Configured limits and when they were read.
    pub spec: SpecStats,
    pub spec_read_ms: i64,
    /// Slowly changing values refreshed with the limits.
    pub slow: Slow,
}

/// Values re-read only when the limits are (every [`SPEC_TTL_MS`]): `pids.max` (a limit
/// too) and which of runc's blkio file groups has entries (v1), so that a steady-state
/// collection reads one group instead of probing up to five.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Slow {
    /// `pids.max`, 0 when unlimited.
    pub threads_max: u64,
    /// Index into the blkio groups of the group that had entries; `Some(GROUPS.len())`
    /// when none had; `None` when not probed yet.
    pub blkio_group: Option<usize>,
}

/// Reads one cgroup, listed in the bases whose bit is set in `present`, with the files
/// kept open for it and how many more may be kept (`files`, `budget`). `None` when it
/// vanished (counted by the caller). `cached` is what an earlier collection kept of this
/// cgroup; the returned [`Cached`] replaces it. The kept files and the budget left come
/// back either way.
#[allow(clippy::too_many_arguments)]
pub(crate) fn read_cgroup(
    ctx: &Ctx<'_>,
    r: &mut Reader,
    shell: ContainerStats,
    present: u8,
    cached: Option<Cached>,
    files: OpenFiles,
    budget: usize,
    now_ms: i64,
) -> (Option<(ContainerStats, Cached)>, OpenFiles, usize) {
    let begun = r.begin_cgroup(&shell.id, present, files, budget);
    let read = begun
        .then(|| read_begun(ctx, r, shell, cached, now_ms))
        .flatten();
    let (files, budget) = r.end_cgroup();
    (read, files, budget)
}

/// Reads the cgroup begun by [`Reader::begin_cgroup`] into `c` (an entry with its path
/// and identity, from this or the previous collection: its strings are reused).
fn read_begun(
    ctx: &Ctx<'_>,
    r: &mut Reader,
    mut c: ContainerStats,
    cached: Option<Cached>,
    now_ms: i64,
) -> Option<(ContainerStats, Cached)> {
    c.reset();
    // The block devices are rebuilt in the vector the entry had (or an earlier entry's).
    r.pool_disk_io(&mut c.disk_io);
    let is_root = c.identity.kind == CgroupKind::Root;
    // Only the directories that could be opened (all of the listed ones when they are
    // opened lazily).
    let present = (0..MAX_DIRS as u8).fold(0u8, |m, i| if r.has_dir(i) { m | (1 << i) } else { m });
    let dirs = Dirs {
        ctrl: *ctx.ctrl,
        present,
    };
    let meta = fill_labels(ctx, r, &mut c);
    // Without metadata a container is named by its id.
    if c.identity.kind == CgroupKind::Container && c.name.is_empty() && meta.is_none() {
        c.name
            .push_str(c.identity.container_id.as_deref().unwrap_or_default());
    }

    // Creation time: min over hierarchy directories of the dir mtime and the rarely
    // modified cgroup.clone_children (v1) / cgroup.events (v2), floored at boot. Computed
    // once per cgroup, as cAdvisor does when it first sees a container.
    c.start_time_unix = match cached {
        Some(k) => k.start_time_unix,
        None => {
            let marker = if ctx.layout.is_v1() {
                "cgroup.clone_children"
            } else {
                "cgroup.events"
            };
            let mut created: Option<i64> = None;
            for i in (0..MAX_DIRS as u8).filter(|i| dirs.present & (1 << i) != 0) {
                for name in ["", marker] {
                    if let Some(t) = r.cg_mtime(i, name) {
                        created = Some(created.map_or(t, |c| c.min(t)));
                    }
                }
            }
            created.unwrap_or(0).max(ctx.machine.boot_time_unix)
        }
    };

    let fresh_spec = match cached {
        Some(k) if (0..SPEC_TTL_MS).contains(&now_ms.saturating_sub(k.spec_read_ms)) => {
            c.spec = k.spec;
            false
        }
        _ => true,
    };
    let mut slow = match cached {
        Some(k) if !fresh_spec => k.slow,
        _ => Slow::default(),
    };
    let (first_pid, procs_found) = if ctx.layout.is_v1() {
        if fresh_spec {
            c.spec = spec_v1(ctx, r, &dirs, is_root);
        }
        read_v1(ctx, r, &dirs, &mut c, is_root, fresh_spec, &mut slow)
    } else {
        if fresh_spec {
            c.spec = spec_v2(ctx, r, &dirs, is_root);
        }
        read_v2(ctx, r, &dirs, &mut c, is_root, fresh_spec, &mut slow)
    };
    let keep = Cached {
        start_time_unix: c.start_time_unix,
        spec: c.spec,
        spec_read_ms: match cached {
            Some(k) if !fresh_spec => k.spec_read_ms,
            _ => now_ms,
        },
        slow,
    };

    // Network: the root (pid 1) and pod sandboxes only.
    let net_pid = if is_root {
        Some(1)
    } else if c.identity.kind == CgroupKind::Container && is_sandbox(ctx, r, meta, first_pid) {
        first_pid
    } else {
        None
    };
    // (Rebuilt in the vector of an earlier entry, whose strings are reused.)
    let mut net = r.take_pool(&mut c.network);
    if let Some(pid) = net_pid {
        let at = At::Pid(ctx.paths.proc_root.as_path(), pid);
        if let Some(text) = r.read(at, "net/dev") {
            match parse::parse_net_dev_into(text, &mut net) {
                Ok(()) => c.network = net,
                Err(_) => {
                    r.stats.parse_errors += 1;
                    r.put_pool(net);
                }
            }
        } else {
            r.put_pool(net);
        }
    } else {
        r.put_pool(net);
    }

    // A cgroup removed while we read it: `cgroup.procs`, which every cgroup has, went
    // missing under us.
    if !procs_found {
        let still_there = ctx.stat_dirs.iter().any(|b| join_rel(b, &c.id).is_dir());
        if !still_there {
            return None;
        }
    }
    Some((c, keep))
}

/// Sets the Kubernetes labels from the path and the pod lookup.
/// Returns whether the metadata calls the container a sandbox (`None`: no metadata).
fn fill_labels(ctx: &Ctx<'_>, r: &mut Reader, c: &mut ContainerStats) -> Option<bool> {
    let id = &c.identity;
    let uid = id.pod_uid.as_deref()?;
    let lookup = ctx.lookup?;
    let m = &mut r.meta;
    m.namespace.clear();
    m.pod.clear();
    m.container.clear();
    m.image.clear();
    m.name = None;
    m.sandbox = false;
    match id.kind {
        CgroupKind::Pod => {
            if lookup.lookup_into(uid, "", m) {
                c.namespace.push_str(&m.namespace);
                c.pod.push_str(&m.pod);
            }
            None
        }
        CgroupKind::Container => {
            let cid = id.container_id.as_deref().unwrap_or_default();
            if lookup.lookup_into(uid, cid, m) {
                c.name.push_str(m.name.as_deref().unwrap_or(cid));
                c.namespace.push_str(&m.namespace);
                c.pod.push_str(&m.pod);
                c.container.push_str(&m.container);
                c.image.push_str(&m.image);
                Some(m.sandbox)
            } else {
                None
            }
        }
        _ => None,
    }
}

/// Whether a container cgroup is the pod sandbox: from the metadata when there is some,
/// else whether its first process is `pause`.
fn is_sandbox(
    ctx: &Ctx<'_>,
    r: &mut Reader,
    meta_sandbox: Option<bool>,
    first_pid: Option<u32>,
) -> bool {
    if let Some(s) = meta_sandbox {
        return s;
    }
    let Some(pid) = first_pid else { return false };
    r.read(At::Pid(ctx.paths.proc_root.as_path(), pid), "comm")
        .is_some_and(|s| s.trim() == "pause")
}

/// v1: each controller in its own hierarchy. Returns the first pid of the cgroup and
/// whether its `cgroup.procs` (in the cpu hierarchy) was there.
fn read_v1(
    ctx: &Ctx<'_>,
    r: &mut Reader,
    dirs: &Dirs,
    c: &mut ContainerStats,
    is_root: bool,
    fresh: bool,
    slow: &mut Slow,
) -> (Option<u32>, bool) {
    let mut first_pid = None;
    let mut procs_found = false;
    let quota_set = c.spec.cpu_quota_us.is_some_and(|q| q != 0);

    if let Some(dir) = dirs.get(CPU) {
        // Never through a kept descriptor: v1 would serve it a stale pid list.
        let procs = r.read(dir.fresh(), "cgroup.procs").map(parse::parse_procs);
        if let Some(p) = procs {
            procs_found = true;
            first_pid = p.first;
            c.processes
                .get_or_insert_with(ProcessStats::default)
                .processes = p.count;
        }
        let mut cfs = CfsStats::default();
        if quota_set
            && r.flat_keyed(dir, "cpu.stat", |k, v| match k {
                "nr_periods" => cfs.periods = v,
                "nr_throttled" => cfs.throttled_periods = v,
                "throttled_time" => cfs.throttled_ns = v,
                _ => {}
            })
        {
            c.cpu.get_or_insert_with(CpuStats::default).cfs = Some(cfs);
        }
    }
    if let Some(dir) = dirs.get(CPUACCT) {
        if let Some(u) = r.parsed(dir, "cpuacct.usage", parse::parse_u64) {
            c.cpu.get_or_insert_with(CpuStats::default).usage_ns = u;
        }
        let (mut user, mut system) = (None, None);
        r.flat_keyed(dir, "cpuacct.stat", |k, v| match k {
            "user" => user = Some(v),
            "system" => system = Some(v),
            _ => {}
        });
        if user.is_some() || system.is_some() {
            let cpu = c.cpu.get_or_insert_with(CpuStats::default);
            cpu.user_ns = user.unwrap_or(0).saturating_mul(1_000_000_000 / USER_HZ);
            cpu.system_ns = system.unwrap_or(0).saturating_mul(1_000_000_000 / USER_HZ);
        }
    }
    if let Some(dir) = dirs.get(MEMORY) {
        // rss, cache, mapped_file, swap, inactive_file, active_file: local and total_.
        let mut local = [None::<u64>; 6];
        let mut total = [None::<u64>; 6];
        let mut m = MemoryStats::default();
        let mut pg = (0u64, 0u64);
        let ok = r.flat_keyed(dir, "memory.stat", |k, v| {
            let (key, slots) = match k.strip_prefix("total_") {
                Some(k) => (k, &mut total),
                None => (k, &mut local),
            };
            match k {
                "pgfault" => pg.0 = v,
                "pgmajfault" => pg.1 = v,
                _ => {}
            }
            let i = match key {
                "rss" => 0,
                "cache" => 1,
                "mapped_file" => 2,
                "swap" => 3,
                "inactive_file" => 4,
                "active_file" => 5,
                _ => return,
            };
            if let Some(s) = slots.get_mut(i) {
                *s = Some(v);
            }
        });
        if ok {
            // The hierarchical total_ key wins over the local one (use_hierarchy = 1).
            let g = |i: usize| {
                total
                    .get(i)
                    .copied()
                    .flatten()
                    .or(local.get(i).copied().flatten())
                    .unwrap_or(0)
            };
            m.rss_bytes = g(0);
            m.cache_bytes = g(1);
            m.mapped_file_bytes = g(2);
            m.swap_bytes = g(3);
            m.inactive_file_bytes = g(4);
            m.active_file_bytes = g(5);
            m.pgfault = pg.0;
            m.pgmajfault = pg.1;
            m.usage_bytes = r
                .parsed(dir, "memory.usage_in_bytes", parse::parse_u64)
                .unwrap_or(0);
            m.max_usage_bytes = r
                .parsed(dir, "memory.max_usage_in_bytes", parse::parse_u64)
                .unwrap_or(0);
            m.failcnt = r
                .parsed(dir, "memory.failcnt", parse::parse_u64)
                .unwrap_or(0);
            m.working_set_bytes = m.usage_bytes.saturating_sub(m.inactive_file_bytes);
            c.memory = Some(m);
        }
    }
    if let Some(dir) = dirs.get(PIDS) {
        let p = c.processes.get_or_insert_with(ProcessStats::default);
        if !is_root {
            // cAdvisor drops the pids path of the v1 root: threads and max stay 0.
            p.threads = r.parsed(dir, "pids.current", parse::parse_u64).unwrap_or(0);
            if fresh {
                slow.threads_max = r
                    .parsed(dir, "pids.max", parse::parse_max)
                    .flatten()
                    .unwrap_or(0);
            }
            p.threads_max = slow.threads_max;
        }
    }
    if let Some(dir) = dirs.get(BLKIO) {
        read_blkio(ctx, r, c, dir, slow);
    }
    if is_root {
        first_pid = Some(1);
    }
    (first_pid, procs_found)
}

/// v1 configured limits: `cpu.shares`, `cpu.cfs_period_us`, `cpu.cfs_quota_us` where the
/// cgroup has a cpu directory (cAdvisor's HasCpu), `memory.limit_in_bytes` where it has a
/// memory one (`MemTotal` for the root).
fn spec_v1(ctx: &Ctx<'_>, r: &mut Reader, dirs: &Dirs, is_root: bool) -> SpecStats {
    let mut spec = SpecStats::default();
    if let Some(dir) = dirs.get(CPU) {
        spec.cpu_shares = Some(r.parsed(dir, "cpu.shares", parse::parse_u64).unwrap_or(0));
        spec.cpu_period_us = Some(
            r.parsed(dir, "cpu.cfs_period_us", parse::parse_u64)
                .unwrap_or(0),
        );
        spec.cpu_quota_us = r
            .parsed(dir, "cpu.cfs_quota_us", parse::parse_i64)
            .and_then(|q| u64::try_from(q).ok());
    }
    if let Some(dir) = dirs.get(MEMORY) {
        spec.memory_limit_bytes = Some(if is_root {
            ctx.machine.memory_bytes
        } else {
            r.parsed(dir, "memory.limit_in_bytes", parse::parse_u64)
                .map(|l| if l > UNLIMITED { 0 } else { l })
                .unwrap_or(0)
        });
    }
    spec
}

/// v2 configured limits: `cpu.max`, `cpu.weight` (as shares), `memory.max`. The root has
/// none of these files: period and shares 0, memory limit `MemTotal`.
fn spec_v2(ctx: &Ctx<'_>, r: &mut Reader, dirs: &Dirs, is_root: bool) -> SpecStats {
    let mut spec = SpecStats::default();
    let Some(dir) = dirs.get(CPU) else {
        return spec;
    };
    let (quota, period) = r
        .parsed(dir, "cpu.max", parse::parse_cpu_max)
        .unwrap_or((None, 0));
    spec.cpu_period_us = Some(period);
    spec.cpu_quota_us = quota;
    spec.cpu_shares = Some(
        r.parsed(dir, "cpu.weight", parse::parse_u64)
            .map(weight_to_shares)
            .unwrap_or(0),
    );
    spec.memory_limit_bytes = if is_root {
        Some(ctx.machine.memory_bytes)
    } else {
        r.parsed(dir, "memory.max", parse::parse_max)
            .map(|l| l.filter(|l| *l <= UNLIMITED).unwrap_or(0))
    };
    spec
}

/// runc's `fs/blkio.go` file-group choice: the first group whose first file has entries.
fn read_blkio(ctx: &Ctx<'_>, r: &mut Reader, c: &mut ContainerStats, dir: At<'_>, slow: &mut Slow) {
    const GROUPS: [(&str, &str, &str); 5] = [
        (
            "blkio.bfq.sectors_recursive",
            "blkio.bfq.io_serviced_recursive",
            "blkio.bfq.io_service_bytes_recursive",
        ),
        (
            "blkio.bfq.io_serviced_recursive",
            "blkio.bfq.io_serviced_recursive",
            "blkio.bfq.io_service_bytes_recursive",
        ),
        (
            "blkio.sectors_recursive",
            "blkio.io_serviced_recursive",
            "blkio.io_service_bytes_recursive",
        ),
        (
            "blkio.throttle.io_serviced_recursive",
            "blkio.throttle.io_serviced_recursive",
            "blkio.throttle.io_service_bytes_recursive",
        ),
        (
            "blkio.throttle.io_serviced",
            "blkio.throttle.io_serviced",
            "blkio.throttle.io_service_bytes",
        ),
    ];
    let mut tables = std::mem::take(&mut r.blkio_tables);
    read_blkio_groups(ctx, r, c, dir, slow, &GROUPS, &mut tables);
    r.blkio_tables = tables;
}

/// Reads `name` into the table `t` (reused). False when it is missing or does not parse
/// (counted); `t` is then empty.
fn blkio_table(r: &mut Reader, dir: At<'_>, name: &'static str, t: &mut parse::BlkioTable) -> bool {
    let ok = match r.read(dir, name) {
        Some(text) => parse::parse_blkio_into(text, t).is_ok(),
        None => {
            t.entries.clear();
            t.unknown_keys = 0;
            return false;
        }
    };
    if !ok {
        r.stats.parse_errors += 1;
        t.entries.clear();
        t.unknown_keys = 0;
    }
    ok
}

/// [`read_blkio`] with its three tables (probe, serviced, bytes).
#[allow(clippy::too_many_arguments)]
fn read_blkio_groups(
    ctx: &Ctx<'_>,
    r: &mut Reader,
    c: &mut ContainerStats,
    dir: At<'_>,
    slow: &mut Slow,
    groups: &[(&'static str, &'static str, &'static str)],
    [probe_t, serviced_t, bytes_t]: &mut [parse::BlkioTable; 3],
) {
    // The group found last time (within the limits' refresh interval) is tried alone; if it
    // has no entries any more, or none was found, all groups are probed again only when the
    // memo is stale (`slow` is reset with the limits).
    let first = match slow.blkio_group {
        Some(g) if g >= groups.len() => return,
        Some(g) => g,
        None => 0,
    };
    let only_memo = slow.blkio_group.is_some();
    slow.blkio_group = Some(groups.len());
    for (gi, &(probe, serviced_file, bytes_file)) in groups.iter().enumerate().skip(first) {
        if !blkio_table(r, dir, probe, probe_t) || probe_t.entries.is_empty() {
            if only_memo {
                slow.blkio_group = None;
                let mut tables = [
                    std::mem::take(probe_t),
                    std::mem::take(serviced_t),
                    std::mem::take(bytes_t),
                ];
                read_blkio_groups(ctx, r, c, dir, slow, groups, &mut tables);
                [*probe_t, *serviced_t, *bytes_t] = tables;
                return;
            }
            continue;
        }
        slow.blkio_group = Some(gi);
        let serviced = if probe == serviced_file {
            &*probe_t
        } else {
            blkio_table(r, dir, serviced_file, serviced_t);
            &*serviced_t
        };
        blkio_table(r, dir, bytes_file, bytes_t);
        let bytes = &*bytes_t;
        r.stats.unknown_keys += serviced.unknown_keys + bytes.unknown_keys;
        let mut per_dev = std::mem::take(&mut r.io_lines);
        per_dev.clear();
        for (table, is_bytes) in [(bytes, true), (serviced, false)] {
            for e in &table.entries {
                let d = match per_dev
                    .iter()
                    .position(|d| d.major == e.major && d.minor == e.minor)
                {
                    Some(i) => per_dev.get_mut(i),
                    None => {
                        per_dev.push(parse::IoStatLine {
                            major: e.major,
                            minor: e.minor,
                            ..parse::IoStatLine::default()
                        });
                        per_dev.last_mut()
                    }
                };
                let Some(d) = d else { continue };
                match (e.op, is_bytes) {
                    (parse::BlkioOp::Read, true) => d.rbytes = e.value,
                    (parse::BlkioOp::Write, true) => d.wbytes = e.value,
                    (parse::BlkioOp::Read, false) => d.rios = e.value,
                    (parse::BlkioOp::Write, false) => d.wios = e.value,
                    _ => {}
                }
            }
        }
        finish_disk_io(ctx, r, c, &mut per_dev);
        r.io_lines = per_dev;
        return;
    }
}

/// Sorts the devices by `MAJ:MIN`, names them and drops devices whose name repeats, into
/// `c.disk_io` (rebuilt in the reader's pooled vector, its strings reused).
fn finish_disk_io(
    ctx: &Ctx<'_>,
    r: &mut Reader,
    c: &mut ContainerStats,
    devs: &mut [parse::IoStatLine],
) {
    devs.sort_by_key(|d| (d.major, d.minor));
    let mut out = r.take_disk_io_pool();
    let mut n = 0;
    for d in devs.iter() {
        let name = ctx
            .devices
            .get(&(d.major, d.minor))
            .map(String::as_str)
            .unwrap_or_default();
        // Keep the first device (in MAJ:MIN order) of each name: never two series with
        // the same labels.
        if out
            .get(..n)
            .is_some_and(|kept| kept.iter().any(|k| k.device == name))
        {
            r.stats.duplicate_devices += 1;
            continue;
        }
        let entry = DiskIo {
            major: d.major,
            minor: d.minor,
            device: String::new(),
            read_bytes: d.rbytes,
            write_bytes: d.wbytes,
            reads: d.rios,
            writes: d.wios,
        };
        match out.get_mut(n) {
            Some(slot) => {
                let mut device = std::mem::take(&mut slot.device);
                device.clear();
                device.push_str(name);
                *slot = DiskIo { device, ..entry };
            }
            None => out.push(DiskIo {
                device: name.to_string(),
                ..entry
            }),
        }
        n += 1;
    }
    out.truncate(n);
    c.disk_io = out;
}

/// v2: one tree. Returns the first pid of the cgroup and whether `cgroup.procs` was there.
fn read_v2(
    ctx: &Ctx<'_>,
    r: &mut Reader,
    dirs: &Dirs,
    c: &mut ContainerStats,
    is_root: bool,
    fresh: bool,
    slow: &mut Slow,
) -> (Option<u32>, bool) {
    let Some(dir) = dirs.get(CPU) else {
        return (None, false);
    };

    // CPU.
    let quota = c.spec.cpu_quota_us;
    let mut cpu = CpuStats::default();
    let mut cfs = CfsStats::default();
    if r.flat_keyed(dir, "cpu.stat", |k, v| match k {
        "usage_usec" => cpu.usage_ns = v.saturating_mul(1000),
        "user_usec" => cpu.user_ns = v.saturating_mul(1000),
        "system_usec" => cpu.system_ns = v.saturating_mul(1000),
        "nr_periods" => cfs.periods = v,
        "nr_throttled" => cfs.throttled_periods = v,
        "throttled_usec" => cfs.throttled_ns = v.saturating_mul(1000),
        _ => {}
    }) {
        if quota.is_some_and(|q| q != 0) {
            cpu.cfs = Some(cfs);
        }
        c.cpu = Some(cpu);
    }

    // Memory.
    let mut m = MemoryStats::default();
    let (mut anon, mut file) = (0u64, 0u64);
    if r.flat_keyed(dir, "memory.stat", |k, v| match k {
        "anon" => anon = v,
        "file" => file = v,
        "file_mapped" => m.mapped_file_bytes = v,
        "inactive_file" => m.inactive_file_bytes = v,
        "active_file" => m.active_file_bytes = v,
        "pgfault" => m.pgfault = v,
        "pgmajfault" => m.pgmajfault = v,
        _ => {}
    }) {
        m.rss_bytes = anon;
        m.cache_bytes = file;
        m.usage_bytes = r
            .parsed(dir, "memory.current", parse::parse_u64)
            .unwrap_or(anon.saturating_add(file));
        m.working_set_bytes = m.usage_bytes.saturating_sub(m.inactive_file_bytes);
        m.max_usage_bytes = if is_root {
            0
        } else {
            r.parsed(dir, "memory.peak", parse::parse_u64).unwrap_or(0)
        };
        // Without swap (SwapTotal 0, most Kubernetes nodes) nothing can be swapped out: the
        // file would read 0.
        m.swap_bytes = if is_root {
            r.parsed(dir, "memory.swap.current", parse::parse_u64)
                .unwrap_or(ctx.machine.swap_used_bytes)
        } else if ctx.machine.swap_bytes == 0 {
            0
        } else {
            r.parsed(dir, "memory.swap.current", parse::parse_u64)
                .unwrap_or(0)
        };
        c.memory = Some(m);
    }

    // Processes.
    let procs = r.read(dir, "cgroup.procs").map(parse::parse_procs);
    let procs_found = procs.is_some();
    let procs = procs.unwrap_or_default();
    let threads = r
        .parsed(dir, "pids.current", parse::parse_u64)
        .unwrap_or(procs.count);
    if fresh {
        slow.threads_max = r
            .parsed(dir, "pids.max", parse::parse_max)
            .flatten()
            .unwrap_or(0);
    }
    let threads_max = slow.threads_max;
    c.processes = Some(ProcessStats {
        processes: procs.count,
        threads,
        threads_max,
    });

    // Block I/O.
    let mut devs = std::mem::take(&mut r.io_lines);
    devs.clear();
    if let Some(text) = r.read(dir, "io.stat") {
        match parse::io_stat_each(text, |l| devs.push(l)) {
            Ok(unknown) => {
                r.stats.unknown_keys += unknown;
                finish_disk_io(ctx, r, c, &mut devs);
            }
            Err(_) => r.stats.parse_errors += 1,
        }
    }
    r.io_lines = devs;

    // Pressure stall information, where the kernel has it.
    if ctx.pressure {
        let p = PressureStats {
            cpu: r.parsed(dir, "cpu.pressure", parse::parse_pressure),
            memory: r.parsed(dir, "memory.pressure", parse::parse_pressure),
            io: r.parsed(dir, "io.pressure", parse::parse_pressure),
        };
        if p != PressureStats::default() {
            c.pressure = Some(p);
        }
    }
    (if is_root { Some(1) } else { procs.first }, procs_found)
}

/// cAdvisor's `cpu.weight` → shares: `2 + ((w − 1) × 262142) / 9999` (integer).
pub fn weight_to_shares(w: u64) -> u64 {
    if w == 0 {
        return 0;
    }
    2 + ((w - 1).saturating_mul(262_142)) / 9999
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights() {
        assert_eq!(weight_to_shares(14), 342);
        assert_eq!(weight_to_shares(35), 893);
        assert_eq!(weight_to_shares(1), 2);
        assert_eq!(weight_to_shares(149), 3882);
        assert_eq!(weight_to_shares(6), 133);
    }
}
