//! The OpenMetrics parser must never panic or hang, whatever the bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scrapeline_exposition::labels::LabelsBuilder;
use scrapeline_exposition::{Entry, Format, Parser};

fuzz_target!(|data: &[u8]| {
    let mut builder = LabelsBuilder::new();
    for entry in Parser::new(data, Format::OpenMetrics) {
        match entry {
            Ok(Entry::Series(s)) => s.write_labels(&mut builder),
            Ok(_) => {}
            Err(_) => break,
        }
    }
});
