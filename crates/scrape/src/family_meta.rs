//! A target's metric family metadata as its scrapes declared it (Prometheus'
//! `scrapeCache.metadata`): which families exist, their type, help and unit, and in which
//! iteration each last changed, so that the pipeline tells the appender about metadata only
//! for new series and after a change, never for every sample.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;

use scrapeline_exposition::labels::METRIC_NAME;
use scrapeline_exposition::{Format, Labels, MetricType};

use crate::append::Metadata;

/// Iterations a family's metadata is kept after its last `# TYPE`/`# HELP`/`# UNIT` line
/// (Prometheus keeps it for 10 scrapes).
const KEEP_ITERATIONS: u32 = 10;

/// One family's metadata and its bookkeeping.
#[derive(Debug)]
struct FamilyEntry {
    metadata: Metadata,
    /// Last iteration a metadata line named the family.
    last_iter: u32,
    /// Last iteration the metadata changed (0: never, a family created without content).
    changed_iter: u32,
}

/// Which part of a family's metadata a line declares.
#[derive(Debug, Clone, Copy)]
pub(crate) enum MetadataLine<'a> {
    /// `# TYPE`.
    Type(MetricType),
    /// `# HELP`.
    Help(&'a str),
    /// `# UNIT`.
    Unit(&'a str),
}

/// The families of one target.
#[derive(Debug, Default)]
pub(crate) struct FamilyMetadata {
    /// Families in first-seen order: a target lists them in the same order every scrape, so
    /// a metadata line is almost always for the entry at or just after `cursor` (found with
    /// one string comparison, no hashing).
    entries: Vec<FamilyEntry>,
    /// Positions in `entries` by family name, for lines out of the usual order.
    index: HashMap<String, usize, BuildHasherDefault<xxhash_rust::xxh3::Xxh3Default>>,
    /// Where the last metadata line's family is.
    cursor: usize,
    /// The iteration in which some family's metadata last changed: while it is not the
    /// current one, cached series skip the metadata lookup altogether.
    changed_iter: u32,
}

impl FamilyMetadata {
    /// Records one metadata line of iteration `iter`.
    pub(crate) fn set(&mut self, family: &str, line: MetadataLine<'_>, iter: u32) {
        let is_at = |i: usize| {
            self.entries
                .get(i)
                .is_some_and(|e| e.metadata.family == family)
        };
        let pos = if is_at(self.cursor) {
            self.cursor
        } else if is_at(self.cursor + 1) {
            self.cursor + 1
        } else if let Some(&i) = self.index.get(family) {
            i
        } else {
            self.entries.push(FamilyEntry {
                metadata: Metadata {
                    family: family.to_owned(),
                    kind: MetricType::Unknown,
                    help: String::new(),
                    unit: String::new(),
                },
                last_iter: iter,
                changed_iter: 0,
            });
            let i = self.entries.len() - 1;
            self.index.insert(family.to_owned(), i);
            i
        };
        self.cursor = pos;
        let Some(e) = self.entries.get_mut(pos) else {
            return;
        };
        e.last_iter = iter;
        let changed = match line {
            MetadataLine::Type(t) if e.metadata.kind != t => {
                e.metadata.kind = t;
                true
            }
            MetadataLine::Help(h) if e.metadata.help != h => {
                h.clone_into(&mut e.metadata.help);
                true
            }
            MetadataLine::Unit(u) if e.metadata.unit != u => {
                u.clone_into(&mut e.metadata.unit);
                true
            }
            _ => false,
        };
        if changed {
            e.changed_iter = iter;
            self.changed_iter = iter;
        }
    }

    /// Whether some family's metadata changed in iteration `iter`.
    #[inline]
    pub(crate) fn changed_in(&self, iter: u32) -> bool {
        self.changed_iter == iter
    }

    /// The metadata of the family the series `labels` belongs to: the family named like the
    /// series, else the family whose type allows the series' name as a suffixed sample name
    /// (`foo_total` of counter `foo` in OpenMetrics, `foo_bucket` of histogram `foo`).
    /// Prometheus looks up only the exact name, so its suffixed samples carry no metadata;
    /// a sink here learns the family of every sample that has one.
    pub(crate) fn family_of(&self, labels: &Labels, format: Format) -> Option<&Metadata> {
        let name = labels.get(METRIC_NAME)?;
        if let Some(e) = self.get(name) {
            return Some(&e.metadata);
        }
        let stem_end = name.rfind('_')?;
        let (stem, suffix) = name.split_at(stem_end);
        let e = self.get(stem)?;
        e.metadata
            .kind
            .suffixes(format)
            .contains(&suffix)
            .then_some(&e.metadata)
    }

    /// The family metadata of `labels` if it changed in iteration `iter`.
    pub(crate) fn changed_for(
        &self,
        labels: &Labels,
        format: Format,
        iter: u32,
    ) -> Option<&Metadata> {
        let m = self.family_of(labels, format)?;
        let e = self.get(&m.family)?;
        (e.changed_iter == iter).then_some(m)
    }

    /// The entry of the family `name`.
    fn get(&self, name: &str) -> Option<&FamilyEntry> {
        self.index.get(name).and_then(|&i| self.entries.get(i))
    }

    /// Forgets families no metadata line named for more than [`KEEP_ITERATIONS`] iterations.
    pub(crate) fn forget_old(&mut self, iter: u32) {
        let before = self.entries.len();
        self.entries
            .retain(|e| iter.wrapping_sub(e.last_iter) <= KEEP_ITERATIONS);
        if self.entries.len() != before {
            self.index.clear();
            for (i, e) in self.entries.iter().enumerate() {
                self.index.insert(e.metadata.family.clone(), i);
            }
        }
        self.cursor = 0;
    }

    /// Number of families known.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Bytes of the families' names, help texts and units (Prometheus'
    /// `prometheus_target_metadata_cache_bytes` counts the same strings).
    pub(crate) fn bytes(&self) -> usize {
        self.entries
            .iter()
            .map(|e| e.metadata.family.len() + e.metadata.help.len() + e.metadata.unit.len())
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffixed_samples_find_their_family_by_type() {
        let mut m = FamilyMetadata::default();
        m.set("foo", MetadataLine::Type(MetricType::Counter), 1);
        m.set("foo", MetadataLine::Help("Foos."), 1);
        m.set("h", MetadataLine::Type(MetricType::Histogram), 1);
        let name = |n: &str| Labels::from_pairs([(METRIC_NAME, n)]);
        let fam = |n: &str, f| m.family_of(&name(n), f).map(|m| m.family.clone());
        assert_eq!(fam("foo_total", Format::OpenMetrics), Some("foo".into()));
        assert_eq!(fam("foo_total", Format::Text), None);
        assert_eq!(fam("foo", Format::Text), Some("foo".into()));
        assert_eq!(fam("h_bucket", Format::Text), Some("h".into()));
        assert_eq!(fam("h_total", Format::OpenMetrics), None);
        assert_eq!(fam("bar", Format::Text), None);
        assert!(m.changed_in(1));
        assert!(!m.changed_in(2));
        // The same lines in a later iteration change nothing.
        m.set("foo", MetadataLine::Type(MetricType::Counter), 2);
        assert!(!m.changed_in(2));
        assert!(m.changed_for(&name("foo"), Format::Text, 2).is_none());
        m.set("foo", MetadataLine::Help("Other."), 3);
        assert_eq!(
            m.changed_for(&name("foo"), Format::Text, 3)
                .map(|m| m.help.as_str()),
            Some("Other.")
        );
        // "h" was last named in iteration 1, "foo" in 3.
        m.forget_old(12);
        assert_eq!(m.len(), 1);
        m.forget_old(14);
        assert_eq!(m.len(), 0);
    }
}
