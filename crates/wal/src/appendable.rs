//! The log as a scrape sink: every commit of a scrape becomes one write to the log.

use std::sync::{Arc, RwLock};

use scrapeline_exposition::Labels;
use scrapeline_scrape::{AppendError, Appendable, Appender, SeriesRef};

use crate::{Batch, Wal};

/// Writes every committed scrape to a [`Wal`]: a series record for each series the log has
/// not seen in this process, then the samples.
///
/// As the primary sink (an agent, [`WalAppendable::primary`]) it hands out the series refs
/// itself; next to a store (a secondary in a fan-out, [`WalAppendable::secondary`]) it maps
/// the store's refs to refs of its own. Either way a ref is above every ref already in the
/// log, so the series of a previous run (still in old segments or the checkpoint) never share
/// a ref with this run's.
#[derive(Clone)]
pub struct WalAppendable {
    wal: Arc<Wal>,
    primary: bool,
    /// The store's refs and the log's refs of their series (secondary only).
    known: Arc<RwLock<crate::RefMap<u64>>>,
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
            new_refs: crate::RefMap::default(),
        })
    }
}

struct WalAppender {
    sink: WalAppendable,
    batch: Batch,
    /// Store refs this batch wrote a series record for, and their log refs (secondary).
    new_refs: crate::RefMap<u64>,
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
                .ok()
                .and_then(|k| k.get(&series).copied());
            match known.or_else(|| self.new_refs.get(&series).copied()) {
                Some(r) => r,
                None => {
                    let r = self.sink.wal.new_ref();
                    self.batch.add_series(r, labels);
                    self.new_refs.insert(series, r);
                    r
                }
            }
        };
        self.batch.add_sample(r, timestamp_ms, value);
        Ok(if self.sink.primary { r } else { series })
    }

    fn commit(&mut self) -> Result<(), AppendError> {
        let res = self.sink.wal.commit(&mut self.batch);
        self.batch.clear();
        match res {
            Ok(()) => {
                if !self.new_refs.is_empty()
                    && let Ok(mut k) = self.sink.known.write()
                {
                    k.extend(self.new_refs.drain());
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
