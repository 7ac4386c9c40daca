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
use crate::path::{CgroupKind, decode, kind_of};
use crate::read::{CTRL, Cached, Ctx, SPEC_TTL_MS, read_cgroup};
use crate::stats::{CollectStats, Collection, ContainerStats, MachineInfo};

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
    /// keeps more than the descriptor budget allows: the process's
    /// `RLIMIT_NOFILE` soft limit less a reserve for everything else (read at every
    /// collection), shared by all the collectors of the process. Default `usize::MAX`: as many as that allows. With the usual soft
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
    /// What the last collection kept, and buffers reused by the next one.
    state: Mutex<State>,
}

/// What one collection leaves to the next.
#[derive(Default)]
struct State {
    /// Per cgroup (sorted by path): creation time, limits, kept-open files.
    cache: Vec<(String, Cached, OpenFiles)>,
    /// An empty vector with capacity, to build the next cache in.
    spare_cache: Vec<(String, Cached, OpenFiles)>,
    /// An empty vector with capacity, for the next collection's containers.
    spare_containers: Vec<ContainerStats>,
    /// The listing: paths found, one after the other, and (start, end, bases) of each.
    arena: String,
    found: Vec<(usize, usize, u8)>,
    /// The reader, whose buffers (file content, paths, scratch) are reused.
    reader: Reader,
}

impl Drop for Collector {
    fn drop(&mut self) {
        // Its kept files close now: give them back to the process's budget.
        let st = self
            .state
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let held: usize = st.cache.iter().map(|(_, _, f)| f.len()).sum();
        crate::limits::kept_changed(held, 0);
    }
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
            state: Mutex::new(State::default()),
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
        let mut out = Collection::default();
        self.collect_into(now_ms, &mut out);
        out
    }

    /// [`Collector::collect`] into `out`, reusing what it holds: the entry of a cgroup
    /// that `out` already has (from the previous collection) keeps its strings and
    /// vectors, so that a steady-state collection allocates almost nothing. The result is
    /// the same as `collect(now_ms)`'s. (The strings a [`PodLookup`] returns are still
    /// allocated by the lookup.)
    pub fn collect_into(&self, now_ms: i64, out: &mut Collection) {
        let mut st = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let st = &mut *st;
        let reader = &mut st.reader;
        reader.stats = CollectStats::default();
        reader.set_bases(&self.stat_dirs);
        out.machine.clone_from(&self.machine);
        machine::refresh(
            &mut out.machine,
            &self.paths,
            reader,
            now_ms.div_euclid(1000),
        );
        let devices = machine::device_names(&self.paths, &self.mounts, reader);
        self.list(&mut reader.stats, &mut st.arena, &mut st.found);
        let ctx = Ctx {
            layout: &self.layout,
            stat_dirs: &self.stat_dirs,
            ctrl: &self.ctrl,
            paths: &self.paths,
            machine: &out.machine,
            devices: &devices,
            lookup: self.lookup.as_deref(),
            pressure: self.pressure,
        };
        let held: usize = st.cache.iter().map(|(_, _, f)| f.len()).sum();
        let mut budget =
            crate::limits::collector_budget(self.open_files, held).saturating_sub(held);
        // The listing, the previous containers and the cache are all sorted by path: walk
        // them together. Entries of cgroups that are gone are dropped (their kept files
        // closed).
        let mut containers = std::mem::take(&mut st.spare_containers);
        containers.reserve(st.found.len());
        let mut old_containers = std::mem::take(&mut out.containers);
        let mut prev_stats = old_containers.drain(..).peekable();
        let mut cache = std::mem::take(&mut st.spare_cache);
        cache.reserve(st.found.len());
        let mut old_cache = std::mem::take(&mut st.cache);
        let mut prev_cache = old_cache.drain(..).peekable();
        for &(start, end, present) in &st.found {
            let path = st.arena.get(start..end).unwrap_or_default();
            while prev_stats.next_if(|c| c.id.as_str() < path).is_some() {}
            let shell = match prev_stats.next_if(|c| c.id == path) {
                Some(c) => c,
                None => ContainerStats::new(path.to_string(), decode(path)),
            };
            while prev_cache.next_if(|(k, _, _)| k.as_str() < path).is_some() {}
            let (key, cached, files) = match prev_cache.next_if(|(k, _, _)| k == path) {
                Some((key, slot, mut files)) => {
                    // Missing files are looked up again with the limits (every 5 s).
                    if !(0..SPEC_TTL_MS).contains(&now_ms.saturating_sub(slot.spec_read_ms)) {
                        files.forget_missing();
                    }
                    (Some(key), Some(slot), files)
                }
                None => (None, None, OpenFiles::default()),
            };
            let (read, kept, left) =
                read_cgroup(&ctx, reader, shell, present, cached, files, budget, now_ms);
            budget = left;
            match read {
                Some((c, keep)) => {
                    let key = key.unwrap_or_else(|| c.id.clone());
                    cache.push((key, keep, kept));
                    containers.push(c);
                }
                None => {
                    // Gone: close what was kept of it.
                    budget += kept.len();
                    reader.stats.cgroups_vanished += 1;
                }
            }
        }
        drop(prev_stats);
        drop(prev_cache);
        st.spare_containers = old_containers;
        st.spare_cache = old_cache;
        st.cache = cache;
        let now_held: usize = st.cache.iter().map(|(_, _, f)| f.len()).sum();
        crate::limits::kept_changed(held, now_held);
        if let Some(oom) = &self.oom {
            for c in &mut containers {
                c.oom_events = Some(oom.oom_events(&c.id));
            }
        }
        let mut stats = reader.stats;
        stats.cgroups = containers.len() as u64;
        out.timestamp_ms = now_ms;
        out.containers = containers;
        out.stats = stats;
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
    fn list(&self, stats: &mut CollectStats, arena: &mut String, found: &mut Found) {
        arena.clear();
        found.clear();
        arena.push('/');
        found.push((0, 1, 0));
        let mut any_base = false;
        let mut rel = String::new();
        let mut root = String::new();
        let mut l = Listing {
            arena,
            found,
            stats,
        };
        for (bi, base) in self.stat_dirs.iter().enumerate().take(MAX_DIRS) {
            let bit = 1u8 << bi;
            match std::fs::metadata(base) {
                Ok(m) if m.is_dir() => {
                    any_base = true;
                    if let Some((_, _, mask)) = l.found.first_mut() {
                        *mask |= bit;
                    }
                }
                Ok(_) => continue,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(_) => {
                    l.stats.list_failed = true;
                    continue;
                }
            }
            let base_fd = open_listable(None, base.as_path());
            for r in &self.roots {
                normalize(r, &mut root);
                rel.clear();
                if root == "/" {
                    match &base_fd {
                        Ok(fd) => walk(fd, &mut rel, bit, &mut l),
                        Err(e) => count_unlistable(*e, l.stats),
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
                let kind = kind_of(&root);
                if kind == CgroupKind::Conmon {
                    continue;
                }
                l.push(&root, bit);
                if !is_leaf(kind) {
                    rel.push_str(&root);
                    match &dir {
                        Ok(fd) => walk(fd, &mut rel, bit, &mut l),
                        Err(e) => count_unlistable(*e, l.stats),
                    }
                }
            }
        }
        if !any_base {
            l.stats.list_failed = true;
        }
        // Sorted by path; a cgroup found in several hierarchies once, with all their bits.
        let Listing { arena, found, .. } = l;
        let text = arena.as_str();
        let path = |&(a, b, _): &(usize, usize, u8)| text.get(a..b).unwrap_or_default();
        found.sort_by(|a, b| path(a).cmp(path(b)));
        found.dedup_by(|later, kept| {
            let same = path(later) == path(kept);
            if same {
                kept.2 |= later.2;
            }
            same
        });
    }
}

/// Cgroups found by the listing: (start, end) of the path in the arena and the bases it
/// is in (one bit per base).
type Found = Vec<(usize, usize, u8)>;

/// Where [`walk`] puts what it finds.
struct Listing<'a> {
    arena: &'a mut String,
    found: &'a mut Found,
    stats: &'a mut CollectStats,
}

impl Listing<'_> {
    fn push(&mut self, path: &str, bit: u8) {
        let start = self.arena.len();
        self.arena.push_str(path);
        self.found.push((start, self.arena.len(), bit));
    }
}

/// `root` with one leading `/` and none trailing (`/` for the hierarchy root), into `out`.
fn normalize(root: &str, out: &mut String) {
    out.clear();
    let t = root.trim_end_matches('/');
    if !t.starts_with('/') {
        out.push('/');
    }
    out.push_str(t);
}

fn is_leaf(kind: CgroupKind) -> bool {
    matches!(
        kind,
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
/// `getdents64` into a stack buffer and `openat` relative to the parent; the paths go
/// into one reused arena, so a steady-state listing allocates nothing.
fn walk(dir: &OwnedFd, rel: &mut String, bit: u8, l: &mut Listing<'_>) {
    let mut buf = [MaybeUninit::<u8>::uninit(); 8192];
    let mut entries = RawDir::new(dir, &mut buf);
    while let Some(e) = entries.next() {
        let Ok(e) = e else {
            l.stats.files_unreadable += 1;
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
        let kind = kind_of(rel);
        if kind != CgroupKind::Conmon {
            l.push(rel, bit);
            if !is_leaf(kind) {
                match open_listable(Some(dir), name) {
                    Ok(child) => walk(&child, rel, bit, l),
                    Err(e) => count_unlistable(e, l.stats),
                }
            }
        }
        rel.truncate(len);
    }
}
