//! Logs as Prometheus 3 writes them (its `promslog` package): one line per event on stderr,
//! `time=… level=INFO source=file.rs:123 msg="…" key=value …` in logfmt, or a flat JSON
//! object with the same keys. Log shippers and the operators' grep patterns written for
//! Prometheus then work unchanged.
//!
//! `--log.level` takes Prometheus' four levels; events below it are dropped before they are
//! formatted. Field names follow Prometheus: a tracing field called `error` is written as
//! `err`.

use std::fmt::Write as _;
use std::io::Write as _;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::{Context, SubscriberExt as _};
use tracing_subscriber::util::SubscriberInitExt as _;

/// `--log.format`: Prometheus' two formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// `key=value` pairs, values quoted when they need it.
    Logfmt,
    /// One flat JSON object per line.
    Json,
}

impl LogFormat {
    /// Parses a `--log.format` value.
    pub fn parse(s: &str) -> Result<LogFormat, String> {
        match s {
            "logfmt" => Ok(LogFormat::Logfmt),
            "json" => Ok(LogFormat::Json),
            _ => Err(format!("unrecognized log format {s}")),
        }
    }
}

/// Parses a `--log.level` value (Prometheus' levels: debug, info, warn, error).
pub fn parse_level(s: &str) -> Result<Level, String> {
    match s {
        "debug" => Ok(Level::DEBUG),
        "info" => Ok(Level::INFO),
        "warn" => Ok(Level::WARN),
        "error" => Ok(Level::ERROR),
        _ => Err(format!("unrecognized log level {s}")),
    }
}

/// Installs the formatter as the global subscriber.
pub fn init(level: Level, format: LogFormat) -> Result<(), String> {
    let filter = tracing_subscriber::filter::LevelFilter::from_level(level);
    tracing_subscriber::registry()
        .with(PromLayer { format }.with_filter(filter))
        .try_init()
        .map_err(|e| format!("installing the logger: {e}"))
}

/// The layer that writes each event as one line.
struct PromLayer {
    format: LogFormat,
}

impl<S: Subscriber> Layer<S> for PromLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let line = format_event(event, self.format, &now_rfc3339());
        // One write per line, so that lines from several threads never interleave.
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }
}

/// The current time as Prometheus prints it: UTC, milliseconds, `Z`.
fn now_rfc3339() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

/// Prometheus' level names (slog's).
fn level_name(level: &Level) -> &'static str {
    match *level {
        Level::ERROR => "ERROR",
        Level::WARN => "WARN",
        Level::INFO => "INFO",
        // slog has no TRACE: tracing's trace events are debug for Prometheus' readers.
        _ => "DEBUG",
    }
}

/// The event's fields in order, `message` apart.
#[derive(Default)]
struct Fields {
    msg: String,
    pairs: Vec<(&'static str, String)>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.push(field, value.to_owned());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.push(field, format!("{value:?}"));
    }
}

impl Fields {
    fn push(&mut self, field: &Field, value: String) {
        match field.name() {
            "message" => self.msg = value,
            "error" => self.pairs.push(("err", value)),
            name => self.pairs.push((name, value)),
        }
    }
}

/// One event as one line (newline included) at `time`.
fn format_event(event: &Event<'_>, format: LogFormat, time: &str) -> String {
    let meta = event.metadata();
    let mut fields = Fields::default();
    event.record(&mut fields);
    let file = meta.file().unwrap_or("");
    let file = file.rsplit('/').next().unwrap_or(file);
    let source = format!("{file}:{}", meta.line().unwrap_or(0));
    let head: [(&str, &str); 4] = [
        ("time", time),
        ("level", level_name(meta.level())),
        ("source", &source),
        ("msg", &fields.msg),
    ];
    let pairs = head
        .into_iter()
        .chain(fields.pairs.iter().map(|(k, v)| (*k, v.as_str())));
    render(pairs, format)
}

/// Key/value pairs as one logfmt or JSON line.
fn render<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>, format: LogFormat) -> String {
    let mut out = String::with_capacity(160);
    match format {
        LogFormat::Logfmt => {
            for (i, (k, v)) in pairs.enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(k);
                out.push('=');
                logfmt_value(&mut out, v);
            }
        }
        LogFormat::Json => {
            out.push('{');
            for (i, (k, v)) in pairs.enumerate() {
                if i > 0 {
                    out.push(',');
                }
                crate::api::json::string(&mut out, k);
                out.push(':');
                crate::api::json::string(&mut out, v);
            }
            out.push('}');
        }
    }
    out.push('\n');
    out
}

/// A logfmt value: bare when it has no space, `=`, quote or control character (and is not
/// empty), else quoted with Go's escapes, as slog's text handler does.
fn logfmt_value(out: &mut String, v: &str) {
    let needs_quotes = v.is_empty()
        || v.chars()
            .any(|c| c == ' ' || c == '=' || c == '"' || c.is_control());
    if !needs_quotes {
        out.push_str(v);
        return;
    }
    out.push('"');
    for c in v.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(format: LogFormat) -> String {
        let pairs = [
            ("time", "2026-12-06T04:40:08.123Z"),
            ("level", "INFO"),
            ("source", "run.rs:12"),
            ("msg", "Server is ready to receive web requests."),
            ("filename", "/etc/p.yml"),
            ("err", "line 1: \"x\"\tbad"),
            ("empty", ""),
        ];
        render(pairs.into_iter(), format)
    }

    #[test]
    fn logfmt_quotes_only_what_needs_it() {
        assert_eq!(
            line(LogFormat::Logfmt),
            "time=2026-12-06T04:40:08.123Z level=INFO source=run.rs:12 \
             msg=\"Server is ready to receive web requests.\" filename=/etc/p.yml \
             err=\"line 1: \\\"x\\\"\\tbad\" empty=\"\"\n"
        );
    }

    #[test]
    fn json_is_flat_with_the_same_keys() {
        let l = line(LogFormat::Json);
        let v: serde_json::Value = serde_json::from_str(&l).unwrap();
        assert_eq!(v["time"], "2026-12-06T04:40:08.123Z");
        assert_eq!(v["level"], "INFO");
        assert_eq!(v["source"], "run.rs:12");
        assert_eq!(v["msg"], "Server is ready to receive web requests.");
        assert_eq!(v["err"], "line 1: \"x\"\tbad");
        assert_eq!(v.as_object().unwrap().len(), 7);
    }

    #[test]
    fn levels_and_formats_are_prometheus_ones() {
        assert_eq!(parse_level("warn").unwrap(), Level::WARN);
        assert_eq!(
            parse_level("trace").unwrap_err(),
            "unrecognized log level trace"
        );
        assert_eq!(LogFormat::parse("json").unwrap(), LogFormat::Json);
        assert!(LogFormat::parse("text").is_err());
    }

    #[test]
    fn events_are_formatted_with_source_and_err() {
        use std::sync::{Arc, Mutex};
        struct Capture(Arc<Mutex<Vec<String>>>);
        impl<S: Subscriber> Layer<S> for Capture {
            fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
                let l = format_event(event, LogFormat::Logfmt, "T");
                self.0.lock().unwrap().push(l);
            }
        }
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sub = tracing_subscriber::registry().with(Capture(lines.clone()));
        tracing::subscriber::with_default(sub, || {
            let e = "boom it";
            tracing::error!(filename = "a b.yml", error = %e, "Error reloading config");
        });
        let got = lines.lock().unwrap().clone();
        assert_eq!(got.len(), 1);
        let l = &got[0];
        assert!(
            l.starts_with("time=T level=ERROR source=logging.rs:"),
            "{l}"
        );
        assert!(
            l.ends_with(" msg=\"Error reloading config\" filename=\"a b.yml\" err=\"boom it\"\n"),
            "{l}"
        );
    }
}
