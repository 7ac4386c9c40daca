//! This crate reads and writes the Prometheus exposition formats, the text format 0.0.4 and
//! OpenMetrics 1.0, and holds the label sets every other Scrapeline crate speaks in. It does no
//! I/O and no async: it turns bytes into samples and samples into bytes.
//!
//! The parser is a zero-copy pull parser over a whole response body. It accepts exactly what
//! Prometheus 3 accepts in the text format (quoted UTF-8 names included) and classifies every
//! case of the OpenMetrics conformance suite correctly, while allocating nothing per sample on
//! the common path: label pairs are validated but only decoded when asked for, and escapes are
//! only decoded when a backslash is present.
//!
//! # Overview
//!
//! - [`Parser`] (in [`parser`]) yields one [`Entry`] per line: [`Series`] samples, HELP, TYPE,
//!   UNIT, comments, `# EOF`. Start here for a scrape path.
//! - [`Series::raw`] is the series exactly as written, the key of a scrape cache: on a hit you
//!   never decode labels at all. On a miss, [`Parser::write_labels`] fills a reusable
//!   [`LabelsBuilder`] from the label spans the parser recorded while checking the line (one
//!   copy per series, no second read); [`Series::write_labels`] does the same for a series
//!   kept from earlier, by reading it again.
//! - [`Format::from_content_type`] picks the format from a response's `Content-Type`, as
//!   Prometheus does.
//! - [`family::parse_families`] parses a whole body into an owned model
//!   ([`family::MetricFamily`]); [`encode::encode_text`] and [`encode::encode_openmetrics`]
//!   write that model back out.
//! - [`Labels`] (in [`labels`]) is an immutable, sorted label set in one compact buffer with
//!   Prometheus' stable 64-bit hash; [`LabelsBuilder`] edits one.
//! - [`value::format_value`] writes a sample value exactly as Prometheus' Go clients do.
//!
//! # Example: parse a scrape body
//!
//! ```
//! use scrapeline_exposition::{Entry, Format, LabelsBuilder, Parser};
//!
//! let body = b"# HELP http_requests_total Requests served.\n# TYPE http_requests_total counter\n\
//!     http_requests_total{method=\"post\",code=\"200\"} 1027 1395066363000\n\
//!     http_requests_total{method=\"post\",code=\"400\"}    3 1395066363000\n";
//! let format = Format::from_content_type("text/plain; version=0.0.4").unwrap();
//! let mut parser = Parser::new(body, format);
//! let mut builder = LabelsBuilder::new();
//! let mut seen = Vec::new();
//! while let Some(entry) = parser.next_entry()? {
//!     if let Entry::Series(s) = entry {
//!         s.write_labels(&mut builder);
//!         seen.push((builder.labels().to_string(), s.value, s.timestamp_ms));
//!     }
//! }
//! assert_eq!(seen[1], (
//!     r#"{__name__="http_requests_total", code="400", method="post"}"#.to_string(),
//!     3.0,
//!     Some(1395066363000),
//! ));
//! # Ok::<(), scrapeline_exposition::ParseError>(())
//! ```
//!
//! # Example: errors say where and what
//!
//! ```
//! use scrapeline_exposition::{Format, Parser};
//!
//! let body = b"ok 1\nhttp_requests_total{code=\"200\",method 1\n";
//! let err = Parser::new(body, Format::Text).find_map(Result::err).unwrap();
//! assert_eq!(
//!     err.to_string(),
//!     "line 2, column 39: expected '=' after label name \"method\"",
//! );
//! ```
//!
//! # Example: re-encode as OpenMetrics
//!
//! ```
//! use scrapeline_exposition::encode::encode_openmetrics;
//! use scrapeline_exposition::family::parse_families;
//! use scrapeline_exposition::Format;
//!
//! let families = parse_families(b"# TYPE temp gauge\ntemp{room=\"a\"} 21.5 1700000000123\n", Format::Text)?;
//! let mut out = String::new();
//! encode_openmetrics(&families, &mut out);
//! assert_eq!(out, "# TYPE temp gauge\ntemp{room=\"a\"} 21.5 1700000000.123\n# EOF\n");
//! # Ok::<(), scrapeline_exposition::ParseError>(())
//! ```
//!
//! # Performance
//!
//! Scanning is driven by `memchr` (line ends, quoted strings) and byte-class tables; plain
//! decimal values take an exact fast path (Clinger's) before falling back to the standard
//! library's correct parser. Figures against VictoriaMetrics', Prometheus' and the
//! `prometheus-parse` crate's parsers are in `BENCHMARKS.md`.

pub mod encode;
pub mod family;
pub mod labels;
pub mod parser;
pub mod value;

pub use family::{MetricFamily, OwnedExemplar, Sample, parse_families};
pub use labels::{Label, Labels, LabelsBuilder};
pub use parser::{Entry, Exemplar, Format, MetricType, ParseError, Parser, Series};
