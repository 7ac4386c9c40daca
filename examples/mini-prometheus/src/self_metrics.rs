//! mini-prometheus' own metrics for `/metrics`, under Prometheus' names, labels and types
//! wherever Prometheus has the same thing, so that the prometheus-mixin dashboards and alerts
//! (`PrometheusBadConfig`, `PrometheusTargetSyncFailure`, …) work unchanged: the process,
//! the build, readiness, config reloads, scraping (`prometheus_target_*`) and discovery
//! (`prometheus_sd_*`). The store, remote write and the HTTP API write theirs themselves.
//! What Prometheus does not have is named `scrapeline_*`.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::SystemTime;

use scrapeline_exposition::value::{escape_label_value, format_value};
use scrapeline_scrape::ScrapeManager;
use scrapeline_scrape::metrics::SummarySnapshot;
use scrapeline_sd::discovery;

/// Appends one family header.
fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// Appends `name{labels} value`; `labels` is the inside of the braces, already escaped.
fn sample(out: &mut String, name: &str, labels: &str, v: f64) {
    out.push_str(name);
    if !labels.is_empty() {
        out.push('{');
        out.push_str(labels);
        out.push('}');
    }
    out.push(' ');
    format_value(v, out);
    out.push('\n');
}

/// A family with one unlabelled sample.
fn single(out: &mut String, name: &str, kind: &str, help: &str, v: f64) {
    header(out, name, kind, help);
    sample(out, name, "", v);
}

/// The outcome of the last configuration (re)load: `prometheus_config_last_reload_*`.
#[derive(Debug, Default)]
pub struct ReloadStatus {
    successful: AtomicBool,
    /// Seconds since the epoch of the last success, as `f64` bits.
    last_success: AtomicU64,
}

impl ReloadStatus {
    /// Records a (re)load attempt at `now`.
    pub fn record(&self, ok: bool, now: SystemTime) {
        self.successful.store(ok, Ordering::SeqCst);
        if ok {
            let s = now
                .duration_since(SystemTime::UNIX_EPOCH)
                .map(|d| d.as_secs_f64())
                .unwrap_or(0.0);
            self.last_success.store(s.to_bits(), Ordering::SeqCst);
        }
    }

    /// Appends `prometheus_config_last_reload_successful` and `…_success_timestamp_seconds`.
    pub fn write_metrics(&self, out: &mut String) {
        single(
            out,
            "prometheus_config_last_reload_successful",
            "gauge",
            "Whether the last configuration reload attempt was successful.",
            f64::from(u8::from(self.successful.load(Ordering::SeqCst))),
        );
        single(
            out,
            "prometheus_config_last_reload_success_timestamp_seconds",
            "gauge",
            "Timestamp of the last successful configuration reload.",
            f64::from_bits(self.last_success.load(Ordering::SeqCst)),
        );
    }
}

/// `prometheus_ready`: whether startup completed and the server is ready.
pub fn write_ready(ready: bool, out: &mut String) {
    single(
        out,
        "prometheus_ready",
        "gauge",
        "Whether Prometheus startup was fully completed and the server is ready for normal operation.",
        f64::from(u8::from(ready)),
    );
}

/// The toolchain this binary was built with (`rustc 1.x.y`), set by the build script.
const RUSTC_VERSION: &str = env!("MINI_PROMETHEUS_RUSTC_VERSION");

/// `prometheus_build_info` with Prometheus' labels (`goversion` holds the Rust version).
pub fn write_build_info(build: &crate::api::BuildInfo, out: &mut String) {
    header(
        out,
        "prometheus_build_info",
        "gauge",
        "A metric with a constant '1' value labeled by version, revision, branch, goversion from which prometheus was built, and the goos and goarch for the build.",
    );
    let labels = [
        ("branch", build.branch.as_str()),
        ("goarch", goarch()),
        ("goos", std::env::consts::OS),
        ("goversion", RUSTC_VERSION),
        ("revision", build.revision.as_str()),
        ("tags", "unknown"),
        ("version", build.version.as_str()),
    ];
    sample(out, "prometheus_build_info", &label_list(&labels), 1.0);
}

/// Go's name for this CPU architecture (`amd64`, `arm64`, …).
fn goarch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

/// `a="x",b="y"` with values escaped.
fn label_list(pairs: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(k);
        out.push_str("=\"");
        escape_label_value(v, &mut out);
        out.push('"');
    }
    out
}

/// The `process_*` families of Prometheus' process collector, read from `/proc/self`.
pub fn write_process_metrics(out: &mut String) {
    write_process_metrics_from(std::path::Path::new("/proc"), out)
}

/// Kernel clock ticks per second as `/proc/<pid>/stat` counts them (Go's procfs assumes
/// the same `USER_HZ`).
const USER_HZ: f64 = 100.0;

/// [`write_process_metrics`] reading `proc` (a test can point it at a copy).
fn write_process_metrics_from(proc: &std::path::Path, out: &mut String) {
    let me = proc.join("self");
    let stat = std::fs::read_to_string(me.join("stat")).unwrap_or_default();
    // The fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    // Field numbers in proc(5) count from 1 with pid and comm first.
    let field = |n: usize| -> Option<f64> { fields.get(n - 3).and_then(|s| s.parse().ok()) };
    if let (Some(utime), Some(stime)) = (field(14), field(15)) {
        single(
            out,
            "process_cpu_seconds_total",
            "counter",
            "Total user and system CPU time spent in seconds.",
            (utime + stime) / USER_HZ,
        );
    }
    if let Ok(fds) = std::fs::read_dir(me.join("fd")) {
        single(
            out,
            "process_open_fds",
            "gauge",
            "Number of open file descriptors.",
            fds.count() as f64,
        );
    }
    let limits = std::fs::read_to_string(me.join("limits")).unwrap_or_default();
    if let Some(max) = limit(&limits, "Max open files") {
        single(
            out,
            "process_max_fds",
            "gauge",
            "Maximum number of open file descriptors.",
            max,
        );
    }
    let status = std::fs::read_to_string(me.join("status")).unwrap_or_default();
    if let Some(rss) = status_kib(&status, "VmRSS:") {
        single(
            out,
            "process_resident_memory_bytes",
            "gauge",
            "Resident memory size in bytes.",
            rss * 1024.0,
        );
    }
    if let Some(vm) = status_kib(&status, "VmSize:") {
        single(
            out,
            "process_virtual_memory_bytes",
            "gauge",
            "Virtual memory size in bytes.",
            vm * 1024.0,
        );
    }
    if let Some(max) = limit(&limits, "Max address space") {
        single(
            out,
            "process_virtual_memory_max_bytes",
            "gauge",
            "Maximum amount of virtual memory available in bytes.",
            max,
        );
    }
    let boot = std::fs::read_to_string(proc.join("stat"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("btime "))
                .and_then(|v| v.trim().parse::<f64>().ok())
        });
    if let (Some(boot), Some(start)) = (boot, field(22)) {
        single(
            out,
            "process_start_time_seconds",
            "gauge",
            "Start time of the process since unix epoch in seconds.",
            boot + start / USER_HZ,
        );
    }
}

/// A soft limit from `/proc/self/limits`; `unlimited` is Go's `2^64 - 1`.
fn limit(limits: &str, name: &str) -> Option<f64> {
    let rest = limits.lines().find_map(|l| l.strip_prefix(name))?;
    match rest.split_whitespace().next()? {
        "unlimited" => Some(u64::MAX as f64),
        v => v.parse().ok(),
    }
}

/// A `kB` value from `/proc/self/status`.
fn status_kib(status: &str, key: &str) -> Option<f64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// Appends a summary's samples (`name{labels,quantile=…}`, `_sum`, `_count`).
fn summary(out: &mut String, name: &str, labels: &str, s: &SummarySnapshot) {
    let sep = if labels.is_empty() { "" } else { "," };
    for (q, v) in &s.quantiles {
        let mut l = format!("{labels}{sep}quantile=\"");
        format_value(*q, &mut l);
        l.push('"');
        sample(out, name, &l, *v);
    }
    sample(out, &format!("{name}_sum"), labels, s.sum);
    sample(out, &format!("{name}_count"), labels, s.count as f64);
}

/// Scraping: Prometheus' `prometheus_target_*` families, plus scrapeline extras.
pub fn write_scrape_metrics(scrape: &ScrapeManager, out: &mut String) {
    let c = scrape.counters();
    let m = scrape.target_metrics();
    let counters: [(&str, &str, u64); 11] = [
        (
            "prometheus_target_scrapes_sample_out_of_order_total",
            "Total number of samples rejected due to not being out of the expected order.",
            c.samples_out_of_order_total,
        ),
        (
            "prometheus_target_scrapes_sample_duplicate_timestamp_total",
            "Total number of samples rejected due to duplicate timestamps but different values.",
            c.samples_duplicate_total,
        ),
        (
            "prometheus_target_scrapes_sample_out_of_bounds_total",
            "Total number of samples rejected due to timestamp falling outside of the time bounds.",
            c.samples_out_of_bounds_total,
        ),
        (
            "prometheus_target_scrapes_exceeded_sample_limit_total",
            "Total number of scrapes that hit the sample limit and were rejected.",
            c.sample_limit_exceeded_total,
        ),
        (
            "prometheus_target_scrapes_exceeded_body_size_limit_total",
            "Total number of scrapes that hit the body size limit",
            m.body_size_exceeded_total,
        ),
        (
            "prometheus_target_scrape_pool_exceeded_target_limit_total",
            "Total number of times scrape pools hit the target limit, during sync or config reload.",
            m.target_limit_exceeded_total,
        ),
        (
            "prometheus_target_scrape_pools_total",
            "Total number of scrape pool creation attempts.",
            m.pools_total,
        ),
        (
            "prometheus_target_scrape_pools_failed_total",
            "Total number of scrape pool creations that failed.",
            m.pools_failed_total,
        ),
        (
            "prometheus_target_scrape_pool_reloads_total",
            "Total number of scrape pool reloads.",
            m.reloads_total,
        ),
        (
            "prometheus_target_scrape_pool_reloads_failed_total",
            "Total number of failed scrape pool reloads.",
            m.reloads_failed_total,
        ),
        (
            "scrapeline_scrapes_total",
            "Scrapes attempted.",
            c.scrapes_total,
        ),
    ];
    for (name, help, v) in counters {
        single(out, name, "counter", help, v as f64);
    }
    single(
        out,
        "scrapeline_scrape_failures_total",
        "counter",
        "Scrapes that failed (up 0).",
        c.scrape_failures_total as f64,
    );
    single(
        out,
        "scrapeline_samples_post_relabeling_total",
        "counter",
        "Scraped samples kept after metric relabeling.",
        c.samples_post_relabeling_total as f64,
    );

    header(
        out,
        "prometheus_target_interval_length_seconds",
        "summary",
        "Actual intervals between scrapes.",
    );
    for (interval, s) in &m.intervals {
        let l = format!("interval=\"{}\"", esc(interval));
        summary(out, "prometheus_target_interval_length_seconds", &l, s);
    }
    let job_label = |job: &str| format!("scrape_job=\"{}\"", esc(job));
    header(
        out,
        "prometheus_target_scrape_pool_sync_total",
        "counter",
        "Total number of syncs that were executed on a scrape pool.",
    );
    for (job, j) in &m.jobs {
        let l = job_label(job);
        sample(
            out,
            "prometheus_target_scrape_pool_sync_total",
            &l,
            j.syncs_total as f64,
        );
    }
    header(
        out,
        "prometheus_target_sync_failed_total",
        "counter",
        "Total number of target sync failures.",
    );
    for (job, j) in &m.jobs {
        let l = job_label(job);
        sample(
            out,
            "prometheus_target_sync_failed_total",
            &l,
            j.sync_failed_total as f64,
        );
    }
    header(
        out,
        "prometheus_target_sync_length_seconds",
        "summary",
        "Actual interval to sync the scrape pool.",
    );
    for (job, j) in &m.jobs {
        let l = job_label(job);
        summary(
            out,
            "prometheus_target_sync_length_seconds",
            &l,
            &j.sync_length,
        );
    }

    let usage = scrape.metadata_cache_usage();
    header(
        out,
        "prometheus_target_metadata_cache_entries",
        "gauge",
        "Total number of metric metadata entries in the cache",
    );
    for (job, (n, _)) in &usage {
        let l = job_label(job);
        sample(
            out,
            "prometheus_target_metadata_cache_entries",
            &l,
            *n as f64,
        );
    }
    header(
        out,
        "prometheus_target_metadata_cache_bytes",
        "gauge",
        "The number of bytes that are currently used for storing metric metadata in the cache",
    );
    for (job, (_, b)) in &usage {
        let l = job_label(job);
        sample(out, "prometheus_target_metadata_cache_bytes", &l, *b as f64);
    }

    let targets = scrape.targets();
    let mut active: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for (pool, _) in &targets.dropped_counts {
        active.entry(pool.as_str()).or_default();
    }
    for t in &targets.active {
        let e = active.entry(t.scrape_pool.as_str()).or_default();
        e.0 += 1;
        if t.health == scrapeline_scrape::Health::Up {
            e.1 += 1;
        }
    }
    header(
        out,
        "prometheus_target_scrape_pool_targets",
        "gauge",
        "Current number of targets in this scrape pool.",
    );
    for (pool, (n, _)) in &active {
        sample(
            out,
            "prometheus_target_scrape_pool_targets",
            &job_label(pool),
            *n as f64,
        );
    }
    header(
        out,
        "scrapeline_targets_up",
        "gauge",
        "Targets whose last scrape succeeded, per scrape pool.",
    );
    for (pool, (_, up)) in &active {
        let l = format!("scrape_pool=\"{}\"", esc(pool));
        sample(out, "scrapeline_targets_up", &l, *up as f64);
    }
    header(
        out,
        "scrapeline_target_scrape_pool_targets_dropped",
        "gauge",
        "Targets dropped by relabeling, per scrape pool.",
    );
    for (pool, n) in &targets.dropped_counts {
        let l = format!("scrape_pool=\"{}\"", esc(pool));
        sample(
            out,
            "scrapeline_target_scrape_pool_targets_dropped",
            &l,
            *n as f64,
        );
    }
}

/// Discovery: Prometheus' `prometheus_sd_*` families for the scrape manager's discovery
/// (`name="scrape"`), plus the Kubernetes watch state under `scrapeline_`.
pub fn write_discovery_metrics(discovery: &discovery::Manager, out: &mut String) {
    let snapshot = discovery.snapshot();
    let mut jobs: Vec<(&String, usize)> = snapshot
        .iter()
        .map(|(job, groups)| (job, groups.iter().map(|g| g.targets.len()).sum()))
        .collect();
    jobs.sort();
    header(
        out,
        "prometheus_sd_discovered_targets",
        "gauge",
        "Current number of discovered targets.",
    );
    for (job, n) in jobs {
        let l = format!("config=\"{}\",name=\"scrape\"", esc(job));
        sample(out, "prometheus_sd_discovered_targets", &l, n as f64);
    }
    let errors = discovery.errors();
    header(
        out,
        "prometheus_sd_failed_configs",
        "gauge",
        "Current number of service discovery configurations that failed to load.",
    );
    sample(
        out,
        "prometheus_sd_failed_configs",
        "name=\"scrape\"",
        errors.len() as f64,
    );
    let c = discovery.counters();
    header(
        out,
        "prometheus_sd_received_updates_total",
        "counter",
        "Total number of update events received from the SD providers.",
    );
    sample(
        out,
        "prometheus_sd_received_updates_total",
        "name=\"scrape\"",
        c.received_updates_total as f64,
    );
    header(
        out,
        "prometheus_sd_updates_total",
        "counter",
        "Total number of update events sent to the SD consumers.",
    );
    sample(
        out,
        "prometheus_sd_updates_total",
        "name=\"scrape\"",
        c.updates_total as f64,
    );
    header(
        out,
        "prometheus_sd_kubernetes_events_total",
        "counter",
        "The number of Kubernetes events handled.",
    );
    for (role, event, n) in scrapeline_sd::metrics::kubernetes_events() {
        let l = format!("event=\"{event}\",role=\"{role}\"");
        sample(out, "prometheus_sd_kubernetes_events_total", &l, n as f64);
    }
    let k = discovery.kube_usage();
    let gauges: [(&str, &str, usize); 3] = [
        (
            "scrapeline_sd_kubernetes_watches",
            "Kubernetes watches running (shared across jobs).",
            k.watches,
        ),
        (
            "scrapeline_sd_kubernetes_objects",
            "Kubernetes objects held by discovery.",
            k.objects,
        ),
        (
            "scrapeline_sd_kubernetes_heap_bytes",
            "Heap bytes of the objects held by discovery.",
            k.heap_bytes,
        ),
    ];
    for (name, help, v) in gauges {
        single(out, name, "gauge", help, v as f64);
    }
}

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    escape_label_value(s, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn process_metrics_from_proc() {
        let dir = tempfile::tempdir().unwrap();
        let me = dir.path().join("self");
        std::fs::create_dir_all(me.join("fd")).unwrap();
        for n in ["0", "1", "2"] {
            std::fs::write(me.join("fd").join(n), "").unwrap();
        }
        // pid (comm with spaces) state ppid ... utime=14 stime=15 ... starttime=22
        let mut stat = String::from("42 (mini prom) S");
        for n in 4..=25 {
            let v = match n {
                14 => "250".to_owned(),
                15 => "50".to_owned(),
                22 => "1000".to_owned(),
                n => n.to_string(),
            };
            stat.push(' ');
            stat.push_str(&v);
        }
        std::fs::write(me.join("stat"), stat).unwrap();
        std::fs::write(
            me.join("limits"),
            "Limit Soft Hard Units\nMax open files            20000                20000                files\nMax address space         unlimited            unlimited            bytes\n",
        )
        .unwrap();
        std::fs::write(
            me.join("status"),
            "Name:\tx\nVmSize:\t  1000 kB\nVmRSS:\t   200 kB\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("stat"), "cpu 1 2\nbtime 1700000000\n").unwrap();
        let mut out = String::new();
        write_process_metrics_from(dir.path(), &mut out);
        for line in [
            "process_cpu_seconds_total 3\n",
            "process_open_fds 3\n",
            "process_max_fds 20000\n",
            "process_resident_memory_bytes 204800\n",
            "process_virtual_memory_bytes 1.024e+06\n",
            "process_virtual_memory_max_bytes 1.8446744073709552e+19\n",
            "process_start_time_seconds 1.70000001e+09\n",
            "# TYPE process_cpu_seconds_total counter\n",
        ] {
            assert!(out.contains(line), "{line:?} missing in\n{out}");
        }
    }

    #[test]
    fn process_metrics_of_this_process_are_plausible() {
        let mut out = String::new();
        write_process_metrics(&mut out);
        let value = |name: &str| -> f64 {
            let line = out
                .lines()
                .find(|l| l.starts_with(&format!("{name} ")))
                .unwrap_or_else(|| panic!("{name} missing in\n{out}"));
            line.rsplit(' ').next().unwrap().parse().unwrap()
        };
        assert!(value("process_resident_memory_bytes") > 1e6);
        assert!(value("process_open_fds") >= 3.0);
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        let start = value("process_start_time_seconds");
        assert!(start <= now + 1.0 && start > now - 86_400.0, "{start}");
    }

    #[test]
    fn reload_status_and_build_info() {
        let r = ReloadStatus::default();
        r.record(
            true,
            SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1000),
        );
        r.record(
            false,
            SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(2000),
        );
        let mut out = String::new();
        r.write_metrics(&mut out);
        assert!(
            out.contains("\nprometheus_config_last_reload_successful 0\n"),
            "{out}"
        );
        assert!(
            out.contains("\nprometheus_config_last_reload_success_timestamp_seconds 1000\n"),
            "{out}"
        );
        let mut out = String::new();
        write_build_info(&crate::api::BuildInfo::default(), &mut out);
        let line = out.lines().last().unwrap();
        assert!(
            line.starts_with("prometheus_build_info{branch=\"\",goarch=\""),
            "{line}"
        );
        assert!(
            line.contains(",goos=\"linux\",goversion=\"rustc "),
            "{line}"
        );
        assert!(line.ends_with("\"} 1"), "{line}");
    }
}
