//! Proof that parsing does not allocate per sample: a counting global allocator, and the same
//! payloads parsed once as they are and once with every sample line doubled (twice the samples,
//! the same families). The allocation count must stay the same (up to a small constant).
//!
//! This file holds a single test so no other test thread allocates while it counts.

use std::alloc::System;

#[path = "../../../testdata/testdata.rs"]
mod testdata;

use scrapeline_exposition::{Entry, Format, LabelsBuilder, Parser};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

/// Counts every allocation and reallocation of this test binary.
#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Allocations made while parsing `body` fully: every entry pulled, every sample's labels
/// written into one reused builder. Returns (allocations, samples).
fn allocations(body: &[u8], format: Format, builder: &mut LabelsBuilder) -> (usize, usize) {
    let region = Region::new(GLOBAL);
    let mut samples = 0;
    let mut parser = Parser::new(body, format);
    while let Some(entry) = parser.next_entry().expect("payload parses") {
        if let Entry::Series(s) = entry {
            s.write_labels(builder);
            parser.write_labels(&s, builder);
            samples += 1;
        }
    }
    let change = region.change();
    (change.allocations + change.reallocations, samples)
}

/// `body` without sample lines that hold a backslash (decoding an escape allocates by design:
/// that is the uncommon path), and, when `twice`, with every sample line written twice.
fn common_path(body: &[u8], twice: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() * 2);
    for line in body.split_inclusive(|&c| c == b'\n') {
        let sample = !line.starts_with(b"#");
        if sample && line.contains(&b'\\') {
            continue;
        }
        out.extend_from_slice(line);
        if !twice {
            continue;
        }
        let trimmed = line.iter().position(|&c| c != b' ' && c != b'\t');
        if trimmed.is_some_and(|i| line[i] != b'#' && line[i] != b'\n') {
            out.extend_from_slice(line);
        }
    }
    out
}

#[test]
fn allocations_do_not_grow_with_sample_count() {
    for file in [
        "node_exporter.prom",
        "prometheus.prom",
        "cadvisor.prom",
        "utf8-names.prom",
    ] {
        let body = common_path(&std::fs::read(testdata::payload(file)).unwrap(), false);
        let doubled = common_path(&body, true);
        let mut builder = LabelsBuilder::new();
        // The builder's reused string buffers trade places when labels arrive out of order
        // and grow until each fits the longest value it meets: a bounded warm-up.
        for _ in 0..3 {
            allocations(&doubled, Format::Text, &mut builder);
        }
        let (once, n1) = allocations(&body, Format::Text, &mut builder);
        let (twice, n2) = allocations(&doubled, Format::Text, &mut builder);
        assert_eq!(n2, 2 * n1, "{file}");
        // A buffer may still grow once more now and then: a constant, not a per-sample cost.
        assert!(
            twice <= once + 4,
            "{file}: {once} allocations for {n1} samples, {twice} for {n2}"
        );
        // What is left is per family (HELP texts with escapes, the parser's reused scratch).
        assert!(
            once <= n1 / 4 + 2,
            "{file}: {once} allocations for {n1} samples"
        );
    }
}
