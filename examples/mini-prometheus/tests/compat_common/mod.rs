//! Shared helpers for the compatibility suites (`compat_prometheus.rs`, `compat_vmagent.rs`):
//! finding and running the referee binaries (killed on drop), free loopback ports, a plain
//! HTTP/1.0 client, a parser for `/federate` text written independently of our own parser (so
//! the referee's output is not read through the code under test), and readable label diffs.

#![allow(dead_code)] // each test file uses a subset

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A label set as the JSON APIs show it (sorted by name).
pub type LabelMap = BTreeMap<String, String>;

/// Where a referee binary is: `/usr/bin/<name>` or the first match on `PATH`.
pub fn find_binary(name: &str) -> Option<PathBuf> {
    let fixed = Path::new("/usr/bin").join(name);
    if fixed.is_file() {
        return Some(fixed);
    }
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(name))
            .find(|c| c.is_file())
    })
}

/// Our binary, built by cargo for integration tests.
pub fn mini_prometheus() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_mini-prometheus"))
}

/// A free port on 127.0.0.1 (bound to port 0, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("cannot bind 127.0.0.1:0: {e}"))
}

/// A child process whose stdout and stderr go to a log file; killed (SIGKILL) when dropped.
pub struct Proc {
    child: Option<Child>,
    /// A short name for messages (`prometheus`, `vmagent`, `mini-prometheus`).
    pub name: String,
    log: PathBuf,
}

impl Proc {
    /// Starts `program` with `args` and extra environment, logging to `log`.
    pub fn spawn(
        name: &str,
        program: &Path,
        args: &[String],
        env: &[(&str, &str)],
        log: PathBuf,
    ) -> Proc {
        let out = File::create(&log).unwrap_or_else(|e| panic!("create {}: {e}", log.display()));
        let err = out
            .try_clone()
            .unwrap_or_else(|e| panic!("clone log handle: {e}"));
        let mut cmd = Command::new(program);
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err));
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("starting {name} ({}): {e}", program.display()));
        Proc {
            child: Some(child),
            name: name.to_owned(),
            log,
        }
    }

    /// The last `n` lines of the process' log, for failure messages.
    pub fn log_tail(&self, n: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let from = lines.len().saturating_sub(n);
        format!(
            "--- last {} lines of {} log ({}) ---\n{}",
            lines.len() - from,
            self.name,
            self.log.display(),
            lines[from..].join("\n")
        )
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// Kills the process now and waits for it.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Percent-encodes a query parameter value (everything but RFC 3986 unreserved characters).
pub fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A plain HTTP/1.0 GET to `127.0.0.1:port`: status and body, or why not. Times out after 5 s.
pub async fn http_get(port: u16, path: &str) -> Result<(u16, String), String> {
    scrapeline_testkit::http::get(port, path, Duration::from_secs(5)).await
}

/// GET that must answer 200 with a JSON body.
pub async fn get_json(port: u16, path: &str) -> Result<serde_json::Value, String> {
    let (code, body) = http_get(port, path).await?;
    if code != 200 {
        return Err(format!("GET {path}: HTTP {code}: {body}"));
    }
    serde_json::from_str(&body).map_err(|e| format!("GET {path}: bad JSON ({e}): {body}"))
}

/// Waits until `GET path` answers 200, or panics with the process' log after `timeout`.
pub async fn wait_ready(proc_: &mut Proc, port: u16, path: &str, timeout: Duration) {
    let start = Instant::now();
    loop {
        if let Ok((200, _)) = http_get(port, path).await {
            return;
        }
        if !proc_.alive() {
            panic!(
                "{} exited before it was ready\n{}",
                proc_.name,
                proc_.log_tail(40)
            );
        }
        if start.elapsed() > timeout {
            panic!(
                "{} not ready on 127.0.0.1:{port}{path} after {timeout:?}\n{}",
                proc_.name,
                proc_.log_tail(40)
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Debian's Prometheus and mini-prometheus, each on a free loopback port with its own config,
/// both ready: what every side-by-side suite starts with.
pub struct Pair {
    /// The referee Prometheus.
    pub prom: Proc,
    /// Its port.
    pub prom_port: u16,
    /// mini-prometheus.
    pub mini: Proc,
    /// Its port.
    pub mini_port: u16,
}

impl Pair {
    /// Starts both (Prometheus' data and both logs under `dir`) and waits until each answers
    /// `/-/ready`, for at most `ready` each.
    pub async fn start(
        dir: &Path,
        prom_bin: &Path,
        prom_cfg: &Path,
        mini_cfg: &Path,
        ready: Duration,
    ) -> Pair {
        let (prom_port, mini_port) = (free_port(), free_port());
        let mut prom = Proc::spawn(
            "prometheus",
            prom_bin,
            &[
                format!("--config.file={}", prom_cfg.display()),
                format!("--storage.tsdb.path={}", dir.join("prom-data").display()),
                format!("--web.listen-address=127.0.0.1:{prom_port}"),
            ],
            &[],
            dir.join("prometheus.log"),
        );
        let mut mini = Proc::spawn(
            "mini-prometheus",
            &mini_prometheus(),
            &[
                format!("--config.file={}", mini_cfg.display()),
                format!("--web.listen-address=127.0.0.1:{mini_port}"),
            ],
            &[],
            dir.join("mini-prometheus.log"),
        );
        wait_ready(&mut prom, prom_port, "/-/ready", ready).await;
        wait_ready(&mut mini, mini_port, "/-/ready", ready).await;
        Pair {
            prom,
            prom_port,
            mini,
            mini_port,
        }
    }
}

/// One sample line of a `/federate` body.
#[derive(Debug, Clone, PartialEq)]
pub struct FedSample {
    /// Every label, `__name__` included.
    pub labels: LabelMap,
    /// The value.
    pub value: f64,
}

/// Parses the text format `/federate` writes (`# TYPE` lines, `name{l="v",…} value ts`).
/// Written here, not taken from our exposition crate, so the referee is read independently.
pub fn parse_federate(body: &str) -> Result<Vec<FedSample>, String> {
    let mut out = Vec::new();
    for (no, line) in body.lines().enumerate() {
        let line = line.trim_end();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let err = |m: &str| format!("line {}: {m}: {line:?}", no + 1);
        let bytes = line.as_bytes();
        let name_end = line.find(['{', ' ']).ok_or_else(|| err("no value"))?;
        let mut labels = LabelMap::new();
        labels.insert("__name__".into(), line[..name_end].to_owned());
        let mut i = name_end;
        if bytes[i] == b'{' {
            i += 1;
            loop {
                if bytes.get(i) == Some(&b'}') {
                    i += 1;
                    break;
                }
                let eq = line[i..].find('=').ok_or_else(|| err("label without ="))? + i;
                let name = line[i..eq].to_owned();
                if bytes.get(eq + 1) != Some(&b'"') {
                    return Err(err("unquoted label value"));
                }
                let mut j = eq + 2;
                let mut value = String::new();
                loop {
                    match bytes.get(j) {
                        None => return Err(err("unterminated label value")),
                        Some(b'"') => break,
                        Some(b'\\') => {
                            match bytes.get(j + 1) {
                                Some(b'n') => value.push('\n'),
                                Some(b'\\') => value.push('\\'),
                                Some(b'"') => value.push('"'),
                                _ => return Err(err("bad escape")),
                            }
                            j += 2;
                        }
                        Some(_) => {
                            let ch = line[j..].chars().next().ok_or_else(|| err("utf-8"))?;
                            value.push(ch);
                            j += ch.len_utf8();
                        }
                    }
                }
                labels.insert(name, value);
                i = j + 1;
                if bytes.get(i) == Some(&b',') {
                    i += 1;
                }
            }
        }
        let mut rest = line[i..].split_whitespace();
        let v = rest.next().ok_or_else(|| err("no value"))?;
        let value = match v {
            "NaN" => f64::NAN,
            "+Inf" | "Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().map_err(|_| err("bad value"))?,
        };
        out.push(FedSample { labels, value });
    }
    Ok(out)
}

/// `name{a="1", b="2"}` for messages.
pub fn series_string(ls: &LabelMap) -> String {
    let name = ls.get("__name__").map(String::as_str).unwrap_or("");
    let rest: Vec<String> = ls
        .iter()
        .filter(|(k, _)| *k != "__name__")
        .map(|(k, v)| format!("{k}={v:?}"))
        .collect();
    format!("{name}{{{}}}", rest.join(", "))
}

/// A JSON object of strings as a label map (other values are shown as JSON).
pub fn label_map(v: &serde_json::Value) -> LabelMap {
    v.as_object()
        .map(|o| {
            o.iter()
                .map(|(k, v)| {
                    let s = v
                        .as_str()
                        .map(str::to_owned)
                        .unwrap_or_else(|| v.to_string());
                    (k.clone(), s)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// One line per label that differs: `label L: ours "x", theirs "y"` (`<absent>` when missing).
pub fn label_diff(ours: &LabelMap, theirs: &LabelMap) -> Vec<String> {
    let mut out = Vec::new();
    let names: std::collections::BTreeSet<&String> = ours.keys().chain(theirs.keys()).collect();
    for n in names {
        let (a, b) = (ours.get(n), theirs.get(n));
        if a != b {
            let show = |x: Option<&String>| x.map_or("<absent>".to_owned(), |s| format!("{s:?}"));
            out.push(format!("label {n}: ours {}, theirs {}", show(a), show(b)));
        }
    }
    out
}

/// Pairs label sets of two sides by a key, best match first, and reports unmatched ones and
/// per-label differences. `what` prefixes each line (e.g. `job "app" dropped target`).
pub fn diff_label_sets(
    what: &str,
    ours: &[LabelMap],
    theirs: &[LabelMap],
    key: impl Fn(&LabelMap) -> String,
    referee: &str,
) -> Vec<String> {
    let mut out = Vec::new();
    let index = |v: &[LabelMap]| -> BTreeMap<String, Vec<LabelMap>> {
        let mut m: BTreeMap<String, Vec<LabelMap>> = BTreeMap::new();
        for l in v {
            m.entry(key(l)).or_default().push(l.clone());
        }
        m
    };
    let (a, b) = (index(ours), index(theirs));
    let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    for k in keys {
        match (a.get(k), b.get(k)) {
            (Some(x), None) => {
                for l in x {
                    out.push(format!("{what} {k}: only in mini-prometheus: {l:?}"));
                }
            }
            (None, Some(y)) => {
                for l in y {
                    out.push(format!("{what} {k}: only in {referee}: {l:?}"));
                }
            }
            (Some(x), Some(y)) => {
                if x.len() != y.len() {
                    out.push(format!(
                        "{what} {k}: {} in mini-prometheus, {} in {referee}",
                        x.len(),
                        y.len()
                    ));
                }
                for (l, r) in x.iter().zip(y) {
                    for d in label_diff(l, r) {
                        out.push(format!("{what} {k}: {d}"));
                    }
                }
            }
            (None, None) => {}
        }
    }
    out
}

/// Panics with every difference, one per line, if there are any.
pub fn assert_no_diffs(context: &str, diffs: &[String], logs: &[&Proc]) {
    if diffs.is_empty() {
        return;
    }
    let mut msg = format!("{context}: {} difference(s):\n", diffs.len());
    for d in diffs {
        msg.push_str("  - ");
        msg.push_str(d);
        msg.push('\n');
    }
    for p in logs {
        msg.push_str(&p.log_tail(15));
        msg.push('\n');
    }
    panic!("{msg}");
}

/// Writes `text` to `path` atomically (temp file + rename), as config management tools do.
pub fn write_atomic(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp~");
    std::fs::write(&tmp, text).unwrap_or_else(|e| panic!("write {}: {e}", tmp.display()));
    std::fs::rename(&tmp, path).unwrap_or_else(|e| panic!("rename to {}: {e}", path.display()));
}
