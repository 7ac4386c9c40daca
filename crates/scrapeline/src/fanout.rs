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
    use std::sync::Mutex;

    use super::*;

    /// A sink that keeps committed samples and refuses a timestamp not after the last one.
    #[derive(Clone, Default)]
    struct Log(Arc<Mutex<Vec<(i64, f64)>>>);

    struct LogScrape(Log, Vec<(i64, f64)>);

    impl Appendable for Log {
        fn appender(&self) -> Box<dyn Appender> {
            Box::new(LogScrape(self.clone(), Vec::new()))
        }
    }

    impl Appender for LogScrape {
        fn append(
            &mut self,
            r: SeriesRef,
            _: &Labels,
            t: i64,
            v: f64,
        ) -> Result<SeriesRef, AppendError> {
            // The latest sample timestamp (metadata entries are logged with -1).
            let latest = |v: &[(i64, f64)]| v.iter().map(|e| e.0).max();
            let committed = self.0.0.lock().ok().and_then(|v| latest(&v));
            if latest(&self.1).max(committed).is_some_and(|lt| t <= lt) {
                return Err(AppendError::OutOfOrder);
            }
            self.1.push((t, v));
            Ok(if r == 0 { 7 } else { r })
        }
        fn update_metadata(
            &mut self,
            r: SeriesRef,
            _: &Labels,
            m: &Metadata,
        ) -> Result<SeriesRef, AppendError> {
            self.1.push((-1, f64::from(m.help.len() as u32)));
            Ok(r)
        }
        fn commit(&mut self) -> Result<(), AppendError> {
            self.0
                .0
                .lock()
                .map_err(|_| AppendError::OutOfOrder)?
                .append(&mut self.1);
            Ok(())
        }
        fn rollback(&mut self) {
            self.1.clear();
        }
    }

    #[test]
    fn forwards_to_every_sink_and_keeps_primary_refs() {
        let (a, b) = (Log::default(), Log::default());
        let f = FanOut::new(Arc::new(a.clone()), vec![Arc::new(b.clone())]);
        let l = Labels::from_pairs([("__name__", "x")]);
        let mut app = f.appender();
        let r = app.append(0, &l, 1000, 1.0).unwrap();
        assert_eq!(r, 7);
        assert_eq!(app.append(r, &l, 2000, 2.0).unwrap(), r);
        let meta = Metadata {
            family: "x".into(),
            kind: scrapeline_scrape::MetricType::Counter,
            help: "abc".into(),
            unit: String::new(),
        };
        assert_eq!(app.update_metadata(r, &l, &meta), Ok(r));
        app.commit().unwrap();
        for s in [&a, &b] {
            assert_eq!(
                *s.0.lock().unwrap(),
                vec![(1000, 1.0), (2000, 2.0), (-1, 3.0)]
            );
        }
        // The primary refuses: nothing reaches the secondary either.
        assert_eq!(app.append(r, &l, 1500, 9.0), Err(AppendError::OutOfOrder));
        app.rollback();
        assert_eq!(b.0.lock().unwrap().len(), 3);
    }
}
