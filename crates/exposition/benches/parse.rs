//! Parser throughput on every payload of `testdata/payloads/`, side by side with the
//! `prometheus-parse` crate, in MB/s (Throughput::Bytes) and samples/s (Throughput::Elements).
//!
//! Per payload, four measurements:
//! - `iterate`: every entry pulled, labels validated but not decoded (the scrape-cache hit path);
//! - `labels`: every sample's labels materialised into a reused `LabelsBuilder`
//!   (`Parser::write_labels`),
//!   the work Prometheus' `Metric()` does for an uncached series;
//! - `prometheus-parse`: `Scrape::parse` over owned lines, as that crate is used.
//!
//! Run: `cargo bench -p scrapeline-exposition --bench parse`.

use std::hint::black_box;

#[path = "../../../testdata/testdata.rs"]
mod testdata;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use scrapeline_exposition::LabelsBuilder;
use scrapeline_exposition::parser::{Entry, Format, Parser};

fn payloads() -> Vec<(String, Vec<u8>, Format)> {
    let mut out = Vec::new();
    for name in testdata::PAYLOADS {
        let format = if name.ends_with(".om") {
            Format::OpenMetrics
        } else {
            Format::Text
        };
        let path = testdata::payload(name);
        match std::fs::read(&path) {
            Ok(body) => out.push((name.to_owned(), body, format)),
            Err(e) => eprintln!("{}: {e}", path.display()),
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn count_samples(body: &[u8], format: Format) -> usize {
    Parser::new(body, format)
        .filter(|e| matches!(e, Ok(Entry::Series(_))))
        .count()
}

fn bench(c: &mut Criterion) {
    for (name, body, format) in payloads() {
        let samples = count_samples(&body, format) as u64;
        let mut g = c.benchmark_group(name.clone());
        g.throughput(Throughput::Bytes(body.len() as u64));
        g.bench_function("iterate", |b| {
            b.iter(|| {
                let mut p = Parser::new(black_box(&body), format);
                let mut acc = 0.0;
                while let Ok(Some(e)) = p.next_entry() {
                    if let Entry::Series(s) = e {
                        acc += s.value + s.raw.len() as f64;
                    }
                }
                acc
            })
        });
        g.bench_function("labels", |b| {
            let mut lb = LabelsBuilder::new();
            b.iter(|| {
                let mut p = Parser::new(black_box(&body), format);
                let mut n = 0usize;
                while let Ok(Some(e)) = p.next_entry() {
                    if let Entry::Series(s) = e {
                        p.write_labels(&s, &mut lb);
                        n += lb.len();
                    }
                }
                n
            })
        });
        let text = String::from_utf8_lossy(&body).into_owned();
        g.bench_function("prometheus-parse", |b| {
            b.iter(|| {
                let lines = black_box(&text).lines().map(|l| Ok(l.to_owned()));
                prometheus_parse::Scrape::parse(lines)
                    .map(|s| s.samples.len())
                    .unwrap_or(0)
            })
        });
        g.finish();
        let mut g = c.benchmark_group(format!("{name}/samples"));
        g.throughput(Throughput::Elements(samples));
        g.bench_function("iterate", |b| {
            b.iter(|| count_samples(black_box(&body), format))
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
