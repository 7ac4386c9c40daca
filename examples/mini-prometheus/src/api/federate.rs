//! `/federate`: the newest sample of every selected series in the text format, as Prometheus
//! serves it to another Prometheus.

use scrapeline_exposition::Labels;
use scrapeline_exposition::labels::METRIC_NAME;
use scrapeline_exposition::value::{escape_label_value, format_value, is_stale_nan};

use crate::store::{Matcher, ReadBudget, ReadError, Store};

/// Writes the federation body for `matcher_sets` at time `now` (ms): for each series matching
/// any set, its newest sample in `(now - lookback, now]` unless that is a staleness marker,
/// grouped into `# TYPE <name> untyped` families in label order. `external` labels (and an
/// empty `instance`, as Prometheus does so the federating server keeps series apart) are added
/// to series that lack them. Stops when `budget` runs out.
pub fn write(
    store: &Store,
    matcher_sets: &[Vec<Matcher>],
    now: i64,
    lookback_ms: i64,
    external: &Labels,
    budget: &ReadBudget,
    out: &mut String,
) -> Result<(), ReadError> {
    let mut rows: Vec<(Labels, i64, f64)> = Vec::new();
    for set in matcher_sets {
        rows.extend(store.latest_within(set, now.saturating_sub(lookback_ms - 1), now, budget)?);
    }
    rows.retain(|r| !is_stale_nan(r.2));
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    rows.dedup_by(|a, b| a.0 == b.0);
    let mut ext: Vec<(&str, &str)> = external.iter().map(|l| (l.name, l.value)).collect();
    if !external.contains("instance") {
        ext.push(("instance", ""));
        ext.sort();
    }
    let mut family: Option<String> = None;
    for (labels, t, v) in &rows {
        let Some(name) = labels.metric_name() else {
            continue;
        };
        if family.as_deref() != Some(name) {
            out.push_str("# TYPE ");
            out.push_str(name);
            out.push_str(" untyped\n");
            family = Some(name.to_owned());
        }
        out.push_str(name);
        // Prometheus' order: the series' own labels, then every external label it lacks, in
        // name order; `instance=""` counts as an external label unless one is configured.
        let mut pairs: Vec<(&str, &str)> = labels
            .iter()
            .filter(|l| l.name != METRIC_NAME)
            .map(|l| (l.name, l.value))
            .collect();
        for (n, v) in &ext {
            if !labels.contains(n) {
                pairs.push((n, v));
            }
        }
        if !pairs.is_empty() {
            out.push('{');
            for (i, (n, val)) in pairs.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(n);
                out.push_str("=\"");
                escape_label_value(val, out);
                out.push('"');
            }
            out.push('}');
        }
        out.push(' ');
        format_value(*v, out);
        out.push(' ');
        out.push_str(&t.to_string());
        out.push('\n');
    }
    Ok(())
}
