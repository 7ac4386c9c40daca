//! Finds the vendored test data (see `testdata/README.md` for where each file came from).
//!
//! Tests and benches include this one file with `#[path = ".../testdata/testdata.rs"] mod
//! testdata;` rather than depending on a crate for it, so the lowest crate (exposition) can use
//! it without a dependency cycle. Captured payloads are committed; the synthetic ones are made
//! on first use by `testdata/payloads/generate.py` (deterministic, Python 3 standard library
//! only, about 3 s) into a cache folder, so 38 MB of generated text never enters git.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository's `testdata/` folder.
pub fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .map(|p| p.join("testdata"))
        .find(|p| p.join("testdata.rs").is_file())
        .expect("testdata/ not found above CARGO_MANIFEST_DIR")
}

/// A file under `testdata/`, by its path relative to that folder.
pub fn file(relative: &str) -> PathBuf {
    dir().join(relative)
}

/// The payloads `generate.py` writes (the others are captured and committed).
pub const GENERATED: [&str; 4] = [
    "cadvisor.prom",
    "synthetic-large.prom",
    "synthetic-large.om",
    "utf8-names.prom",
];

/// Every payload of the corpus, captured and generated, in a stable order.
pub const PAYLOADS: [&str; 6] = [
    "node_exporter.prom",
    "prometheus.prom",
    "cadvisor.prom",
    "synthetic-large.prom",
    "synthetic-large.om",
    "utf8-names.prom",
];

/// The path of payload `name` (a file name from [`PAYLOADS`]), generating the synthetic ones
/// first if this is their first use.
pub fn payload(name: &str) -> PathBuf {
    if !GENERATED.contains(&name) {
        return file("payloads").join(name);
    }
    generated_dir().join(name)
}

/// The folder holding the generated payloads, made once per version of `generate.py`.
pub fn generated_dir() -> PathBuf {
    let script = file("payloads/generate.py");
    let source = std::fs::read(&script).unwrap_or_else(|e| panic!("{}: {e}", script.display()));
    // FNV-1a of the script: a changed generator gets a fresh folder, never a stale one.
    let stamp = source.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let base = option_env!("CARGO_TARGET_TMPDIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let out = base.join(format!("scrapeline-payloads-{stamp:016x}"));
    if GENERATED.iter().all(|f| out.join(f).is_file()) {
        return out;
    }
    // Generate beside the final folder, then rename: concurrent test processes either win the
    // rename or find the finished folder, never a half-written file.
    let tmp = base.join(format!(
        "scrapeline-payloads-{stamp:016x}.{}.{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::create_dir_all(&tmp).unwrap_or_else(|e| panic!("{}: {e}", tmp.display()));
    let status = Command::new("python3")
        .arg(&script)
        .arg("--out")
        .arg(&tmp)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap_or_else(|e| panic!("running python3 {}: {e}", script.display()));
    assert!(status.success(), "{} failed: {status}", script.display());
    if std::fs::rename(&tmp, &out).is_err() {
        // Another process finished first.
        let _ = std::fs::remove_dir_all(&tmp);
    }
    assert!(
        GENERATED.iter().all(|f| out.join(f).is_file()),
        "{} is incomplete",
        out.display()
    );
    out
}
