//! The collector: configuration, cgroup listing (the walker) and one collection.

use std::mem::MaybeUninit;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags, RawDir};
use rustix::io::Errno;

use crate::error::CgroupError;
use crate::fs::{HostPaths, MAX_DIRS, OpenFiles, Reader, join_rel, read_parsed};
use crate::layout::Layout;
use crate::machine;
use crate::meta::PodLookup;
use crate::oom::OomCounts;
use crate::parse::{self, MountInfo};
use crate::path::{CgroupIdentity, CgroupKind, decode};
use crate::read::{CTRL, Cached, Ctx, SPEC_TTL_MS, read_cgroup};
use crate::stats::{CollectStats, Collection, MachineInfo};

/// Where the collector reads from and which cgroups it reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectorConfig {
    /// The host's root filesystem (`/`; `/rootfs` in a container; a fixture directory in
    /// tests). The other paths default to below it.
    pub rootfs: PathBuf,
    /// The host's `/sys/fs/cgroup` (default `<rootfs>/sys/fs/cgroup`), e.g.
    /// `/host/sys/fs/cgroup` in a DaemonSet.
    pub cgroup_root: Option<PathBuf>,
    /// The host's `/proc` (default `<rootfs>/proc`), e.g. `/host/proc`.
    pub proc_root: Option<PathBuf>,
    /// The host's `/sys` (default `<rootfs>/sys`).
    pub sys_root: Option<PathBuf>,
    /// Cgroup subtrees reported recursively besides `/` (which is always reported, alone).
    /// Default: the kubelet's node-allocatable roots `/kubepods` and `/kubepods.slice`; add
    /// e.g. `/system.slice/kubelet.service` as the kubelet does for its own cgroup.
    pub roots: Vec<String>,
    /// How many file descriptors the collector may keep open between collections, so that
    /// a cgroup file read before is read again with one `pread(2)` instead of
    /// `openat` + `read` + `close`, and the cgroup's directory is not opened at all (about
    /// 3× fewer system calls per collection). Whatever the setting, the collector never
    /// keeps more than [`fd_budget`](crate::limits::fd_budget) allows: the process's
    /// `RLIMIT_NOFILE` soft limit less a reserve for everything else (read at every
    /// collection). Default `usize::MAX`: as many as that allows. With the usual soft
    /// limit of 1,024 that is none; a binary that raises its soft limit to the hard limit at
    /// start ([`raise_fd_limit`](crate::limits::raise_fd_limit), as Go programs like the
    /// kubelet do) gets every file kept (a node with 1,000 containers needs about 14 per
    /// cgroup). 0 turns it off. Descriptors of removed cgroups are closed at the next
    /// collection. A file a cgroup lacks is looked up again only with the limits (every
    /// 5 s) while the cgroup has kept files.
    pub open_files: usize,
    /// Whether to read cgroup v2 `cpu.pressure`, `memory.pressure` and `io.pressure` for the
    /// `container_pressure_*` families (default true, as the kubelet ≥ 1.34 with PSI). Where
    /// the files are absent (v1, PSI off) nothing is read either way.
    pub pressure: bool,
}

impl Default for CollectorConfig {
    fn default() -> Self {
        Self {
            rootfs: PathBuf::from("/"),
            cgroup_root: None,
            proc_root: None,
            sys_root: None,
            roots: vec!["/kubepods".to_string(), "/kubepods.slice".to_string()],
            pressure: true,
            open_files: usize::MAX,
        }
    }
}

impl CollectorConfig {
    /// The default configuration for a host whose root filesystem is at `rootfs`.
    pub fn with_rootfs(rootfs: impl Into<PathBuf>) -> Self {
        Self {
            rootfs: rootfs.into(),
            ..Self::default()
        }
    }
}

/// A cAdvisor-compatible cgroup collector. Create it once; call [`Collector::collect`] per
/// scrape (it takes `&self`, so one collector can be shared behind an `Arc`).
pub struct Collector {
    paths: HostPaths,
    layout: Layout,
    mounts: Vec<MountInfo>,
    machine: MachineInfo,
    roots: Vec<String>,
    lookup: Option<Arc<dyn PodLookup + Send + Sync>>,
    oom: Option<Arc<dyn OomCounts>>,
    pressure: bool,
    open_files: usize,
    stat_dirs: Vec<PathBuf>,
    ctrl: [Option<usize>; 5],
    /// What the last collection kept of each cgroup (creation time, limits, open files),
    /// sorted by cgroup path.
    cache: Mutex<Vec<(String, Cached, OpenFiles)>>,
}

impl std::fmt::Debug for Collector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Collector")
            .field("paths", &self.paths)
            .field("layout", &self.layout)
            .field("roots", &self.roots)
            .field("pod_lookup", &self.lookup.is_some())
            .field("oom_counts", &self.oom.is_some())
            .field("pressure", &self.pressure)
            .finish()
    }
}

impl Collector {
    /// Reads `<proc_root>/self/mountinfo`, detects the cgroup layout and the machine's
    /// static facts. Fails only when `mountinfo` cannot be read or lists no cgroup mount.
    pub fn new(config: CollectorConfig) -> Result<Self, CgroupError> {
        let paths = HostPaths::new(
            &config.rootfs,
            config.cgroup_root.as_deref(),
            config.proc_root.as_deref(),
            config.sys_root.as_deref(),
        );
        let mi_path = paths.proc_root.join("self/mountinfo");
        let mounts = read_parsed(&mi_path, parse::parse_mountinfo)?;
        let layout = Layout::detect(&mounts, |mp| paths.resolve_mount_point(mp))
            .ok_or(CgroupError::NoCgroupMounts { path: mi_path })?;
        let mut reader = Reader::new();
        let machine = machine::read_static(&paths, &mut reader);
        let (stat_dirs, ctrl) = if layout.is_v1() {
            let dirs: Vec<PathBuf> = layout
                .stat_dirs()
                .into_iter()
                .take(MAX_DIRS)
                .map(Path::to_path_buf)
                .collect();
            let ctrl = CTRL.map(|c| {
                layout
                    .controller(c)
                    .and_then(|p| dirs.iter().position(|d| d == p))
            });
            (dirs, ctrl)
        } else {
            (layout.unified.iter().cloned().collect(), [Some(0); 5])
        };
        Ok(Self {
            paths,
            layout,
            mounts,
            machine,
            roots: config.roots,
            lookup: None,
            oom: None,
            pressure: config.pressure,
            open_files: config.open_files,
            stat_dirs,
            ctrl,
            cache: Mutex::new(Vec::new()),
        })
    }

    /// Sets the source of Kubernetes metadata (`namespace`, `pod`, `container`, `image`).
    pub fn set_pod_lookup(&mut self, lookup: Arc<dyn PodLookup + Send + Sync>) {
        self.lookup = Some(lookup);
    }

    /// Builder form of [`Collector::set_pod_lookup`].
    pub fn with_pod_lookup(mut self, lookup: Arc<dyn PodLookup + Send + Sync>) -> Self {
        self.set_pod_lookup(lookup);
        self
    }

    /// Sets the source of `container_oom_events_total`: with one, every reported cgroup gets
    /// the family (0 when it had no OOM kill); without one (the default) the family is not
    /// emitted. Usually an [`OomWatcher`](crate::oom::OomWatcher)'s
    /// [`counts`](crate::oom::OomWatcher::counts).
    pub fn set_oom_counts(&mut self, counts: Arc<dyn OomCounts>) {
        self.oom = Some(counts);
    }

    /// Builder form of [`Collector::set_oom_counts`].
    pub fn with_oom_counts(mut self, counts: Arc<dyn OomCounts>) -> Self {
        self.set_oom_counts(counts);
        self
    }

    /// Builder form of [`Collector::set_oom_counts`] taking the watcher's counters (the
    /// watcher itself must be kept alive by the caller: dropping it stops the counting).
    pub fn with_oom_watcher(self, watcher: &crate::oom::OomWatcher) -> Self {
        self.with_oom_counts(watcher.counts())
    }

    /// The kernel log an [`OomWatcher`](crate::oom::OomWatcher) for this host reads:
    /// `<rootfs>/dev/kmsg`.
    pub fn kmsg_path(&self) -> PathBuf {
        crate::oom::OomWatcher::kmsg_path(&self.paths.rootfs)
    }

    /// The detected layout.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The resolved host paths.
    pub fn paths(&self) -> &HostPaths {
        &self.paths
    }

    /// Reads every reported cgroup now. `now_ms` is the collection time (ms since the Unix
    /// epoch): the timestamp of every sample, `container_last_seen`, and the reference for
    /// the boot-time floor of start times. Never fails: what cannot be read is skipped and
    /// counted in [`Collection::stats`].
    pub fn collect(&self, now_ms: i64) -> Collection {
        let mut reader = Reader::new();
        reader.set_bases(&self.stat_dirs);
        let mut machine = self.machine.clone();
        machine::refresh(
            &mut machine,
            &self.paths,
            &mut reader,
            now_ms.div_euclid(1000),
        );
        let devices = machine::device_names(&self.paths, &self.mounts, &mut reader);
        let cgroups = self.list(&mut reader.stats);
        let ctx = Ctx {
            layout: &self.layout,
            stat_dirs: &self.stat_dirs,
            ctrl: &self.ctrl,
            paths: &self.paths,
            machine: &machine,
            devices: &devices,
            lookup: self.lookup.as_deref(),
            pressure: self.pressure,
        };
        let mut containers = Vec::with_capacity(cgroups.len());
        let mut cache = self
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let held: usize = cache.iter().map(|(_, _, f)| f.len()).sum();
        let mut budget = self
            .open_files
            .min(crate::limits::fd_budget())
            .saturating_sub(held);
        // Both sorted by path: walk them together. Entries of cgroups that are gone are
        // dropped (their kept files closed).
        let mut old = std::mem::take(&mut *cache).into_iter().peekable();
        let mut kept_cache = Vec::with_capacity(cgroups.len());
        for (id, identity, present) in cgroups {
            while old.next_if(|(k, _, _)| k.as_str() < id.as_str()).is_some() {}
            let prev = old.next_if(|(k, _, _)| *k == id);
            let (key, cached, files) = match prev {
                Some((key, slot, mut files)) => {
                    // Missing files are looked up again with the limits (every 5 s).
                    if !(0..SPEC_TTL_MS).contains(&now_ms.saturating_sub(slot.spec_read_ms)) {
                        files.forget_missing();
                    }
                    (Some(key), Some(slot), files)
                }
                None => (None, None, OpenFiles::default()),
            };
            let (read, kept, left) = read_cgroup(
                &ctx,
                &mut reader,
                id,
                identity,
                present,
                cached,
                files,
                budget,
                now_ms,
            );
            budget = left;
            match read {
                Some((c, keep)) => {
                    let key = key.unwrap_or_else(|| c.id.clone());
                    kept_cache.push((key, keep, kept));
                    containers.push(c);
                }
                None => {
                    // Gone: close what was kept of it.
                    budget += kept.len();
                    reader.stats.cgroups_vanished += 1;
                }
            }
        }
        drop(old);
        *cache = kept_cache;
        drop(cache);
        if let Some(oom) = &self.oom {
            for c in &mut containers {
                c.oom_events = Some(oom.oom_events(&c.id));
            }
        }
        let mut stats = reader.stats;
        stats.cgroups = containers.len() as u64;
        Collection {
            timestamp_ms: now_ms,
            machine,
            containers,
            stats,
        }
    }

    /// [`Collector::collect`] at the current wall-clock time.
    pub fn collect_now(&self) -> Collection {
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        self.collect(now_ms)
    }

    /// Lists `/` and every cgroup below the configured roots, over all hierarchies the
    /// collector reads, sorted by path. Containers are leaves: their sub-cgroups (crun's
    /// `container`, `.mount` units) are in their hierarchical stats already; CRI-O conmon
    /// scopes are not containers and are left out.
    /// Each comes with the set of bases (the hierarchy directories read) it was found in, one bit
    /// per base.
    fn list(&self, stats: &mut CollectStats) -> Vec<(String, CgroupIdentity, u8)> {
        let mut found: Found = vec![("/".to_string(), decode("/"), 0)];
        let mut any_base = false;
        let mut rel = String::new();
        for (bi, base) in self.stat_dirs.iter().enumerate().take(MAX_DIRS) {
            let bit = 1u8 << bi;
            match std::fs::metadata(base) {
                Ok(m) if m.is_dir() => {
                    any_base = true;
                    if let Some((_, _, mask)) = found.first_mut() {
                        *mask |= bit;
                    }
                }
                Ok(_) => continue,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(_) => {
                    stats.list_failed = true;
                    continue;
                }
            }
            let base_fd = open_listable(None, base.as_path());
            for root in &self.roots {
                let root = normalize(root);
                rel.clear();
                if root == "/" {
                    match &base_fd {
                        Ok(fd) => walk(fd, &mut rel, bit, &mut found, stats),
                        Err(e) => count_unlistable(*e, stats),
                    }
                    continue;
                }
                // The root must be a directory; one that cannot be opened (but exists) is
                // reported and counted as unreadable, as a failed listing of it.
                let dir = match &base_fd {
                    Ok(fd) => open_listable(Some(fd), root.trim_start_matches('/')),
                    Err(_) => open_listable(None, join_rel(base, &root).as_path()),
                };
                if matches!(dir, Err(Errno::NOENT | Errno::NOTDIR)) {
                    continue;
                }
                let identity = decode(&root);
                let leaf = is_leaf(&identity);
                if identity.kind == CgroupKind::Conmon {
                    continue;
                }
                found.push((root.clone(), identity, bit));
                if !leaf {
                    rel.push_str(&root);
                    match &dir {
                        Ok(fd) => walk(fd, &mut rel, bit, &mut found, stats),
                        Err(e) => count_unlistable(*e, stats),
                    }
                }
            }
        }
        if !any_base {
            stats.list_failed = true;
        }
        // Sorted by path; a cgroup found in several hierarchies once, with all their bits.
        found.sort_by(|a, b| a.0.cmp(&b.0));
        found.dedup_by(|later, kept| {
            let same = later.0 == kept.0;
            if same {
                kept.2 |= later.2;
            }
            same
        });
        found
    }
}

/// Cgroups found by the listing: path, identity and the bases they are in (one bit per
/// base).
type Found = Vec<(String, CgroupIdentity, u8)>;

fn normalize(root: &str) -> String {
    let t = root.trim_end_matches('/');
    if t.is_empty() {
        "/".to_string()
    } else if t.starts_with('/') {
        t.to_string()
    } else {
        format!("/{t}")
    }
}

fn is_leaf(id: &CgroupIdentity) -> bool {
    matches!(
        id.kind,
        CgroupKind::Container | CgroupKind::Conmon | CgroupKind::ContainerSubcgroup
    )
}

/// Opens a directory for listing, relative to `at` (or the working directory).
fn open_listable<P: rustix::path::Arg>(at: Option<&OwnedFd>, path: P) -> Result<OwnedFd, Errno> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    match at {
        Some(dir) => rfs::openat(dir, path, flags, Mode::empty()),
        None => rfs::open(path, flags, Mode::empty()),
    }
}

/// Counts a directory that could not be listed: vanished, or unreadable.
fn count_unlistable(e: Errno, stats: &mut CollectStats) {
    if e == Errno::NOENT {
        stats.cgroups_vanished += 1;
    } else {
        stats.files_unreadable += 1;
    }
}

/// Lists the directory `dir` (the cgroup `rel`) recursively into `found`, with
/// `getdents64` into a stack buffer and `openat` relative to the parent: no allocation but
/// the paths found.
fn walk(dir: &OwnedFd, rel: &mut String, bit: u8, found: &mut Found, stats: &mut CollectStats) {
    let mut buf = [MaybeUninit::<u8>::uninit(); 8192];
    let mut entries = RawDir::new(dir, &mut buf);
    while let Some(e) = entries.next() {
        let Ok(e) = e else {
            stats.files_unreadable += 1;
            break;
        };
        let name = e.file_name().to_bytes();
        if name == b"." || name == b".." {
            continue;
        }
        let is_dir = match e.file_type() {
            FileType::Directory => true,
            // Filesystems without d_type: as std's DirEntry::file_type, lstat.
            FileType::Unknown => rfs::statat(dir, e.file_name(), AtFlags::SYMLINK_NOFOLLOW)
                .is_ok_and(|st| FileType::from_raw_mode(st.st_mode) == FileType::Directory),
            _ => false,
        };
        if !is_dir {
            continue;
        }
        let Ok(name) = std::str::from_utf8(name) else {
            continue;
        };
        let len = rel.len();
        rel.push('/');
        rel.push_str(name);
        let identity = decode(rel);
        if identity.kind != CgroupKind::Conmon {
            let leaf = is_leaf(&identity);
            found.push((rel.clone(), identity, bit));
            if !leaf {
                match open_listable(Some(dir), name) {
                    Ok(child) => walk(&child, rel, bit, found, stats),
                    Err(e) => count_unlistable(e, stats),
                }
            }
        }
        rel.truncate(len);
    }
}
