//! An owned model of a parsed body (families of samples) and [`parse_families`], which builds it.
//!
//! The pull [`Parser`] is what the scrape path uses; this model is for everything that wants a
//! whole body at once and can afford to own it: the `parse` CLI, golden-file tests, the
//! encoder's input, the cgroup collector's output.
//!
//! ```
//! use scrapeline_exposition::family::parse_families;
//! use scrapeline_exposition::parser::{Format, MetricType};
//!
//! let body = b"# HELP up Whether the target is up.\n# TYPE up gauge\nup{job=\"node\"} 1\n";
//! let families = parse_families(body, Format::Text).unwrap();
//! assert_eq!(families[0].name, "up");
//! assert_eq!(families[0].kind, MetricType::Gauge);
//! assert_eq!(families[0].help.as_deref(), Some("Whether the target is up."));
//! assert_eq!(families[0].samples[0].labels.get("job"), Some("node"));
//! ```

use std::borrow::Cow;

use crate::labels::{Labels, METRIC_NAME};
use crate::parser::{Entry, Format, MetricType, ParseError, Parser};

/// One metric family: metadata and its samples in input order.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricFamily {
    /// The family name (for an OpenMetrics counter `foo`, samples are `foo_total`).
    pub name: String,
    /// The `# HELP` text, unescaped; `None` when there was no HELP line.
    pub help: Option<String>,
    /// The declared type; [`MetricType::Unknown`] without a `# TYPE` line.
    pub kind: MetricType,
    /// The `# UNIT` (OpenMetrics only).
    pub unit: Option<String>,
    /// The samples, in input order.
    pub samples: Vec<Sample>,
}

impl MetricFamily {
    /// An empty family of `kind` named `name`.
    pub fn new(name: impl Into<String>, kind: MetricType) -> Self {
        MetricFamily {
            name: name.into(),
            help: None,
            kind,
            unit: None,
            samples: Vec::new(),
        }
    }

    /// Whether a sample called `sample` belongs to this family in `format` (the family name
    /// plus one of the suffixes its type allows).
    pub fn accepts(&self, sample: &str, format: Format) -> bool {
        sample
            .strip_prefix(self.name.as_str())
            .is_some_and(|rest| self.kind.suffixes(format).contains(&rest))
    }
}

/// One sample, owned.
#[derive(Debug, Clone)]
pub struct Sample {
    /// All labels including `__name__`, sorted, as written: a label with an empty value is
    /// kept (Prometheus treats it as absent when ingesting; filter with `value.is_empty()`).
    pub labels: Labels,
    /// The value.
    pub value: f64,
    /// The explicit timestamp in milliseconds, if any.
    pub timestamp_ms: Option<i64>,
    /// The exemplar, if any (OpenMetrics).
    pub exemplar: Option<OwnedExemplar>,
}

impl Sample {
    /// The metric name (`__name__`), or `""` when the labels lack it.
    pub fn name(&self) -> &str {
        self.labels.metric_name().unwrap_or("")
    }
}

/// Values compare equal when they are equal numbers or both NaN (any payload): what a
/// round trip through the text formats preserves.
fn same_value(a: f64, b: f64) -> bool {
    a == b || (a.is_nan() && b.is_nan())
}

impl PartialEq for Sample {
    fn eq(&self, other: &Self) -> bool {
        self.labels == other.labels
            && same_value(self.value, other.value)
            && self.timestamp_ms == other.timestamp_ms
            && self.exemplar == other.exemplar
    }
}

/// An exemplar, owned.
#[derive(Debug, Clone)]
pub struct OwnedExemplar {
    /// The exemplar labels, sorted.
    pub labels: Labels,
    /// The exemplar value.
    pub value: f64,
    /// The exemplar timestamp in milliseconds, if any.
    pub timestamp_ms: Option<i64>,
}

impl PartialEq for OwnedExemplar {
    fn eq(&self, other: &Self) -> bool {
        self.labels == other.labels
            && same_value(self.value, other.value)
            && self.timestamp_ms == other.timestamp_ms
    }
}

/// Parses a whole body into families.
///
/// Metadata lines open a family (or complete the one just opened for the same name); a sample
/// joins the current family when its name is the family name plus a suffix the family's type
/// allows in `format` (`_bucket`, `_sum`, `_count` for a histogram, ...), and otherwise opens
/// an untyped family of its own, as Prometheus groups metadata.
pub fn parse_families(body: &[u8], format: Format) -> Result<Vec<MetricFamily>, ParseError> {
    let mut families: Vec<MetricFamily> = Vec::new();
    let mut parser = Parser::new(body, format);
    while let Some(entry) = parser.next_entry()? {
        let meta_family = |families: &mut Vec<MetricFamily>, name: &str| -> usize {
            match families.last() {
                Some(f) if f.name == name && f.samples.is_empty() => {}
                _ => families.push(MetricFamily::new(name, MetricType::Unknown)),
            }
            families.len() - 1
        };
        match entry {
            Entry::Help { name, text } => {
                let i = meta_family(&mut families, &name);
                families[i].help = Some(text.into_owned());
            }
            Entry::Type { name, kind } => {
                let i = meta_family(&mut families, &name);
                families[i].kind = kind;
            }
            Entry::Unit { name, unit } => {
                let i = meta_family(&mut families, &name);
                families[i].unit = Some(unit.into_owned());
            }
            Entry::Series(s) => {
                let name = s.name();
                if !families.last().is_some_and(|f| f.accepts(&name, format)) {
                    families.push(MetricFamily::new(name.as_ref(), MetricType::Unknown));
                }
                // As written, empty values included: the model mirrors the exposition so that
                // it re-encodes to the same body (Prometheus drops empty labels on ingestion;
                // `Series::write_labels` does too).
                let labels = Labels::from_pairs(
                    std::iter::once((Cow::Borrowed(METRIC_NAME), s.name())).chain(s.labels()),
                );
                let exemplar = s.exemplar.map(|e| OwnedExemplar {
                    labels: Labels::from_pairs(e.labels),
                    value: e.value,
                    timestamp_ms: e.timestamp_ms,
                });
                if let Some(f) = families.last_mut() {
                    f.samples.push(Sample {
                        labels,
                        value: s.value,
                        timestamp_ms: s.timestamp_ms,
                        exemplar,
                    });
                }
            }
            Entry::Comment(_) | Entry::Eof => {}
        }
    }
    Ok(families)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_histograms_and_splits_untyped() {
        let body = concat!(
            "# HELP h Latency.\n# TYPE h histogram\n",
            "h_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 3\nh_count 2\n",
            "loose 1\nloose_sum 2\n# HELP g x\n# TYPE g gauge\ng 7 100\n",
        );
        let f = parse_families(body.as_bytes(), Format::Text).unwrap();
        let shape: Vec<_> = f
            .iter()
            .map(|f| (f.name.as_str(), f.kind, f.samples.len()))
            .collect();
        assert_eq!(
            shape,
            vec![
                ("h", MetricType::Histogram, 4),
                ("loose", MetricType::Unknown, 1),
                ("loose_sum", MetricType::Unknown, 1),
                ("g", MetricType::Gauge, 1),
            ]
        );
        assert_eq!(f[3].help.as_deref(), Some("x"));
        assert_eq!(f[3].samples[0].timestamp_ms, Some(100));
        assert_eq!(
            f[0].samples[1].labels,
            Labels::from_pairs([("__name__", "h_bucket"), ("le", "+Inf")])
        );
    }

    #[test]
    fn openmetrics_counter_family() {
        let body = "# TYPE c counter\n# UNIT c \nc_total 1 # {t=\"x\"} 2 3\nc_created 5\n# EOF\n";
        let f = parse_families(body.as_bytes(), Format::OpenMetrics).unwrap();
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].unit.as_deref(), Some(""));
        assert_eq!(f[0].samples.len(), 2);
        assert_eq!(
            f[0].samples[0].exemplar,
            Some(OwnedExemplar {
                labels: Labels::from_pairs([("t", "x")]),
                value: 2.0,
                timestamp_ms: Some(3000)
            })
        );
    }

    #[test]
    fn empty_label_values_are_kept_so_output_re_parses() {
        let body = "# TYPE a stateset\na{a=\"\"} 0\n# EOF\n";
        let f = parse_families(body.as_bytes(), Format::OpenMetrics).unwrap();
        let mut out = String::new();
        crate::encode::encode_openmetrics(&f, &mut out);
        assert_eq!(out, "# TYPE a stateset\na{a=\"\"} 0\n# EOF\n");
        assert_eq!(
            parse_families(out.as_bytes(), Format::OpenMetrics).unwrap(),
            f
        );
    }

    #[test]
    fn errors_pass_through() {
        let e = parse_families(b"a{b=1} 1\n", Format::Text).unwrap_err();
        assert_eq!(e.line, 1);
        assert_eq!(e.column, 5);
    }
}
