//! Prometheus' duration and byte-size syntax (`1m30s`, `10MB`): re-exported from
//! [`scrapeline_common::duration`], which holds the single implementation every crate uses.

pub use scrapeline_common::duration::*;
