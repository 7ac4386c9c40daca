//! Target state for `/api/v1/targets` and the `/targets` page.
//!
//! The scrape engine owns the state; the binary adapts it to [`TargetsSource`], which this
//! module renders as Prometheus' JSON (same field names and order) and as a plain HTML page
//! that needs no JavaScript.
//!
//! One extension (issue 18): targets that could not be created (no `__address__` after
//! relabeling, as an Ingress rule without a host gives; an address with a `/`; a bad
//! `__scrape_interval__`) are listed in `droppedTargets` too, after the pool's relabel-dropped
//! ones, as `{"discoveredLabels":{…},"scrapePool":"…","error":"…"}` with Prometheus' error
//! text. Prometheus only logs them ("Creating target failed") and counts them in
//! `prometheus_target_sync_failed_total`. The extra `error` key is what tells them apart;
//! `droppedTargetCounts` stays Prometheus-exact (relabel-dropped targets only). The HTML page
//! lists them in a section of their own.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::{Duration, SystemTime};

use scrapeline_exposition::Labels;

use crate::api::json;

/// A target's health, as Prometheus reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// The last scrape succeeded.
    Up,
    /// The last scrape failed.
    Down,
    /// Not scraped yet.
    Unknown,
}

impl Health {
    /// `"up"`, `"down"` or `"unknown"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Up => "up",
            Health::Down => "down",
            Health::Unknown => "unknown",
        }
    }
}

/// One active target.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetInfo {
    /// Labels before relabeling.
    pub discovered_labels: Labels,
    /// Labels after relabeling (what its series carry).
    pub labels: Labels,
    /// The scrape pool (job name).
    pub scrape_pool: String,
    /// The URL scraped.
    pub scrape_url: String,
    /// The URL with the host's name instead of a local address, as Prometheus' `globalUrl`.
    pub global_url: String,
    /// Why the last scrape failed (empty when it did not).
    pub last_error: String,
    /// When the last scrape started; `None` before the first.
    pub last_scrape: Option<SystemTime>,
    /// How long the last scrape took.
    pub last_scrape_duration: Duration,
    /// Health after the last scrape.
    pub health: Health,
    /// The scrape interval.
    pub scrape_interval: Duration,
    /// The scrape timeout.
    pub scrape_timeout: Duration,
}

/// One target dropped by relabeling, or one that could not be created.
#[derive(Debug, Clone, PartialEq)]
pub struct DroppedTargetInfo {
    /// Labels before relabeling.
    pub discovered_labels: Labels,
    /// The scrape pool that dropped it.
    pub scrape_pool: String,
    /// `None` for a target relabeling dropped (what Prometheus lists); for a target that could
    /// not be created, why (Prometheus' error text, shown as the `error` key).
    pub error: Option<String>,
}

/// Where the API reads target state; the binary implements it over the scrape manager.
pub trait TargetsSource: Send + Sync {
    /// Active targets, in any order (the API sorts by pool, keeping the order within a pool).
    fn active(&self) -> Vec<TargetInfo>;
    /// Dropped targets kept for display (Prometheus keeps up to `keep_dropped_targets`), then
    /// targets that could not be created (with their `error`), each pool's in its own order.
    fn dropped(&self) -> Vec<DroppedTargetInfo>;
    /// Number of targets relabeling dropped per pool, including ones not kept for display;
    /// targets that could not be created are not counted (as in Prometheus).
    fn dropped_counts(&self) -> BTreeMap<String, usize> {
        let mut m = BTreeMap::new();
        for d in self.dropped().into_iter().filter(|d| d.error.is_none()) {
            *m.entry(d.scrape_pool).or_insert(0) += 1;
        }
        m
    }
}

/// A source with no targets, for when scraping is not wired.
pub struct NoTargets;

impl TargetsSource for NoTargets {
    fn active(&self) -> Vec<TargetInfo> {
        Vec::new()
    }
    fn dropped(&self) -> Vec<DroppedTargetInfo> {
        Vec::new()
    }
}

/// Writes the `data` object of `/api/v1/targets`. `state` is the `state` parameter (`active`,
/// `dropped`, `any` or empty), `pool` the `scrapePool` parameter.
pub fn write_json(src: &dyn TargetsSource, state: &str, pool: Option<&str>, out: &mut String) {
    let state = state.to_ascii_lowercase();
    let show_active = matches!(state.as_str(), "" | "any" | "active");
    let show_dropped = matches!(state.as_str(), "" | "any" | "dropped");
    let keep = |p: &str| pool.is_none_or(|want| want == p);
    out.push_str(r#"{"activeTargets":["#);
    if show_active {
        let mut active = src.active();
        active.retain(|t| keep(&t.scrape_pool));
        active.sort_by(|a, b| a.scrape_pool.cmp(&b.scrape_pool));
        for (i, t) in active.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(r#"{"discoveredLabels":"#);
            json::labels(out, &t.discovered_labels);
            out.push_str(r#","labels":"#);
            json::labels(out, &t.labels);
            for (k, v) in [
                ("scrapePool", &t.scrape_pool),
                ("scrapeUrl", &t.scrape_url),
                ("globalUrl", &t.global_url),
                ("lastError", &t.last_error),
            ] {
                let _ = write!(out, r#","{k}":"#);
                json::string(out, v);
            }
            out.push_str(r#","lastScrape":"#);
            json::time(out, t.last_scrape);
            out.push_str(r#","lastScrapeDuration":"#);
            json::number(out, t.last_scrape_duration.as_secs_f64());
            let _ = write!(
                out,
                r#","health":"{}","scrapeInterval":"{}","scrapeTimeout":"{}"}}"#,
                t.health.as_str(),
                json::prom_duration(t.scrape_interval),
                json::prom_duration(t.scrape_timeout)
            );
        }
    }
    out.push_str(r#"],"droppedTargets":["#);
    if show_dropped {
        let mut dropped = src.dropped();
        dropped.retain(|t| keep(&t.scrape_pool));
        dropped.sort_by(|a, b| a.scrape_pool.cmp(&b.scrape_pool));
        for (i, t) in dropped.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(r#"{"discoveredLabels":"#);
            json::labels(out, &t.discovered_labels);
            out.push_str(r#","scrapePool":"#);
            json::string(out, &t.scrape_pool);
            if let Some(e) = &t.error {
                out.push_str(r#","error":"#);
                json::string(out, e);
            }
            out.push('}');
        }
        out.push_str(r#"],"droppedTargetCounts":{"#);
        let counts = src.dropped_counts();
        for (i, (p, n)) in counts.iter().filter(|(p, _)| keep(p)).enumerate() {
            if i > 0 {
                out.push(',');
            }
            json::string(out, p);
            let _ = write!(out, ":{n}");
        }
        out.push_str("}}");
    } else {
        out.push_str(r#"],"droppedTargetCounts":null}"#);
    }
}

/// Appends `s` with `& < > " '` escaped for HTML text and attribute values.
pub fn escape_html(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

/// `12.345ms`, `1.500s`, and from a minute on Prometheus' units (`3m20s`, `2d4h`).
fn human_duration(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s >= 60.0 {
        json::prom_duration(Duration::from_secs(d.as_secs()))
    } else if s >= 1.0 {
        format!("{s:.3}s")
    } else {
        format!("{:.3}ms", s * 1000.0)
    }
}

pub(crate) const STYLE: &str = "body{font-family:sans-serif;margin:1.5em;color:#222}\
h1{font-size:1.6em}h2{font-size:1.2em;margin-top:1.5em}\
table{border-collapse:collapse;width:100%}\
th,td{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top;font-size:0.9em}\
th{background:#f0f0f0}\
.up{background:#e6f4ea}.down{background:#fce8e6}.unknown{background:#f5f5f5}\
.state{font-weight:bold}.labels span{display:inline-block;background:#e8eaed;border-radius:3px;\
padding:0 4px;margin:1px}.err{color:#b00020}";

/// Renders the `/targets` page: one table per scrape pool with endpoint, state, labels, last
/// scrape (with its age relative to `now`), scrape duration and error. No scripts; every
/// value is HTML-escaped.
pub fn render_html(src: &dyn TargetsSource, now: SystemTime) -> String {
    let mut by_pool: BTreeMap<String, Vec<TargetInfo>> = BTreeMap::new();
    for t in src.active() {
        by_pool.entry(t.scrape_pool.clone()).or_default().push(t);
    }
    let mut out = String::with_capacity(4096);
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<title>Targets - mini-prometheus</title>\n<style>");
    out.push_str(STYLE);
    out.push_str(
        "</style>\n</head>\n<body>\n<nav><a href=\"/graph\">Graph</a></nav>\n<h1>Targets</h1>\n",
    );
    let failed: Vec<DroppedTargetInfo> = src
        .dropped()
        .into_iter()
        .filter(|d| d.error.is_some())
        .collect();
    if by_pool.is_empty() && failed.is_empty() {
        out.push_str("<p>No targets.</p>\n");
    }
    for (pool, targets) in &by_pool {
        let up = targets.iter().filter(|t| t.health == Health::Up).count();
        out.push_str("<section>\n<h2>");
        escape_html(pool, &mut out);
        let _ = writeln!(out, " ({up}/{} up)</h2>", targets.len());
        out.push_str("<table>\n<thead><tr><th>Endpoint</th><th>State</th><th>Labels</th>");
        out.push_str(
            "<th>Last scrape</th><th>Scrape duration</th><th>Error</th></tr></thead>\n<tbody>\n",
        );
        for t in targets {
            let h = t.health.as_str();
            let _ = write!(out, "<tr class=\"{h}\"><td><a href=\"");
            escape_html(&t.scrape_url, &mut out);
            out.push_str("\">");
            escape_html(&t.scrape_url, &mut out);
            let _ = write!(
                out,
                "</a></td><td class=\"state\">{}</td><td class=\"labels\">",
                h.to_ascii_uppercase()
            );
            for l in t.labels.iter() {
                out.push_str("<span>");
                escape_html(l.name, &mut out);
                out.push_str("=\"");
                escape_html(l.value, &mut out);
                out.push_str("\"</span> ");
            }
            out.push_str("</td><td>");
            match t.last_scrape {
                None => out.push_str("never"),
                Some(at) => {
                    out.push_str(&json::rfc3339_nano(Some(at)));
                    let ago = now.duration_since(at).unwrap_or_default();
                    let _ = write!(out, " ({} ago)", human_duration(ago));
                }
            }
            out.push_str("</td><td>");
            if t.last_scrape.is_some() {
                out.push_str(&human_duration(t.last_scrape_duration));
            }
            out.push_str("</td><td class=\"err\">");
            escape_html(&t.last_error, &mut out);
            out.push_str("</td></tr>\n");
        }
        out.push_str("</tbody>\n</table>\n</section>\n");
    }
    render_failed_html(&failed, &mut out);
    out.push_str("</body>\n</html>\n");
    out
}

/// The section listing targets that could not be created: pool, discovered labels, error
/// (nothing when there are none).
fn render_failed_html(failed: &[DroppedTargetInfo], out: &mut String) {
    if failed.is_empty() {
        return;
    }
    let mut failed: Vec<&DroppedTargetInfo> = failed.iter().collect();
    failed.sort_by(|a, b| a.scrape_pool.cmp(&b.scrape_pool));
    let _ = writeln!(
        out,
        "<section>\n<h2>Targets that could not be created ({})</h2>",
        failed.len()
    );
    out.push_str("<table>\n<thead><tr><th>Scrape pool</th><th>Discovered labels</th>");
    out.push_str("<th>Error</th></tr></thead>\n<tbody>\n");
    for t in failed {
        out.push_str("<tr class=\"down\"><td>");
        escape_html(&t.scrape_pool, out);
        out.push_str("</td><td class=\"labels\">");
        for l in t.discovered_labels.iter() {
            out.push_str("<span>");
            escape_html(l.name, out);
            out.push_str("=\"");
            escape_html(l.value, out);
            out.push_str("\"</span> ");
        }
        out.push_str("</td><td class=\"err\">");
        escape_html(t.error.as_deref().unwrap_or(""), out);
        out.push_str("</td></tr>\n");
    }
    out.push_str("</tbody>\n</table>\n</section>\n");
}
