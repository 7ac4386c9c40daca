//! `application/x-www-form-urlencoded` decoding for query strings and POSTed forms.

/// Decodes `a=1&b=x%20y&c=+` into pairs in order; repeated keys (`match[]`) are kept.
/// Invalid percent escapes are kept literally and invalid UTF-8 is replaced, as Go's
/// `url.ParseQuery` would reject neither silently: what matters is never panicking.
pub fn parse(input: &str) -> Vec<(String, String)> {
    input
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => match (b.get(i + 1).and_then(hex), b.get(i + 2).and_then(hex)) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(c: &u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_pairs() {
        assert_eq!(
            parse("query=up%7Bjob%3D%22a%22%7D&match[]=x&match%5B%5D=y+z&bad=%zz&e"),
            vec![
                ("query".to_owned(), r#"up{job="a"}"#.to_owned()),
                ("match[]".to_owned(), "x".to_owned()),
                ("match[]".to_owned(), "y z".to_owned()),
                ("bad".to_owned(), "%zz".to_owned()),
                ("e".to_owned(), String::new()),
            ]
        );
        assert_eq!(parse("x=%"), vec![("x".to_owned(), "%".to_owned())]);
    }
}
