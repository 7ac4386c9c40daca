//! `GET /graph`: a small expression browser, one self-contained page (no external scripts,
//! styles or build step: `graph.html`, inline JavaScript and SVG).
//!
//! An expression box and Execute; a Table tab (instant query at now: one row per series,
//! labels and value) and a Graph tab (range query over the selected range, 1h by default,
//! about 250 points: one SVG `path.series` per series, a legend with each series' labels).
//! Errors show the API's `errorType: error`. It only speaks the HTTP API, so it works with
//! whatever the query engine evaluates. Prometheus' URL parameters (`g0.expr`, `g0.tab`
//! with 0 for graph and 1 for table, `g0.range_input`) fill the form and execute it, so a
//! link can point at a chart.

use bytes::Bytes;
use http::Response;
use http_body_util::Full;

/// The page.
pub const PAGE: &str = include_str!("graph.html");

/// The page as an HTML response.
pub fn page() -> Response<Full<Bytes>> {
    super::html(PAGE.to_owned())
}
