//! One commit's records, encoded as they are added.

use scrapeline_exposition::Labels;

use crate::record::{self, RefSample};
use crate::segment;

/// The series and samples of one commit, written by [`crate::Wal::commit`] as (at most) one
/// series record and one samples record. Reuse it: commit clears it and keeps its buffers.
#[derive(Debug, Default)]
pub struct Batch {
    series: Vec<u8>,
    samples: Vec<u8>,
    out: Vec<u8>,
    refs: Vec<u64>,
    max_t: Option<i64>,
}

impl Batch {
    /// Adds a series record entry: `r` means `labels` from here on.
    pub fn add_series(&mut self, r: u64, labels: &Labels) {
        if self.series.is_empty() {
            self.series.push(record::TYPE_SERIES);
        }
        record::put_series(&mut self.series, r, labels);
    }

    /// Adds a sample of series `r`.
    pub fn add_sample(&mut self, r: u64, t_ms: i64, value: f64) {
        if self.samples.is_empty() {
            self.samples.push(record::TYPE_SAMPLES);
        }
        record::put_sample(
            &mut self.samples,
            RefSample {
                series: r,
                t_ms,
                value,
            },
        );
        self.refs.push(r);
        self.max_t = Some(self.max_t.map_or(t_ms, |m| m.max(t_ms)));
    }

    /// Whether nothing was added.
    pub fn is_empty(&self) -> bool {
        self.series.is_empty() && self.samples.is_empty()
    }

    /// Samples added.
    pub fn samples(&self) -> usize {
        self.refs.len()
    }

    /// The refs of the samples added, in order.
    pub fn refs(&self) -> &[u64] {
        &self.refs
    }

    /// Newest sample timestamp added (`i64::MIN` when none).
    pub fn max_t(&self) -> i64 {
        self.max_t.unwrap_or(i64::MIN)
    }

    /// Drops everything added, keeping the buffers.
    pub fn clear(&mut self) {
        self.series.clear();
        self.samples.clear();
        self.refs.clear();
        self.max_t = None;
    }

    /// Drops the samples added, keeping the series.
    pub fn clear_samples(&mut self) {
        self.samples.clear();
        self.refs.clear();
        self.max_t = None;
    }

    /// The frames to write: the series record, then the samples record.
    pub(crate) fn frames(&mut self) -> &[u8] {
        self.out.clear();
        if !self.series.is_empty() {
            segment::frame(&mut self.out, &self.series);
        }
        if !self.samples.is_empty() {
            segment::frame(&mut self.out, &self.samples);
        }
        &self.out
    }
}
