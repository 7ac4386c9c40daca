//! mini-prometheus: the whole Scrapeline pipeline as one binary.
//!
//! Run with no arguments to monitor this machine with the embedded default config, or with
//! `--config FILE` (also `--config.file`) to run a Prometheus-compatible `prometheus.yml`.
//! Subcommands expose each stage on its own: `parse`, `relabel`, `sd`, `cgroup`, `check config`.

mod api;
mod cli;
mod default_config;
mod kube_metadata;
mod logging;
#[cfg(test)]
mod remote_write_tests;
mod resource;
mod run;
mod self_metrics;
mod startup;
mod store;

use std::process::ExitCode;

use clap::Parser as _;

/// mimalloc instead of the C library's malloc: a scraper allocates and frees millions of small
/// objects per minute from many threads, where glibc's per-thread arenas fragment (a resident
/// size far above the live heap) and its `malloc_consolidate` showed up in profiles. Built
/// without transparent huge pages (`no_thp`), which cost resident memory and no measurable
/// CPU. The `system-allocator` feature keeps the C library's malloc, for heap profilers that
/// intercept it (heaptrack, valgrind).
#[cfg(not(feature = "system-allocator"))]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // As every Go program (the kubelet's cAdvisor included) does at start: the cgroup
    // collector keeps its files open when the descriptor limit leaves room for them.
    let _ = scrapeline_cgroup::raise_fd_limit();
    let args = cli::Cli::parse();
    match cli::dispatch(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("mini-prometheus: {e}");
            ExitCode::from(1)
        }
    }
}
