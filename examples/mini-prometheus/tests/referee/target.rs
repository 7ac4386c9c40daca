//! The referee's target: a loopback HTTP server whose exposition text carries explicit
//! timestamps on a fixed grid, served in lockstep to both scrapers, so that Prometheus and
//! mini-prometheus store exactly the same samples whatever their scrape timing.
//!
//! Each scraper has its own path (`/metrics/prom`, `/metrics/mini`). The server shows grid
//! point `n` (sample time `base + n * 15 s + 0.5 s`) until each scraper fetched it
//! [`SCRAPES_PER_POINT`] times, then moves to `n + 1`; after the last point it keeps showing
//! that one (repeats of a timestamp with the same value are no-ops in both stores). Samples
//! with explicit timestamps get no staleness markers in either scraper (Prometheus'
//! `scrapeLoop.append` tracks staleness only for samples without a timestamp), so a series
//! that leaves the exposition simply has no more samples.
//!
//! Grid times end in `.500` s; every query is evaluated at whole seconds that are not
//! multiples of a minute, so no range or lookback boundary, and no subquery step, ever falls
//! on a sample: Prometheus 3's left-open windows and 2.42's closed ones select the same data.

use std::convert::Infallible;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// The grid step of sample timestamps.
pub const GRID_MS: i64 = 15_000;
/// Grid points served (96: 24 minutes of data).
pub const POINTS: usize = 96;
/// Scrapes of each grid point by each scraper before the next one is shown.
pub const SCRAPES_PER_POINT: u32 = 2;

/// The data: a pure function of the grid index.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    /// Time of grid point 0 minus 0.5 s (a whole minute), in ms.
    pub base_ms: i64,
}

fn num(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_owned()
    } else if v == f64::INFINITY {
        "+Inf".to_owned()
    } else if v == f64::NEG_INFINITY {
        "-Inf".to_owned()
    } else {
        format!("{v}")
    }
}

/// A counter that grows by `per_s` a second plus a step every 4 grid points.
fn counter(n: usize, start: f64, per_s: f64, step: f64) -> f64 {
    start + n as f64 * 15.0 * per_s + (n / 4) as f64 * step
}

impl Schedule {
    /// The timestamp of grid point `n`, in ms.
    pub fn sample_time(&self, n: usize) -> i64 {
        self.base_ms + n as i64 * GRID_MS + 500
    }

    /// The exposition text of grid point `n`.
    pub fn body(&self, n: usize) -> String {
        let ts = self.sample_time(n);
        let mut out = String::with_capacity(8192);
        let fam = |out: &mut String, name: &str, kind: &str, help: &str| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        };
        let s = |out: &mut String, series: &str, v: f64| {
            let _ = writeln!(out, "{series} {} {ts}", num(v));
        };
        let nf = n as f64;

        fam(
            &mut out,
            "node_cpu_seconds_total",
            "counter",
            "Seconds the CPUs spent in each mode.",
        );
        for cpu in 0..2 {
            let c = cpu as f64;
            for (mode, per_s) in [
                ("idle", 0.82 - 0.04 * c),
                ("user", 0.11 + 0.03 * c),
                ("system", 0.05),
                ("iowait", 0.013),
            ] {
                s(
                    &mut out,
                    &format!("node_cpu_seconds_total{{cpu=\"{cpu}\",mode=\"{mode}\"}}"),
                    counter(n, 1000.0 * (c + 1.0), per_s, 0.37 * (c + 1.0)),
                );
            }
        }
        fam(
            &mut out,
            "node_memory_MemTotal_bytes",
            "gauge",
            "Memory information field MemTotal_bytes.",
        );
        s(&mut out, "node_memory_MemTotal_bytes", 17179869184.0);
        fam(
            &mut out,
            "node_memory_MemAvailable_bytes",
            "gauge",
            "Memory information field MemAvailable_bytes.",
        );
        s(
            &mut out,
            "node_memory_MemAvailable_bytes",
            6e9 + ((n * 37) % 23) as f64 * 1.5e7,
        );
        fam(
            &mut out,
            "node_filesystem_avail_bytes",
            "gauge",
            "Filesystem space available to non-root users in bytes.",
        );
        s(
            &mut out,
            "node_filesystem_avail_bytes{device=\"/dev/sda1\",fstype=\"ext4\",mountpoint=\"/\"}",
            5e10 - nf * 1.25e7,
        );
        s(
            &mut out,
            "node_filesystem_avail_bytes{device=\"/dev/sdb1\",fstype=\"xfs\",mountpoint=\"/data\"}",
            2e11 - nf * nf * 1e5,
        );
        fam(
            &mut out,
            "node_filesystem_size_bytes",
            "gauge",
            "Filesystem size in bytes.",
        );
        s(
            &mut out,
            "node_filesystem_size_bytes{device=\"/dev/sda1\",fstype=\"ext4\",mountpoint=\"/\"}",
            1e11,
        );
        s(
            &mut out,
            "node_filesystem_size_bytes{device=\"/dev/sdb1\",fstype=\"xfs\",mountpoint=\"/data\"}",
            4e11,
        );
        fam(
            &mut out,
            "node_network_receive_bytes_total",
            "counter",
            "Network device statistic receive_bytes.",
        );
        let eth0 = if n < 50 {
            1e6 + nf * 15.0 * 125000.0 + (n % 3) as f64 * 1000.0
        } else {
            (n - 50) as f64 * 15.0 * 90000.0 + 500.0
        };
        s(
            &mut out,
            "node_network_receive_bytes_total{device=\"eth0\"}",
            eth0,
        );
        s(
            &mut out,
            "node_network_receive_bytes_total{device=\"lo\"}",
            nf * 15.0 * 1024.0,
        );
        fam(
            &mut out,
            "node_network_transmit_bytes_total",
            "counter",
            "Network device statistic transmit_bytes.",
        );
        s(
            &mut out,
            "node_network_transmit_bytes_total{device=\"eth0\"}",
            nf * 15.0 * 33000.5,
        );
        s(
            &mut out,
            "node_network_transmit_bytes_total{device=\"lo\"}",
            nf * 15.0 * 1024.0,
        );
        fam(&mut out, "node_load1", "gauge", "1m load average.");
        s(&mut out, "node_load1", ((n * 7) % 19) as f64 / 8.0 + 0.05);
        fam(&mut out, "node_load5", "gauge", "5m load average.");
        s(&mut out, "node_load5", ((n * 3) % 11) as f64 / 10.0 + 0.5);

        fam(
            &mut out,
            "http_requests_total",
            "counter",
            "Requests served.",
        );
        s(
            &mut out,
            "http_requests_total{code=\"200\",handler=\"/api\",method=\"GET\"}",
            // Far above one interval's growth: the zero point lies ~110 s before the first
            // sample, where Prometheus 3 and 2.42 extrapolate alike (see EXCEPTIONS).
            counter(n, 500.0, 4.2, 3.0),
        );
        let errors = if n < 60 {
            nf * 0.7
        } else {
            (n - 60) as f64 * 0.3
        };
        s(
            &mut out,
            "http_requests_total{code=\"500\",handler=\"/api\",method=\"GET\"}",
            errors,
        );
        s(
            &mut out,
            "http_requests_total{code=\"200\",handler=\"/health\",method=\"GET\"}",
            nf * 15.0,
        );
        if n >= 30 {
            s(
                &mut out,
                "http_requests_total{code=\"404\",handler=\"/api\",method=\"POST\"}",
                (n - 30) as f64 * 2.5,
            );
        }
        fam(
            &mut out,
            "http_request_duration_seconds",
            "histogram",
            "Request latency.",
        );
        let les = ["0.05", "0.1", "0.25", "0.5", "1.0", "2.5", "+Inf"];
        for (handler, weights, mean) in [
            ("/api", [3.0, 8.0, 17.0, 21.0, 23.0, 24.0, 24.0], 7.25),
            ("/health", [40.0, 44.0, 45.0, 45.0, 45.0, 45.0, 45.0], 1.125),
        ] {
            for (i, le) in les.iter().enumerate() {
                let extra = (n / 5) as f64 * i.min(5) as f64;
                s(
                    &mut out,
                    &format!(
                        "http_request_duration_seconds_bucket{{handler=\"{handler}\",le=\"{le}\"}}"
                    ),
                    nf * weights[i] + extra,
                );
            }
            s(
                &mut out,
                &format!("http_request_duration_seconds_sum{{handler=\"{handler}\"}}"),
                nf * mean + (n / 5) as f64 * 1.5,
            );
            s(
                &mut out,
                &format!("http_request_duration_seconds_count{{handler=\"{handler}\"}}"),
                nf * weights[6] + (n / 5) as f64 * 5.0,
            );
        }

        // Pods: web-2 is gone for points 40..60, batch-1 starts at point 30.
        let mut pods = vec![("prod", "web-1", "n1", 0.25, 2.68e8)];
        if !(40..60).contains(&n) {
            pods.push(("prod", "web-2", "n2", 0.5, 5.36e8));
        }
        if n >= 30 {
            pods.push(("batch", "batch-1", "n1", 1.0, 1.073741824e9));
        }
        fam(&mut out, "kube_pod_info", "gauge", "Information about pod.");
        for (ns, pod, node, _, _) in &pods {
            s(
                &mut out,
                &format!("kube_pod_info{{namespace=\"{ns}\",node=\"{node}\",pod=\"{pod}\"}}"),
                1.0,
            );
        }
        fam(
            &mut out,
            "kube_pod_container_resource_requests",
            "gauge",
            "The number of requested request resource by a container.",
        );
        for (ns, pod, _, cpu, mem) in &pods {
            s(
                &mut out,
                &format!(
                    "kube_pod_container_resource_requests{{container=\"app\",namespace=\"{ns}\",pod=\"{pod}\",resource=\"cpu\",unit=\"core\"}}"
                ),
                *cpu,
            );
            s(
                &mut out,
                &format!(
                    "kube_pod_container_resource_requests{{container=\"app\",namespace=\"{ns}\",pod=\"{pod}\",resource=\"memory\",unit=\"byte\"}}"
                ),
                *mem,
            );
        }
        fam(
            &mut out,
            "container_cpu_usage_seconds_total",
            "counter",
            "Cumulative cpu time consumed in seconds.",
        );
        for (k, (ns, pod, _, cpu, _)) in pods.iter().enumerate() {
            s(
                &mut out,
                &format!(
                    "container_cpu_usage_seconds_total{{container=\"app\",namespace=\"{ns}\",pod=\"{pod}\"}}"
                ),
                counter(n, 10.0 * k as f64, cpu * 0.6, 0.11),
            );
        }
        fam(
            &mut out,
            "container_memory_working_set_bytes",
            "gauge",
            "Current working set in bytes.",
        );
        for (ns, pod, _, _, mem) in &pods {
            s(
                &mut out,
                &format!(
                    "container_memory_working_set_bytes{{container=\"app\",namespace=\"{ns}\",pod=\"{pod}\"}}"
                ),
                mem * 0.5 + (n % 9) as f64 * 1e6,
            );
        }

        fam(
            &mut out,
            "probe_success",
            "gauge",
            "Whether the probe succeeded.",
        );
        s(&mut out, "probe_success{target=\"a\"}", 1.0);
        s(
            &mut out,
            "probe_success{target=\"b\"}",
            if n % 10 < 3 { 0.0 } else { 1.0 },
        );
        s(
            &mut out,
            "probe_success{target=\"c\"}",
            ((n / 16) % 2) as f64,
        );

        fam(&mut out, "rf_special", "gauge", "Special float values.");
        s(
            &mut out,
            "rf_special{kind=\"nan\"}",
            if n.is_multiple_of(5) {
                f64::NAN
            } else {
                nf * 0.5
            },
        );
        let inf = if n.is_multiple_of(7) {
            f64::INFINITY
        } else if n.is_multiple_of(11) {
            f64::NEG_INFINITY
        } else {
            -nf * 0.25
        };
        s(&mut out, "rf_special{kind=\"inf\"}", inf);
        s(&mut out, "rf_special{kind=\"tiny\"}", 1e-300 * nf);
        s(&mut out, "rf_special{kind=\"huge\"}", 1.7e308 / (nf + 1.0));
        fam(
            &mut out,
            "rf_temperature_celsius",
            "gauge",
            "Sensor temperature.",
        );
        s(
            &mut out,
            "rf_temperature_celsius{sensor=\"cpu\"}",
            (n % 13) as f64 - 6.25,
        );
        s(
            &mut out,
            "rf_temperature_celsius{sensor=\"gpu\"}",
            40.0 + ((n * 5) % 17) as f64 * 0.1,
        );
        out
    }
}

/// Which grid point is shown and how often each scraper fetched it.
#[derive(Debug, Default)]
struct Lockstep {
    point: usize,
    fetched: [u32; 2],
    total: [u64; 2],
}

/// The running server.
pub struct Target {
    /// Its port on 127.0.0.1.
    pub port: u16,
    state: Arc<Mutex<Lockstep>>,
}

impl Target {
    /// Starts serving `schedule` on a free loopback port (until the runtime ends).
    pub async fn start(schedule: Schedule) -> Target {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("bind: {e}"));
        let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
        let state = Arc::new(Mutex::new(Lockstep::default()));
        let st = state.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let st = st.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req: Request<hyper::body::Incoming>| {
                        let resp = serve(&st, schedule, req.uri().path());
                        async move { Ok::<_, Infallible>(resp) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        Target { port, state }
    }

    /// `(point shown, fetches of it per scraper, all fetches per scraper)`.
    pub fn progress(&self) -> (usize, [u32; 2], [u64; 2]) {
        let s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        (s.point, s.fetched, s.total)
    }

    /// Whether both scrapers fetched the last point often enough.
    pub fn done(&self) -> bool {
        let (point, fetched, _) = self.progress();
        point == POINTS - 1 && fetched.iter().all(|&f| f >= SCRAPES_PER_POINT)
    }
}

fn serve(state: &Mutex<Lockstep>, schedule: Schedule, path: &str) -> Response<Full<Bytes>> {
    let who = match path {
        "/metrics/prom" => 0,
        "/metrics/mini" => 1,
        _ => {
            return Response::builder()
                .status(404)
                .body(Full::new(Bytes::from_static(b"not found\n")))
                .unwrap_or_default();
        }
    };
    let body = {
        let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
        if s.point + 1 < POINTS && s.fetched.iter().all(|&f| f >= SCRAPES_PER_POINT) {
            s.point += 1;
            s.fetched = [0, 0];
        }
        s.fetched[who] += 1;
        s.total[who] += 1;
        schedule.body(s.point)
    };
    Response::builder()
        .header("content-type", "text/plain; version=0.0.4; charset=utf-8")
        .body(Full::new(Bytes::from(body)))
        .unwrap_or_default()
}
