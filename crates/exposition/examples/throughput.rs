//! Single-threaded parser throughput with the same protocol as the Go anchors in
//! `benches/anchors/` (each run parses the whole file back to back until at least
//! MIN seconds have passed; the median of RUNS runs is reported), so figures are comparable
//! line for line. It also reports the rate per second of CPU time this thread actually got
//! (from `/proc/thread-self/schedstat`), which stays meaningful on a loaded machine.
//!
//! ```text
//! taskset -c 0 cargo run --release -p scrapeline-exposition --example throughput -- \
//!     FILE [iterate|labels|labels-reread] [RUNS] [MIN_SECONDS]
//! ```
//!
//! `labels` decodes every series with `Parser::write_labels` (the spans recorded while
//! parsing), `labels-reread` with `Series::write_labels` (the series read again).

use std::time::Instant;

use scrapeline_exposition::{Entry, Format, LabelsBuilder, Parser};

/// Nanoseconds this thread has run on a CPU, when the kernel exposes it.
fn cpu_ns() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok()
}

/// What is done with every series.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Iterate,
    Labels,
    LabelsReread,
}

fn parse(body: &[u8], format: Format, mode: Mode, builder: &mut LabelsBuilder) -> usize {
    let mut n = 0;
    let mut p = Parser::new(body, format);
    while let Ok(Some(e)) = p.next_entry() {
        if let Entry::Series(s) = e {
            match mode {
                Mode::Iterate => {}
                Mode::Labels => p.write_labels(&s, builder),
                Mode::LabelsReread => s.write_labels(builder),
            }
            n += 1;
        }
    }
    n
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let Some(path) = args.get(1) else {
        eprintln!("usage: throughput FILE [iterate|labels|labels-reread] [RUNS] [MIN_SECONDS]");
        std::process::exit(2);
    };
    let mode = match args.get(2).map(String::as_str) {
        Some("labels") => Mode::Labels,
        Some("labels-reread") => Mode::LabelsReread,
        _ => Mode::Iterate,
    };
    let runs: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(5);
    let min: f64 = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(1.0);
    let body = std::fs::read(path).unwrap_or_else(|e| {
        eprintln!("{path}: {e}");
        std::process::exit(1)
    });
    let format = if path.ends_with(".om") {
        Format::OpenMetrics
    } else {
        Format::Text
    };
    let mut builder = LabelsBuilder::new();
    let samples = parse(&body, format, mode, &mut builder);
    let (mut wall_rates, mut cpu_rates) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let (start, cpu0) = (Instant::now(), cpu_ns());
        let mut iters = 0u64;
        let mut sink = 0;
        loop {
            sink += parse(std::hint::black_box(&body), format, mode, &mut builder);
            iters += 1;
            if start.elapsed().as_secs_f64() >= min {
                break;
            }
        }
        assert_eq!(sink, samples * iters as usize, "non-deterministic");
        wall_rates.push(iters as f64 / start.elapsed().as_secs_f64());
        if let (Some(a), Some(b)) = (cpu0, cpu_ns()) {
            cpu_rates.push(iters as f64 / ((b - a) as f64 / 1e9));
        }
    }
    let mb = body.len() as f64 / 1e6;
    let (wall, cpu) = (median(wall_rates), median(cpu_rates));
    println!(
        "scrapeline-{}\t{path}\tbytes={}\tsamples_out={samples}\tmb_s={:.2}\tsamples_s={:.0}\tcpu_mb_s={:.2}",
        match mode {
            Mode::Iterate => "iterate",
            Mode::Labels => "labels",
            Mode::LabelsReread => "labels-reread",
        },
        body.len(),
        wall * mb,
        wall * samples as f64,
        cpu * mb,
    );
}
