//! The log as a scrape sink: every commit of a scrape becomes one write to the log.

use std::collections::HashSet;
use std::sync::{Arc, RwLock};

use scrapeline_exposition::Labels;
use scrapeline_scrape::{AppendError, Appendable, Appender, SeriesRef};

use crate::{Batch, Wal};

/// Writes every committed scrape to a [`Wal`]: a series record for each series the log has
/// not seen in this process, then the samples.
///
/// As the primary sink (an agent, [`WalAppendable::primary`]) it hands out the series refs
/// itself; next to a store (a secondary in a fan-out, [`WalAppendable::secondary`]) it logs
/// under the store's refs.
#[derive(Clone)]
pub struct WalAppendable {
    wal: Arc<Wal>,
    primary: bool,
    /// Refs whose series record is in the log (secondary only).
    known: Arc<RwLock<HashSet<u64>>>,
}

impl WalAppendable {
    /// The only or first sink: issues refs (fresh ones, above every ref in the log).
    pub fn primary(wal: Arc<Wal>) -> WalAppendable {
        WalAppendable {
            wal,
            primary: true,
            known: Arc::default(),
        }
    }

    /// A sink next to a primary store: logs under the refs the store hands out.
    pub fn secondary(wal: Arc<Wal>) -> WalAppendable {
        WalAppendable {
            wal,
            primary: false,
            known: Arc::default(),
        }
    }

    /// The log it writes to.
    pub fn wal(&self) -> &Arc<Wal> {
        &self.wal
    }
}

impl Appendable for WalAppendable {
    fn appender(&self) -> Box<dyn Appender> {
        Box::new(WalAppender {
            sink: self.clone(),
            batch: Batch::default(),
            new_refs: Vec::new(),
        })
    }
}

struct WalAppender {
    sink: WalAppendable,
    batch: Batch,
    /// Refs this batch wrote a series record for (secondary).
    new_refs: Vec<u64>,
}

impl Appender for WalAppender {
    fn append(
        &mut self,
        series: SeriesRef,
        labels: &Labels,
        timestamp_ms: i64,
        value: f64,
    ) -> Result<SeriesRef, AppendError> {
        let r = if self.sink.primary {
            if series == 0 {
                let r = self.sink.wal.new_ref();
                self.batch.add_series(r, labels);
                r
            } else {
                series
            }
        } else {
            let known = self
                .sink
                .known
                .read()
                .map(|k| k.contains(&series))
                .unwrap_or(false);
            if !known && !self.new_refs.contains(&series) {
                self.batch.add_series(series, labels);
                self.new_refs.push(series);
            }
            series
        };
        self.batch.add_sample(r, timestamp_ms, value);
        Ok(r)
    }

    fn commit(&mut self) -> Result<(), AppendError> {
        let res = self.sink.wal.commit(&mut self.batch);
        self.batch.clear();
        match res {
            Ok(()) => {
                if !self.new_refs.is_empty()
                    && let Ok(mut k) = self.sink.known.write()
                {
                    k.extend(self.new_refs.drain(..));
                }
                Ok(())
            }
            Err(e) => {
                self.new_refs.clear();
                tracing::error!(err = %e, "writing to the WAL failed");
                Err(AppendError::Other(e.to_string()))
            }
        }
    }

    /// Drops the samples; a primary still logs the series records of refs it handed out
    /// (the scrape loop may keep them).
    fn rollback(&mut self) {
        self.batch.clear_samples();
        self.new_refs.clear();
        if self.sink.primary {
            let _ = self.sink.wal.commit(&mut self.batch);
        }
        self.batch.clear();
    }
}
