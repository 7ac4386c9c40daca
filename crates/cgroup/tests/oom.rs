//! The OOM watcher: on a temporary file standing in for `/dev/kmsg`, and for real (root
//! only): a v1 memory cgroup with a 16 MiB limit, a process in it that allocates without
//! bound, the kernel's OOM kill counted for that cgroup path. Everything created is removed
//! again, also on failure (a `Drop` guard).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use scrapeline_cgroup::{Collector, CollectorConfig, OomCounts, OomWatcher, OomWatcherConfig};

fn wait_for(what: &str, limit: Duration, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn fast() -> OomWatcherConfig {
    OomWatcherConfig {
        poll_interval: Duration::from_millis(10),
        ..OomWatcherConfig::default()
    }
}

/// A 5.x+ kernel's memcg OOM report for `task_memcg`, as `/dev/kmsg` records.
fn new_kernel_report(seq: u64, memcg: &str, task_memcg: &str, pid: u32) -> String {
    format!(
        "4,{seq},1000,-;stress invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0\n\
         4,{},1001,c;CPU: 1 PID: {pid} Comm: stress Not tainted 6.8.0 #1\n \
         SUBSYSTEM=cpu\n\
         6,{},1002,-;memory: usage 16384kB, limit 16384kB, failcnt 42\n\
         6,{},1003,-;oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg={memcg},task_memcg={task_memcg},task=stress,pid={pid},uid=0\n\
         3,{},1004,-;Memory cgroup out of memory: Killed process {pid} (stress) total-vm:70000kB, anon-rss:16000kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:100kB oom_score_adj:0\n",
        seq + 1,
        seq + 2,
        seq + 3,
        seq + 4
    )
}

#[test]
fn watcher_counts_ooms_appended_after_start_only() {
    let dir = tempfile::tempdir().unwrap();
    let kmsg = dir.path().join("kmsg");
    // An OOM already in the log before the watcher starts: not counted (read from the end).
    std::fs::write(&kmsg, new_kernel_report(1, "/old", "/old/ctr", 10)).unwrap();
    let watcher = OomWatcher::start_with(&kmsg, fast()).unwrap();
    assert_eq!(watcher.path(), kmsg.as_path());

    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&kmsg)
        .unwrap();
    f.write_all(
        new_kernel_report(
            100,
            "/kubepods/burstable/podA",
            "/kubepods/burstable/podA/c1",
            4242,
        )
        .as_bytes(),
    )
    .unwrap();
    // An old-kernel report, written in two pieces (a record split across reads).
    let legacy = "4,200,2000,-;ruby invoked oom-killer: gfp_mask=0x201da, order=0, oom_score_adj=0\n\
                  6,201,2001,-;Task in /kubepods/besteffort/podB/c2 killed as a result of limit of /kubepods/besteffort/podB\n\
                  3,202,2002,-;Memory cgroup out of memory: Kill process 77 (ruby) score 1000 or sacrifice child\n\
                  3,203,2003,-;Killed process 77 (ruby) total-vm:1460016kB, anon-rss:1414008kB, file-rss:4kB\n";
    let (a, b) = legacy.split_at(100);
    f.write_all(a.as_bytes()).unwrap();
    f.flush().unwrap();
    std::thread::sleep(Duration::from_millis(50));
    f.write_all(b.as_bytes()).unwrap();
    // A second kill in the same container.
    f.write_all(
        new_kernel_report(
            300,
            "/kubepods/burstable/podA",
            "/kubepods/burstable/podA/c1",
            4243,
        )
        .as_bytes(),
    )
    .unwrap();
    f.flush().unwrap();

    let counts = watcher.counts();
    wait_for("3 OOMs", Duration::from_secs(10), || {
        watcher
            .stats()
            .ooms
            .load(std::sync::atomic::Ordering::Relaxed)
            == 3
    });
    assert_eq!(
        counts.snapshot(),
        vec![
            ("/kubepods/besteffort/podB/c2".to_string(), 1),
            ("/kubepods/burstable/podA/c1".to_string(), 2),
        ]
    );
    assert_eq!(watcher.oom_events("/old/ctr"), 0);
    assert_eq!(watcher.oom_events("/kubepods/burstable/podA"), 0);
    // 5 records per new report (the continuation line is not a record) + 4 legacy.
    assert_eq!(
        watcher
            .stats()
            .records
            .load(std::sync::atomic::Ordering::Relaxed),
        5 + 4 + 5
    );
    // Stopping returns promptly and the counters stay readable.
    let t = Instant::now();
    drop(watcher);
    assert!(t.elapsed() < Duration::from_secs(2));
    assert_eq!(counts.oom_events("/kubepods/burstable/podA/c1"), 2);
}

#[test]
fn watcher_on_a_missing_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let e = OomWatcher::start(dir.path().join("nope")).unwrap_err();
    assert!(e.is_not_found(), "{e}");
}

#[test]
fn overlong_lines_are_dropped_not_buffered() {
    let dir = tempfile::tempdir().unwrap();
    let kmsg = dir.path().join("kmsg");
    std::fs::write(&kmsg, "").unwrap();
    let watcher = OomWatcher::start_with(&kmsg, fast()).unwrap();
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&kmsg)
        .unwrap();
    let mut junk = "6,1,1,-;".to_string();
    junk.push_str(&"x".repeat(200_000));
    junk.push('\n');
    f.write_all(junk.as_bytes()).unwrap();
    f.write_all(new_kernel_report(2, "/a", "/a/b", 5).as_bytes())
        .unwrap();
    f.flush().unwrap();
    wait_for("1 OOM", Duration::from_secs(10), || {
        watcher.oom_events("/a/b") == 1
    });
    // The long line was not a record.
    assert_eq!(
        watcher
            .stats()
            .records
            .load(std::sync::atomic::Ordering::Relaxed),
        5
    );
}

// ---- the real thing ----

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find(|l| l.starts_with("Uid:"))
            .and_then(|l| l.split_whitespace().nth(2))
            == Some("0")
    })
}

/// The v1 memory hierarchy's mount point, from mountinfo.
fn v1_memory_mount() -> Option<PathBuf> {
    let mi = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    mi.lines().find_map(|l| {
        let (pre, post) = l.split_once(" - ")?;
        let mut post = post.split(' ');
        if post.next()? != "cgroup" {
            return None;
        }
        let opts = post.nth(1)?;
        if !opts.split(',').any(|o| o == "memory") {
            return None;
        }
        pre.split(' ').nth(4).map(PathBuf::from)
    })
}

/// Kills the child and removes the cgroup on drop.
struct Guard {
    child: Option<Child>,
    dir: PathBuf,
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(c) = &mut self.child {
            let _ = c.kill();
            let _ = c.wait();
        }
        for _ in 0..100 {
            if std::fs::remove_dir(&self.dir).is_ok() || !self.dir.exists() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        if self.dir.exists() {
            eprintln!("could not remove {}", self.dir.display());
        }
    }
}

#[test]
fn real_oom_kill_is_counted_for_its_cgroup() {
    if !is_root() {
        eprintln!("SKIP real_oom_kill_is_counted_for_its_cgroup: not root");
        return;
    }
    let Some(mem) = v1_memory_mount() else {
        eprintln!("SKIP real_oom_kill_is_counted_for_its_cgroup: no cgroup v1 memory hierarchy");
        return;
    };
    let kmsg = Path::new("/dev/kmsg");
    let watcher = match OomWatcher::start_with(kmsg, fast()) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("SKIP real_oom_kill_is_counted_for_its_cgroup: /dev/kmsg not readable: {e}");
            return;
        }
    };
    let name = format!("scrapeline-oom-{}", std::process::id());
    let id = format!("/{name}");
    let dir = mem.join(&name);
    if let Err(e) = std::fs::create_dir(&dir) {
        eprintln!(
            "SKIP real_oom_kill_is_counted_for_its_cgroup: cannot create {}: {e}",
            dir.display()
        );
        return;
    }
    let mut guard = Guard {
        child: None,
        dir: dir.clone(),
    };
    // The limit first, then the process.
    std::fs::write(dir.join("memory.limit_in_bytes"), "16777216").unwrap();
    // `tail` keeps everything after the last newline; /dev/zero has none: it grows until
    // the kernel kills it at the cgroup's 16 MiB (64 MiB at most).
    let procs = dir.join("cgroup.procs");
    let script = format!(
        "echo $$ > {} && exec head -c 67108864 /dev/zero | tail -c 67108864 >/dev/null",
        procs.display()
    );
    let child = Command::new("sh")
        .arg("-c")
        .arg(&script)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    guard.child = Some(child);
    let status = {
        let start = Instant::now();
        loop {
            if let Some(s) = guard.child.as_mut().unwrap().try_wait().unwrap() {
                break Some(s);
            }
            if start.elapsed() > Duration::from_secs(30) {
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    assert!(
        status.is_some(),
        "the allocating process was not killed in 30 s"
    );
    wait_for(
        "the OOM kill in the kernel log",
        Duration::from_secs(10),
        || watcher.oom_events(&id) >= 1,
    );
    assert_eq!(watcher.oom_events(&id), 1);
    let failcnt: u64 = std::fs::read_to_string(dir.join("memory.failcnt"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(failcnt > 0, "the limit was hit");

    // The collector reports it under that cgroup's id.
    let config = CollectorConfig {
        roots: vec![id.clone()],
        ..CollectorConfig::default()
    };
    let collector = Collector::new(config).unwrap().with_oom_watcher(&watcher);
    assert_eq!(collector.kmsg_path(), PathBuf::from("/dev/kmsg"));
    let now = 1_767_225_600_000;
    let c = collector.collect(now);
    assert_eq!(c.get(&id).and_then(|x| x.oom_events), Some(1));
    assert_eq!(
        c.get("/").and_then(|x| x.oom_events),
        Some(watcher.oom_events("/"))
    );
    let mut text = String::new();
    c.encode_text(&mut text);
    let line = format!(
        "container_oom_events_total{{container=\"\",id=\"{id}\",image=\"\",name=\"\",namespace=\"\",pod=\"\"}} 1 {now}\n"
    );
    assert!(text.contains(&line), "{line}");
    drop(guard);
    assert!(!dir.exists());
    let _ = Arc::strong_count(&watcher.counts());
}
