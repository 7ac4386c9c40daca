//! mini-prometheus' embedded default config: what it runs without `--config.file`.

use scrapeline::{Config, ConfigError};

/// The embedded default: monitor this machine. `{listen}` is the server's own address.
pub const DEFAULT_CONFIG: &str = r#"# mini-prometheus' embedded default: monitor the machine it runs on.
global:
  scrape_interval: 15s
  scrape_timeout: 10s

scrape_configs:
  # Itself: scrape, discovery, store and remote-write metrics.
  - job_name: mini-prometheus
    static_configs:
      - targets: ["{listen}"]

  # The bundled cgroup collector (cAdvisor-compatible container metrics), served by this process.
  - job_name: cadvisor
    metrics_path: /metrics/cadvisor
    static_configs:
      - targets: ["{listen}"]
{node_job}"#;

/// The node-exporter job added to the default config when one answers on localhost:9100.
pub const DEFAULT_NODE_JOB: &str = r#"
  # A node exporter on this machine.
  - job_name: node
    static_configs:
      - targets: ["localhost:9100"]
"#;

/// The embedded default config, scraping the server at `listen` and, when `with_node` is
/// set, a node exporter on localhost:9100.
pub fn embedded_default(listen: &str, with_node: bool) -> Result<Config, ConfigError> {
    Config::load_str(
        &embedded_default_text(listen, with_node),
        "<embedded default>",
    )
}

/// The text of [`embedded_default`] (what `/api/v1/status/config` shows).
pub fn embedded_default_text(listen: &str, with_node: bool) -> String {
    DEFAULT_CONFIG
        .replace("{listen}", listen)
        .replace("{node_job}", if with_node { DEFAULT_NODE_JOB } else { "" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_default_loads() {
        let cfg = embedded_default("127.0.0.1:9090", true).unwrap();
        let jobs: Vec<&str> = cfg
            .scrape_configs
            .iter()
            .map(|s| s.job_name.as_str())
            .collect();
        assert_eq!(jobs, vec!["mini-prometheus", "cadvisor", "node"]);
        let cfg = embedded_default("127.0.0.1:9090", false).unwrap();
        assert_eq!(cfg.scrape_configs.len(), 2);
    }
}
