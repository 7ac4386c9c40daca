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
