//! Query results: Prometheus' value types.

use scrapeline_exposition::Labels;

/// One series' sample at the evaluation time of an instant query.
#[derive(Debug, Clone, PartialEq)]
pub struct InstantSample {
    /// The series' labels.
    pub labels: Labels,
    /// Milliseconds since the epoch.
    pub t: i64,
    /// The value.
    pub v: f64,
}

/// One series' points over a range.
#[derive(Debug, Clone, PartialEq)]
pub struct RangeSeries {
    /// The series' labels.
    pub labels: Labels,
    /// `(t ms, value)` in time order.
    pub points: Vec<(i64, f64)>,
}

/// A query result.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A number at a time (ms).
    Scalar {
        /// Milliseconds since the epoch.
        t: i64,
        /// The value.
        v: f64,
    },
    /// A string at a time (ms).
    String {
        /// Milliseconds since the epoch.
        t: i64,
        /// The string.
        s: String,
    },
    /// An instant vector.
    Vector(Vec<InstantSample>),
    /// A range vector (range selectors, subqueries and every range query's result).
    Matrix(Vec<RangeSeries>),
}

/// A bit pattern no sample can carry (input NaNs are made canonical): marks a step where a
/// series has no value.
const ABSENT_BITS: u64 = 0x7ff0_dead_beef_0001;

/// The "no value at this step" marker.
#[inline]
pub(crate) fn absent() -> f64 {
    f64::from_bits(ABSENT_BITS)
}

/// Whether `v` is the "no value at this step" marker.
#[inline]
pub(crate) fn is_absent(v: f64) -> bool {
    v.to_bits() == ABSENT_BITS
}

/// `v` with any NaN made canonical, so it can never be taken for [`absent`].
#[inline]
pub(crate) fn canonical(v: f64) -> f64 {
    if v.is_nan() { f64::NAN } else { v }
}
