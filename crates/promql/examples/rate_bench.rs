//! Latency and memory of `sum by (job) (rate(x[5m]))` as a 1 h range query at 15 s steps.
//!
//! `cargo run --release -p scrapeline-promql --example rate_bench -- [series]` (default
//! 500 000): builds an in-memory store of `series` counters (10 jobs) with a sample every
//! 15 s for 65 minutes, runs the query and prints the time taken and the peak resident set
//! before and after (Linux `VmHWM`), so the difference is what the query added.

use std::time::Instant;

use scrapeline_exposition::Labels;
use scrapeline_promql::{
    Engine, EngineOptions, Error, Matcher, Queryable, SeriesSink, Value, parse,
};

/// Series with their samples; every series matches `x` (the query's only selector).
struct Store {
    series: Vec<(Labels, Vec<(i64, f64)>)>,
}

impl Queryable for Store {
    fn select(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
        each: &mut SeriesSink<'_>,
    ) -> Result<(), Error> {
        for (labels, samples) in &self.series {
            if !matchers
                .iter()
                .all(|m| m.is_match(labels.get(&m.name).unwrap_or("")))
            {
                continue;
            }
            let lo = samples.partition_point(|s| s.0 < mint);
            let hi = samples.partition_point(|s| s.0 <= maxt);
            if let Some(s) = samples.get(lo..hi).filter(|s| !s.is_empty()) {
                each(labels, s)?;
            }
        }
        Ok(())
    }
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(500_000);
    let step = 15_000i64;
    let samples = (65 * 60 * 1000 / step) as usize + 1;
    let mut series = Vec::with_capacity(n);
    for i in 0..n {
        let job = format!("job-{}", i % 10);
        let inst = format!("host-{i}:9100");
        let labels = Labels::from_pairs([("__name__", "x"), ("job", &job), ("instance", &inst)]);
        let mut s = Vec::with_capacity(samples);
        for k in 0..samples {
            s.push((k as i64 * step, (k * (1 + i % 7)) as f64));
        }
        series.push((labels, s));
    }
    let store = Store { series };
    let before = peak_rss_kib();
    let start = 5 * 60 * 1000;
    let end = start + 3600 * 1000;
    let q = parse("sum by (job) (rate(x[5m]))").expect("parses");
    let engine = Engine::new(
        &store,
        EngineOptions {
            timeout: None,
            ..EngineOptions::default()
        },
    );
    let t0 = Instant::now();
    let v = engine.range(&q, start, end, step).expect("evaluates");
    let took = t0.elapsed();
    let after = peak_rss_kib();
    let points: usize = match &v {
        Value::Matrix(m) => m.iter().map(|s| s.points.len()).sum(),
        _ => 0,
    };
    let first = match &v {
        Value::Matrix(m) => m
            .first()
            .map(|s| (s.labels.to_string(), s.points.first().copied())),
        _ => None,
    };
    println!(
        "series={n} samples/series={samples} result_points={points} first={first:?} query={:.3}s peak_rss_before={}MiB peak_rss_after={}MiB added={}MiB",
        took.as_secs_f64(),
        before / 1024,
        after / 1024,
        after.saturating_sub(before) / 1024
    );
}
