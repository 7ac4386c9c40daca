//! The WAL append path: one scrape's samples per commit, as the agent writes them.
//! `cargo bench -p scrapeline-wal --bench append`; throughput is in samples per second.
//! `read_1000_samples` is the reader's side (a remote-write queue decoding records); when
//! it catches up with the writer it commits another scrape, so it includes some appends.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use scrapeline_exposition::Labels;
use scrapeline_scrape::{Appendable, SeriesRef};
use scrapeline_wal::{Wal, WalAppendable, WalOptions};

/// Samples per scrape (a node exporter is ~1000-2000).
const SERIES: usize = 1000;

fn append(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let wal = Wal::open(dir.path(), WalOptions::default()).expect("open");
    let sink = WalAppendable::primary(wal.clone());
    let labels: Vec<Labels> = (0..SERIES)
        .map(|i| {
            Labels::from_pairs([
                ("__name__", "metric"),
                ("i", &i.to_string()),
                ("job", "node"),
            ])
        })
        .collect();
    let mut refs: Vec<SeriesRef> = vec![0; SERIES];
    let mut t = 0i64;
    let mut g = c.benchmark_group("wal");
    g.throughput(Throughput::Elements(SERIES as u64));
    g.bench_function("commit_1000_samples", |b| {
        b.iter(|| {
            t += 15_000;
            let mut app = sink.appender();
            for (r, l) in refs.iter_mut().zip(&labels) {
                *r = app.append(*r, l, t, t as f64).expect("append");
            }
            app.commit().expect("commit");
        })
    });
    // The other side: a reader (a remote-write queue) decoding what was committed.
    let mut reader =
        scrapeline_wal::Reader::new(wal.clone(), scrapeline_wal::Position::default(), false);
    g.bench_function("read_1000_samples", |b| {
        b.iter(|| {
            let mut n = 0;
            while n < SERIES {
                match reader.next() {
                    Some((scrapeline_wal::record::Record::Samples(s), _)) => n += s.len(),
                    Some(_) => {}
                    None => {
                        // Caught up: commit another scrape to read.
                        t += 15_000;
                        let mut app = sink.appender();
                        for (r, l) in refs.iter_mut().zip(&labels) {
                            *r = app.append(*r, l, t, t as f64).expect("append");
                        }
                        app.commit().expect("commit");
                    }
                }
            }
        })
    });
    g.finish();
    // Keep the disk bounded: the bench writes hundreds of MB otherwise.
    let _ = wal.truncate();
}

criterion_group!(benches, append);
criterion_main!(benches);
