//! The per-scrape pipeline (parse + scrape cache + metric relabeling + append) on a realistic
//! 1,000-series text payload, warm cache (the steady state) and cold (first scrape), next to
//! parsing alone and the `prometheus-parse` crate as the Rust baseline.
#![allow(missing_docs)]

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use scrapeline_exposition::{Format, Labels, Parser};
use scrapeline_scrape::pipeline::{PipelineConfig, ScrapeCache, Scratch};
use scrapeline_scrape::{AppendError, Appender, SeriesRef};
use scrapeline_sd::relabel::{RelabelConfig, compile};

/// A store that accepts everything and hands out refs (the cost of the sink is not measured).
struct Null(u64);
impl Appender for Null {
    fn append(
        &mut self,
        r: SeriesRef,
        _: &Labels,
        _: i64,
        v: f64,
    ) -> Result<SeriesRef, AppendError> {
        black_box(v);
        if r != 0 {
            return Ok(r);
        }
        self.0 += 1;
        Ok(self.0)
    }
    fn commit(&mut self) -> Result<(), AppendError> {
        Ok(())
    }
    fn rollback(&mut self) {}
}

fn payload(round: u64) -> String {
    scrapeline_testkit::farm::realistic_payload(1000, round)
}

fn config() -> PipelineConfig {
    let rules: Vec<RelabelConfig> = serde_saphyr::from_str(
        "- source_labels: [__name__]\n  regex: 'container_tasks_state|container_memory_failures_total'\n  action: drop\n- regex: 'id|name'\n  action: labeldrop\n",
    )
    .unwrap();
    PipelineConfig {
        honor_timestamps: true,
        metric_relabel: Arc::new(compile(&rules).unwrap()),
        sample_limit: 50_000,
        label_limit: 64,
        label_name_length_limit: 128,
        label_value_length_limit: 2048,
        ..PipelineConfig::default()
    }
}

fn bench(c: &mut Criterion) {
    let target = Labels::from_pairs([("instance", "10.0.0.1:9100"), ("job", "node")]);
    let cfg = config();
    let bodies: Vec<String> = (0..4).map(payload).collect();
    let mut g = c.benchmark_group("scrape_pipeline_1000_series");
    g.throughput(Throughput::Elements(1000));

    g.bench_function("warm_cache", |b| {
        let mut cache = ScrapeCache::new();
        let mut scratch = Scratch::default();
        let mut app = Null(0);
        let mut ts = 1_700_000_000_000i64;
        let mut i = 0;
        b.iter(|| {
            let body = &bodies[i % bodies.len()];
            i += 1;
            ts += 15_000;
            let (st, r) = cache.append_body(
                &cfg,
                &target,
                body.as_bytes(),
                Format::Text,
                ts,
                &mut app,
                &mut scratch,
            );
            assert!(r.is_ok());
            black_box(st);
        })
    });

    g.bench_function("cold_cache", |b| {
        let mut scratch = Scratch::default();
        let mut app = Null(0);
        b.iter(|| {
            let mut cache = ScrapeCache::new();
            let (st, r) = cache.append_body(
                &cfg,
                &target,
                bodies[0].as_bytes(),
                Format::Text,
                1,
                &mut app,
                &mut scratch,
            );
            assert!(r.is_ok());
            black_box(st);
        })
    });

    g.bench_function("parse_only", |b| {
        b.iter(|| {
            let mut p = Parser::new(bodies[0].as_bytes(), Format::Text);
            let mut n = 0usize;
            while let Ok(Some(e)) = p.next_entry() {
                black_box(&e);
                n += 1;
            }
            black_box(n);
        })
    });

    g.bench_function("prometheus_parse_crate", |b| {
        b.iter(|| {
            let lines = bodies[0].lines().map(|l| Ok(l.to_owned()));
            let s = prometheus_parse::Scrape::parse(lines).unwrap();
            black_box(s.samples.len());
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
