//! A sink from a closure: the shortest way to receive scrapes. Each committed scrape is handed
//! over as one slice of [`Sample`]s, each with its family type.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use scrapeline_exposition::Labels;
use scrapeline_scrape::MetricType;
use scrapeline_scrape::{AppendError, Appendable, Appender, Metadata, SeriesRef};

/// One committed sample.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The series' labels (after relabeling, target labels attached).
    pub labels: Labels,
    /// Milliseconds since the Unix epoch.
    pub timestamp_ms: i64,
    /// The value (stale markers are Prometheus' special NaN).
    pub value: f64,
    /// The family's declared type ([`MetricType::Unknown`] until the scrape reports one, and
    /// for the report series `up`, `scrape_*`).
    pub kind: MetricType,
}

/// An [`Appendable`] that calls `f` with every committed scrape; see [`from_fn`].
struct FnSink<F> {
    f: Arc<F>,
    /// Family types by series ref, as `update_metadata` reports them. Refs are hashes of the
    /// label sets, so a series keeps its entry across scrapes.
    types: Arc<Mutex<HashMap<SeriesRef, MetricType>>>,
}

/// A sink calling `f` once per committed scrape with its samples (a rolled-back scrape is
/// never seen). `f` runs on the scrape loop's task: keep it short or hand the samples off.
pub fn from_fn<F>(f: F) -> Arc<dyn Appendable>
where
    F: Fn(&[Sample]) + Send + Sync + 'static,
{
    Arc::new(FnSink {
        f: Arc::new(f),
        types: Arc::default(),
    })
}

impl<F: Fn(&[Sample]) + Send + Sync + 'static> Appendable for FnSink<F> {
    fn appender(&self) -> Box<dyn Appender> {
        Box::new(FnScrape {
            f: self.f.clone(),
            types: self.types.clone(),
            batch: Vec::new(),
        })
    }
}

struct FnScrape<F> {
    f: Arc<F>,
    types: Arc<Mutex<HashMap<SeriesRef, MetricType>>>,
    batch: Vec<(SeriesRef, Sample)>,
}

impl<F: Fn(&[Sample]) + Send + Sync + 'static> Appender for FnScrape<F> {
    fn append(
        &mut self,
        series: SeriesRef,
        labels: &Labels,
        timestamp_ms: i64,
        value: f64,
    ) -> Result<SeriesRef, AppendError> {
        let r = if series == 0 {
            labels.stable_hash() | 1
        } else {
            series
        };
        self.batch.push((
            r,
            Sample {
                labels: labels.clone(),
                timestamp_ms,
                value,
                kind: MetricType::Unknown,
            },
        ));
        Ok(r)
    }

    fn update_metadata(
        &mut self,
        series: SeriesRef,
        _labels: &Labels,
        metadata: &Metadata,
    ) -> Result<SeriesRef, AppendError> {
        self.types
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(series, metadata.kind);
        Ok(series)
    }

    fn commit(&mut self) -> Result<(), AppendError> {
        let samples: Vec<Sample> = {
            let types = self.types.lock().unwrap_or_else(|p| p.into_inner());
            self.batch
                .drain(..)
                .map(|(r, mut s)| {
                    if let Some(k) = types.get(&r) {
                        s.kind = *k;
                    }
                    s
                })
                .collect()
        };
        (self.f)(&samples);
        Ok(())
    }

    fn rollback(&mut self) {
        self.batch.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commits_hand_over_samples_with_their_types() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s2 = seen.clone();
        let sink = from_fn(move |batch: &[Sample]| s2.lock().unwrap().push(batch.to_vec()));
        let l = Labels::from_pairs([("__name__", "jobs_total")]);
        let mut app = sink.appender();
        let r = app.append(0, &l, 1000, 3.0).unwrap();
        let meta = Metadata {
            family: "jobs".into(),
            kind: MetricType::Counter,
            help: String::new(),
            unit: String::new(),
        };
        app.update_metadata(r, &l, &meta).unwrap();
        app.commit().unwrap();
        // Rolled back: never seen.
        let mut app = sink.appender();
        app.append(r, &l, 2000, 4.0).unwrap();
        app.rollback();
        // A later scrape knows the type from the first one's metadata.
        let mut app = sink.appender();
        assert_eq!(app.append(r, &l, 3000, 5.0), Ok(r));
        app.commit().unwrap();
        let seen = seen.lock().unwrap();
        let got: Vec<Vec<(i64, f64, MetricType)>> = seen
            .iter()
            .map(|b| {
                b.iter()
                    .map(|s| (s.timestamp_ms, s.value, s.kind))
                    .collect()
            })
            .collect();
        assert_eq!(
            got,
            vec![
                vec![(1000, 3.0, MetricType::Counter)],
                vec![(3000, 5.0, MetricType::Counter)]
            ]
        );
    }
}
