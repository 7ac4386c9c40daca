//! An in-memory [`Queryable`] for the tests.

use std::collections::BTreeMap;

use scrapeline_exposition::Labels;
use scrapeline_promql::{Error, Matcher, Queryable, SeriesSink};

/// Series and their samples, in label order.
#[derive(Default)]
pub struct MemStore {
    pub series: BTreeMap<Labels, Vec<(i64, f64)>>,
}

impl MemStore {
    /// Adds `samples` to the series `labels`.
    #[allow(dead_code)]
    pub fn add(&mut self, labels: &[(&str, &str)], samples: &[(i64, f64)]) {
        let s = self
            .series
            .entry(Labels::from_pairs(labels.iter().copied()))
            .or_default();
        s.extend_from_slice(samples);
        s.sort_by_key(|x| x.0);
    }
}

impl Queryable for MemStore {
    fn select(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
        each: &mut SeriesSink<'_>,
    ) -> Result<(), Error> {
        for (labels, samples) in &self.series {
            let ok = matchers
                .iter()
                .all(|m| m.is_match(labels.get(&m.name).unwrap_or("")));
            if !ok {
                continue;
            }
            let lo = samples.partition_point(|s| s.0 < mint);
            let hi = samples.partition_point(|s| s.0 <= maxt);
            if let Some(s) = samples.get(lo..hi)
                && !s.is_empty()
            {
                each(labels, s)?;
            }
        }
        Ok(())
    }
}
