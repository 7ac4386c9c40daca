//! The filesystem layer: where the host's `/proc`, `/sys` and cgroup trees are, and a file
//! reader that reuses one buffer and turns per-file failures into counters.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::buffer::spare_capacity;
use rustix::fs::{self as rfs, AtFlags, Mode, OFlags};
use rustix::io::Errno;

use crate::error::{CgroupError, FormatError};
use crate::layout::CGROUP_MOUNT_BASE;
use crate::stats::CollectStats;

/// Where to find the host's files. All default to paths under [`HostPaths::rootfs`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPaths {
    /// The host's root filesystem as seen by the collector (`/`, or `/rootfs` in a
    /// container, or a fixture directory in tests).
    pub rootfs: PathBuf,
    /// Where the host's `/sys/fs/cgroup` is (`/host/sys/fs/cgroup`). Mount points under
    /// `/sys/fs/cgroup` in `mountinfo` are resolved below it.
    pub cgroup_root: PathBuf,
    /// Where the host's `/proc` is (`/host/proc`).
    pub proc_root: PathBuf,
    /// Where the host's `/sys` is (block devices, DMI, CPU topology).
    pub sys_root: PathBuf,
}

impl HostPaths {
    /// Paths for a host whose root filesystem is at `rootfs`, with optional overrides.
    pub fn new(
        rootfs: &Path,
        cgroup_root: Option<&Path>,
        proc_root: Option<&Path>,
        sys_root: Option<&Path>,
    ) -> Self {
        Self {
            rootfs: rootfs.to_path_buf(),
            cgroup_root: cgroup_root
                .map(Path::to_path_buf)
                .unwrap_or_else(|| rootfs.join("sys/fs/cgroup")),
            proc_root: proc_root
                .map(Path::to_path_buf)
                .unwrap_or_else(|| rootfs.join("proc")),
            sys_root: sys_root
                .map(Path::to_path_buf)
                .unwrap_or_else(|| rootfs.join("sys")),
        }
    }

    /// Maps a mount point as `mountinfo` lists it to the directory to read: under
    /// [`Self::cgroup_root`] for `/sys/fs/cgroup/...`, under [`Self::rootfs`] otherwise.
    pub fn resolve_mount_point(&self, mount_point: &str) -> PathBuf {
        if let Some(rest) = mount_point.strip_prefix(CGROUP_MOUNT_BASE)
            && (rest.is_empty() || rest.starts_with('/'))
        {
            return join_rel(&self.cgroup_root, rest);
        }
        join_rel(&self.rootfs, mount_point)
    }
}

/// Joins `rel` (which may start with `/`, like a cgroup path) below `base`.
pub fn join_rel(base: &Path, rel: &str) -> PathBuf {
    let rel = rel.trim_start_matches('/');
    if rel.is_empty() {
        base.to_path_buf()
    } else {
        base.join(rel)
    }
}

/// Reads a whole file into a `String`, with the path in the error.
pub fn read_file(path: &Path) -> Result<String, CgroupError> {
    std::fs::read_to_string(path).map_err(|source| CgroupError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Parses `path`'s content with `parse`, putting the path into the error.
pub fn read_parsed<T>(
    path: &Path,
    parse: impl FnOnce(&str) -> Result<T, FormatError>,
) -> Result<T, CgroupError> {
    let s = read_file(path)?;
    parse(&s).map_err(|source| CgroupError::Parse {
        path: path.to_path_buf(),
        source,
    })
}

/// The most hierarchy directories one cgroup can have (one per v1 controller read:
/// `cpu`, `cpuacct`, `memory`, `blkio`, `pids`).
pub const MAX_DIRS: usize = 5;

/// Where a [`Reader`] reads a file from: a directory path, or an open directory
/// (`openat`, which spares the kernel the walk down a long cgroup path per file).
#[derive(Debug, Clone, Copy)]
pub enum At<'a> {
    /// A directory path.
    Dir(&'a Path),
    /// An open directory.
    Fd(BorrowedFd<'a>),
    /// The `n`-th hierarchy directory of the cgroup being read
    /// ([`Reader::begin_cgroup`]): opened when first needed, and with a file cache the
    /// files read through it are kept open and read again with one `pread(2)` next time.
    Cgroup(u8),
    /// `<proc root>/<pid>/`: files of one process (`net/dev`, `comm`), without building the
    /// path in a new allocation.
    Pid(&'a Path, u32),
    /// Like [`At::Cgroup`], but the file is never kept open: for files whose content an
    /// open descriptor does not see change (cgroup v1 `cgroup.procs` serves the pid list
    /// loaded by the descriptor's first read for as long as it is read again within 1 s).
    CgroupFresh(u8),
}

impl At<'_> {
    /// The same directory, for a file that must not be kept open ([`At::CgroupFresh`]).
    pub fn fresh(self) -> Self {
        match self {
            At::Cgroup(n) => At::CgroupFresh(n),
            other => other,
        }
    }
}

impl<'a> From<&'a Path> for At<'a> {
    fn from(p: &'a Path) -> Self {
        At::Dir(p)
    }
}

impl<'a> From<&'a PathBuf> for At<'a> {
    fn from(p: &'a PathBuf) -> Self {
        At::Dir(p.as_path())
    }
}

impl<'a> From<&'a OwnedFd> for At<'a> {
    fn from(fd: &'a OwnedFd) -> Self {
        At::Fd(fd.as_fd())
    }
}

/// One hierarchy directory of the cgroup being read.
#[derive(Debug, Default)]
enum CgDir {
    /// Not listed in this hierarchy (or removed since).
    #[default]
    Absent,
    /// Listed; not opened yet.
    Listed,
    /// Open (`O_PATH`).
    Open(OwnedFd),
}

/// A reader for one collection: one reusable buffer and path, failures counted into
/// [`CollectStats`] instead of returned.
#[derive(Debug, Default)]
pub struct Reader {
    buf: Vec<u8>,
    path: PathBuf,
    /// Counters of what failed.
    pub stats: CollectStats,
    /// The kept-open files of the cgroup being read ([`At::Cgroup`] reads).
    files: OpenFiles,
    /// Where the next kept file is expected in `files` (a cgroup's files are read in the
    /// same order every time).
    cursor: usize,
    /// How many more descriptors may be kept open.
    budget: usize,
    /// The hierarchy directories cgroups are read from ([`Reader::set_bases`]).
    bases: Vec<PathBuf>,
    /// The cgroup being read (its path below each base) and its directories.
    cg_rel: String,
    cg_dirs: [CgDir; MAX_DIRS],
    /// Scratch for the block-device lines of one cgroup.
    pub(crate) io_lines: Vec<crate::parse::IoStatLine>,
    /// Scratch for the metadata of one cgroup ([`PodLookup::lookup_into`](crate::PodLookup::lookup_into)).
    pub(crate) meta: crate::meta::ContainerMeta,
    /// Scratch for the v1 blkio tables of one cgroup (probe, serviced, bytes).
    pub(crate) blkio_tables: [crate::parse::BlkioTable; 3],
    /// Vectors of earlier entries, whose strings the next ones reuse.
    disk_io_pool: Vec<crate::stats::DiskIo>,
    net_pool: Vec<crate::parse::InterfaceStats>,
}

/// Files of one cgroup kept open between collections: (hierarchy index, file name, fd),
/// and the files found missing (not looked up again until [`OpenFiles::forget_missing`]).
#[derive(Debug, Default)]
pub struct OpenFiles(Vec<(u8, &'static str, OwnedFd)>, Vec<(u8, &'static str)>);

impl OpenFiles {
    /// Forgets which files were missing, so that they are looked up again.
    pub fn forget_missing(&mut self) {
        self.1.clear();
    }

    /// How many descriptors are held.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether none is held.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The outcome of one low-level read.
enum Got {
    Ok,
    NotFound,
    Failed,
}

impl Reader {
    /// A new reader with empty counters.
    pub fn new() -> Self {
        Self::default()
    }

    fn set_path(&mut self, dir: &Path, rel: &str, name: &str) {
        self.path.as_mut_os_string().clear();
        self.path.push(dir);
        let rel = rel.trim_start_matches('/');
        if !rel.is_empty() {
            self.path.push(rel);
        }
        if !name.is_empty() {
            self.path.push(name);
        }
    }

    /// Takes an entry's block devices as the pool [`Reader::take_disk_io_pool`] rebuilds
    /// from (keeping the larger of it and the current pool), leaving `v` empty.
    pub(crate) fn pool_disk_io(&mut self, v: &mut Vec<crate::stats::DiskIo>) {
        let old = std::mem::take(v);
        if old.capacity() >= self.disk_io_pool.capacity() {
            self.disk_io_pool = old;
        }
    }

    /// The pooled block-device vector, to rebuild an entry's devices in.
    pub(crate) fn take_disk_io_pool(&mut self) -> Vec<crate::stats::DiskIo> {
        std::mem::take(&mut self.disk_io_pool)
    }

    /// Takes an entry's interfaces to rebuild them in place (or the pooled vector when
    /// the entry had none), leaving `v` empty.
    pub(crate) fn take_pool(
        &mut self,
        v: &mut Vec<crate::parse::InterfaceStats>,
    ) -> Vec<crate::parse::InterfaceStats> {
        let old = std::mem::take(v);
        if old.capacity() == 0 {
            std::mem::take(&mut self.net_pool)
        } else {
            old
        }
    }

    /// Gives back an interface vector that was not used, for a later entry.
    pub(crate) fn put_pool(&mut self, v: Vec<crate::parse::InterfaceStats>) {
        if v.capacity() >= self.net_pool.capacity() {
            self.net_pool = v;
        }
    }

    /// Sets the hierarchy directories ([`At::Cgroup`] `n` is below `bases[n]`).
    pub fn set_bases(&mut self, bases: &[PathBuf]) {
        let bases = bases.get(..MAX_DIRS.min(bases.len())).unwrap_or_default();
        if self.bases != bases {
            self.bases.clear();
            self.bases.extend(bases.iter().cloned());
        }
    }

    /// Starts reading the cgroup `rel` (its path below each base), listed in the bases
    /// whose bit is set in `present`, with the files kept open for it before and how many
    /// more it may keep. Without kept files its directories are opened now, as each of its
    /// files will be opened through them; with kept files only when a file must be opened.
    /// Returns false when none of its directories could be opened (it vanished).
    pub fn begin_cgroup(
        &mut self,
        rel: &str,
        present: u8,
        files: OpenFiles,
        budget: usize,
    ) -> bool {
        self.cg_rel.clear();
        self.cg_rel.push_str(rel);
        self.files = files;
        self.cursor = 0;
        self.budget = budget;
        let eager = self.files.is_empty();
        let mut any = false;
        for i in 0..MAX_DIRS {
            let listed = i < self.bases.len() && present & (1 << i) != 0;
            let state = if !listed {
                CgDir::Absent
            } else if eager {
                match self.open_base_dir(i) {
                    Some(fd) => CgDir::Open(fd),
                    None => CgDir::Absent,
                }
            } else {
                CgDir::Listed
            };
            any |= !matches!(state, CgDir::Absent);
            if let Some(d) = self.cg_dirs.get_mut(i) {
                *d = state;
            }
        }
        any
    }

    /// Ends the cgroup begun by [`Reader::begin_cgroup`]: closes its directories and
    /// returns its kept-open files and the budget left.
    pub fn end_cgroup(&mut self) -> (OpenFiles, usize) {
        self.cg_dirs = Default::default();
        (std::mem::take(&mut self.files), self.budget)
    }

    /// Whether the cgroup being read has a directory in base `i` (as far as known: a
    /// directory not opened yet counts as there).
    pub fn has_dir(&self, i: u8) -> bool {
        !matches!(self.cg_dirs.get(usize::from(i)), None | Some(CgDir::Absent))
    }

    fn open_base_dir(&mut self, i: usize) -> Option<OwnedFd> {
        let base = self.bases.get(i)?;
        self.path.as_mut_os_string().clear();
        self.path.push(base);
        let rel = self.cg_rel.trim_start_matches('/');
        if !rel.is_empty() {
            self.path.push(rel);
        }
        open_dir_at_path(&self.path, &mut self.stats)
    }

    /// The open directory of base `i` of the cgroup being read, opened now if needed.
    fn cg_dir(&mut self, i: u8) -> Option<BorrowedFd<'_>> {
        let i = usize::from(i);
        if matches!(self.cg_dirs.get(i), Some(CgDir::Listed)) {
            let state = match self.open_base_dir(i) {
                Some(fd) => CgDir::Open(fd),
                None => CgDir::Absent,
            };
            if let Some(d) = self.cg_dirs.get_mut(i) {
                *d = state;
            }
        }
        match self.cg_dirs.get(i) {
            Some(CgDir::Open(fd)) => Some(fd.as_fd()),
            _ => None,
        }
    }

    /// Reads a kept-open file from offset 0 (cgroupfs and procfs regenerate the content).
    fn pread_all(&mut self, i: usize) -> Option<Got> {
        let fd = &self.files.0.get(i)?.2;
        let mut off = 0u64;
        loop {
            if self.buf.capacity() - self.buf.len() < 4096 {
                self.buf.reserve(16384);
            }
            let asked = self.buf.capacity() - self.buf.len();
            match rustix::io::pread(fd, spare_capacity(&mut self.buf), off) {
                Ok(0) => return Some(Got::Ok),
                Ok(n) if n < asked => return Some(Got::Ok),
                Ok(n) => off += n as u64,
                Err(Errno::INTR) => {}
                // The cgroup was removed (cgroupfs answers ENODEV): forget the descriptor
                // and open the file again, which tells whether it is really gone.
                Err(_) => return None,
            }
        }
    }

    /// The index of the kept file `(n, name)`, looked for first where the cursor is.
    fn find_kept(&self, n: u8, name: &str) -> Option<usize> {
        let hit = |(k, f, _): &(u8, &'static str, OwnedFd)| *k == n && *f == name;
        if self.files.0.get(self.cursor).is_some_and(hit) {
            return Some(self.cursor);
        }
        self.files.0.iter().position(hit)
    }

    fn read_raw(&mut self, at: At<'_>, name: &'static str) -> Got {
        self.buf.clear();
        if let At::Cgroup(n) = at {
            if let Some(i) = self.find_kept(n, name) {
                self.cursor = i + 1;
                match self.pread_all(i) {
                    Some(got) => return got,
                    None => {
                        self.files.0.remove(i);
                        self.cursor = i;
                        self.budget += 1;
                        self.buf.clear();
                    }
                }
            }
            if self.files.1.iter().any(|(k, f)| *k == n && *f == name) {
                return Got::NotFound;
            }
        }
        let fd = match at {
            At::Dir(dir) => {
                self.set_path(dir, "", name);
                rfs::open(&self.path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
            }
            At::Pid(proc_root, pid) => {
                let mut digits = [0u8; 10];
                self.set_path(proc_root, decimal(pid, &mut digits), name);
                rfs::open(&self.path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
            }
            At::Fd(dir) => rfs::openat(dir, name, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()),
            // A file never kept, in a directory not opened yet: one open(2) by its path
            // instead of opening the directory first.
            At::CgroupFresh(n)
                if matches!(self.cg_dirs.get(usize::from(n)), Some(CgDir::Listed)) =>
            {
                match self.bases.get(usize::from(n)) {
                    Some(base) => {
                        self.path.as_mut_os_string().clear();
                        self.path.push(base);
                        let rel = self.cg_rel.trim_start_matches('/');
                        if !rel.is_empty() {
                            self.path.push(rel);
                        }
                        self.path.push(name);
                        rfs::open(&self.path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
                    }
                    None => return Got::NotFound,
                }
            }
            At::Cgroup(n) | At::CgroupFresh(n) => match self.cg_dir(n) {
                Some(dir) => {
                    rfs::openat(dir, name, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
                }
                None => return Got::NotFound,
            },
        };
        let fd = match fd {
            Ok(fd) => fd,
            Err(Errno::NOENT) => {
                if let At::Cgroup(n) = at
                    && self.budget > 0
                {
                    self.files.1.push((n, name));
                }
                return Got::NotFound;
            }
            Err(_) => return Got::Failed,
        };
        let got = loop {
            if self.buf.capacity() - self.buf.len() < 4096 {
                self.buf.reserve(16384);
            }
            let asked = self.buf.capacity() - self.buf.len();
            match rustix::io::read(&fd, spare_capacity(&mut self.buf)) {
                Ok(0) => break Got::Ok,
                // A short read is the end of the file on the filesystems read here (cgroupfs
                // and procfs seq_files fill the buffer until EOF; sysfs attributes and
                // regular files likewise): this spares one read(2) per file.
                Ok(n) if n < asked => break Got::Ok,
                Ok(_) => {}
                Err(Errno::INTR) => {}
                Err(Errno::NOENT | Errno::NODEV) => return Got::NotFound,
                Err(_) => return Got::Failed,
            }
        };
        if let At::Cgroup(n) = at
            && self.budget > 0
        {
            self.budget -= 1;
            // Keep the order of reads, so that the cursor finds it next time.
            let at = self.cursor.min(self.files.0.len());
            self.files.0.insert(at, (n, name, fd));
            self.cursor = at + 1;
        }
        got
    }

    /// Reads `name` in `at`. `None` when it does not exist (normal: not every cgroup has
    /// every file) or cannot be read (counted in [`CollectStats::files_unreadable`]) or is
    /// not UTF-8 (counted in [`CollectStats::parse_errors`]).
    pub fn read<'a>(&mut self, at: impl Into<At<'a>>, name: &'static str) -> Option<&str> {
        match self.read_raw(at.into(), name) {
            Got::Ok => {}
            Got::NotFound => return None,
            Got::Failed => {
                self.stats.files_unreadable += 1;
                return None;
            }
        }
        match std::str::from_utf8(&self.buf) {
            Ok(s) => Some(s),
            Err(_) => {
                self.stats.parse_errors += 1;
                None
            }
        }
    }

    /// Reads and parses `name` in `at`; parse failures are counted in
    /// [`CollectStats::parse_errors`].
    pub fn parsed<'a, T>(
        &mut self,
        at: impl Into<At<'a>>,
        name: &'static str,
        parse: impl FnOnce(&str) -> Result<T, FormatError>,
    ) -> Option<T> {
        let s = self.read(at, name)?;
        match parse(s) {
            Ok(v) => Some(v),
            Err(_) => {
                self.stats.parse_errors += 1;
                None
            }
        }
    }

    /// Reads a flat-keyed file (`memory.stat`, `cpu.stat`) and calls `each` per valid
    /// `key value` line. Malformed lines are counted and skipped. Returns false when the
    /// file could not be read.
    pub fn flat_keyed<'a>(
        &mut self,
        at: impl Into<At<'a>>,
        name: &'static str,
        mut each: impl FnMut(&str, u64),
    ) -> bool {
        let Some(s) = self.read(at, name) else {
            return false;
        };
        let bad = crate::parse::flat_keyed_each(s, &mut each);
        self.stats.parse_errors += bad;
        true
    }

    /// Opens the directory `base/rel` for [`At::Fd`] reads. `None` when it does not exist
    /// (or cannot be opened: counted).
    pub fn open_dir(&mut self, base: &Path, rel: &str) -> Option<OwnedFd> {
        self.set_path(base, rel, "");
        open_dir_at_path(&self.path, &mut self.stats)
    }

    /// The modification time in Unix seconds of `name` in the open directory `dir`, or of
    /// `dir` itself when `name` is empty.
    pub fn mtime(&mut self, dir: &OwnedFd, name: &str) -> Option<i64> {
        stat_mtime(dir.as_fd(), name, &mut self.stats)
    }

    /// [`Reader::mtime`] in the directory of base `i` of the cgroup being read.
    pub fn cg_mtime(&mut self, i: u8, name: &str) -> Option<i64> {
        let dir = self.cg_dir(i)?;
        let st = if name.is_empty() {
            rfs::fstat(dir)
        } else {
            rfs::statat(dir, name, AtFlags::empty())
        };
        match st {
            Ok(st) => Some(st.st_mtime),
            Err(Errno::NOENT) => None,
            Err(_) => {
                self.stats.files_unreadable += 1;
                None
            }
        }
    }
}

/// `n` in decimal, written into `buf`.
fn decimal(mut n: u32, buf: &mut [u8; 10]) -> &str {
    let mut i = buf.len();
    loop {
        i -= 1;
        if let Some(d) = buf.get_mut(i) {
            *d = b'0' + (n % 10) as u8;
        }
        n /= 10;
        if n == 0 || i == 0 {
            break;
        }
    }
    std::str::from_utf8(buf.get(i..).unwrap_or_default()).unwrap_or_default()
}

fn open_dir_at_path(path: &Path, stats: &mut CollectStats) -> Option<OwnedFd> {
    match rfs::open(
        path,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => Some(fd),
        Err(Errno::NOENT | Errno::NOTDIR) => None,
        Err(_) => {
            stats.files_unreadable += 1;
            None
        }
    }
}

fn stat_mtime(dir: BorrowedFd<'_>, name: &str, stats: &mut CollectStats) -> Option<i64> {
    let st = if name.is_empty() {
        rfs::fstat(dir)
    } else {
        rfs::statat(dir, name, AtFlags::empty())
    };
    match st {
        Ok(st) => Some(st.st_mtime),
        Err(Errno::NOENT) => None,
        Err(_) => {
            stats.files_unreadable += 1;
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_and_join() {
        let h = HostPaths::new(Path::new("/fx"), Some(Path::new("/host/cg")), None, None);
        assert_eq!(h.proc_root, PathBuf::from("/fx/proc"));
        assert_eq!(
            h.resolve_mount_point("/sys/fs/cgroup/cpu,cpuacct"),
            PathBuf::from("/host/cg/cpu,cpuacct")
        );
        assert_eq!(
            h.resolve_mount_point("/sys/fs/cgroup"),
            PathBuf::from("/host/cg")
        );
        assert_eq!(
            h.resolve_mount_point("/cgroup/x"),
            PathBuf::from("/fx/cgroup/x")
        );
        assert_eq!(join_rel(Path::new("/a"), "/"), PathBuf::from("/a"));
        let mut b = [0u8; 10];
        assert_eq!(decimal(0, &mut b), "0");
        assert_eq!(decimal(3401, &mut b), "3401");
        assert_eq!(decimal(u32::MAX, &mut b), "4294967295");
        assert_eq!(join_rel(Path::new("/a"), "/b/c"), PathBuf::from("/a/b/c"));
    }

    #[test]
    fn errors_carry_the_path() {
        let e = read_file(Path::new("/nonexistent/x")).unwrap_err();
        assert!(e.is_not_found());
        assert!(e.to_string().starts_with("reading /nonexistent/x: "));
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("memory.current");
        std::fs::write(&p, "abc\n").unwrap();
        let e = read_parsed(&p, crate::parse::parse_u64).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "parsing {}: line 1: expected an unsigned integer, got \"abc\"",
                p.display()
            )
        );
        let mut r = Reader::new();
        assert_eq!(
            r.parsed(dir.path(), "memory.current", crate::parse::parse_u64),
            None
        );
        assert_eq!(r.stats.parse_errors, 1);
        assert_eq!(r.read(dir.path(), "nope"), None);
        assert_eq!(r.stats.files_unreadable, 0);
    }
}
