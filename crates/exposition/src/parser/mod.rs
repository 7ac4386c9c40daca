//! The pull parser for the Prometheus text format 0.0.4 and OpenMetrics 1.0.
//!
//! CONTRACT STUB: the public types and signatures below are fixed (other crates code against
//! them); the implementation is being written.

use std::borrow::Cow;

use crate::labels::LabelsBuilder;

/// Which exposition format a body is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// The Prometheus text format 0.0.4 (`text/plain; version=0.0.4`).
    Text,
    /// OpenMetrics 1.0 text (`application/openmetrics-text; version=1.0.0`).
    OpenMetrics,
}

impl Format {
    /// The format a response's `Content-Type` announces, as Prometheus decides it; `None` when
    /// the type is missing or not an exposition format (the caller then applies its fallback).
    pub fn from_content_type(content_type: &str) -> Option<Format> {
        let _ = content_type;
        todo!()
    }
}

/// The type a `# TYPE` line declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetricType {
    /// `counter`.
    Counter,
    /// `gauge`.
    Gauge,
    /// `histogram`.
    Histogram,
    /// `gaugehistogram` (OpenMetrics).
    GaugeHistogram,
    /// `summary`.
    Summary,
    /// `info` (OpenMetrics).
    Info,
    /// `stateset` (OpenMetrics).
    StateSet,
    /// `untyped` (text) or `unknown` (OpenMetrics).
    Unknown,
}

/// A parse failure: where, and what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct ParseError {
    /// 1-based line number.
    pub line: usize,
    /// 1-based column (in bytes).
    pub column: usize,
    /// What was expected and what was found.
    pub message: String,
}

/// An exemplar attached to an OpenMetrics sample.
#[derive(Debug, Clone, PartialEq)]
pub struct Exemplar<'a> {
    /// The exemplar's label pairs, unescaped, in input order.
    pub labels: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    /// The exemplar value.
    pub value: f64,
    /// The exemplar timestamp in milliseconds, if given.
    pub timestamp_ms: Option<i64>,
}

/// One sample line.
#[derive(Debug, Clone, PartialEq)]
pub struct Series<'a> {
    /// The series identity exactly as written: metric name and label set, without value,
    /// timestamp or exemplar. Equal bytes mean an equal series: the scrape cache's key.
    pub raw: &'a [u8],
    /// The sample value.
    pub value: f64,
    /// The explicit timestamp in milliseconds, if any (OpenMetrics seconds are converted).
    pub timestamp_ms: Option<i64>,
    /// The exemplar, if any (OpenMetrics only).
    pub exemplar: Option<Exemplar<'a>>,
}

impl<'a> Series<'a> {
    /// The metric name, unescaped.
    pub fn name(&self) -> Cow<'a, str> {
        todo!()
    }

    /// The label pairs (not including the metric name), unescaped, in input order.
    pub fn labels(&self) -> impl Iterator<Item = (Cow<'a, str>, Cow<'a, str>)> + 'a {
        std::iter::empty()
    }

    /// Clears `builder` and fills it with `__name__` and every label of this series.
    pub fn write_labels(&self, builder: &mut LabelsBuilder) {
        let _ = builder;
        todo!()
    }
}

/// One entry of an exposition body.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry<'a> {
    /// A sample line.
    Series(Series<'a>),
    /// `# HELP name text` (text unescaped).
    Help {
        /// The metric family name.
        name: Cow<'a, str>,
        /// The help text.
        text: Cow<'a, str>,
    },
    /// `# TYPE name type`.
    Type {
        /// The metric family name.
        name: Cow<'a, str>,
        /// The declared type.
        kind: MetricType,
    },
    /// `# UNIT name unit` (OpenMetrics).
    Unit {
        /// The metric family name.
        name: Cow<'a, str>,
        /// The unit.
        unit: Cow<'a, str>,
    },
    /// Any other comment line (text format only), without the leading `#`.
    Comment(&'a str),
    /// `# EOF` (OpenMetrics; the last entry).
    Eof,
}

/// A pull parser over one exposition body.
pub struct Parser<'a> {
    input: &'a [u8],
    format: Format,
}

impl<'a> Parser<'a> {
    /// A parser over `input` in `format`.
    pub fn new(input: &'a [u8], format: Format) -> Self {
        Parser { input, format }
    }

    /// The next entry; `Ok(None)` at the end of a valid body. After an error the parser is
    /// finished: every later call returns `Ok(None)`.
    pub fn next_entry(&mut self) -> Result<Option<Entry<'a>>, ParseError> {
        let _ = (self.input, self.format);
        todo!()
    }
}

impl<'a> Iterator for Parser<'a> {
    type Item = Result<Entry<'a>, ParseError>;
    fn next(&mut self) -> Option<Self::Item> {
        self.next_entry().transpose()
    }
}
