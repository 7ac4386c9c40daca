//! Property tests: arbitrary damage to a segment never panics, and every record before the
//! damage survives the repair.

use proptest::prelude::*;
use scrapeline_exposition::Labels;
use scrapeline_wal::record::Record;
use scrapeline_wal::{Batch, Position, Reader, Wal, WalOptions, segment};

fn write(wal: &Wal, n: u64) -> Vec<usize> {
    let mut ends = Vec::new();
    let mut b = Batch::default();
    let mut at = 0;
    for i in 0..n {
        b.add_series(i, &Labels::from_pairs([("i", i.to_string())]));
        b.add_sample(i, i as i64, 1.0);
        wal.commit(&mut b).unwrap();
        at = wal.head().offset as usize;
        ends.push(at);
    }
    let _ = at;
    ends
}

fn samples(wal: &std::sync::Arc<Wal>) -> Vec<u64> {
    let mut r = Reader::new(wal.clone(), Position::default(), true);
    let mut out = Vec::new();
    while let Some((rec, _)) = r.next() {
        if let Record::Samples(s) = rec {
            out.extend(s.iter().map(|x| x.series));
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn corruption_or_truncation_keeps_every_record_before_it(
        n in 1u64..30,
        at_frac in 0.0f64..1.0,
        flip in 1u8..=255,
        truncate in any::<bool>(),
        garbage in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let d = tempfile::tempdir().unwrap();
        let wal = Wal::open(d.path(), WalOptions::default()).unwrap();
        let ends = write(&wal, n);
        wal.close();
        drop(wal);
        let p = segment::path(d.path(), 0);
        let mut bytes = std::fs::read(&p).unwrap();
        let at = ((bytes.len() as f64) * at_frac) as usize;
        if truncate {
            bytes.truncate(at);
            bytes.extend_from_slice(&garbage);
        } else {
            bytes[at] ^= flip;
        }
        std::fs::write(&p, &bytes).unwrap();
        let wal = Wal::open(d.path(), WalOptions::default()).unwrap();
        let got = samples(&wal);
        // Every commit that ended before the damage is intact.
        let intact = ends.iter().filter(|e| **e <= at).count() as u64;
        prop_assert!(got.len() as u64 >= intact, "{} < {}", got.len(), intact);
        prop_assert_eq!(&got[..intact as usize], &(0..intact).collect::<Vec<_>>()[..]);
        prop_assert!(got.iter().all(|r| *r < n));
    }

    #[test]
    fn arbitrary_files_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2000)) {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(segment::path(d.path(), 0), &bytes).unwrap();
        let wal = Wal::open(d.path(), WalOptions::default()).unwrap();
        let _ = samples(&wal);
        let _ = wal.truncate();
    }
}
