//! Sending every scrape to several sinks at once: the store plus remote-write queues.
//!
//! The first sink is the primary: its [`SeriesRef`] is the one handed back to the scrape loop,
//! and the same ref is passed to every secondary sink as its cache key (remote-write queues
//! use it to remember the relabeled labels of a series). An error from the primary refuses the
//! sample everywhere; errors from secondaries are theirs to count and never fail a scrape.

use std::sync::Arc;

use scrapeline_exposition::Labels;
use scrapeline_scrape::{AppendError, Appendable, Appender, Exemplar, Metadata, SeriesRef};

/// An [`Appendable`] that forwards to a primary and any number of secondaries.
#[derive(Clone)]
pub struct FanOut {
    primary: Arc<dyn Appendable>,
    secondaries: Vec<Arc<dyn Appendable>>,
}

impl FanOut {
    /// Forwards to `primary` (whose refs the scrape loop keeps) and every one of
    /// `secondaries`.
    pub fn new(primary: Arc<dyn Appendable>, secondaries: Vec<Arc<dyn Appendable>>) -> FanOut {
        FanOut {
            primary,
            secondaries,
        }
    }
}

impl Appendable for FanOut {
    fn appender(&self) -> Box<dyn Appender> {
        Box::new(FanOutAppender {
            primary: self.primary.appender(),
            secondaries: self.secondaries.iter().map(|s| s.appender()).collect(),
        })
    }
}

struct FanOutAppender {
    primary: Box<dyn Appender>,
    secondaries: Vec<Box<dyn Appender>>,
}

impl Appender for FanOutAppender {
    fn append(
        &mut self,
        series: SeriesRef,
        labels: &Labels,
        timestamp_ms: i64,
        value: f64,
    ) -> Result<SeriesRef, AppendError> {
        let r = self.primary.append(series, labels, timestamp_ms, value)?;
        for s in &mut self.secondaries {
            // Secondaries count their own refusals; a remote endpoint never fails a scrape.
            let _ = s.append(r, labels, timestamp_ms, value);
        }
        Ok(r)
    }

    fn update_metadata(
        &mut self,
        series: SeriesRef,
        labels: &Labels,
        metadata: &Metadata,
    ) -> Result<SeriesRef, AppendError> {
        let r = self.primary.update_metadata(series, labels, metadata)?;
        for s in &mut self.secondaries {
            let _ = s.update_metadata(r, labels, metadata);
        }
        Ok(r)
    }

    fn append_exemplar(
        &mut self,
        series: SeriesRef,
        labels: &Labels,
        exemplar: &Exemplar,
    ) -> Result<SeriesRef, AppendError> {
        let r = self.primary.append_exemplar(series, labels, exemplar)?;
        for s in &mut self.secondaries {
            let _ = s.append_exemplar(r, labels, exemplar);
        }
        Ok(r)
    }

    fn append_created_timestamp(
        &mut self,
        series: SeriesRef,
        labels: &Labels,
        timestamp_ms: i64,
        created_ms: i64,
    ) -> Result<SeriesRef, AppendError> {
        let r = self
            .primary
            .append_created_timestamp(series, labels, timestamp_ms, created_ms)?;
        for s in &mut self.secondaries {
            let _ = s.append_created_timestamp(r, labels, timestamp_ms, created_ms);
        }
        Ok(r)
    }

    fn commit(&mut self) -> Result<(), AppendError> {
        let res = self.primary.commit();
        for s in &mut self.secondaries {
            let _ = s.commit();
        }
        res
    }

    fn rollback(&mut self) {
        self.primary.rollback();
        for s in &mut self.secondaries {
            s.rollback();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Matcher, Store, StoreConfig};

    #[test]
    fn forwards_to_every_sink_and_keeps_primary_refs() {
        let a = Store::new(StoreConfig::default());
        let b = Store::new(StoreConfig::default());
        let f = FanOut::new(Arc::new(a.clone()), vec![Arc::new(b.clone())]);
        let l = Labels::from_pairs([("__name__", "x")]);
        let mut app = f.appender();
        let r = app.append(0, &l, 1000, 1.0).unwrap();
        assert_eq!(app.append(r, &l, 2000, 2.0).unwrap(), r);
        app.commit().unwrap();
        let m = [Matcher::equal("__name__", "x")];
        for s in [&a, &b] {
            let got = s.select(&m, 0, 5000);
            assert_eq!(got.len(), 1);
            assert_eq!(got[0].samples, vec![(1000, 1.0), (2000, 2.0)]);
        }
        // The primary refuses: nothing reaches the secondary either.
        assert_eq!(app.append(r, &l, 1500, 9.0), Err(AppendError::OutOfOrder));
        app.rollback();
        assert_eq!(b.select(&m, 0, 5000)[0].samples.len(), 2);
    }
}
