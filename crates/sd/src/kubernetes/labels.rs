//! Label-building helpers shared by the roles: name sanitising, object metadata labels,
//! address formatting.

use scrapeline_exposition::Labels;

use super::objects::Meta;

/// Prefix of every meta label.
pub(crate) const P: &str = "__meta_kubernetes_";

/// `strutil.SanitizeLabelName`: every code point outside `[a-zA-Z0-9_]` becomes one `_`.
pub fn sanitize_label_name(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Appends `s` to `buf` with every code point outside `[a-zA-Z0-9_]` replaced by one `_`
/// ([`sanitize_label_name`] without the intermediate `String`).
fn push_sanitized(buf: &mut String, s: &str) {
    for c in s.chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            buf.push(c);
        } else {
            buf.push('_');
        }
    }
}

/// A label set under construction; later sets of a name win.
///
/// Every name and value is written back to back into one string buffer (a label is three
/// offsets into it), so building a target's twenty-odd labels costs no allocation per label,
/// and one `Ls` is reused (with [`Ls::clear`]) for all the targets of a group.
#[derive(Debug, Default, Clone)]
pub(crate) struct Ls {
    buf: String,
    /// `(name start, name end = value start, value end)` in `buf`, in the order set.
    spans: Vec<(usize, usize, usize)>,
}

impl Ls {
    pub(crate) fn new() -> Self {
        Self {
            buf: String::with_capacity(1024),
            spans: Vec::with_capacity(32),
        }
    }

    /// Removes every label, keeping the buffers.
    pub(crate) fn clear(&mut self) {
        self.buf.clear();
        self.spans.clear();
    }

    /// Ends the label whose name started at `start` and ended at `name_end`; its value is
    /// everything written since.
    fn close(&mut self, start: usize, name_end: usize) {
        self.spans.push((start, name_end, self.buf.len()));
    }

    /// Sets `__meta_kubernetes_<suffix>`.
    pub(crate) fn m(&mut self, suffix: &str, v: &str) {
        let start = self.buf.len();
        self.buf.push_str(P);
        self.buf.push_str(suffix);
        let name_end = self.buf.len();
        self.buf.push_str(v);
        self.close(start, name_end);
    }

    /// Sets `__meta_kubernetes_<prefix><sanitized raw>`.
    pub(crate) fn m_sanitized(&mut self, prefix: &str, raw: &str, v: &str) {
        let start = self.buf.len();
        self.buf.push_str(P);
        self.buf.push_str(prefix);
        push_sanitized(&mut self.buf, raw);
        let name_end = self.buf.len();
        self.buf.push_str(v);
        self.close(start, name_end);
    }

    /// Sets `__meta_kubernetes_<suffix>` to the decimal `n`.
    pub(crate) fn m_int(&mut self, suffix: &str, n: i32) {
        use std::fmt::Write;
        let start = self.buf.len();
        self.buf.push_str(P);
        self.buf.push_str(suffix);
        let name_end = self.buf.len();
        let _ = write!(self.buf, "{n}");
        self.close(start, name_end);
    }

    /// Sets a label by its full name.
    pub(crate) fn raw(&mut self, name: &str, v: &str) {
        let start = self.buf.len();
        self.buf.push_str(name);
        let name_end = self.buf.len();
        self.buf.push_str(v);
        self.close(start, name_end);
    }

    /// Sets `__address__` to `host:port`, bracketing a host containing `:` (Go's
    /// `net.JoinHostPort`).
    pub(crate) fn address(&mut self, host: &str, port: i32) {
        use std::fmt::Write;
        let start = self.buf.len();
        self.buf.push_str("__address__");
        let name_end = self.buf.len();
        if host.contains(':') {
            let _ = write!(self.buf, "[{host}]:{port}");
        } else {
            let _ = write!(self.buf, "{host}:{port}");
        }
        self.close(start, name_end);
    }

    /// `addObjectMetaLabels`: `_<role>_name` (if `with_name`), labels, annotations and their
    /// `present` companions.
    pub(crate) fn meta(&mut self, role: &str, m: &Meta, with_name: bool) {
        if with_name {
            let start = self.buf.len();
            self.buf.push_str(P);
            self.buf.push_str(role);
            self.buf.push_str("_name");
            let name_end = self.buf.len();
            self.buf.push_str(&m.name);
            self.close(start, name_end);
        }
        for (kind, pairs) in [("label", &m.labels), ("annotation", &m.annotations)] {
            for (k, v) in pairs.iter() {
                for present in [false, true] {
                    let start = self.buf.len();
                    self.buf.push_str(P);
                    self.buf.push_str(role);
                    self.buf.push('_');
                    self.buf.push_str(kind);
                    if present {
                        self.buf.push_str("present");
                    }
                    self.buf.push('_');
                    push_sanitized(&mut self.buf, k);
                    let name_end = self.buf.len();
                    self.buf.push_str(if present { "true" } else { v });
                    self.close(start, name_end);
                }
            }
        }
    }

    /// The labels set so far, sorted, the last value of a repeated name winning. Sorts the
    /// spans in place (the content is unchanged).
    pub(crate) fn labels(&mut self) -> Labels {
        let mut spans = std::mem::take(&mut self.spans);
        // Spans start in the order they were set: among equal names the latest sorts first,
        // and `dedup_by` keeps the first of a run.
        let name = |sp: &(usize, usize, usize)| self.buf.get(sp.0..sp.1).unwrap_or("");
        spans.sort_unstable_by(|a, b| name(a).cmp(name(b)).then(b.0.cmp(&a.0)));
        spans.dedup_by(|a, b| name(a) == name(b));
        let buf = &self.buf;
        let labels = Labels::from_sorted_iter(
            spans
                .iter()
                .map(|&(a, b, c)| (buf.get(a..b).unwrap_or(""), buf.get(b..c).unwrap_or(""))),
        );
        self.spans = spans;
        labels
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitizing_is_per_code_point() {
        assert_eq!(sanitize_label_name("a.b/c-d"), "a_b_c_d");
        assert_eq!(sanitize_label_name("é"), "_");
        assert_eq!(sanitize_label_name("Unschedulable"), "Unschedulable");
        assert_eq!(sanitize_label_name("1x"), "1x");
    }

    #[test]
    fn later_sets_win_and_labels_sort() {
        let mut ls = Ls::new();
        ls.raw("b", "1");
        ls.m("x", "2");
        ls.raw("a", "");
        ls.raw("b", "3");
        ls.m_sanitized("y_", "a.b/é", "4");
        ls.m_int("n", -7);
        ls.address("fd00::1", 80);
        assert_eq!(
            ls.labels().to_string(),
            r#"{__address__="[fd00::1]:80", __meta_kubernetes_n="-7", __meta_kubernetes_x="2", __meta_kubernetes_y_a_b__="4", a="", b="3"}"#
        );
        // Labels again after more sets: the earlier content is kept.
        ls.raw("a", "5");
        assert_eq!(
            ls.labels().to_string(),
            r#"{__address__="[fd00::1]:80", __meta_kubernetes_n="-7", __meta_kubernetes_x="2", __meta_kubernetes_y_a_b__="4", a="5", b="3"}"#
        );
        ls.clear();
        ls.raw("c", "6");
        assert_eq!(ls.labels().to_string(), r#"{c="6"}"#);
    }

    #[test]
    fn host_port() {
        let addr = |host: &str, port: i32| {
            let mut ls = Ls::new();
            ls.address(host, port);
            ls.labels().get("__address__").map(str::to_string)
        };
        assert_eq!(addr("1.2.3.4", 80).as_deref(), Some("1.2.3.4:80"));
        assert_eq!(addr("fd00::1", 9000).as_deref(), Some("[fd00::1]:9000"));
        assert_eq!(addr("", 10250).as_deref(), Some(":10250"));
    }
}
