//! Label sets and the Prometheus exposition formats, with no I/O and no async.
//!
//! This crate is the bottom of Scrapeline: every other crate speaks in its
//! [`Labels`](labels::Labels). It will also hold the pull parser for the text format 0.0.4 and
//! OpenMetrics 1.0, and the encoder that writes both.
//!
//! # Where to start
//! - [`labels::Labels`]: an immutable, sorted label set in one compact buffer with a stable
//!   64-bit hash; [`labels::LabelsBuilder`] edits one (relabeling, target label population).
//! - [`value::format_value`]: writes a sample value exactly as Prometheus' Go clients do, so
//!   output is byte-compatible with what real targets send.

pub mod labels;
pub mod parser;
pub mod value;

pub use labels::{Label, Labels, LabelsBuilder};
pub use parser::{Entry, Exemplar, Format, MetricType, ParseError, Parser, Series};
