//! `mini-prometheus relabel`: apply a list of relabel rules to one label set.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use scrapeline_exposition::{Labels, LabelsBuilder};
use scrapeline_sd::relabel::{NameValidation, RelabelConfig, RuleKind, compile_entries, relabel};

use super::CliError;

/// Arguments of `relabel`.
#[derive(Debug, clap::Args)]
pub struct RelabelArgs {
    /// A YAML list of relabel configs, as under `relabel_configs:` in prometheus.yml.
    #[arg(long, value_name = "FILE.yml")]
    rules: PathBuf,
    /// The input label set as a JSON object of strings, e.g. '{"__address__":"a:80"}'.
    #[arg(long, value_name = "JSON")]
    labels: String,
}

/// Prints the resulting labels as one JSON object, or `dropped`; a bad rule file exits 1 with
/// the validation error naming the rule and field.
pub fn run(args: &RelabelArgs) -> Result<ExitCode, CliError> {
    let text = std::fs::read_to_string(&args.rules)
        .map_err(|e| format!("{}: {e}", args.rules.display()))?;
    let entries: Vec<Option<RelabelConfig>> = if text.trim().is_empty() {
        Vec::new()
    } else {
        serde_saphyr::from_str(&text).map_err(|e| format!("{}: {e}", args.rules.display()))?
    };
    let rules = compile_entries(&entries, RuleKind::Target, NameValidation::Utf8)
        .map_err(|e| format!("{}: {e}", args.rules.display()))?;
    let input: BTreeMap<String, String> = serde_json::from_str(&args.labels)
        .map_err(|e| format!("--labels: not a JSON object of strings: {e}"))?;
    let mut builder = LabelsBuilder::from_labels(&Labels::from_pairs(&input));
    if !relabel(&rules, &mut builder) {
        println!("dropped");
        return Ok(ExitCode::SUCCESS);
    }
    let out: BTreeMap<&str, &str> = builder.iter().map(|l| (l.name, l.value)).collect();
    println!("{}", serde_json::to_string(&out)?);
    Ok(ExitCode::SUCCESS)
}
