//! `mini-prometheus cgroup`: one collection of the cgroup collector, in the text format.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use scrapeline_cgroup::{Collector, CollectorConfig};

use super::CliError;

/// Arguments of `cgroup`.
#[derive(Debug, clap::Args)]
pub struct CgroupArgs {
    /// The host's root filesystem: cgroups are read under DIR/sys/fs/cgroup and processes
    /// under DIR/proc (e.g. `/host` in a container, or a fixture tree).
    #[arg(long, value_name = "DIR", default_value = "/")]
    root: PathBuf,
    /// The cgroup mount root, when not DIR/sys/fs/cgroup.
    #[arg(long, value_name = "DIR")]
    cgroup_root: Option<PathBuf>,
    /// The proc mount, when not DIR/proc.
    #[arg(long, value_name = "DIR")]
    proc_root: Option<PathBuf>,
    /// Also report these cgroup subtrees recursively (besides `/` and the kubepods roots).
    #[arg(long = "cgroup", value_name = "PATH")]
    extra_roots: Vec<String>,
}

impl CgroupArgs {
    /// The collector configuration these arguments describe.
    pub fn collector_config(&self) -> CollectorConfig {
        let mut config = CollectorConfig::with_rootfs(&self.root);
        config.cgroup_root = self.cgroup_root.clone();
        config.proc_root = self.proc_root.clone();
        config.roots.extend(self.extra_roots.iter().cloned());
        config
    }
}

/// Collects once and prints the exposition the server serves on `/metrics/cadvisor`.
pub fn run(args: &CgroupArgs) -> Result<ExitCode, CliError> {
    let collector = Collector::new(args.collector_config())?;
    let collection = collector.collect(now_ms());
    let mut out = String::new();
    collection.encode_text(&mut out);
    std::io::stdout().lock().write_all(out.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
