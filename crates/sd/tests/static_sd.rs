//! static_configs: Prometheus' group shape (source = index, one target per address).

use scrapeline_exposition::Labels;
use scrapeline_sd::config::StaticConfig;
use scrapeline_sd::static_sd::static_groups;

#[test]
fn static_groups_match_prometheus() {
    let cfgs: Vec<StaticConfig> = serde_saphyr::from_str(
        "- targets: ['a:1', 'b:2']\n  labels: {env: prod}\n- targets: ['c:3']\n",
    )
    .unwrap();
    let g = static_groups(&cfgs);
    assert_eq!(g.len(), 2);
    assert_eq!(g[0].source, "0");
    assert_eq!(
        g[0].targets,
        vec![
            Labels::from_pairs([("__address__", "a:1")]),
            Labels::from_pairs([("__address__", "b:2")])
        ]
    );
    assert_eq!(g[0].labels, Labels::from_pairs([("env", "prod")]));
    assert_eq!(g[1].source, "1");
    assert_eq!(
        g[1].targets,
        vec![Labels::from_pairs([("__address__", "c:3")])]
    );
    assert_eq!(g[1].labels, Labels::empty());
}

#[test]
fn unknown_keys_are_rejected() {
    let e = serde_saphyr::from_str::<Vec<StaticConfig>>("- targets: ['a:1']\n  lables: {}\n")
        .unwrap_err();
    assert!(e.to_string().contains("lables"), "{e}");
}
