//! The userinfo (`user:password@`) of a `remote_write` URL: hidden wherever the URL is
//! shown, used as basic authentication when sending.
//!
//! Prometheus shows the URL as Go's `url.URL.Redacted()` does (the password replaced by
//! `xxxxx`) in metric labels, logs and errors, and Go's HTTP client turns the userinfo into an
//! `Authorization: Basic` header. This works on the URL text, so it applies even to a URL
//! that fails to parse (its error message must not leak the password either). Unlike Go, the
//! user name is shown as written rather than re-escaped.

/// What Go's `url.URL.Redacted()` shows: `http://u:xxxxx@host/…` when the URL has a password
/// (even an empty one), otherwise the URL unchanged.
pub fn redacted(url: &str) -> String {
    match split(url) {
        Some(parts) => match parts.userinfo.split_once(':') {
            Some((user, _)) => format!("{}{user}:xxxxx@{}", parts.before, parts.after),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

/// The URL without its userinfo: what is requested (the credentials go in a header).
pub fn without_userinfo(url: &str) -> String {
    match split(url) {
        Some(parts) => format!("{}{}", parts.before, parts.after),
        None => url.to_owned(),
    }
}

/// The user name and password of the URL (percent-decoded), `None` without userinfo. A
/// missing password is empty, as Go's client sends it.
pub fn credentials(url: &str) -> Option<(String, String)> {
    let parts = split(url)?;
    let (user, pass) = parts
        .userinfo
        .split_once(':')
        .unwrap_or((parts.userinfo, ""));
    Some((percent_decode(user), percent_decode(pass)))
}

/// A URL cut around its userinfo: `before` ends with `://`, `after` starts with the host.
struct Parts<'a> {
    before: &'a str,
    userinfo: &'a str,
    after: &'a str,
}

fn split(url: &str) -> Option<Parts<'_>> {
    let authority_start = url.find("://")? + 3;
    let rest = url.get(authority_start..)?;
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = rest.get(..authority_end)?;
    // As Go: the userinfo ends at the last `@` of the authority.
    let at = authority.rfind('@')?;
    Some(Parts {
        before: url.get(..authority_start)?,
        userinfo: authority.get(..at)?,
        after: rest.get(at + 1..)?,
    })
}

/// Decodes `%XX` escapes; anything else (a lone `%` included) is kept as written.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex = |j: usize| bytes.get(j).and_then(|c| (*c as char).to_digit(16));
        match (b, hex(i + 1), hex(i + 2)) {
            (b'%', Some(hi), Some(lo)) => {
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_the_password_only() {
        assert_eq!(
            redacted("http://u:pw@127.0.0.1:9/api/v1/write?x=a@b"),
            "http://u:xxxxx@127.0.0.1:9/api/v1/write?x=a@b"
        );
        assert_eq!(redacted("https://u:@h/w"), "https://u:xxxxx@h/w");
        assert_eq!(redacted("https://u:p@ss@h"), "https://u:xxxxx@h");
        // No password: nothing to hide (Go keeps the user name).
        assert_eq!(redacted("http://u@h/w"), "http://u@h/w");
        assert_eq!(redacted("http://h/w@x"), "http://h/w@x");
        assert_eq!(redacted("not a url"), "not a url");
    }

    #[test]
    fn credentials_are_decoded_and_removed_from_the_request_url() {
        assert_eq!(
            credentials("http://us%40r:p%3Aw%zz@h:1/w"),
            Some(("us@r".to_owned(), "p:w%zz".to_owned()))
        );
        assert_eq!(
            credentials("http://u@h/w"),
            Some(("u".to_owned(), String::new()))
        );
        assert_eq!(credentials("http://h/w?a@b"), None);
        assert_eq!(without_userinfo("http://u:pw@h:1/w?q"), "http://h:1/w?q");
        assert_eq!(without_userinfo("http://h:1/w"), "http://h:1/w");
    }
}
