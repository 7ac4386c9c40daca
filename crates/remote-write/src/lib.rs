//! Prometheus remote write (1.0, or 2.0 with `protobuf_message`) to any number of endpoints,
//! as a library.
//!
//! This is what Prometheus' `storage/remote` package does for the sending side: a
//! [`RemoteWriteConfig`] (the `remote_write` section of `prometheus.yml`, with Prometheus'
//! YAML names, defaults and validation messages) becomes a [`RemoteWrite`] queue, which is an
//! [`Appendable`]: put it next to a store in a fan-out (or use it alone, as an agent does) and
//! every committed scrape is queued for sending. [`RemoteWriteSet`] holds the queues of all
//! configured endpoints, writes their metrics and flushes them on shutdown.
//!
//! # Example
//!
//! An embedder reads the `remote_write` section from YAML, starts the queues on its tokio
//! runtime, appends through [`Appendable`] and flushes on shutdown. The endpoint here does
//! not answer, so the sample stays queued until the shutdown deadline drops it.
//!
//! ```
//! use std::time::Duration;
//!
//! use scrapeline_exposition::Labels;
//! use scrapeline_remote_write::{RemoteWriteConfig, RemoteWriteSet};
//! use scrapeline_scrape::Appendable;
//!
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let yaml = "
//! - url: http://127.0.0.1:9/api/v1/write
//!   name: central
//!   queue_config: {max_shards: 2}
//!   write_relabel_configs:
//!     - {source_labels: [__name__], regex: 'go_.*', action: drop}
//! ";
//! let configs: Vec<RemoteWriteConfig> = serde_saphyr::from_str(yaml)?;
//! let external_labels = Labels::from_pairs([("cluster", "eu-1")]);
//! let set = RemoteWriteSet::start(&configs, &external_labels)?;
//!
//! // One appender per scrape; `commit` queues its samples for every endpoint.
//! for sink in set.appendables() {
//!     let mut app = sink.appender();
//!     let up = Labels::from_pairs([("__name__", "up"), ("job", "node")]);
//!     app.append(0, &up, 1_700_000_000_000, 1.0)?;
//!     let dropped = Labels::from_pairs([("__name__", "go_goroutines"), ("job", "node")]);
//!     app.append(0, &dropped, 1_700_000_000_000, 12.0)?;
//!     app.commit()?;
//! }
//! assert_eq!(set.queues()[0].pending(), 1);
//!
//! let mut metrics = String::new();
//! set.write_metrics(&mut metrics);
//! assert!(metrics.contains(
//!     "prometheus_remote_storage_samples_dropped_total{reason=\"relabel\",remote_name=\"central\",\
//!      url=\"http://127.0.0.1:9/api/v1/write\"} 1\n"
//! ));
//!
//! set.shutdown(Duration::from_millis(100)).await;
//! # Ok(())
//! # }
//! ```
//!
//! # Behaviour
//!
//! - **Series**: external labels are added (where a series lacks them), then
//!   `write_relabel_configs` run, once per series; the result is cached by [`SeriesRef`].
//! - **Shards**: samples are spread over parallel shards by the hash of their labels, so the
//!   samples of one series stay in order. Each shard sends a batch when it holds
//!   `max_samples_per_send` samples or `batch_send_deadline` after the last send.
//! - **Bounded, with back-pressure**: a shard holds at most `capacity` samples. A commit
//!   queues what fits, oldest first, and while the endpoint is healthy (the last request
//!   either succeeded or was refused for good, rather than failing and being retried) and
//!   the queue is not shutting down, it waits for the shards to take batches and queues the
//!   rest as room frees up, so a commit larger than the whole queue still gets through.
//!   Each wait is counted in `prometheus_remote_storage_enqueue_retries_total`. A commit
//!   waits at most `remote_timeout` in all; what is still not queued then, or at once while
//!   the endpoint is failing (scrapes are never held up by an unreachable endpoint), is
//!   dropped, counted (`prometheus_remote_storage_samples_dropped_total{reason="queue_full"}`)
//!   and logged. A commit on a current-thread tokio runtime never waits (the shards would
//!   run on the thread it blocks). Nothing else grows with an unreachable endpoint.
//! - **With a write-ahead log** ([`RemoteWriteSet::start_with_wal`]): the queues read what
//!   is committed to a [`scrapeline_wal::Wal`] instead (appenders write to the log, not to
//!   the queues), each with its own reader, waiting for room instead of dropping: the log is
//!   the buffer. Each queue saves its position after the sends that finish a record and
//!   resumes from it on start, so samples committed before a restart or a kill are sent
//!   then (at least once: a kill between a send and the save of its position repeats that
//!   send). The log's segments go only when every queue has passed them (or its size or
//!   age bound forces it, counted by the log). Such a queue also follows Prometheus'
//!   shard calculation (`calculateDesiredShards`: rates of samples in and out, time per
//!   sample, the backlog), resharding between `min_shards` and `max_shards` after the
//!   shards have sent what they hold, so no series is split over two shards.
//! - **Protocol**: 1.0 (`prometheus.WriteRequest`) unless `protobuf_message:
//!   io.prometheus.write.v2.Request` asks for 2.0 (symbol table, label refs). An endpoint that
//!   answers a 2.0 request as a 1.0 receiver does (`415`, or `2xx` without any
//!   `X-Prometheus-Remote-Write-*-Written` header) falls back to 1.0 for the queue's life
//!   (logged once) and the refused batch is sent again as 1.0 at once (see [`v2`]). The
//!   metrics count samples and bytes the same way in both.
//! - **Logs**: a failing endpoint logs its first failure (`Failed to send batch,
//!   retrying`, with `remote_name`, `url`, `err`), then at most one line a minute with the
//!   count of failures not logged, and one line when sending works again.
//! - **Retries**: network errors, timeouts, 5xx and (with `retry_on_http_429`) 429 are
//!   retried with exponential backoff from `min_backoff` to `max_backoff` (or the server's
//!   `Retry-After`) until they succeed: no sample is lost to an endpoint restart while the
//!   queue has room. Other 4xx answers drop the batch (counted as failed): resending the
//!   same bytes cannot succeed.
//! - **Credentials in the URL**: `http://user:password@host/…` is sent with basic
//!   authentication and shown everywhere (metric labels, logs, errors) as
//!   `http://user:xxxxx@host/…`, as Prometheus does.
//! - **Shutdown**: [`RemoteWriteSet::shutdown`] flushes what is queued, bounded by a
//!   deadline; whatever is left then is counted as dropped and logged.

mod backpressure;
mod batch;
mod client;
pub mod config;
mod fail_log;
mod metrics;
mod proto;
mod sharding;
mod url;
pub mod v2;
mod wal_source;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use scrapeline_exposition::{Labels, LabelsBuilder};
use scrapeline_relabel::{self as relabel, Rule};
use scrapeline_scrape::{AppendError, Appendable, Appender, SeriesRef};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use batch::{Chunk, ShardQueue};
use client::{Client, SendError};
pub use client::{ClientError, USER_AGENT};
pub use config::{ConfigError, MetadataConfig, QueueConfig, RemoteWriteConfig};
use scrapeline_wal::Wal;
use wal_source::WalSource;

/// Refs this queue hands out itself (when called without one) have the top bit set, so they
/// never collide with refs of a primary store passed through a fan-out.
const OWN_REF_BIT: u64 = 1 << 63;
/// Cached series not appended to for this long are forgotten.
const CACHE_TTL: Duration = Duration::from_secs(15 * 60);
/// A commit waiting for room re-checks whether to keep waiting at least this often, even
/// without a signal.
const ROOM_WAIT_SLICE: Duration = Duration::from_millis(100);
/// At most one "dropping samples" warning per queue this often.
const DROP_LOG_EVERY: Duration = Duration::from_secs(10);

/// Why a remote-write queue could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RemoteWriteError {
    /// The config is invalid (what [`RemoteWriteConfig::validate`] finds).
    #[error("remote_write {url}: {source}")]
    Config {
        /// The endpoint, its password redacted.
        url: String,
        /// What is wrong.
        source: ConfigError,
    },
    /// A `write_relabel_configs` rule does not compile.
    #[error("remote_write {url}: write_relabel_configs: {source}")]
    Relabel {
        /// The endpoint, its password redacted.
        url: String,
        /// The rule's error.
        source: relabel::RelabelError,
    },
    /// The HTTP client could not be built (TLS files, headers).
    #[error(transparent)]
    Client(#[from] ClientError),
}

/// One endpoint's queue. Cheap to clone; all clones share the queue.
#[derive(Clone)]
pub struct RemoteWrite {
    inner: Arc<Queue>,
}

struct Queue {
    name: String,
    /// The URL as shown (metric labels, logs): its password redacted.
    url: String,
    cfg: QueueConfig,
    /// The longest a commit waits for room in all.
    max_enqueue_wait: Duration,
    /// Whether the last request failed and is being retried: commits then do not wait.
    failing: AtomicBool,
    /// Signalled when room may have been freed or waiting should stop.
    room: backpressure::Room,
    rules: Vec<Rule>,
    external: Labels,
    shards: Box<[Shard]>,
    cache: RwLock<HashMap<SeriesRef, CacheEntry>>,
    next_ref: AtomicU64,
    client: Client,
    flush: CancellationToken,
    hard: CancellationToken,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    started: Instant,
    last_drop_log: AtomicI64,
    m: Counters,
    /// Fed from the write-ahead log instead of by commits (see [`wal_source`]).
    wal: Option<WalSource>,
    reader_task: Mutex<Option<JoinHandle<()>>>,
    fail_log: fail_log::FailLog,
    /// The message requests are built in: the configured one, until a 1.0 receiver makes
    /// the endpoint fall back (shared by the shards).
    negotiation: v2::Negotiation,
    /// Shards in use (the first `active` of `shards`).
    active: AtomicUsize,
    /// What the shard calculation wants (applied by a WAL-fed queue's reader).
    desired: AtomicUsize,
}

#[derive(Default)]
struct Counters {
    sent: AtomicU64,
    failed: AtomicU64,
    retried: AtomicU64,
    dropped_full: AtomicU64,
    dropped_relabel: AtomicU64,
    dropped_shutdown: AtomicU64,
    dropped_too_old: AtomicU64,
    /// Times a commit waited for room.
    enqueue_retries: AtomicU64,
    sent_bytes: AtomicU64,
    requests: AtomicU64,
    highest_sent_ms: AtomicI64,
    /// Samples taken from a shard's queue whose request has not finished.
    in_flight: AtomicU64,
    /// Samples of the WAL whose series record was never read (lost to damage).
    dropped_unknown: AtomicU64,
    /// Samples read into the queue (from commits or the WAL).
    samples_in: AtomicU64,
    /// Newest sample timestamp read into the queue.
    highest_in_ms: AtomicI64,
    /// Series a WAL-fed queue knows the labels of.
    known_series: AtomicU64,
    /// `sent_batch_duration_seconds`: counts per bucket of [`BATCH_BUCKETS`], sum in ns.
    batch_buckets: [AtomicU64; BATCH_BUCKETS.len()],
    batch_count: AtomicU64,
    batch_nanos: AtomicU64,
}

/// Prometheus' buckets of `prometheus_remote_storage_sent_batch_duration_seconds`: the
/// client library's defaults plus 25, 60, 120 and 300 s.
const BATCH_BUCKETS: [f64; 15] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 60.0, 120.0, 300.0,
];

impl Counters {
    fn observe_sent_batch(&self, d: Duration) {
        let s = d.as_secs_f64();
        for (b, le) in self.batch_buckets.iter().zip(BATCH_BUCKETS) {
            if s <= le {
                b.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.batch_count.fetch_add(1, Ordering::Relaxed);
        self.batch_nanos
            .fetch_add(d.as_nanos() as u64, Ordering::Relaxed);
    }
}

struct Shard {
    queue: Mutex<ShardQueue>,
    notify: Notify,
}

/// Where a sample goes, as [`Queue::resolve`] decides.
enum Outgoing {
    /// Write relabeling dropped the series.
    Dropped,
    /// To this shard with the appended labels plus the external labels.
    AsAppended(usize),
    /// To this shard with these labels (external labels and write relabeling applied).
    Relabeled(Labels, usize),
}

struct CacheEntry {
    /// Labels to send and shard, or `None` when relabeling dropped the series.
    out: Option<(Labels, usize)>,
    /// Seconds since the queue started when the series was last appended to.
    seen: AtomicU64,
}

impl RemoteWrite {
    /// Validates `cfg`, builds its client and starts its shards on the current tokio runtime.
    /// `external_labels` (the global config's) are added to series that lack them.
    pub fn start(
        cfg: &RemoteWriteConfig,
        external_labels: Labels,
    ) -> Result<RemoteWrite, RemoteWriteError> {
        RemoteWrite::start_with(cfg, external_labels, None)
    }

    /// As [`RemoteWrite::start`]; with `wal`, the queue sends what is committed to the log
    /// (resuming from its saved position) instead of what is appended to it: see
    /// [`RemoteWriteSet::start_with_wal`].
    pub fn start_with(
        cfg: &RemoteWriteConfig,
        external_labels: Labels,
        wal: Option<Arc<Wal>>,
    ) -> Result<RemoteWrite, RemoteWriteError> {
        static INSTANCE: AtomicU64 = AtomicU64::new(0);
        cfg.validate().map_err(|source| RemoteWriteError::Config {
            url: cfg.redacted_url(),
            source,
        })?;
        let rules = relabel::compile(&cfg.write_relabel_configs).map_err(|source| {
            RemoteWriteError::Relabel {
                url: cfg.redacted_url(),
                source,
            }
        })?;
        let client = Client::new(cfg)?;
        let q = &cfg.queue_config;
        let parallel = std::thread::available_parallelism().map_or(2, |n| n.get() * 2);
        let n = parallel.min(q.max_shards).max(q.min_shards).max(1);
        // A queue fed from the WAL can reshard (see `sharding`): every shard it may run
        // exists from the start, idle until used.
        let slots = if wal.is_some() {
            q.max_shards.max(n)
        } else {
            n
        };
        let shards = (0..slots)
            .map(|_| Shard {
                queue: Mutex::new(ShardQueue::default()),
                notify: Notify::new(),
            })
            .collect();
        let inner = Arc::new(Queue {
            name: cfg.queue_name(),
            url: cfg.redacted_url(),
            cfg: q.clone(),
            max_enqueue_wait: cfg.remote_timeout,
            failing: AtomicBool::new(false),
            room: backpressure::Room::default(),
            rules,
            external: external_labels,
            shards,
            cache: RwLock::new(HashMap::new()),
            next_ref: AtomicU64::new(1),
            client,
            flush: CancellationToken::new(),
            hard: CancellationToken::new(),
            tasks: Mutex::new(Vec::new()),
            started: Instant::now(),
            last_drop_log: AtomicI64::new(i64::MIN),
            m: Counters::default(),
            wal: wal.map(|w| {
                WalSource::new(
                    w,
                    wal_source::key(&cfg.queue_name(), &cfg.redacted_url()),
                    INSTANCE.fetch_add(1, Ordering::Relaxed),
                )
            }),
            reader_task: Mutex::new(None),
            fail_log: fail_log::FailLog::default(),
            negotiation: v2::Negotiation::new(cfg.write_message()),
            active: AtomicUsize::new(n),
            desired: AtomicUsize::new(n),
        });
        let mut tasks = Vec::with_capacity(slots + 1);
        for i in 0..slots {
            let q = inner.clone();
            tasks.push(tokio::spawn(async move { q.run_shard(i).await }));
        }
        {
            let q = inner.clone();
            tasks.push(tokio::spawn(async move { q.run_shard_calculation().await }));
        }
        if let Ok(mut t) = inner.tasks.lock() {
            *t = tasks;
        }
        if let Some(src) = &inner.wal {
            let start = src.start_position();
            let q = inner.clone();
            let reader = tokio::spawn(async move { q.run_wal_reader(start).await });
            if let Ok(mut t) = inner.reader_task.lock() {
                *t = Some(reader);
            }
        }
        tracing::info!(remote_name = %inner.name, url = %inner.url, shards = n, "remote write queue started");
        Ok(RemoteWrite { inner })
    }

    /// Samples queued or in a request that has not finished yet: what a shutdown would still
    /// have to send.
    pub fn pending(&self) -> usize {
        self.inner.pending()
    }

    /// Samples the endpoint accepted so far.
    pub fn samples_sent(&self) -> u64 {
        self.inner.m.sent.load(Ordering::Relaxed)
    }

    /// Times a commit waited for room so far (the value of
    /// `prometheus_remote_storage_enqueue_retries_total`).
    pub fn enqueue_retries(&self) -> u64 {
        self.inner.m.enqueue_retries.load(Ordering::Relaxed)
    }

    /// Samples dropped so far for any reason (queue full, relabeling, too old, shutdown)
    /// plus those refused by the endpoint: what will never arrive.
    pub fn samples_lost(&self) -> u64 {
        let m = &self.inner.m;
        [
            &m.failed,
            &m.dropped_full,
            &m.dropped_relabel,
            &m.dropped_shutdown,
            &m.dropped_too_old,
        ]
        .iter()
        .map(|c| c.load(Ordering::Relaxed))
        .sum()
    }

    /// Sends what is queued (bounded by `deadline`), then stops the shards.
    pub async fn shutdown(&self, deadline: Duration) {
        let q = &self.inner;
        let started = Instant::now();
        if let Some(src) = &q.wal {
            // The reader reads to the head, then the shards flush.
            src.stop.cancel();
            let reader = q.reader_task.lock().ok().and_then(|mut t| t.take());
            if let Some(reader) = reader
                && tokio::time::timeout(deadline, reader).await.is_err()
            {
                q.hard.cancel();
            }
        }
        let deadline = deadline.saturating_sub(started.elapsed());
        q.flush.cancel();
        q.room.signal();
        let tasks = q
            .tasks
            .lock()
            .map(|mut t| std::mem::take(&mut *t))
            .unwrap_or_default();
        let mut all = futures::future::join_all(tasks);
        if tokio::time::timeout(deadline, &mut all).await.is_err() {
            q.hard.cancel();
            q.room.signal();
            let _ = tokio::time::timeout(Duration::from_secs(2), all).await;
        }
        let mut left = 0;
        for s in q.shards.iter() {
            if let Ok(mut g) = s.queue.lock() {
                left += g.clear();
            }
        }
        if let Some(src) = &q.wal {
            src.wal.remove_watermark(&src.watermark);
            if left > 0 {
                let at = src.saved();
                tracing::info!(remote_name = %q.name, url = %q.url, samples = left, segment = at.segment, offset = at.offset, "remote write shutdown deadline passed; unsent samples stay in the WAL for the next start");
            }
        } else if left > 0 {
            q.m.dropped_shutdown
                .fetch_add(left as u64, Ordering::Relaxed);
            tracing::warn!(remote_name = %q.name, url = %q.url, dropped = left, "remote write shutdown deadline passed; dropped queued samples");
        }
        tracing::info!(remote_name = %q.name, sent = q.m.sent.load(Ordering::Relaxed), "remote write queue stopped");
    }
}

impl Queue {
    fn pending(&self) -> usize {
        let queued: usize = self
            .shards
            .iter()
            .map(|s| s.queue.lock().map_or(0, |q| q.len()))
            .sum();
        queued + self.m.in_flight.load(Ordering::Relaxed) as usize
    }

    /// Shards in use.
    fn active(&self) -> usize {
        self.active
            .load(Ordering::Relaxed)
            .clamp(1, self.shards.len().max(1))
    }

    /// What the shard calculation wants.
    fn desired_shards(&self) -> usize {
        self.desired.load(Ordering::Relaxed)
    }

    /// Every [`sharding::UPDATE_EVERY`]: feeds the shard calculation.
    async fn run_shard_calculation(self: Arc<Self>) {
        let mut desired = sharding::Desired::default();
        let mut tick = tokio::time::interval(sharding::UPDATE_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = self.flush.cancelled() => return,
                _ = self.hard.cancelled() => return,
            }
            let m = &self.m;
            let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
            let dropped =
                get(&m.dropped_relabel) + get(&m.dropped_too_old) + get(&m.dropped_unknown);
            let inputs = sharding::Inputs {
                samples_in: get(&m.samples_in) + get(&m.dropped_relabel) + get(&m.dropped_unknown),
                samples_out: get(&m.sent) + get(&m.failed) + dropped,
                samples_dropped: dropped,
                send_seconds: get(&m.batch_nanos) as f64 / 1e9,
                highest_in_s: m.highest_in_ms.load(Ordering::Relaxed).max(0) as f64 / 1000.0,
                highest_sent_s: m.highest_sent_ms.load(Ordering::Relaxed).max(0) as f64 / 1000.0,
            };
            let n = desired.update(
                inputs,
                sharding::UPDATE_EVERY.as_secs_f64(),
                self.active(),
                self.cfg.min_shards,
                self.cfg.max_shards.min(self.shards.len()),
            );
            self.desired.store(n, Ordering::Relaxed);
        }
    }

    fn now_secs(&self) -> u64 {
        self.started.elapsed().as_secs()
    }

    /// The shard of a series' samples: the same for every sample of a series, so its samples
    /// are sent in order.
    fn shard_of(&self, series: SeriesRef) -> usize {
        // Store refs are sequential, hash refs are not: mix either before taking the modulus.
        let mixed = (series ^ (series >> 31)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        ((mixed >> 32) % self.active() as u64) as usize
    }

    /// Where a series' samples go and with which labels, and the ref to hand back.
    ///
    /// Without `write_relabel_configs` nothing per series is kept here: the appended labels
    /// are encoded as they are (plus external labels), and the ref handed back is the
    /// caller's or, for a new series, a hash of its labels (a collision only puts two series
    /// on one shard). With rules, the outcome is cached by ref.
    fn resolve(&self, series: SeriesRef, labels: &Labels) -> (SeriesRef, Outgoing) {
        if self.rules.is_empty() {
            let r = if series != 0 {
                series
            } else {
                OWN_REF_BIT | (labels.stable_hash() >> 1)
            };
            if labels.is_empty() {
                return (r, Outgoing::Dropped);
            }
            return (r, Outgoing::AsAppended(self.shard_of(r)));
        }
        let to_outgoing = |out: &Option<(Labels, usize)>| match out {
            Some((ls, shard)) => Outgoing::Relabeled(ls.clone(), *shard),
            None => Outgoing::Dropped,
        };
        let now = self.now_secs();
        if series != 0
            && let Ok(cache) = self.cache.read()
            && let Some(e) = cache.get(&series)
        {
            e.seen.store(now, Ordering::Relaxed);
            return (series, to_outgoing(&e.out));
        }
        let mut b = LabelsBuilder::from_labels(labels);
        for l in self.external.iter() {
            if b.get(l.name).is_none() {
                b.set(l.name, l.value);
            }
        }
        let out = if relabel::relabel(&self.rules, &mut b) {
            let ls = b.labels();
            (!ls.is_empty()).then(|| {
                let shard = (ls.stable_hash() % self.active() as u64) as usize;
                (ls, shard)
            })
        } else {
            None
        };
        let r = if series != 0 {
            series
        } else {
            OWN_REF_BIT | self.next_ref.fetch_add(1, Ordering::Relaxed)
        };
        let outgoing = to_outgoing(&out);
        if let Ok(mut cache) = self.cache.write() {
            cache.insert(
                r,
                CacheEntry {
                    out,
                    seen: AtomicU64::new(now),
                },
            );
        }
        (r, outgoing)
    }

    fn forget_idle_series(&self) {
        let cutoff = self.now_secs().saturating_sub(CACHE_TTL.as_secs());
        if let Ok(mut cache) = self.cache.write() {
            cache.retain(|_, e| e.seen.load(Ordering::Relaxed) >= cutoff);
        }
    }

    /// Moves one commit's samples into their shards' queues, waiting for room while that is
    /// allowed (see the module docs), and drops (counting) what still does not fit.
    fn enqueue(&self, pending: &mut [Chunk]) {
        let n: usize = pending.iter().map(Chunk::len).sum();
        self.m.samples_in.fetch_add(n as u64, Ordering::Relaxed);
        let newest = pending.iter().map(Chunk::highest_timestamp).max();
        self.m
            .highest_in_ms
            .fetch_max(newest.unwrap_or(i64::MIN), Ordering::Relaxed);
        let mut seen = self.room.generation();
        let mut left = self.admit(pending);
        if left > 0 && self.may_wait() {
            backpressure::blocking(|| {
                let give_up = Instant::now() + self.max_enqueue_wait;
                while left > 0 && self.may_wait() {
                    let Some(until_give_up) = give_up.checked_duration_since(Instant::now()) else {
                        break;
                    };
                    self.m.enqueue_retries.fetch_add(1, Ordering::Relaxed);
                    self.room.wait(seen, until_give_up.min(ROOM_WAIT_SLICE));
                    seen = self.room.generation();
                    left = self.admit(pending);
                }
            });
        }
        if left > 0 {
            pending.iter_mut().for_each(Chunk::clear);
            self.count_dropped_full(left as u64);
        }
    }

    /// Whether a commit may wait for room: the endpoint is not failing and the queue is not
    /// shutting down.
    fn may_wait(&self) -> bool {
        !self.failing.load(Ordering::Relaxed)
            && !self.flush.is_cancelled()
            && !self.hard.is_cancelled()
    }

    /// Queues what fits of each shard's chunk (each shard's lock taken once); returns how
    /// many samples are left over.
    fn admit(&self, pending: &mut [Chunk]) -> usize {
        let mut left = 0;
        for (sh, chunk) in self.shards.iter().zip(pending.iter_mut()) {
            if chunk.is_empty() {
                continue;
            }
            let Ok(mut q) = sh.queue.lock() else {
                left += chunk.len();
                continue;
            };
            let capacity = if self.hard.is_cancelled() {
                0
            } else {
                self.cfg.capacity
            };
            let before = q.len();
            left += q.push(chunk, capacity);
            let full = self.full_batch();
            if before < full && q.len() >= full {
                sh.notify.notify_one();
            }
        }
        left
    }

    /// Samples a shard sends without waiting for `batch_send_deadline`: a full request, or
    /// a full queue when `capacity` is smaller.
    fn full_batch(&self) -> usize {
        self.cfg.max_samples_per_send.min(self.cfg.capacity).max(1)
    }

    fn count_dropped_full(&self, dropped: u64) {
        self.m.dropped_full.fetch_add(dropped, Ordering::Relaxed);
        let now = self.started.elapsed().as_millis() as i64;
        let last = self.last_drop_log.load(Ordering::Relaxed);
        if (last == i64::MIN || now - last >= DROP_LOG_EVERY.as_millis() as i64)
            && self
                .last_drop_log
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            tracing::warn!(
                remote_name = %self.name,
                url = %self.url,
                dropped,
                total_dropped = self.m.dropped_full.load(Ordering::Relaxed),
                capacity = self.cfg.capacity,
                "remote write queue full; dropping samples"
            );
        }
    }

    fn take_batch(&self, shard: usize, partial: bool) -> Option<(Vec<Chunk>, u64)> {
        let mut q = self.shards.get(shard)?.queue.lock().ok()?;
        if q.len() >= self.full_batch() || (partial && q.len() > 0) {
            let before = q.len();
            let chunks = q.take(self.cfg.max_samples_per_send.max(1));
            let taken = (before - q.len()) as u64;
            drop(q);
            self.room.signal();
            if let Some(src) = &self.wal {
                src.room.notify_one();
            }
            Some((chunks, taken))
        } else {
            None
        }
    }

    async fn run_shard(self: Arc<Self>, shard: usize) {
        let Some(sh) = self.shards.get(shard) else {
            return;
        };
        let deadline = self.cfg.batch_send_deadline.max(Duration::from_millis(1));
        let mut timer = tokio::time::Instant::now() + deadline;
        let mut flushing = false;
        let mut fired = false;
        let mut last_gc = Instant::now();
        // What the shard keeps from one request to the next, in both protocols: the snappy
        // encoder, the request buffers, 2.0's symbol table.
        let mut codec = v2::Codec::default();
        loop {
            if self.hard.is_cancelled() {
                return;
            }
            if let Some((batch, n)) = self.take_batch(shard, fired || flushing) {
                self.m.in_flight.fetch_add(n, Ordering::Relaxed);
                let marks: Vec<_> = batch
                    .iter()
                    .filter_map(|c| c.mark.map(|m| (m, c.len())))
                    .collect();
                let finished = self.send_batch(batch, &mut codec).await;
                self.m.in_flight.fetch_sub(n, Ordering::Relaxed);
                if finished && let Some(src) = &self.wal {
                    src.ack(&marks);
                }
                timer = tokio::time::Instant::now() + deadline;
                fired = false;
                continue;
            }
            if flushing {
                return;
            }
            if fired {
                fired = false;
                timer = tokio::time::Instant::now() + deadline;
            }
            if shard == 0 && last_gc.elapsed() >= CACHE_TTL / 3 {
                self.forget_idle_series();
                last_gc = Instant::now();
            }
            tokio::select! {
                _ = sh.notify.notified() => {}
                _ = tokio::time::sleep_until(timer) => fired = true,
                _ = self.flush.cancelled() => flushing = true,
                _ = self.hard.cancelled() => return,
            }
        }
    }

    /// Sends one batch, retrying what may succeed later. `true` when its samples are
    /// finished (sent, refused for good, too old), `false` when a hard stop interrupted it.
    ///
    /// The request is built in the endpoint's current message: 1.0 is the queued
    /// `TimeSeries` records back to back (one per sample, as Prometheus sends them), 2.0 is
    /// built from the same records by the shard's [`v2::Codec`]; both leave out samples
    /// older than `sample_age_limit`. A 2.0 request keeps the batch until it is done, so a
    /// receiver refusing 2.0 gets the same samples again as 1.0 (see
    /// [`v2::send_negotiated`]).
    async fn send_batch(&self, batch: Vec<Chunk>, codec: &mut v2::Codec) -> bool {
        let total: usize = batch.iter().map(Chunk::len).sum();
        let oldest = if self.cfg.sample_age_limit.is_zero() {
            None
        } else {
            Some(
                system_time_ms(std::time::SystemTime::now())
                    - self.cfg.sample_age_limit.as_millis() as i64,
            )
        };
        let (n, highest) = match oldest {
            None => (
                total as u64,
                batch
                    .iter()
                    .map(Chunk::highest_timestamp)
                    .max()
                    .unwrap_or(i64::MIN),
            ),
            Some(oldest) => batch
                .iter()
                .flat_map(Chunk::iter)
                .filter(|&(_, t)| t >= oldest)
                .fold((0u64, i64::MIN), |(n, h), (_, t)| (n + 1, h.max(t))),
        };
        self.m
            .dropped_too_old
            .fetch_add(total as u64 - n, Ordering::Relaxed);
        if n == 0 {
            return true;
        }
        let message = self.negotiation.message();
        let built = match (message, oldest) {
            (v2::WriteMessage::V1, None) => {
                codec.request_v1_plain(batch.iter().map(Chunk::bytes), samples(n))
            }
            (v2::WriteMessage::V1, Some(oldest)) => {
                codec.request_v1_plain(records(&batch, oldest), samples(n))
            }
            (v2::WriteMessage::V2, _) => {
                codec.request(message, records(&batch, oldest.unwrap_or(i64::MIN)))
            }
        };
        let mut request = match built {
            Ok(r) => r,
            Err(e) => {
                self.m.failed.fetch_add(n, Ordering::Relaxed);
                tracing::error!(remote_name = %self.name, err = %e, "encoding a remote write request failed");
                return true;
            }
        };
        // Only a 2.0 request may have to be built again (as 1.0): a 1.0 one frees the
        // batch's memory now.
        let kept = if request.message == v2::WriteMessage::V2 {
            batch
        } else {
            drop(batch);
            Vec::new()
        };
        let oldest = oldest.unwrap_or(i64::MIN);
        let kept_records = || records(&kept, oldest);
        let mut backoff = self.cfg.min_backoff;
        loop {
            if request.message != self.negotiation.message() {
                // Another shard found the endpoint takes only 1.0 while this 2.0 request
                // waited: build it as 1.0 rather than have it refused first.
                match codec.request(v2::WriteMessage::V1, kept_records()) {
                    Ok(r) => request = r,
                    Err(e) => {
                        self.m.failed.fetch_add(n, Ordering::Relaxed);
                        tracing::error!(remote_name = %self.name, err = %e, "encoding a remote write request failed");
                        return true;
                    }
                }
            }
            let message = request.message;
            self.m.requests.fetch_add(1, Ordering::Relaxed);
            let attempt_started = Instant::now();
            let res = tokio::select! {
                r = v2::send_negotiated(
                    &self.client,
                    &self.negotiation,
                    codec,
                    &mut request,
                    kept_records,
                    &self.name,
                    &self.url,
                ) => r,
                _ = self.hard.cancelled() => {
                    self.count_unfinished(n);
                    return false;
                }
            };
            if request.message != message {
                // Refused as 2.0, sent again as 1.0: two requests.
                self.m.requests.fetch_add(1, Ordering::Relaxed);
            }
            match res {
                Ok(_) => {
                    self.failing.store(false, Ordering::Relaxed);
                    self.m.sent.fetch_add(n, Ordering::Relaxed);
                    self.m
                        .sent_bytes
                        .fetch_add(request.body.len() as u64, Ordering::Relaxed);
                    self.m.highest_sent_ms.fetch_max(highest, Ordering::Relaxed);
                    self.m.observe_sent_batch(attempt_started.elapsed());
                    self.fail_log.recovered(&self.name, &self.url);
                    return true;
                }
                Err(SendError::Permanent(message)) => {
                    // The endpoint answered: the queue drains, commits may wait for it.
                    self.failing.store(false, Ordering::Relaxed);
                    self.m.failed.fetch_add(n, Ordering::Relaxed);
                    tracing::error!(remote_name = %self.name, url = %self.url, count = n, err = %message, "non-recoverable error");
                    return true;
                }
                Err(SendError::Recoverable {
                    message,
                    retry_after,
                }) => {
                    self.failing.store(true, Ordering::Relaxed);
                    self.room.signal();
                    self.m.retried.fetch_add(n, Ordering::Relaxed);
                    let delay = retry_after.unwrap_or(backoff);
                    self.fail_log.failed(&self.name, &self.url, &message);
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => {}
                        _ = self.hard.cancelled() => {
                            self.count_unfinished(n);
                            return false;
                        }
                    }
                    backoff = (backoff * 2).min(self.cfg.max_backoff);
                }
            }
        }
    }

    /// A hard stop interrupted `n` samples: lost without a WAL, still in it with one.
    fn count_unfinished(&self, n: u64) {
        if self.wal.is_none() {
            self.m.dropped_shutdown.fetch_add(n, Ordering::Relaxed);
        }
    }
}

impl Appendable for RemoteWrite {
    fn appender(&self) -> Box<dyn Appender> {
        Box::new(QueueAppender {
            pending: (0..self.inner.shards.len())
                .map(|_| Chunk::default())
                .collect(),
            q: self.inner.clone(),
        })
    }
}

struct QueueAppender {
    q: Arc<Queue>,
    /// This commit's samples, per shard, encoded.
    pending: Vec<Chunk>,
}

impl Appender for QueueAppender {
    fn append(
        &mut self,
        series: SeriesRef,
        labels: &Labels,
        timestamp_ms: i64,
        value: f64,
    ) -> Result<SeriesRef, AppendError> {
        let (r, out) = self.q.resolve(series, labels);
        let sample = std::iter::once((value, timestamp_ms));
        match out {
            Outgoing::AsAppended(shard) => {
                if let Some(p) = self.pending.get_mut(shard) {
                    let external = &self.q.external;
                    p.push(timestamp_ms, |buf| {
                        if external.is_empty() {
                            proto::write_timeseries(buf, labels.iter(), sample)
                        } else {
                            let merged = proto::with_external(labels, external);
                            proto::write_timeseries(buf, merged, sample)
                        }
                    });
                }
            }
            Outgoing::Relabeled(ls, shard) => {
                if let Some(p) = self.pending.get_mut(shard) {
                    p.push(timestamp_ms, |buf| {
                        proto::write_timeseries(buf, ls.iter(), sample)
                    });
                }
            }
            Outgoing::Dropped => {
                self.q.m.dropped_relabel.fetch_add(1, Ordering::Relaxed);
            }
        }
        Ok(r)
    }

    fn commit(&mut self) -> Result<(), AppendError> {
        self.q.enqueue(&mut self.pending);
        Ok(())
    }

    fn rollback(&mut self) {
        self.pending.iter_mut().for_each(Chunk::clear);
    }
}

/// The queues of all configured endpoints: what an embedder holds. Cheap to clone; clones
/// share the queues.
#[derive(Clone, Default)]
pub struct RemoteWriteSet {
    queues: Vec<RemoteWrite>,
}

impl RemoteWriteSet {
    /// Starts one queue per config (on the current tokio runtime).
    pub fn start(
        configs: &[RemoteWriteConfig],
        external_labels: &Labels,
    ) -> Result<RemoteWriteSet, RemoteWriteError> {
        RemoteWriteSet::start_with_wal(configs, external_labels, None)
    }

    /// Starts one queue per config; with `wal`, each queue sends what is committed to the
    /// log instead of what is appended to it (append to the log with a
    /// [`scrapeline_wal::WalAppendable`], not to these queues): it tails the log with its own
    /// reader, saves its position after each send that completes a record, and on start
    /// resumes from the saved position, so a receiver outage or a restart loses nothing the
    /// log still holds.
    pub fn start_with_wal(
        configs: &[RemoteWriteConfig],
        external_labels: &Labels,
        wal: Option<Arc<Wal>>,
    ) -> Result<RemoteWriteSet, RemoteWriteError> {
        let mut queues = Vec::with_capacity(configs.len());
        for c in configs {
            match RemoteWrite::start_with(c, external_labels.clone(), wal.clone()) {
                Ok(q) => queues.push(q),
                Err(e) => {
                    // Do not leave the queues started so far running.
                    for q in &queues {
                        q.inner.hard.cancel();
                        q.inner.flush.cancel();
                        q.inner.room.signal();
                    }
                    return Err(e);
                }
            }
        }
        Ok(RemoteWriteSet { queues })
    }

    /// The queues, in config order.
    pub fn queues(&self) -> &[RemoteWrite] {
        &self.queues
    }

    /// The queues as sinks for a fan-out next to the local store (mini-prometheus' `FanOut`),
    /// or the first as the only primary in agent mode.
    pub fn appendables(&self) -> Vec<Arc<dyn Appendable>> {
        self.queues
            .iter()
            .map(|q| Arc::new(q.clone()) as Arc<dyn Appendable>)
            .collect()
    }

    /// Flushes every queue in parallel, each bounded by `deadline`.
    pub async fn shutdown(&self, deadline: Duration) {
        futures::future::join_all(self.queues.iter().map(|q| q.shutdown(deadline))).await;
    }

    /// Appends the queues' metrics in the Prometheus text format, under Prometheus' names
    /// (`prometheus_remote_storage_*`, a line per endpoint labelled `remote_name` and the
    /// redacted `url`; `samples_dropped_total` also by `reason`), plus our extras under
    /// `scrapeline_remote_write_*`: what `/metrics` serves.
    pub fn write_metrics(&self, out: &mut String) {
        metrics::write(&self.queues, out);
    }
}

/// Collects queues started one by one (say, with different external labels) into a set, for
/// its metrics and shutdown.
impl FromIterator<RemoteWrite> for RemoteWriteSet {
    fn from_iter<I: IntoIterator<Item = RemoteWrite>>(queues: I) -> Self {
        RemoteWriteSet {
            queues: queues.into_iter().collect(),
        }
    }
}

/// The per-sample records of `batch` whose timestamp is `oldest` or newer, in order.
fn records(batch: &[Chunk], oldest: i64) -> impl Iterator<Item = &[u8]> {
    batch
        .iter()
        .flat_map(Chunk::iter)
        .filter(move |&(_, t)| t >= oldest)
        .map(|(b, _)| b)
}

/// The counts of a request of `n` float samples.
fn samples(n: u64) -> v2::WrittenCounts {
    v2::WrittenCounts {
        samples: n,
        ..v2::WrittenCounts::default()
    }
}

/// Milliseconds since the Unix epoch (negative before it), saturating.
fn system_time_ms(t: std::time::SystemTime) -> i64 {
    match t.duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX),
    }
}

#[cfg(test)]
mod receivers;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tls_tests;
#[cfg(test)]
mod wal_tests;
