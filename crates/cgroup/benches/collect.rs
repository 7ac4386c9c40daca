//! One full collection over a generated node with 1,000 containers (250 pods of a sandbox
//! and three app containers), cgroup v2 (systemd driver) and v1 hybrid (cgroupfs driver).
//!
//! The trees are generated into a temporary directory from the spec fixtures' files, so
//! every cgroup has the files of a real one. Besides criterion's timings this prints, per
//! layout, the allocations of one collection and the net heap growth over 200 collections
//! (counted with `stats_alloc`) and the CPU time of one collection
//! (`CLOCK_THREAD_CPUTIME_ID`, averaged over 50).
//!
//! Run: `cargo bench -p scrapeline-cgroup --bench collect -- --warm-up-time 1 --measurement-time 3`

mod common;

use std::alloc::System;
use std::hint::black_box;
use std::sync::Arc;

use common::{APPS_PER_POD, Lookup, NOW_MS, PODS, generate, thread_cpu_ns, v1_layout, v2_layout};
use criterion::{Criterion, criterion_group, criterion_main};
use scrapeline_cgroup::{Collection, Collector, CollectorConfig, PodLookup};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

fn report_allocations(label: &str, collector: &Collector, lookup: &Lookup) {
    let mut text = String::with_capacity(8 << 20);
    // Warm up (first-touch allocations of the allocator itself).
    let c = collector.collect(NOW_MS);
    c.encode_text(&mut text);
    drop(c);
    let region = Region::new(GLOBAL);
    let c = collector.collect(NOW_MS);
    let collect = region.change();
    text.clear();
    c.encode_text(&mut text);
    let both = region.change();
    let cgroups = c.stats.cgroups;
    let bytes = text.len();
    drop(c);
    let region = Region::new(GLOBAL);
    for _ in 0..200 {
        let c: Collection = collector.collect(NOW_MS);
        text.clear();
        c.encode_text(&mut text);
        black_box(&text);
    }
    let growth = region.change();
    // Into a reused Collection (`collect_into`): the steady state of a scrape loop.
    let mut reused = collector.collect(NOW_MS);
    collector.collect_into(NOW_MS, &mut reused);
    let region = Region::new(GLOBAL);
    collector.collect_into(NOW_MS, &mut reused);
    let into = region.change();
    assert_eq!(reused, collector.collect(NOW_MS));
    // What a PodLookup that returns new strings (`lookup`, not `lookup_into`) would
    // allocate per collection on top.
    let region = Region::new(GLOBAL);
    for c in &reused.containers {
        if let Some(uid) = c.identity.pod_uid.as_deref() {
            let cid = c.identity.container_id.as_deref().unwrap_or_default();
            black_box(lookup.lookup(uid, cid));
        }
    }
    let by_lookup = region.change();
    let cpu0 = thread_cpu_ns();
    for _ in 0..50 {
        black_box(collector.collect(NOW_MS));
    }
    let collect_cpu_ms = (thread_cpu_ns() - cpu0) as f64 / 50.0 / 1e6;
    let cpu0 = thread_cpu_ns();
    let c = collector.collect(NOW_MS);
    for _ in 0..50 {
        text.clear();
        c.encode_text(&mut text);
        black_box(&text);
    }
    let encode_cpu_ms = (thread_cpu_ns() - cpu0) as f64 / 50.0 / 1e6;
    eprintln!(
        "{label}: CPU time (user+sys) per collect {collect_cpu_ms:.2} ms, per encode {encode_cpu_ms:.2} ms"
    );
    eprintln!(
        "{label}: {cgroups} cgroups, {bytes} bytes of text; collect: {} allocations / {} bytes; \
         collect+encode: {} allocations / {} bytes; net heap growth over 200 collect+encode: {} bytes",
        collect.allocations,
        collect.bytes_allocated,
        both.allocations,
        both.bytes_allocated,
        growth.bytes_allocated as i64 - growth.bytes_deallocated as i64,
    );
    eprintln!(
        "{label}: collect_into a reused Collection: {} allocations / {} bytes (a PodLookup \
         without lookup_into would add {} allocations / {} bytes)",
        into.allocations, into.bytes_allocated, by_lookup.allocations, by_lookup.bytes_allocated,
    );
}

fn bench(c: &mut Criterion) {
    for (label, layout) in [("v2_systemd", v2_layout()), ("v1_hybrid", v1_layout())] {
        let tmp = tempfile::tempdir().unwrap();
        let lookup = Arc::new(generate(&layout, tmp.path()));
        // Variants: the default configuration; files kept open between collections
        // (`open_files` = 100,000, both capped by RLIMIT_NOFILE); none kept (`open_files` =
        // 0: open + read + close per file); on v2 also without the pressure files (the work
        // of the collector before `container_pressure_*` existed).
        let mut variants: Vec<(String, CollectorConfig)> = Vec::new();
        variants.push((label.to_string(), CollectorConfig::with_rootfs(tmp.path())));
        let mut kept = CollectorConfig::with_rootfs(tmp.path());
        kept.open_files = 100_000;
        variants.push((format!("{label}_open_files"), kept));
        let mut unkept = CollectorConfig::with_rootfs(tmp.path());
        unkept.open_files = 0;
        variants.push((format!("{label}_open_files_0"), unkept));
        if layout.v2 {
            let mut no_psi = CollectorConfig::with_rootfs(tmp.path());
            no_psi.pressure = false;
            variants.push((format!("{label}_no_pressure"), no_psi));
        }
        for (i, (name, config)) in variants.into_iter().enumerate() {
            let collector = Collector::new(config)
                .unwrap()
                .with_pod_lookup(lookup.clone());
            let probe = collector.collect(NOW_MS);
            assert_eq!(
                probe.stats.cgroups,
                (1 + 1 + 2 + PODS * (2 + APPS_PER_POD)) as u64
            );
            assert_eq!(probe.stats.parse_errors + probe.stats.files_unreadable, 0);
            report_allocations(&name, &collector, &lookup);

            c.bench_function(&format!("collect_1000_containers_{name}"), |b| {
                b.iter(|| black_box(collector.collect(NOW_MS)))
            });
            if i == 0 {
                let collection = collector.collect(NOW_MS);
                let mut text = String::with_capacity(8 << 20);
                c.bench_function(&format!("encode_1000_containers_{name}"), |b| {
                    b.iter(|| {
                        text.clear();
                        collection.encode_text(&mut text);
                        black_box(text.len())
                    })
                });
            }
        }
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = bench
}
criterion_main!(benches);
