//! A PromQL engine with Prometheus 3's semantics, over any store that can select series by
//! label matchers ([`Queryable`]).
//!
//! - No async and no I/O: the caller runs a query on a thread of its choosing, and the engine
//!   stops at the deadline or when the cancellation check says so ([`EngineOptions`]).
//! - Parsing is `promql-parser`'s (the full grammar, Prometheus' error texts).
//! - Range queries are evaluated node by node over all steps at once, from series selected
//!   once for the whole range (as Prometheus does): an instant vector is a set of series with
//!   one slot per step, so binary operators and aggregations match series and compute their
//!   groups once per query, not once per step.
//! - Results are Prometheus' value types ([`Value`]), errors are typed ([`Error`]) and worded as
//!   Prometheus words them, with the API's error type ([`Error::kind`]).
//! - A range function over a range selector reads the store's series one at a time and keeps
//!   no samples; a simple aggregation over it (`sum by (job) (rate(x[5m]))`) adds each
//!   series' result to its group as it comes, so the query holds only the groups.
//!
//! Not implemented (refused with an error): native histograms and their functions,
//! experimental functions and modifiers (`limitk`, `limit_ratio`, `sort_by_label`,
//! `double_exponential_smoothing`, `mad_over_time`, `info`, `fill` modifiers, anchored and
//! smoothed selectors, `step()`, `range()`, `min_of`, `max_of`), and delayed `__name__`
//! removal (a feature flag, off by default in Prometheus 3). Annotations (warnings and
//! infos) are not produced.

mod aggregate;
mod binary;
mod engine;
mod error;
mod eval;
mod functions;
mod labels;
mod quantile;
mod range_functions;
mod value;

pub use engine::{Engine, EngineOptions, parse};
pub use error::Error;
pub use promql_parser::label::{MatchOp, Matcher};
pub use value::{InstantSample, RangeSeries, Value};

use scrapeline_exposition::Labels;

/// What [`Queryable::select`] calls for each series: its labels and samples.
pub type SeriesSink<'a> = dyn FnMut(&Labels, &[(i64, f64)]) -> Result<(), Error> + 'a;

/// A store the engine reads from.
///
/// `select` hands every series that matches all `matchers` and has samples in
/// `[mint, maxt]` (both inclusive, milliseconds) to `each`, with those samples sorted by time,
/// staleness markers included (Prometheus' stale NaN, see
/// [`scrapeline_exposition::value::STALE_NAN_BITS`]). An error from `each` must be returned
/// as is. A callback (rather than a returned list) lets a store hand series over one at a time.
pub trait Queryable {
    /// Selects the matching series in `[mint, maxt]`; see the trait's documentation.
    fn select(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
        each: &mut SeriesSink<'_>,
    ) -> Result<(), Error>;
}
