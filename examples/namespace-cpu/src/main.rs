//! Per-namespace CPU usage rates from the bundled cgroup collector, with pods' namespaces from
//! pod discovery, kept by a custom sink.
//!
//! The process serves its own collector on `LISTEN` (`/metrics/cadvisor`, as the kubelet
//! does), the pipeline scrapes it with the config's jobs, and [`NamespaceCpu`] keeps, per
//! namespace, the sum of its pods' `container_cpu_usage_seconds_total` and its rate between
//! two scrapes. Usage: `namespace-cpu CONFIG ROOTFS LISTEN [SECONDS]`; one line per namespace
//! and scrape on stdout.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use scrapeline::cgroup::{Collector, CollectorConfig};
use scrapeline::exposition::Labels;
use scrapeline::scrape::{AppendError, Appendable, Appender, SeriesRef};
use scrapeline::{Config, Pipeline};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;

/// Per namespace: the last total CPU seconds and when it was scraped (ms).
type Totals = BTreeMap<String, (f64, i64)>;

/// The sink: per-namespace totals across scrapes.
#[derive(Clone, Default)]
struct NamespaceCpu(Arc<Mutex<Totals>>);

/// One scrape: its pods' CPU seconds summed per namespace.
struct Scrape {
    totals: Arc<Mutex<Totals>>,
    batch: Totals,
}

impl Appendable for NamespaceCpu {
    fn appender(&self) -> Box<dyn Appender> {
        Box::new(Scrape {
            totals: self.0.clone(),
            batch: Totals::new(),
        })
    }
}

impl Appender for Scrape {
    fn append(
        &mut self,
        r: SeriesRef,
        l: &Labels,
        t: i64,
        v: f64,
    ) -> Result<SeriesRef, AppendError> {
        // Pod-level cgroups only: a pod, no container and no name (the pause sandbox has its
        // id as name; scraping drops empty labels). They already include their containers.
        let pod_level =
            l.get("pod").is_some() && l.get("container").is_none() && l.get("name").is_none();
        if l.get("__name__") == Some("container_cpu_usage_seconds_total")
            && pod_level
            && let Some(ns) = l.get("namespace").filter(|n| !n.is_empty())
        {
            let e = self.batch.entry(ns.to_owned()).or_insert((0.0, t));
            e.0 += v;
            e.1 = e.1.max(t);
        }
        Ok(if r == 0 { l.stable_hash() | 1 } else { r })
    }

    fn commit(&mut self) -> Result<(), AppendError> {
        let mut totals = self.totals.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = std::io::stdout().lock();
        for (ns, (total, t)) in std::mem::take(&mut self.batch) {
            // A rate needs an earlier total that is lower (no counter reset) and older.
            let rate = match totals.get(&ns) {
                Some(&(prev, pt)) if t > pt && total >= prev => {
                    (total - prev) * 1000.0 / (t - pt) as f64
                }
                _ => 0.0,
            };
            let _ = writeln!(
                out,
                "namespace={ns} cpu_seconds_total={total} cpu_rate={rate:.6}"
            );
            totals.insert(ns, (total, t));
        }
        Ok(())
    }

    fn rollback(&mut self) {
        self.batch.clear();
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Serves `collector` on every request to `listener`: a minimal HTTP/1.1 responder.
async fn serve(listener: TcpListener, collector: Arc<Collector>) {
    while let Ok((mut conn, _)) = listener.accept().await {
        let collector = collector.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            let mut n = 0;
            while !buf[..n].windows(4).any(|w| w == b"\r\n\r\n") && n < buf.len() {
                match conn.read(&mut buf[n..]).await {
                    Ok(0) | Err(_) => return,
                    Ok(m) => n += m,
                }
            }
            let mut body = String::new();
            collector.collect(now_ms()).encode_text(&mut body);
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = conn.write_all(head.as_bytes()).await;
            let _ = conn.write_all(body.as_bytes()).await;
        });
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, config, rootfs, listen, rest @ ..] = args.as_slice() else {
        return Err("usage: namespace-cpu CONFIG ROOTFS LISTEN [SECONDS]".into());
    };
    let config = Config::load_file(config.as_ref())?;
    let pipeline = Pipeline::builder(config)
        .sink(Arc::new(NamespaceCpu::default()))
        .start()?;
    // Pods' names and namespaces come from the pipeline's pod discovery.
    let collector = Collector::new(CollectorConfig::with_rootfs(rootfs))?
        .with_pod_lookup(pipeline.pod_lookup());
    let listener = TcpListener::bind(listen).await?;
    tokio::spawn(serve(listener, Arc::new(collector)));
    match rest.first() {
        Some(s) => tokio::time::sleep(Duration::from_secs(s.parse()?)).await,
        None => tokio::signal::ctrl_c().await?,
    }
    pipeline.shutdown().await;
    Ok(())
}
