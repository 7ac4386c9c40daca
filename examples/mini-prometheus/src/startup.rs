//! What a newcomer reads in the log on a first run: the version and the config in use, the jobs
//! and how each discovers its targets, a calm note where no Kubernetes cluster is configured,
//! and, once every job has been discovered and scraped once, one line per job saying what it
//! found and whether anything answered, then where to look (`/targets`).
//!
//! Everything here only logs; nothing changes what the server does.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use scrapeline::Config;
use scrapeline_scrape::{ActiveTarget, Health, ScrapeConfig, ScrapeManager};
use tokio_util::sync::CancellationToken;

use crate::run::ServerOptions;

/// How often the first-sync report looks at the targets.
const POLL: Duration = Duration::from_millis(250);

/// The longest the first-sync report waits, whatever the scrape intervals.
const MAX_WAIT: Duration = Duration::from_secs(300);

/// Discovery providers that could not start, as (job, error).
pub type DiscoveryErrors = Box<dyn Fn() -> Vec<(String, String)> + Send + Sync>;

/// Logs the first-run lines for `config` now, and spawns the report that follows the first
/// discovery sync and scrapes (it stops early when `cancel` fires).
pub fn first_run(
    opts: &ServerOptions,
    config: &Config,
    targets: Arc<ScrapeManager>,
    discovery_errors: DiscoveryErrors,
    cancel: CancellationToken,
) {
    announce(opts, config);
    let jobs: Vec<(String, Duration)> = config
        .scrape_configs
        .iter()
        .map(|sc| (sc.job_name.clone(), sc.interval() + sc.timeout()))
        .collect();
    let url = targets_url(&opts.listen_address);
    tokio::spawn(async move {
        tokio::select! {
            _ = cancel.cancelled() => {}
            _ = report_first_sync(jobs, &targets, &discovery_errors, &url) => {}
        }
    });
}

/// The lines logged at start: version, config, jobs, Kubernetes and node-exporter notes.
fn announce(opts: &ServerOptions, config: &Config) {
    let source = match &opts.config_file {
        Some(path) if opts.expand_env => format!("{} (environment expanded)", path.display()),
        Some(path) => path.display().to_string(),
        None => "embedded default config".to_owned(),
    };
    tracing::info!(
        version = %env!("CARGO_PKG_VERSION"),
        config = %source,
        jobs = config.scrape_configs.len(),
        targets_page = %targets_url(&opts.listen_address),
        "mini-prometheus starting"
    );
    for sc in &config.scrape_configs {
        tracing::info!(
            job = %sc.job_name,
            discovery = %discovery_kinds(sc),
            interval = %PromInterval(sc.interval()),
            "scrape job loaded"
        );
    }
    let in_cluster = std::env::var_os("KUBERNETES_SERVICE_HOST").is_some();
    for sc in &config.scrape_configs {
        let needs_cluster = sc
            .kubernetes_sd_configs
            .iter()
            .any(|k| k.api_server.is_none() && k.kubeconfig_file.is_none());
        if needs_cluster && !in_cluster {
            tracing::warn!(
                job = %sc.job_name,
                "kubernetes_sd_configs without api_server or kubeconfig_file need an in-cluster service account, and KUBERNETES_SERVICE_HOST is not set: this job discovers nothing"
            );
        }
    }
    if opts.config_file.is_none() && !config.scrape_configs.iter().any(|s| s.job_name == "node") {
        tracing::info!(
            "no node exporter answers on localhost:9100, so the default config has no job named node; install one (Debian: prometheus-node-exporter) and reload (SIGHUP) to scrape this machine's metrics"
        );
    }
}

/// How a job discovers targets: `static`, `file`, `kubernetes/<role>`, comma-separated.
fn discovery_kinds(sc: &ScrapeConfig) -> String {
    let mut kinds: Vec<String> = Vec::new();
    if !sc.static_configs.is_empty() {
        kinds.push("static".to_owned());
    }
    if !sc.file_sd_configs.is_empty() {
        kinds.push("file".to_owned());
    }
    for k in &sc.kubernetes_sd_configs {
        let kind = format!("kubernetes/{}", k.role.as_str());
        if !kinds.contains(&kind) {
            kinds.push(kind);
        }
    }
    if kinds.is_empty() {
        "none".to_owned()
    } else {
        kinds.join(",")
    }
}

/// A scrape interval as the config writes it (`15s`, `1m30s`).
struct PromInterval(Duration);

impl std::fmt::Display for PromInterval {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ms = self.0.as_millis();
        if ms == 0 {
            return f.write_str("0s");
        }
        let units = [(3_600_000, "h"), (60_000, "m"), (1_000, "s"), (1, "ms")];
        let mut rest = ms;
        for (size, unit) in units {
            if rest >= size {
                write!(f, "{}{unit}", rest / size)?;
                rest %= size;
            }
        }
        Ok(())
    }
}

/// Where a browser on this machine finds the targets page of a server listening on `listen`.
fn targets_url(listen: &str) -> String {
    let (host, port) = listen.rsplit_once(':').unwrap_or((listen, "9090"));
    let host = match host {
        "" | "0.0.0.0" => "127.0.0.1",
        "[::]" => "[::1]",
        h => h,
    };
    format!("http://{host}:{port}/targets")
}

/// Called when kube cannot build a client from `KUBECONFIG`, `~/.kube/config` or the
/// in-cluster service account: an INFO where none of them exists (the usual case off a
/// cluster), a warning with kube's error where one exists but does not work.
pub fn log_no_kube_client(error: &dyn std::fmt::Display) {
    let kubeconfig = std::env::var_os("KUBECONFIG").is_some()
        || std::env::var_os("HOME").is_some_and(|h| Path::new(&h).join(".kube/config").exists());
    if std::env::var_os("KUBERNETES_SERVICE_HOST").is_none() && !kubeconfig {
        tracing::info!("no in-cluster config or kubeconfig; Kubernetes discovery off");
        tracing::debug!(error = %error, "Kubernetes client configuration");
    } else {
        tracing::warn!(
            error = %error,
            "Kubernetes client configuration unusable; node and pod labels for metrics.k8s.io off"
        );
    }
}

/// Waits until every job has targets that were all scraped once (or a discovery error, or
/// twice the longest interval), then logs one line per job and the targets page.
async fn report_first_sync(
    jobs: Vec<(String, Duration)>,
    manager: &ScrapeManager,
    discovery_errors: &DiscoveryErrors,
    url: &str,
) {
    let longest = jobs.iter().map(|(_, d)| *d).max().unwrap_or_default();
    let deadline =
        tokio::time::Instant::now() + (longest * 2 + Duration::from_secs(5)).min(MAX_WAIT);
    loop {
        let snapshot = manager.targets();
        let errors = discovery_errors();
        let settled = jobs.iter().all(|(job, _)| {
            let mine: Vec<&ActiveTarget> = snapshot
                .active
                .iter()
                .filter(|t| t.scrape_pool == *job)
                .collect();
            let dropped = snapshot
                .dropped_counts
                .iter()
                .any(|(j, n)| j == job && *n > 0);
            if mine.is_empty() {
                // Nothing to scrape: settled once discovery failed or relabeling dropped all.
                dropped || errors.iter().any(|(j, _)| j == job)
            } else {
                mine.iter().all(|t| t.health != Health::Unknown)
            }
        });
        if settled || tokio::time::Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(POLL).await;
    }
    let snapshot = manager.targets();
    let errors = discovery_errors();
    for (job, _) in &jobs {
        let mine: Vec<&ActiveTarget> = snapshot
            .active
            .iter()
            .filter(|t| t.scrape_pool == *job)
            .collect();
        let dropped = snapshot
            .dropped_counts
            .iter()
            .find(|(j, _)| j == job)
            .map_or(0, |(_, n)| *n);
        log_job(
            job,
            &mine,
            dropped,
            errors
                .iter()
                .find(|(j, _)| j == job)
                .map(|(_, e)| e.as_str()),
        );
    }
    tracing::info!(
        url = %url,
        "every target's state, labels and last error: open the targets page"
    );
}

/// One job's line after its first discovery sync and scrapes.
fn log_job(job: &str, targets: &[&ActiveTarget], dropped: usize, discovery_error: Option<&str>) {
    let count = |h: Health| targets.iter().filter(|t| t.health == h).count();
    let (up, down, pending) = (
        count(Health::Up),
        count(Health::Down),
        count(Health::Unknown),
    );
    if targets.is_empty() {
        match discovery_error {
            Some(error) => {
                tracing::warn!(job = %job, error, "job discovered no targets: discovery failed")
            }
            None if dropped > 0 => tracing::warn!(
                job = %job,
                dropped,
                "job discovered targets but relabeling dropped them all"
            ),
            None => tracing::warn!(job = %job, "job discovered no targets"),
        }
        return;
    }
    let first_down = targets.iter().find(|t| t.health == Health::Down);
    match first_down {
        Some(t) if up == 0 && pending == 0 => tracing::warn!(
            job = %job,
            targets = targets.len(),
            target = %t.scrape_url,
            error = %t.last_error,
            "no target of the job answered"
        ),
        Some(t) => tracing::warn!(
            job = %job,
            targets = targets.len(),
            up,
            down,
            target = %t.scrape_url,
            error = %t.last_error,
            "some targets of the job did not answer"
        ),
        None if pending > 0 => tracing::info!(
            job = %job,
            targets = targets.len(),
            up,
            not_scraped_yet = pending,
            "job discovered targets"
        ),
        None => tracing::info!(
            job = %job,
            targets = targets.len(),
            up,
            "job discovered targets; all answered"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_url_is_reachable_from_this_machine() {
        assert_eq!(
            targets_url("127.0.0.1:9090"),
            "http://127.0.0.1:9090/targets"
        );
        assert_eq!(targets_url("0.0.0.0:9191"), "http://127.0.0.1:9191/targets");
        assert_eq!(targets_url(":9090"), "http://127.0.0.1:9090/targets");
        assert_eq!(targets_url("[::]:9090"), "http://[::1]:9090/targets");
        assert_eq!(targets_url("node-a:80"), "http://node-a:80/targets");
    }

    #[test]
    fn intervals_read_as_in_the_config() {
        let show = |ms| PromInterval(Duration::from_millis(ms)).to_string();
        assert_eq!(show(15_000), "15s");
        assert_eq!(show(90_000), "1m30s");
        assert_eq!(show(3_600_500), "1h500ms");
        assert_eq!(show(0), "0s");
    }

    #[test]
    fn discovery_kinds_name_each_mechanism_once() {
        let cfg = Config::load_str(
            "scrape_configs:\n  - job_name: a\n    static_configs: [{targets: [x:1]}]\n    kubernetes_sd_configs: [{role: pod}, {role: pod}, {role: endpointslice}]\n  - job_name: b\n    file_sd_configs: [{files: [f.json]}]\n  - job_name: c\n",
            "t",
        )
        .unwrap();
        let kinds: Vec<String> = cfg.scrape_configs.iter().map(discovery_kinds).collect();
        assert_eq!(
            kinds,
            [
                "static,kubernetes/pod,kubernetes/endpointslice",
                "file",
                "none"
            ]
        );
    }
}
