//! Test helpers: an Appender that records every committed sample.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use scrapeline_exposition::Labels;
use scrapeline_exposition::value::is_stale_nan;
use scrapeline_scrape::{AppendError, Appendable, Appender, SeriesRef};

/// One committed sample.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub labels: String,
    pub t: i64,
    pub v: f64,
}

impl Sample {
    pub fn is_stale(&self) -> bool {
        is_stale_nan(self.v)
    }
}

#[derive(Default)]
pub struct Store {
    pub committed: Vec<Vec<Sample>>,
    pub rollbacks: usize,
    /// Per series: last timestamp, to refuse out-of-order samples like a TSDB.
    pub last: std::collections::HashMap<String, i64>,
    pub next_ref: u64,
}

#[derive(Clone, Default)]
pub struct Recorder {
    pub store: Arc<Mutex<Store>>,
}

pub struct Rec {
    store: Arc<Mutex<Store>>,
    pending: Vec<Sample>,
}

impl Appender for Rec {
    fn append(
        &mut self,
        series: SeriesRef,
        labels: &Labels,
        t: i64,
        v: f64,
    ) -> Result<SeriesRef, AppendError> {
        let key = labels.to_string();
        let s = self.store.lock().unwrap();
        if let Some(&last) = s.last.get(&key)
            && t < last
        {
            return Err(AppendError::OutOfOrder);
        }
        drop(s);
        self.pending.push(Sample { labels: key, t, v });
        let mut s = self.store.lock().unwrap();
        if series != 0 {
            return Ok(series);
        }
        s.next_ref += 1;
        Ok(s.next_ref)
    }
    fn commit(&mut self) -> Result<(), AppendError> {
        let mut s = self.store.lock().unwrap();
        for p in &self.pending {
            let e = s.last.entry(p.labels.clone()).or_insert(i64::MIN);
            *e = (*e).max(p.t);
        }
        s.committed.push(std::mem::take(&mut self.pending));
        Ok(())
    }
    fn rollback(&mut self) {
        self.pending.clear();
        self.store.lock().unwrap().rollbacks += 1;
    }
}

impl Appendable for Recorder {
    fn appender(&self) -> Box<dyn Appender> {
        Box::new(Rec {
            store: self.store.clone(),
            pending: Vec::new(),
        })
    }
}

impl Recorder {
    pub fn batches(&self) -> Vec<Vec<Sample>> {
        self.store.lock().unwrap().committed.clone()
    }
    pub fn all(&self) -> Vec<Sample> {
        self.batches().into_iter().flatten().collect()
    }
    /// Samples of one series (by its `{...}` string), in commit order.
    pub fn series(&self, labels: &str) -> Vec<(i64, f64)> {
        self.all()
            .into_iter()
            .filter(|s| s.labels == labels)
            .map(|s| (s.t, s.v))
            .collect()
    }
    /// Samples whose metric name is `name`.
    pub fn named(&self, name: &str) -> Vec<Sample> {
        let p = format!("{{__name__=\"{name}\"");
        self.all()
            .into_iter()
            .filter(|s| s.labels.starts_with(&p))
            .collect()
    }
    pub fn clear(&self) {
        self.store.lock().unwrap().committed.clear();
    }
}

/// `v` formatted for comparisons; stale markers print as `stale`.
pub fn fmt_v(v: f64) -> String {
    if is_stale_nan(v) {
        "stale".into()
    } else {
        format!("{v}")
    }
}

/// A batch as sorted `labels value@t` lines.
pub fn lines(batch: &[Sample]) -> Vec<String> {
    let mut v: Vec<String> = batch
        .iter()
        .map(|s| format!("{} {}@{}", s.labels, fmt_v(s.v), s.t))
        .collect();
    v.sort();
    v
}
