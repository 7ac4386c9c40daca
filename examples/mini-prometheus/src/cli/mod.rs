//! Command-line interface: flags follow Prometheus' names where they overlap.

mod cgroup;
mod check;
mod parse;
mod relabel;
mod sd;
mod top;

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
    /// Expand `$VAR` and `${VAR}` in the config file from the environment before parsing
    /// (unset: empty; `$$` is a literal `$`; `$1`, `${1}` stay for relabel templates).
    #[arg(long = "config.expand-env")]
    pub expand_env: bool,
    /// Only log messages with the given severity or above: debug, info, warn, error.
    #[arg(long = "log.level", default_value = "info", value_parser = ["debug", "info", "warn", "error"])]
    pub log_level: String,
    /// Output format of log messages: logfmt or json.
    #[arg(long = "log.format", default_value = "logfmt", value_parser = ["logfmt", "json"])]
    pub log_format: String,
    /// The host root filesystem the cgroup collector reads (`/host` in a DaemonSet).
    #[arg(long = "cgroup.rootfs", default_value = "/", value_name = "DIR")]
    pub cgroup_rootfs: PathBuf,
    /// Agent mode, as Prometheus' `--agent`: keep nothing locally, only remote write.
    #[arg(long)]
    pub agent: bool,
    /// The node name `/stats/summary` and `metrics.k8s.io` report (default: the host name).
    #[arg(long = "kubernetes.node-name", value_name = "NAME")]
    pub node_name: Option<String>,
    /// Maximum time a query may take before being aborted (queueing included).
    #[arg(long = "query.timeout", default_value = "2m", value_parser = parse_flag_duration)]
    pub query_timeout: std::time::Duration,
    /// Maximum number of samples a single query can load into memory.
    #[arg(long = "query.max-samples", default_value_t = 50_000_000)]
    pub query_max_samples: usize,
    /// Maximum number of queries executed concurrently.
    #[arg(long = "query.max-concurrency", default_value_t = 20)]
    pub query_max_concurrency: usize,
    /// Maximum duration to wait for a request's headers, and to keep an idle connection
    /// open (Prometheus' flag; its default is 5m, this one keeps slots from idle clients
    /// sooner).
    #[arg(long = "web.read-timeout", default_value = "30s", value_parser = parse_flag_duration)]
    pub web_read_timeout: std::time::Duration,
    /// Maximum number of simultaneous connections across all listeners (0: no limit).
    #[arg(long = "web.max-connections", default_value_t = crate::api::DEFAULT_MAX_CONNECTIONS)]
    pub web_max_connections: usize,
    /// Enable shutdown and reload via HTTP request (`/-/quit`, `/-/reload`).
    #[arg(long = "web.enable-lifecycle")]
    pub web_enable_lifecycle: bool,
    /// The URL under which Prometheus is externally reachable (behind a reverse proxy);
    /// its path is the default route prefix.
    #[arg(long = "web.external-url", value_name = "URL")]
    pub web_external_url: Option<String>,
    /// Prefix for the internal routes of web endpoints (default: the external URL's path).
    #[arg(long = "web.route-prefix", value_name = "PATH")]
    pub web_route_prefix: Option<String>,
    /// Path to a configuration file that can enable TLS or authentication (exporter-toolkit
    /// format: `tls_server_config`, `basic_auth_users`).
    #[arg(long = "web.config.file", value_name = "FILE")]
    pub web_config_file: Option<PathBuf>,
    /// How often discovery publishes target changes to scraping: Prometheus' fixed 5 s
    /// throttle, made configurable (a shorter one shows changes sooner, at the cost of more
    /// scrape-pool syncs under churn).
    #[arg(long = "scrapeline.discovery.update-interval", default_value = "5s", value_parser = parse_flag_duration)]
    pub discovery_update_interval: std::time::Duration,
    /// Agent mode: the directory of the write-ahead log remote write sends from. Every
    /// scrape is written to it (one write(2) per scrape: a killed process loses nothing
    /// committed) and fsynced at each segment cut and every 10s (a power loss loses at
    /// most that last unsynced tail); each remote_write queue saves its position in it and
    /// resumes from there after a restart.
    #[arg(
        long = "storage.agent.path",
        default_value = "data-agent/",
        value_name = "DIR"
    )]
    pub agent_path: PathBuf,
    /// Agent mode: size at which a WAL segment file is cut (B, KB, MB, GB; base 2).
    #[arg(long = "storage.agent.wal-segment-size", default_value = "128MB", value_parser = parse_size)]
    pub agent_wal_segment_size: u64,
    /// Agent mode: WAL segments older than this are deleted even when not yet sent
    /// (counted in scrapeline_wal_samples_dropped_total); 0s: no limit.
    #[arg(long = "storage.agent.retention.max-time", default_value = "0s", value_parser = parse_limit_duration)]
    pub agent_retention_max_time: std::time::Duration,
    /// Agent mode (Scrapeline's own flag): the WAL's disk bound; beyond it the oldest
    /// segments are deleted even when not yet sent (counted in
    /// scrapeline_wal_samples_dropped_total); 0B: no bound.
    #[arg(long = "scrapeline.storage.agent.retention.size", default_value = "1GB", value_parser = parse_size)]
    pub agent_retention_size: u64,
    /// Server mode: keep a write-ahead log of the store's appends in this directory and
    /// replay it on start, so a restart keeps the data (same fsync policy as the agent's
    /// WAL). Without it the store is in memory only.
    #[arg(long = "storage.tsdb.path", value_name = "DIR")]
    pub tsdb_path: Option<PathBuf>,
    /// Server mode: how long the store keeps samples (overrides the config file's
    /// `storage.retention`); the WAL keeps the same window.
    #[arg(long = "storage.tsdb.retention.time", value_parser = parse_flag_duration)]
    pub tsdb_retention_time: Option<std::time::Duration>,
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
    /// Run discovery and print every target's labels before and after relabeling, as JSON.
    Sd(sd::SdArgs),
    /// Resource usage of nodes or pods, as `kubectl top` prints it.
    Top(top::TopArgs),
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
        Some(Command::Sd(args)) => sd::run(&args),
        Some(Command::Top(args)) => top::run(&args),
        None => run_server(cli),
    }
}

/// A duration flag: a Prometheus duration (`2m`, `1h30m`) or float seconds.
fn parse_flag_duration(s: &str) -> Result<std::time::Duration, String> {
    let ms = crate::api::query::parse_duration(s)?;
    u64::try_from(ms)
        .map(std::time::Duration::from_millis)
        .map_err(|_| format!("{s:?} is negative"))
}

/// A duration flag where zero means "no limit": `0`, `0s` or a duration.
fn parse_limit_duration(s: &str) -> Result<std::time::Duration, String> {
    if s.trim_end_matches(['s', 'm', 'h', 'd']) == "0" {
        return Ok(std::time::Duration::ZERO);
    }
    parse_flag_duration(s)
}

/// A size flag as Prometheus parses it (`units.ParseBase2Bytes`): a number and a unit of
/// B, KB, MB, GB, TB (or KiB, MiB, …), all base 2; a plain number is bytes.
fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("invalid size {s:?}: want a number and a unit (B, KB, MB, GB, TB)"))?;
    let shift = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 0,
        "KB" | "KIB" | "K" => 10,
        "MB" | "MIB" | "M" => 20,
        "GB" | "GIB" | "G" => 30,
        "TB" | "TIB" | "T" => 40,
        _ => return Err(format!("invalid size {s:?}: unknown unit {unit:?}")),
    };
    let v = n * (1u64 << shift) as f64;
    if !v.is_finite() || v < 0.0 || v > u64::MAX as f64 {
        return Err(format!("invalid size {s:?}: out of range"));
    }
    Ok(v as u64)
}

/// Runs the server (the main job) until SIGTERM or SIGINT.
fn run_server(cli: Cli) -> Result<ExitCode, CliError> {
    init_logging(&cli.log_level, &cli.log_format)?;
    let options = crate::run::ServerOptions {
        config_file: cli.config_file,
        expand_env: cli.expand_env,
        listen_address: cli.listen_address,
        cgroup_rootfs: cli.cgroup_rootfs,
        agent: cli.agent,
        node_name: cli.node_name,
        query_limits: crate::api::QueryLimits {
            timeout: cli.query_timeout,
            max_samples: cli.query_max_samples,
            max_concurrency: cli.query_max_concurrency,
        },
        max_connections: cli.web_max_connections,
        read_timeout: cli.web_read_timeout,
        flags: flag_values(),
        web: crate::api::webconfig::WebOptions {
            enable_lifecycle: cli.web_enable_lifecycle,
            external_url: cli.web_external_url,
            route_prefix: cli.web_route_prefix,
            config_file: cli.web_config_file,
        },
        discovery_update_interval: cli.discovery_update_interval,
        storage: crate::run::StorageOptions {
            agent_path: cli.agent_path,
            agent_segment_size: cli.agent_wal_segment_size,
            agent_max_time: cli.agent_retention_max_time,
            agent_max_size: cli.agent_retention_size,
            tsdb_path: cli.tsdb_path,
            tsdb_retention: cli.tsdb_retention_time,
        },
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("mini-prometheus")
        .build()?;
    runtime.block_on(crate::run::serve(options))?;
    Ok(ExitCode::SUCCESS)
}

/// Every flag with its value, for `/api/v1/status/flags` (the command line parsed again: the
/// parsed [`Cli`] no longer knows which flags exist).
fn flag_values() -> Vec<(String, String)> {
    use clap::CommandFactory as _;
    let cmd = Cli::command();
    match cmd.clone().try_get_matches_from(std::env::args_os()) {
        Ok(m) => crate::api::status::flag_map(&cmd, &m),
        Err(_) => Vec::new(),
    }
}

/// Prometheus 3's log lines on stderr at `level` (`--log.level`), logfmt or JSON
/// (`--log.format`); see [`crate::logging`].
fn init_logging(level: &str, format: &str) -> Result<(), CliError> {
    let level = crate::logging::parse_level(level)?;
    let format = crate::logging::LogFormat::parse(format)?;
    crate::logging::init(level, format)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::Parser;
    use std::time::Duration;

    #[test]
    fn discovery_update_interval_defaults_to_prometheus_5s_and_is_configurable() {
        let cli = Cli::try_parse_from(["mini-prometheus"]).unwrap();
        assert_eq!(cli.discovery_update_interval, Duration::from_secs(5));
        let cli = Cli::try_parse_from([
            "mini-prometheus",
            "--scrapeline.discovery.update-interval=250ms",
        ])
        .unwrap();
        assert_eq!(cli.discovery_update_interval, Duration::from_millis(250));
        let err = Cli::try_parse_from([
            "mini-prometheus",
            "--scrapeline.discovery.update-interval=soon",
        ])
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("--scrapeline.discovery.update-interval"),
            "{err}"
        );
    }
}

#[cfg(test)]
mod size_tests {
    use super::parse_size;

    #[test]
    fn sizes_parse_as_prometheus_base2_units() {
        assert_eq!(parse_size("128MB"), Ok(128 << 20));
        assert_eq!(parse_size("1GB"), Ok(1 << 30));
        assert_eq!(parse_size("512KiB"), Ok(512 << 10));
        assert_eq!(parse_size("0B"), Ok(0));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(
            parse_size("1XB"),
            Err("invalid size \"1XB\": unknown unit \"XB\"".to_owned())
        );
        assert!(parse_size("-1MB").is_err());
        assert!(parse_size("").is_err());
    }
}
