//! Writing [`MetricFamily`] values in the text format 0.0.4 and in OpenMetrics 1.0.
//!
//! Output follows what Prometheus' Go clients write (values via
//! [`format_value`], `# HELP` then `# TYPE`), and names that are
//! not legacy-valid are quoted as Prometheus 3 does (`{"http.requests","k8s.ns"="a"} 1`), so
//! anything this crate's parser accepts re-encodes and parses back to the same families.
//!
//! ```
//! use scrapeline_exposition::encode::encode_text;
//! use scrapeline_exposition::family::{MetricFamily, Sample};
//! use scrapeline_exposition::labels::Labels;
//! use scrapeline_exposition::parser::MetricType;
//!
//! let mut f = MetricFamily::new("up", MetricType::Gauge);
//! f.help = Some("Whether the target is up.".into());
//! f.samples.push(Sample {
//!     labels: Labels::from_pairs([("__name__", "up"), ("job", "node")]),
//!     value: 1.0,
//!     timestamp_ms: None,
//!     exemplar: None,
//! });
//! let mut out = String::new();
//! encode_text(&[f], &mut out);
//! assert_eq!(out, "# HELP up Whether the target is up.\n# TYPE up gauge\nup{job=\"node\"} 1\n");
//! ```

use std::fmt::Write;

use crate::family::{MetricFamily, OwnedExemplar, Sample};
use crate::labels::{METRIC_NAME, is_legacy_label_name, is_legacy_metric_name};
use crate::parser::Format;
use crate::value::{escape_help, escape_label_value, format_value};

/// Appends `families` in the Prometheus text format 0.0.4. Types the text format lacks
/// (gaugehistogram, info, stateset) are written as `untyped`; units and exemplars are
/// dropped (the format has no place for them).
pub fn encode_text(families: &[MetricFamily], out: &mut String) {
    for f in families {
        write_family(f, Format::Text, out);
    }
}

/// Appends `families` in OpenMetrics 1.0 text, ending with `# EOF`. Timestamps are written in
/// seconds with millisecond precision.
pub fn encode_openmetrics(families: &[MetricFamily], out: &mut String) {
    for f in families {
        write_family(f, Format::OpenMetrics, out);
    }
    out.push_str("# EOF\n");
}

fn write_family(f: &MetricFamily, format: Format, out: &mut String) {
    if let Some(help) = &f.help {
        out.push_str("# HELP ");
        write_metric_name(&f.name, out);
        out.push(' ');
        match format {
            Format::Text => escape_help(help, out),
            Format::OpenMetrics => escape_label_value(help, out),
        }
        out.push('\n');
    }
    out.push_str("# TYPE ");
    write_metric_name(&f.name, out);
    out.push(' ');
    out.push_str(f.kind.as_str(format));
    out.push('\n');
    if format == Format::OpenMetrics
        && let Some(unit) = &f.unit
    {
        out.push_str("# UNIT ");
        write_metric_name(&f.name, out);
        out.push(' ');
        out.push_str(unit);
        out.push('\n');
    }
    for s in &f.samples {
        write_sample(s, format, out);
    }
}

/// A metric name as it appears outside braces in metadata: bare when legacy-valid, else quoted.
fn write_metric_name(name: &str, out: &mut String) {
    if is_legacy_metric_name(name) {
        out.push_str(name);
    } else {
        write_quoted(name, out);
    }
}

fn write_quoted(s: &str, out: &mut String) {
    out.push('"');
    escape_label_value(s, out);
    out.push('"');
}

fn write_label_name(name: &str, out: &mut String) {
    if is_legacy_label_name(name) {
        out.push_str(name);
    } else {
        write_quoted(name, out);
    }
}

fn write_sample(s: &Sample, format: Format, out: &mut String) {
    let name = s.name();
    let legacy = is_legacy_metric_name(name);
    let mut labels = s.labels.iter().filter(|l| l.name != METRIC_NAME).peekable();
    if legacy {
        out.push_str(name);
        if labels.peek().is_some() {
            out.push('{');
        }
    } else {
        out.push('{');
        write_quoted(name, out);
        if labels.peek().is_some() {
            out.push(',');
        }
    }
    let mut any = false;
    for (i, l) in labels.enumerate() {
        any = true;
        if i > 0 {
            out.push(',');
        }
        write_label_name(l.name, out);
        out.push_str("=\"");
        escape_label_value(l.value, out);
        out.push('"');
    }
    if any || !legacy {
        out.push('}');
    }
    out.push(' ');
    format_value(s.value, out);
    if let Some(ts) = s.timestamp_ms {
        out.push(' ');
        match format {
            Format::Text => {
                let _ = write!(out, "{ts}");
            }
            Format::OpenMetrics => write_seconds(ts, out),
        }
    }
    if format == Format::OpenMetrics
        && let Some(e) = &s.exemplar
    {
        write_exemplar(e, out);
    }
    out.push('\n');
}

fn write_exemplar(e: &OwnedExemplar, out: &mut String) {
    out.push_str(" # {");
    for (i, l) in e.labels.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_label_name(l.name, out);
        out.push_str("=\"");
        escape_label_value(l.value, out);
        out.push('"');
    }
    out.push_str("} ");
    format_value(e.value, out);
    if let Some(ts) = e.timestamp_ms {
        out.push(' ');
        write_seconds(ts, out);
    }
}

/// Milliseconds as exact decimal seconds: `1520879607789` → `1520879607.789`, `-500` → `-0.500`.
fn write_seconds(ms: i64, out: &mut String) {
    let abs = ms.unsigned_abs();
    if ms < 0 {
        out.push('-');
    }
    let (s, r) = (abs / 1000, abs % 1000);
    if r == 0 {
        let _ = write!(out, "{s}");
    } else {
        let _ = write!(out, "{s}.{r:03}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labels::Labels;
    use crate::parser::MetricType;

    fn sample(pairs: &[(&str, &str)], value: f64, ts: Option<i64>) -> Sample {
        Sample {
            labels: Labels::from_pairs(pairs.iter().copied()),
            value,
            timestamp_ms: ts,
            exemplar: None,
        }
    }

    #[test]
    fn text_layout() {
        let mut f = MetricFamily::new("http.requests", MetricType::Counter);
        f.help = Some("Requests \\ served\nso far \"quoted\".".into());
        f.samples.push(sample(
            &[
                ("__name__", "http.requests"),
                ("code", "200"),
                ("k8s.ns", "a\"b\\c\nd"),
            ],
            1027.0,
            Some(1395066363000),
        ));
        f.samples
            .push(sample(&[("__name__", "http.requests")], f64::NAN, None));
        let mut out = String::new();
        encode_text(&[f], &mut out);
        assert_eq!(
            out,
            concat!(
                "# HELP \"http.requests\" Requests \\\\ served\\nso far \"quoted\".\n",
                "# TYPE \"http.requests\" counter\n",
                "{\"http.requests\",code=\"200\",\"k8s.ns\"=\"a\\\"b\\\\c\\nd\"} 1027 1395066363000\n",
                "{\"http.requests\"} NaN\n",
            )
        );
    }

    #[test]
    fn openmetrics_layout() {
        let mut f = MetricFamily::new("rpc_seconds", MetricType::Counter);
        f.unit = Some("seconds".into());
        f.help = Some("say \"hi\"".into());
        let mut s = sample(
            &[("__name__", "rpc_seconds_total"), ("m", "get")],
            2.5,
            Some(-500),
        );
        s.exemplar = Some(OwnedExemplar {
            labels: Labels::from_pairs([("trace_id", "abc")]),
            value: 1.0,
            timestamp_ms: Some(1520879607789),
        });
        f.samples.push(s);
        f.samples.push(sample(
            &[("__name__", "rpc_seconds_created"), ("m", "get")],
            1e9,
            Some(2000),
        ));
        let mut out = String::new();
        encode_openmetrics(&[f], &mut out);
        assert_eq!(
            out,
            concat!(
                "# HELP rpc_seconds say \\\"hi\\\"\n",
                "# TYPE rpc_seconds counter\n",
                "# UNIT rpc_seconds seconds\n",
                "rpc_seconds_total{m=\"get\"} 2.5 -0.500 # {trace_id=\"abc\"} 1 1520879607.789\n",
                "rpc_seconds_created{m=\"get\"} 1e+09 2\n",
                "# EOF\n",
            )
        );
    }
}
