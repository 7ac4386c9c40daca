//! A write-ahead log of series and samples: what remote write sends from (so a receiver
//! outage or a restart loses nothing) and what a store replays on start.
//!
//! # Format
//!
//! A directory of numbered segment files (`00000000`, `00000001`, …, at most
//! [`WalOptions::segment_size`] each, 128 MiB by default as in Prometheus) plus at most one
//! checkpoint directory `checkpoint.NNNNNNNN` (the live series, and in a store's log the
//! retained samples, of every segment up to `NNNNNNNN`, which are deleted once it is
//! written). Each segment holds frames `[length u32][CRC-32 u32][body]`; a body is a series
//! record (refs and their labels) or a samples record (ref, timestamp, value, batched):
//! see [`record`] and [`segment`]. Readers ([`Reader`]) keep their own ref → labels map from
//! the series records, so a sample costs 24 bytes on disk.
//!
//! # Durability (what is lost when)
//!
//! - Every [`Wal::commit`] (one per scrape) is one `write(2)` into the open segment: once it
//!   returns the data is in the kernel's page cache, and **killing the process (SIGKILL,
//!   OOM kill, panic) loses nothing committed**; only the scrape being appended at that
//!   moment is lost.
//! - The segment is `fsync`ed when it is cut (asynchronously, by the sync thread) and every
//!   [`WalOptions::sync_interval`] (10 s by default). **A power loss or kernel crash loses at
//!   most the last `sync_interval` of commits** (the unsynced tail); the torn record it may
//!   leave is repaired on the next open.
//!
//! # Repair
//!
//! [`Wal::open`] reads every segment. A record that is truncated, fails its checksum or has
//! an unknown type ends its segment: the file is truncated there, one warning is logged
//! (`Starting corruption repair`, with the segment and offset) and
//! `prometheus_tsdb_wal_corruptions_total` (an agent: `prometheus_agent_corruptions_total`)
//! counts it. Later segments are kept. Nothing in a
//! damaged file makes it panic (property-tested).
//!
//! # Truncation and the disk bound
//!
//! [`Wal::truncate`] (run by the embedder's maintenance, every minute in mini-prometheus)
//! deletes the segments every registered reader has passed ([`Wal::set_watermark`]), after
//! writing a checkpoint of the series they still need. When the log is larger than
//! [`WalOptions::max_size`] or its oldest segments older than [`WalOptions::max_age`],
//! the oldest segments go even when unsent; their samples are counted in
//! `scrapeline_wal_samples_dropped_total`.

mod appendable;
mod batch;
mod checkpoint;
mod dense_refs;
mod metrics;
mod positions;
mod reader;
pub mod record;
mod refmap;
pub mod segment;
mod wal;

use std::time::Duration;

pub use appendable::WalAppendable;
pub use batch::Batch;
pub use checkpoint::Truncation;
pub use dense_refs::DenseRefMap;
pub use positions::{load_position, save_position};
pub use reader::{Reader, ReaderEvent};
pub use refmap::{RefHasher, RefMap};
pub use wal::Wal;

/// Default segment size: Prometheus' 128 MiB.
pub const DEFAULT_SEGMENT_SIZE: u64 = 128 << 20;
/// The largest segment size accepted.
pub const MAX_SEGMENT_SIZE: u64 = 2 << 30;

/// How a [`Wal`] writes and what it keeps.
#[derive(Debug, Clone, PartialEq)]
pub struct WalOptions {
    /// A segment is cut when the next commit would make it larger than this (a commit larger
    /// than a whole segment gets a segment of its own).
    pub segment_size: u64,
    /// The open segment is `fsync`ed this often (and at every cut).
    pub sync_interval: Duration,
    /// Disk bound: when segments and checkpoint together are larger, the oldest segments are
    /// deleted even when unsent. `None`: no bound.
    pub max_size: Option<u64>,
    /// Segments last written longer ago than this are deleted even when unsent. `None`: no
    /// bound.
    pub max_age: Option<Duration>,
    /// A store's log: checkpoints keep the samples newer than this before the newest
    /// sample, for replay. `None` (an agent's log): checkpoints keep series only.
    pub keep_samples_within: Option<Duration>,
}

impl Default for WalOptions {
    fn default() -> Self {
        WalOptions {
            segment_size: DEFAULT_SEGMENT_SIZE,
            sync_interval: Duration::from_secs(10),
            max_size: None,
            max_age: None,
            keep_samples_within: None,
        }
    }
}

/// A place in the log: a segment and a byte offset in it. Orders as the records do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Position {
    /// The segment number.
    pub segment: u32,
    /// Bytes from its start.
    pub offset: u64,
}

impl Position {
    pub(crate) fn pack(self) -> u64 {
        (u64::from(self.segment) << 32) | (self.offset & 0xffff_ffff)
    }

    pub(crate) fn unpack(v: u64) -> Position {
        Position {
            segment: (v >> 32) as u32,
            offset: v & 0xffff_ffff,
        }
    }
}

/// Why the log could not be opened or written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WalError {
    /// A file operation failed.
    #[error("WAL: {0}")]
    Io(String),
}
