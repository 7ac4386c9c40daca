//! `mini-prometheus check config FILE`: validate a configuration without running it, like
//! `promtool check config`.

use std::path::PathBuf;
use std::process::ExitCode;

use super::CliError;

/// What `check` checks.
#[derive(Debug, clap::Subcommand)]
pub enum CheckArgs {
    /// Validate a configuration file (syntax, fields, relabel rules, remote write).
    Config {
        /// The configuration files to check.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Expand `$VAR` and `${VAR}` from the environment before checking, as the server's
        /// `--config.expand-env` does.
        #[arg(long = "config.expand-env")]
        expand_env: bool,
    },
}

/// Checks every file; exits 1 if any is invalid, printing the error with file, line and field.
pub fn run(args: &CheckArgs) -> Result<ExitCode, CliError> {
    let CheckArgs::Config { files, expand_env } = args;
    let mut ok = true;
    for file in files {
        println!("Checking {}", file.display());
        match scrapeline::Config::load_file_with(file, *expand_env) {
            Ok(cfg) => {
                println!(
                    "  SUCCESS: {} scrape configs, {} remote write endpoints",
                    cfg.scrape_configs.len(),
                    cfg.remote_write.len()
                );
                for section in &cfg.ignored_sections {
                    println!("  WARNING: section {section:?} is not supported and is ignored");
                }
            }
            Err(e) => {
                eprintln!("  FAILED: {e}");
                ok = false;
            }
        }
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
