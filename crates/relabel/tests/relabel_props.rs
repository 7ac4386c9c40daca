//! Property tests: keep/drop partition, labeldrop+labelkeep, output validity, and the regex
//! fast paths against the engine ("slow twin").

use proptest::prelude::*;
use scrapeline_exposition::labels::{Labels, LabelsBuilder};
use scrapeline_relabel::{self as relabel, Action, Regex, RelabelConfig, Rule};

/// Label names from a small alphabet so rules and labels meet often.
fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("a".to_owned()),
        Just("b".to_owned()),
        Just("__meta_x".to_owned()),
        Just("__meta_y_z".to_owned()),
        Just("job".to_owned()),
        "[a-c_]{1,4}",
        "\\PC{1,3}",
    ]
}

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("foo".to_owned()),
        Just("bar".to_owned()),
        Just("x.y".to_owned()),
        "[a-c.;é]{0,5}",
        "\\PC{0,4}",
    ]
}

fn label_set() -> impl Strategy<Value = Labels> {
    proptest::collection::vec((name(), value()), 0..8).prop_map(|pairs| {
        // Labels never hold empty values.
        Labels::from_pairs(pairs.into_iter().filter(|(_, v)| !v.is_empty()))
    })
}

fn regex() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("(.*)".to_owned()),
        Just(".*".to_owned()),
        Just("(.+)".to_owned()),
        Just("foo|bar".to_owned()),
        Just("__meta_(.+)".to_owned()),
        Just("__meta_(.*)".to_owned()),
        Just("(f)oo".to_owned()),
        Just("([a-c]+)_(.*)".to_owned()),
        Just("(?i)FOO".to_owned()),
        Just(r"\w+".to_owned()),
        Just("".to_owned()),
        "[a-c_]{1,3}",
    ]
}

fn template() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("$1".to_owned()),
        Just("${1}".to_owned()),
        Just("${2}x".to_owned()),
        Just("$0".to_owned()),
        Just("x_$1".to_owned()),
        Just("".to_owned()),
        Just("$".to_owned()),
        "[a-c$]{0,4}",
    ]
}

fn sources() -> impl Strategy<Value = Option<Vec<String>>> {
    proptest::option::of(proptest::collection::vec(name(), 0..3))
}

/// Any rule that validates (invalid ones are filtered out).
fn rule() -> impl Strategy<Value = Rule> {
    (
        sources(),
        regex(),
        template(),
        template(),
        0u64..5,
        proptest::sample::select(Action::ALL.to_vec()),
    )
        .prop_filter_map(
            "invalid rule",
            |(src, re, target, repl, modulus, action)| {
                let c = RelabelConfig {
                    source_labels: src,
                    regex: Some(re),
                    target_label: target,
                    replacement: repl,
                    modulus,
                    ..RelabelConfig::new(action)
                };
                Rule::new(&c, 0).ok()
            },
        )
}

fn apply(rules: &[Rule], ls: &Labels) -> Option<Labels> {
    let mut b = LabelsBuilder::from_labels(ls);
    relabel::relabel(rules, &mut b).then(|| b.labels())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn keep_and_drop_partition(ls in label_set(), src in proptest::collection::vec(name(), 0..3), re in regex()) {
        let mk = |action| {
            let c = RelabelConfig {
                source_labels: Some(src.clone()),
                regex: Some(re.clone()),
                ..RelabelConfig::new(action)
            };
            Rule::new(&c, 0).expect("valid keep/drop")
        };
        let kept = apply(&[mk(Action::Keep)], &ls);
        let dropped = apply(&[mk(Action::Drop)], &ls);
        // Exactly one of them keeps the set, unchanged.
        prop_assert!(kept.is_some() != dropped.is_some());
        prop_assert_eq!(kept.or(dropped), Some(ls));
    }

    #[test]
    fn labelkeep_after_labeldrop_empties(ls in label_set(), re in regex()) {
        let mk = |action| {
            let c = RelabelConfig { regex: Some(re.clone()), ..RelabelConfig::new(action) };
            Rule::new(&c, 0).expect("valid labeldrop/labelkeep")
        };
        let drop = mk(Action::LabelDrop);
        let after_drop = apply(std::slice::from_ref(&drop), &ls).expect("labeldrop keeps the set");
        // labeldrop removed exactly the matching names.
        for l in &ls {
            prop_assert_eq!(after_drop.get(l.name).is_some(), !drop.regex().is_match(l.name));
        }
        let both = apply(&[drop, mk(Action::LabelKeep)], &ls).expect("kept");
        prop_assert!(both.is_empty(), "left {:?}", both);
    }

    #[test]
    fn never_empty_values_or_invalid_names(ls in label_set(), rules in proptest::collection::vec(rule(), 1..5)) {
        if let Some(out) = apply(&rules, &ls) {
            for l in &out {
                prop_assert!(!l.name.is_empty(), "empty name in {:?}", out);
                prop_assert!(!l.value.is_empty(), "empty value in {:?}", out);
            }
        }
    }

    #[test]
    fn fast_paths_equal_engine(ls in label_set(), rules in proptest::collection::vec(rule(), 1..5)) {
        let slow: Vec<Rule> = rules.iter().map(Rule::without_fast_path).collect();
        prop_assert_eq!(apply(&rules, &ls), apply(&slow, &ls));
    }

    #[test]
    fn fast_shapes_equal_engine(
        parts in proptest::collection::vec("[ab.é_-]{0,3}", 1..4),
        shape in 0usize..6,
        hay_parts in proptest::collection::vec("[ab.é_-]{0,3}", 0..3),
        pick in 0usize..4,
    ) {
        let esc = |s: &str| s.replace('.', "\\.").replace('-', "\\-");
        let regex = match shape {
            0 => esc(&parts[0]),
            1 => parts.iter().map(|p| esc(p)).collect::<Vec<_>>().join("|"),
            2 => format!("{}(.*)", esc(&parts[0])),
            3 => format!("{}.+", esc(&parts[0])),
            4 => format!("{}(.+)", esc(&parts[0])),
            _ => format!("{}.*", esc(&parts[0])),
        };
        let c = RelabelConfig {
            source_labels: Some(vec!["a".into()]),
            regex: Some(regex.clone()),
            target_label: "t_$1".into(),
            replacement: "<$0|$1|${1}x>".into(),
            ..RelabelConfig::new(Action::Replace)
        };
        let fast = Rule::new(&c, 0).expect("valid");
        prop_assert!(fast.regex().has_fast_path(), "{} has no fast path", regex);
        let slow = fast.without_fast_path();
        // A haystack that often matches: one of the literals plus maybe more text.
        let hay = format!("{}{}", parts[pick % parts.len()], hay_parts.concat());
        prop_assert_eq!(fast.regex().is_match(&hay), slow.regex().is_match(&hay));
        let ls = Labels::from_pairs([("a", hay.as_str()), ("z", "1")]);
        prop_assert_eq!(apply(std::slice::from_ref(&fast), &ls), apply(&[slow], &ls));
        // labelmap over names uses the same paths.
        let lm = RelabelConfig {
            regex: Some(regex.clone()),
            replacement: "m_${1}".into(),
            ..RelabelConfig::new(Action::LabelMap)
        };
        let lm = Rule::new(&lm, 0).expect("valid labelmap");
        let names = Labels::from_pairs([(hay.as_str(), "v"), ("zz", "w")]);
        if !hay.is_empty() {
            prop_assert_eq!(apply(std::slice::from_ref(&lm), &names), apply(&[lm.without_fast_path()], &names));
        }
    }

    #[test]
    fn any_pattern_compiles_or_errors_without_panic(
        pattern in "[\\\\()\\[\\]{}|*+?.^$:<>PpQEdDwWsSbBx0-9a-zA-Z,=!&~é-]{0,16}",
        hay in "\\PC{0,8}",
        template in "[$0-9a-z{}]{0,6}",
    ) {
        match Regex::new(&pattern) {
            Ok(re) => {
                let _ = re.is_match(&hay);
                let c = RelabelConfig {
                    source_labels: Some(vec!["a".into()]),
                    regex: Some(pattern.clone()),
                    target_label: "t".into(),
                    replacement: template,
                    ..RelabelConfig::new(Action::Replace)
                };
                let rule = Rule::new(&c, 0).expect("a valid regex makes a valid rule");
                let ls = Labels::from_pairs([("a", hay.as_str())]);
                let _ = apply(&[rule], &ls);
            }
            Err(e) => prop_assert!(e.message.starts_with("error parsing regexp: "), "{}", e),
        }
    }
}
