//! `static_configs`: fixed target groups.

use scrapeline_exposition::Labels;

use crate::TargetGroup;
use crate::config::StaticConfig;

/// The groups of a job's `static_configs`, as Prometheus builds them: one group per entry,
/// source = the entry's index, one target per address.
pub fn static_groups(configs: &[StaticConfig]) -> Vec<TargetGroup> {
    configs
        .iter()
        .enumerate()
        .map(|(i, c)| TargetGroup {
            source: i.to_string(),
            targets: c
                .targets
                .iter()
                .map(|t| Labels::from_pairs([("__address__", t.as_str())]))
                .collect(),
            labels: Labels::from_pairs(c.labels.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
        })
        .collect()
}
