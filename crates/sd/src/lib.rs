//! Target discovery: Prometheus' `discovery` package.
//!
//! Discoverers find what to scrape and describe each target as a label set, in
//! [`TargetGroup`]s; the discovery [`Manager`](discovery::Manager) runs one discoverer per
//! distinct SD config, shares equal ones across jobs, throttles updates and publishes per-job
//! snapshots that the scrape manager (`scrapeline-scrape`) consumes as they are. Kubernetes
//! (six roles over list/watch), file and static discovery are built in; an embedder plugs in
//! its own by implementing [`Discoverer`](discovery::Discoverer).
//!
//! # Example: a discoverer of your own, beside a static config
//!
//! ```
//! use futures::future::BoxFuture;
//! use scrapeline_exposition::Labels;
//! use scrapeline_sd::TargetGroup;
//! use scrapeline_sd::config::StaticConfig;
//! use scrapeline_sd::discovery::{
//!     CustomSd, Discoverer, DiscovererError, ManagerOptions, SdConfigs, discover_once,
//! };
//! use tokio::sync::mpsc;
//!
//! /// Hosts from an inventory the organisation already keeps (here: a fixed list).
//! struct Inventory(Vec<&'static str>);
//!
//! impl Discoverer for Inventory {
//!     fn run(
//!         self: Box<Self>,
//!         out: mpsc::Sender<Vec<TargetGroup>>,
//!     ) -> BoxFuture<'static, Result<(), DiscovererError>> {
//!         Box::pin(async move {
//!             let targets = self.0.iter().map(|h| Labels::from_pairs([("__address__", *h)]));
//!             let group = TargetGroup {
//!                 source: "inventory".into(),
//!                 targets: targets.collect(),
//!                 labels: Labels::from_pairs([("dc", "eu-1")]),
//!             };
//!             // The first batch is the complete set; later ones replace groups by source.
//!             if out.send(vec![group]).await.is_ok() {
//!                 out.closed().await;
//!             }
//!             Ok(())
//!         })
//!     }
//! }
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let job = SdConfigs {
//!     static_configs: vec![StaticConfig { targets: vec!["localhost:9100".into()], ..Default::default() }],
//!     custom: vec![CustomSd::new("inventory", "hosts.json", || {
//!         Box::new(Inventory(vec!["10.0.0.1:9100", "10.0.0.2:9100"]))
//!     })],
//!     ..Default::default()
//! };
//! let snapshot = discover_once(
//!     vec![("node".to_string(), job)],
//!     ManagerOptions::default(),
//!     std::time::Duration::from_secs(5),
//! )
//! .await
//! .unwrap();
//! let addresses: Vec<&str> = snapshot["node"]
//!     .iter()
//!     .flat_map(|g| g.targets.iter())
//!     .filter_map(|t| t.get("__address__"))
//!     .collect();
//! assert_eq!(addresses, ["localhost:9100", "10.0.0.1:9100", "10.0.0.2:9100"]);
//! # });
//! ```
//!
//! # Where to start
//! - [`TargetGroup`]: what every discoverer produces — full replacement groups keyed by source.
//! - [`discovery`]: the manager, the [`Discoverer`](discovery::Discoverer) contract, the update
//!   throttle.
//! - [`config`]: the `*_sd_configs` sections of `prometheus.yml`.
//! - [`kubernetes`]: the six Kubernetes roles over list/watch.
//! - [`relabel`]: the relabel engine (`scrapeline-relabel`), re-exported.

pub mod config;
pub mod discovery;
pub mod file_sd;
pub mod kubernetes;
pub mod metrics;
/// The relabel engine, now its own crate (`scrapeline-relabel`, no Kubernetes dependencies);
/// re-exported here so `scrapeline_sd::relabel` paths keep working.
pub use scrapeline_relabel as relabel;
pub mod static_sd;
pub mod target_group;

pub use target_group::TargetGroup;
