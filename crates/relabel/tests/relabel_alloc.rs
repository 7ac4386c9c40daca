//! Applying a rule chain that matches nothing allocates nothing (counted with a global
//! allocator). One test per binary: the counter is process-wide.

use std::alloc::System;

use scrapeline_exposition::labels::{Labels, LabelsBuilder};
use scrapeline_relabel::{self as relabel, RelabelConfig};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Rules of every action that, on the target below, change nothing: regexes that do not
/// match (literal, alternation, prefix and engine paths), keep/drop that pass, equal checks
/// that pass, a labelmap and a labeldrop that match no name.
const RULES: &str = r#"
- source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_scrape]
  action: keep
  regex: "true"
- source_labels: [__meta_kubernetes_pod_phase]
  regex: Succeeded|Failed
  action: drop
- source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_scheme]
  target_label: __scheme__
  regex: (https?)
- source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_path]
  target_label: __metrics_path__
  regex: (.+)
- source_labels: [__address__, __meta_kubernetes_pod_annotation_prometheus_io_port]
  target_label: __address__
  regex: (.+?)(\:\d+)?;(\d+)
  replacement: $1:$3
- regex: __meta_kubernetes_pod_annotation_prometheus_io_param_(.+)
  replacement: __param_$1
  action: labelmap
- action: labeldrop
  regex: __tmp_.*
- source_labels: [job]
  target_label: job
  action: keepequal
- source_labels: [__meta_kubernetes_namespace]
  regex: kube-(system|public)
  action: drop
- source_labels: [__meta_kubernetes_pod_name]
  regex: "[0-9]+"
  target_label: numeric
  replacement: "yes"
"#;

#[test]
fn non_matching_chain_allocates_nothing() {
    let configs: Vec<RelabelConfig> = serde_saphyr::from_str(RULES).expect("rules");
    let rules = relabel::compile(&configs).expect("valid");
    let target = Labels::from_pairs([
        ("__address__", "10.1.2.3:8080"),
        ("__meta_kubernetes_namespace", "shop"),
        ("__meta_kubernetes_pod_name", "web-7d9f"),
        ("__meta_kubernetes_pod_phase", "Running"),
        (
            "__meta_kubernetes_pod_annotation_prometheus_io_scrape",
            "true",
        ),
        ("__meta_kubernetes_pod_label_app", "web"),
        ("job", "pods"),
    ]);
    let mut b = LabelsBuilder::from_labels(&target);
    // Warm up: per-thread scratch buffers and the regex engine's caches.
    for _ in 0..3 {
        b.reset(&target);
        assert!(relabel::relabel(&rules, &mut b));
    }
    let region = Region::new(GLOBAL);
    for _ in 0..1000 {
        b.reset(&target);
        assert!(relabel::relabel(&rules, &mut b));
    }
    let stats = region.change();
    assert!(b.equals(&target), "{b:?}");
    assert_eq!(stats.allocations, 0, "{stats:?}");
    assert_eq!(stats.reallocations, 0, "{stats:?}");
}
