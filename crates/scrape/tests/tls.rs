//! HTTPS targets: CA file, server_name, insecure_skip_verify, and the errors when
//! verification fails. Certificates are generated with the `openssl` CLI at test time
//! (skipped with a printed reason when it is absent).

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use common::Recorder;
use scrapeline_exposition::Labels;
use scrapeline_scrape::{GlobalConfig, Health, ManagerOptions, ScrapeConfig, ScrapeManager};
use scrapeline_sd::TargetGroup;
use scrapeline_testkit::farm::{Behavior, Farm};

fn openssl(dir: &Path, args: &[&str]) -> bool {
    Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// A CA and a server certificate for `farm.test` and 127.0.0.1 signed by it.
fn make_certs(dir: &Path) -> bool {
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
        "/CN=scrapeline-test-ca",
    ]);
    let mut csr = vec!["req"];
    csr.extend(ec);
    csr.extend([
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=farm.test",
    ]);
    if std::fs::write(
        dir.join("ext"),
        "subjectAltName=DNS:farm.test,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .is_err()
    {
        return false;
    }
    openssl(dir, &ca)
        && openssl(dir, &csr)
        && openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                "server.crt",
                "-days",
                "2",
                "-extfile",
                "ext",
            ],
        )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_targets_verify_as_configured() {
    let dir = tempfile::tempdir().unwrap();
    if !make_certs(dir.path()) {
        eprintln!("SKIP: the openssl CLI is not available to make test certificates");
        return;
    }
    let cert = std::fs::read(dir.path().join("server.crt")).unwrap();
    let key = std::fs::read(dir.path().join("server.key")).unwrap();
    let farm = Farm::start_tls(&cert, &key).await;
    farm.set("/metrics", Behavior::text("tls_metric 1\n"));
    let ca = dir.path().join("ca.crt");
    let ca = ca.display();
    let jobs: Vec<ScrapeConfig> = [
        format!("job_name: ca\nscheme: https\ntls_config:\n  ca_file: {ca}\n"),
        format!("job_name: sni\nscheme: https\ntls_config:\n  ca_file: {ca}\n  server_name: farm.test\n"),
        format!("job_name: wrong-name\nscheme: https\ntls_config:\n  ca_file: {ca}\n  server_name: other.test\n"),
        "job_name: no-ca\nscheme: https\n".to_string(),
        "job_name: insecure\nscheme: https\ntls_config:\n  insecure_skip_verify: true\n".to_string(),
        "job_name: plain-http\n".to_string(),
    ]
    .iter()
    .map(|y| {
        let y = format!("{y}scrape_interval: 1s\nscrape_timeout: 900ms\n");
        serde_saphyr::from_str(&y).unwrap()
    })
    .collect();
    let names: Vec<String> = jobs.iter().map(|j| j.job_name.clone()).collect();
    let rec = Recorder::default();
    let m = ScrapeManager::new(Arc::new(rec.clone()), ManagerOptions::default());
    m.apply_config(jobs, &GlobalConfig::default()).unwrap();
    let addr = farm.addr().to_string();
    for n in &names {
        m.sync(
            n,
            vec![TargetGroup {
                source: "tls".into(),
                targets: vec![Labels::from_pairs([("__address__", addr.as_str())])],
                labels: Labels::empty(),
            }],
        );
    }
    let end = tokio::time::Instant::now() + Duration::from_secs(5);
    while m
        .targets()
        .active
        .iter()
        .any(|t| t.health == Health::Unknown)
    {
        assert!(tokio::time::Instant::now() < end, "targets not scraped");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let snap = m.targets();
    let get = |job: &str| {
        let t = snap.active.iter().find(|t| t.scrape_pool == job).unwrap();
        (t.health, t.last_error.clone())
    };
    assert_eq!(get("ca"), (Health::Up, String::new()));
    assert_eq!(get("sni"), (Health::Up, String::new()));
    assert_eq!(get("insecure"), (Health::Up, String::new()));
    let url = format!("https://{addr}/metrics");
    let (h, e) = get("no-ca");
    assert_eq!(h, Health::Down);
    assert_eq!(
        e,
        format!("Get {url:?}: client error (Connect): invalid peer certificate: UnknownIssuer")
    );
    let (h, e) = get("wrong-name");
    assert_eq!(h, Health::Down);
    assert_eq!(
        e,
        format!(
            "Get {url:?}: client error (Connect): invalid peer certificate: certificate not valid for name \"other.test\"; certificate is only valid for DnsName(\"farm.test\") or IpAddress(127.0.0.1)"
        )
    );
    let (h, e) = get("plain-http");
    assert_eq!(h, Health::Down);
    assert!(
        e.starts_with(&format!("Get \"http://{addr}/metrics\": ")),
        "{e}"
    );
    let v = rec.series(&format!(
        "{{__name__=\"tls_metric\", instance=\"{addr}\", job=\"ca\"}}"
    ));
    assert_eq!(v.first().map(|x| x.1), Some(1.0));
    m.shutdown().await;
}

/// A self-signed `CA:TRUE` certificate for 127.0.0.1 (what many internal exporters serve)
/// named `name`, with its key.
fn make_self_signed_ca(dir: &Path, name: &str) -> bool {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.crt"),
            "-days",
            "2",
            "-subj",
            &format!("/CN={name}"),
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
        ],
    )
}

/// Go accepts a server certificate that is itself one of the configured CAs (Prometheus
/// scrapes such exporters); WebPKI alone refuses it with `CaUsedAsEndEntity`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn self_signed_ca_served_as_its_own_certificate_is_accepted_like_go() {
    let dir = tempfile::tempdir().unwrap();
    if !make_self_signed_ca(dir.path(), "exporter") || !make_self_signed_ca(dir.path(), "other") {
        eprintln!("SKIP: the openssl CLI is not available to make test certificates");
        return;
    }
    let cert = std::fs::read(dir.path().join("exporter.crt")).unwrap();
    let key = std::fs::read(dir.path().join("exporter.key")).unwrap();
    let farm = Farm::start_tls(&cert, &key).await;
    farm.set("/metrics", Behavior::text("tls_metric 1\n"));
    let own = dir.path().join("exporter.crt");
    let other = dir.path().join("other.crt");
    let (own, other) = (own.display(), other.display());
    let jobs: Vec<ScrapeConfig> = [
        format!("job_name: own\nscheme: https\ntls_config:\n  ca_file: {own}\n"),
        format!("job_name: other\nscheme: https\ntls_config:\n  ca_file: {other}\n"),
        format!(
            "job_name: wrong-name\nscheme: https\ntls_config:\n  ca_file: {own}\n  server_name: other.test\n"
        ),
    ]
    .iter()
    .map(|y| {
        let y = format!("{y}scrape_interval: 1s\nscrape_timeout: 900ms\n");
        serde_saphyr::from_str(&y).unwrap()
    })
    .collect();
    let names: Vec<String> = jobs.iter().map(|j| j.job_name.clone()).collect();
    let rec = Recorder::default();
    let m = ScrapeManager::new(Arc::new(rec.clone()), ManagerOptions::default());
    m.apply_config(jobs, &GlobalConfig::default()).unwrap();
    let addr = farm.addr().to_string();
    for n in &names {
        m.sync(
            n,
            vec![TargetGroup {
                source: "tls".into(),
                targets: vec![Labels::from_pairs([("__address__", addr.as_str())])],
                labels: Labels::empty(),
            }],
        );
    }
    let end = tokio::time::Instant::now() + Duration::from_secs(5);
    while m
        .targets()
        .active
        .iter()
        .any(|t| t.health == Health::Unknown)
    {
        assert!(tokio::time::Instant::now() < end, "targets not scraped");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let snap = m.targets();
    let get = |job: &str| {
        let t = snap.active.iter().find(|t| t.scrape_pool == job).unwrap();
        (t.health, t.last_error.clone())
    };
    let url = format!("https://{addr}/metrics");
    assert_eq!(get("own"), (Health::Up, String::new()));
    // A CA certificate that is not one of the configured ones keeps WebPKI's refusal.
    assert_eq!(
        get("other"),
        (
            Health::Down,
            format!(
                "Get {url:?}: client error (Connect): invalid peer certificate: Other(OtherError(CaUsedAsEndEntity))"
            )
        )
    );
    assert_eq!(
        get("wrong-name"),
        (
            Health::Down,
            format!(
                "Get {url:?}: client error (Connect): invalid peer certificate: certificate not valid for name \"other.test\"; certificate is only valid for IpAddress(127.0.0.1)"
            )
        )
    );
    let v = rec.series(&format!(
        "{{__name__=\"tls_metric\", instance=\"{addr}\", job=\"own\"}}"
    ));
    assert_eq!(v.first().map(|x| x.1), Some(1.0));
    m.shutdown().await;
}
