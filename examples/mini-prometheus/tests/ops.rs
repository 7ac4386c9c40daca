//! Operating the binary as Prometheus is operated: Prometheus 3's log lines (logfmt and
//! JSON) for startup and every (failed) reload, `--web.enable-lifecycle` with `/-/quit`, and
//! `--web.config.file` with real TLS (client certificates, minimum version) and bcrypt basic
//! auth, checked with curl.

use std::io::Read;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start(args: &[&str]) -> Server {
    Server(
        Command::new(env!("CARGO_BIN_EXE_mini-prometheus"))
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start mini-prometheus"),
    )
}

/// curl with `args`; returns (exit code, HTTP status, body).
fn curl(args: &[&str]) -> (i32, u16, String) {
    let out: Output = Command::new("curl")
        .args(["-s", "--max-time", "10", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (
        out.status.code().unwrap_or(-1),
        code.trim().parse().unwrap_or(0),
        body.to_owned(),
    )
}

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(30) {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("timed out waiting for {what}");
}

/// Waits for the process to exit by itself (after `/-/quit`); returns its stderr.
fn wait_exit(server: &mut Server) -> (Option<i32>, String) {
    let start = Instant::now();
    loop {
        if let Some(status) = server.0.try_wait().unwrap() {
            let mut log = String::new();
            server
                .0
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut log)
                .unwrap();
            return (status.code(), log);
        }
        assert!(start.elapsed() < Duration::from_secs(30), "did not exit");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn config(port: u16) -> String {
    format!(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: self\n    static_configs:\n      - targets: [\"127.0.0.1:{port}\"]\n"
    )
}

/// A logfmt line as key/value pairs (values unquoted and unescaped).
fn logfmt(line: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut chars = line.chars().peekable();
    while chars.peek().is_some() {
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => match chars.next() {
                        Some('n') => value.push('\n'),
                        Some('t') => value.push('\t'),
                        Some(c) => value.push(c),
                        None => {}
                    },
                    '"' => break,
                    c => value.push(c),
                }
            }
            chars.next(); // the space
        } else {
            value = chars.by_ref().take_while(|c| *c != ' ').collect();
        }
        out.push((key.trim().to_owned(), value));
    }
    out
}

fn get<'a>(kv: &'a [(String, String)], key: &str) -> Option<&'a str> {
    kv.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

#[test]
fn logs_reloads_and_quit_as_prometheus_3() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let cfg = dir.path().join("prometheus.yml");
    std::fs::write(&cfg, config(port)).unwrap();
    let addr = format!("127.0.0.1:{port}");
    let cfg_s = cfg.to_str().unwrap();
    let mut server = start(&[
        "--config.file",
        cfg_s,
        "--web.listen-address",
        &addr,
        "--log.level=info",
        "--web.enable-lifecycle",
    ]);
    let url = |p: &str| format!("http://{addr}{p}");
    wait_for("ready", || curl(&[&url("/-/ready")]).1 == 200);
    std::fs::write(
        &cfg,
        "scrape_configs: [{job_name: x, scrape_interval: -1}]\n",
    )
    .unwrap();
    let (_, code, body) = curl(&["-X", "POST", &url("/-/reload")]);
    assert_eq!(code, 500, "{body}");
    let (_, _, metrics) = curl(&[&url("/metrics")]);
    assert!(
        metrics.contains("\nprometheus_config_last_reload_successful 0\n"),
        "{metrics}"
    );
    std::fs::write(&cfg, config(port)).unwrap();
    assert_eq!(curl(&["-X", "POST", &url("/-/reload")]).1, 200);
    let (_, _, metrics) = curl(&[&url("/metrics")]);
    assert!(
        metrics.contains("\nprometheus_config_last_reload_successful 1\n"),
        "{metrics}"
    );
    let (_, code, body) = curl(&["-X", "POST", &url("/-/quit")]);
    assert_eq!(
        (code, body.as_str()),
        (200, "Requesting termination... Goodbye!")
    );
    let (status, log) = wait_exit(&mut server);
    assert_eq!(status, Some(0), "{log}");

    let lines: Vec<Vec<(String, String)>> = log.lines().map(logfmt).collect();
    let time_re = regex::Regex::new(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$").unwrap();
    let source_re = regex::Regex::new(r"^[a-z_]+\.rs:\d+$").unwrap();
    for (l, raw) in lines.iter().zip(log.lines()) {
        let keys: Vec<&str> = l.iter().take(4).map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["time", "level", "source", "msg"], "{raw}");
        assert!(time_re.is_match(get(l, "time").unwrap()), "{raw}");
        assert!(
            ["DEBUG", "INFO", "WARN", "ERROR"].contains(&get(l, "level").unwrap()),
            "{raw}"
        );
        assert!(source_re.is_match(get(l, "source").unwrap()), "{raw}");
    }
    let with_msg = |msg: &str| -> Vec<&Vec<(String, String)>> {
        lines
            .iter()
            .filter(|l| get(l, "msg") == Some(msg))
            .collect()
    };
    let start_line = with_msg("Starting Prometheus Server");
    assert_eq!(start_line.len(), 1, "{log}");
    assert_eq!(get(start_line[0], "mode"), Some("server"));
    assert!(
        get(start_line[0], "version")
            .unwrap()
            .contains("mini-prometheus"),
        "{log}"
    );
    // Startup, the failed reload and the good one.
    let loading = with_msg("Loading configuration file");
    assert_eq!(loading.len(), 3, "{log}");
    assert!(loading.iter().all(|l| get(l, "filename") == Some(cfg_s)));
    let failed = with_msg("Error reloading config");
    assert_eq!(failed.len(), 1, "{log}");
    assert_eq!(get(failed[0], "level"), Some("ERROR"));
    assert_eq!(get(failed[0], "filename"), Some(cfg_s));
    assert!(
        get(failed[0], "err").unwrap().contains("scrape_interval"),
        "{log}"
    );
    let done = with_msg("Completed loading of configuration file");
    assert_eq!(done.len(), 2, "{log}");
    assert!(
        done.iter()
            .all(|l| get(l, "filename") == Some(cfg_s) && get(l, "totalDuration").is_some())
    );
    assert_eq!(
        with_msg("Server is ready to receive web requests.").len(),
        1
    );
    assert_eq!(
        with_msg("Received termination request via web service, exiting gracefully...").len(),
        1,
        "{log}"
    );
}

#[test]
fn json_logs_have_the_same_keys_and_levels_filter() {
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut server = start(&[
        "--web.listen-address",
        &addr,
        "--log.format=json",
        "--log.level=info",
        "--web.enable-lifecycle",
    ]);
    let url = |p: &str| format!("http://{addr}{p}");
    wait_for("ready", || curl(&[&url("/-/ready")]).1 == 200);
    assert_eq!(curl(&["-X", "POST", &url("/-/quit")]).1, 200);
    let (status, log) = wait_exit(&mut server);
    assert_eq!(status, Some(0), "{log}");
    let mut msgs = Vec::new();
    for line in log.lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        let o = v.as_object().unwrap();
        let keys: Vec<&str> = o.keys().take(4).map(String::as_str).collect();
        for k in ["time", "level", "source", "msg"] {
            assert!(o.contains_key(k), "{k} missing: {line}");
        }
        assert!(o.values().all(|v| v.is_string()), "flat strings: {line}");
        assert!(keys.len() == 4);
        assert_ne!(o["level"], "DEBUG", "{line}");
        msgs.push(o["msg"].as_str().unwrap().to_owned());
    }
    assert!(
        msgs.iter().any(|m| m == "Loading configuration file"),
        "{log}"
    );
    assert!(
        msgs.iter()
            .any(|m| m == "Server is ready to receive web requests."),
        "{log}"
    );

    // Prometheus' levels only.
    let out = Command::new(env!("CARGO_BIN_EXE_mini-prometheus"))
        .args(["--log.level=trace"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("invalid value 'trace' for '--log.level"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate, all signed by the CA.
fn make_certs(dir: &Path) {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509"];
    ca.extend(ec);
    ca.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "2",
        "-subj",
        "/CN=test-ca",
    ]);
    openssl(dir, &ca);
    for (name, ext) in [
        (
            "server",
            "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
        ),
        ("client", "extendedKeyUsage=clientAuth\n"),
    ] {
        std::fs::write(dir.join(format!("{name}.ext")), ext).unwrap();
        let mut req = vec!["req"];
        req.extend(ec);
        let (key, csr) = (format!("{name}.key"), format!("{name}.csr"));
        let subj = format!("/CN={name}");
        req.extend(["-keyout", &key, "-out", &csr, "-subj", &subj]);
        openssl(dir, &req);
        let (crt, ext) = (format!("{name}.crt"), format!("{name}.ext"));
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                &crt,
                "-days",
                "2",
                "-extfile",
                &ext,
            ],
        );
    }
}

#[test]
fn web_config_tls_client_certs_and_basic_auth() {
    let dir = tempfile::tempdir().unwrap();
    make_certs(dir.path());
    let hash = bcrypt::hash("s3cret", 4).unwrap();
    let web = dir.path().join("web.yml");
    std::fs::write(
        &web,
        format!(
            "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  \
             client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.crt\n  \
             min_version: TLS13\nbasic_auth_users:\n  alice: '{hash}'\n"
        ),
    )
    .unwrap();
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let _server = start(&[
        "--web.listen-address",
        &addr,
        "--web.config.file",
        web.to_str().unwrap(),
        "--log.level=warn",
    ]);
    let d = |f: &str| dir.path().join(f).to_str().unwrap().to_owned();
    let (ca, cert, key) = (d("ca.crt"), d("client.crt"), d("client.key"));
    let url = format!("https://{addr}/-/healthy");
    let tls = ["--cacert", &ca, "--cert", &cert, "--key", &key];
    let with = |extra: &[&str]| {
        let mut a: Vec<&str> = tls.to_vec();
        a.extend(extra);
        a.push(&url);
        curl(&a)
    };
    wait_for("the TLS listener", || with(&[]).1 == 401);
    // Certificate and password: served.
    let (rc, code, body) = with(&["-u", "alice:s3cret"]);
    assert_eq!(
        (rc, code, body.as_str()),
        (0, 200, "Prometheus Server is Healthy.\n")
    );
    // Wrong password or none: 401 with a Basic challenge.
    let (_, code, body) = with(&["-u", "alice:nope"]);
    assert_eq!((code, body.as_str()), (401, "Unauthorized\n"));
    let out = Command::new("curl")
        .args(["-s", "-i", "--max-time", "10"])
        .args(tls)
        .arg(&url)
        .output()
        .unwrap();
    let head = String::from_utf8_lossy(&out.stdout).to_ascii_lowercase();
    assert!(head.contains("www-authenticate: basic"), "{head}");
    // No client certificate: the handshake fails.
    let (rc, code, _) = curl(&["--cacert", &ca, "-u", "alice:s3cret", &url]);
    assert!(rc != 0 && code == 0, "rc {rc} code {code}");
    // TLS 1.2 only: refused (min_version TLS13).
    let (rc, code, _) = with(&["-u", "alice:s3cret", "--tls-max", "1.2"]);
    assert!(rc != 0 && code == 0, "rc {rc} code {code}");
    // Plain HTTP: no answer.
    let (_, code, _) = curl(&[&format!("http://{addr}/-/healthy")]);
    assert_ne!(code, 200);
}

#[test]
fn invalid_web_config_is_a_startup_error() {
    let dir = tempfile::tempdir().unwrap();
    let web = dir.path().join("web.yml");
    std::fs::write(
        &web,
        "tls_server_config:\n  cert_file: missing.crt\n  key_file: k\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_mini-prometheus"))
        .args([
            "--web.listen-address",
            &format!("127.0.0.1:{}", free_port()),
        ])
        .args(["--web.config.file", web.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    let want = format!(
        "mini-prometheus: --web.config.file: cert_file {}: ",
        dir.path().join("missing.crt").display()
    );
    assert!(err.contains(&want), "{err}");
}

/// The flags end to end: `--web.external-url` with a path sets the route prefix,
/// lifecycle is off by default, `--agent` answers queries as Prometheus' agent.
#[test]
fn external_url_prefix_lifecycle_off_and_agent_answers() {
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let _server = start(&[
        "--web.listen-address",
        &addr,
        "--web.external-url=http://example.org/prom/",
        "--agent",
        "--log.level=error",
    ]);
    let url = |p: &str| format!("http://{addr}{p}");
    wait_for("ready under the prefix", || {
        curl(&[&url("/prom/-/ready")]).1 == 200
    });
    assert_eq!(curl(&[&url("/-/ready")]).1, 404);
    let location = |p: &str| {
        let out = Command::new("curl")
            .args([
                "-s",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code} %{redirect_url}",
            ])
            .arg(url(p))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(location("/"), format!("302 http://{addr}/prom/"));
    assert_eq!(location("/prom/"), format!("302 http://{addr}/prom/graph"));
    let (_, code, body) = curl(&["-X", "POST", &url("/prom/-/reload")]);
    assert_eq!(
        (code, body.as_str()),
        (403, "Lifecycle API is not enabled.")
    );
    let (_, code, body) = curl(&["-X", "POST", &url("/prom/-/quit")]);
    assert_eq!(
        (code, body.as_str()),
        (403, "Lifecycle API is not enabled.")
    );
    let (_, code, body) = curl(&[&url("/prom/api/v1/query?query=up")]);
    assert_eq!(
        (code, body.as_str()),
        (
            422,
            r#"{"status":"error","errorType":"execution","error":"unavailable with Prometheus Agent"}"#
        )
    );
    let (_, code, body) = curl(&[&url("/prom/federate?match[]=up")]);
    assert_eq!(
        (code, body.as_str()),
        (500, "unsupported operation with WAL-only storage\n")
    );
    assert_eq!(curl(&[&url("/prom/api/v1/targets")]).1, 200);
}
