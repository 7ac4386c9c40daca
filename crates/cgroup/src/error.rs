//! Errors of the collector: every one names the file it is about.

use std::path::PathBuf;

/// A malformed line or value found by one of the pure parsers in [`crate::parse`].
///
/// It carries no path because the parsers work on bytes; the filesystem layer wraps it into
/// [`CgroupError::Parse`] together with the file it read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct FormatError {
    /// 1-based line of the input where the problem is (0 when the whole input is at fault).
    pub line: usize,
    /// What was wrong.
    pub message: String,
}

impl FormatError {
    /// A new error at `line` (1-based; 0 for the whole input).
    pub fn new(line: usize, message: impl Into<String>) -> Self {
        Self {
            line,
            message: message.into(),
        }
    }
}

/// Why the collector could not start, or why reading one file failed.
///
/// A collection itself never fails: per-file errors are skipped and counted in
/// [`crate::CollectStats`]. These errors come out of [`crate::Collector::new`] (no cgroup
/// hierarchy found, no readable `mountinfo`) and out of the lower-level [`crate::fs`] readers.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    /// A file or directory could not be read.
    #[error("reading {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A file was read but its content is not in the expected format.
    #[error("parsing {path}: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What was wrong, and where.
        #[source]
        source: FormatError,
    },
    /// `mountinfo` lists no cgroup v1 hierarchy and no cgroup2 mount.
    #[error("no cgroup mounts found in {path}")]
    NoCgroupMounts {
        /// The `mountinfo` file that was read.
        path: PathBuf,
    },
}

impl CgroupError {
    /// Whether this is a "file or directory does not exist" error (a cgroup that vanished,
    /// or a controller file this kernel or this cgroup does not have).
    pub fn is_not_found(&self) -> bool {
        matches!(self, CgroupError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
    }
}
