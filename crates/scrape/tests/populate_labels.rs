//! The 18 `TestPopulateLabels` cases (`testdata/prometheus/populate-labels-cases.json`).

use std::collections::BTreeMap;

use scrapeline_common::duration::PromDuration;
use scrapeline_exposition::{Labels, LabelsBuilder};
use scrapeline_scrape::ScrapeConfig;
use scrapeline_scrape::target::populate_labels;
use scrapeline_sd::relabel::{RelabelConfig, compile};
use serde_json::Value;

fn cases_json() -> String {
    let path = format!(
        "{}/../../testdata/prometheus/populate-labels-cases.json",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn labels(v: &Value) -> Labels {
    let m: BTreeMap<String, String> = serde_json::from_value(v.clone()).unwrap();
    Labels::from_pairs(m)
}

fn config(v: &Value) -> (ScrapeConfig, Vec<RelabelConfig>) {
    let mut c = ScrapeConfig::new(v["job_name"].as_str().unwrap());
    c.scheme = v["scheme"].as_str().unwrap().into();
    c.metrics_path = v["metrics_path"].as_str().unwrap().into();
    c.scrape_interval = Some(
        v["scrape_interval"]
            .as_str()
            .unwrap()
            .parse::<PromDuration>()
            .unwrap(),
    );
    c.scrape_timeout = Some(
        v["scrape_timeout"]
            .as_str()
            .unwrap()
            .parse::<PromDuration>()
            .unwrap(),
    );
    c.params = serde_json::from_value(v["params"].clone()).unwrap();
    c.convert_classic_histograms_to_nhcb = v["convert_classic_histograms_to_nhcb"].as_bool();
    c.always_scrape_classic_histograms = v["always_scrape_classic_histograms"].as_bool();
    c.scrape_native_histograms = v["scrape_native_histograms"].as_bool();
    let rc: Vec<RelabelConfig> = v["relabel_configs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            // The JSON spells defaults out; feed them through YAML as a user would write them.
            let mut m = r.as_object().unwrap().clone();
            if m.get("modulus") == Some(&Value::from(0)) {
                m.remove("modulus");
            }
            let yaml = serde_json::to_string(&Value::Object(m)).unwrap();
            serde_saphyr::from_str(&yaml).unwrap()
        })
        .collect();
    (c, rc)
}

#[test]
fn all_populate_labels_cases() {
    let doc: Value = serde_json::from_str(&cases_json()).unwrap();
    let cases = doc["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 18);
    let mut lb = LabelsBuilder::new();
    let mut checked = 0;
    for case in cases {
        let name = case["name"].as_str().unwrap();
        if case.get("target_labels_bytes_hex").is_some() {
            // Case 6: a label value that is not UTF-8. Our label sets are `str`, so such a
            // value cannot reach population at all: the bytes are rejected where they enter.
            let hex = case["target_labels_bytes_hex"]["custom"].as_str().unwrap();
            let bytes: Vec<u8> = (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
                .collect();
            assert!(String::from_utf8(bytes).is_err(), "{name}");
            assert_eq!(
                case["error"].as_str().unwrap(),
                r#"invalid label value for "custom": "\xbd""#
            );
            checked += 1;
            continue;
        }
        let (cfg, rc) = config(&case["scrape_config"]);
        let rules = compile(&rc).unwrap();
        let res = populate_labels(
            &mut lb,
            &cfg,
            &rules,
            &labels(&case["target_labels"]),
            &labels(&case["group_labels"]),
        );
        match case["error"].as_str() {
            Some(err) => assert_eq!(res.unwrap_err().to_string(), err, "{name}"),
            None => {
                let p = res.unwrap_or_else(|e| panic!("{name}: {e}"));
                assert_eq!(p.discovered, labels(&case["discovered_labels"]), "{name}");
                assert_eq!(p.labels.unwrap(), labels(&case["labels"]), "{name}");
            }
        }
        checked += 1;
    }
    assert_eq!(checked, 18);
}

#[test]
fn group_labels_do_not_override_target_labels_and_params_from_sd_win() {
    let mut cfg = ScrapeConfig::new("j");
    cfg.scrape_interval = Some(PromDuration::from_secs(15));
    cfg.scrape_timeout = Some(PromDuration::from_secs(10));
    cfg.params
        .insert("module".into(), vec!["cfg".into(), "second".into()]);
    cfg.params.insert("other".into(), vec!["o".into()]);
    let target = Labels::from_pairs([
        ("__address__", "h:9100"),
        ("team", "t"),
        ("__param_module", "sd"),
        ("__meta_x", "y"),
    ]);
    let group = Labels::from_pairs([("team", "g"), ("zone", "z")]);
    let mut lb = LabelsBuilder::new();
    let p = populate_labels(&mut lb, &cfg, &[], &target, &group).unwrap();
    let l = p.labels.unwrap();
    assert_eq!(
        l.to_string(),
        r#"{__address__="h:9100", __always_scrape_classic_histograms__="false", __convert_classic_histograms_to_nhcb__="false", __metrics_path__="/metrics", __param_module="sd", __param_other="o", __scheme__="http", __scrape_interval__="15s", __scrape_native_histograms__="false", __scrape_timeout__="10s", instance="h:9100", job="j", team="t", zone="z"}"#
    );
    assert_eq!(p.discovered.get("__meta_x"), Some("y"));
    assert_eq!(
        scrapeline_scrape::target::target_url(&l, &cfg),
        "http://h:9100/metrics?module=sd&module=second&other=o"
    );
}

/// A target that fails (an Ingress rule without a host: empty `__address__`) keeps the labels
/// it was discovered with beside the error, as `promtool check service-discovery` prints them.
#[test]
fn failed_target_keeps_its_discovered_labels() {
    let mut cfg = ScrapeConfig::new("ing");
    cfg.scrape_interval = Some(PromDuration::from_secs(30));
    let target = Labels::from_pairs([
        ("__address__", ""),
        ("__meta_kubernetes_ingress_host", ""),
        ("__meta_kubernetes_ingress_path", "/"),
        ("__meta_kubernetes_ingress_scheme", "http"),
    ]);
    let group = Labels::from_pairs([
        ("__meta_kubernetes_namespace", "default"),
        ("__meta_kubernetes_ingress_name", "web"),
    ]);
    let mut lb = LabelsBuilder::new();
    let f = scrapeline_scrape::target::populate_target(&mut lb, &cfg, &[], &target, &group)
        .unwrap_err();
    assert_eq!(f.error, scrapeline_scrape::PopulateError::NoAddress);
    assert_eq!(f.to_string(), "no address");
    // Empty values are absent labels (Prometheus' builder drops them): no `__address__`.
    assert_eq!(
        f.discovered.to_string(),
        r#"{__always_scrape_classic_histograms__="false", __convert_classic_histograms_to_nhcb__="false", __meta_kubernetes_ingress_name="web", __meta_kubernetes_ingress_path="/", __meta_kubernetes_ingress_scheme="http", __meta_kubernetes_namespace="default", __metrics_path__="/metrics", __scheme__="http", __scrape_interval__="30s", __scrape_native_histograms__="false", __scrape_timeout__="10s", job="ing"}"#
    );
    // populate_labels gives the same error.
    assert_eq!(
        populate_labels(&mut lb, &cfg, &[], &target, &group).unwrap_err(),
        scrapeline_scrape::PopulateError::NoAddress
    );
}
