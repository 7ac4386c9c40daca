//! The OpenMetrics parser must never panic or hang, whatever the bytes, and
//! `Parser::write_labels` (label spans recorded while parsing) must agree with
//! `Series::write_labels` (the series read again), its oracle.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scrapeline_exposition::labels::LabelsBuilder;
use scrapeline_exposition::{Entry, Format, Parser};

fuzz_target!(|data: &[u8]| {
    let (mut builder, mut fast) = (LabelsBuilder::new(), LabelsBuilder::new());
    let mut parser = Parser::new(data, Format::OpenMetrics);
    while let Ok(Some(entry)) = parser.next_entry() {
        if let Entry::Series(s) = entry {
            s.write_labels(&mut builder);
            // The span-based fast path must give exactly what reading the series again gives.
            parser.write_labels(&s, &mut fast);
            assert_eq!(fast.labels(), builder.labels());
        }
    }
});
