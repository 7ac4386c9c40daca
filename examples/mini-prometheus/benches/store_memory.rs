//! Heap cost of the in-memory store per series, shaped like the end-to-end benchmark's S1
//! scenario (500 targets x 1,000 series scraped every 5 s; 18 scrapes = a 90 s run).
//!
//! Builds the series' labels first (what the scrape cache holds; the store shares them), then
//! appends 18 samples to every series through the public `Appender` API the way scrape loops
//! do (one appender per target and scrape, then commit), and prints the live heap bytes and
//! allocations the store added (a counting global allocator), its `StoreStats`, and the time
//! appending took.
//!
//! `cargo bench -p mini-prometheus --bench store_memory` (env `SERIES_PER_TARGET`, `TARGETS`,
//! `SCRAPES` override the shape).

use std::alloc::System;
use std::time::Instant;

/// The parts of the binary the store module refers to, stubbed for the bench.
#[allow(dead_code)]
mod api {
    /// Something that writes its own metrics (the store implements it).
    pub trait MetricsSource {
        /// Appends metrics in the text format.
        fn write_metrics(&self, out: &mut String);
    }
}

#[allow(dead_code, unused_imports)]
#[path = "../src/store/mod.rs"]
mod store;

use scrapeline_exposition::Labels;
use scrapeline_scrape::Appendable;
use stats_alloc::{INSTRUMENTED_SYSTEM, StatsAlloc};
use store::{Matcher, Store, StoreConfig};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Live heap bytes and allocations (including reallocations) so far.
fn counters() -> (i64, u64) {
    let s = GLOBAL.stats();
    // (`bytes_allocated` and `bytes_deallocated` already include reallocations' growth and
    // shrinkage.)
    let live = s.bytes_allocated as i64 - s.bytes_deallocated as i64;
    (live, (s.allocations + s.reallocations) as u64)
}

/// splitmix64: deterministic pseudo-random numbers.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

const WORDS: [&str; 16] = [
    "payments",
    "checkout",
    "frontend",
    "backend",
    "inventory",
    "search",
    "orders",
    "billing",
    "gateway",
    "catalog",
    "shipping",
    "identity",
    "ledger",
    "kafka",
    "postgres",
    "scheduler",
];

const FAMILIES: [(&str, [&str; 3]); 8] = [
    ("http_requests_total", ["handler", "method", "code"]),
    (
        "rpc_client_calls_total",
        ["service", "rpc_method", "status"],
    ),
    (
        "container_cpu_usage_seconds_total",
        ["namespace", "pod", "container"],
    ),
    ("cache_operations_total", ["cache", "operation", "result"]),
    ("queue_depth", ["queue", "shard", "owner"]),
    (
        "kube_pod_container_resource_requests",
        ["namespace", "pod", "resource"],
    ),
    ("db_connections_in_use", ["database", "pool", "node_name"]),
    (
        "node_filesystem_avail_bytes",
        ["device", "mountpoint", "fstype"],
    ),
];

/// A label value of 10 to 40 characters, like the farm's pod names, paths and hostnames.
fn value(seed: u64) -> String {
    let len = 10 + (mix(seed) % 31) as usize;
    let mut s = String::with_capacity(len + 16);
    let mut k = 1;
    while s.len() < len {
        if !s.is_empty() {
            s.push('-');
        }
        s.push_str(WORDS[(mix(seed ^ k) % 16) as usize]);
        k += 1;
    }
    s.truncate(len);
    s
}

/// Labels of series `i` of target `t` (the same payload on every target, as the farm serves).
fn labels(t: usize, i: usize) -> Labels {
    let (name, names) = FAMILIES[i % FAMILIES.len()];
    let instance = format!("127.0.0.1:{}", 10_000 + t);
    let values: Vec<String> = (0..3).map(|k| value((i as u64) << 2 | k as u64)).collect();
    Labels::from_pairs([
        ("__name__", name),
        (names[0], &values[0]),
        (names[1], &values[1]),
        (names[2], &values[2]),
        ("instance", &instance),
        ("job", "farm"),
    ])
}

/// What kind of value series `i` carries, in the farm payload's proportions
/// (`gen_payload.py`): histogram buckets, sums and counts; float counters (seconds, bytes);
/// integer counters; gauges.
enum Kind {
    Histogram,
    FloatCounter,
    IntCounter,
    Gauge,
}

fn kind(i: u64) -> Kind {
    match i % 100 {
        0..22 => Kind::Histogram,
        22..34 => Kind::FloatCounter,
        34..69 => Kind::IntCounter,
        _ => Kind::Gauge,
    }
}

/// A uniform float in `[lo, hi)` from random bits.
fn uniform(r: u64, lo: f64, hi: f64) -> f64 {
    lo + (r >> 11) as f64 / (1u64 << 53) as f64 * (hi - lo)
}

fn round_to(v: f64, decimals: u64) -> f64 {
    let p = 10f64.powi(decimals as i32);
    (v * p).round() / p
}

fn initial(i: u64) -> f64 {
    let r = mix(i ^ 0xabc);
    match kind(i) {
        Kind::Histogram => (r % 200_000) as f64,
        Kind::FloatCounter => uniform(r, 1e3, 5e8),
        Kind::IntCounter => (r % 10_000_000) as f64,
        Kind::Gauge => round_to(uniform(r, 0.0, 1e4), [0, 0, 1, 3][(r >> 60) as usize % 4]),
    }
}

/// The next scrape's value, as the farm's payload steps it.
fn step(i: u64, v: f64, r: u64) -> f64 {
    let p = (r >> 56) as f64 / 256.0;
    match kind(i) {
        Kind::Histogram => v + (r % 2000) as f64,
        Kind::FloatCounter if p < 0.7 => v + uniform(r, 0.01, 5000.0),
        Kind::IntCounter if p < 0.7 => v + (1 + r % 500) as f64,
        Kind::Gauge if p < 0.5 => {
            (round_to(v + uniform(r, -50.0, 50.0), [0, 1, 3][(r % 3) as usize])).max(0.0)
        }
        _ => v,
    }
}

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    // `cargo bench` passes `--bench`; nothing to filter.
    let targets = env("TARGETS", 500);
    let per_target = env("SERIES_PER_TARGET", 1000);
    let scrapes = env("SCRAPES", 18);
    let series = (targets * per_target) as f64;

    let (l0, a0) = counters();
    let cache: Vec<Vec<Labels>> = (0..targets)
        .map(|t| (0..per_target).map(|i| labels(t, i)).collect())
        .collect();
    let mut refs: Vec<Vec<u64>> = vec![vec![0; per_target]; targets];
    let mut values: Vec<f64> = (0..per_target).map(|i| initial(i as u64)).collect();
    let (l1, a1) = counters();
    println!(
        "labels (scrape cache, shared with the store): {:.1} bytes/series, {} allocations",
        (l1 - l0) as f64 / series,
        a1 - a0
    );

    let store = Store::new(StoreConfig::default());
    let (l1, a1) = counters();
    let start = Instant::now();
    let t0: i64 = 1_700_000_000_000;
    for k in 0..scrapes {
        for (i, v) in values.iter_mut().enumerate() {
            *v = step(i as u64, *v, mix((k * per_target + i) as u64));
        }
        for (t, (cache, refs)) in cache.iter().zip(refs.iter_mut()).enumerate() {
            // Targets spread over the interval; a few ms of jitter per scrape.
            let ts = t0
                + (t as i64 * 5_000 / targets as i64)
                + k as i64 * 5_000
                + (mix((k * targets + t) as u64) % 4) as i64;
            let mut app = store.appender();
            for ((l, r), v) in cache.iter().zip(refs.iter_mut()).zip(&values) {
                match app.append(*r, l, ts, *v) {
                    Ok(n) => *r = n,
                    Err(e) => panic!("append refused: {e}"),
                }
            }
            if let Err(e) = app.commit() {
                panic!("commit refused: {e}");
            }
        }
    }
    let took = start.elapsed();
    let (l2, a2) = counters();
    let st = store.stats();
    println!(
        "store: {} series x {} scrapes appended in {:.2?} ({:.0} ns/sample)",
        targets * per_target,
        scrapes,
        took,
        took.as_nanos() as f64 / (series * scrapes as f64)
    );
    println!(
        "store heap: {:.1} bytes/series ({:.1} MiB), {} allocations ({:.2}/series)",
        (l2 - l1) as f64 / series,
        (l2 - l1) as f64 / (1024.0 * 1024.0),
        a2 - a1,
        (a2 - a1) as f64 / series
    );
    println!("{st:?}");
    println!(
        "stats: {:.1} series_bytes/series, {:.2} sample_bytes/sample",
        st.series_bytes as f64 / st.series.max(1) as f64,
        st.sample_bytes as f64 / st.samples.max(1) as f64
    );
    // Sanity: every series has every sample.
    let got = store.select(
        &[
            Matcher::equal("__name__", FAMILIES[0].0),
            Matcher::equal("instance", "127.0.0.1:10000"),
        ],
        i64::MIN,
        i64::MAX,
    );
    let per_family = per_target.div_ceil(FAMILIES.len());
    assert_eq!(got.len(), per_family);
    assert!(got.iter().all(|s| s.samples.len() == scrapes));
    drop(store);
    drop(cache);
}
