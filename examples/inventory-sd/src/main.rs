//! A custom discoverer plugged into the pipeline: hosts from a JSON inventory file that an
//! organisation already keeps, attached to the config's `inventory` job.
//!
//! The inventory is `{"hosts": [{"name", "address", "labels": {..}}]}`; each host becomes a
//! target group `inventory/<name>` with `__address__` and `__meta_inventory_name` /
//! `__meta_inventory_label_<key>` for `relabel_configs`. The file is re-read every second and
//! changed hosts are sent again (the discoverer contract: first the whole set, then changes,
//! an empty group for a removed host). Usage: `inventory-sd CONFIG INVENTORY [SECONDS]`;
//! every scraped sample is printed as `labels value`.

use std::collections::{BTreeMap, HashMap};
use std::io::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use futures::future::BoxFuture;
use scrapeline::exposition::Labels;
use scrapeline::sd::TargetGroup;
use scrapeline::sd::discovery::{CustomSd, Discoverer, DiscovererError, ManagerOptions};
use scrapeline::sink::{self, Sample};
use scrapeline::{Config, Pipeline};
use serde::Deserialize;
use tokio::sync::mpsc;

/// The inventory file.
#[derive(Deserialize)]
struct Inventory {
    hosts: Vec<Host>,
}

/// One host of it.
#[derive(Deserialize)]
struct Host {
    name: String,
    address: String,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

/// Reads the inventory file: one group per host, keyed by source.
fn read_groups(path: &PathBuf) -> Result<HashMap<String, TargetGroup>, DiscovererError> {
    let inventory: Inventory = serde_json::from_slice(&std::fs::read(path)?)?;
    let mut groups = HashMap::new();
    for h in inventory.hosts {
        let mut labels = vec![("__meta_inventory_name".to_owned(), h.name.clone())];
        for (k, v) in h.labels {
            let key = scrapeline::sd::kubernetes::sanitize_label_name(&k);
            labels.push((format!("__meta_inventory_label_{key}"), v));
        }
        let source = format!("inventory/{}", h.name);
        groups.insert(
            source.clone(),
            TargetGroup {
                source,
                targets: vec![Labels::from_pairs([("__address__", h.address.as_str())])],
                labels: Labels::from_pairs(labels),
            },
        );
    }
    Ok(groups)
}

/// The discoverer: polls the file and sends what changed.
struct InventoryDiscoverer {
    path: PathBuf,
}

impl Discoverer for InventoryDiscoverer {
    fn run(
        self: Box<Self>,
        out: mpsc::Sender<Vec<TargetGroup>>,
    ) -> BoxFuture<'static, Result<(), DiscovererError>> {
        Box::pin(async move {
            let mut current = read_groups(&self.path)?;
            if out.send(current.values().cloned().collect()).await.is_err() {
                return Ok(());
            }
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                // A file being rewritten may not parse: keep the last good set.
                let Ok(next) = read_groups(&self.path) else {
                    continue;
                };
                let mut changes: Vec<TargetGroup> = next
                    .iter()
                    .filter(|(s, g)| current.get(*s) != Some(*g))
                    .map(|(_, g)| g.clone())
                    .collect();
                changes.extend(current.keys().filter(|s| !next.contains_key(*s)).map(|s| {
                    TargetGroup {
                        source: s.clone(),
                        targets: Vec::new(),
                        labels: Labels::empty(),
                    }
                }));
                current = next;
                if !changes.is_empty() && out.send(changes).await.is_err() {
                    return Ok(());
                }
            }
        })
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, config, inventory, rest @ ..] = args.as_slice() else {
        return Err("usage: inventory-sd CONFIG INVENTORY [SECONDS]".into());
    };
    let config = Config::load_file(config.as_ref())?;
    let path = PathBuf::from(inventory);
    // The mechanism is keyed by the file: two jobs naming the same file share one discoverer.
    let sd = CustomSd::new("inventory", inventory.clone(), move || {
        Box::new(InventoryDiscoverer { path: path.clone() }) as Box<dyn Discoverer>
    });
    let print = sink::from_fn(|samples: &[Sample]| {
        let mut out = std::io::stdout().lock();
        for s in samples {
            let _ = writeln!(out, "{} {}", s.labels, s.value);
        }
    });
    // Discovery publishes at most one update per second (Prometheus: 5 s).
    let discovery = ManagerOptions {
        update_interval: Duration::from_secs(1),
        ..ManagerOptions::default()
    };
    let pipeline = Pipeline::builder(config)
        .sink(print)
        .discovery_options(discovery)
        .custom_sd("inventory", sd)
        .start()?;
    match rest.first() {
        Some(s) => tokio::time::sleep(Duration::from_secs(s.parse()?)).await,
        None => tokio::signal::ctrl_c().await?,
    }
    pipeline.shutdown().await;
    Ok(())
}
