//! mini-prometheus' own metrics for `/metrics`: scraping and discovery (the store and remote
//! write write theirs themselves). Prometheus' names are used where Prometheus has the same
//! counter, so existing dashboards find them.

use std::collections::BTreeMap;
use std::fmt::Write;

use scrapeline_exposition::value::escape_label_value;
use scrapeline_scrape::ScrapeManager;
use scrapeline_sd::discovery;

/// Appends one family header.
fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// Scrape counters and per-pool target counts.
pub fn write_scrape_metrics(scrape: &ScrapeManager, out: &mut String) {
    let c = scrape.counters();
    let counters: [(&str, &str, u64); 7] = [
        (
            "scrapeline_scrapes_total",
            "Scrapes attempted.",
            c.scrapes_total,
        ),
        (
            "scrapeline_scrape_failures_total",
            "Scrapes that failed (up 0).",
            c.scrape_failures_total,
        ),
        (
            "prometheus_target_scrapes_sample_out_of_order_total",
            "Samples rejected as out of order.",
            c.samples_out_of_order_total,
        ),
        (
            "prometheus_target_scrapes_sample_duplicate_timestamp_total",
            "Samples rejected as duplicates.",
            c.samples_duplicate_total,
        ),
        (
            "prometheus_target_scrapes_sample_out_of_bounds_total",
            "Samples rejected as out of bounds.",
            c.samples_out_of_bounds_total,
        ),
        (
            "prometheus_target_scrapes_exceeded_sample_limit_total",
            "Scrapes that hit sample_limit.",
            c.sample_limit_exceeded_total,
        ),
        (
            "scrapeline_samples_post_relabeling_total",
            "Scraped samples kept after metric relabeling.",
            c.samples_post_relabeling_total,
        ),
    ];
    for (name, help, v) in counters {
        header(out, name, "counter", help);
        let _ = writeln!(out, "{name} {v}");
    }
    let targets = scrape.targets();
    let mut active: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for t in &targets.active {
        let e = active.entry(t.scrape_pool.as_str()).or_default();
        e.0 += 1;
        if t.health == scrapeline_scrape::Health::Up {
            e.1 += 1;
        }
    }
    header(
        out,
        "scrapeline_targets_active",
        "gauge",
        "Active targets per scrape pool.",
    );
    for (pool, (n, _)) in &active {
        let _ = writeln!(
            out,
            "scrapeline_targets_active{{scrape_pool=\"{}\"}} {n}",
            esc(pool)
        );
    }
    header(
        out,
        "scrapeline_targets_up",
        "gauge",
        "Targets whose last scrape succeeded, per scrape pool.",
    );
    for (pool, (_, up)) in &active {
        let _ = writeln!(
            out,
            "scrapeline_targets_up{{scrape_pool=\"{}\"}} {up}",
            esc(pool)
        );
    }
    header(
        out,
        "prometheus_target_scrape_pool_targets_dropped",
        "gauge",
        "Targets dropped by relabeling, per scrape pool.",
    );
    for (pool, n) in &targets.dropped_counts {
        let _ = writeln!(
            out,
            "prometheus_target_scrape_pool_targets_dropped{{scrape_pool=\"{}\"}} {n}",
            esc(pool)
        );
    }
}

/// Discovered targets per job and the Kubernetes watch state.
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
        let _ = writeln!(
            out,
            "prometheus_sd_discovered_targets{{config=\"{}\",name=\"scrape\"}} {n}",
            esc(job)
        );
    }
    let errors = discovery.errors();
    header(
        out,
        "scrapeline_sd_failed_providers",
        "gauge",
        "Discovery providers that could not start.",
    );
    let _ = writeln!(out, "scrapeline_sd_failed_providers {}", errors.len());
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
        header(out, name, "gauge", help);
        let _ = writeln!(out, "{name} {v}");
    }
}

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    escape_label_value(s, &mut out);
    out
}
