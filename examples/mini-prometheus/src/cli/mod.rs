//! Command-line interface: flags follow Prometheus' names where they overlap.

mod cgroup;
mod check;
mod parse;
mod relabel;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Any error a command reports to the user before exiting 1.
pub type CliError = Box<dyn std::error::Error + Send + Sync>;

/// mini-prometheus: discover, scrape, store and serve, like a small Prometheus.
#[derive(Debug, Parser)]
#[command(
    name = "mini-prometheus",
    version,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    /// Prometheus-compatible configuration file; without it the embedded default config runs.
    #[arg(long = "config.file", visible_alias = "config", value_name = "FILE")]
    pub config_file: Option<PathBuf>,
    /// Address the HTTP API listens on.
    #[arg(long = "web.listen-address", default_value = "127.0.0.1:9090")]
    pub listen_address: String,
    /// Log level: error, warn, info, debug, trace.
    #[arg(long = "log.level", default_value = "info")]
    pub log_level: String,
    /// A tool to run instead of the server.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The tools that expose one stage of the pipeline each.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Parse an exposition body and print its samples in a normalised form.
    Parse(parse::ParseArgs),
    /// Apply relabel rules to one label set and print the result as JSON.
    Relabel(relabel::RelabelArgs),
    /// Collect container metrics from cgroups once and print them in the text format.
    Cgroup(cgroup::CgroupArgs),
    /// Validate configuration without running it.
    #[command(subcommand)]
    Check(check::CheckArgs),
}

/// Runs what the command line asks for.
pub fn dispatch(cli: Cli) -> Result<ExitCode, CliError> {
    match cli.command {
        Some(Command::Parse(args)) => parse::run(&args),
        Some(Command::Relabel(args)) => relabel::run(&args),
        Some(Command::Cgroup(args)) => cgroup::run(&args),
        Some(Command::Check(args)) => check::run(&args),
        None => Err("the server is not wired yet".into()),
    }
}
