//! Filling the store from its write-ahead log on start (`--storage.tsdb.path`), so a restart
//! keeps the data: every series and sample the log (checkpoint and segments) still holds is
//! appended again, in log order.

use std::collections::HashMap;
use std::sync::Arc;

use scrapeline_exposition::Labels;
use scrapeline_scrape::{Appendable, SeriesRef};
use scrapeline_wal::record::Record;
use scrapeline_wal::{Position, Reader, Wal};

use super::Store;

/// What a replay did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Replayed {
    /// Samples the store took.
    pub samples: u64,
    /// Samples it refused (older than the retention, out of order) or whose series record
    /// was lost to damage.
    pub skipped: u64,
}

impl Store {
    /// Appends everything `wal` holds (its checkpoint's retained samples and every segment)
    /// to the store, one commit per log record. Run it before anything else appends.
    pub fn replay_wal(&self, wal: &Arc<Wal>) -> Replayed {
        let mut reader = Reader::new(wal.clone(), Position::default(), true);
        let mut labels: HashMap<u64, Labels> = HashMap::new();
        let mut refs: HashMap<u64, SeriesRef> = HashMap::new();
        let mut out = Replayed::default();
        while let Some((rec, _)) = reader.next() {
            match rec {
                Record::Series(s) => {
                    for (r, l) in s {
                        refs.remove(&r);
                        labels.insert(r, l);
                    }
                }
                Record::Samples(s) => {
                    let mut app = self.appender();
                    for x in s {
                        let Some(l) = labels.get(&x.series) else {
                            out.skipped += 1;
                            continue;
                        };
                        let known = refs.get(&x.series).copied().unwrap_or(0);
                        match app.append(known, l, x.t_ms, x.value) {
                            Ok(r) => {
                                refs.insert(x.series, r);
                                out.samples += 1;
                            }
                            Err(_) => out.skipped += 1,
                        }
                    }
                    if app.commit().is_err() {
                        out.skipped += 1;
                    }
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreConfig;
    use crate::store::matcher::Matcher;
    use scrapeline_wal::{WalAppendable, WalOptions};

    #[test]
    fn a_restarted_store_has_what_it_had() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(StoreConfig::default());
        let wal = Wal::open(dir.path(), WalOptions::default()).unwrap();
        let log = WalAppendable::secondary(wal.clone());
        let now = 1_700_000_000_000;
        let up = Labels::from_pairs([("__name__", "up"), ("job", "a")]);
        for i in 0..3 {
            // As the fan-out does it: the store first, then the log under the store's ref.
            let mut s = store.appender();
            let r = s.append(0, &up, now + i * 1000, i as f64).unwrap();
            s.commit().unwrap();
            let mut w = log.appender();
            w.append(r, &up, now + i * 1000, i as f64).unwrap();
            w.commit().unwrap();
        }
        wal.close();
        drop(wal);
        let wal = Wal::open(dir.path(), WalOptions::default()).unwrap();
        let fresh = Store::new(StoreConfig::default());
        assert_eq!(
            fresh.replay_wal(&wal),
            Replayed {
                samples: 3,
                skipped: 0
            }
        );
        let m = [Matcher::equal("__name__", "up")];
        let got = fresh.select(&m, 0, i64::MAX);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].labels, up);
        assert_eq!(
            got[0].samples,
            [(now, 0.0), (now + 1000, 1.0), (now + 2000, 2.0)]
        );
    }
}
