//! Failures that used to hurt quietly: a gzip bomb that ignored `scrape_timeout` and starved the
//! runtime, and failed scrapes that logged nothing.
//!
//! Both tests run on a current-thread runtime: the scrape loops, the farm and the test share
//! one thread, so a scrape that never yields stops everything else (the strictest form of the
//! starvation seen in production), and a thread-local `tracing` subscriber sees every event.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::Recorder;
use scrapeline_exposition::Labels;
use scrapeline_scrape::{GlobalConfig, Health, ManagerOptions, ScrapeConfig, ScrapeManager};
use scrapeline_sd::TargetGroup;
use scrapeline_testkit::farm::{Behavior, Farm};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

/// A gzip stream of `mib` MiB of zeros, about 1 KiB per MiB: one fully flushed deflate block
/// run for 1 MiB of zeros, repeated (a full flush makes each run independent of the bytes
/// before it), then an empty final block and the trailer.
fn gzip_bomb(mib: u32) -> Vec<u8> {
    const MIB: usize = 1 << 20;
    let zeros = vec![0u8; MIB];
    let mut c = flate2::Compress::new(flate2::Compression::best(), false);
    let mut run = Vec::with_capacity(MIB);
    c.compress_vec(&zeros, &mut run, flate2::FlushCompress::Full)
        .unwrap();
    assert_eq!(
        c.total_in(),
        MIB as u64,
        "one call compresses the whole MiB"
    );
    let mut one = flate2::Crc::new();
    one.update(&zeros);
    let mut crc = flate2::Crc::new();
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    for _ in 0..mib {
        out.extend_from_slice(&run);
        crc.combine(&one);
    }
    out.extend_from_slice(&[0x03, 0x00]);
    out.extend_from_slice(&crc.sum().to_le_bytes());
    out.extend_from_slice(&((mib as u64 * MIB as u64) as u32).to_le_bytes());
    out
}

#[test]
fn the_bomb_is_valid_gzip() {
    use std::io::Read;
    let b = gzip_bomb(3);
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(b.as_slice())
        .read_to_end(&mut out)
        .unwrap();
    assert_eq!(out.len(), 3 << 20);
    assert!(out.iter().all(|&x| x == 0));
}

/// Serves `body` gzip-encoded as text to every request on a loopback port; returns the port
/// and the arrival times of the requests.
async fn serve_gzip(body: Vec<u8>) -> (std::net::SocketAddr, Arc<Mutex<Vec<Instant>>>) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let hits = Arc::new(Mutex::new(Vec::new()));
    let h = hits.clone();
    let body = Arc::new(body);
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let body = body.clone();
            let h = h.clone();
            tokio::spawn(async move {
                let mut req = Vec::new();
                let mut b = [0u8; 1024];
                while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut b).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => req.extend_from_slice(&b[..n]),
                    }
                }
                h.lock().unwrap().push(Instant::now());
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = s.write_all(head.as_bytes()).await;
                let _ = s.write_all(&body).await;
                let _ = s.shutdown().await;
            });
        }
    });
    (addr, hits)
}

fn job(yaml: &str) -> ScrapeConfig {
    serde_saphyr::from_str(yaml).unwrap()
}

fn group(addr: &str) -> Vec<TargetGroup> {
    vec![TargetGroup {
        source: "t".into(),
        targets: vec![Labels::from_pairs([("__address__", addr)])],
        labels: Labels::empty(),
    }]
}

#[tokio::test]
async fn gzip_bomb_is_bounded_by_scrape_timeout_and_starves_nobody() {
    // 1 GiB of zeros in about 1 MiB: no `body_size_limit`, so only the deadline can stop it.
    let (bomb_addr, bomb_hits) = serve_gzip(gzip_bomb(1024)).await;
    let farm = Farm::start().await;
    farm.set("/metrics", Behavior::text("quick_metric 1\n"));
    let m = ScrapeManager::new(Arc::new(Recorder::default()), ManagerOptions::default());
    m.apply_config(
        vec![
            job("job_name: bomb\nscrape_interval: 3s\nscrape_timeout: 1s\n"),
            job("job_name: quick\nscrape_interval: 200ms\nscrape_timeout: 200ms\n"),
        ],
        &GlobalConfig::default(),
    )
    .unwrap();
    m.sync("bomb", group(&bomb_addr.to_string()));
    m.sync("quick", group(&farm.addr().to_string()));
    let limit = Instant::now() + Duration::from_secs(10);
    let bomb = loop {
        let snap = m.targets();
        if let Some(t) = snap
            .active
            .iter()
            .find(|t| t.scrape_pool == "bomb" && t.health != Health::Unknown)
        {
            break t.clone();
        }
        assert!(Instant::now() < limit, "the bomb target was never scraped");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(bomb.health, Health::Down);
    assert_eq!(
        bomb.last_error,
        format!("Get \"http://{bomb_addr}/metrics\": context deadline exceeded")
    );
    assert!(
        bomb.last_scrape_duration >= Duration::from_secs(1)
            && bomb.last_scrape_duration < Duration::from_millis(1500),
        "the bomb scrape took {:?} against a 1s timeout",
        bomb.last_scrape_duration
    );
    eprintln!(
        "bomb scrape: {:?}, {:?}",
        bomb.last_scrape_duration, bomb.last_error
    );
    // While the bomb was inflating, the 200ms target went on being scraped.
    let started = bomb_hits.lock().unwrap()[0];
    let during = farm
        .access_log("/metrics")
        .iter()
        .filter(|a| a.at > started && a.at < started + Duration::from_secs(1))
        .count();
    eprintln!("200ms target scrapes during the bomb's scrape: {during}");
    assert!(
        during >= 3,
        "the 200ms target was scraped {during} times during the bomb's 1s scrape"
    );
    m.shutdown().await;
}

/// A `tracing` writer that keeps every formatted event in memory.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn lines(&self) -> Vec<String> {
        String::from_utf8(self.0.lock().unwrap().clone())
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

#[tokio::test]
async fn failed_scrapes_are_logged_at_debug() {
    let cap = Captured::default();
    let w = cap.clone();
    let sub = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .without_time()
        .with_writer(move || w.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(sub);
    let farm = Farm::start().await;
    farm.set("/fail", Behavior::Status(500));
    farm.set("/bad", Behavior::malformed());
    farm.set("/ok", Behavior::text("ok_metric 1\n"));
    let m = ScrapeManager::new(Arc::new(Recorder::default()), ManagerOptions::default());
    let jobs = ["fail", "bad", "ok"]
        .iter()
        .map(|j| {
            job(&format!(
                "job_name: {j}\nmetrics_path: /{j}\nscrape_interval: 1s\nscrape_timeout: 500ms\n"
            ))
        })
        .collect();
    m.apply_config(jobs, &GlobalConfig::default()).unwrap();
    let addr = farm.addr().to_string();
    for j in ["fail", "bad", "ok"] {
        m.sync(j, group(&addr));
    }
    let limit = Instant::now() + Duration::from_secs(5);
    while m
        .targets()
        .active
        .iter()
        .any(|t| t.health == Health::Unknown)
    {
        assert!(Instant::now() < limit, "targets not scraped");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let snap = m.targets();
    let bad_error = snap
        .active
        .iter()
        .find(|t| t.scrape_pool == "bad")
        .map(|t| t.last_error.clone())
        .unwrap();
    assert!(bad_error.starts_with("line 2, column "), "{bad_error}");
    m.shutdown().await;
    let mut failed: Vec<String> = cap
        .lines()
        .into_iter()
        .filter(|l| l.contains(" failed "))
        .collect();
    failed.sort();
    failed.dedup();
    assert_eq!(
        failed,
        vec![
            format!(
                "DEBUG scrapeline_scrape::scrape_loop: Append failed scrape_pool=bad target=http://{addr}/bad err={bad_error:?}"
            ),
            format!(
                "DEBUG scrapeline_scrape::scrape_loop: Scrape failed scrape_pool=fail target=http://{addr}/fail err=\"server returned HTTP status 500 Internal Server Error\""
            ),
        ]
    );
}
