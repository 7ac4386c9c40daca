//! A scrape target farm on loopback: many targets, changing series, faults.
//!
//! One listener on `127.0.0.1:<free port>` serves every target under its own path
//! (`/t/<name>/metrics` by convention, any path works). Each target has a [`Behavior`]: a fixed
//! or changing payload, slow answers, HTTP errors, connection resets, gzip, huge or malformed
//! bodies. Every request is recorded in an access log (per path, with its arrival time and
//! headers) so tests can check that every target was scraped every interval. The server stops
//! when the [`Farm`] is dropped.
//!
//! ```no_run
//! # async fn demo() {
//! use scrapeline_testkit::farm::{Behavior, Farm};
//! let farm = Farm::start().await;
//! farm.set("/t/a/metrics", Behavior::text("up_metric 1\n"));
//! let url = format!("http://{}/t/a/metrics", farm.addr());
//! # let _ = url;
//! # }
//! ```

use std::collections::HashMap;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{HeaderMap, HeaderValue};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// The content type of the Prometheus text format.
pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
/// The content type of OpenMetrics 1.0.
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// A payload generator: gets the 0-based number of the request to this target.
pub type PayloadFn = Arc<dyn Fn(u64) -> String + Send + Sync>;

/// What a target answers.
#[derive(Clone)]
pub enum Behavior {
    /// The same body every time, with this `Content-Type` (`None`: no header).
    Fixed {
        /// The body.
        body: Bytes,
        /// The `Content-Type`, if any.
        content_type: Option<String>,
    },
    /// A body computed per request (series that change, appear and vanish).
    Changing {
        /// The generator.
        payload: PayloadFn,
        /// The `Content-Type`, if any.
        content_type: Option<String>,
    },
    /// Waits, then behaves as the inner behavior.
    Slow(Duration, Box<Behavior>),
    /// Answers with this status and a short body.
    Status(u16),
    /// Closes the connection without an answer.
    Reset,
    /// Gzip-encodes the inner behavior's body (`Content-Encoding: gzip`).
    Gzip(Box<Behavior>),
    /// A valid text body of at least this many bytes (`filler_metric{i="…"} 1` lines).
    Huge(usize),
    /// Redirects (302) to this path or URL.
    Redirect(String),
}

impl std::fmt::Debug for Behavior {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Behavior::Fixed { body, .. } => write!(f, "Fixed({} bytes)", body.len()),
            Behavior::Changing { .. } => f.write_str("Changing"),
            Behavior::Slow(d, b) => write!(f, "Slow({d:?}, {b:?})"),
            Behavior::Status(s) => write!(f, "Status({s})"),
            Behavior::Reset => f.write_str("Reset"),
            Behavior::Gzip(b) => write!(f, "Gzip({b:?})"),
            Behavior::Huge(n) => write!(f, "Huge({n})"),
            Behavior::Redirect(u) => write!(f, "Redirect({u})"),
        }
    }
}

impl Behavior {
    /// A fixed text-format body.
    pub fn text(body: impl Into<String>) -> Behavior {
        Behavior::Fixed {
            body: Bytes::from(body.into()),
            content_type: Some(TEXT_CONTENT_TYPE.into()),
        }
    }

    /// A fixed OpenMetrics body.
    pub fn openmetrics(body: impl Into<String>) -> Behavior {
        Behavior::Fixed {
            body: Bytes::from(body.into()),
            content_type: Some(OPENMETRICS_CONTENT_TYPE.into()),
        }
    }

    /// A text body computed per request.
    pub fn changing(f: impl Fn(u64) -> String + Send + Sync + 'static) -> Behavior {
        Behavior::Changing {
            payload: Arc::new(f),
            content_type: Some(TEXT_CONTENT_TYPE.into()),
        }
    }

    /// A body that is not valid exposition text.
    pub fn malformed() -> Behavior {
        Behavior::text("metric_ok 1\nthis is { not valid\n")
    }
}

/// One request as the farm saw it.
#[derive(Debug, Clone)]
pub struct Access {
    /// Arrival on tokio's clock (follows a paused clock in tests).
    pub at: tokio::time::Instant,
    /// Arrival on the wall clock.
    pub wall: SystemTime,
    /// The query string, if any.
    pub query: Option<String>,
    /// The request headers.
    pub headers: HeaderMap,
}

#[derive(Default)]
struct State {
    targets: HashMap<String, Behavior>,
    log: HashMap<String, Vec<Access>>,
    counts: HashMap<String, u64>,
    in_flight: usize,
    max_in_flight: usize,
}

/// A running farm; stops when dropped.
pub struct Farm {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    stop: CancellationToken,
}

impl std::fmt::Debug for Farm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Farm").field("addr", &self.addr).finish()
    }
}

impl Drop for Farm {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A realistic text payload of `series` series in families of 10, values derived from `round`
/// (so consecutive rounds differ only in values).
pub fn realistic_payload(series: usize, round: u64) -> String {
    let mut s = String::with_capacity(series * 80);
    let families = series.div_ceil(10);
    let mut left = series;
    for f in 0..families {
        let _ = writeln!(
            VecWriter(&mut s),
            "# HELP app_requests_total_{f} Requests handled by the app, family {f}.\n# TYPE app_requests_total_{f} counter"
        );
        for i in 0..10.min(left) {
            let _ = writeln!(
                VecWriter(&mut s),
                "app_requests_total_{f}{{method=\"GET\",handler=\"/api/v1/item/{i}\",code=\"200\",instance_zone=\"eu-west-1a\"}} {}",
                (round + 1) * (i as u64 + 1) * 17
            );
        }
        left = left.saturating_sub(10);
    }
    s
}

struct VecWriter<'a>(&'a mut String);
impl Write for VecWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.push_str(&String::from_utf8_lossy(buf));
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn gzip(b: &[u8]) -> Bytes {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let _ = e.write_all(b);
    Bytes::from(e.finish().unwrap_or_default())
}

enum Answer {
    Resp(Response<Full<Bytes>>),
    Reset,
}

fn render(
    b: &Behavior,
    n: u64,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Answer> + Send + '_>> {
    Box::pin(async move {
        match b {
            Behavior::Fixed { body, content_type } => ok(body.clone(), content_type.as_deref()),
            Behavior::Changing {
                payload,
                content_type,
            } => ok(Bytes::from(payload(n)), content_type.as_deref()),
            Behavior::Slow(d, inner) => {
                tokio::time::sleep(*d).await;
                render(inner, n).await
            }
            Behavior::Status(s) => {
                let mut r = Response::new(Full::new(Bytes::from_static(b"failure\n")));
                *r.status_mut() =
                    StatusCode::from_u16(*s).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                Answer::Resp(r)
            }
            Behavior::Reset => Answer::Reset,
            Behavior::Gzip(inner) => match render(inner, n).await {
                Answer::Resp(r) => {
                    let (mut parts, body) = r.into_parts();
                    let bytes = http_body_util::BodyExt::collect(body)
                        .await
                        .map(|c| c.to_bytes())
                        .unwrap_or_default();
                    parts
                        .headers
                        .insert("content-encoding", HeaderValue::from_static("gzip"));
                    Answer::Resp(Response::from_parts(parts, Full::new(gzip(&bytes))))
                }
                Answer::Reset => Answer::Reset,
            },
            Behavior::Huge(n) => {
                let mut s = String::with_capacity(*n + 64);
                let mut i = 0u64;
                while s.len() < *n {
                    s.push_str(&format!("filler_metric{{i=\"{i}\"}} 1\n"));
                    i += 1;
                }
                ok(Bytes::from(s), Some(TEXT_CONTENT_TYPE))
            }
            Behavior::Redirect(to) => {
                let mut r = Response::new(Full::new(Bytes::new()));
                *r.status_mut() = StatusCode::FOUND;
                if let Ok(v) = HeaderValue::from_str(to) {
                    r.headers_mut().insert("location", v);
                }
                Answer::Resp(r)
            }
        }
    })
}

fn ok(body: Bytes, ct: Option<&str>) -> Answer {
    let mut r = Response::new(Full::new(body));
    if let Some(ct) = ct
        && let Ok(v) = HeaderValue::from_str(ct)
    {
        r.headers_mut().insert("content-type", v);
    }
    Answer::Resp(r)
}

/// Why a request was refused: the farm closes the connection instead of answering.
#[derive(Debug)]
struct ResetConnection;
impl std::fmt::Display for ResetConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("reset by farm")
    }
}
impl std::error::Error for ResetConnection {}

impl Farm {
    /// Starts an empty farm on `127.0.0.1` with a free port.
    pub async fn start() -> Farm {
        Self::start_inner(None).await
    }

    /// Starts an empty farm that speaks HTTPS with this PEM certificate chain and key.
    pub async fn start_tls(cert_pem: &[u8], key_pem: &[u8]) -> Farm {
        let certs: Vec<_> = rustls_pemfile::certs(&mut &cert_pem[..])
            .collect::<Result<_, _>>()
            .unwrap_or_else(|e| panic!("farm: bad certificate PEM: {e}"));
        let key = rustls_pemfile::private_key(&mut &key_pem[..])
            .unwrap_or_else(|e| panic!("farm: bad key PEM: {e}"))
            .unwrap_or_else(|| panic!("farm: no private key in PEM"));
        let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        let cfg = tokio_rustls::rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap_or_else(|e| panic!("farm: tls versions: {e}"))
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap_or_else(|e| panic!("farm: tls config: {e}"));
        Self::start_inner(Some(tokio_rustls::TlsAcceptor::from(Arc::new(cfg)))).await
    }

    async fn start_inner(tls: Option<tokio_rustls::TlsAcceptor>) -> Farm {
        let listener = match TcpListener::bind("127.0.0.1:0").await {
            Ok(l) => l,
            Err(e) => panic!("farm: cannot bind 127.0.0.1:0: {e}"),
        };
        let addr = match listener.local_addr() {
            Ok(a) => a,
            Err(e) => panic!("farm: no local address: {e}"),
        };
        let state = Arc::new(Mutex::new(State::default()));
        let stop = CancellationToken::new();
        let (st, stop2) = (state.clone(), stop.clone());
        tokio::spawn(async move {
            loop {
                let conn = tokio::select! {
                    _ = stop2.cancelled() => return,
                    c = listener.accept() => c,
                };
                let Ok((stream, _)) = conn else { continue };
                let _ = stream.set_nodelay(true);
                let (st, stop3, tls) = (st.clone(), stop2.clone(), tls.clone());
                tokio::spawn(async move {
                    let svc = service_fn(move |req: Request<Incoming>| {
                        let st = st.clone();
                        async move { handle(st, req).await }
                    });
                    let builder = hyper::server::conn::http1::Builder::new();
                    match tls {
                        None => {
                            let conn = builder.serve_connection(TokioIo::new(stream), svc);
                            tokio::select! {
                                _ = stop3.cancelled() => {}
                                _ = conn => {}
                            }
                        }
                        Some(acceptor) => {
                            let Ok(Ok(stream)) = tokio::time::timeout(
                                Duration::from_secs(10),
                                acceptor.accept(stream),
                            )
                            .await
                            else {
                                return;
                            };
                            let conn = builder.serve_connection(TokioIo::new(stream), svc);
                            tokio::select! {
                                _ = stop3.cancelled() => {}
                                _ = conn => {}
                            }
                        }
                    }
                });
            }
        });
        Farm { addr, state, stop }
    }

    /// The listener address (`127.0.0.1:<port>`).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Sets (or replaces) the behavior of the target at `path`.
    pub fn set(&self, path: &str, b: Behavior) {
        lock(&self.state).targets.insert(path.to_owned(), b);
    }

    /// Removes the target at `path` (it then answers 404).
    pub fn remove(&self, path: &str) {
        lock(&self.state).targets.remove(path);
    }

    /// Every request to `path` so far, oldest first.
    pub fn access_log(&self, path: &str) -> Vec<Access> {
        lock(&self.state).log.get(path).cloned().unwrap_or_default()
    }

    /// Request arrival times (tokio clock) per path.
    pub fn access_times(&self) -> HashMap<String, Vec<tokio::time::Instant>> {
        lock(&self.state)
            .log
            .iter()
            .map(|(k, v)| (k.clone(), v.iter().map(|a| a.at).collect()))
            .collect()
    }

    /// The most requests the farm was answering at the same time.
    pub fn max_in_flight(&self) -> usize {
        lock(&self.state).max_in_flight
    }

    /// Number of requests to `path` so far.
    pub fn hits(&self, path: &str) -> u64 {
        lock(&self.state).counts.get(path).copied().unwrap_or(0)
    }
}

async fn handle(
    st: Arc<Mutex<State>>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, ResetConnection> {
    let path = req.uri().path().to_owned();
    let (behavior, n) = {
        let mut s = lock(&st);
        let n = {
            let c = s.counts.entry(path.clone()).or_insert(0);
            *c += 1;
            *c - 1
        };
        s.log.entry(path.clone()).or_default().push(Access {
            at: tokio::time::Instant::now(),
            wall: SystemTime::now(),
            query: req.uri().query().map(str::to_owned),
            headers: req.headers().clone(),
        });
        (s.targets.get(&path).cloned(), n)
    };
    let Some(b) = behavior else {
        let mut r = Response::new(Full::new(Bytes::from_static(b"404 page not found\n")));
        *r.status_mut() = StatusCode::NOT_FOUND;
        return Ok(r);
    };
    struct InFlight(Arc<Mutex<State>>);
    impl Drop for InFlight {
        fn drop(&mut self) {
            let mut s = lock(&self.0);
            s.in_flight = s.in_flight.saturating_sub(1);
        }
    }
    {
        let mut s = lock(&st);
        s.in_flight += 1;
        s.max_in_flight = s.max_in_flight.max(s.in_flight);
    }
    let guard = InFlight(st.clone());
    let answer = render(&b, n).await;
    drop(guard);
    match answer {
        Answer::Resp(r) => Ok(r),
        Answer::Reset => Err(ResetConnection),
    }
}
