//! The writer: one open segment, commits written to it whole, cut at the size limit, synced
//! by a background thread.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use crate::metrics::Metrics;
use crate::record;
use crate::segment;
use crate::{Position, WalError, WalOptions};

/// A write-ahead log in one directory. Share it in an `Arc`: appenders commit to it, readers
/// tail it, the maintenance thread truncates it.
pub struct Wal {
    pub(crate) dir: PathBuf,
    pub(crate) opts: WalOptions,
    head: Mutex<Head>,
    /// The committed end, for readers: `segment << 32 | offset`.
    committed: AtomicU64,
    /// Wakes readers waiting for more.
    pub(crate) changed: tokio::sync::watch::Sender<Position>,
    pub(crate) metrics: Metrics,
    /// The next ref [`Wal::new_ref`] hands out.
    next_ref: AtomicU64,
    /// Newest sample timestamp committed.
    pub(crate) max_t: AtomicI64,
    /// Per series ref: seconds since the Unix epoch it was last committed to.
    pub(crate) seen: Mutex<crate::RefMap<u64>>,
    /// Per reader name: the first segment it still needs.
    pub(crate) watermarks: Mutex<HashMap<String, u32>>,
    /// To the sync thread: segments to sync and close.
    to_sync: Mutex<Option<mpsc::Sender<File>>>,
    /// Serialises checkpoints.
    pub(crate) truncating: Mutex<()>,
}

struct Head {
    file: Option<File>,
    segment: u32,
    offset: u64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Wal {
    /// Opens (creating) the log in `dir`: repairs damaged segments (truncating each at its
    /// first unreadable record, one warning per segment), then starts a new segment after
    /// the last one, as Prometheus does, and the thread that syncs it.
    pub fn open(dir: impl Into<PathBuf>, opts: WalOptions) -> Result<Arc<Wal>, WalError> {
        let dir = dir.into();
        let io_err = |what: &str, e: io::Error| WalError::Io(format!("{what}: {e}"));
        fs::create_dir_all(&dir).map_err(|e| io_err(&dir.display().to_string(), e))?;
        let metrics = Metrics::default();
        let mut max_ref = 0u64;
        let mut max_t = i64::MIN;
        let mut seen = crate::RefMap::default();
        let segment_time = std::cell::Cell::new(0u64);
        let mut note = |body: &[u8]| match record::decode(body) {
            Ok(record::Record::Series(s)) => {
                for (r, _) in s {
                    max_ref = max_ref.max(r);
                }
            }
            Ok(record::Record::Samples(s)) => {
                for x in s {
                    max_t = max_t.max(x.t_ms);
                    seen.insert(x.series, segment_time.get());
                }
            }
            Err(_) => {}
        };
        if let Some((_, cp)) = crate::checkpoint::latest(&dir) {
            let _ = scan(&segment::path(&cp, 0), &mut note);
        }
        let segments = segment::list(&dir).map_err(|e| io_err("listing segments", e))?;
        for &n in &segments {
            let p = segment::path(&dir, n);
            segment_time.set(
                fs::metadata(&p)
                    .and_then(|m| m.modified())
                    .map_or(0, unix_secs),
            );
            match scan(&p, &mut note) {
                Ok((valid, Some(why))) => {
                    tracing::warn!(segment = n, offset = valid, err = why, dir = %dir.display(), "Starting corruption repair");
                    metrics.corruptions.fetch_add(1, Ordering::Relaxed);
                    let f = OpenOptions::new()
                        .write(true)
                        .open(&p)
                        .map_err(|e| io_err("repair", e))?;
                    f.set_len(valid).map_err(|e| io_err("repair", e))?;
                    metrics.repairs.fetch_add(1, Ordering::Relaxed);
                }
                Ok((_, None)) => {}
                Err(e) => return Err(io_err(&p.display().to_string(), e)),
            }
        }
        let first = segments.last().map_or(0, |l| l.saturating_add(1));
        let file = create_segment(&dir, first).map_err(|e| io_err("creating segment", e))?;
        let head = Position {
            segment: first,
            offset: 0,
        };
        let (changed, _) = tokio::sync::watch::channel(head);
        metrics
            .segment_current
            .store(u64::from(first), Ordering::Relaxed);
        let wal = Arc::new(Wal {
            dir,
            opts,
            head: Mutex::new(Head {
                file: Some(file),
                segment: first,
                offset: 0,
            }),
            committed: AtomicU64::new(head.pack()),
            changed,
            metrics,
            next_ref: AtomicU64::new(max_ref.saturating_add(1)),
            max_t: AtomicI64::new(max_t),
            seen: Mutex::new(seen),
            watermarks: Mutex::new(HashMap::new()),
            to_sync: Mutex::new(None),
            truncating: Mutex::new(()),
        });
        let (tx, rx) = mpsc::channel();
        *lock(&wal.to_sync) = Some(tx);
        let weak = Arc::downgrade(&wal);
        let interval = wal.opts.sync_interval;
        std::thread::Builder::new()
            .name("wal-sync".into())
            .spawn(move || sync_loop(weak, rx, interval))
            .map_err(|e| io_err("starting the sync thread", e))?;
        Ok(wal)
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The options it was opened with.
    pub fn options(&self) -> &WalOptions {
        &self.opts
    }

    /// A fresh series ref, above every ref in the log when it was opened.
    pub fn new_ref(&self) -> u64 {
        self.next_ref.fetch_add(1, Ordering::Relaxed)
    }

    /// Where the committed records end: readers read up to here.
    pub fn head(&self) -> Position {
        Position::unpack(self.committed.load(Ordering::Acquire))
    }

    /// A receiver that changes whenever a commit moves the head.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<Position> {
        self.changed.subscribe()
    }

    /// Writes `batch` (whole frames, see [`crate::Batch`]) with one `write(2)`: once this
    /// returns, a kill of the process no longer loses it (it is in the page cache); a power
    /// loss may, until the next sync. Cuts to a new segment first when the batch does not fit
    /// in the current one.
    pub fn commit(&self, batch: &mut crate::Batch) -> Result<(), WalError> {
        if batch.is_empty() {
            return Ok(());
        }
        let bytes = batch.frames();
        let len = bytes.len() as u64;
        let started = Instant::now();
        let mut h = lock(&self.head);
        if h.file.is_none() || (h.offset > 0 && h.offset + len > self.opts.segment_size) {
            self.cut(&mut h)?;
        }
        let Some(file) = h.file.as_mut() else {
            return Err(WalError::Io("no open segment".into()));
        };
        if let Err(e) = file.write_all(bytes) {
            self.metrics.write_failures.fetch_add(1, Ordering::Relaxed);
            // Take back a partial write so the next commit does not follow a torn frame;
            // where even that fails, the next commit starts a new segment.
            let off = h.offset;
            if h.file.as_mut().is_none_or(|f| f.set_len(off).is_err()) {
                h.file = None;
            }
            return Err(WalError::Io(format!("writing segment {}: {e}", h.segment)));
        }
        h.offset += len;
        let pos = Position {
            segment: h.segment,
            offset: h.offset,
        };
        self.committed.store(pos.pack(), Ordering::Release);
        drop(h);
        self.metrics.bytes_written.fetch_add(len, Ordering::Relaxed);
        self.metrics
            .samples_appended
            .fetch_add(batch.samples() as u64, Ordering::Relaxed);
        if batch.max_t() != i64::MIN {
            self.max_t.fetch_max(batch.max_t(), Ordering::Relaxed);
        }
        self.metrics.observe_commit(started.elapsed());
        self.changed.send_replace(pos);
        self.touch(batch.refs());
        batch.clear();
        Ok(())
    }

    /// Notes that these series were committed to now (checkpoints keep series by it).
    fn touch(&self, refs: &[u64]) {
        if refs.is_empty() {
            return;
        }
        let now = unix_secs(SystemTime::now());
        let mut seen = lock(&self.seen);
        for r in refs {
            match seen.get_mut(r) {
                Some(t) => *t = now,
                None => {
                    seen.insert(*r, now);
                }
            }
        }
    }

    /// Closes the current segment (synced by the sync thread) and opens the next.
    fn cut(&self, h: &mut Head) -> Result<(), WalError> {
        let next = h
            .segment
            .saturating_add(u32::from(h.file.is_some() || h.offset > 0));
        let file = create_segment(&self.dir, next)
            .map_err(|e| WalError::Io(format!("creating segment {next}: {e}")))?;
        if let Some(old) = h.file.replace(file) {
            match lock(&self.to_sync).as_ref() {
                Some(tx) => {
                    let _ = tx.send(old);
                }
                None => {
                    let _ = old.sync_data();
                }
            }
        }
        h.segment = next;
        h.offset = 0;
        self.metrics
            .segment_current
            .store(u64::from(next), Ordering::Relaxed);
        let pos = Position {
            segment: next,
            offset: 0,
        };
        self.committed.store(pos.pack(), Ordering::Release);
        self.changed.send_replace(pos);
        Ok(())
    }

    /// Syncs the current segment to disk now.
    pub fn sync(&self) -> Result<(), WalError> {
        let f = lock(&self.head).file.as_ref().map(File::try_clone);
        if let Some(Ok(f)) = f {
            self.fsync(&f)
                .map_err(|e| WalError::Io(format!("fsync: {e}")))?;
        }
        Ok(())
    }

    fn fsync(&self, f: &File) -> io::Result<()> {
        let t = Instant::now();
        let r = f.sync_data();
        self.metrics.observe_fsync(t.elapsed());
        r
    }

    /// Samples committed so far (all time, this process).
    pub fn samples_appended(&self) -> u64 {
        self.metrics.samples_appended.load(Ordering::Relaxed)
    }

    /// Newest sample timestamp committed or found at open (`i64::MIN` when none).
    pub fn max_time(&self) -> i64 {
        self.max_t.load(Ordering::Relaxed)
    }

    /// Registers (or moves) a reader's low watermark: the first segment it still needs.
    /// Segments below every registered watermark may be truncated.
    pub fn set_watermark(&self, reader: &str, segment: u32) {
        lock(&self.watermarks).insert(reader.to_owned(), segment);
    }

    /// Forgets a reader (its queue was removed): it no longer holds segments back.
    pub fn remove_watermark(&self, reader: &str) {
        lock(&self.watermarks).remove(reader);
    }

    /// Syncs and stops writing: what the sync thread would have done at the next tick.
    pub fn close(&self) {
        let _ = self.sync();
        lock(&self.to_sync).take();
    }

    /// Total bytes of segments and checkpoints on disk.
    pub fn disk_size(&self) -> u64 {
        dir_size(&self.dir)
    }
}

fn create_segment(dir: &Path, n: u32) -> io::Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(segment::path(dir, n))
}

/// Reads the frames of the file at `p`, calling `visit` with each valid body. Returns where
/// the valid frames end and, when they do not reach the end of the file, why.
pub(crate) fn scan(
    p: &Path,
    visit: &mut dyn FnMut(&[u8]),
) -> io::Result<(u64, Option<&'static str>)> {
    use std::io::Read;
    let f = File::open(p)?;
    let file_len = f.metadata()?.len();
    let mut r = io::BufReader::with_capacity(1 << 20, f);
    let mut at = 0u64;
    let mut header = [0u8; segment::HEADER];
    let mut body = Vec::new();
    while at < file_len {
        if file_len - at < segment::HEADER as u64 {
            return Ok((at, Some("truncated record")));
        }
        r.read_exact(&mut header)?;
        let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as u64;
        if len == 0 || len > segment::MAX_BODY as u64 {
            return Ok((at, Some("invalid record length")));
        }
        if len > file_len - at - segment::HEADER as u64 {
            return Ok((at, Some("truncated record")));
        }
        body.resize(len as usize, 0);
        r.read_exact(&mut body)?;
        let sum = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
        if let Err(why) = segment::check_body(&body, sum) {
            return Ok((at, Some(why)));
        }
        visit(&body);
        at += segment::HEADER as u64 + len;
    }
    Ok((at, None))
}

fn sync_loop(wal: std::sync::Weak<Wal>, rx: mpsc::Receiver<File>, interval: Duration) {
    let interval = interval.max(Duration::from_millis(10));
    let mut last = Instant::now();
    loop {
        let wait = interval.saturating_sub(last.elapsed());
        match rx.recv_timeout(wait) {
            Ok(old) => {
                if let Some(w) = wal.upgrade() {
                    let _ = w.fsync(&old);
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let Some(w) = wal.upgrade() else { return };
                if let Err(e) = w.sync() {
                    tracing::error!(err = %e, "WAL fsync failed");
                }
                last = Instant::now();
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => return,
        }
    }
}

pub(crate) fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

pub(crate) fn dir_size(dir: &Path) -> u64 {
    let Ok(rd) = fs::read_dir(dir) else { return 0 };
    rd.flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}
