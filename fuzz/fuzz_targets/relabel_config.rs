//! Relabel rules from arbitrary YAML: loading must never panic, and a rule list that compiles
//! must apply to a label set without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scrapeline_exposition::{Labels, LabelsBuilder};
use scrapeline_relabel::{RelabelConfig, compile, relabel};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(configs) = serde_saphyr::from_str::<Vec<RelabelConfig>>(text) else {
        return;
    };
    let Ok(rules) = compile(&configs) else {
        return;
    };
    let labels = Labels::from_pairs([
        ("__address__", "10.0.0.1:8080"),
        ("__meta_kubernetes_pod_name", "web-0"),
        ("job", "pods"),
    ]);
    let mut builder = LabelsBuilder::from_labels(&labels);
    let _ = relabel(&rules, &mut builder);
});
