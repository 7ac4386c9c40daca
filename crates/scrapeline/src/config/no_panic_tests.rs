//! Property tests: no configuration text makes [`Config::load_str`] panic (defect 4a: a
//! negative duration did). It is fed arbitrary text, and a valid config with random scalars
//! substituted into its duration, number and string fields.

use proptest::prelude::*;

use super::Config;

/// A valid config touching every kind of field; each `§` is a scalar slot, followed by the
/// value it holds when not mutated.
const TEMPLATE: &str = "\
global:
  scrape_interval: §15s
  scrape_timeout: §10s
  evaluation_interval: §1m
  body_size_limit: §10MB
  sample_limit: §1000
  label_limit: §30
  keep_dropped_targets: §5
  external_labels:
    region: §eu-1
    §replica: §a
scrape_configs:
  - job_name: §node
    scrape_interval: §30s
    scrape_timeout: §5s
    metrics_path: §/metrics
    scheme: §http
    honor_labels: §true
    sample_limit: §100
    target_limit: §10
    label_name_length_limit: §64
    label_value_length_limit: §256
    native_histogram_bucket_limit: §160
    native_histogram_min_bucket_factor: §1.1
    body_size_limit: §1.5MB
    metric_name_validation_scheme: §utf8
    scrape_protocols: [§OpenMetricsText1.0.0, §PrometheusText0.0.4]
    params:
      §module: [§if_mib]
    basic_auth:
      username: §u
      password: §p
    tls_config:
      insecure_skip_verify: §false
      min_version: §TLS12
    static_configs:
      - targets: [§localhost:9100]
        labels: {§env: §prod}
    file_sd_configs:
      - files: [§/etc/t/*.json]
        refresh_interval: §5m
    kubernetes_sd_configs:
      - role: §pod
        api_server: §https://k:6443
        namespaces: {names: [§default]}
        selectors: [{role: §pod, label: §a=b}]
    relabel_configs:
      - source_labels: [§__address__]
        separator: §;
        regex: §(.*):\\d+
        modulus: §8
        target_label: §__tmp_hash
        replacement: §$1
        action: §hashmod
      - action: §labelmap
        regex: §__meta_(.+)
    metric_relabel_configs:
      - source_labels: [§__name__]
        regex: §go_.*
        action: §drop
remote_write:
  - url: §http://127.0.0.1:8428/api/v1/write
    remote_timeout: §30s
    name: §vm
    headers: {§X-Scope-OrgID: §t1}
    queue_config:
      capacity: §10000
      max_shards: §50
      min_shards: §1
      max_samples_per_send: §2000
      batch_send_deadline: §5s
      min_backoff: §30ms
      max_backoff: §5s
      sample_age_limit: §0
    write_relabel_configs:
      - source_labels: [§job]
        regex: §node
        action: §keep
storage:
  retention: §2h
";

/// The template's slots: the text before each slot, and the slot's own value (up to the end of
/// the line, or to the next `,` `]` `}` in flow style, or to a `:` for a key).
fn slots() -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut parts = TEMPLATE.split('§');
    let mut before = parts.next().unwrap_or_default().to_owned();
    for part in parts {
        let end = part.find([',', ']', '}', ':', '\n']).unwrap_or(part.len());
        let (value, rest) = part.split_at(end);
        out.push((std::mem::take(&mut before), value.to_owned()));
        before = rest.to_owned();
    }
    out.push((before, String::new()));
    out
}

/// Scalars that have broken parsers: signs, floats, overflow, YAML's special values, quoting.
fn scalar() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "-1",
            "-1s",
            "NaN",
            ".nan",
            ".inf",
            "-.inf",
            "1e400",
            "1e400s",
            "1.5s",
            "0",
            "0s",
            "",
            "~",
            "null",
            "300y",
            "292y",
            "18446744073709551616",
            "-9223372036854775808",
            "9223372036854775807ms",
            "1s1h",
            "[]",
            "{}",
            "''",
            "\"\\u0000\"",
            "*a",
            "&a x",
            "!!binary AA==",
            "? x",
            "|",
            "- a",
            "0x1F",
            "1_000",
            "EiB",
            "16EiB",
            "(",
            "${X}",
        ])
        .prop_map(str::to_owned),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| format!("{n}ms")),
        any::<f64>().prop_map(|f| f.to_string()),
        "[0-9a-zA-Z.:_\\-+ ]{0,12}",
        "\\PC{0,8}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        let _ = Config::load_str(&text, "p.yml");
    }

    #[test]
    fn yaml_shaped_text_never_panics(text in "[a-z_:\\-\\[\\]{}'\"#|>&*!,0-9. \n]{0,200}") {
        let _ = Config::load_str(&text, "p.yml");
    }

    #[test]
    fn mutated_valid_config_never_panics(
        mutations in prop::collection::vec(prop::option::weighted(0.15, scalar()), 90)
    ) {
        let mut text = String::new();
        for (i, (before, value)) in slots().into_iter().enumerate() {
            text.push_str(&before);
            match mutations.get(i).cloned().flatten() {
                Some(v) => text.push_str(&v),
                None => text.push_str(&value),
            }
        }
        let _ = Config::load_str(&text, "p.yml");
    }
}

/// The template itself is valid, so the mutations start from a config that loads.
#[test]
fn the_template_loads() {
    let text: String = slots()
        .into_iter()
        .map(|(before, value)| before + &value)
        .collect();
    assert_eq!(text, TEMPLATE.replace('§', ""));
    let cfg = Config::load_str(&text, "p.yml").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cfg.scrape_configs.len(), 1);
    assert_eq!(cfg.remote_write.len(), 1);
    assert_eq!(slots().len() - 1, TEMPLATE.matches('§').count());
}
