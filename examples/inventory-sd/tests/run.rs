//! Runs the example with an inventory naming two farm targets, checks that both are scraped
//! with the inventory's labels, then removes one host from the file and checks it goes.

use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::time::Duration;

use scrapeline_testkit::farm::{Behavior, Farm};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inventory_hosts_are_scraped_with_their_labels() {
    let (db, web) = (Farm::start().await, Farm::start().await);
    db.set("/metrics", Behavior::text("queries_total 10\n"));
    web.set("/metrics", Behavior::text("requests_total 20\n"));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let inventory = dir.path().join("hosts.json");
    let host = |name: &str, f: &Farm, rack: &str| {
        format!(
            r#"{{"name": "{name}", "address": "{}", "labels": {{"rack": "{rack}", "team-owner": "ops"}}}}"#,
            f.addr()
        )
    };
    let both = format!(
        r#"{{"hosts": [{}, {}]}}"#,
        host("db-1", &db, "r1"),
        host("web-1", &web, "r2")
    );
    std::fs::write(&inventory, both).unwrap_or_else(|e| panic!("{e}"));
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        "scrape_configs:\n  - job_name: inventory\n    scrape_interval: 300ms\n    \
         scrape_timeout: 300ms\n    relabel_configs:\n      - source_labels: \
         [__meta_inventory_name]\n        target_label: host\n      - regex: \
         __meta_inventory_label_(.+)\n        action: labelmap\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let child = Command::new(env!("CARGO_BIN_EXE_inventory-sd"))
        .arg(&config)
        .arg(&inventory)
        .arg("8")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    // Two seconds with both hosts, then `web-1` leaves the inventory.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let only_db = format!(r#"{{"hosts": [{}]}}"#, host("db-1", &db, "r1"));
    std::fs::write(&inventory, only_db).unwrap_or_else(|e| panic!("{e}"));
    let web_hits = |f: &Farm| f.hits("/metrics");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let web_after_removal = web_hits(&web);
    let out = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: BTreeSet<&str> = stdout
        .lines()
        .filter(|l| {
            l.starts_with("{__name__=\"queries_total\"")
                || l.starts_with("{__name__=\"requests_total\"")
        })
        // End-of-run stale markers of the removed host are not the scraped values.
        .filter(|l| !l.ends_with(" NaN"))
        .collect();
    let want: BTreeSet<String> = [
        format!(
            "{{__name__=\"queries_total\", host=\"db-1\", instance=\"{}\", job=\"inventory\", rack=\"r1\", team_owner=\"ops\"}} 10",
            db.addr()
        ),
        format!(
            "{{__name__=\"requests_total\", host=\"web-1\", instance=\"{}\", job=\"inventory\", rack=\"r2\", team_owner=\"ops\"}} 20",
            web.addr()
        ),
    ]
    .into_iter()
    .collect();
    assert_eq!(lines, want.iter().map(String::as_str).collect(), "{stdout}");
    // The removed host is no longer scraped (at most one scrape in flight when it went).
    assert!(web_hits(&web) <= web_after_removal + 1);
    assert!(
        db.hits("/metrics") > web_hits(&web),
        "db keeps being scraped"
    );
}
