//! The per-scrape sample pipeline and the per-target scrape cache (Prometheus'
//! `scrapeLoop.append`, `scrapeCache`, `mutateSampleLabels`, limits and staleness).
//!
//! Synchronous and I/O-free: it takes a body that was already read and an [`Appender`], so
//! it can be tested and benchmarked on its own. A line seen in an earlier scrape is found in
//! the cache by its raw bytes ([`Series::raw`], through their 128-bit hash) and skips label
//! parsing, relabeling, checks and label hashing.

use std::sync::Arc;

use scrapeline_exposition::labels::{METRIC_NAME, is_legacy_label_name, is_legacy_metric_name};
use scrapeline_exposition::value::{is_stale_nan, stale_nan};
use scrapeline_exposition::{Entry, Format, Labels, LabelsBuilder, ParseError, Parser, Series};
use scrapeline_sd::relabel::{Rule, relabel};

use crate::append::{AppendError, Appender, Exemplar, SeriesRef};
use crate::config::ValidationScheme;
use crate::created::CreatedTimestamps;
use crate::duration::go_quote;
use crate::family_meta::{FamilyMetadata, MetadataLine};
use crate::series_table::{Entry as CacheEntry, SeriesTable};

/// How far in the future a sample timestamp may be (Prometheus' `maxAheadTime`).
pub const MAX_AHEAD_MS: i64 = 10 * 60 * 1000;

/// The per-job settings the pipeline applies to every series.
#[derive(Debug, Clone, Default)]
pub struct PipelineConfig {
    /// `honor_labels`.
    pub honor_labels: bool,
    /// `honor_timestamps`.
    pub honor_timestamps: bool,
    /// `track_timestamps_staleness`.
    pub track_timestamps_staleness: bool,
    /// Compiled `metric_relabel_configs`.
    pub metric_relabel: Arc<Vec<Rule>>,
    /// `sample_limit` (0 = none).
    pub sample_limit: usize,
    /// `label_limit` (0 = none).
    pub label_limit: usize,
    /// `label_name_length_limit` (0 = none).
    pub label_name_length_limit: usize,
    /// `label_value_length_limit` (0 = none).
    pub label_value_length_limit: usize,
    /// Name validation.
    pub validation: ValidationScheme,
}

/// Counts one append pass produces, as the report series show them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AppendStats {
    /// Samples parsed (`scrape_samples_scraped`).
    pub total: usize,
    /// Samples after metric relabeling (`scrape_samples_post_metric_relabeling`).
    pub added: usize,
    /// New series appended (`scrape_series_added`).
    pub series_added: usize,
    /// Samples the store refused as out of order (dropped, scrape not failed).
    pub out_of_order: usize,
    /// Duplicate samples (same raw series twice, or refused by the store) dropped.
    pub duplicates: usize,
    /// Samples too old or too far in the future, dropped.
    pub out_of_bounds: usize,
}

/// Why an append pass failed (the whole scrape then fails). The texts are Prometheus'.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PipelineError {
    /// The body did not parse; where (line, column) and why.
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// `sample_limit` exceeded.
    #[error("sample limit exceeded")]
    SampleLimit,
    /// `label_limit` / `label_*_length_limit` exceeded.
    #[error(transparent)]
    LabelLimit(#[from] LabelLimitError),
    /// A series without `__name__` after relabeling.
    #[error("missing metric name (__name__ label)")]
    MissingName,
    /// Names invalid under the job's validation scheme: the offending label set.
    #[error("invalid metric name or label names: {0}")]
    InvalidNames(Labels),
    /// The store failed (anything but the refusals that only drop a sample).
    #[error(transparent)]
    Store(#[from] AppendError),
}

/// Which label limit a series broke (Prometheus' `verifyLabelLimits` messages). Names and
/// values are cut to 50 characters, as Prometheus prints them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LabelLimitError {
    /// More labels than `label_limit`.
    #[error("label_limit exceeded (metric: {metric}, number of labels: {count}, limit: {limit})")]
    Count {
        /// The series' metric name.
        metric: String,
        /// Its number of labels.
        count: usize,
        /// The limit.
        limit: usize,
    },
    /// A label name longer than `label_name_length_limit`.
    #[error(
        "label_name_length_limit exceeded (metric: {metric}, label name: {name}, length: {length}, limit: {limit})"
    )]
    NameLength {
        /// The series' metric name.
        metric: String,
        /// The label name.
        name: String,
        /// Its length in bytes.
        length: usize,
        /// The limit.
        limit: usize,
    },
    /// A label value longer than `label_value_length_limit`.
    #[error(
        "label_value_length_limit exceeded (metric: {metric}, label name: {name}, value: {}, length: {length}, limit: {limit})",
        go_quote(value)
    )]
    ValueLength {
        /// The series' metric name.
        metric: String,
        /// The label name.
        name: String,
        /// The value (cut).
        value: String,
        /// Its length in bytes.
        length: usize,
        /// The limit.
        limit: usize,
    },
}

/// The report series' cached label sets and refs.
#[derive(Debug, Default)]
struct ReportCache {
    labels: Vec<(String, Labels, SeriesRef)>,
}

/// A target's scrape cache: raw series bytes (by 128-bit hash) to final labels and store ref,
/// plus which series the current and previous scrape appended (for staleness).
///
/// Staleness is tracked per entry with iteration numbers instead of Prometheus' two hash sets
/// (`seriesCur`/`seriesPrev`): a series appended in the previous iteration and not in this one
/// is stale. The observable difference: two different raw lines that relabel to the same
/// label set are tracked separately (Prometheus tracks them as one).
#[derive(Debug)]
pub struct ScrapeCache {
    /// Starts at 1 so that `tracked_iter == 0` means "never tracked"; wraps to 1, not 0.
    iter: u32,
    successful_count: usize,
    series: SeriesTable,
    report: ReportCache,
    /// The target's metric families (`# TYPE`/`# HELP`/`# UNIT`).
    metadata: FamilyMetadata,
}

/// Reusable buffers for one loop.
#[derive(Debug, Default)]
pub struct Scratch {
    lb: LabelsBuilder,
    conflicts: Vec<(String, String)>,
    name: String,
    /// Created-timestamp lookup key.
    created_key: String,
}

/// What the append of one sample needs besides the sample, gathered once per scrape.
struct SampleCtx<'c> {
    cfg: &'c PipelineConfig,
    max_time: i64,
}

/// Hands a sample's exemplar to the appender (after the sample's append, as Prometheus does).
/// Store refusals of exemplars never fail a scrape (Prometheus only logs them).
#[cold]
fn append_exemplar(
    app: &mut dyn Appender,
    series_ref: SeriesRef,
    lset: &Labels,
    ex: &scrapeline_exposition::Exemplar<'_>,
) {
    let exemplar = Exemplar {
        labels: Labels::from_pairs(ex.labels.iter().map(|(n, v)| (n.as_ref(), v.as_ref()))),
        value: ex.value,
        timestamp_ms: ex.timestamp_ms,
    };
    let _ = app.append_exemplar(series_ref, lset, &exemplar);
}

fn truncate_runes(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// Prometheus' `verifyLabelLimits`, on the final label set.
fn verify_label_limits(lb: &LabelsBuilder, cfg: &PipelineConfig) -> Result<(), PipelineError> {
    let met = lb.get(METRIC_NAME).unwrap_or("");
    if cfg.label_limit > 0 && lb.len() > cfg.label_limit {
        return Err(LabelLimitError::Count {
            metric: truncate_runes(met, 50).to_owned(),
            count: lb.len(),
            limit: cfg.label_limit,
        }
        .into());
    }
    if cfg.label_name_length_limit == 0 && cfg.label_value_length_limit == 0 {
        return Ok(());
    }
    for l in lb.iter() {
        if cfg.label_name_length_limit > 0 && l.name.len() > cfg.label_name_length_limit {
            return Err(LabelLimitError::NameLength {
                metric: truncate_runes(met, 50).to_owned(),
                name: truncate_runes(l.name, 50).to_owned(),
                length: l.name.len(),
                limit: cfg.label_name_length_limit,
            }
            .into());
        }
        if cfg.label_value_length_limit > 0 && l.value.len() > cfg.label_value_length_limit {
            return Err(LabelLimitError::ValueLength {
                metric: truncate_runes(met, 50).to_owned(),
                name: truncate_runes(l.name, 50).to_owned(),
                value: truncate_runes(l.value, 50).to_owned(),
                length: l.value.len(),
                limit: cfg.label_value_length_limit,
            }
            .into());
        }
    }
    Ok(())
}

/// Attaches target labels as Prometheus' `mutateSampleLabels` does (before metric relabeling).
fn attach_target_labels(
    lb: &mut LabelsBuilder,
    conflicts: &mut Vec<(String, String)>,
    name: &mut String,
    target: &Labels,
    honor: bool,
) {
    if honor {
        for l in target {
            if lb.get(l.name).is_none() {
                lb.set(l.name, l.value);
            }
        }
        return;
    }
    conflicts.clear();
    for l in target {
        if let Some(existing) = lb.get(l.name)
            && !existing.is_empty()
        {
            conflicts.push((l.name.to_owned(), existing.to_owned()));
        }
        lb.set(l.name, l.value);
    }
    if conflicts.is_empty() {
        return;
    }
    conflicts.sort_by_key(|(n, _)| n.len());
    for (n, v) in conflicts.iter() {
        name.clear();
        name.push_str(n);
        loop {
            name.insert_str(0, "exported_");
            if lb.get(name).is_none_or(str::is_empty) {
                lb.set(name, v);
                break;
            }
        }
    }
}

fn names_valid(lb: &LabelsBuilder, scheme: ValidationScheme) -> bool {
    match scheme {
        ValidationScheme::Utf8 => lb.iter().all(|l| !l.name.is_empty()),
        ValidationScheme::Legacy => lb.iter().all(|l| {
            if l.name == METRIC_NAME {
                is_legacy_metric_name(l.value)
            } else {
                is_legacy_label_name(l.name)
            }
        }),
    }
}

impl Default for ScrapeCache {
    fn default() -> Self {
        Self::new()
    }
}

impl ScrapeCache {
    /// An empty cache.
    pub fn new() -> Self {
        ScrapeCache {
            iter: 1,
            successful_count: 0,
            series: SeriesTable::default(),
            report: ReportCache::default(),
            metadata: FamilyMetadata::default(),
        }
    }

    /// Number of cached raw series (including dropped ones).
    pub fn len(&self) -> usize {
        self.series.len()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.series.is_empty()
    }

    /// Metric families whose metadata the cache holds, and the bytes of their strings
    /// (`prometheus_target_metadata_cache_entries` / `_bytes`).
    pub fn metadata_usage(&self) -> (usize, usize) {
        (self.metadata.len(), self.metadata.bytes())
    }

    fn iter_done(&mut self, flush: bool) {
        let count = self.series.len();
        let mut flush = flush;
        if flush {
            self.successful_count = count;
        } else if count > self.successful_count * 2 + 1000 {
            flush = true;
        }
        if flush {
            let iter = self.iter;
            self.series.retain(|e| e.last_iter == iter);
            self.metadata.forget_old(iter);
        }
        self.iter = self.iter.checked_add(1).unwrap_or(1);
    }

    fn update_stale_markers(
        &mut self,
        app: &mut dyn Appender,
        ts: i64,
    ) -> Result<(), PipelineError> {
        // Iterations wrap from `u32::MAX` to 1; before the first wrap no entry was tracked
        // in iteration `u32::MAX`, so the first iteration finds nothing to mark.
        let prev = if self.iter == 1 {
            u32::MAX
        } else {
            self.iter - 1
        };
        for e in self.series.values() {
            if e.tracked_iter != prev {
                continue;
            }
            let Some(lset) = &e.labels else { continue };
            match app.append(e.series_ref, lset, ts, stale_nan()) {
                Ok(_) | Err(AppendError::OutOfOrder) | Err(AppendError::Duplicate) => {}
                Err(e) => return Err(PipelineError::Store(e)),
            }
        }
        Ok(())
    }

    /// An empty (or failed) scrape: stale markers for every series of the previous scrape not
    /// seen in this one, then the cache is rotated without being flushed.
    pub fn append_empty(&mut self, app: &mut dyn Appender, ts: i64) -> Result<(), PipelineError> {
        let r = self.update_stale_markers(app, ts);
        self.iter_done(false);
        r
    }

    /// Runs one scrape's body through the pipeline into `app`. On error the caller rolls the
    /// appender back and calls [`append_empty`](Self::append_empty) on a fresh one, as
    /// Prometheus does. The stats are valid in both cases.
    #[allow(clippy::too_many_arguments)]
    pub fn append_body(
        &mut self,
        cfg: &PipelineConfig,
        target: &Labels,
        body: &[u8],
        format: Format,
        default_ts: i64,
        app: &mut dyn Appender,
        scratch: &mut Scratch,
    ) -> (AppendStats, Result<(), PipelineError>) {
        let mut stats = AppendStats::default();
        if body.is_empty() {
            let r = self.append_empty(app, default_ts);
            return (stats, r);
        }
        let res = self.append_inner(
            cfg, target, body, format, default_ts, app, scratch, &mut stats,
        );
        let res = res.and_then(|()| self.update_stale_markers(app, default_ts));
        if res.is_ok() {
            self.iter_done(true);
        }
        (stats, res)
    }

    #[allow(clippy::too_many_arguments)]
    fn append_inner(
        &mut self,
        cfg: &PipelineConfig,
        target: &Labels,
        body: &[u8],
        format: Format,
        default_ts: i64,
        app: &mut dyn Appender,
        scratch: &mut Scratch,
        stats: &mut AppendStats,
    ) -> Result<(), PipelineError> {
        let mut parser = Parser::new(body, format);
        let ctx = SampleCtx {
            cfg,
            max_time: default_ts.saturating_add(MAX_AHEAD_MS),
        };
        let created = CreatedTimestamps::scan(body, format);
        let mut limit_count = 0usize;
        let mut sample_limit_hit = false;
        let iter = self.iter;
        self.series.rewind();
        loop {
            let series = match parser.next_entry() {
                Ok(Some(Entry::Series(s))) => s,
                Ok(Some(Entry::Eof)) | Ok(None) => break,
                Ok(Some(Entry::Type { name, kind })) => {
                    self.metadata.set(&name, MetadataLine::Type(kind), iter);
                    continue;
                }
                Ok(Some(Entry::Help { name, text })) => {
                    self.metadata.set(&name, MetadataLine::Help(&text), iter);
                    continue;
                }
                Ok(Some(Entry::Unit { name, unit })) => {
                    self.metadata.set(&name, MetadataLine::Unit(&unit), iter);
                    continue;
                }
                Ok(Some(_)) => continue,
                Err(e) => return Err(PipelineError::Parse(e)),
            };
            stats.total += 1;
            let parsed_ts = if cfg.honor_timestamps {
                series.timestamp_ms
            } else {
                None
            };
            let t = parsed_ts.unwrap_or(default_ts);

            let hash = xxhash_rust::xxh3::xxh3_128(series.raw);
            let (key, check) = (hash as u64, (hash >> 64) as u64);
            let track = parsed_ts.is_none() || cfg.track_timestamps_staleness;
            let created_ms = if created.is_empty() {
                None
            } else {
                created.lookup(&series, &mut scratch.created_key)
            };

            // Fast path: a raw series seen before (the steady state). An entry with this key
            // but other check bits is a 64-bit collision: that line is not cached.
            let (cached, collision) = match self.series.get_mut(key) {
                Some(e) if e.check == check => (Some(e), false),
                Some(_) => (None, true),
                None => (None, false),
            };
            if let Some(e) = cached {
                let already = e.last_iter == iter;
                e.last_iter = iter;
                let Some(lset) = &e.labels else { continue };
                stats.added += 1;
                if already && parsed_ts.is_none() {
                    stats.duplicates += 1;
                    continue;
                }
                if let Some(r) = Self::append_checked(
                    &ctx,
                    app,
                    e.series_ref,
                    lset,
                    t,
                    &series,
                    created_ms,
                    &mut limit_count,
                    &mut sample_limit_hit,
                    stats,
                )? {
                    e.series_ref = r;
                    if track {
                        e.tracked_iter = iter;
                    }
                    // Only in a scrape that changed some family's metadata: the steady state
                    // pays one comparison here.
                    if self.metadata.changed_in(iter)
                        && let Some(m) = self.metadata.changed_for(lset, format, iter)
                    {
                        let _ = app.update_metadata(r, lset, m);
                    }
                }
                continue;
            }

            // Slow path: a new raw series.
            let lb = &mut scratch.lb;
            parser.write_labels(&series, lb);
            attach_target_labels(
                lb,
                &mut scratch.conflicts,
                &mut scratch.name,
                target,
                cfg.honor_labels,
            );
            let keep = cfg.metric_relabel.is_empty() || relabel(&cfg.metric_relabel, lb);
            if !keep || lb.is_empty() {
                if !collision {
                    self.series.insert(CacheEntry {
                        key,
                        check,
                        labels: None,
                        series_ref: 0,
                        last_iter: iter,
                        tracked_iter: 0,
                    });
                }
                continue;
            }
            if lb.get(METRIC_NAME).is_none() {
                return Err(PipelineError::MissingName);
            }
            if !names_valid(lb, cfg.validation) {
                return Err(PipelineError::InvalidNames(lb.labels()));
            }
            verify_label_limits(lb, cfg)?;
            let lset = lb.labels();
            stats.added += 1;
            let r = Self::append_checked(
                &ctx,
                app,
                0,
                &lset,
                t,
                &series,
                created_ms,
                &mut limit_count,
                &mut sample_limit_hit,
                stats,
            )?;
            if let Some(r) = r {
                // A new series of the cache: its family's metadata, whether or not it changed.
                if let Some(m) = self.metadata.family_of(&lset, format) {
                    let _ = app.update_metadata(r, &lset, m);
                }
                if !collision {
                    self.series.insert(CacheEntry {
                        key,
                        check,
                        labels: Some(lset),
                        series_ref: r,
                        last_iter: iter,
                        tracked_iter: if track { iter } else { 0 },
                    });
                    if !sample_limit_hit {
                        stats.series_added += 1;
                    }
                }
            }
        }
        if sample_limit_hit {
            return Err(PipelineError::SampleLimit);
        }
        Ok(())
    }

    /// Applies `sample_limit` and the future-timestamp bound, then appends: the created
    /// timestamp first (when the body had one for the series), the sample, then its exemplar.
    /// `Ok(Some(ref))` when stored, `Ok(None)` when dropped (and counted), `Err` when the
    /// store failed.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    fn append_checked(
        ctx: &SampleCtx<'_>,
        app: &mut dyn Appender,
        mut sref: SeriesRef,
        lset: &Labels,
        t: i64,
        series: &Series<'_>,
        created_ms: Option<i64>,
        limit_count: &mut usize,
        sample_limit_hit: &mut bool,
        stats: &mut AppendStats,
    ) -> Result<Option<SeriesRef>, PipelineError> {
        let value = series.value;
        if ctx.cfg.sample_limit > 0 && !is_stale_nan(value) {
            *limit_count += 1;
            if *limit_count > ctx.cfg.sample_limit {
                *sample_limit_hit = true;
                return Ok(None);
            }
        }
        let res = if t > ctx.max_time {
            Err(AppendError::OutOfBounds)
        } else {
            if let Some(ct) = created_ms {
                // Prometheus only logs a refused created timestamp.
                if let Ok(r) = app.append_created_timestamp(sref, lset, t, ct) {
                    sref = r;
                }
            }
            app.append(sref, lset, t, value)
        };
        match res {
            Ok(r) => {
                if let Some(ex) = &series.exemplar {
                    append_exemplar(app, r, lset, ex);
                }
                Ok(Some(r))
            }
            Err(AppendError::OutOfOrder) => {
                stats.out_of_order += 1;
                Ok(None)
            }
            Err(AppendError::Duplicate) => {
                stats.duplicates += 1;
                Ok(None)
            }
            Err(AppendError::OutOfBounds) => {
                stats.out_of_bounds += 1;
                Ok(None)
            }
            Err(e) => Err(PipelineError::Store(e)),
        }
    }

    fn report_entry(&mut self, name: &str, target: &Labels) -> usize {
        if let Some(i) = self.report.labels.iter().position(|(n, _, _)| n == name) {
            return i;
        }
        let mut lb = LabelsBuilder::from_labels(target);
        lb.set(METRIC_NAME, name);
        self.report.labels.push((name.to_owned(), lb.labels(), 0));
        self.report.labels.len() - 1
    }

    /// Appends one report sample (`up`, `scrape_duration_seconds`, …) with the target's
    /// public labels; out-of-order and duplicate refusals are ignored, as Prometheus does.
    pub fn append_report(
        &mut self,
        app: &mut dyn Appender,
        target: &Labels,
        name: &str,
        ts: i64,
        value: f64,
    ) -> Result<(), AppendError> {
        let i = self.report_entry(name, target);
        let Some(e) = self.report.labels.get_mut(i) else {
            return Ok(());
        };
        match app.append(e.2, &e.1, ts, value) {
            Ok(nr) => {
                e.2 = nr;
                Ok(())
            }
            Err(AppendError::OutOfOrder) | Err(AppendError::Duplicate) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Forgets the cached report label sets (after the target's labels changed).
    pub fn reset_report(&mut self) {
        self.report.labels.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn honor_labels_false_prefixes_conflicts_shortest_first() {
        // TestScrapeLoopAppendForConflictingPrefixedLabels, "Extreme example".
        let mut lb = LabelsBuilder::new();
        lb.set("__name__", "foo");
        lb.set("exported_exported_foo", "boo");
        lb.set("exported_foo", "ghi");
        lb.set("foo", "jkl");
        let target = Labels::from_pairs([
            ("foo", "bar"),
            ("exported_foo", "baz"),
            ("exported_exported_foo", "jkl2"),
        ]);
        let (mut c, mut n) = (Vec::new(), String::new());
        attach_target_labels(&mut lb, &mut c, &mut n, &target, false);
        assert_eq!(
            lb.labels().to_string(),
            r#"{__name__="foo", exported_exported_exported_exported_exported_foo="boo", exported_exported_exported_exported_foo="ghi", exported_exported_exported_foo="jkl", exported_exported_foo="jkl2", exported_foo="baz", foo="bar"}"#
        );
    }

    #[test]
    fn honor_labels_true_keeps_scraped() {
        let mut lb = LabelsBuilder::new();
        lb.set("__name__", "m");
        lb.set("job", "scraped");
        let target = Labels::from_pairs([("job", "j"), ("instance", "i")]);
        let (mut c, mut n) = (Vec::new(), String::new());
        attach_target_labels(&mut lb, &mut c, &mut n, &target, true);
        assert_eq!(
            lb.labels().to_string(),
            r#"{__name__="m", instance="i", job="scraped"}"#
        );
    }

    #[test]
    fn label_limit_messages() {
        let mut lb = LabelsBuilder::new();
        lb.set("__name__", "metric");
        lb.set("a", "0123456789");
        let cfg = PipelineConfig {
            label_limit: 1,
            ..PipelineConfig::default()
        };
        assert_eq!(
            verify_label_limits(&lb, &cfg).unwrap_err().to_string(),
            "label_limit exceeded (metric: metric, number of labels: 2, limit: 1)"
        );
        let cfg = PipelineConfig {
            label_value_length_limit: 6,
            ..PipelineConfig::default()
        };
        assert_eq!(
            verify_label_limits(&lb, &cfg).unwrap_err().to_string(),
            r#"label_value_length_limit exceeded (metric: metric, label name: a, value: "0123456789", length: 10, limit: 6)"#
        );
        let cfg = PipelineConfig {
            label_name_length_limit: 5,
            ..PipelineConfig::default()
        };
        assert_eq!(
            verify_label_limits(&lb, &cfg).unwrap_err().to_string(),
            "label_name_length_limit exceeded (metric: metric, label name: __name__, length: 8, limit: 5)"
        );
    }
}
