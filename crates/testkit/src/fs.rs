//! Fixture trees on disk: copy a checked-in tree into a temporary directory and stamp file
//! times, as the cgroup fixtures need (the collector reads creation times from mtimes).

use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

/// Copies the directory tree `from` into `to` (created if missing), regular files and
/// directories only. Panics on any I/O error: test set-up.
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dst = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), &dst).unwrap();
        }
    }
}

/// Sets the modification time of `path` (a file or directory) to `unix` seconds. Panics on
/// any I/O error: test set-up.
pub fn set_mtime(path: &Path, unix: i64) {
    let t = UNIX_EPOCH + Duration::from_secs(unix as u64);
    std::fs::File::open(path).unwrap().set_modified(t).unwrap();
}
