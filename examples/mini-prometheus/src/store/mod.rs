//! The embedded in-memory store: every appended sample, staleness markers included, for a
//! bounded time.
//!
//! - **Appending** goes through the scrape crate's [`Appender`]: a scrape appends its samples,
//!   then [`Appender::commit`] makes all of them visible at once (readers never see half a
//!   scrape) or [`Appender::rollback`] drops them. Samples are checked with Prometheus' rules:
//!   older than the newest sample of the series is [`AppendError::OutOfOrder`], same timestamp
//!   with a different value is [`AppendError::Duplicate`] (an exact repeat is accepted and
//!   ignored), older than the retention window is [`AppendError::OutOfBounds`].
//! - **Layout**: series live in shards picked by their label hash, each behind its own
//!   `RwLock`, so scrapes resolving series and queries reading them rarely contend. Samples are
//!   kept in compact [`chunk::Chunk`]s (about 2–4 bytes a sample for typical series).
//! - **Memory per series**: a shard keeps its series in a dense slab (72 bytes a series, plus
//!   its labels, which the scrape cache shares), found through a hash table of `u32` slots and
//!   per-name postings; the open chunk lives in the series and only full chunks get a list of
//!   their own. A [`SeriesRef`] names shard, slot and the slot's generation, so a slot freed by
//!   retention and reused never receives a stale ref's samples.
//! - **Retention** is time based and measured from the newest sample in the store (as
//!   Prometheus' head block does): [`Store::truncate`] drops whole chunks that ended before
//!   the window and series left with no samples; [`Store::run_retention`] does it periodically.
//! - **Reading**: [`Store::select`] (raw samples in a range), [`Store::latest_within`] (the newest
//!   sample at or before a time, for instant queries and federation), and the series / label
//!   browsing calls the HTTP API needs. A read locks one shard at a time, only while it
//!   collects that shard's matches, and checks a [`ReadBudget`] (deadline, cancellation,
//!   sample cap) as it goes: a heavy query never stalls scrapes committing to the store. Each
//!   shard is read at one point in time, so a read sees all or none of a commit's samples in
//!   that shard; a commit landing while a read walks the shards may show in the shards it
//!   reads later and not in those it already read.

pub mod budget;
pub mod chunk;
mod head_metrics;
pub mod matcher;
mod slab;
mod wal_replay;

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

use hashbrown::HashTable;
use scrapeline_exposition::Labels;
use scrapeline_scrape::{AppendError, Appendable, Appender, Metadata, SeriesRef};

pub use budget::{ReadBudget, ReadError};
use chunk::{Chunk, Head};
pub use matcher::{Matcher, matches_all};
use slab::{Slab, Tenant};

/// Low bits of a [`SeriesRef`] that name the shard; above them the series' slot in the
/// shard (32 bits), then the slot's generation ([`slab::GEN_BITS`]).
const SHARD_BITS: u32 = 8;
/// Bits of a [`SeriesRef`] for the slot.
const SLOT_BITS: u32 = 32;
/// The most shards a store can have (what fits in [`SHARD_BITS`]).
pub const MAX_SHARDS: usize = 1 << SHARD_BITS;
/// Series created less than this long ago are never garbage collected, even when empty, so a
/// scrape that created a series and has not committed yet cannot lose it.
const EMPTY_SERIES_GRACE: Duration = Duration::from_secs(600);
/// Index bytes per series: its slot in the hash index (4 bytes and a control byte) and in
/// its name's postings (4 bytes).
const INDEX_BYTES_PER_SERIES: usize = 9;

/// How a [`Store`] is set up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreConfig {
    /// How long samples are kept, measured back from the newest sample (default 2h).
    pub retention: Duration,
    /// Number of lock shards, 1 to [`MAX_SHARDS`] (default 16).
    pub shards: usize,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            retention: Duration::from_secs(2 * 3600),
            shards: 16,
        }
    }
}

/// The store: a cheap handle (clone it freely), shared by scrapes, the API and retention.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    shards: Box<[RwLock<Shard>]>,
    retention_ms: i64,
    /// Series creation times are seconds since this.
    epoch: Instant,
    /// Empty series younger than this (seconds) are kept.
    grace_s: u64,
    /// Newest committed timestamp, `i64::MIN` while empty.
    max_t: AtomicI64,
    appended: AtomicU64,
    out_of_order: AtomicU64,
    duplicate: AtomicU64,
    out_of_bounds: AtomicU64,
    series_created: AtomicU64,
    series_removed: AtomicU64,
    /// Batch buffers of finished appenders, for the next ones (see [`BatchBuffers`]).
    spare: SpareBuffers,
    /// Metadata per metric family name (see [`Store::metadata`]).
    metadata: RwLock<HashMap<String, Vec<Metadata>>>,
}

/// The most distinct metadata kept per family name (targets disagreeing about a family).
const MAX_METADATA_PER_FAMILY: usize = 8;

/// An appender's per-batch buffers. Kept between scrapes (at most [`MAX_SPARE_BUFFERS`]
/// sets, each up to [`MAX_SPARE_SAMPLES`]) so that a scrape does not grow them from empty
/// every time: with one appender per scrape, that growth (reallocation and rehashing) was
/// ~5 % of a scrape's CPU.
#[derive(Default)]
struct BatchBuffers {
    pending: Vec<(SeriesRef, i64, f64)>,
    last: RefMap<(i64, f64)>,
}

/// Idle [`BatchBuffers`], handed from finished appenders to new ones.
#[derive(Default)]
struct SpareBuffers(std::sync::Mutex<Vec<BatchBuffers>>);

impl SpareBuffers {
    /// Empty buffers: kept ones if any, else new.
    fn take(&self) -> BatchBuffers {
        self.lock().pop().unwrap_or_default()
    }

    /// Keeps `b`, emptied, unless it grew too large or enough are kept already.
    fn give(&self, mut b: BatchBuffers) {
        if b.pending.capacity() > MAX_SPARE_SAMPLES || b.last.capacity() > MAX_SPARE_SAMPLES {
            return;
        }
        b.pending.clear();
        b.last.clear();
        let mut spare = self.lock();
        if spare.len() < MAX_SPARE_BUFFERS {
            spare.push(b);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<BatchBuffers>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// At most this many idle [`BatchBuffers`] are kept (about the number of scrapes that run at
/// once).
const MAX_SPARE_BUFFERS: usize = 64;
/// Buffers that grew past this many samples are freed, not kept.
const MAX_SPARE_SAMPLES: usize = 1 << 16;

/// One lock's share of the series.
#[derive(Default)]
struct Shard {
    /// The series, by slot.
    series: Slab<Series>,
    /// Slots by the stable hash of the series' labels (the hash itself is not kept: it is
    /// recomputed from the labels when the table grows).
    by_hash: HashTable<u32>,
    /// Slots by metric name, each list in insertion order.
    by_name: HashMap<Box<str>, Vec<u32>>,
}

/// One series: its labels, the chunks it filled and the chunk it appends to; 72 bytes.
///
/// The newest sample is the open chunk's encoder state; the first sample's timestamp is read
/// from its encoding: nothing is stored twice.
struct Series {
    labels: Labels,
    /// Full chunks, oldest first; none for the first [`chunk::MAX_SAMPLES`] samples (a thin
    /// pointer: most series in a young store never fill a chunk).
    sealed: Option<Box<Sealed>>,
    /// The chunk being appended to; empty only when the series holds no samples.
    head: Head,
    /// Seconds since the store's epoch when the series was created.
    created: u32,
    /// The generation of the series' slab slot.
    generation: u32,
}

/// A series' full chunks, oldest first, no spare capacity.
struct Sealed {
    chunks: Box<[Chunk]>,
}

impl Tenant for Series {
    fn generation(&self) -> u32 {
        self.generation
    }
}

/// One series and its samples, as [`Store::select`] returns them.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesSamples {
    /// The series' labels.
    pub labels: Labels,
    /// `(timestamp ms, value)` in time order, staleness markers included.
    pub samples: Vec<(i64, f64)>,
}

/// Sizes of the store, for its metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Series held (including ones whose samples all expired but are not collected yet).
    pub series: u64,
    /// Samples held.
    pub samples: u64,
    /// Chunks held (the open one of each series with samples included).
    pub chunks: u64,
    /// Bytes for series bookkeeping and labels (the per-series cost).
    pub series_bytes: u64,
    /// Bytes for encoded samples (the per-sample cost).
    pub sample_bytes: u64,
}

fn read<T>(l: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|e| e.into_inner())
}

fn write<T>(l: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|e| e.into_inner())
}

/// Where a series lives: shard, slot in the shard, and the slot's generation (so a ref to a
/// series retention removed never reaches the slot's next tenant).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Loc {
    shard: usize,
    slot: u32,
    generation: u32,
}

impl Loc {
    fn to_ref(self) -> SeriesRef {
        (u64::from(self.generation) << (SHARD_BITS + SLOT_BITS))
            | (u64::from(self.slot) << SHARD_BITS)
            | self.shard as u64
    }

    fn from_ref(r: SeriesRef) -> Loc {
        Loc {
            shard: (r & (MAX_SHARDS as u64 - 1)) as usize,
            slot: (r >> SHARD_BITS) as u32,
            generation: (r >> (SHARD_BITS + SLOT_BITS)) as u32,
        }
    }
}

impl Series {
    fn new(labels: Labels, created: u32, generation: u32) -> Series {
        Series {
            labels,
            sealed: None,
            head: Head::default(),
            created,
            generation,
        }
    }

    /// The full chunks, oldest first.
    fn sealed(&self) -> &[Chunk] {
        self.sealed.as_deref().map_or(&[], |s| &s.chunks)
    }

    fn set_sealed(&mut self, chunks: Vec<Chunk>) {
        self.sealed = (!chunks.is_empty()).then(|| {
            Box::new(Sealed {
                chunks: chunks.into_boxed_slice(),
            })
        });
    }

    /// The newest sample.
    fn last(&self) -> Option<(i64, f64)> {
        self.head.last()
    }

    /// Appends a sample newer than [`Series::last`].
    fn push(&mut self, t: i64, v: f64) {
        if self.head.is_full() {
            let mut sealed = self
                .sealed
                .take()
                .map_or_else(Vec::new, |s| s.chunks.into_vec());
            sealed.reserve_exact(1);
            sealed.push(self.head.seal());
            self.set_sealed(sealed);
        }
        self.head.push(t, v);
    }

    /// Number of chunks (the open one counts when it holds samples).
    fn chunk_count(&self) -> usize {
        self.sealed().len() + usize::from(!self.head.is_empty())
    }

    fn overlaps(&self, mint: i64, maxt: i64) -> bool {
        self.sealed()
            .iter()
            .any(|c| c.min_t <= maxt && c.max_t >= mint)
            || (!self.head.is_empty() && self.head.min_t() <= maxt && self.head.max_t() >= mint)
    }

    fn samples_in(&self, mint: i64, maxt: i64, out: &mut Vec<(i64, f64)>) {
        let mut keep = |t: i64, v: f64| {
            if t >= mint && t <= maxt {
                out.push((t, v));
            }
        };
        for c in self.sealed() {
            if c.max_t < mint || c.min_t > maxt {
                continue;
            }
            c.for_each(&mut keep);
        }
        if !self.head.is_empty() && self.head.max_t() >= mint && self.head.min_t() <= maxt {
            self.head.for_each(&mut keep);
        }
    }

    /// The newest sample with `mint <= t <= maxt`.
    fn latest_in(&self, mint: i64, maxt: i64) -> Option<(i64, f64)> {
        let (last_t, last_v) = self.last()?;
        if last_t <= maxt {
            return (last_t >= mint).then_some((last_t, last_v));
        }
        let mut best = None;
        let mut pick = |t: i64, v: f64| {
            if t <= maxt {
                best = Some((t, v));
            }
        };
        if self.head.min_t() <= maxt {
            self.head.for_each(&mut pick);
        } else {
            let c = self.sealed().iter().rev().find(|c| c.min_t <= maxt)?;
            if c.max_t < mint {
                return None;
            }
            c.for_each(&mut pick);
        }
        best.filter(|(t, _)| *t >= mint)
    }

    fn sample_count(&self) -> usize {
        self.sealed().iter().map(Chunk::len).sum::<usize>() + self.head.len()
    }

    fn sample_bytes(&self) -> usize {
        self.sealed().iter().map(Chunk::data_bytes).sum::<usize>() + self.head.data_bytes()
    }

    fn overhead_bytes(&self) -> usize {
        slab::slot_size::<Series>()
            + self.labels.heap_bytes()
            + self.sealed.as_ref().map_or(0, |s| {
                std::mem::size_of::<Sealed>() + s.chunks.len() * std::mem::size_of::<Chunk>()
            })
            + INDEX_BYTES_PER_SERIES
    }

    /// Drops every chunk that ended before `cutoff`; true when no sample is left.
    fn truncate(&mut self, cutoff: i64) -> bool {
        if !self.head.is_empty() && self.head.max_t() < cutoff {
            // The open chunk is the newest: everything goes.
            self.sealed = None;
            self.head.clear();
        } else {
            let n = self
                .sealed()
                .iter()
                .take_while(|c| c.max_t < cutoff)
                .count();
            if n > 0
                && let Some(s) = self.sealed.take()
            {
                let mut kept = s.chunks.into_vec();
                kept.drain(..n);
                self.set_sealed(kept);
            }
        }
        self.head.is_empty()
    }
}

impl Shard {
    /// The series with these labels (and this hash), located within this shard: the
    /// returned [`Loc`]'s `shard` is 0 for the caller to fill in.
    fn find(&self, hash: u64, labels: &Labels) -> Option<Loc> {
        let slot = *self.by_hash.find(hash, |slot| {
            self.series.get(*slot).is_some_and(|s| s.labels == *labels)
        })?;
        Some(Loc {
            shard: 0,
            slot,
            generation: self.series.generation(slot)?,
        })
    }

    /// Adds a series (not present yet); `None` when the shard has no slot left. As with
    /// [`Shard::find`], the caller fills in the `shard` of the returned [`Loc`].
    fn insert(&mut self, hash: u64, labels: &Labels, created: u32) -> Option<Loc> {
        let (slot, generation) = self
            .series
            .insert(|generation| Series::new(labels.clone(), created, generation))?;
        let series = &self.series;
        self.by_hash.insert_unique(hash, slot, |slot| {
            series.get(*slot).map_or(0, |s| s.labels.stable_hash())
        });
        let name = labels.metric_name().unwrap_or("");
        let postings = match self.by_name.get_mut(name) {
            Some(p) => p,
            None => self.by_name.entry(name.into()).or_default(),
        };
        if postings.len() == postings.capacity() {
            // Grow an eighth at a time: these lists hold every series of a name.
            postings.reserve_exact((postings.len() / 8).max(4));
        }
        postings.push(slot);
        Some(Loc {
            shard: 0,
            slot,
            generation,
        })
    }

    fn remove(&mut self, slot: u32) {
        let Some(s) = self.series.remove(slot) else {
            return;
        };
        let hash = s.labels.stable_hash();
        if let Ok(entry) = self.by_hash.find_entry(hash, |x| *x == slot) {
            entry.remove();
        }
        let name = s.labels.metric_name().unwrap_or("");
        if let Some(ids) = self.by_name.get_mut(name) {
            ids.retain(|x| *x != slot);
            if ids.is_empty() {
                self.by_name.remove(name);
            }
        }
    }

    /// Gives back the spare room of index lists that shrank.
    fn compact(&mut self) {
        for ids in self.by_name.values_mut() {
            if ids.capacity() - ids.len() > ids.len() / 8 + 4 {
                ids.shrink_to_fit();
            }
        }
        if self.by_hash.capacity() > 2 * self.by_hash.len() + 64 {
            let series = &self.series;
            self.by_hash
                .shrink_to_fit(|slot| series.get(*slot).map_or(0, |s| s.labels.stable_hash()));
        }
    }

    /// Series matching every matcher, using the name index when a matcher pins the name.
    fn matching<'a>(
        &'a self,
        matchers: &'a [Matcher],
    ) -> Box<dyn Iterator<Item = &'a Series> + 'a> {
        match matchers.iter().find_map(Matcher::pinned_name) {
            Some(name) => Box::new(
                self.by_name
                    .get(name)
                    .into_iter()
                    .flatten()
                    .filter_map(|slot| self.series.get(*slot))
                    .filter(move |s| matches_all(matchers, &s.labels)),
            ),
            None => Box::new(
                self.series
                    .iter()
                    .map(|(_, s)| s)
                    .filter(move |s| matches_all(matchers, &s.labels)),
            ),
        }
    }
}

impl Store {
    /// An empty store.
    pub fn new(config: StoreConfig) -> Store {
        Store::with_grace(config, EMPTY_SERIES_GRACE)
    }

    /// An empty store that collects empty series once they are `grace` old.
    fn with_grace(config: StoreConfig, grace: Duration) -> Store {
        let n = config.shards.clamp(1, MAX_SHARDS);
        let shards = (0..n).map(|_| RwLock::new(Shard::default())).collect();
        Store {
            inner: Arc::new(Inner {
                shards,
                retention_ms: i64::try_from(config.retention.as_millis()).unwrap_or(i64::MAX),
                epoch: Instant::now(),
                grace_s: grace.as_secs(),
                max_t: AtomicI64::new(i64::MIN),
                appended: AtomicU64::new(0),
                out_of_order: AtomicU64::new(0),
                duplicate: AtomicU64::new(0),
                out_of_bounds: AtomicU64::new(0),
                series_created: AtomicU64::new(0),
                series_removed: AtomicU64::new(0),
                spare: SpareBuffers::default(),
                metadata: RwLock::new(HashMap::new()),
            }),
        }
    }

    /// The metadata scrapes declared (`# TYPE`, `# HELP`, `# UNIT`), per metric family name,
    /// sorted by name; a family whose targets disagree has each distinct version (at most
    /// eight, oldest first), as Prometheus' `/api/v1/metadata` lists them.
    // Read by `/api/v1/metadata` (a later issue) and the tests.
    #[allow(dead_code)]
    pub fn metadata(&self) -> Vec<(String, Vec<Metadata>)> {
        let map = self
            .inner
            .metadata
            .read()
            .unwrap_or_else(|p| p.into_inner());
        let mut out: Vec<(String, Vec<Metadata>)> =
            map.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// Records committed metadata: only what is new takes the write lock.
    fn record_metadata(&self, batch: &mut Vec<Metadata>) {
        let lock = &self.inner.metadata;
        {
            let map = lock.read().unwrap_or_else(|p| p.into_inner());
            batch.retain(|m| map.get(&m.family).is_none_or(|v| !v.contains(m)));
        }
        if batch.is_empty() {
            return;
        }
        let mut map = lock.write().unwrap_or_else(|p| p.into_inner());
        for m in batch.drain(..) {
            let v = map.entry(m.family.clone()).or_default();
            if v.contains(&m) {
                continue;
            }
            if v.len() >= MAX_METADATA_PER_FAMILY {
                v.remove(0);
            }
            v.push(m);
        }
    }

    /// The newest committed timestamp (ms), if any sample was ever committed.
    pub fn max_time(&self) -> Option<i64> {
        let t = self.inner.max_t.load(Ordering::Acquire);
        (t != i64::MIN).then_some(t)
    }

    /// Samples older than this are outside retention and refused.
    fn min_valid_time(&self) -> i64 {
        match self.max_time() {
            Some(t) => t.saturating_sub(self.inner.retention_ms),
            None => i64::MIN,
        }
    }

    fn shard_count(&self) -> usize {
        self.inner.shards.len()
    }

    /// Seconds since the store's epoch (series ages).
    fn now_s(&self) -> u32 {
        u32::try_from(self.inner.epoch.elapsed().as_secs()).unwrap_or(u32::MAX)
    }

    /// Finds or creates the series; returns its ref and newest committed sample.
    fn resolve(
        &self,
        series: SeriesRef,
        labels: &Labels,
    ) -> Result<(SeriesRef, Option<(i64, f64)>), AppendError> {
        if series != 0 {
            let loc = Loc::from_ref(series);
            if let Some(lock) = self.inner.shards.get(loc.shard) {
                let g = read(lock);
                if let Some(s) = g.series.get_gen(loc.slot, loc.generation)
                    && s.labels == *labels
                {
                    return Ok((series, s.last()));
                }
            }
        }
        if labels.is_empty() {
            return Err(AppendError::Other("empty labelset".into()));
        }
        let hash = labels.stable_hash();
        let shard = (hash % self.shard_count() as u64) as usize;
        let lock = &self.inner.shards[shard];
        let found = |g: &Shard| {
            let loc = g.find(hash, labels)?;
            let last = g.series.get(loc.slot).and_then(Series::last);
            Some((Loc { shard, ..loc }.to_ref(), last))
        };
        if let Some(hit) = found(&read(lock)) {
            return Ok(hit);
        }
        let mut g = write(lock);
        if let Some(hit) = found(&g) {
            return Ok(hit);
        }
        let loc = g
            .insert(hash, labels, self.now_s())
            .ok_or_else(|| AppendError::Other("store shard full".into()))?;
        self.inner.series_created.fetch_add(1, Ordering::Relaxed);
        Ok((Loc { shard, ..loc }.to_ref(), None))
    }

    /// Runs `f` on each shard in turn under that shard's read lock alone, checking `budget`
    /// between shards: a read never holds more than one shard, so scrapes committing to the
    /// other shards (and the other readers) go on meanwhile.
    fn each_shard(
        &self,
        budget: &ReadBudget,
        mut f: impl FnMut(&Shard) -> Result<(), ReadError>,
    ) -> Result<(), ReadError> {
        for lock in self.inner.shards.iter() {
            budget.check()?;
            f(&read(lock))?;
        }
        Ok(())
    }

    /// [`Store::select_within`] without limits (tests, the memory bench).
    #[cfg_attr(not(test), allow(dead_code))]
    pub fn select(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Vec<SeriesSamples> {
        self.select_within(matchers, mint, maxt, &ReadBudget::unlimited())
            .unwrap_or_default()
    }

    /// Raw samples with `mint <= t <= maxt` of every series matching all `matchers`, staleness
    /// markers included, sorted by labels. Series without samples in the range are left out.
    /// Every sample counts against `budget`.
    pub fn select_within(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
        budget: &ReadBudget,
    ) -> Result<Vec<SeriesSamples>, ReadError> {
        let mut out = Vec::new();
        self.each_shard(budget, |shard| {
            for s in shard.matching(matchers) {
                budget.tick(1)?;
                let mut samples = Vec::new();
                s.samples_in(mint, maxt, &mut samples);
                if !samples.is_empty() {
                    budget.load(samples.len())?;
                    out.push(SeriesSamples {
                        labels: s.labels.clone(),
                        samples,
                    });
                }
            }
            Ok(())
        })?;
        out.sort_by(|a, b| a.labels.cmp(&b.labels));
        Ok(out)
    }

    /// [`Store::latest_within`] without limits.
    #[cfg(test)]
    pub fn latest(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Vec<(Labels, i64, f64)> {
        self.latest_within(matchers, mint, maxt, &ReadBudget::unlimited())
            .unwrap_or_default()
    }

    /// For every series matching all `matchers`, its newest sample with `mint <= t <= maxt`
    /// (which may be a staleness marker), sorted by labels. Each counts against `budget`.
    pub fn latest_within(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
        budget: &ReadBudget,
    ) -> Result<Vec<(Labels, i64, f64)>, ReadError> {
        let mut out = Vec::new();
        self.each_shard(budget, |shard| {
            for s in shard.matching(matchers) {
                budget.tick(1)?;
                if let Some((t, v)) = s.latest_in(mint, maxt) {
                    budget.load(1)?;
                    out.push((s.labels.clone(), t, v));
                }
            }
            Ok(())
        })?;
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    /// Calls `f` for every series that matches any of `matcher_sets` (all series when the list
    /// is empty) and has a sample in `[mint, maxt]`, checking `budget` as it goes.
    fn for_each_series(
        &self,
        matcher_sets: &[Vec<Matcher>],
        mint: i64,
        maxt: i64,
        budget: &ReadBudget,
        mut f: impl FnMut(&Labels),
    ) -> Result<(), ReadError> {
        let all: [Vec<Matcher>; 1] = [Vec::new()];
        let sets = if matcher_sets.is_empty() {
            &all[..]
        } else {
            matcher_sets
        };
        self.each_shard(budget, |shard| {
            if let [set] = sets {
                for s in shard.matching(set) {
                    budget.tick(1)?;
                    if s.overlaps(mint, maxt) {
                        f(&s.labels);
                    }
                }
            } else {
                for (_, s) in shard.series.iter() {
                    // Up to one unit per matcher set tried.
                    budget.tick(sets.len())?;
                    if s.overlaps(mint, maxt) && sets.iter().any(|m| matches_all(m, &s.labels)) {
                        f(&s.labels);
                    }
                }
            }
            Ok(())
        })
    }

    /// [`Store::series_within`] without limits.
    #[cfg(test)]
    pub fn series(&self, matcher_sets: &[Vec<Matcher>], mint: i64, maxt: i64) -> Vec<Labels> {
        self.series_within(matcher_sets, mint, maxt, &ReadBudget::unlimited())
            .unwrap_or_default()
    }

    /// Label sets of the series matching any of `matcher_sets` with a sample in
    /// `[mint, maxt]`, sorted.
    pub fn series_within(
        &self,
        matcher_sets: &[Vec<Matcher>],
        mint: i64,
        maxt: i64,
        budget: &ReadBudget,
    ) -> Result<Vec<Labels>, ReadError> {
        let mut out = Vec::new();
        self.for_each_series(matcher_sets, mint, maxt, budget, |l| out.push(l.clone()))?;
        out.sort();
        Ok(out)
    }

    /// [`Store::label_names_within`] without limits.
    #[cfg(test)]
    pub fn label_names(&self, matcher_sets: &[Vec<Matcher>], mint: i64, maxt: i64) -> Vec<String> {
        self.label_names_within(matcher_sets, mint, maxt, &ReadBudget::unlimited())
            .unwrap_or_default()
    }

    /// Label names used by those series, sorted and unique.
    pub fn label_names_within(
        &self,
        matcher_sets: &[Vec<Matcher>],
        mint: i64,
        maxt: i64,
        budget: &ReadBudget,
    ) -> Result<Vec<String>, ReadError> {
        let mut names = std::collections::BTreeSet::new();
        self.for_each_series(matcher_sets, mint, maxt, budget, |l| {
            for label in l.iter() {
                if !names.contains(label.name) {
                    names.insert(label.name.to_owned());
                }
            }
        })?;
        Ok(names.into_iter().collect())
    }

    /// [`Store::label_values_within`] without limits.
    #[cfg(test)]
    pub fn label_values(
        &self,
        name: &str,
        matcher_sets: &[Vec<Matcher>],
        mint: i64,
        maxt: i64,
    ) -> Vec<String> {
        self.label_values_within(name, matcher_sets, mint, maxt, &ReadBudget::unlimited())
            .unwrap_or_default()
    }

    /// Values of label `name` in those series, sorted and unique (empty values left out).
    pub fn label_values_within(
        &self,
        name: &str,
        matcher_sets: &[Vec<Matcher>],
        mint: i64,
        maxt: i64,
        budget: &ReadBudget,
    ) -> Result<Vec<String>, ReadError> {
        let mut values = std::collections::BTreeSet::new();
        self.for_each_series(matcher_sets, mint, maxt, budget, |l| {
            if let Some(v) = l.get(name)
                && !v.is_empty()
                && !values.contains(v)
            {
                values.insert(v.to_owned());
            }
        })?;
        Ok(values.into_iter().collect())
    }

    /// Drops chunks that ended before the retention window and series left without samples
    /// (after a grace period). Returns the number of series removed.
    pub fn truncate(&self) -> usize {
        let Some(max_t) = self.max_time() else {
            return 0;
        };
        let cutoff = max_t.saturating_sub(self.inner.retention_ms);
        let now = u64::from(self.now_s());
        let grace = self.inner.grace_s;
        let mut removed = 0;
        for lock in self.inner.shards.iter() {
            let mut g = write(lock);
            let mut dead = Vec::new();
            for (slot, s) in g.series.iter_mut() {
                if s.truncate(cutoff) && now.saturating_sub(u64::from(s.created)) >= grace {
                    dead.push(slot);
                }
            }
            for slot in &dead {
                g.remove(*slot);
            }
            g.compact();
            removed += dead.len();
        }
        self.inner
            .series_removed
            .fetch_add(removed as u64, Ordering::Relaxed);
        removed
    }

    /// Runs [`Store::truncate`] every `every` until `cancel` fires.
    pub async fn run_retention(self, every: Duration, cancel: tokio_util::sync::CancellationToken) {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tick.tick() => {
                    let removed = self.truncate();
                    if removed > 0 {
                        tracing::debug!(removed, "store retention removed series");
                    }
                }
            }
        }
    }

    /// Current sizes.
    pub fn stats(&self) -> StoreStats {
        let mut st = StoreStats::default();
        for lock in self.inner.shards.iter() {
            for (_, s) in read(lock).series.iter() {
                st.series += 1;
                st.samples += s.sample_count() as u64;
                st.chunks += s.chunk_count() as u64;
                st.series_bytes += s.overhead_bytes() as u64;
                st.sample_bytes += s.sample_bytes() as u64;
            }
        }
        st
    }

    /// Calls `f` with every series' labels, chunk count and oldest sample time (`None`: no
    /// samples left), one shard read-locked at a time: the cardinality statistics of
    /// `/api/v1/status/tsdb`.
    pub fn for_each_series_summary(&self, mut f: impl FnMut(&Labels, usize, Option<i64>)) {
        for lock in self.inner.shards.iter() {
            for (_, s) in read(lock).series.iter() {
                let min_t = match s.sealed().first() {
                    Some(c) => Some(c.min_t),
                    None => (!s.head.is_empty()).then(|| s.head.min_t()),
                };
                f(&s.labels, s.chunk_count(), min_t);
            }
        }
    }

    /// Appends the store's own metrics in the text format.
    pub fn write_metrics(&self, out: &mut String) {
        use std::fmt::Write;
        let st = self.stats();
        let per_series = if st.series > 0 {
            st.series_bytes as f64 / st.series as f64
        } else {
            0.0
        };
        let per_sample = if st.samples > 0 {
            st.sample_bytes as f64 / st.samples as f64
        } else {
            0.0
        };
        let i = &self.inner;
        let rows: [(&str, &str, &str, f64); 13] = [
            (
                "scrapeline_store_series",
                "gauge",
                "Series held in the in-memory store.",
                st.series as f64,
            ),
            (
                "scrapeline_store_samples",
                "gauge",
                "Samples held in the in-memory store.",
                st.samples as f64,
            ),
            (
                "scrapeline_store_chunks",
                "gauge",
                "Sample chunks held in the in-memory store.",
                st.chunks as f64,
            ),
            (
                "scrapeline_store_series_bytes",
                "gauge",
                "Bytes used for series bookkeeping and labels.",
                st.series_bytes as f64,
            ),
            (
                "scrapeline_store_sample_bytes",
                "gauge",
                "Bytes used for encoded samples.",
                st.sample_bytes as f64,
            ),
            (
                "scrapeline_store_bytes_per_series",
                "gauge",
                "Average bytes of bookkeeping and labels per series.",
                per_series,
            ),
            (
                "scrapeline_store_bytes_per_sample",
                "gauge",
                "Average bytes per stored sample.",
                per_sample,
            ),
            (
                "scrapeline_store_retention_seconds",
                "gauge",
                "How long samples are kept.",
                i.retention_ms as f64 / 1000.0,
            ),
            (
                "scrapeline_store_samples_appended_total",
                "counter",
                "Samples committed to the store.",
                i.appended.load(Ordering::Relaxed) as f64,
            ),
            (
                "scrapeline_store_out_of_order_samples_total",
                "counter",
                "Samples refused because they were older than the newest sample of their series.",
                i.out_of_order.load(Ordering::Relaxed) as f64,
            ),
            (
                "scrapeline_store_duplicate_samples_total",
                "counter",
                "Samples refused for repeating a timestamp with a different value.",
                i.duplicate.load(Ordering::Relaxed) as f64,
            ),
            (
                "scrapeline_store_out_of_bounds_samples_total",
                "counter",
                "Samples refused for being older than the retention window.",
                i.out_of_bounds.load(Ordering::Relaxed) as f64,
            ),
            (
                "scrapeline_store_series_removed_total",
                "counter",
                "Series removed by retention.",
                i.series_removed.load(Ordering::Relaxed) as f64,
            ),
        ];
        for (name, kind, help, v) in rows {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            out.push_str(name);
            out.push(' ');
            scrapeline_exposition::value::format_value(v, out);
            out.push('\n');
        }
    }
}

impl crate::api::MetricsSource for Store {
    fn write_metrics(&self, out: &mut String) {
        Store::write_metrics(self, out)
    }
}

impl Appendable for Store {
    fn appender(&self) -> Box<dyn Appender> {
        let spare = self.inner.spare.take();
        Box::new(StoreAppender {
            store: self.clone(),
            pending: spare.pending,
            last: spare.last,
            metadata: Vec::new(),
        })
    }
}

/// One scrape's batch for the store.
struct StoreAppender {
    store: Store,
    pending: Vec<(SeriesRef, i64, f64)>,
    /// Newest pending sample per series, so a batch is checked against itself too.
    last: RefMap<(i64, f64)>,
    /// Metadata updates of this batch, recorded on commit.
    metadata: Vec<Metadata>,
}

/// A map keyed by the store's own series refs, hashed with one multiplication: the keys are
/// distinct integers the store handed out, so SipHash's flood resistance buys nothing, and
/// with one lookup and one insert per appended sample it was ~4% of a scrape's CPU.
type RefMap<V> = HashMap<SeriesRef, V, std::hash::BuildHasherDefault<RefHasher>>;

/// See [`RefMap`].
#[derive(Default)]
struct RefHasher(u64);

impl std::hash::Hasher for RefHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(self.0 ^ u64::from(b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        // Fold the high half (slot and generation) into the low one, then spread every bit
        // into the high bits hashbrown reads its control bytes from and back down again.
        let h = (n ^ (n >> 32)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        self.0 = h ^ (h >> 29);
    }
}

impl Appender for StoreAppender {
    fn append(
        &mut self,
        series: SeriesRef,
        labels: &Labels,
        timestamp_ms: i64,
        value: f64,
    ) -> Result<SeriesRef, AppendError> {
        let inner = &self.store.inner;
        if timestamp_ms < self.store.min_valid_time() {
            inner.out_of_bounds.fetch_add(1, Ordering::Relaxed);
            return Err(AppendError::OutOfBounds);
        }
        let (r, committed) = self.store.resolve(series, labels)?;
        if let Some((lt, lv)) = self.last.get(&r).copied().or(committed) {
            if timestamp_ms < lt {
                inner.out_of_order.fetch_add(1, Ordering::Relaxed);
                return Err(AppendError::OutOfOrder);
            }
            if timestamp_ms == lt {
                if lv.to_bits() == value.to_bits() {
                    return Ok(r);
                }
                inner.duplicate.fetch_add(1, Ordering::Relaxed);
                return Err(AppendError::Duplicate);
            }
        }
        self.pending.push((r, timestamp_ms, value));
        self.last.insert(r, (timestamp_ms, value));
        Ok(r)
    }

    /// Keeps the family's metadata (by family name, not per series: a family's series share
    /// it), recorded when the batch commits. Scrapes call this only for new series and after
    /// a change; a family's series come one after another, so the batch keeps one copy per
    /// run of them (commit drops the rest of the repeats).
    fn update_metadata(
        &mut self,
        series: SeriesRef,
        _labels: &Labels,
        metadata: &Metadata,
    ) -> Result<SeriesRef, AppendError> {
        if self.metadata.last() != Some(metadata) {
            self.metadata.push(metadata.clone());
        }
        Ok(series)
    }

    fn commit(&mut self) -> Result<(), AppendError> {
        self.last.clear();
        if !self.metadata.is_empty() {
            self.store.record_metadata(&mut self.metadata);
        }
        if self.pending.is_empty() {
            return Ok(());
        }
        let pending = &mut self.pending;
        // Stable: keeps each series' samples in append order.
        pending.sort_by_key(|(r, _, _)| Loc::from_ref(*r).shard);
        let inner = &self.store.inner;
        // Lock every touched shard (in index order, so commits never deadlock) before
        // changing any: a reader sees all of this batch's samples in a shard or none of them.
        let mut guards: Vec<(usize, RwLockWriteGuard<'_, Shard>)> = Vec::new();
        for (r, _, _) in pending.iter() {
            let shard = Loc::from_ref(*r).shard;
            if guards.last().is_none_or(|(s, _)| *s != shard)
                && let Some(lock) = inner.shards.get(shard)
            {
                guards.push((shard, write(lock)));
            }
        }
        let (mut appended, mut refused, mut max_t) = (0u64, 0u64, i64::MIN);
        let mut gi = 0;
        for (r, t, v) in pending.drain(..) {
            let loc = Loc::from_ref(r);
            while gi < guards.len() && guards[gi].0 < loc.shard {
                gi += 1;
            }
            let Some((_, g)) = guards.get_mut(gi) else {
                continue;
            };
            // Gone (retention removed it since the append) if the slot's generation moved on.
            let Some(s) = g.series.get_gen_mut(loc.slot, loc.generation) else {
                continue;
            };
            // Another appender may have written this series since our append was checked.
            match s.last() {
                Some((lt, _)) if t <= lt => refused += 1,
                _ => {
                    s.push(t, v);
                    appended += 1;
                    max_t = max_t.max(t);
                }
            }
        }
        if max_t != i64::MIN {
            inner.max_t.fetch_max(max_t, Ordering::AcqRel);
        }
        drop(guards);
        inner.appended.fetch_add(appended, Ordering::Relaxed);
        inner.out_of_order.fetch_add(refused, Ordering::Relaxed);
        Ok(())
    }

    fn rollback(&mut self) {
        self.pending.clear();
        self.last.clear();
        self.metadata.clear();
    }
}

impl Drop for StoreAppender {
    /// Hands the (emptied) batch buffers to the store for the next appender.
    fn drop(&mut self) {
        self.store.inner.spare.give(BatchBuffers {
            pending: std::mem::take(&mut self.pending),
            last: std::mem::take(&mut self.last),
        });
    }
}

#[cfg(test)]
mod tests;
