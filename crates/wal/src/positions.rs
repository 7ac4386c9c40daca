//! Readers' saved positions: one small file per reader, replaced atomically.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::Position;

/// The folder of saved positions in a log's directory.
const DIR: &str = "positions";

fn file(wal_dir: &Path, key: &str) -> PathBuf {
    let safe: String = key
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    wal_dir.join(DIR).join(format!("{safe}.pos"))
}

/// Saves `pos` as reader `key`'s position in the log at `wal_dir`: written to a temporary
/// file and renamed over the old one, so a crash leaves the old or the new position, never a
/// torn one. Not synced: after a power loss an older position means samples sent twice.
pub fn save_position(wal_dir: &Path, key: &str, pos: Position) -> std::io::Result<()> {
    let path = file(wal_dir, key);
    if let Some(d) = path.parent() {
        fs::create_dir_all(d)?;
    }
    let tmp = path.with_extension("tmp");
    let mut f = fs::File::create(&tmp)?;
    writeln!(f, "{} {}", pos.segment, pos.offset)?;
    drop(f);
    fs::rename(&tmp, &path)
}

/// Reader `key`'s saved position, `None` when there is none or it is unreadable.
pub fn load_position(wal_dir: &Path, key: &str) -> Option<Position> {
    let text = fs::read_to_string(file(wal_dir, key)).ok()?;
    let mut it = text.split_whitespace();
    let segment = it.next()?.parse().ok()?;
    let offset = it.next()?.parse().ok()?;
    Some(Position { segment, offset })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saves_and_loads_and_ignores_garbage() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(load_position(d.path(), "q/1"), None);
        let p = Position {
            segment: 3,
            offset: 77,
        };
        save_position(d.path(), "q/1", p).unwrap();
        assert_eq!(load_position(d.path(), "q/1"), Some(p));
        fs::write(file(d.path(), "q/1"), "x y").unwrap();
        assert_eq!(load_position(d.path(), "q/1"), None);
    }
}
