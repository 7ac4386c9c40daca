//! Every case in `testdata/prometheus/relabel-cases.json` (Prometheus' own test vectors, validation
//! cases, whole-config cases, template patterns, YAML parse cases and hashmod examples).

use scrapeline_exposition::labels::{Labels, LabelsBuilder};
use scrapeline_relabel::{
    self as relabel, Action, NameValidation, RelabelConfig, Rule, RuleKind, compile_entries,
};
use serde::Deserialize;
use serde_json::Value;

const CASES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../testdata/prometheus/relabel-cases.json"
);

fn cases() -> Value {
    let text = std::fs::read_to_string(CASES).expect("read cases.json");
    serde_json::from_str(&text).expect("parse cases.json")
}

fn list<'a>(v: &'a Value, key: &str) -> &'a Vec<Value> {
    v[key].as_array().unwrap_or_else(|| panic!("{key} missing"))
}

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

fn scheme(case: &Value) -> NameValidation {
    match case["name_validation_scheme"].as_str() {
        Some("legacy") => NameValidation::Legacy,
        _ => NameValidation::Utf8,
    }
}

/// A complete config from the JSON (defaults explicit). A `(.*)` regex and an empty
/// `source_labels` count as "not written", as the Go test harness fills them in.
fn config_from_json(c: &Value, zero_values: bool) -> RelabelConfig {
    let sources: Vec<String> = c["source_labels"]
        .as_array()
        .map(|a| a.iter().map(s).collect())
        .unwrap_or_default();
    let regex = s(&c["regex"]);
    let action = s(&c["action"]);
    RelabelConfig {
        source_labels: (!sources.is_empty()).then_some(sources),
        separator: s(&c["separator"]),
        regex: if regex == "(.*)" || (zero_values && regex.is_empty()) {
            None
        } else {
            Some(regex)
        },
        modulus: c["modulus"].as_u64().unwrap_or(0),
        target_label: s(&c["target_label"]),
        replacement: s(&c["replacement"]),
        action: if action.is_empty() {
            None
        } else {
            Some(Action::parse(&action).expect("known action"))
        },
    }
}

fn labels_from_json(v: &Value) -> Labels {
    let obj = v.as_object().expect("label object");
    Labels::from_pairs(obj.iter().map(|(k, v)| (k.clone(), s(v))))
}

fn run_relabel_case(case: &Value) {
    let name = s(&case["name"]);
    let configs: Vec<RelabelConfig> = list(case, "relabel_configs")
        .iter()
        .map(|c| config_from_json(c, false))
        .collect();
    let rules = relabel::compile_with(&configs, scheme(case))
        .unwrap_or_else(|e| panic!("{name}: rules rejected: {e}"));
    let mut b = LabelsBuilder::from_labels(&labels_from_json(&case["input"]));
    let kept = relabel::relabel(&rules, &mut b);
    match &case["output"] {
        Value::Null => assert!(!kept, "{name}: expected dropped, got {:?}", b.labels()),
        out => {
            assert!(kept, "{name}: dropped, expected {out}");
            assert_eq!(b.labels(), labels_from_json(out), "{name}");
        }
    }
    // The slow twin (no regex fast paths) gives the same result.
    let slow: Vec<Rule> = rules.iter().map(Rule::without_fast_path).collect();
    let mut b2 = LabelsBuilder::from_labels(&labels_from_json(&case["input"]));
    assert_eq!(relabel::relabel(&slow, &mut b2), kept, "{name} (slow)");
    if kept {
        assert_eq!(b2.labels(), b.labels(), "{name} (slow)");
    }
}

#[test]
fn relabel_cases() {
    let all = cases();
    let v = list(&all, "relabel_cases");
    assert_eq!(v.len(), 34);
    for case in v {
        run_relabel_case(case);
    }
}

#[test]
fn extra_cases() {
    let all = cases();
    let v = list(&all, "extra_cases");
    assert_eq!(v.len(), 22);
    for case in v {
        run_relabel_case(case);
    }
}

#[test]
fn extra_cases_from_yaml() {
    // Cases that carry their rules as YAML must give the same result through serde.
    let all = cases();
    let mut n = 0;
    for case in list(&all, "extra_cases") {
        let Some(yaml) = case["yaml"].as_str() else {
            continue;
        };
        n += 1;
        let configs: Vec<RelabelConfig> = serde_saphyr::from_str(yaml).expect("yaml rules");
        let rules = relabel::compile(&configs).expect("valid rules");
        let mut b = LabelsBuilder::from_labels(&labels_from_json(&case["input"]));
        let kept = relabel::relabel(&rules, &mut b);
        match &case["output"] {
            Value::Null => assert!(!kept),
            out => assert_eq!(b.labels(), labels_from_json(out), "{}", case["name"]),
        }
    }
    assert!(n >= 1);
}

#[test]
fn validation_cases() {
    let all = cases();
    let v = list(&all, "validation_cases");
    assert_eq!(v.len(), 10);
    for case in v {
        let name = s(&case["name"]);
        let config = config_from_json(&case["effective_config"], true);
        let got = Rule::with_validation(&config, 3, scheme(case));
        match case["error"].as_str() {
            None => assert!(got.is_ok(), "{name}: {:?}", got.err()),
            Some(want) => {
                let e = got.err().unwrap_or_else(|| panic!("{name}: accepted"));
                assert_eq!(e.index, 3);
                assert!(e.message.contains(want), "{name}: {e} lacks {want}");
                assert!(e.to_string().starts_with("relabel rule 3: "), "{e}");
            }
        }
    }
}

/// Just the relabel parts of a prometheus.yml.
#[derive(Deserialize)]
struct PromFile {
    global: Option<Global>,
    scrape_configs: Option<Vec<Job>>,
}

#[derive(Deserialize)]
struct Global {
    metric_name_validation_scheme: Option<String>,
}

#[derive(Deserialize)]
struct Job {
    metric_name_validation_scheme: Option<String>,
    relabel_configs: Option<Vec<Option<RelabelConfig>>>,
    metric_relabel_configs: Option<Vec<Option<RelabelConfig>>>,
}

/// go-yaml's wording where serde-saphyr words an error differently (what a binary that wants
/// Prometheus' exact messages renders YAML errors with).
struct GoYamlWording;

impl serde_saphyr::MessageFormatter for GoYamlWording {
    fn format_message<'a>(&self, err: &'a serde_saphyr::Error) -> std::borrow::Cow<'a, str> {
        match err {
            serde_saphyr::Error::InvalidBinaryBase64 { .. } => {
                "!!binary value contains invalid base64 data".into()
            }
            e => serde_saphyr::DefaultMessageFormatter.format_message(e),
        }
    }
}

fn check_file(yaml: &str) -> Result<(), String> {
    let f: PromFile = serde_saphyr::from_str(yaml)
        .map_err(|e: serde_saphyr::Error| e.render_with_formatter(&GoYamlWording))?;
    let global = f
        .global
        .and_then(|g| g.metric_name_validation_scheme)
        .unwrap_or_default();
    for job in f.scrape_configs.unwrap_or_default() {
        let sch = match job
            .metric_name_validation_scheme
            .as_deref()
            .unwrap_or(&global)
        {
            "legacy" => NameValidation::Legacy,
            _ => NameValidation::Utf8,
        };
        compile_entries(
            &job.relabel_configs.unwrap_or_default(),
            RuleKind::Target,
            sch,
        )
        .map_err(|e| e.to_string())?;
        compile_entries(
            &job.metric_relabel_configs.unwrap_or_default(),
            RuleKind::Metric,
            sch,
        )
        .map_err(|e| e.to_string())?;
    }
    Ok(())
}

#[test]
fn config_file_cases() {
    let all = cases();
    let v = list(&all, "config_file_cases");
    assert_eq!(v.len(), 37);
    for case in v {
        let name = s(&case["name"]);
        let got = check_file(case["yaml"].as_str().unwrap_or_default());
        match case["error"].as_str() {
            None => assert!(got.is_ok(), "{name}: {:?}", got.err()),
            Some(want) => {
                let e = got.err().unwrap_or_else(|| panic!("{name}: accepted"));
                assert!(e.contains(want), "{name}: {e:?} lacks {want:?}");
            }
        }
    }
}

#[test]
fn template_cases() {
    let all = cases();
    let v = list(&all, "template_cases");
    assert_eq!(v.len(), 16);
    for case in v {
        let target = s(&case["target_label"]);
        let config = RelabelConfig {
            source_labels: Some(vec!["a".into()]),
            target_label: target.clone(),
            ..RelabelConfig::new(Action::Replace)
        };
        let want = case["valid_legacy"].as_bool().expect("valid_legacy");
        let got = Rule::with_validation(&config, 0, NameValidation::Legacy);
        assert_eq!(got.is_ok(), want, "{target}: {:?}", got.err());
        if !want {
            let e = got.expect_err("error");
            assert_eq!(e.field, "target_label");
            assert_eq!(
                e.message,
                format!(
                    "{} is invalid 'target_label' for replace action",
                    serde_json::to_string(&target).expect("quote")
                )
            );
        }
        // utf8 accepts every non-empty template.
        assert!(Rule::new(&config, 0).is_ok(), "{target}");
    }
}

#[test]
fn parse_cases() {
    let all = cases();
    let v = list(&all, "parse_cases");
    assert_eq!(v.len(), 21);
    for case in v {
        let name = s(&case["name"]);
        let got: RelabelConfig = serde_saphyr::from_str(case["yaml"].as_str().unwrap_or(""))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let want = &case["effective"];
        let sources: Vec<String> = want["source_labels"]
            .as_array()
            .map(|a| a.iter().map(s).collect())
            .unwrap_or_default();
        assert_eq!(got.source_labels(), sources.as_slice(), "{name}");
        assert_eq!(got.separator, s(&want["separator"]), "{name}");
        assert_eq!(got.regex_str(), s(&want["regex"]), "{name}");
        assert_eq!(got.modulus, want["modulus"].as_u64().unwrap_or(0), "{name}");
        assert_eq!(got.target_label, s(&want["target_label"]), "{name}");
        assert_eq!(got.replacement, s(&want["replacement"]), "{name}");
        assert_eq!(
            got.action.map(Action::as_str),
            Some(s(&want["action"]).as_str()),
            "{name}"
        );
        Rule::new(&got, 0).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn hashmod_examples() {
    let all = cases();
    let v = list(&all, "hashmod_examples");
    assert_eq!(v.len(), 4);
    for case in v {
        let value = s(&case["value"]);
        let modulus = case["modulus"].as_u64().expect("modulus");
        let want = case["result"].as_u64().expect("result");
        assert_eq!(relabel::hashmod(&value, modulus), want, "{value:?}");
    }
}

#[test]
fn case_count_is_144() {
    let all = cases();
    let n: usize = [
        "relabel_cases",
        "extra_cases",
        "validation_cases",
        "config_file_cases",
        "template_cases",
        "parse_cases",
        "hashmod_examples",
    ]
    .iter()
    .map(|k| list(&all, k).len())
    .sum();
    assert_eq!(n, 144);
}
