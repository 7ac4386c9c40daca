//! `mini-prometheus top nodes|pods`: the tables `kubectl top` prints, from a running
//! instance's `metrics.k8s.io` endpoints or from one local pair of cgroup collections.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use scrapeline_cgroup::{Collector, CollectorConfig, MachineInfo};
use serde_json::Value;

use super::CliError;
use crate::resource::kubectl::{self, Quantity};
use crate::resource::{ResourceConfig, ResourceMetrics, boot_time_from_proc};

/// Connect, read and write timeout of the HTTP GET to `--server`.
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest response body accepted from `--server`.
const MAX_BODY: usize = 64 << 20;
/// Time between the two local collections.
const LOCAL_INTERVAL: Duration = Duration::from_secs(1);

/// Arguments of `top`.
#[derive(Debug, clap::Args)]
pub struct TopArgs {
    /// What to show: `nodes` (also `node`, `no`) or `pods` (also `pod`, `po`).
    #[arg(value_enum)]
    pub resource: TopResource,
    /// Only pods of this namespace (no NAMESPACE column); without it every namespace is
    /// shown, with a NAMESPACE column, as `kubectl top pods -A` does.
    #[arg(short = 'n', long, conflicts_with = "all_namespaces")]
    pub namespace: Option<String>,
    /// Every namespace (the default without `-n`).
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,
    /// Read a running instance's Metrics API (`http://127.0.0.1:9090`, loopback only)
    /// instead of collecting locally.
    #[arg(long, value_name = "URL", conflicts_with_all = ["root", "node_name"])]
    pub server: Option<String>,
    /// Host root filesystem for a local collection (`/`, or `/rootfs` in a container).
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,
    /// Node name for a local collection (default: the host name).
    #[arg(long, value_name = "NAME")]
    pub node_name: Option<String>,
    /// Only objects whose labels match this Kubernetes label selector (`app=web`,
    /// `tier in (db,cache)`, `!canary`), sent as `labelSelector` as `kubectl top -l` does.
    #[arg(short = 'l', long, value_name = "SELECTOR")]
    pub selector: Option<String>,
    /// Leave out the header line.
    #[arg(long)]
    pub no_headers: bool,
}

/// The resource kinds `top` shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TopResource {
    /// Node usage with percentages of capacity.
    #[value(alias = "node", alias = "no")]
    Nodes,
    /// Pod usage, summed over each pod's containers.
    #[value(alias = "pod", alias = "po")]
    Pods,
}

/// Where the Metrics API answers come from.
enum Source {
    Remote(RemoteServer),
    Local {
        metrics: Box<ResourceMetrics>,
        machine: MachineInfo,
    },
}

impl Source {
    fn get(&self, path: &str) -> Result<(u16, String), CliError> {
        match self {
            Source::Remote(s) => s.get(path),
            Source::Local { metrics, .. } => {
                let (path, query) = match path.split_once('?') {
                    Some((p, q)) => (p, Some(q)),
                    None => (path, None),
                };
                metrics.handle(path, query, SystemTime::now())
            }
            .ok_or_else(|| format!("no handler for {path}").into()),
        }
    }
}

/// Prints the table; exits 1 when the Metrics API cannot be read.
pub fn run(args: &TopArgs) -> Result<ExitCode, CliError> {
    render(
        args,
        &mut std::io::stdout().lock(),
        &mut std::io::stderr().lock(),
    )
}

/// [`run`] with the table written to `out` and notices to `err`.
fn render(args: &TopArgs, out: &mut dyn Write, err: &mut dyn Write) -> Result<ExitCode, CliError> {
    let source = match &args.server {
        Some(url) => Source::Remote(RemoteServer::parse(url)?),
        None => local_source(&args.root, args.node_name.as_deref())?,
    };
    let path = match (args.resource, &args.namespace) {
        (TopResource::Nodes, _) => "/apis/metrics.k8s.io/v1beta1/nodes".to_owned(),
        (TopResource::Pods, Some(ns)) => {
            format!("/apis/metrics.k8s.io/v1beta1/namespaces/{ns}/pods")
        }
        (TopResource::Pods, None) => "/apis/metrics.k8s.io/v1beta1/pods".to_owned(),
    };
    let path = match &args.selector {
        Some(sel) => format!("{path}?labelSelector={}", query_escape(sel)),
        None => path,
    };
    let (status, body) = source.get(&path)?;
    let value: Value =
        serde_json::from_str(&body).map_err(|e| format!("{path}: HTTP {status}, not JSON: {e}"))?;
    if status != 200 {
        let reason = value
            .get("reason")
            .and_then(Value::as_str)
            .unwrap_or("Unknown");
        let message = value.get("message").and_then(Value::as_str).unwrap_or("");
        return Err(format!("Error from server ({reason}): {message}").into());
    }
    match args.resource {
        TopResource::Nodes => {
            let rows = kubectl::node_rows(&value)?;
            if rows.is_empty() {
                return Err("metrics not available yet".into());
            }
            let capacity = |name: &str| match &source {
                Source::Local { metrics, machine } if metrics.node_name() == name => Some((
                    Quantity::from_units(machine.cpu_cores),
                    Quantity::from_units(machine.memory_bytes),
                )),
                _ => None,
            };
            out.write_all(kubectl::node_table(&rows, capacity, args.no_headers).as_bytes())?;
        }
        TopResource::Pods => {
            let rows = kubectl::pod_rows(&value)?;
            if rows.is_empty() {
                match &args.namespace {
                    Some(ns) => writeln!(err, "No resources found in {ns} namespace.")?,
                    None => writeln!(err, "No resources found")?,
                }
                return Ok(ExitCode::SUCCESS);
            }
            let with_ns = args.namespace.is_none();
            out.write_all(kubectl::pod_table(&rows, with_ns, args.no_headers).as_bytes())?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `s` escaped for a URL query value (Go's `url.QueryEscape`: unreserved bytes kept, space
/// as `+`, the rest `%XX`).
fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Two collections [`LOCAL_INTERVAL`] apart, fed to a [`ResourceMetrics`].
fn local_source(root: &Path, node_name: Option<&str>) -> Result<Source, CliError> {
    let collector = Collector::new(CollectorConfig::with_rootfs(root))?;
    let node = match node_name {
        Some(n) => n.to_owned(),
        None => host_name(root),
    };
    let mut config = ResourceConfig::new(node, LOCAL_INTERVAL);
    config.boot_time_unix = boot_time_from_proc(&root.join("proc"), SystemTime::now());
    let mut metrics = ResourceMetrics::new(config);
    metrics.observe(collector.collect(now_ms()));
    std::thread::sleep(LOCAL_INTERVAL);
    let last = collector.collect(now_ms());
    let machine = last.machine.clone();
    metrics.observe(last);
    Ok(Source::Local {
        metrics: Box::new(metrics),
        machine,
    })
}

/// The kubelet's default node name: the host name, lower-cased.
fn host_name(root: &Path) -> String {
    for p in ["proc/sys/kernel/hostname", "etc/hostname"] {
        if let Ok(s) = std::fs::read_to_string(root.join(p)) {
            let s = s.trim();
            if !s.is_empty() {
                return s.to_lowercase();
            }
        }
    }
    "localhost".to_owned()
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// A loopback `http://host:port[/prefix]` server.
#[derive(Debug, Clone, PartialEq, Eq)]
struct RemoteServer {
    host_header: String,
    addrs: Vec<SocketAddr>,
    prefix: String,
}

impl RemoteServer {
    /// Parses the URL and checks that every address it resolves to is loopback.
    fn parse(url: &str) -> Result<RemoteServer, CliError> {
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| format!("--server {url:?}: only http:// URLs are supported"))?;
        let (authority, prefix) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        if authority.is_empty() || authority.contains('@') {
            return Err(format!("--server {url:?}: bad host").into());
        }
        let with_port = if authority.ends_with(']') || !authority.contains(':') {
            format!("{authority}:80")
        } else {
            authority.to_owned()
        };
        let addrs: Vec<SocketAddr> = with_port
            .to_socket_addrs()
            .map_err(|e| format!("--server {url:?}: {e}"))?
            .collect();
        if addrs.is_empty() || !addrs.iter().all(|a| a.ip().is_loopback()) {
            return Err(format!("--server {url:?}: only loopback addresses are allowed").into());
        }
        Ok(RemoteServer {
            host_header: authority.to_owned(),
            addrs,
            prefix: prefix.trim_end_matches('/').to_owned(),
        })
    }

    /// `GET prefix + path` over HTTP/1.1 with `Connection: close`: (status, body).
    fn get(&self, path: &str) -> Result<(u16, String), CliError> {
        let mut last_err: Option<std::io::Error> = None;
        let mut stream = None;
        for a in &self.addrs {
            match TcpStream::connect_timeout(a, HTTP_TIMEOUT) {
                Ok(s) => {
                    stream = Some(s);
                    break;
                }
                Err(e) => last_err = Some(e),
            }
        }
        let Some(mut s) = stream else {
            return Err(match last_err {
                Some(e) => format!("connect to {}: {e}", self.host_header).into(),
                None => "no address to connect to".into(),
            });
        };
        s.set_read_timeout(Some(HTTP_TIMEOUT))?;
        s.set_write_timeout(Some(HTTP_TIMEOUT))?;
        let req = format!(
            "GET {}{path} HTTP/1.1\r\nHost: {}\r\nAccept: application/json\r\nUser-Agent: mini-prometheus-top\r\nConnection: close\r\n\r\n",
            self.prefix, self.host_header
        );
        s.write_all(req.as_bytes())?;
        let mut raw = Vec::new();
        s.take(MAX_BODY as u64 + 64 * 1024).read_to_end(&mut raw)?;
        parse_response(&raw).map_err(Into::into)
    }
}

/// Splits an HTTP/1.1 response into status and body (Content-Length, chunked, or up to
/// the end of the connection).
fn parse_response(raw: &[u8]) -> Result<(u16, String), String> {
    let head_end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("truncated HTTP response")?;
    let head = std::str::from_utf8(&raw[..head_end]).map_err(|_| "HTTP head is not UTF-8")?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let mut length: Option<usize> = None;
    let mut chunked = false;
    for l in lines {
        let Some((k, v)) = l.split_once(':') else {
            continue;
        };
        let (k, v) = (k.trim(), v.trim());
        if k.eq_ignore_ascii_case("content-length") {
            length = Some(v.parse().map_err(|_| format!("bad Content-Length {v:?}"))?);
        } else if k.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked") {
            chunked = true;
        }
    }
    let rest = &raw[head_end + 4..];
    let body = if chunked {
        dechunk(rest)?
    } else if let Some(n) = length {
        rest.get(..n)
            .ok_or("body shorter than Content-Length")?
            .to_vec()
    } else {
        rest.to_vec()
    };
    if body.len() > MAX_BODY {
        return Err("response body too large".into());
    }
    String::from_utf8(body)
        .map(|b| (status, b))
        .map_err(|_| "body is not UTF-8".into())
}

fn dechunk(mut rest: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let eol = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("truncated chunk size")?;
        let size_text = std::str::from_utf8(&rest[..eol]).map_err(|_| "bad chunk size")?;
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| format!("bad chunk size {size_text:?}"))?;
        rest = &rest[eol + 2..];
        if size == 0 {
            return Ok(out);
        }
        let chunk = rest.get(..size).ok_or("truncated chunk")?;
        out.extend_from_slice(chunk);
        if out.len() > MAX_BODY {
            return Err("response body too large".into());
        }
        rest = rest.get(size + 2..).ok_or("truncated chunk")?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn only_loopback_servers() {
        let s = RemoteServer::parse("http://127.0.0.1:9090").unwrap();
        assert_eq!(s.host_header, "127.0.0.1:9090");
        assert_eq!(s.prefix, "");
        let s = RemoteServer::parse("http://[::1]:9090/prom/").unwrap();
        assert_eq!(s.prefix, "/prom");
        assert!(RemoteServer::parse("https://127.0.0.1:9090").is_err());
        assert!(RemoteServer::parse("http://10.1.2.3:9090").is_err());
        assert!(RemoteServer::parse("http://user@127.0.0.1:9090").is_err());
    }

    #[test]
    fn responses_with_length_chunks_or_close() {
        assert_eq!(
            parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}xx").unwrap(),
            (200, "{}".to_owned())
        );
        assert_eq!(
            parse_response(b"HTTP/1.1 404 Not Found\r\ntransfer-encoding: chunked\r\n\r\n3\r\n{\"a\r\n3;x=y\r\n\":1\r\n1\r\n}\r\n0\r\n\r\n")
                .unwrap(),
            (404, "{\"a\":1}".to_owned())
        );
        assert_eq!(
            parse_response(b"HTTP/1.0 200 OK\r\n\r\nbody").unwrap(),
            (200, "body".to_owned())
        );
        assert!(parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nshort").is_err());
        assert!(
            parse_response(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n").is_err()
        );
        assert!(parse_response(b"garbage").is_err());
    }

    /// A real loopback server answering one request; the client must send the path and
    /// read the chunked body.
    #[test]
    fn get_over_loopback() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut buf = Vec::new();
            let mut byte = [0u8; 1];
            while !buf.ends_with(b"\r\n\r\n") {
                if conn.read(&mut byte).unwrap() == 0 {
                    break;
                }
                buf.push(byte[0]);
            }
            conn.write_all(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
            )
            .unwrap();
            String::from_utf8(buf).unwrap()
        });
        let s = RemoteServer::parse(&format!("http://{addr}/base")).unwrap();
        let (status, body) = s.get("/apis/metrics.k8s.io/v1beta1/nodes").unwrap();
        assert_eq!((status, body.as_str()), (200, "{}"));
        let request = server.join().unwrap();
        assert!(
            request.starts_with("GET /base/apis/metrics.k8s.io/v1beta1/nodes HTTP/1.1\r\n"),
            "{request}"
        );
        assert!(
            request.contains(&format!("\r\nHost: {addr}\r\n")),
            "{request}"
        );
    }

    fn args(argv: &[&str]) -> TopArgs {
        use clap::Parser;
        #[derive(Debug, clap::Parser)]
        struct T {
            #[command(flatten)]
            top: TopArgs,
        }
        T::try_parse_from(std::iter::once("top").chain(argv.iter().copied()))
            .unwrap()
            .top
    }

    fn fixture() -> PathBuf {
        let base = std::env::var("SCRAPELINE_CGROUP_FIXTURES").map_or_else(
            |_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../crates/cgroup/tests/fixtures"),
            PathBuf::from,
        );
        base.join("cgroup-v2-systemd")
    }

    /// A local collection pair over the v2 fixture tree: the tree does not change, so the
    /// node used no CPU in between; its working set is 4241272832 B of 16000 MiB.
    #[test]
    fn local_nodes_table_from_the_fixture() {
        let root = fixture();
        let root = root.to_str().unwrap();
        let a = args(&["nodes", "--root", root, "--node-name", "node-v2"]);
        let (mut out, mut err) = (Vec::new(), Vec::new());
        assert_eq!(render(&a, &mut out, &mut err).unwrap(), ExitCode::SUCCESS);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "NAME      CPU(cores)   CPU(%)    MEMORY(bytes)   MEMORY(%)   \n\
             node-v2   0m           0%        4044Mi          25%         \n"
        );
        assert!(err.is_empty());
        // Without Kubernetes metadata no pod can be named.
        let a = args(&[
            "pods",
            "-n",
            "default",
            "--root",
            root,
            "--node-name",
            "node-v2",
        ]);
        let (mut out, mut err) = (Vec::new(), Vec::new());
        assert_eq!(render(&a, &mut out, &mut err).unwrap(), ExitCode::SUCCESS);
        assert!(out.is_empty());
        assert_eq!(
            String::from_utf8(err).unwrap(),
            "No resources found in default namespace.\n"
        );
    }

    /// `--server`: a loopback server answering the Metrics API; the table is kubectl's, and a
    /// Kubernetes Status error is reported like kubectl reports it.
    #[test]
    fn remote_pods_table_and_errors() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let mut paths = Vec::new();
            for _ in 0..3 {
                let (mut conn, _) = listener.accept().unwrap();
                conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                let mut buf = Vec::new();
                let mut byte = [0u8; 1];
                while !buf.ends_with(b"\r\n\r\n") {
                    if conn.read(&mut byte).unwrap() == 0 {
                        break;
                    }
                    buf.push(byte[0]);
                }
                let head = String::from_utf8(buf).unwrap();
                let path = head.split(' ').nth(1).unwrap().to_owned();
                let (status, body) = if path.contains("/namespaces/default/pods") {
                    (
                        "200 OK",
                        r#"{"kind":"PodMetricsList","apiVersion":"metrics.k8s.io/v1beta1","metadata":{},"items":[{"metadata":{"name":"web","namespace":"default","creationTimestamp":"2026-01-01T00:00:03Z"},"timestamp":"2026-01-01T00:00:00Z","window":"15.012s","containers":[{"name":"a","usage":{"cpu":"12002398n","memory":"36352Ki"}},{"name":"b","usage":{"cpu":"172668864n","memory":"49664Ki"}}]}]}"#,
                    )
                } else {
                    (
                        "503 Service Unavailable",
                        r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"no cgroup collection yet","reason":"ServiceUnavailable","code":503}"#,
                    )
                };
                let resp = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                );
                conn.write_all(resp.as_bytes()).unwrap();
                paths.push(path);
            }
            paths
        });
        let url = format!("http://{addr}");
        let a = args(&["pods", "-n", "default", "--server", &url]);
        let (mut out, mut err) = (Vec::new(), Vec::new());
        assert_eq!(render(&a, &mut out, &mut err).unwrap(), ExitCode::SUCCESS);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "NAME      CPU(cores)   MEMORY(bytes)   \n\
             web       185m         84Mi            \n"
        );
        // `-l` travels as kubectl sends it: `labelSelector`, query-escaped.
        let a = args(&[
            "pods",
            "-n",
            "default",
            "-l",
            "app in (web)",
            "--server",
            &url,
        ]);
        assert_eq!(
            render(&a, &mut Vec::new(), &mut Vec::new()).unwrap(),
            ExitCode::SUCCESS
        );
        let a = args(&["nodes", "--server", &url]);
        let e = render(&a, &mut Vec::new(), &mut Vec::new()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Error from server (ServiceUnavailable): no cgroup collection yet"
        );
        assert_eq!(
            server.join().unwrap(),
            [
                "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods",
                "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods?labelSelector=app+in+%28web%29",
                "/apis/metrics.k8s.io/v1beta1/nodes"
            ]
        );
    }

    #[test]
    fn args_parse_like_kubectl() {
        use clap::Parser;
        #[derive(Debug, clap::Parser)]
        struct T {
            #[command(flatten)]
            top: TopArgs,
        }
        let t = T::try_parse_from(["top", "po", "-n", "kube-system"]).unwrap();
        assert_eq!(t.top.resource, TopResource::Pods);
        assert_eq!(t.top.namespace.as_deref(), Some("kube-system"));
        let t = T::try_parse_from(["top", "node", "--server", "http://127.0.0.1:9090"]).unwrap();
        assert_eq!(t.top.resource, TopResource::Nodes);
        assert!(T::try_parse_from(["top", "pods", "-n", "x", "-A"]).is_err());
        assert!(
            T::try_parse_from([
                "top",
                "pods",
                "--server",
                "http://127.0.0.1:1",
                "--root",
                "/x"
            ])
            .is_err()
        );
        assert!(T::try_parse_from(["top", "services"]).is_err());
    }
}
