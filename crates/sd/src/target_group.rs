//! The unit of discovery output.

use scrapeline_exposition::Labels;

/// A set of targets sharing common labels, as one discoverer source describes it.
///
/// A discoverer sends whole groups, never patches: a group replaces the previous group with the
/// same `source`, and a group with no targets deletes it. This is Prometheus'
/// `targetgroup.Group` contract, which keeps consumers simple and makes missed updates harmless.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TargetGroup {
    /// Identifies the group within its discoverer (e.g. `pod/default/web-0`, `file.yml:0`).
    pub source: String,
    /// One label set per target; each holds at least `__address__`.
    pub targets: Vec<Labels>,
    /// Labels shared by every target of the group; a target's own label wins on conflict.
    pub labels: Labels,
}
