//! `mini-prometheus parse`: the exposition parser on a file, for people and scripts.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use scrapeline_exposition::labels::{LabelsBuilder, METRIC_NAME, is_legacy_metric_name};
use scrapeline_exposition::value::{escape_label_value, format_value};
use scrapeline_exposition::{Entry, Format, Parser};

use super::CliError;

/// Arguments of `parse`.
#[derive(Debug, clap::Args)]
pub struct ParseArgs {
    /// The exposition format of the input.
    #[arg(long, value_enum, default_value_t = FormatArg::Text)]
    format: FormatArg,
    /// Print one JSON object per sample instead of the text form.
    #[arg(long)]
    json: bool,
    /// The file to parse, or `-` for standard input.
    input: PathBuf,
}

/// `--format` values.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum FormatArg {
    /// Prometheus text format 0.0.4.
    Text,
    /// OpenMetrics 1.0 text.
    Openmetrics,
}

/// Parses the input and prints every sample; on invalid input prints nothing to stdout and
/// the `line:column` error to stderr, exiting 1.
pub fn run(args: &ParseArgs) -> Result<ExitCode, CliError> {
    let mut body = Vec::new();
    if args.input.as_os_str() == "-" {
        std::io::stdin().read_to_end(&mut body)?;
    } else {
        body = std::fs::read(&args.input).map_err(|e| format!("{}: {e}", args.input.display()))?;
    }
    let format = match args.format {
        FormatArg::Text => Format::Text,
        FormatArg::Openmetrics => Format::OpenMetrics,
    };
    let mut out = String::with_capacity(body.len());
    let mut builder = LabelsBuilder::new();
    for entry in Parser::new(&body, format) {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                eprintln!("{}: {e}", args.input.display());
                return Ok(ExitCode::from(1));
            }
        };
        let Entry::Series(series) = entry else {
            continue;
        };
        series.write_labels(&mut builder);
        if args.json {
            write_json_line(&mut out, &builder, series.value, series.timestamp_ms);
        } else {
            write_text_line(&mut out, &builder, series.value, series.timestamp_ms);
        }
    }
    std::io::stdout().lock().write_all(out.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

/// `name{a="1",b="2"} value [timestamp_ms]`, labels sorted by name; a name that is not a legacy
/// metric name is written quoted inside the braces, as Prometheus 3 does.
fn write_text_line(out: &mut String, labels: &LabelsBuilder, value: f64, ts: Option<i64>) {
    let name = labels.get(METRIC_NAME).unwrap_or("");
    let legacy = is_legacy_metric_name(name);
    let mut first = true;
    if legacy {
        out.push_str(name);
    } else {
        out.push_str("{\"");
        escape_label_value(name, out);
        out.push('"');
        first = false;
    }
    let mut others = labels.iter().filter(|l| l.name != METRIC_NAME).peekable();
    if others.peek().is_some() {
        if legacy {
            out.push('{');
        }
        for l in others {
            if !first {
                out.push(',');
            }
            first = false;
            if scrapeline_exposition::labels::is_legacy_label_name(l.name) {
                out.push_str(l.name);
            } else {
                out.push('"');
                escape_label_value(l.name, out);
                out.push('"');
            }
            out.push_str("=\"");
            escape_label_value(l.value, out);
            out.push('"');
        }
        out.push('}');
    } else if !legacy {
        out.push('}');
    }
    out.push(' ');
    format_value(value, out);
    if let Some(ts) = ts {
        out.push(' ');
        out.push_str(&ts.to_string());
    }
    out.push('\n');
}

/// `{"name":…,"labels":{…},"value":"<float>","timestamp_ms":<int or null>}`.
fn write_json_line(out: &mut String, labels: &LabelsBuilder, value: f64, ts: Option<i64>) {
    let name = labels.get(METRIC_NAME).unwrap_or("");
    let map: serde_json::Map<String, serde_json::Value> = labels
        .iter()
        .filter(|l| l.name != METRIC_NAME)
        .map(|l| (l.name.to_owned(), serde_json::Value::from(l.value)))
        .collect();
    let mut v = String::new();
    format_value(value, &mut v);
    // Written field by field so the key order is the documented one.
    out.push_str("{\"name\":");
    out.push_str(&serde_json::Value::from(name).to_string());
    out.push_str(",\"labels\":");
    out.push_str(&serde_json::Value::Object(map).to_string());
    out.push_str(",\"value\":");
    out.push_str(&serde_json::Value::from(v).to_string());
    out.push_str(",\"timestamp_ms\":");
    match ts {
        Some(ts) => out.push_str(&ts.to_string()),
        None => out.push_str("null"),
    }
    out.push('}');
    out.push('\n');
}
