//! The store's state under the names of Prometheus' TSDB head (`prometheus_tsdb_head_*`), so
//! that the prometheus-mixin dashboards' series, sample and chunk panels read it.

use std::fmt::Write;
use std::sync::atomic::Ordering;

use super::Store;

impl Store {
    /// Appends the `prometheus_tsdb_head_*` families that the store has a counterpart for.
    ///
    /// `prometheus_tsdb_head_min_time` is the oldest time the store accepts (the newest
    /// sample less the retention), as Prometheus' head reports the start of what it holds.
    pub fn write_head_metrics(&self, out: &mut String) {
        let st = self.stats();
        let i = &self.inner;
        let max_t = self.max_time();
        let min_t = max_t.map(|t| t.saturating_sub(i.retention_ms));
        // Prometheus reports math.MaxInt64 / MinInt64 for an empty head.
        let (min_ms, max_ms) = (min_t.unwrap_or(i64::MAX), max_t.unwrap_or(i64::MIN));
        let c = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed) as f64;
        let rows: [(&str, &str, &str, f64); 9] = [
            (
                "prometheus_tsdb_head_series",
                "gauge",
                "Total number of series in the head block.",
                st.series as f64,
            ),
            (
                "prometheus_tsdb_head_series_created_total",
                "counter",
                "Total number of series created in the head",
                c(&i.series_created),
            ),
            (
                "prometheus_tsdb_head_series_removed_total",
                "counter",
                "Total number of series removed in the head",
                c(&i.series_removed),
            ),
            (
                "prometheus_tsdb_head_chunks",
                "gauge",
                "Total number of chunks in the head block.",
                st.chunks as f64,
            ),
            (
                "prometheus_tsdb_head_min_time",
                "gauge",
                "Minimum time bound of the head block. The unit is decided by the library consumer.",
                min_ms as f64,
            ),
            (
                "prometheus_tsdb_head_max_time",
                "gauge",
                "Maximum timestamp of the head block. The unit is decided by the library consumer.",
                max_ms as f64,
            ),
            (
                "prometheus_tsdb_head_min_time_seconds",
                "gauge",
                "Minimum time bound of the head block.",
                (min_ms / 1000) as f64,
            ),
            (
                "prometheus_tsdb_head_max_time_seconds",
                "gauge",
                "Maximum timestamp of the head block.",
                (max_ms / 1000) as f64,
            ),
            (
                "prometheus_tsdb_out_of_order_samples_total",
                "counter",
                "Total number of out of order samples ingestion failed attempts due to out of order being disabled.",
                c(&i.out_of_order),
            ),
        ];
        for (name, kind, help, v) in rows {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            out.push_str(name);
            out.push(' ');
            scrapeline_exposition::value::format_value(v, out);
            out.push('\n');
        }
        let name = "prometheus_tsdb_head_samples_appended_total";
        let _ = writeln!(
            out,
            "# HELP {name} Total number of appended samples.\n# TYPE {name} counter\n\
             {name}{{type=\"float\"}} {}\n{name}{{type=\"histogram\"}} 0",
            i.appended.load(Ordering::Relaxed)
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::store::{Store, StoreConfig};
    use scrapeline_exposition::Labels;
    use scrapeline_scrape::Appendable as _;

    #[test]
    fn head_metrics_follow_the_store() {
        let store = Store::new(StoreConfig::default());
        let mut app = store.appender();
        let l = Labels::from_pairs([("__name__", "x")]);
        app.append(0, &l, 10_000, 1.0).unwrap();
        app.append(0, &l, 20_000, 2.0).unwrap();
        app.commit().unwrap();
        let mut out = String::new();
        store.write_head_metrics(&mut out);
        for line in [
            "prometheus_tsdb_head_series 1\n",
            "prometheus_tsdb_head_series_created_total 1\n",
            "prometheus_tsdb_head_chunks 1\n",
            "prometheus_tsdb_head_max_time 20000\n",
            "prometheus_tsdb_head_max_time_seconds 20\n",
            "prometheus_tsdb_head_samples_appended_total{type=\"float\"} 2\n",
            "# TYPE prometheus_tsdb_head_samples_appended_total counter\n",
        ] {
            assert!(out.contains(line), "{line:?} missing in\n{out}");
        }
    }
}
