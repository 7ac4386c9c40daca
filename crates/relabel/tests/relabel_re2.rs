//! Differential test against Go's `regexp` (RE2): 1,300 random patterns built from RE2 tokens
//! (Perl classes, `\Q…\E`, octal, flags, counted repeats, classes with `&&`/`[`, named groups,
//! escapes Go rejects), compiled as Prometheus does (`^(?s:RE)$`). For each, the fixture holds
//! whether Go accepted it and, per haystack, Go's `MatchString` and
//! `ExpandString("[$0|$1|$2]")` of the first match; ours must agree on all of them.
//! Fixture: `relabel_re2_go.json`, produced with Go 1.19's `regexp` (Debian's `golang-go`) by
//! the generator and program at the end of this file.

use scrapeline_exposition::labels::{Labels, LabelsBuilder};
use scrapeline_relabel::{self as relabel, Action, RelabelConfig, Rule};
use serde_json::Value;

const FIXTURE: &str = include_str!("relabel_re2_go.json");

#[test]
fn agrees_with_go_regexp() {
    let v: Value = serde_json::from_str(FIXTURE).expect("fixture");
    let cases = v["cases"].as_array().expect("cases");
    assert!(cases.len() >= 1000);
    let (mut accepted, mut checked) = (0, 0);
    for c in cases {
        let re = c["re"].as_str().expect("re");
        let cfg = RelabelConfig {
            source_labels: Some(vec!["a".into()]),
            regex: Some(re.into()),
            target_label: "t".into(),
            replacement: "[$0|$1|$2]".into(),
            ..RelabelConfig::new(Action::Replace)
        };
        let rule = Rule::new(&cfg, 0);
        let go_ok = c["ok"].as_bool().expect("ok");
        assert_eq!(rule.is_ok(), go_ok, "accept {re:?}: {:?}", rule.err());
        let Ok(rule) = rule else { continue };
        accepted += 1;
        let hays = c["hays"].as_array().expect("hays");
        for (i, h) in hays.iter().enumerate() {
            let h = h.as_str().expect("hay");
            let want_match = c["matches"][i].as_bool().expect("match");
            assert_eq!(rule.regex().is_match(h), want_match, "{re:?} on {h:?}");
            let mut b = LabelsBuilder::from_labels(&Labels::from_pairs([("a", h)]));
            assert!(relabel::relabel(std::slice::from_ref(&rule), &mut b));
            let got = b.get("t").unwrap_or("-");
            assert_eq!(got, c["sub"][i].as_str().expect("sub"), "{re:?} on {h:?}");
            checked += 1;
        }
    }
    assert!(accepted >= 800 && checked >= 6000, "{accepted} {checked}");
}

// How the fixture was made (seed 11, 8,000 patterns; 900 accepted and 400 rejected ones kept,
// 8 haystacks each).
//
// gen.py:
//     import random, json
//     random.seed(11)
//     toks = ['a','b','c','.','\\d','\\w','\\s','\\b','\\B','\\D','\\W','\\S','*','+','?','*?','+?','{2}','{1,3}','{,2}','{2,}','{1001}','(',')','(?:','(?i)','(?s)','(?m)','(?U)','(?x)','(?i:','|','[ab]','[^a]','[a-c]','[\\d_]','[[:alpha:]]','[]a]','[a-]','\\Q.*\\E','\\Qa','\\101','\\0','\\1','\\x41','\\x{42}','\\pL','\\p{Greek}','\\PN','^','$','\\A','\\z','{','}','\\.','\\-','\\_','é','\n',' ','#','&&','[a&&b]','[[a]','\\e','\\u0041','(?P<n>','(?P<1x>','\\<','\\>','**','\\Z','\\C','[z-a]','(?-)','(?i-s:', 'K', 'k', 'ſ', 's']
//     hay_alpha = ['a','b','c','A','B','1','2','_',' ','\n','\t','\x0b','é','K','ſ','.','-','[',']','{','}','&','#','α','Ⅳ','٣','ß']
//     cases=[]
//     for i in range(8000):
//         n=random.randint(2,9)
//         pat=''.join(random.choice(toks) for _ in range(n))
//         hays=[''.join(random.choice(hay_alpha) for _ in range(random.randint(0,5))) for _ in range(12)]
//         cases.append({'re':pat,'hays':hays})
//     json.dump(cases,open('/tmp/gore/cases.json','w'))
//
// main.go (`GO111MODULE=off go build`, run as `gore cases.json go.json`):
//     package main
//
//     import (
//     	"encoding/json"
//     	"os"
//     	"regexp"
//     )
//
//     type c struct {
//     	Re   string   `json:"re"`
//     	Hays []string `json:"hays"`
//     }
//     type r struct {
//     	Ok      bool     `json:"ok"`
//     	Matches []bool   `json:"matches"`
//     	Sub     []string `json:"sub"`
//     }
//
//     func main() {
//     	raw, _ := os.ReadFile(os.Args[1])
//     	var cs []c
//     	json.Unmarshal(raw, &cs)
//     	out := make([]r, len(cs))
//     	for i, k := range cs {
//     		re, err := regexp.Compile("^(?s:" + k.Re + ")$")
//     		if err != nil {
//     			continue
//     		}
//     		out[i].Ok = true
//     		for _, h := range k.Hays {
//     			out[i].Matches = append(out[i].Matches, re.MatchString(h))
//     			idx := re.FindStringSubmatchIndex(h)
//     			s := "-"
//     			if idx != nil {
//     				s = string(re.ExpandString(nil, "[$0|$1|$2]", h, idx))
//     			}
//     			out[i].Sub = append(out[i].Sub, s)
//     		}
//     	}
//     	b, _ := json.Marshal(out)
//     	os.WriteFile(os.Args[2], b, 0o644)
//     }
