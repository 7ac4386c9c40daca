//! A queue fed from the write-ahead log instead of from commits.
//!
//! The queue's reader task tails the log with its own [`Reader`]: series records become its
//! ref → outgoing labels map (external labels and `write_relabel_configs` applied once per
//! series), samples records are encoded into the shards' queues, waiting for room (the log
//! is the buffer: nothing is dropped for a full queue). Every chunk carries the position
//! where its record ends; when the shards have finished (sent, or refused for good) every
//! sample of every record up to a position, that position is saved in a small file per
//! queue (`positions/<name>-<url hash>.pos` in the log's directory, replaced atomically) and
//! becomes the queue's watermark in the log, so the segments before it may be deleted. On
//! start the queue resumes from its saved position: samples committed before a restart
//! (or a kill) but not yet sent are sent then.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use scrapeline_exposition::{Labels, LabelsBuilder};
use scrapeline_wal::record::Record;
use scrapeline_wal::{Position, Reader, Wal};
use tokio_util::sync::CancellationToken;

use crate::batch::Chunk;
use crate::{Queue, proto};

/// How long the reader waits for room before re-checking on its own.
const ROOM_POLL: Duration = Duration::from_millis(100);

/// The log side of a queue.
pub(crate) struct WalSource {
    pub wal: Arc<Wal>,
    /// File name of the saved position.
    pub key: String,
    /// The watermark's name: unique per queue instance (a reload may run the old and the
    /// new queue of one endpoint side by side for a moment).
    pub watermark: String,
    /// Stops the reader (shutdown: it reads to the head first).
    pub stop: CancellationToken,
    /// Wakes the reader when a shard took samples.
    pub room: tokio::sync::Notify,
    acks: Mutex<Acks>,
    /// The newest position saved.
    saved: Mutex<Position>,
}

#[derive(Default)]
struct Acks {
    /// Per record end: its samples not finished yet.
    open: BTreeMap<Position, usize>,
    /// Everything up to here is finished.
    done: Position,
}

/// A stable name for an endpoint's position file: its queue name and a hash of its URL.
pub(crate) fn key(name: &str, url: &str) -> String {
    // FNV-1a: the same on every build (unlike std's hasher).
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in url.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{name}-{h:016x}")
}

impl WalSource {
    pub fn new(wal: Arc<Wal>, key: String, instance: u64) -> WalSource {
        WalSource {
            watermark: format!("{key}#{instance}"),
            wal,
            key,
            stop: CancellationToken::new(),
            room: tokio::sync::Notify::new(),
            acks: Mutex::new(Acks::default()),
            saved: Mutex::new(Position::default()),
        }
    }

    /// Where the queue starts: its saved position, or the head for a new queue (saved at
    /// once, so a kill before the first send still resumes here).
    pub fn start_position(&self) -> Position {
        let dir = self.wal.dir();
        let pos = scrapeline_wal::load_position(dir, &self.key).unwrap_or_else(|| {
            let head = self.wal.head();
            let _ = scrapeline_wal::save_position(dir, &self.key, head);
            head
        });
        if let Ok(mut a) = self.acks.lock() {
            a.done = pos;
        }
        if let Ok(mut s) = self.saved.lock() {
            *s = pos;
        }
        self.wal.set_watermark(&self.watermark, pos.segment);
        pos
    }

    /// A record ending at `end` put `n` samples into the shards.
    fn expect(&self, end: Position, n: usize) {
        let done = {
            let Ok(mut a) = self.acks.lock() else { return };
            *a.open.entry(end).or_default() += n;
            a.advance()
        };
        self.save(done);
    }

    /// The shards finished these chunks' samples (sent or refused for good).
    pub fn ack(&self, marks: &[(Position, usize)]) {
        if marks.is_empty() {
            return;
        }
        let done = {
            let Ok(mut a) = self.acks.lock() else { return };
            for (p, n) in marks {
                if let Some(c) = a.open.get_mut(p) {
                    *c = c.saturating_sub(*n);
                }
            }
            a.advance()
        };
        self.save(done);
    }

    fn save(&self, done: Position) {
        let Ok(mut saved) = self.saved.lock() else {
            return;
        };
        if done <= *saved {
            return;
        }
        *saved = done;
        if let Err(e) = scrapeline_wal::save_position(self.wal.dir(), &self.key, done) {
            tracing::warn!(key = %self.key, err = %e, "saving the remote write position failed");
        }
        self.wal.set_watermark(&self.watermark, done.segment);
    }

    /// Saved position (for tests and shutdown logs).
    pub fn saved(&self) -> Position {
        self.saved.lock().map_or(Position::default(), |s| *s)
    }
}

impl Acks {
    fn advance(&mut self) -> Position {
        while let Some((&p, &c)) = self.open.first_key_value() {
            if c > 0 {
                break;
            }
            self.open.pop_first();
            self.done = p;
        }
        self.done
    }
}

/// Where one series' samples go: its labels to send and their hash (the shard is the hash
/// modulo the shards in use), `None` when write relabeling drops it.
type Route = Option<(Labels, u64)>;

/// A route and the segment whose series record defined it.
struct Known {
    route: Route,
    segment: u32,
}

/// Forgets the series a new checkpoint dropped (gone from every target), once the reader is
/// past the segments it covers, as Prometheus' watcher does on a checkpoint: the route map
/// does not grow with series churn.
fn forget_dropped_series(
    wal: &Wal,
    reader_segment: u32,
    last_checkpoint: &mut Option<u32>,
    routes: &mut scrapeline_wal::DenseRefMap<Known>,
) {
    let Some((n, keep)) = wal.checkpoint_series() else {
        return;
    };
    if *last_checkpoint == Some(n) || reader_segment <= n {
        return;
    }
    *last_checkpoint = Some(n);
    routes.retain(|r, k| k.segment > n || keep.contains(&r));
}

impl Queue {
    /// External labels and write relabeling for one series of the log.
    fn route(&self, labels: &Labels) -> Route {
        let mut b = LabelsBuilder::from_labels(labels);
        for l in self.external.iter() {
            if b.get(l.name).is_none() {
                b.set(l.name, l.value);
            }
        }
        if !scrapeline_relabel::relabel(&self.rules, &mut b) {
            return None;
        }
        let ls = b.labels();
        (!ls.is_empty()).then(|| {
            let hash = ls.stable_hash();
            (ls, hash)
        })
    }

    /// The reader task: tails the log into the shards until stopped (then reads to the
    /// head first, so a shutdown flushes what was committed).
    /// `start` is [`WalSource::start_position`], taken when the queue started (before
    /// this task runs, so commits made meanwhile are not skipped).
    pub(crate) async fn run_wal_reader(self: Arc<Self>, start: Position) {
        let Some(src) = self.wal.as_ref() else { return };
        let mut reader = Reader::new(src.wal.clone(), start, false);
        let mut changed = src.wal.subscribe();
        let mut routes: scrapeline_wal::DenseRefMap<Known> = scrapeline_wal::DenseRefMap::default();
        let mut last_checkpoint = None;
        let mut segment = start.segment;
        let mut pending: Vec<Chunk> = (0..self.shards.len()).map(|_| Chunk::default()).collect();
        tracing::info!(remote_name = %self.name, url = %self.url, segment = start.segment, offset = start.offset, "remote write queue resuming from the WAL");
        loop {
            let stopping = src.stop.is_cancelled();
            let mut budget = 64;
            while let Some((rec, end)) = reader.next() {
                if end.segment != segment {
                    segment = end.segment;
                    forget_dropped_series(&src.wal, segment, &mut last_checkpoint, &mut routes);
                    self.m
                        .known_series
                        .store(routes.len() as u64, Ordering::Relaxed);
                }
                match rec {
                    Record::Series(s) => {
                        for (r, labels) in s {
                            let route = self.route(&labels);
                            routes.insert(
                                r,
                                Known {
                                    route,
                                    segment: end.segment,
                                },
                            );
                        }
                        self.m
                            .known_series
                            .store(routes.len() as u64, Ordering::Relaxed);
                        src.expect(end, 0);
                    }
                    Record::Samples(s) => {
                        if !self.reshard_if_wanted().await {
                            return;
                        }
                        let active = self.active() as u64;
                        let mut routed = 0;
                        let mut newest = i64::MIN;
                        for x in s {
                            match routes.get(x.series).map(|k| &k.route) {
                                Some(Some((ls, hash))) => {
                                    newest = newest.max(x.t_ms);
                                    if let Some(p) = pending.get_mut((hash % active) as usize) {
                                        p.push(x.t_ms, |buf| {
                                            proto::write_timeseries(
                                                buf,
                                                ls.iter(),
                                                std::iter::once((x.value, x.t_ms)),
                                            )
                                        });
                                        routed += 1;
                                    }
                                }
                                Some(None) => {
                                    self.m.dropped_relabel.fetch_add(1, Ordering::Relaxed);
                                }
                                None => {
                                    self.m.dropped_unknown.fetch_add(1, Ordering::Relaxed);
                                }
                            }
                        }
                        self.m
                            .samples_in
                            .fetch_add(routed as u64, Ordering::Relaxed);
                        self.m.highest_in_ms.fetch_max(newest, Ordering::Relaxed);
                        for p in pending.iter_mut() {
                            p.mark = Some(end);
                        }
                        src.expect(end, routed);
                        if !self.enqueue_waiting(&mut pending).await {
                            return;
                        }
                    }
                }
                budget -= 1;
                if budget == 0 {
                    budget = 64;
                    tokio::task::yield_now().await;
                }
            }
            if stopping {
                return;
            }
            tokio::select! {
                r = changed.changed() => if r.is_err() { return },
                _ = src.stop.cancelled() => {}
                _ = self.hard.cancelled() => return,
            }
        }
    }

    /// Applies the shard calculation's count (Prometheus reshards the same way: flush, then
    /// change): waits until every shard has sent what it holds, so no series' samples are
    /// in two shards at once (they would arrive out of order), then changes the count.
    /// `false` when the queue is stopped hard meanwhile.
    async fn reshard_if_wanted(&self) -> bool {
        let want = self.desired_shards().clamp(1, self.shards.len().max(1));
        let from = self.active();
        if want == from {
            return true;
        }
        loop {
            if self.pending() == 0 {
                break;
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(20)) => {}
                _ = self.hard.cancelled() => return false,
            }
            if self.desired_shards() == from {
                return true;
            }
        }
        self.active.store(want, Ordering::Relaxed);
        tracing::info!(remote_name = %self.name, url = %self.url, from, to = want, "Remote storage resharding");
        true
    }

    /// Moves one record's chunks into the shards, waiting for room as long as it takes.
    /// `false` when the queue is stopped hard meanwhile.
    async fn enqueue_waiting(&self, pending: &mut [Chunk]) -> bool {
        let Some(src) = self.wal.as_ref() else {
            return false;
        };
        loop {
            let notified = src.room.notified();
            let left = self.admit(pending);
            if left == 0 {
                return true;
            }
            self.m.enqueue_retries.fetch_add(1, Ordering::Relaxed);
            tokio::select! {
                _ = notified => {}
                _ = tokio::time::sleep(ROOM_POLL) => {}
                _ = self.hard.cancelled() => return false,
            }
        }
    }
}
