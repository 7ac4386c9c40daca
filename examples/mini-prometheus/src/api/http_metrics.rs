//! `prometheus_http_requests_total{code,handler}` and
//! `prometheus_http_request_duration_seconds{handler}` (histogram), with Prometheus' buckets,
//! so that the mixin's HTTP panels read the API's traffic.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

/// Prometheus' buckets for `prometheus_http_request_duration_seconds`.
const BUCKETS: [f64; 9] = [0.1, 0.2, 0.4, 1.0, 3.0, 8.0, 20.0, 60.0, 120.0];

#[derive(Debug, Default, Clone)]
struct Histogram {
    /// Per bucket of [`BUCKETS`], observations at most its bound (not cumulative).
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// Request counts and latencies per handler.
#[derive(Debug, Default)]
pub struct HttpMetrics {
    inner: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    requests: BTreeMap<(&'static str, u16), u64>,
    durations: BTreeMap<&'static str, Histogram>,
}

impl HttpMetrics {
    /// Records one answered request.
    pub fn observe(&self, handler: &'static str, code: u16, took: Duration) {
        let mut st = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        *st.requests.entry((handler, code)).or_insert(0) += 1;
        let h = st.durations.entry(handler).or_default();
        let secs = took.as_secs_f64();
        if let Some(i) = BUCKETS.iter().position(|b| secs <= *b)
            && let Some(c) = h.counts.get_mut(i)
        {
            *c += 1;
        }
        h.count += 1;
        h.sum += secs;
    }

    /// Appends both families in the text format.
    pub fn write(&self, out: &mut String) {
        let st = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        out.push_str("# HELP prometheus_http_requests_total Counter of HTTP requests.\n");
        out.push_str("# TYPE prometheus_http_requests_total counter\n");
        for ((h, code), n) in &st.requests {
            let _ = writeln!(
                out,
                "prometheus_http_requests_total{{code=\"{code}\",handler=\"{h}\"}} {n}"
            );
        }
        let name = "prometheus_http_request_duration_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} Histogram of latencies for HTTP requests.\n# TYPE {name} histogram"
        );
        for (h, hist) in &st.durations {
            let mut cumulative = 0;
            for (bound, c) in BUCKETS.iter().zip(hist.counts.iter()) {
                cumulative += c;
                let _ = writeln!(
                    out,
                    "{name}_bucket{{handler=\"{h}\",le=\"{bound}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "{name}_bucket{{handler=\"{h}\",le=\"+Inf\"}} {}",
                hist.count
            );
            let _ = write!(out, "{name}_sum{{handler=\"{h}\"}} ");
            scrapeline_exposition::value::format_value(hist.sum, out);
            let _ = writeln!(out, "\n{name}_count{{handler=\"{h}\"}} {}", hist.count);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_cumulative_buckets() {
        let m = HttpMetrics::default();
        m.observe("/metrics", 200, Duration::from_millis(50));
        m.observe("/metrics", 200, Duration::from_millis(300));
        m.observe("/metrics", 500, Duration::from_secs(200));
        let mut out = String::new();
        m.write(&mut out);
        for line in [
            "prometheus_http_requests_total{code=\"200\",handler=\"/metrics\"} 2\n",
            "prometheus_http_requests_total{code=\"500\",handler=\"/metrics\"} 1\n",
            "prometheus_http_request_duration_seconds_bucket{handler=\"/metrics\",le=\"0.1\"} 1\n",
            "prometheus_http_request_duration_seconds_bucket{handler=\"/metrics\",le=\"0.4\"} 2\n",
            "prometheus_http_request_duration_seconds_bucket{handler=\"/metrics\",le=\"120\"} 2\n",
            "prometheus_http_request_duration_seconds_bucket{handler=\"/metrics\",le=\"+Inf\"} 3\n",
            "prometheus_http_request_duration_seconds_sum{handler=\"/metrics\"} 200.35\n",
            "prometheus_http_request_duration_seconds_count{handler=\"/metrics\"} 3\n",
        ] {
            assert!(out.contains(line), "{line:?} missing in\n{out}");
        }
    }
}
