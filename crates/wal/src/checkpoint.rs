//! Truncation: a checkpoint of what the deleted segments still hold that matters (live
//! series; a store's retained samples), then the segments go.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::SystemTime;

use scrapeline_exposition::Labels;

use crate::record::{self, Record, RefSample};
use crate::segment;
use crate::wal::{dir_size, scan, unix_secs};
use crate::{Wal, WalError};

const PREFIX: &str = "checkpoint.";
/// Entries per record in a checkpoint.
const PER_RECORD: usize = 10_000;

/// The newest complete checkpoint in `dir`: the last segment it covers and its directory.
pub(crate) fn latest(dir: &Path) -> Option<(u32, PathBuf)> {
    checkpoints(dir).into_iter().max_by_key(|(n, _)| *n)
}

fn checkpoints(dir: &Path) -> Vec<(u32, PathBuf)> {
    let Ok(rd) = fs::read_dir(dir) else {
        return Vec::new();
    };
    rd.flatten()
        .filter_map(|e| {
            let name = e.file_name();
            let n = name.to_str()?.strip_prefix(PREFIX)?;
            (n.len() == 8 && n.bytes().all(|b| b.is_ascii_digit()))
                .then(|| n.parse().ok())
                .flatten()
                .map(|n| (n, e.path()))
        })
        .collect()
}

impl Wal {
    /// The newest checkpoint: the last segment it covers and the series refs it keeps. A
    /// reader past that segment may forget every series defined at or before it that the
    /// checkpoint does not keep: no later record uses them.
    pub fn checkpoint_series(&self) -> Option<(u32, HashSet<u64>)> {
        let (n, dir) = latest(&self.dir)?;
        let mut refs = HashSet::new();
        let _ = scan(&segment::path(&dir, 0), &mut |b| {
            if record::record_type(b) == Some(record::TYPE_SERIES)
                && let Ok(Record::Series(s)) = record::decode(b)
            {
                refs.extend(s.into_iter().map(|(r, _)| r));
            }
        });
        Some((n, refs))
    }
}

/// What one [`Wal::truncate`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Truncation {
    /// The last segment deleted, `None` when nothing was.
    pub upto: Option<u32>,
    /// Samples deleted before every reader had passed them (disk or age bound).
    pub samples_dropped: u64,
}

fn mtime_secs(p: &Path) -> u64 {
    fs::metadata(p)
        .and_then(|m| m.modified())
        .map_or(0, unix_secs)
}

impl Wal {
    /// Deletes the closed segments every registered reader has passed (see
    /// [`Wal::set_watermark`]; with no reader registered, every closed segment), and the
    /// oldest ones beyond the size or age bound even when unpassed (their samples counted as
    /// dropped), after writing a checkpoint of the series still needed (and in a store's log
    /// the retained samples).
    pub fn truncate(&self) -> Result<Truncation, WalError> {
        let _g = self.truncating.lock().unwrap_or_else(|p| p.into_inner());
        let head = self.head();
        let segments = segment::list(&self.dir).map_err(|e| WalError::Io(e.to_string()))?;
        let closed: Vec<u32> = segments
            .iter()
            .copied()
            .filter(|s| *s < head.segment)
            .collect();
        if closed.is_empty() {
            return Ok(Truncation::default());
        }
        let low = self
            .watermarks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .min()
            .copied()
            .unwrap_or(head.segment);
        let mut forced: Option<u32> = None;
        if let Some(max) = self.opts.max_size {
            let mut total = dir_size(&self.dir);
            for &s in &closed {
                if total <= max {
                    break;
                }
                total = total.saturating_sub(
                    fs::metadata(segment::path(&self.dir, s)).map_or(0, |m| m.len()),
                );
                forced = Some(s);
            }
        }
        if let Some(age) = self.opts.max_age {
            let oldest_kept = unix_secs(SystemTime::now()).saturating_sub(age.as_secs());
            for &s in &closed {
                if mtime_secs(&segment::path(&self.dir, s)) < oldest_kept {
                    forced = forced.max(Some(s));
                }
            }
        }
        let passed = closed.iter().copied().filter(|s| *s < low).max();
        let Some(upto) = passed.max(forced) else {
            return Ok(Truncation::default());
        };
        self.metrics.truncations.fetch_add(1, Ordering::Relaxed);
        let mut dropped = 0u64;
        let mut dropped_segments = 0u64;
        for &s in closed.iter().filter(|s| **s >= low && **s <= upto) {
            dropped_segments += 1;
            let _ = scan(&segment::path(&self.dir, s), &mut |b| {
                if record::record_type(b) == Some(record::TYPE_SAMPLES) {
                    dropped += ((b.len() - 1) / record::SAMPLE_BYTES) as u64;
                }
            });
        }
        if let Err(e) = self.write_checkpoint(upto, &closed) {
            self.metrics
                .checkpoint_creations_failed
                .fetch_add(1, Ordering::Relaxed);
            self.metrics
                .truncations_failed
                .fetch_add(1, Ordering::Relaxed);
            return Err(e);
        }
        for &s in closed.iter().filter(|s| **s <= upto) {
            let _ = fs::remove_file(segment::path(&self.dir, s));
        }
        for (n, p) in checkpoints(&self.dir) {
            if n < upto {
                self.metrics
                    .checkpoint_deletions
                    .fetch_add(1, Ordering::Relaxed);
                let _ = fs::remove_dir_all(p);
            }
        }
        if dropped_segments > 0 {
            self.metrics
                .samples_dropped
                .fetch_add(dropped, Ordering::Relaxed);
            self.metrics
                .segments_dropped
                .fetch_add(dropped_segments, Ordering::Relaxed);
            tracing::warn!(
                segments = dropped_segments,
                samples = dropped,
                last_segment = upto,
                "WAL size or age bound reached; deleted segments not yet sent"
            );
        }
        Ok(Truncation {
            upto: Some(upto),
            samples_dropped: dropped,
        })
    }

    fn write_checkpoint(&self, upto: u32, closed: &[u32]) -> Result<(), WalError> {
        self.metrics
            .checkpoint_creations
            .fetch_add(1, Ordering::Relaxed);
        let io = |e: std::io::Error| WalError::Io(format!("checkpoint: {e}"));
        let mut series: HashMap<u64, Labels> = HashMap::new();
        let mut samples: Vec<RefSample> = Vec::new();
        let min_t = self.opts.keep_samples_within.map(|w| {
            self.max_t
                .load(Ordering::Relaxed)
                .saturating_sub(w.as_millis() as i64)
        });
        let mut visit = |b: &[u8]| match record::decode(b) {
            Ok(Record::Series(s)) => series.extend(s),
            Ok(Record::Samples(s)) => {
                if let Some(min_t) = min_t {
                    samples.extend(s.into_iter().filter(|x| x.t_ms >= min_t));
                }
            }
            Err(_) => {}
        };
        if let Some((_, dir)) = latest(&self.dir) {
            let _ = scan(&segment::path(&dir, 0), &mut visit);
        }
        for &s in closed.iter().filter(|s| **s <= upto) {
            scan(&segment::path(&self.dir, s), &mut visit).map_err(io)?;
        }
        // Series still needed: appended to after the last deleted segment was closed (their
        // samples are in later segments), or with a retained sample.
        let cutoff = mtime_secs(&segment::path(&self.dir, upto)).saturating_sub(1);
        let with_samples: HashSet<u64> = samples.iter().map(|s| s.series).collect();
        {
            let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
            series.retain(|r, _| {
                with_samples.contains(r) || seen.get(r).is_some_and(|t| *t >= cutoff)
            });
            seen.retain(|r, t| *t >= cutoff || with_samples.contains(r));
        }
        let mut out = Vec::new();
        let mut body = Vec::new();
        let mut kept: Vec<(u64, Labels)> = series.into_iter().collect();
        kept.sort_unstable_by_key(|(r, _)| *r);
        for chunk in kept.chunks(PER_RECORD) {
            body.clear();
            record::encode_series(&mut body, chunk.iter().map(|(r, l)| (*r, l)));
            segment::frame(&mut out, &body);
        }
        for chunk in samples.chunks(PER_RECORD * 10) {
            body.clear();
            record::encode_samples(&mut body, chunk);
            segment::frame(&mut out, &body);
        }
        let final_dir = self.dir.join(format!("{PREFIX}{upto:08}"));
        let tmp = self.dir.join(format!("{PREFIX}{upto:08}.tmp"));
        let _ = fs::remove_dir_all(&tmp);
        fs::create_dir_all(&tmp).map_err(io)?;
        let f = segment::path(&tmp, 0);
        fs::write(&f, &out).map_err(io)?;
        fs::File::open(&f).and_then(|f| f.sync_all()).map_err(io)?;
        let _ = fs::remove_dir_all(&final_dir);
        fs::rename(&tmp, &final_dir).map_err(io)?;
        let _ = fs::File::open(&self.dir).and_then(|d| d.sync_all());
        Ok(())
    }
}
