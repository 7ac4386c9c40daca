//! Targets: Prometheus' label population (`PopulateLabels`), the scrape URL, the target
//! identity hash and the scrape offset, as pure functions.

use std::collections::BTreeMap;
use std::time::Duration;

use scrapeline_exposition::{Labels, LabelsBuilder};
use scrapeline_sd::relabel::{Rule, relabel};

use crate::config::ScrapeConfig;
use crate::duration::{ParseDurationError, format_duration, go_quote, parse_duration};

/// `__address__`.
pub const ADDRESS_LABEL: &str = "__address__";
/// `__scheme__`.
pub const SCHEME_LABEL: &str = "__scheme__";
/// `__metrics_path__`.
pub const METRICS_PATH_LABEL: &str = "__metrics_path__";
/// `__scrape_interval__`.
pub const SCRAPE_INTERVAL_LABEL: &str = "__scrape_interval__";
/// `__scrape_timeout__`.
pub const SCRAPE_TIMEOUT_LABEL: &str = "__scrape_timeout__";
/// `__param_` prefix.
pub const PARAM_LABEL_PREFIX: &str = "__param_";
/// `__meta_` prefix.
pub const META_LABEL_PREFIX: &str = "__meta_";
/// `__convert_classic_histograms_to_nhcb__` (3.13+).
pub const CONVERT_NHCB_LABEL: &str = "__convert_classic_histograms_to_nhcb__";
/// `__always_scrape_classic_histograms__` (3.13+).
pub const ALWAYS_CLASSIC_LABEL: &str = "__always_scrape_classic_histograms__";
/// `__scrape_native_histograms__` (3.13+).
pub const NATIVE_HISTOGRAMS_LABEL: &str = "__scrape_native_histograms__";
/// `instance`.
pub const INSTANCE_LABEL: &str = "instance";
/// `job`.
pub const JOB_LABEL: &str = "job";

/// Why a discovered target cannot be scraped (Prometheus' `PopulateLabels` errors, same
/// texts).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PopulateError {
    /// No `__address__` after relabeling.
    #[error("no address")]
    NoAddress,
    /// An `__address__` with a `/`.
    #[error("{} is not a valid hostname", go_quote(.0))]
    InvalidHostname(String),
    /// `__scrape_interval__` does not parse.
    #[error("error parsing scrape interval: {0}")]
    Interval(ParseDurationError),
    /// `__scrape_interval__` is 0.
    #[error("scrape interval cannot be 0")]
    ZeroInterval,
    /// `__scrape_timeout__` does not parse.
    #[error("error parsing scrape timeout: {0}")]
    Timeout(ParseDurationError),
    /// `__scrape_timeout__` is 0.
    #[error("scrape timeout cannot be 0")]
    ZeroTimeout,
    /// The timeout exceeds the interval (both as the labels spelled them).
    #[error(
        "scrape timeout cannot be greater than scrape interval ({} > {})",
        go_quote(timeout),
        go_quote(interval)
    )]
    TimeoutAboveInterval {
        /// `__scrape_timeout__`.
        timeout: String,
        /// `__scrape_interval__`.
        interval: String,
    },
    /// A histogram flag label is not a Go boolean; `what` names the flag as Prometheus does
    /// (`convert classic histograms to nhcb`, …).
    #[error(
        "error parsing {what}: strconv.ParseBool: parsing {}: invalid syntax",
        go_quote(value)
    )]
    Flag {
        /// The flag, in words.
        what: &'static str,
        /// The value found.
        value: String,
    },
}

/// The outcome of populating one discovered target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Populated {
    /// The labels before relabeling (Prometheus' `discoveredLabels`).
    pub discovered: Labels,
    /// The final target labels (with `__*` labels other than `__meta_*`), or `None` when
    /// relabeling dropped the target.
    pub labels: Option<Labels>,
}

/// A target that failed to populate, with the labels it was discovered with: what
/// `promtool check service-discovery` prints beside the error (`discoveredLabels`, `error`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{error}")]
pub struct PopulateFailure {
    /// The labels before relabeling (target, group and job defaults).
    pub discovered: Labels,
    /// Why it cannot be scraped.
    #[source]
    pub error: PopulateError,
}

fn go_bool(b: Option<bool>) -> &'static str {
    if b == Some(true) { "true" } else { "false" }
}

/// Prometheus' `PopulateDiscoveredLabels`: target labels, then group labels the target lacks,
/// then the job defaults, then `__param_*`.
pub fn populate_discovered_labels(
    lb: &mut LabelsBuilder,
    cfg: &ScrapeConfig,
    target: &Labels,
    group: &Labels,
) {
    lb.clear();
    for l in target {
        lb.set(l.name, l.value);
    }
    for l in group {
        if !target.contains(l.name) {
            lb.set(l.name, l.value);
        }
    }
    let interval = format_duration(cfg.interval());
    let timeout = format_duration(cfg.timeout());
    let defaults: [(&str, &str); 8] = [
        (JOB_LABEL, &cfg.job_name),
        (SCRAPE_INTERVAL_LABEL, &interval),
        (SCRAPE_TIMEOUT_LABEL, &timeout),
        (METRICS_PATH_LABEL, &cfg.metrics_path),
        (SCHEME_LABEL, &cfg.scheme),
        (
            CONVERT_NHCB_LABEL,
            go_bool(cfg.convert_classic_histograms_to_nhcb),
        ),
        (
            ALWAYS_CLASSIC_LABEL,
            go_bool(cfg.always_scrape_classic_histograms),
        ),
        (
            NATIVE_HISTOGRAMS_LABEL,
            go_bool(cfg.scrape_native_histograms),
        ),
    ];
    for (n, v) in defaults {
        if lb.get(n).is_none_or(str::is_empty) {
            lb.set(n, v);
        }
    }
    let mut name = String::new();
    for (k, v) in &cfg.params {
        if let Some(first) = v.first() {
            name.clear();
            name.push_str(PARAM_LABEL_PREFIX);
            name.push_str(k);
            if lb.get(&name).is_none_or(str::is_empty) {
                lb.set(&name, first);
            }
        }
    }
}

/// Go's `strconv.ParseBool`; `None` for anything else.
fn parse_go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// Prometheus' `PopulateLabels`: discovered labels, `relabel_configs`, then the checks and
/// the final clean-up (`__meta_*` removed, `instance` defaulted to `__address__`). Errors are
/// Prometheus' exact strings. [`populate_target`] also keeps the discovered labels of a
/// target that fails.
pub fn populate_labels(
    lb: &mut LabelsBuilder,
    cfg: &ScrapeConfig,
    rules: &[Rule],
    target: &Labels,
    group: &Labels,
) -> Result<Populated, PopulateError> {
    populate_target(lb, cfg, rules, target, group).map_err(|f| f.error)
}

/// [`populate_labels`], keeping the discovered labels when the target fails (an Ingress rule
/// without a host, an address with a `/`, a bad interval label), as `promtool check
/// service-discovery` reports them.
pub fn populate_target(
    lb: &mut LabelsBuilder,
    cfg: &ScrapeConfig,
    rules: &[Rule],
    target: &Labels,
    group: &Labels,
) -> Result<Populated, PopulateFailure> {
    populate_discovered_labels(lb, cfg, target, group);
    let discovered = lb.labels();
    if !rules.is_empty() && !relabel(rules, lb) {
        return Ok(Populated {
            discovered,
            labels: None,
        });
    }
    match checked_labels(lb) {
        Ok(labels) => Ok(Populated {
            discovered,
            labels: Some(labels),
        }),
        Err(error) => Err(PopulateFailure { discovered, error }),
    }
}

/// The checks and clean-up after relabeling, on the relabeled labels in `lb`.
fn checked_labels(lb: &mut LabelsBuilder) -> Result<Labels, PopulateError> {
    let addr = match lb.get(ADDRESS_LABEL) {
        Some(a) if !a.is_empty() => a.to_owned(),
        _ => return Err(PopulateError::NoAddress),
    };
    if addr.contains('/') {
        return Err(PopulateError::InvalidHostname(addr));
    }
    let interval_s = lb.get(SCRAPE_INTERVAL_LABEL).unwrap_or("").to_owned();
    let interval = parse_duration(&interval_s).map_err(PopulateError::Interval)?;
    if interval.is_zero() {
        return Err(PopulateError::ZeroInterval);
    }
    let timeout_s = lb.get(SCRAPE_TIMEOUT_LABEL).unwrap_or("").to_owned();
    let timeout = parse_duration(&timeout_s).map_err(PopulateError::Timeout)?;
    if timeout.is_zero() {
        return Err(PopulateError::ZeroTimeout);
    }
    if timeout > interval {
        return Err(PopulateError::TimeoutAboveInterval {
            timeout: timeout_s,
            interval: interval_s,
        });
    }
    for (label, what) in [
        (CONVERT_NHCB_LABEL, "convert classic histograms to nhcb"),
        (ALWAYS_CLASSIC_LABEL, "always scrape classic histograms"),
        (NATIVE_HISTOGRAMS_LABEL, "scrape native histograms"),
    ] {
        if let Some(v) = lb.get(label)
            && parse_go_bool(v).is_none()
        {
            return Err(PopulateError::Flag {
                what,
                value: v.to_owned(),
            });
        }
    }
    lb.retain(|n, _| !n.starts_with(META_LABEL_PREFIX));
    if lb.get(INSTANCE_LABEL).is_none_or(str::is_empty) {
        lb.set(INSTANCE_LABEL, &addr);
    }
    // Label values are `str`, so always valid UTF-8: Prometheus' value check cannot fail here.
    Ok(lb.labels())
}

/// The interval and timeout a target's labels ask for (`Target.intervalAndTimeout`), falling
/// back to the job's.
pub fn interval_and_timeout(labels: &Labels, cfg: &ScrapeConfig) -> (Duration, Duration) {
    let i = labels
        .get(SCRAPE_INTERVAL_LABEL)
        .and_then(|s| parse_duration(s).ok())
        .unwrap_or_else(|| cfg.interval());
    let t = labels
        .get(SCRAPE_TIMEOUT_LABEL)
        .and_then(|s| parse_duration(s).ok())
        .unwrap_or_else(|| cfg.timeout());
    (i, t)
}

/// Whether `c` needs no escaping in a Go URL query component.
fn query_unreserved(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.' | b'~')
}

/// Go's `url.QueryEscape`.
pub fn query_escape(s: &str, out: &mut String) {
    for &c in s.as_bytes() {
        if query_unreserved(c) {
            out.push(c as char);
        } else if c == b' ' {
            out.push('+');
        } else {
            out.push_str(&format!("%{c:02X}"));
        }
    }
}

/// Go's path escaping (`URL.EscapedPath` for a path without a valid raw form).
fn path_escape(s: &str, out: &mut String) {
    for &c in s.as_bytes() {
        if query_unreserved(c)
            || matches!(
                c,
                b'$' | b'&' | b'+' | b',' | b'/' | b':' | b';' | b'=' | b'@'
            )
        {
            out.push(c as char);
        } else {
            out.push_str(&format!("%{c:02X}"));
        }
    }
}

/// The query parameters of a target: the job's `params`, with each `__param_<k>` label
/// replacing the first value of `k` (or adding it). Sorted by key, as Go encodes them.
pub fn target_params(labels: &Labels, cfg: &ScrapeConfig) -> BTreeMap<String, Vec<String>> {
    let mut params = cfg.params.clone();
    for l in labels {
        if let Some(k) = l.name.strip_prefix(PARAM_LABEL_PREFIX) {
            let v = params.entry(k.to_owned()).or_default();
            match v.first_mut() {
                Some(first) => *first = l.value.to_owned(),
                None => v.push(l.value.to_owned()),
            }
        }
    }
    params
}

/// The scrape URL as Go's `url.URL.String()` prints it for Prometheus' `Target.URL()`.
pub fn target_url(labels: &Labels, cfg: &ScrapeConfig) -> String {
    let scheme = labels.get(SCHEME_LABEL).unwrap_or("");
    let host = labels.get(ADDRESS_LABEL).unwrap_or("");
    let path = labels.get(METRICS_PATH_LABEL).unwrap_or("");
    let mut out = String::with_capacity(64);
    if !scheme.is_empty() {
        out.push_str(scheme);
        out.push(':');
    }
    if !scheme.is_empty() || !host.is_empty() {
        out.push_str("//");
        out.push_str(host);
    }
    if !path.is_empty() && !path.starts_with('/') && !host.is_empty() {
        out.push('/');
    }
    path_escape(path, &mut out);
    let params = target_params(labels, cfg);
    let mut first = true;
    for (k, vs) in &params {
        for v in vs {
            out.push(if first { '?' } else { '&' });
            first = false;
            query_escape(k, &mut out);
            out.push('=');
            query_escape(v, &mut out);
        }
    }
    out
}

/// Prometheus 3's `labels.Hash()` (stringlabels): xxhash64 over the length-prefixed encoding
/// (`len name len value` per label, a length as 1 byte below 255, else `0xFF` + 3 bytes LE).
pub fn prometheus_labels_hash(labels: &Labels) -> u64 {
    let mut h = xxhash_rust::xxh64::Xxh64::new(0);
    let put_len = |h: &mut xxhash_rust::xxh64::Xxh64, n: usize| {
        if n < 255 {
            h.update(&[n as u8]);
        } else {
            let n = n as u32;
            h.update(&[0xff, n as u8, (n >> 8) as u8, (n >> 16) as u8]);
        }
    };
    for l in labels {
        put_len(&mut h, l.name.len());
        h.update(l.name.as_bytes());
        put_len(&mut h, l.value.len());
        h.update(l.value.as_bytes());
    }
    h.digest()
}

/// FNV-1a 64.
pub fn fnv1a64(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for &b in *p {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

/// Prometheus' `Target.hash()`: FNV-1a over `%016d` of the label hash followed by the URL.
pub fn target_hash(labels: &Labels, url: &str) -> u64 {
    let lh = format!("{:016}", prometheus_labels_hash(labels));
    fnv1a64(&[lh.as_bytes(), url.as_bytes()])
}

/// [`target_hash`] over the labels without `__scrape_interval__` and `__scrape_timeout__`:
/// the identity a reload that only changes timing keeps.
pub fn reload_key(labels: &Labels, url: &str) -> u64 {
    let l = Labels::from_sorted_iter(
        labels
            .iter()
            .filter(|l| l.name != SCRAPE_INTERVAL_LABEL && l.name != SCRAPE_TIMEOUT_LABEL)
            .map(|l| (l.name, l.value)),
    );
    target_hash(&l, url)
}

/// Prometheus' `Manager.setOffsetSeed`: FNV-1a of the host name followed by the external
/// labels' string form.
pub fn offset_seed(hostname: &str, external_labels: &Labels) -> u64 {
    let s = external_labels.to_string();
    fnv1a64(&[hostname.as_bytes(), s.as_bytes()])
}

/// Prometheus' `Target.offset`: how long to wait from `now_unix_nanos` until the target's
/// first scrape, so that every scrape falls on `t mod interval == (hash ^ seed) mod interval`.
pub fn scrape_offset(hash: u64, seed: u64, interval: Duration, now_unix_nanos: i128) -> Duration {
    let iv = interval.as_nanos() as i128;
    if iv <= 0 {
        return Duration::ZERO;
    }
    let base = iv - now_unix_nanos.rem_euclid(iv);
    let off = i128::from((hash ^ seed) % (iv as u64));
    let mut next = base + off;
    if next > iv {
        next -= iv;
    }
    Duration::from_nanos(next as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_like_go() {
        let mut cfg = ScrapeConfig::new("j");
        cfg.params
            .insert("abc".into(), vec!["foo".into(), "bar".into(), "baz".into()]);
        cfg.params.insert("xyz".into(), vec!["hoo".into()]);
        let labels = Labels::from_pairs([
            (ADDRESS_LABEL, "example.com:1234"),
            (SCHEME_LABEL, "https"),
            (METRICS_PATH_LABEL, "/metricz"),
            ("__param_abc", "overwrite"),
            ("__param_cde", "huu"),
        ]);
        // TestTargetURL
        assert_eq!(
            target_url(&labels, &cfg),
            "https://example.com:1234/metricz?abc=overwrite&abc=bar&abc=baz&cde=huu&xyz=hoo"
        );
        let labels = Labels::from_pairs([
            (ADDRESS_LABEL, "h:1"),
            (SCHEME_LABEL, "http"),
            (METRICS_PATH_LABEL, "/a b/ü"),
            ("__param_q", "x y&z"),
        ]);
        assert_eq!(
            target_url(&labels, &ScrapeConfig::new("j")),
            "http://h:1/a%20b/%C3%BC?q=x+y%26z"
        );
    }

    #[test]
    fn offset_lands_on_phase() {
        let interval = Duration::from_secs(10);
        let iv = interval.as_nanos() as i128;
        for now in [0i128, 1, 5_000_000_000, 1_700_000_000_123_456_789] {
            let hash = 0x1234_5678_9abc_def0u64;
            let seed = 42;
            let off = scrape_offset(hash, seed, interval, now);
            assert!(off.as_nanos() as i128 <= iv);
            let at = now + off.as_nanos() as i128;
            assert_eq!(at.rem_euclid(iv), i128::from((hash ^ seed) % iv as u64));
        }
    }

    #[test]
    fn fnv_matches_reference() {
        // FNV-1a 64 of "a" (reference value).
        assert_eq!(fnv1a64(&[b"a"]), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(&[]), 0xcbf2_9ce4_8422_2325);
    }
}
