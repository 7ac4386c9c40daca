//! OpenMetrics created timestamps (`foo_created` lines of counters, histograms and summaries),
//! found before the samples they date.
//!
//! In OpenMetrics a family's `_created` line comes after the samples it dates (`foo_total`,
//! then `foo_created`), while Prometheus' appender takes the created timestamp before the
//! sample (`AppendCTZeroSample`, then `Append`); its parser peeks ahead per sample. Here one
//! extra pass over the body collects every `_created` value first, and only for OpenMetrics
//! bodies that contain `_created` at all, so every other body pays nothing.

use std::collections::HashMap;

use scrapeline_exposition::{Entry, Format, MetricType, Parser, Series};

/// The suffix of a created-timestamp sample.
const CREATED_SUFFIX: &str = "_created";

/// Labels that tell apart the samples of one histogram or summary, not the series a
/// `_created` line dates.
const GROUP_EXCLUDED: [&str; 2] = ["le", "quantile"];

/// Whether `kind` families carry a created timestamp (Prometheus' `typeRequiresCT`).
fn has_created(kind: MetricType) -> bool {
    matches!(
        kind,
        MetricType::Counter | MetricType::Histogram | MetricType::Summary
    )
}

/// Created timestamps of one body, by family and label group.
#[derive(Debug, Default)]
pub(crate) struct CreatedTimestamps {
    /// Families whose type carries created timestamps, with that type.
    families: HashMap<String, MetricType>,
    /// `family`, then `\u{ff}name=value` per group label, to the created timestamp (ms).
    by_group: HashMap<String, i64>,
}

/// Appends the group key of a series' labels (sorted, without `le`/`quantile`) to `out`.
fn push_group_key(series: &Series<'_>, out: &mut String) {
    let mut pairs: Vec<_> = series
        .labels()
        .filter(|(n, _)| !GROUP_EXCLUDED.contains(&n.as_ref()))
        .collect();
    pairs.sort();
    for (n, v) in pairs {
        out.push('\u{ff}');
        out.push_str(&n);
        out.push('=');
        out.push_str(&v);
    }
}

impl CreatedTimestamps {
    /// Collects the `_created` samples of `body` when it is OpenMetrics and mentions
    /// `_created`; empty otherwise. A body that does not parse yields what came before the
    /// error (the pipeline reports the error itself).
    pub(crate) fn scan(body: &[u8], format: Format) -> Self {
        let mut out = CreatedTimestamps::default();
        if format != Format::OpenMetrics
            || !body
                .windows(CREATED_SUFFIX.len())
                .any(|w| w == CREATED_SUFFIX.as_bytes())
        {
            return out;
        }
        let mut parser = Parser::new(body, format).with_family_checks(false);
        let mut current: Option<String> = None;
        let mut key = String::new();
        while let Ok(Some(entry)) = parser.next_entry() {
            match entry {
                Entry::Type { name, kind } if has_created(kind) => {
                    out.families.insert(name.to_string(), kind);
                    current = Some(name.into_owned());
                }
                Entry::Type { .. } => current = None,
                Entry::Series(s) => {
                    let Some(family) = &current else { continue };
                    if s.name().strip_suffix(CREATED_SUFFIX) != Some(family.as_str()) {
                        continue;
                    }
                    key.clear();
                    key.push_str(family);
                    push_group_key(&s, &mut key);
                    // OpenMetrics timestamps are seconds; Prometheus truncates them to ms.
                    out.by_group.insert(key.clone(), (s.value * 1000.0) as i64);
                }
                _ => {}
            }
        }
        out
    }

    /// Whether the body had no created timestamps.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.by_group.is_empty()
    }

    /// The created timestamp of the family `series` is a sample of (`foo_total`,
    /// `foo_bucket{le="1"}`, `foo{quantile="0.5"}`, …); none for the `_created` sample itself.
    /// `key` is scratch space.
    pub(crate) fn lookup(&self, series: &Series<'_>, key: &mut String) -> Option<i64> {
        let name = series.name();
        let family = self.family_of(&name)?;
        key.clear();
        key.push_str(family);
        push_group_key(series, key);
        self.by_group.get(key.as_str()).copied()
    }

    /// The family `name` is a (non-`_created`) sample name of.
    fn family_of<'n>(&self, name: &'n str) -> Option<&'n str> {
        if self.families.contains_key(name) {
            return Some(name);
        }
        let (stem, suffix) = name.split_at(name.rfind('_')?);
        let kind = self.families.get(stem)?;
        (suffix != CREATED_SUFFIX && kind.suffixes(Format::OpenMetrics).contains(&suffix))
            .then_some(stem)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookups(body: &str) -> Vec<(String, Option<i64>)> {
        let ct = CreatedTimestamps::scan(body.as_bytes(), Format::OpenMetrics);
        let mut p = Parser::new(body.as_bytes(), Format::OpenMetrics);
        let mut key = String::new();
        let mut out = Vec::new();
        while let Ok(Some(e)) = p.next_entry() {
            if let Entry::Series(s) = e {
                let raw = String::from_utf8_lossy(s.raw).into_owned();
                out.push((raw, ct.lookup(&s, &mut key)));
            }
        }
        out
    }

    #[test]
    fn created_lines_date_their_family_samples() {
        let body = "# TYPE c counter\nc_total{a=\"x\"} 1\nc_created{a=\"x\"} 1.5\nc_total{a=\"y\"} 2\n\
# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_count 2\nh_sum 3\nh_created 7\n\
# TYPE g gauge\ng 1\n# EOF\n";
        let want: Vec<(String, Option<i64>)> = [
            ("c_total{a=\"x\"}", Some(1500)),
            ("c_created{a=\"x\"}", None),
            ("c_total{a=\"y\"}", None),
            ("h_bucket{le=\"+Inf\"}", Some(7000)),
            ("h_count", Some(7000)),
            ("h_sum", Some(7000)),
            ("h_created", None),
            ("g", None),
        ]
        .into_iter()
        .map(|(s, t)| (s.to_owned(), t))
        .collect();
        assert_eq!(lookups(body), want);
    }

    #[test]
    fn text_bodies_are_not_scanned() {
        let body = b"# TYPE c counter\nc_total 1\nc_created 1.5\n";
        assert!(CreatedTimestamps::scan(body, Format::Text).is_empty());
    }
}
