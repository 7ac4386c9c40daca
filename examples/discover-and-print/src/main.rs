//! Discovers pods from a `prometheus.yml`, scrapes them and prints every sample with its
//! family type as a JSON line. Usage: `discover-and-print CONFIG [SECONDS]`.
use std::io::Write as _;

use scrapeline::exposition::parser::Format;
use scrapeline::sink::{self, Sample};
use scrapeline::{Config, Pipeline};
use serde_json::{Map, Value, json};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let file = args
        .get(1)
        .ok_or("usage: discover-and-print CONFIG [SECONDS]")?;
    let config = Config::load_file(file.as_ref())?;
    let print = sink::from_fn(|samples: &[Sample]| {
        let mut out = std::io::stdout().lock();
        for s in samples {
            let labels: Map<String, Value> = s
                .labels
                .iter()
                .map(|l| (l.name.into(), l.value.into()))
                .collect();
            let kind = s.kind.as_str(Format::Text);
            let line = json!({"labels": labels, "type": kind, "value": s.value,
                "timestamp_ms": s.timestamp_ms});
            let _ = writeln!(out, "{line}");
        }
    });
    let pipeline = Pipeline::builder(config).sink(print).start()?;
    match args.get(2) {
        Some(s) => tokio::time::sleep(std::time::Duration::from_secs(s.parse()?)).await,
        None => tokio::signal::ctrl_c().await?,
    }
    pipeline.shutdown().await;
    Ok(())
}
