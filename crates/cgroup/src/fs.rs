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

/// Where a [`Reader`] reads a file from: a directory path, or an open directory
/// (`openat`, which spares the kernel the walk down a long cgroup path per file).
#[derive(Debug, Clone, Copy)]
pub enum At<'a> {
    /// A directory path.
    Dir(&'a Path),
    /// An open directory.
    Fd(BorrowedFd<'a>),
    /// An open cgroup directory, the `n`-th of its hierarchies: with a file cache
    /// ([`Reader::set_file_cache`]) the files read through it are kept open and read again
    /// with one `pread(2)` next time.
    Keyed(u8, BorrowedFd<'a>),
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

/// A reader for one collection: one reusable buffer and path, failures counted into
/// [`CollectStats`] instead of returned.
#[derive(Debug, Default)]
pub struct Reader {
    buf: Vec<u8>,
    path: PathBuf,
    /// Counters of what failed.
    pub stats: CollectStats,
    /// The kept-open files of the cgroup being read ([`At::Keyed`] reads).
    files: OpenFiles,
    /// How many more descriptors may be kept open.
    budget: usize,
}

/// Files of one cgroup kept open between collections: (hierarchy index, file name, fd),
/// and the files found missing (not looked up again until [`OpenFiles::forget_missing`]).
#[derive(Debug, Default)]
pub struct OpenFiles(Vec<(u8, Box<str>, OwnedFd)>, Vec<(u8, Box<str>)>);

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

    /// Hands the reader the kept-open files of the next cgroup and how many more it may
    /// keep; [`Reader::take_file_cache`] gives them back.
    pub fn set_file_cache(&mut self, files: OpenFiles, budget: usize) {
        self.files = files;
        self.budget = budget;
    }

    /// The kept-open files of the cgroup just read, and the budget left.
    pub fn take_file_cache(&mut self) -> (OpenFiles, usize) {
        (std::mem::take(&mut self.files), self.budget)
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

    fn read_raw(&mut self, at: At<'_>, name: &str) -> Got {
        self.buf.clear();
        if let At::Keyed(n, _) = at
            && let Some(i) = self
                .files
                .0
                .iter()
                .position(|(k, f, _)| *k == n && &**f == name)
        {
            match self.pread_all(i) {
                Some(got) => return got,
                None => {
                    self.files.0.swap_remove(i);
                    self.budget += 1;
                    self.buf.clear();
                }
            }
        }
        if let At::Keyed(n, _) = at
            && self.files.1.iter().any(|(k, f)| *k == n && &**f == name)
        {
            return Got::NotFound;
        }
        let fd = match at {
            At::Dir(dir) => {
                self.set_path(dir, "", name);
                rfs::open(&self.path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
            }
            At::Fd(dir) | At::Keyed(_, dir) => {
                rfs::openat(dir, name, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
            }
        };
        let fd = match fd {
            Ok(fd) => fd,
            Err(Errno::NOENT) => {
                if let At::Keyed(n, _) = at
                    && self.budget > 0
                {
                    self.files.1.push((n, name.into()));
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
        if let At::Keyed(n, _) = at
            && self.budget > 0
        {
            self.budget -= 1;
            self.files.0.push((n, name.into(), fd));
        }
        got
    }

    /// Reads `name` in `at`. `None` when it does not exist (normal: not every cgroup has
    /// every file) or cannot be read (counted in [`CollectStats::files_unreadable`]) or is
    /// not UTF-8 (counted in [`CollectStats::parse_errors`]).
    pub fn read<'a>(&mut self, at: impl Into<At<'a>>, name: &str) -> Option<&str> {
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
        name: &str,
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
        name: &str,
        mut each: impl FnMut(&str, u64),
    ) -> bool {
        let mut bad = 0;
        let Some(s) = self.read(at, name) else {
            return false;
        };
        for kv in crate::parse::flat_keyed(s) {
            match kv {
                Ok((k, v)) => each(k, v),
                Err(_) => bad += 1,
            }
        }
        self.stats.parse_errors += bad;
        true
    }

    /// Opens the directory `base/rel` for [`At::Fd`] reads. `None` when it does not exist
    /// (or cannot be opened: counted).
    pub fn open_dir(&mut self, base: &Path, rel: &str) -> Option<OwnedFd> {
        self.set_path(base, rel, "");
        match rfs::open(
            &self.path,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        ) {
            Ok(fd) => Some(fd),
            Err(Errno::NOENT | Errno::NOTDIR) => None,
            Err(_) => {
                self.stats.files_unreadable += 1;
                None
            }
        }
    }

    /// The modification time in Unix seconds of `name` in the open directory `dir`, or of
    /// `dir` itself when `name` is empty.
    pub fn mtime(&mut self, dir: &OwnedFd, name: &str) -> Option<i64> {
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
