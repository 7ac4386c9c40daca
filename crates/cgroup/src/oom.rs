//! OOM kills from the kernel log, counted per cgroup: `container_oom_events_total`.
//!
//! cAdvisor (and so the kubelet) does not read `memory.events`: its manager runs
//! `utils/oomparser` over `/dev/kmsg` and adds 1 to an in-memory counter of the container
//! whose cgroup the killed task was in (`OomInstance.ContainerName`: `task_memcg=` on kernels
//! ≥ 5.0, the first path of `Task in X killed as a result of limit of Y` before). The counter
//! starts at 0 when cAdvisor starts and lives as long as it does. This module does the same:
//!
//! * [`parse_kmsg_record`] splits one `/dev/kmsg` record (`prio,seq,usec,flags;message`);
//! * [`OomParser`] is cAdvisor's state machine over messages (pure, no I/O);
//! * [`OomCounter`] is the bounded per-cgroup counter, readable through [`OomCounts`];
//! * [`OomWatcher`] tails a kmsg file from its end on a background thread and feeds the
//!   counter; dropping it stops the thread.
//!
//! The collector reads an [`OomCounts`] (see
//! [`Collector::set_oom_counts`](crate::Collector::set_oom_counts)).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use rustix::fs::{self as rfs, Mode, OFlags, SeekFrom};
use rustix::io::Errno;

use crate::error::CgroupError;

/// A source of OOM-kill counts per cgroup path (`/kubepods/burstable/pod.../<id>`, as the
/// collector's `id` label). Implemented by [`OomCounter`] and [`OomWatcher`]; the binary may
/// supply its own.
pub trait OomCounts: Send + Sync {
    /// OOM kills attributed to the cgroup `path` since the source started (0 when none).
    fn oom_events(&self, path: &str) -> u64;
}

/// One record of `/dev/kmsg` (see the kernel's `Documentation/ABI/testing/dev-kmsg`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KmsgRecord<'a> {
    /// Syslog priority (the low three bits of the prefix).
    pub priority: u8,
    /// Syslog facility (the prefix shifted right by three).
    pub facility: u32,
    /// The record's 64-bit sequence number.
    pub sequence: u64,
    /// Microseconds since boot (monotonic clock).
    pub timestamp_us: u64,
    /// The message text (non-printable bytes are `\xNN`-escaped by the kernel).
    pub message: &'a str,
}

/// Parses the first line of a `/dev/kmsg` record: `prio,seq,usec,flags[,...];message`.
/// Continuation lines (` KEY=value`) and anything malformed give `None`.
pub fn parse_kmsg_record(line: &str) -> Option<KmsgRecord<'_>> {
    let line = line.strip_suffix('\n').unwrap_or(line);
    let (header, message) = line.split_once(';')?;
    let mut f = header.split(',');
    let prefix: u32 = f.next()?.parse().ok()?;
    let sequence = f.next()?.parse().ok()?;
    let timestamp_us = f.next()?.parse().ok()?;
    // The flags field ('-' or 'c') must be there; more fields may follow.
    f.next()?;
    Some(KmsgRecord {
        priority: (prefix & 7) as u8,
        facility: prefix >> 3,
        sequence,
        timestamp_us,
        message,
    })
}

/// One OOM kill, as cAdvisor's `OomInstance`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OomEvent {
    /// The cgroup of the killed task (`task_memcg`, or the legacy `Task in X`): the cgroup
    /// whose counter goes up. `/` when the kernel did not say.
    pub cgroup: String,
    /// The cgroup whose limit was hit (`oom_memcg`, or the legacy `limit of Y`); `/` when not
    /// said.
    pub limit_cgroup: String,
    /// The killed process id (0 when not said).
    pub pid: u32,
    /// The killed process name.
    pub process: String,
    /// The constraint (`CONSTRAINT_MEMCG`, `CONSTRAINT_NONE`, ...); empty on old kernels.
    pub constraint: String,
}

/// cAdvisor's `StreamOoms` state machine: a line containing `invoked oom-killer:` opens an
/// event; the next `oom-kill:constraint=...` line (kernel ≥ 5.0) or `Killed process N (name)`
/// line closes it; a `Task in X killed as a result of limit of Y` line in between names the
/// cgroups on older kernels. Feed it the message of every kernel log record in order.
#[derive(Debug, Default, Clone)]
pub struct OomParser {
    current: Option<OomEvent>,
}

impl OomParser {
    /// A parser outside any OOM report.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds one message; returns the event it completes, if any.
    pub fn feed(&mut self, message: &str) -> Option<OomEvent> {
        let Some(ev) = self.current.as_mut() else {
            if message.contains("invoked oom-killer:") {
                self.current = Some(OomEvent {
                    cgroup: "/".to_string(),
                    limit_cgroup: "/".to_string(),
                    ..OomEvent::default()
                });
            }
            return None;
        };
        let finished = match parse_oom_kill_line(message) {
            Some(line) => {
                ev.cgroup = line.task_memcg.to_string();
                ev.limit_cgroup = line.oom_memcg.to_string();
                ev.constraint = line.constraint.to_string();
                ev.process = line.task.to_string();
                match line.pid {
                    Some(pid) => {
                        ev.pid = pid;
                        true
                    }
                    // cAdvisor: an unparsable pid leaves the event open and tries the
                    // "Killed process" form on the same line.
                    None => killed_process(message, ev),
                }
            }
            None => {
                if let Some((task, limit)) = legacy_task_line(message) {
                    ev.cgroup = clean_abs(task);
                    ev.limit_cgroup = clean_abs(limit);
                }
                killed_process(message, ev)
            }
        };
        if finished { self.current.take() } else { None }
    }
}

struct OomKillLine<'a> {
    constraint: &'a str,
    oom_memcg: &'a str,
    task_memcg: &'a str,
    task: &'a str,
    pid: Option<u32>,
}

/// `oom-kill:constraint=(.*),nodemask=(.*),cpuset=(.*),mems_allowed=(.*),oom_memcg=(.*),
/// task_memcg=(.*),task=(.*),pid=(.*),uid=(.*)` with Go's greedy, leftmost semantics: each
/// separator is the last one that still leaves room for the ones after it.
fn parse_oom_kill_line(line: &str) -> Option<OomKillLine<'_>> {
    const START: &str = "oom-kill:constraint=";
    let at = line.find(START)?;
    let rest = line.get(at + START.len()..)?;
    let seps = [
        ",nodemask=",
        ",cpuset=",
        ",mems_allowed=",
        ",oom_memcg=",
        ",task_memcg=",
        ",task=",
        ",pid=",
        ",uid=",
    ];
    // Find the separators from the right: the last `,uid=`, the last `,pid=` before it, ...
    let mut ends = [0usize; 8];
    let mut limit = rest.len();
    for (i, sep) in seps.iter().enumerate().rev() {
        let pos = rest.get(..limit)?.rfind(sep)?;
        if let Some(e) = ends.get_mut(i) {
            *e = pos;
        }
        limit = pos;
    }
    let field = |i: usize| -> Option<&str> {
        // Field i (0 = constraint) runs from after separator i-1 to separator i.
        let start = match i {
            0 => 0,
            _ => ends.get(i - 1)? + seps.get(i - 1)?.len(),
        };
        let end = match ends.get(i) {
            Some(e) => *e,
            None => rest.len(),
        };
        rest.get(start..end)
    };
    Some(OomKillLine {
        constraint: field(0)?,
        oom_memcg: field(4)?,
        task_memcg: field(5)?,
        task: field(6)?,
        pid: field(7)?.parse().ok(),
    })
}

/// `Task in (.*) killed as a result of limit of (.*)` (greedy: the last marker).
fn legacy_task_line(line: &str) -> Option<(&str, &str)> {
    const START: &str = "Task in ";
    const MID: &str = " killed as a result of limit of ";
    let at = line.find(START)?;
    let rest = line.get(at + START.len()..)?;
    let mid = rest.rfind(MID)?;
    Some((rest.get(..mid)?, rest.get(mid + MID.len()..)?))
}

/// `Killed process ([0-9]+) \((.+)\)`: sets pid and name, true when the line matched.
fn killed_process(line: &str, ev: &mut OomEvent) -> bool {
    const START: &str = "Killed process ";
    let mut from = 0;
    while let Some(found) = line.get(from..).and_then(|s| s.find(START)) {
        let at = from + found + START.len();
        let rest = line.get(at..).unwrap_or_default();
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0
            && let Some(after) = rest.get(digits..).and_then(|s| s.strip_prefix(" ("))
            && let Some(close) = after.rfind(')')
            && close > 0
            && let Ok(pid) = rest.get(..digits).unwrap_or_default().parse::<u32>()
        {
            ev.pid = pid;
            ev.process = after.get(..close).unwrap_or_default().to_string();
            return true;
        }
        from = at;
    }
    false
}

/// Go's `path.Join("/", p)`: an absolute, lexically cleaned path.
fn clean_abs(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    let mut out = String::with_capacity(p.len() + 1);
    for s in &parts {
        out.push('/');
        out.push_str(s);
    }
    if out.is_empty() {
        out.push('/');
    }
    out
}

/// Per-cgroup OOM-kill counters, bounded: past [`OomCounter::max_cgroups`] distinct paths
/// the least recently counted one is forgotten (a long-gone container, in practice).
#[derive(Debug)]
pub struct OomCounter {
    inner: Mutex<CounterInner>,
    max_cgroups: usize,
}

#[derive(Debug, Default)]
struct CounterInner {
    /// path → (count, the tick of its last increment).
    counts: HashMap<String, (u64, u64)>,
    tick: u64,
}

impl OomCounter {
    /// The default bound on distinct cgroups remembered.
    pub const DEFAULT_MAX_CGROUPS: usize = 16_384;

    /// An empty counter remembering at most `max_cgroups` paths (at least 1).
    pub fn new(max_cgroups: usize) -> Self {
        Self {
            inner: Mutex::new(CounterInner::default()),
            max_cgroups: max_cgroups.max(1),
        }
    }

    /// The bound on distinct paths.
    pub fn max_cgroups(&self) -> usize {
        self.max_cgroups
    }

    /// Adds one OOM kill to `path`.
    pub fn record(&self, path: &str) {
        let mut g = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        g.tick += 1;
        let tick = g.tick;
        if let Some(e) = g.counts.get_mut(path) {
            e.0 += 1;
            e.1 = tick;
            return;
        }
        if g.counts.len() >= self.max_cgroups {
            let oldest = g
                .counts
                .iter()
                .min_by_key(|(_, (_, t))| *t)
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                g.counts.remove(&k);
            }
        }
        g.counts.insert(path.to_string(), (1, tick));
    }

    /// Every counted path and its count, sorted by path.
    pub fn snapshot(&self) -> Vec<(String, u64)> {
        let g = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let mut v: Vec<(String, u64)> =
            g.counts.iter().map(|(k, (c, _))| (k.clone(), *c)).collect();
        v.sort();
        v
    }
}

impl Default for OomCounter {
    fn default() -> Self {
        Self::new(Self::DEFAULT_MAX_CGROUPS)
    }
}

impl OomCounts for OomCounter {
    fn oom_events(&self, path: &str) -> u64 {
        let g = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        g.counts.get(path).map_or(0, |e| e.0)
    }
}

/// How an [`OomWatcher`] reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OomWatcherConfig {
    /// How long the thread sleeps when the log has nothing new (default 250 ms).
    pub poll_interval: Duration,
    /// Bound on distinct cgroups counted (default [`OomCounter::DEFAULT_MAX_CGROUPS`]).
    pub max_cgroups: usize,
}

impl Default for OomWatcherConfig {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_millis(250),
            max_cgroups: OomCounter::DEFAULT_MAX_CGROUPS,
        }
    }
}

/// What the watcher thread has seen (for self-metrics and tests).
#[derive(Debug, Default)]
pub struct OomWatcherStats {
    /// Log records parsed.
    pub records: AtomicU64,
    /// OOM kills counted.
    pub ooms: AtomicU64,
    /// Times the kernel overwrote records before we read them (`EPIPE` on `/dev/kmsg`).
    pub records_lost: AtomicU64,
    /// Read errors other than "nothing new".
    pub read_errors: AtomicU64,
}

/// Tails a kernel log (`/dev/kmsg`, or a file of kmsg records in tests) from its end on a
/// background thread and counts OOM kills per cgroup. Non-blocking reads, a bounded line
/// buffer and counter; dropping the watcher (or [`OomWatcher::stop`]) stops the thread.
#[derive(Debug)]
pub struct OomWatcher {
    counter: Arc<OomCounter>,
    stats: Arc<OomWatcherStats>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    path: PathBuf,
}

/// Longest line kept while waiting for its end; longer ones are dropped.
const MAX_LINE: usize = 64 * 1024;
/// One `/dev/kmsg` read returns one record; the kernel caps records well below this.
const READ_CHUNK: usize = 16 * 1024;

impl OomWatcher {
    /// The kernel log of a host whose root filesystem is at `rootfs`: `<rootfs>/dev/kmsg`.
    /// (In a container, mount the host's `/dev/kmsg` there, as cAdvisor needs too.)
    pub fn kmsg_path(rootfs: &Path) -> PathBuf {
        rootfs.join("dev/kmsg")
    }

    /// Opens `path`, seeks to its end (only OOMs from now on are counted, as cAdvisor does
    /// by starting at the end) and starts the thread with the default configuration.
    pub fn start(path: impl AsRef<Path>) -> Result<Self, CgroupError> {
        Self::start_with(path, OomWatcherConfig::default())
    }

    /// [`OomWatcher::start`] with a configuration.
    pub fn start_with(
        path: impl AsRef<Path>,
        config: OomWatcherConfig,
    ) -> Result<Self, CgroupError> {
        let path = path.as_ref().to_path_buf();
        let io_err = |e: Errno| CgroupError::Io {
            path: path.clone(),
            source: std::io::Error::from_raw_os_error(e.raw_os_error()),
        };
        let fd = rfs::open(
            &path,
            OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(io_err)?;
        rfs::seek(&fd, SeekFrom::End(0)).map_err(io_err)?;
        let counter = Arc::new(OomCounter::new(config.max_cgroups));
        let stats = Arc::new(OomWatcherStats::default());
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (counter, stats, stop) = (counter.clone(), stats.clone(), stop.clone());
            std::thread::Builder::new()
                .name("oom-watcher".to_string())
                .spawn(move || run(fd, &counter, &stats, &stop, config.poll_interval))
                .map_err(|source| CgroupError::Io {
                    path: path.clone(),
                    source,
                })?
        };
        Ok(Self {
            counter,
            stats,
            stop,
            thread: Some(thread),
            path,
        })
    }

    /// The counters, to hand to the collector
    /// ([`Collector::set_oom_counts`](crate::Collector::set_oom_counts)).
    pub fn counts(&self) -> Arc<OomCounter> {
        self.counter.clone()
    }

    /// What the thread has seen so far.
    pub fn stats(&self) -> &OomWatcherStats {
        &self.stats
    }

    /// The file being read.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Stops the thread and waits for it (also done on drop).
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            let _ = t.join();
        }
    }
}

impl Drop for OomWatcher {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl OomCounts for OomWatcher {
    fn oom_events(&self, path: &str) -> u64 {
        self.counter.oom_events(path)
    }
}

/// The watcher thread: read what is there, split into lines, parse; sleep when idle.
fn run(
    fd: std::os::fd::OwnedFd,
    counter: &OomCounter,
    stats: &OomWatcherStats,
    stop: &AtomicBool,
    poll: Duration,
) {
    let mut parser = OomParser::new();
    let mut chunk = vec![0u8; READ_CHUNK];
    let mut line: Vec<u8> = Vec::with_capacity(1024);
    let mut skipping = false;
    while !stop.load(Ordering::Acquire) {
        match rustix::io::read(&fd, &mut chunk[..]) {
            Ok(0) | Err(Errno::AGAIN) => std::thread::park_timeout(poll),
            Ok(n) => {
                for &b in chunk.get(..n).unwrap_or_default() {
                    if b == b'\n' {
                        if !skipping {
                            handle_line(&line, &mut parser, counter, stats);
                        }
                        line.clear();
                        skipping = false;
                    } else if !skipping {
                        if line.len() >= MAX_LINE {
                            line.clear();
                            skipping = true;
                        } else {
                            line.push(b);
                        }
                    }
                }
            }
            Err(Errno::INTR) => {}
            // Records were overwritten before we read them; the next read continues at the
            // oldest record still there.
            Err(Errno::PIPE) => {
                stats.records_lost.fetch_add(1, Ordering::Relaxed);
            }
            Err(_) => {
                stats.read_errors.fetch_add(1, Ordering::Relaxed);
                std::thread::park_timeout(poll);
            }
        }
    }
}

fn handle_line(line: &[u8], parser: &mut OomParser, counter: &OomCounter, stats: &OomWatcherStats) {
    // Continuation lines (` KEY=value`) carry no message.
    if line.first() == Some(&b' ') {
        return;
    }
    let text = String::from_utf8_lossy(line);
    let Some(rec) = parse_kmsg_record(&text) else {
        return;
    };
    stats.records.fetch_add(1, Ordering::Relaxed);
    if let Some(ev) = parser.feed(rec.message) {
        counter.record(&ev.cgroup);
        stats.ooms.fetch_add(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Lines from cAdvisor's utils/oomparser/oomparser_test.go.
    const START_LINE: &str = "ruby invoked oom-killer: gfp_mask=0x201da, order=0, oom_score_adj=0";
    const END_LINE: &str =
        "Killed process 19667 (evil-program2) total-vm:1460016kB, anon-rss:1414008kB, file-rss:4kB";
    const LEGACY_LINE: &str = "Task in /mem2 killed as a result of limit of /mem3";
    const CONTAINER_LINE: &str = "oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=ef807430361e6e82b45db92e2e9b6fbec98f419b12c591e655c1a725565e73a8,mems_allowed=0,oom_memcg=/kubepods/burstable/podfbdfe8e3-1c87-4ff2-907c-b2ec8e25d012,task_memcg=/kubepods/burstable/podfbdfe8e3-1c87-4ff2-907c-b2ec8e25d012/ef807430361e6e82b45db92e2e9b6fbec98f419b12c591e655c1a725565e73a8,task=manager,pid=966,uid=0";

    #[test]
    fn kmsg_records() {
        let r = parse_kmsg_record("6,1234,5678901,-;oom-kill:constraint=X\n").unwrap();
        assert_eq!(
            r,
            KmsgRecord {
                priority: 6,
                facility: 0,
                sequence: 1234,
                timestamp_us: 5678901,
                message: "oom-kill:constraint=X",
            }
        );
        let r = parse_kmsg_record("30,7,8,c,more;a;b").unwrap();
        assert_eq!((r.priority, r.facility, r.message), (6, 3, "a;b"));
        assert_eq!(parse_kmsg_record(" SUBSYSTEM=memory"), None);
        assert_eq!(parse_kmsg_record("x,1,2,-;m"), None);
        assert_eq!(parse_kmsg_record("6,1,2;m"), None);
        assert_eq!(parse_kmsg_record("no header"), None);
    }

    #[test]
    fn new_kernel_line() {
        let mut p = OomParser::new();
        assert_eq!(p.feed(CONTAINER_LINE), None, "no report open yet");
        assert_eq!(p.feed(START_LINE), None);
        let ev = p.feed(CONTAINER_LINE).unwrap();
        assert_eq!(
            ev,
            OomEvent {
                cgroup: "/kubepods/burstable/podfbdfe8e3-1c87-4ff2-907c-b2ec8e25d012/ef807430361e6e82b45db92e2e9b6fbec98f419b12c591e655c1a725565e73a8".into(),
                limit_cgroup: "/kubepods/burstable/podfbdfe8e3-1c87-4ff2-907c-b2ec8e25d012".into(),
                pid: 966,
                process: "manager".into(),
                constraint: "CONSTRAINT_MEMCG".into(),
            }
        );
        // The trailing "Killed process" line of the same report opens nothing.
        assert_eq!(p.feed(END_LINE), None);
    }

    #[test]
    fn legacy_kernel_lines() {
        let mut p = OomParser::new();
        assert_eq!(p.feed(START_LINE), None);
        assert_eq!(p.feed("ruby cpuset=/ mems_allowed=0"), None);
        assert_eq!(p.feed(LEGACY_LINE), None);
        assert_eq!(
            p.feed("memory: usage 980kB, limit 980kB, failcnt 4152239"),
            None
        );
        let ev = p.feed(END_LINE).unwrap();
        assert_eq!(ev.cgroup, "/mem2");
        assert_eq!(ev.limit_cgroup, "/mem3");
        assert_eq!(ev.pid, 19667);
        assert_eq!(ev.process, "evil-program2");
        assert_eq!(ev.constraint, "");
    }

    #[test]
    fn system_oom_without_cgroup_goes_to_root() {
        let mut p = OomParser::new();
        p.feed("badsysprogram invoked oom-killer: gfp_mask=0x280da, order=0, oom_score_adj=0");
        p.feed("Out of memory: Kill process 1532 (badsysprogram) score 919 or sacrifice child");
        // "Kill process" is not "Killed process"; the report goes on.
        let ev = p
            .feed("Killed process 1532 (badsysprogram) total-vm:1641388kB, anon-rss:1595164kB, file-rss:0kB")
            .unwrap();
        assert_eq!(ev.cgroup, "/");
        assert_eq!(ev.limit_cgroup, "/");
        assert_eq!(ev.pid, 1532);
    }

    #[test]
    fn killed_process_names_like_cadvisor() {
        for name in [
            "foo",
            "python3.4",
            "foo-bar",
            "Plex Media Server",
            "x86_64-pc-linux-gnu-c++-5.4.0",
            "[",
            "()",
            "\"with quotes\"",
        ] {
            let line = format!(
                "Jan 21 22:01:49 localhost kernel: [62279.421192] Killed process 1234 ({name}) total-vm:1460016kB, anon-rss:1414008kB, file-rss:4kB"
            );
            let mut ev = OomEvent::default();
            assert!(killed_process(&line, &mut ev), "{name}");
            assert_eq!(ev.pid, 1234);
            assert_eq!(ev.process, name);
        }
        let mut ev = OomEvent::default();
        assert!(!killed_process(START_LINE, &mut ev));
        assert!(!killed_process("Killed process x (y)", &mut ev));
    }

    #[test]
    fn legacy_paths_are_cleaned_like_path_join() {
        assert_eq!(clean_abs("mem2"), "/mem2");
        assert_eq!(clean_abs("/a//b/./c/"), "/a/b/c");
        assert_eq!(clean_abs("/a/../b"), "/b");
        assert_eq!(clean_abs(""), "/");
    }

    #[test]
    fn oom_kill_line_greedy_fields() {
        let l = parse_oom_kill_line(
            "x oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0-1,global_oom,task_memcg=/a,b,task=stress,pid=12,uid=1000",
        );
        // No oom_memcg field (global OOM): the regex needs one, so this is no match.
        assert!(l.is_none());
        let l = parse_oom_kill_line("oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/x,task_memcg=/x/y,z,task=stress,pid=12,uid=0").unwrap();
        assert_eq!(l.task_memcg, "/x/y,z");
        assert_eq!(l.oom_memcg, "/x");
        assert_eq!(l.task, "stress");
        assert_eq!(l.pid, Some(12));
    }

    #[test]
    fn counter_is_bounded() {
        let c = OomCounter::new(2);
        c.record("/a");
        c.record("/b");
        c.record("/a");
        c.record("/c"); // evicts /b, the least recently counted
        assert_eq!(
            c.snapshot(),
            vec![("/a".to_string(), 2), ("/c".to_string(), 1)]
        );
        assert_eq!(c.oom_events("/b"), 0);
        assert_eq!(c.oom_events("/a"), 2);
    }
}
