//! `mini-prometheus sd`: run discovery for a config's jobs and show what each target becomes,
//! like `promtool check service-discovery` and `/api/v1/targets` (`discoveredLabels`, `labels`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use scrapeline_exposition::{Labels, LabelsBuilder};
use scrapeline_scrape::ScrapeConfig;
use scrapeline_scrape::target::populate_target;
use scrapeline_sd::TargetGroup;
use scrapeline_sd::discovery::{self, SdConfigs};
use scrapeline_sd::relabel::{Rule, compile};
use serde_json::{Map, Value, json};

use super::CliError;

/// Arguments of `sd`.
#[derive(Debug, clap::Args)]
pub struct SdArgs {
    /// The Prometheus configuration file.
    #[arg(long = "config", alias = "config.file", value_name = "FILE")]
    config: PathBuf,
    /// Only this job.
    #[arg(long, value_name = "NAME")]
    job: Option<String>,
    /// Print the first complete target set and exit (otherwise print every change).
    #[arg(long)]
    once: bool,
    /// How long `--once` waits for every discoverer's first complete set.
    #[arg(long, default_value = "30s", value_parser = parse_secs)]
    timeout: Duration,
    /// Expand `$VAR` and `${VAR}` in the config file from the environment before parsing.
    #[arg(long = "config.expand-env")]
    expand_env: bool,
}

fn parse_secs(s: &str) -> Result<Duration, String> {
    scrapeline_common::duration::parse_duration(s).map_err(|e| e.to_string())
}

/// Runs discovery and prints, per target, its labels before and after target relabeling.
pub fn run(args: &SdArgs) -> Result<ExitCode, CliError> {
    let config = scrapeline::Config::load_file_with(&args.config, args.expand_env)?;
    let jobs: Vec<&ScrapeConfig> = config
        .scrape_configs
        .iter()
        .filter(|sc| args.job.as_ref().is_none_or(|j| *j == sc.job_name))
        .collect();
    if let Some(job) = &args.job
        && jobs.is_empty()
    {
        return Err(format!("no job named {job:?} in {}", args.config.display()).into());
    }
    let mut compiled = Vec::with_capacity(jobs.len());
    for sc in &jobs {
        let rules =
            compile(&sc.relabel_configs).map_err(|e| format!("job {:?}: {e}", sc.job_name))?;
        compiled.push(((*sc).clone(), rules));
    }
    let sd_jobs: Vec<(String, SdConfigs)> = jobs
        .iter()
        .map(|sc| (sc.job_name.clone(), sc.sd_configs()))
        .collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        if args.once {
            let snapshot = discovery::discover_once(
                sd_jobs,
                scrapeline::discovery_options(Some(&args.config)),
                args.timeout,
            )
            .await?;
            let out = render(&compiled, &snapshot);
            println!("{}", serde_json::to_string_pretty(&out)?);
            return Ok(ExitCode::SUCCESS);
        }
        let manager = discovery::Manager::new(scrapeline::discovery_options(Some(&args.config)));
        manager.set_config(sd_jobs);
        let mut rx = manager.subscribe();
        manager.wait_synced().await;
        loop {
            let snapshot = rx.borrow_and_update().clone();
            println!("{}", serde_json::to_string(&render(&compiled, &snapshot))?);
            tokio::select! {
                r = rx.changed() => if r.is_err() { break },
                _ = tokio::signal::ctrl_c() => break,
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// One JSON object per target, in job order, then group order.
fn render(
    jobs: &[(ScrapeConfig, Vec<Rule>)],
    snapshot: &std::collections::HashMap<String, Vec<Arc<TargetGroup>>>,
) -> Value {
    let mut out = Vec::new();
    let mut lb = LabelsBuilder::new();
    for (sc, rules) in jobs {
        for group in snapshot.get(&sc.job_name).into_iter().flatten() {
            for target in &group.targets {
                let mut obj = Map::new();
                obj.insert("scrapePool".into(), json!(sc.job_name));
                obj.insert("source".into(), json!(group.source));
                match populate_target(&mut lb, sc, rules, target, &group.labels) {
                    Ok(p) => {
                        obj.insert("discoveredLabels".into(), labels_json(&p.discovered));
                        let dropped = p.labels.is_none();
                        obj.insert(
                            "labels".into(),
                            p.labels.as_ref().map(public_labels).unwrap_or(Value::Null),
                        );
                        obj.insert("dropped".into(), json!(dropped));
                    }
                    Err(f) => {
                        obj.insert("discoveredLabels".into(), labels_json(&f.discovered));
                        obj.insert("labels".into(), Value::Null);
                        obj.insert("dropped".into(), json!(false));
                        obj.insert("error".into(), json!(f.error.to_string()));
                    }
                }
                out.push(Value::Object(obj));
            }
        }
    }
    Value::Array(out)
}

fn labels_json(ls: &Labels) -> Value {
    Value::Object(
        ls.iter()
            .map(|l| (l.name.to_owned(), json!(l.value)))
            .collect(),
    )
}

/// The labels a target's series carry: without `__`-prefixed names, as `/api/v1/targets` shows.
fn public_labels(ls: &Labels) -> Value {
    Value::Object(
        ls.iter()
            .filter(|l| !l.name.starts_with("__"))
            .map(|l| (l.name.to_owned(), json!(l.value)))
            .collect(),
    )
}
