//! YAML error messages with a snippet of the file around the error, the values of secret
//! fields masked.
//!
//! serde-saphyr's own snippet prints the neighbouring lines verbatim, so a typo next to
//! `password: S3cret` put the password into `check config`'s output, the logs and the
//! `POST /-/reload` 500 body. Here the error is rendered without its snippet, and the snippet is
//! rebuilt from a copy of the file in which every value of a field Prometheus types as
//! `config.Secret` (and a few more that hold keys) reads `<secret>`; the message, the file, the
//! line, the column and the field are kept.

use std::fmt::Write as _;
use std::sync::LazyLock;

use regex::Regex;

/// What a secret value is replaced with, as Prometheus prints a `config.Secret`.
pub const MASK: &str = "<secret>";

/// Field names whose values are never printed: Prometheus' `config.Secret` fields
/// (`password`, `bearer_token`, `credentials`, `client_secret`, the inline TLS `key`,
/// `secret_key`, Consul's `token`, OpenStack's `application_credential_secret`, the `secrets`
/// of `http_headers`, `proxy_connect_header`), plus `access_key`, which names an account.
const SECRET_FIELDS: [&str; 11] = [
    "password",
    "bearer_token",
    "credentials",
    "client_secret",
    "key",
    "access_key",
    "secret_key",
    "token",
    "application_credential_secret",
    "secrets",
    "proxy_connect_header",
];

/// Lines shown before the error's line.
const LINES_BEFORE: usize = 2;
/// Lines shown after it.
const LINES_AFTER: usize = 1;
/// Characters shown of a long line, centred on the error's column.
const MAX_LINE_CHARS: usize = 160;

/// A secret field name as a mapping key (bare or quoted, in block or flow style), up to and
/// including the `:` and the blank after it. Group 1 is everything before the value.
static SECRET_KEY: LazyLock<Regex> = LazyLock::new(|| {
    let names = SECRET_FIELDS.join("|");
    let pattern = format!(
        r#"((?:^|[\s{{,\[])(?:"(?:{names})"|'(?:{names})'|(?:{names}))[ \t]*:)(?:[ \t]|$)"#
    );
    Regex::new(&pattern).expect("built from the constant SECRET_FIELDS list, tested below")
});

/// Renders a serde-saphyr error as `error: line L column C: MESSAGE`, then, when the error has
/// a location inside `text`, a snippet naming `origin` with secret values masked.
pub fn render(err: &serde_saphyr::Error, text: &str, origin: &str) -> String {
    let bare = err.without_snippet().to_string();
    let Some(loc) = err.location() else {
        return bare;
    };
    let (line, column) = (loc.line(), loc.column());
    let message = bare
        .strip_suffix(&format!(" at line {line}, column {column}"))
        .unwrap_or(&bare);
    let mut out = format!("error: line {line} column {column}: {message}");
    let masked = mask_secrets(text);
    let Some(index) = usize::try_from(line).ok().and_then(|l| l.checked_sub(1)) else {
        return out;
    };
    if index >= masked.len() {
        return out;
    }
    let first = index.saturating_sub(LINES_BEFORE);
    let last = (index + LINES_AFTER).min(masked.len() - 1);
    let width = (last + 1).to_string().len();
    let column = usize::try_from(column).unwrap_or(1).max(1);
    let _ = write!(out, "\n --> {origin}:{line}:{column}\n{:width$} |", "");
    for (i, shown) in masked.iter().enumerate().take(last + 1).skip(first) {
        let (clipped, caret) = clip(shown, column - 1);
        let _ = write!(out, "\n{:>width$} | {clipped}", i + 1);
        if i == index {
            let _ = write!(out, "\n{:width$} | {:caret$}^", "", "");
        }
    }
    out
}

/// `line` cut to at most [`MAX_LINE_CHARS`] characters around character `column` (0-based),
/// control characters replaced, and where `column` falls in the result.
fn clip(line: &str, column: usize) -> (String, usize) {
    let chars: Vec<char> = line.chars().collect();
    let start = if chars.len() > MAX_LINE_CHARS {
        column
            .saturating_sub(MAX_LINE_CHARS / 2)
            .min(chars.len() - MAX_LINE_CHARS)
    } else {
        0
    };
    let shown: String = chars
        .iter()
        .skip(start)
        .take(MAX_LINE_CHARS)
        .map(|&c| if c.is_control() && c != '\t' { '?' } else { c })
        .collect();
    (shown, column.saturating_sub(start))
}

/// The lines of `text` with the value of every secret field replaced by [`MASK`]: on the
/// key's line, and on the lines that continue it (a block scalar, a multi-line plain or quoted
/// scalar, a nested list or map), that is the following lines indented deeper than the key, or
/// list items at the key's own indentation.
pub fn mask_secrets(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    // The column of a secret key whose value continues on the next lines.
    let mut open_block: Option<usize> = None;
    for line in text.lines() {
        let indent = line.len() - line.trim_start_matches([' ', '\t']).len();
        let rest = line.get(indent..).unwrap_or_default();
        if let Some(key_col) = open_block {
            let continues = rest.is_empty()
                || indent > key_col
                || (indent == key_col && (rest == "-" || rest.starts_with("- ")));
            if continues {
                out.push(if rest.is_empty() {
                    line.to_owned()
                } else {
                    format!("{}{MASK}", line.get(..indent).unwrap_or_default())
                });
                continue;
            }
        }
        let (masked, opens) = mask_line(line);
        out.push(masked);
        open_block = opens;
    }
    out
}

/// Masks the values of the secret keys on one line; returns the line and, when the last secret
/// value may continue on the following lines, the column of its key.
fn mask_line(line: &str) -> (String, Option<usize>) {
    let mut out = String::with_capacity(line.len());
    let mut pos = 0;
    let mut opens = None;
    while let Some(caps) = SECRET_KEY.captures_at(line, pos) {
        let Some(key) = caps.get(1) else { break };
        out.push_str(line.get(pos..key.end()).unwrap_or_default());
        let key_col = key.as_str().len() - key.as_str().trim_start_matches(KEY_PREFIX).len();
        let value_start = key.end();
        let after = line.get(value_start..).unwrap_or_default();
        let blank = after.len() - after.trim_start_matches([' ', '\t']).len();
        let value = after.get(blank..).unwrap_or_default();
        let in_flow = line.get(..key.start() + 1).is_some_and(|h| h.contains('{'));
        let (len, continues) = value_len(value, in_flow);
        out.push_str(after.get(..blank).unwrap_or_default());
        if len > 0 {
            out.push_str(MASK);
        }
        pos = value_start + blank + len;
        opens = continues.then_some(key.start() + key_col);
    }
    out.push_str(line.get(pos..).unwrap_or_default());
    (out, opens)
}

/// What may come before a key in [`SECRET_KEY`]'s match.
const KEY_PREFIX: [char; 5] = [' ', '\t', '{', ',', '['];

/// How many bytes of `value` (starting right after `key: `) are the value, and whether it may
/// continue on the following lines.
fn value_len(value: &str, in_flow: bool) -> (usize, bool) {
    if value.is_empty() || value.starts_with('#') {
        // The value is on the following lines (a nested block, or nothing).
        return (0, true);
    }
    if let Some(quote @ ('"' | '\'')) = value.chars().next() {
        return match closing_quote(value, quote) {
            Some(end) => (end + 1, false),
            None => (value.len(), true),
        };
    }
    if value.starts_with(['|', '>']) {
        return (value.len(), true);
    }
    if value.starts_with(['[', '{']) {
        // A flow collection as the value: masked up to its end, or to the end of the line.
        return match flow_end(value) {
            Some(end) => (end, false),
            None => (value.len(), true),
        };
    }
    if in_flow {
        let end = value.find([',', '}', ']']).unwrap_or(value.len());
        return (end, end == value.len());
    }
    let end = value.find(" #").unwrap_or(value.len());
    (end, true)
}

/// The byte index of the quote that closes the quoted scalar `value` starts with (`''` escapes
/// a single quote, `\` escapes in double quotes).
fn closing_quote(value: &str, quote: char) -> Option<usize> {
    let mut chars = value.char_indices().skip(1).peekable();
    while let Some((i, c)) = chars.next() {
        if quote == '"' && c == '\\' {
            chars.next();
        } else if c == quote {
            if quote == '\'' && chars.peek().is_some_and(|&(_, n)| n == '\'') {
                chars.next();
            } else {
                return Some(i);
            }
        }
    }
    None
}

/// The byte index just past the flow collection `value` starts with, if it closes on this line.
fn flow_end(value: &str) -> Option<usize> {
    let mut depth = 0usize;
    for (i, c) in value.char_indices() {
        match c {
            '[' | '{' => depth += 1,
            ']' | '}' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn masked(text: &str) -> String {
        mask_secrets(text).join("\n")
    }

    #[test]
    fn block_style_values_are_masked() {
        assert_eq!(
            masked("basic_auth:\n  username: u\n  password: S3cret # old\n  password_file: /p"),
            "basic_auth:\n  username: u\n  password: <secret> # old\n  password_file: /p"
        );
        assert_eq!(
            masked("- bearer_token: 'a''b'\n  credentials: \"x\\\"y\"\n  url: u"),
            "- bearer_token: <secret>\n  credentials: <secret>\n  url: u"
        );
    }

    #[test]
    fn flow_style_values_are_masked() {
        assert_eq!(
            masked("basic_auth: {username: u, password: S3cret}"),
            "basic_auth: {username: u, password: <secret>}"
        );
        assert_eq!(
            masked("tls_config: {key: \"k,}\", ca: c}"),
            "tls_config: {key: <secret>, ca: c}"
        );
    }

    #[test]
    fn values_continuing_on_later_lines_are_masked() {
        let text = "tls_config:\n  key: |\n    -----BEGIN KEY-----\n    MIIE\n\n  ca_file: /ca\n\
                    http_headers:\n  X:\n    secrets:\n    - s1\n    - s2\n    values: [v]\n\
                    oauth2:\n  client_secret: multi\n    line plain\n  token_url: t";
        assert_eq!(
            masked(text),
            "tls_config:\n  key: <secret>\n    <secret>\n    <secret>\n\n  ca_file: /ca\n\
             http_headers:\n  X:\n    secrets:\n    <secret>\n    <secret>\n    values: [v]\n\
             oauth2:\n  client_secret: <secret>\n    <secret>\n  token_url: t"
        );
    }

    #[test]
    fn other_fields_are_left_alone() {
        let text = "key_file: /k\nca_key: x\npassword_file: /p\nmonkey: 1\n- targets: [a]";
        assert_eq!(masked(text), text);
    }
}
