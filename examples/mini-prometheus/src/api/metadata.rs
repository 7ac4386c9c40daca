//! `/api/v1/metadata` and `/api/v1/targets/metadata`: the `# TYPE`, `# HELP` and `# UNIT` lines
//! scrapes declared, per target, in Prometheus' JSON shapes (`web/api/v1/api.go`).
//!
//! Prometheus reads both from each active target's scrape cache. Here [`TargetMetadata`] is a
//! second sink of the pipeline: the scrape loop calls `update_metadata` for each new series and
//! after each change, with the series' labels; the series' `job` and `instance` (the target
//! labels every scraped series carries) say which target declared it. The endpoints then walk
//! the active targets, as Prometheus does, and list what their `(job, instance)` declared.
//!
//! Differences from Prometheus: a family a target stopped declaring stays listed while the
//! target is active (Prometheus' scrape cache forgets it after a few scrapes), and two
//! targets with the same `job` and `instance` (possible with `honor_labels`) share one entry.
//! The sink costs the scrape one no-op call per sample (the fan-out's second sink).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, RwLock};

use scrapeline_exposition::Labels;
use scrapeline_exposition::parser::Format;
use scrapeline_scrape::{AppendError, Appendable, Appender, Metadata, SeriesRef};

use super::json;
use super::targets::TargetInfo;
use crate::store::{Matcher, matches_all};

/// The families a target declared, by family name (newest declaration wins).
type Families = BTreeMap<String, Metadata>;

/// Per-target family metadata: a sink that keeps only metadata (samples pass through it
/// untouched). Cheap to clone; all clones share the map.
#[derive(Clone, Default)]
pub struct TargetMetadata {
    by_target: Arc<RwLock<HashMap<(String, String), Families>>>,
}

impl TargetMetadata {
    /// An empty map.
    pub fn new() -> TargetMetadata {
        TargetMetadata::default()
    }

    /// What the target with these labels declared (its `job` and `instance` pick it).
    fn families(&self, target: &Labels) -> Families {
        let key = target_key(target);
        let map = self.by_target.read().unwrap_or_else(|p| p.into_inner());
        map.get(&key).cloned().unwrap_or_default()
    }

    fn record(&self, batch: &mut Vec<((String, String), Metadata)>) {
        let mut map = self.by_target.write().unwrap_or_else(|p| p.into_inner());
        for (key, m) in batch.drain(..) {
            map.entry(key).or_default().insert(m.family.clone(), m);
        }
    }

    /// Forgets targets that are not in `active` any more (called by the endpoints, so that
    /// the map follows the target set without a task of its own).
    fn retain(&self, active: &[TargetInfo]) {
        let keep: BTreeSet<(String, String)> =
            active.iter().map(|t| target_key(&t.labels)).collect();
        let mut map = self.by_target.write().unwrap_or_else(|p| p.into_inner());
        map.retain(|k, _| keep.contains(k));
    }
}

fn target_key(labels: &Labels) -> (String, String) {
    (
        labels.get("job").unwrap_or("").to_owned(),
        labels.get("instance").unwrap_or("").to_owned(),
    )
}

impl Appendable for TargetMetadata {
    fn appender(&self) -> Box<dyn Appender> {
        Box::new(MetadataAppender {
            sink: self.clone(),
            batch: Vec::new(),
        })
    }
}

/// One scrape's metadata updates, recorded on commit.
struct MetadataAppender {
    sink: TargetMetadata,
    batch: Vec<((String, String), Metadata)>,
}

impl Appender for MetadataAppender {
    fn append(
        &mut self,
        series: SeriesRef,
        _labels: &Labels,
        _timestamp_ms: i64,
        _value: f64,
    ) -> Result<SeriesRef, AppendError> {
        Ok(series)
    }

    fn update_metadata(
        &mut self,
        series: SeriesRef,
        labels: &Labels,
        metadata: &Metadata,
    ) -> Result<SeriesRef, AppendError> {
        // A family's series come one after another: keep one copy per run of them.
        if self.batch.last().map(|(_, m)| m) != Some(metadata) {
            self.batch.push((target_key(labels), metadata.clone()));
        }
        Ok(series)
    }

    fn commit(&mut self) -> Result<(), AppendError> {
        if !self.batch.is_empty() {
            self.sink.record(&mut self.batch);
        }
        Ok(())
    }

    fn rollback(&mut self) {
        self.batch.clear();
    }
}

/// Prometheus' type names (`untyped` families read `unknown`, as its parsers report them).
fn type_name(m: &Metadata) -> &'static str {
    m.kind.as_str(Format::OpenMetrics)
}

/// `"type","help","unit"`, the field order of Prometheus' `metricMetadata` (target metadata).
fn write_entry(out: &mut String, m: &Metadata) {
    out.push_str("\"type\":");
    json::string(out, type_name(m));
    out.push_str(",\"help\":");
    json::string(out, &m.help);
    out.push_str(",\"unit\":");
    json::string(out, &m.unit);
}

/// `"type","unit","help"`, the field order of Prometheus 3's `metadata.Metadata` (what
/// `/api/v1/metadata` lists).
fn write_family_entry(out: &mut String, m: &Metadata) {
    out.push_str("\"type\":");
    json::string(out, type_name(m));
    out.push_str(",\"unit\":");
    json::string(out, &m.unit);
    out.push_str(",\"help\":");
    json::string(out, &m.help);
}

/// A `limit`-style parameter: absent or empty is `-1` (no limit), else an integer.
pub fn int_param(value: Option<&str>, name: &str) -> Result<i64, String> {
    match value {
        None | Some("") => Ok(-1),
        Some(s) => s
            .parse::<i64>()
            .map_err(|_| format!("{name} must be a number")),
    }
}

/// The `data` of `/api/v1/metadata`: `{"family":[{"type","help","unit"},…],…}`, the distinct
/// declarations across active targets. `metric` keeps one family; `limit` (negative: all)
/// caps the families, `limit_per_metric` (positive) the declarations per family. Families
/// are sorted by name (Prometheus' map order is random) and declarations in first-seen order.
pub fn write_metric_metadata(
    store: &TargetMetadata,
    active: &[TargetInfo],
    metric: &str,
    limit: i64,
    limit_per_metric: i64,
    out: &mut String,
) {
    store.retain(active);
    let mut families: BTreeMap<String, Vec<Metadata>> = BTreeMap::new();
    for t in active {
        for (name, m) in store.families(&t.labels) {
            if !metric.is_empty() && name != metric {
                continue;
            }
            let list = families.entry(name).or_default();
            if limit_per_metric > 0 && list.len() as i64 >= limit_per_metric {
                continue;
            }
            if !list.iter().any(|x| same_declaration(x, &m)) {
                list.push(m);
            }
        }
    }
    out.push('{');
    for (i, (name, list)) in families.iter().enumerate() {
        if limit >= 0 && i as i64 >= limit {
            break;
        }
        if i > 0 {
            out.push(',');
        }
        json::string(out, name);
        out.push_str(":[");
        for (j, m) in list.iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            out.push('{');
            write_family_entry(out, m);
            out.push('}');
        }
        out.push(']');
    }
    out.push('}');
}

fn same_declaration(a: &Metadata, b: &Metadata) -> bool {
    a.kind == b.kind && a.help == b.help && a.unit == b.unit
}

/// The `data` of `/api/v1/targets/metadata`: `[{"target":{…},"metric":…,"type","help",
/// "unit"},…]` for the active targets matching `match_target` (all when `None`); with
/// `metric`, only that family and without the `metric` key (as Prometheus). `limit`
/// (negative: all) stops adding targets once that many entries are listed.
pub fn write_target_metadata(
    store: &TargetMetadata,
    active: &[TargetInfo],
    match_target: Option<&[Matcher]>,
    metric: &str,
    limit: i64,
    out: &mut String,
) {
    store.retain(active);
    out.push('[');
    let mut n: i64 = 0;
    for t in active {
        if limit >= 0 && n >= limit {
            break;
        }
        if let Some(m) = match_target
            && !matches_all(m, &t.labels)
        {
            continue;
        }
        let families = store.families(&t.labels);
        let mut entry = |out: &mut String, name: Option<&str>, m: &Metadata| {
            if n > 0 {
                out.push(',');
            }
            n += 1;
            out.push_str("{\"target\":");
            json::labels(out, &t.labels);
            if let Some(name) = name {
                out.push_str(",\"metric\":");
                json::string(out, name);
            }
            out.push(',');
            write_entry(out, m);
            out.push('}');
        };
        if metric.is_empty() {
            for (name, m) in &families {
                entry(out, Some(name), m);
            }
        } else if let Some(m) = families.get(metric) {
            entry(out, None, m);
        }
    }
    out.push(']');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Health;
    use scrapeline_exposition::parser::MetricType;
    use std::time::Duration;

    fn l(pairs: &[(&str, &str)]) -> Labels {
        Labels::from_pairs(pairs.iter().copied())
    }

    fn target(job: &str, instance: &str) -> TargetInfo {
        TargetInfo {
            discovered_labels: l(&[("__address__", instance)]),
            labels: l(&[("instance", instance), ("job", job)]),
            scrape_pool: job.into(),
            scrape_url: format!("http://{instance}/metrics"),
            global_url: format!("http://{instance}/metrics"),
            last_error: String::new(),
            last_scrape: None,
            last_scrape_duration: Duration::ZERO,
            health: Health::Up,
            scrape_interval: Duration::from_secs(15),
            scrape_timeout: Duration::from_secs(10),
        }
    }

    fn meta(family: &str, kind: MetricType, help: &str, unit: &str) -> Metadata {
        Metadata {
            family: family.into(),
            kind,
            help: help.into(),
            unit: unit.into(),
        }
    }

    /// Two targets: `a` declares a counter and an untyped family, `b` declares the same
    /// counter with another help text and a gauge with a unit.
    fn fixture() -> (TargetMetadata, Vec<TargetInfo>) {
        let sink = TargetMetadata::new();
        let mut app = sink.appender();
        let sa = l(&[("__name__", "req_total"), ("instance", "a:1"), ("job", "j")]);
        let ua = l(&[("__name__", "odd"), ("instance", "a:1"), ("job", "j")]);
        let sb = l(&[("__name__", "req_total"), ("instance", "b:2"), ("job", "j")]);
        let gb = l(&[
            ("__name__", "temp_celsius"),
            ("instance", "b:2"),
            ("job", "k"),
        ]);
        let gb2 = l(&[
            ("__name__", "temp_celsius"),
            ("instance", "b:2"),
            ("job", "k"),
        ]);
        app.update_metadata(
            1,
            &sa,
            &meta("req_total", MetricType::Counter, "Requests.", ""),
        )
        .unwrap();
        app.update_metadata(2, &ua, &meta("odd", MetricType::Unknown, "", ""))
            .unwrap();
        app.update_metadata(
            3,
            &sb,
            &meta("req_total", MetricType::Counter, "All \"requests\".", ""),
        )
        .unwrap();
        app.update_metadata(
            4,
            &gb,
            &meta("temp_celsius", MetricType::Gauge, "Temperature.", "celsius"),
        )
        .unwrap();
        app.update_metadata(
            5,
            &gb2,
            &meta("temp_celsius", MetricType::Gauge, "Temperature.", "celsius"),
        )
        .unwrap();
        app.commit().unwrap();
        // A rolled-back scrape leaves nothing.
        let mut app = sink.appender();
        app.update_metadata(6, &sa, &meta("gone", MetricType::Gauge, "x", ""))
            .unwrap();
        app.rollback();
        app.commit().unwrap();
        (
            sink,
            vec![target("j", "a:1"), target("j", "b:2"), target("k", "b:2")],
        )
    }

    #[test]
    fn metric_metadata_lists_distinct_declarations_per_family() {
        let (sink, active) = fixture();
        let mut out = String::new();
        write_metric_metadata(&sink, &active, "", -1, -1, &mut out);
        assert_eq!(
            out,
            r#"{"odd":[{"type":"unknown","unit":"","help":""}],"req_total":[{"type":"counter","unit":"","help":"Requests."},{"type":"counter","unit":"","help":"All \"requests\"."}],"temp_celsius":[{"type":"gauge","unit":"celsius","help":"Temperature."}]}"#
        );
        let mut out = String::new();
        write_metric_metadata(&sink, &active, "", 1, -1, &mut out);
        assert_eq!(out, r#"{"odd":[{"type":"unknown","unit":"","help":""}]}"#);
        let mut out = String::new();
        write_metric_metadata(&sink, &active, "req_total", -1, 1, &mut out);
        assert_eq!(
            out,
            r#"{"req_total":[{"type":"counter","unit":"","help":"Requests."}]}"#
        );
        let mut out = String::new();
        write_metric_metadata(&sink, &active, "nope", -1, -1, &mut out);
        assert_eq!(out, "{}");
    }

    #[test]
    fn target_metadata_filters_by_target_and_metric() {
        let (sink, active) = fixture();
        let sel = [Matcher::equal("instance", "b:2")];
        let mut out = String::new();
        write_target_metadata(&sink, &active, Some(&sel), "", -1, &mut out);
        assert_eq!(
            out,
            r#"[{"target":{"instance":"b:2","job":"j"},"metric":"req_total","type":"counter","help":"All \"requests\".","unit":""},{"target":{"instance":"b:2","job":"k"},"metric":"temp_celsius","type":"gauge","help":"Temperature.","unit":"celsius"}]"#
        );
        let mut out = String::new();
        write_target_metadata(&sink, &active, None, "req_total", -1, &mut out);
        assert_eq!(
            out,
            r#"[{"target":{"instance":"a:1","job":"j"},"type":"counter","help":"Requests.","unit":""},{"target":{"instance":"b:2","job":"j"},"type":"counter","help":"All \"requests\".","unit":""}]"#
        );
        let mut out = String::new();
        write_target_metadata(&sink, &active, None, "", 1, &mut out);
        assert_eq!(
            out,
            r#"[{"target":{"instance":"a:1","job":"j"},"metric":"odd","type":"unknown","help":"","unit":""},{"target":{"instance":"a:1","job":"j"},"metric":"req_total","type":"counter","help":"Requests.","unit":""}]"#
        );
    }

    #[test]
    fn vanished_targets_are_forgotten() {
        let (sink, active) = fixture();
        let mut out = String::new();
        write_metric_metadata(&sink, &active[..1], "", -1, -1, &mut out);
        write_metric_metadata(&sink, &active, "temp_celsius", -1, -1, &mut out);
        assert!(out.ends_with("{}"), "{out}");
    }

    #[test]
    fn limits_parse_like_prometheus() {
        assert_eq!(int_param(None, "limit"), Ok(-1));
        assert_eq!(int_param(Some(""), "limit"), Ok(-1));
        assert_eq!(int_param(Some("3"), "limit"), Ok(3));
        assert_eq!(
            int_param(Some("x"), "limit_per_metric"),
            Err("limit_per_metric must be a number".to_owned())
        );
    }
}
