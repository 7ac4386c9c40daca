//! Remote write over TLS to a real loopback TLS server with a throwaway certificate made by
//! the `openssl` command (skipped, with the reason printed, when it is missing).

use std::process::Command;

use super::tests::config;
use super::*;
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};

/// A throwaway CA and a server certificate it signed for `localhost` and 127.0.0.1:
/// (CA PEM path, server cert PEM path, server key PEM path).
fn make_certs(dir: &std::path::Path) -> Option<(String, String, String)> {
    let p = |n: &str| dir.join(n).display().to_string();
    let run = |args: &[&str]| {
        Command::new("openssl")
            .args(args)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    std::fs::write(
        p("ext.cnf"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    )
    .ok()?;
    let ok = run(&[
        &["req", "-x509"][..],
        &ec,
        &["-days", "1", "-subj", "/CN=scrapeline test CA"],
        &["-keyout", &p("ca.key"), "-out", &p("ca.pem")],
    ]
    .concat())
        && run(&[
            &["req"][..],
            &ec,
            &["-subj", "/CN=localhost"],
            &["-keyout", &p("key.pem"), "-out", &p("csr.pem")],
        ]
        .concat())
        && run(&[
            "x509",
            "-req",
            "-in",
            &p("csr.pem"),
            "-CA",
            &p("ca.pem"),
            "-CAkey",
            &p("ca.key"),
            "-CAcreateserial",
            "-days",
            "1",
            "-extfile",
            &p("ext.cnf"),
            "-out",
            &p("cert.pem"),
        ]);
    ok.then(|| (p("ca.pem"), p("cert.pem"), p("key.pem")))
}

/// A TLS receiver answering 200 and counting bearer tokens it saw.
async fn tls_receiver(
    cert: &str,
    key: &str,
) -> (String, Arc<Mutex<Vec<String>>>, CancellationToken) {
    let certs = rustls_pemfile::certs(&mut &std::fs::read(cert).unwrap()[..])
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = rustls_pemfile::private_key(&mut &std::fs::read(key).unwrap()[..])
        .unwrap()
        .unwrap();
    let cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(cfg));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let auths = Arc::new(Mutex::new(Vec::new()));
    let cancel = CancellationToken::new();
    let (a, c) = (auths.clone(), cancel.clone());
    tokio::spawn(async move {
        loop {
            let (stream, _) = tokio::select! {
                r = listener.accept() => match r { Ok(x) => x, Err(_) => continue },
                _ = c.cancelled() => return,
            };
            let (acceptor, a) = (acceptor.clone(), a.clone());
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(stream).await else {
                    return;
                };
                let svc = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                    let a = a.clone();
                    async move {
                        let auth = req
                            .headers()
                            .get("authorization")
                            .map(|v| v.to_str().unwrap_or("").to_owned())
                            .unwrap_or_default();
                        let _ = req.into_body().collect().await;
                        a.lock().unwrap().push(auth);
                        Ok::<_, std::convert::Infallible>(Response::new(Full::new(Bytes::new())))
                    }
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tls), svc)
                    .await;
            });
        }
    });
    (
        format!("https://127.0.0.1:{port}/api/v1/write"),
        auths,
        cancel,
    )
}

async fn send_one(cfg: &RemoteWriteConfig) -> RemoteWrite {
    let q = RemoteWrite::start(cfg, Labels::empty()).unwrap();
    let mut app = q.appender();
    app.append(0, &Labels::from_pairs([("__name__", "tls")]), 1, 1.0)
        .unwrap();
    app.commit().unwrap();
    q
}

async fn wait_sent(q: &RemoteWrite, n: u64) -> bool {
    for _ in 0..200 {
        if q.samples_sent() >= n {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}

#[tokio::test]
async fn https_with_ca_file_insecure_skip_verify_and_token_file() {
    let dir = tempfile::tempdir().unwrap();
    let Some((ca, cert, key)) = make_certs(dir.path()) else {
        println!("SKIPPED: `openssl` is not available to make a test certificate");
        return;
    };
    let (url, auths, cancel) = tls_receiver(&cert, &key).await;
    let token = dir.path().join("token");
    std::fs::write(&token, "tok-1\n").unwrap();

    // Trusted through ca_file; the token file is read at every request.
    let cfg = config(
        &url,
        &format!(
            "tls_config: {{ca_file: {ca}}}\nbearer_token_file: {}\n",
            token.display()
        ),
    );
    let q = send_one(&cfg).await;
    assert!(wait_sent(&q, 1).await);
    std::fs::write(&token, "tok-2").unwrap();
    let mut app = q.appender();
    app.append(0, &Labels::from_pairs([("__name__", "tls")]), 2, 2.0)
        .unwrap();
    app.commit().unwrap();
    assert!(wait_sent(&q, 2).await);
    q.shutdown(Duration::from_secs(1)).await;
    assert_eq!(*auths.lock().unwrap(), vec!["Bearer tok-1", "Bearer tok-2"]);

    // Not trusted with the default roots: retried, never sent.
    let q = send_one(&config(&url, "")).await;
    assert!(!wait_sent(&q, 1).await);
    q.shutdown(Duration::from_millis(100)).await;
    assert_eq!(q.samples_sent(), 0);
    assert_eq!(q.samples_lost(), 1);

    // insecure_skip_verify accepts it.
    let q = send_one(&config(&url, "tls_config: {insecure_skip_verify: true}\n")).await;
    assert!(wait_sent(&q, 1).await);
    q.shutdown(Duration::from_secs(1)).await;
    assert_eq!(auths.lock().unwrap().len(), 3);
    cancel.cancel();
}
