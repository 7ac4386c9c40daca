//! A cheap lexical pre-scan of PromQL text, run before the text reaches `promql_parser`.
//!
//! The parser builds (and drops) its syntax tree recursively, as does the evaluation here:
//! 10,000 nested parentheses overflowed the stack and killed the process, and `1+1+…` with
//! 30,000 terms burned 12 s of CPU first. Both depths come from the text: brackets nest, and
//! every operator adds a level (`-` `-` `-` `1`, or the left-leaning tree of `1+1+1`). So the
//! scan bounds both, skipping string literals (a regex may hold any number of brackets) and
//! comments:
//!
//! - at most [`MAX_NESTING`] levels of `(`, `[` and `{`;
//! - at most [`MAX_OPERATORS`] operators (`+ - * / % ^ = ! < > @` characters, and the words
//!   `and`, `or`, `unless`, `atan2`); a label matcher's `=` counts too.
//!
//! Real dashboard queries stay far below both (a large one nests 10 deep and has 50
//! operators); the limits are sized so the deepest tree they allow parses, evaluates and
//! drops on a 2 MiB thread stack (see the tests).

/// The most levels of `(`, `[` and `{` a query may nest.
pub const MAX_NESTING: usize = 100;
/// The most operators a query may have.
pub const MAX_OPERATORS: usize = 1000;

/// Refuses `input` when it nests deeper than [`MAX_NESTING`] or has more than
/// [`MAX_OPERATORS`] operators; the message is meant for the client.
pub fn check(input: &str) -> Result<(), String> {
    let b = input.as_bytes();
    let (mut depth, mut operators) = (0usize, 0usize);
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        match c {
            b'"' | b'\'' | b'`' => i = skip_string(b, i),
            b'#' => {
                while b.get(i).is_some_and(|c| *c != b'\n') {
                    i += 1;
                }
            }
            b'(' | b'[' | b'{' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Err(format!(
                        "query nests deeper than {MAX_NESTING} levels of parentheses, brackets or braces"
                    ));
                }
            }
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            b'+' | b'-' | b'*' | b'/' | b'%' | b'^' | b'=' | b'!' | b'<' | b'>' | b'@' => {
                operators += 1
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let start = i;
                while b
                    .get(i + 1)
                    .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b':')
                {
                    i += 1;
                }
                let word = b.get(start..=i).unwrap_or_default();
                if [&b"and"[..], b"or", b"unless", b"atan2"]
                    .iter()
                    .any(|k| word.eq_ignore_ascii_case(k))
                {
                    operators += 1;
                }
            }
            _ => {}
        }
        if operators > MAX_OPERATORS {
            return Err(format!(
                "query has more than {MAX_OPERATORS} operators; split it into smaller queries"
            ));
        }
        i += 1;
    }
    Ok(())
}

/// The index of the closing quote of the string opening at `start` (or the end of input).
/// Double and single quotes take backslash escapes; backticks are raw.
fn skip_string(b: &[u8], start: usize) -> usize {
    let quote = b.get(start).copied().unwrap_or(b'"');
    let mut i = start + 1;
    while let Some(&c) = b.get(i) {
        if c == quote {
            return i;
        }
        if c == b'\\' && quote != b'`' {
            i += 1;
        }
        i += 1;
    }
    b.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nesting_and_operators_are_bounded() {
        let deep = |n: usize| format!("{}1{}", "(".repeat(n), ")".repeat(n));
        assert_eq!(check(&deep(MAX_NESTING)), Ok(()));
        assert_eq!(
            check(&deep(MAX_NESTING + 1)).unwrap_err(),
            "query nests deeper than 100 levels of parentheses, brackets or braces"
        );
        let sum = |n: usize| vec!["1"; n + 1].join("+");
        assert_eq!(check(&sum(MAX_OPERATORS)), Ok(()));
        assert_eq!(
            check(&sum(MAX_OPERATORS + 1)).unwrap_err(),
            "query has more than 1000 operators; split it into smaller queries"
        );
        let words = |n: usize| vec!["a"; n + 1].join(" OR ");
        assert_eq!(check(&words(MAX_OPERATORS)), Ok(()));
        assert!(check(&words(MAX_OPERATORS + 1)).is_err());
        // Words that merely contain a keyword are not operators.
        assert_eq!(check(&vec!["order"; 5000].join(" ")), Ok(()));
    }

    #[test]
    fn strings_and_comments_are_skipped() {
        let brackets = "(".repeat(5000);
        for q in [
            format!(r#"up{{job=~"{brackets}"}}"#),
            format!(r#"up{{job=~'\'{brackets}'}}"#),
            format!(r#"up{{job=~"\"{brackets}\\"}}"#),
            format!("up{{job=~`{brackets}\\`}}"),
            format!("up # {brackets}\n"),
            format!("up # {}", "+".repeat(5000)),
        ] {
            assert_eq!(check(&q), Ok(()), "{q}");
        }
        // An escaped quote does not end the string; the brackets after it are inside it.
        assert_eq!(check(&format!(r#"x{{a="\"{brackets}"}}"#)), Ok(()));
        // A backtick string ends at the first backtick: the brackets after it count.
        assert!(check(&format!("x{{a=`\\`{brackets}`}}")).is_err());
        // An unterminated string runs to the end.
        assert_eq!(check(&format!("x{{a=\"{brackets}")), Ok(()));
    }
}
