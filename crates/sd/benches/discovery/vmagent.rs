//! A real Go peer for the discovery memory figure: Debian's `vmagent` (VictoriaMetrics 1.79)
//! runs its Kubernetes SD (`role: pod`) against an API server double, and its Go heap and RSS
//! are read once it holds every pod. See `BENCHMARKS.md` ("Against a real Go peer").
//!
//! Two configurations ([`Mode`]):
//! - [`Mode::Drop`]: every discovered target is dropped by relabeling (`action: drop` on
//!   `__address__`), so vmagent keeps its discovered pod objects (its `urlWatcher` map, what its
//!   SD holds between checks) but keeps no target and starts no scraper;
//!   `-promscrape.dropOriginalLabels` keeps it from remembering up to 1,000 dropped targets'
//!   labels for its `/targets` page. This is its discovery store alone.
//! - [`Mode::Keep`]: every target is kept, as in a plain `role: pod` job (its `ScrapeWork` with
//!   the relabeled labels and, by default, the discovered labels), but `instance` keeps the pod
//!   address and `__address__` becomes the closed port `127.0.0.1:1`, so the scrapers vmagent
//!   starts (one per target, `scrape_interval: 1h`) never dial anything but loopback. This is
//!   its store plus its targets plus its idle scrapers.
//!
//! A check run (not measured) keeps the dropped targets' labels and counts them, to show that
//! vmagent discovers the same targets (two per pod) as we do.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use scrapeline_testkit::apiserver::ApiServer;

/// Where vmagent is: `given` when it is a path (not `1`) and a file, else `/usr/bin/vmagent` or
/// the first match on `PATH`.
pub fn find(given: &std::ffi::OsStr) -> Option<PathBuf> {
    if !given.is_empty() && given != "1" {
        let p = Path::new(given);
        return p.is_file().then(|| p.to_path_buf());
    }
    let fixed = Path::new("/usr/bin/vmagent");
    if fixed.is_file() {
        return Some(fixed.to_path_buf());
    }
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join("vmagent"))
            .find(|c| c.is_file())
    })
}

/// Which vmagent configuration is measured (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Every target dropped by relabeling: the discovered objects only.
    Drop,
    /// Every target kept (scraping a closed loopback port once an hour).
    Keep,
    /// Every target dropped, the dropped targets' labels kept for `/api/v1/targets` (check run).
    Check,
}

/// What vmagent holds once it has discovered every pod and garbage was collected.
#[derive(Debug, Clone, Copy)]
pub struct Figures {
    /// `go_memstats_heap_alloc_bytes` right after two forced collections: live heap bytes.
    pub heap_alloc: u64,
    /// `go_memstats_heap_inuse_bytes` at the same moment (spans in use, fragmentation included).
    pub heap_inuse: u64,
    /// The process' `VmRSS` (from `/proc/<pid>/status`) at the same moment.
    pub rss: u64,
    /// `vm_promscrape_discovery_kubernetes_objects{role="pod"}`: pods vmagent stores.
    pub objects: u64,
    /// `vm_promscrape_discovery_kubernetes_scrape_works{role="pod"}`: targets kept after
    /// relabeling (0: all dropped, no scraper).
    pub scrape_works: u64,
    /// `vm_promscrape_active_scrapers{type="kubernetes_sd_configs"}`: scrapers running.
    pub scrapers: u64,
    /// `go_memstats_stack_inuse_bytes`: goroutine stacks (not part of the heap figures).
    pub stacks: u64,
    /// Time from vmagent's start to all pods stored.
    pub discovered_after: Duration,
}

/// A vmagent process (killed on drop) with its temp dir.
struct Proc {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Proc {
    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.dir.path().join("vmagent.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    fn rss(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024)
    }
}

fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("bind 127.0.0.1:0: {e}"))
}

/// Starts vmagent with one `kubernetes_sd_configs` job (`role: pod`) configured for `mode`.
async fn start(bin: &Path, api_url: &str, mode: Mode) -> Result<Proc, String> {
    let dir = tempfile::tempdir().map_err(|e| format!("tempdir: {e}"))?;
    let cfg = dir.path().join("vmagent.yml");
    let relabel = match mode {
        Mode::Drop | Mode::Check => {
            "  - action: drop\n    source_labels: [__address__]\n    regex: '.+'\n"
        }
        Mode::Keep => {
            "  - source_labels: [__address__]\n    target_label: instance\n  \
             - target_label: __address__\n    replacement: '127.0.0.1:1'\n"
        }
    };
    let config = format!(
        "global:\n  scrape_interval: 1h\n  scrape_timeout: 1s\n\
         scrape_configs:\n\
         - job_name: pods\n  \
           kubernetes_sd_configs:\n  - role: pod\n    api_server: {api_url}\n  \
           relabel_configs:\n{relabel}"
    );
    std::fs::write(&cfg, config).map_err(|e| format!("write config: {e}"))?;
    let port = free_port()?;
    let log = std::fs::File::create(dir.path().join("vmagent.log"))
        .map_err(|e| format!("create log: {e}"))?;
    let err = log.try_clone().map_err(|e| format!("clone log: {e}"))?;
    let mut args = vec![
        format!("-promscrape.config={}", cfg.display()),
        // Discovery results are turned into targets every second (default 30 s), so the
        // transient label maps are built and dropped before the heap is read.
        "-promscrape.kubernetesSDCheckInterval=1s".into(),
        format!("-httpListenAddr=127.0.0.1:{port}"),
        // Nothing is ever scraped, so nothing is written; a closed loopback port anyway.
        "-remoteWrite.url=http://127.0.0.1:1/api/v1/write".into(),
        format!(
            "-remoteWrite.tmpDataPath={}",
            dir.path().join("data").display()
        ),
        "-loggerLevel=WARN".into(),
    ];
    match mode {
        Mode::Drop => args.push("-promscrape.dropOriginalLabels".into()),
        Mode::Check => args.push("-promscrape.maxDroppedTargets=100000".into()),
        Mode::Keep => {}
    }
    let child = Command::new(bin)
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(err))
        .spawn()
        .map_err(|e| format!("starting {}: {e}", bin.display()))?;
    let mut p = Proc { child, port, dir };
    let t0 = Instant::now();
    loop {
        if let Ok((200, _)) = get(port, "/health").await {
            return Ok(p);
        }
        if !matches!(p.child.try_wait(), Ok(None)) || t0.elapsed() > Duration::from_secs(20) {
            return Err(format!("vmagent did not start\n{}", p.log_tail()));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A plain HTTP/1.0 GET to `127.0.0.1:port`: status and body. Times out after 30 s.
async fn get(port: u16, path: &str) -> Result<(u16, String), String> {
    scrapeline_testkit::http::get(port, path, Duration::from_secs(30)).await
}

/// Saves `/debug/pprof/heap` (binary, gzipped pprof) to `out`.
async fn profile(port: u16, out: &Path) -> Result<(), String> {
    let (_, body) =
        scrapeline_testkit::http::get_bytes(port, "/debug/pprof/heap", Duration::from_secs(30))
            .await?;
    std::fs::write(out, body).map_err(|e| format!("write {}: {e}", out.display()))
}

/// The value of the first sample named exactly `series` (name plus labels as vmagent writes
/// them) in a `/metrics` body.
fn metric(body: &str, series: &str) -> Option<u64> {
    body.lines().find_map(|l| {
        let rest = l.strip_prefix(series)?.strip_prefix(' ')?;
        rest.trim().parse::<f64>().ok().map(|v| v as u64)
    })
}

async fn metrics(p: &Proc) -> Result<String, String> {
    match get(p.port, "/metrics").await? {
        (200, body) => Ok(body),
        (code, _) => Err(format!("/metrics: HTTP {code}")),
    }
}

fn pod_watches(server: &ApiServer) -> usize {
    server
        .stats()
        .watches_started
        .get("pods")
        .copied()
        .unwrap_or(0)
}

const OBJECTS: &str = "vm_promscrape_discovery_kubernetes_objects{role=\"pod\"}";
const SCRAPE_WORKS: &str = "vm_promscrape_discovery_kubernetes_scrape_works{role=\"pod\"}";
const SCRAPERS: &str = "vm_promscrape_active_scrapers{type=\"kubernetes_sd_configs\"}";

/// Waits until vmagent has started its pod watch on `server` (the double had seen
/// `watches_before` pod watches before vmagent started; a watch follows the LIST) and stores
/// `pods` pods and, when `targets` is given, has built and started that many targets. Returns the
/// time since `t0`.
async fn wait_discovered(
    p: &Proc,
    server: &ApiServer,
    pods: u64,
    targets: Option<u64>,
    watches_before: usize,
    t0: Instant,
) -> Result<Duration, String> {
    if !server
        .wait_watches("pods", watches_before + 1, Duration::from_secs(120))
        .await
    {
        return Err(format!("vmagent opened no pod watch\n{}", p.log_tail()));
    }
    loop {
        let body = metrics(p).await?;
        let targets_ok = targets.is_none_or(|n| {
            metric(&body, SCRAPE_WORKS) == Some(n) && metric(&body, SCRAPERS) == Some(n)
        });
        if metric(&body, OBJECTS) == Some(pods) && targets_ok {
            return Ok(t0.elapsed());
        }
        if t0.elapsed() > Duration::from_secs(120) {
            return Err(format!(
                "vmagent stores {:?} pods (want {pods}), {:?} targets, {:?} scrapers (want {targets:?})\n{}",
                metric(&body, OBJECTS),
                metric(&body, SCRAPE_WORKS),
                metric(&body, SCRAPERS),
                p.log_tail()
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Runs vmagent in `mode` against `server` (which holds `pods` pods and nothing else it watches),
/// waits until it stores them all (and, with [`Mode::Keep`], runs `targets` scrapers), lets it
/// run `settle` (several SD checks), forces two garbage collections (`/debug/pprof/heap?gc=1`
/// runs `runtime.GC()`), and reads its memory.
pub async fn measure(
    bin: &Path,
    server: &ApiServer,
    mode: Mode,
    pods: u64,
    targets: u64,
    settle: Duration,
) -> Result<Figures, String> {
    let before = pod_watches(server);
    let t0 = Instant::now();
    let p = start(bin, &server.url(), mode).await?;
    let want_targets = (mode == Mode::Keep).then_some(targets);
    let discovered_after = wait_discovered(&p, server, pods, want_targets, before, t0).await?;
    tokio::time::sleep(settle).await;
    for _ in 0..2 {
        get(p.port, "/debug/pprof/heap?gc=1").await?;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let rss = p.rss();
    let body = metrics(&p).await?;
    // `DISCOVERY_BENCH_VMAGENT_PROFILE=<dir>`: keep vmagent's heap profile (pprof format, taken
    // after the figures) as `<dir>/vmagent-<pods>.pb.gz`, for `go tool pprof -sample_index=inuse_space`.
    if let Some(dir) = std::env::var_os("DISCOVERY_BENCH_VMAGENT_PROFILE") {
        let out = Path::new(&dir).join(format!("vmagent-{mode:?}-{pods}.pb.gz"));
        let r = profile(p.port, &out).await;
        if let Err(e) = r {
            println!("vmagent heap profile not saved: {e}");
        }
    }
    let read = |name: &str| metric(&body, name).ok_or_else(|| format!("no {name} on /metrics"));
    Ok(Figures {
        heap_alloc: read("go_memstats_heap_alloc_bytes")?,
        heap_inuse: read("go_memstats_heap_inuse_bytes")?,
        rss,
        objects: read(OBJECTS)?,
        scrape_works: read(SCRAPE_WORKS)?,
        scrapers: read(SCRAPERS)?,
        stacks: read("go_memstats_stack_inuse_bytes")?,
        discovered_after,
    })
}

/// The check run: vmagent keeps the dropped targets' discovered labels; returns how many
/// targets of job `pods` its `/api/v1/targets` lists as dropped once it stores `pods` pods
/// (polled until the count stops growing).
pub async fn count_targets(bin: &Path, server: &ApiServer, pods: u64) -> Result<usize, String> {
    let before = pod_watches(server);
    let t0 = Instant::now();
    let p = start(bin, &server.url(), Mode::Check).await?;
    wait_discovered(&p, server, pods, None, before, t0).await?;
    let mut last = usize::MAX;
    loop {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let (code, body) = get(p.port, "/api/v1/targets").await?;
        if code != 200 {
            return Err(format!("/api/v1/targets: HTTP {code}"));
        }
        let v: serde_json::Value =
            serde_json::from_str(&body).map_err(|e| format!("/api/v1/targets: {e}"))?;
        let n = v["data"]["droppedTargets"].as_array().map_or(0, |a| {
            a.iter()
                .filter(|t| t["discoveredLabels"]["job"] == "pods")
                .count()
        });
        if n == last || t0.elapsed() > Duration::from_secs(60) {
            return Ok(n);
        }
        last = n;
    }
}
