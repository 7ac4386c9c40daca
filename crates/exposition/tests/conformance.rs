//! The OpenMetrics parser conformance suite and the payload corpus, vendored in `testdata/`.

#[path = "../../../testdata/testdata.rs"]
mod testdata;

use scrapeline_exposition::parser::{Entry, Format, ParseError, Parser};

/// Parses a whole body; returns the number of samples.
fn parse_all(body: &[u8], format: Format) -> Result<usize, ParseError> {
    let mut n = 0;
    for e in Parser::new(body, format) {
        if let Entry::Series(_) = e? {
            n += 1;
        }
    }
    Ok(n)
}

#[test]
fn openmetrics_suite_classifies_every_case() {
    let dir = testdata::file("openmetrics/parsers");
    let mut cases: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    cases.sort();
    let mut wrong = Vec::new();
    let (mut good, mut bad) = (0, 0);
    for case in &cases {
        let spec = std::fs::read_to_string(case.join("test.json")).unwrap();
        let should_parse = spec.contains("\"shouldParse\": true");
        assert!(
            should_parse || spec.contains("\"shouldParse\": false"),
            "{spec}"
        );
        let body = std::fs::read(case.join("metrics")).unwrap();
        let got = parse_all(&body, Format::OpenMetrics);
        if should_parse {
            good += 1;
        } else {
            bad += 1;
        }
        if got.is_ok() != should_parse {
            let name = case.file_name().unwrap().to_string_lossy().into_owned();
            wrong.push(format!("{name}: want parse={should_parse}, got {got:?}"));
        }
    }
    assert_eq!((good, bad), (44, 167), "suite size");
    assert!(
        wrong.is_empty(),
        "{} misclassified:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

/// With the family-level rules off only syntax errors remain: every case that should parse still
/// does, and of the 167 rejections exactly the syntactic ones (listed by count) still fail.
#[test]
fn openmetrics_suite_without_family_checks() {
    let dir = testdata::file("openmetrics/parsers");
    let mut still_rejected = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let case = entry.unwrap().path();
        let spec = std::fs::read_to_string(case.join("test.json")).unwrap();
        let body = std::fs::read(case.join("metrics")).unwrap();
        let got: Result<Vec<_>, _> = Parser::new(&body, Format::OpenMetrics)
            .with_family_checks(false)
            .collect();
        if spec.contains("\"shouldParse\": true") {
            assert!(got.is_ok(), "{}: {got:?}", case.display());
        } else if got.is_err() {
            still_rejected.push(case.file_name().unwrap().to_string_lossy().into_owned());
        }
    }
    still_rejected.sort();
    assert_eq!(still_rejected.len(), STILL_REJECTED, "{still_rejected:#?}");
}

/// Rejections of the suite that are about syntax (not family rules).
const STILL_REJECTED: usize = 90;

#[test]
fn payloads_parse_with_documented_sample_counts() {
    let want = [
        ("node_exporter.prom", Format::Text, 507),
        ("prometheus.prom", Format::Text, 475),
        ("cadvisor.prom", Format::Text, 14_996),
        ("synthetic-large.prom", Format::Text, 66_618),
        ("synthetic-large.om", Format::OpenMetrics, 83_941),
        ("utf8-names.prom", Format::Text, 312),
    ];
    for (file, format, samples) in want {
        let body = std::fs::read(testdata::payload(file)).unwrap();
        let got = parse_all(&body, format).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(got, samples, "{file}");
    }
}
