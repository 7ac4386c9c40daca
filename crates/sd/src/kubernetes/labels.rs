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
    // Runs of allowed characters are copied whole; each other code point becomes one `_`.
    let mut parts = s.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'));
    if let Some(first) = parts.next() {
        buf.push_str(first);
    }
    for part in parts {
        buf.push('_');
        buf.push_str(part);
    }
}

/// One label of an [`Ls`]: where its name and value lie in the buffer, and a sort key.
#[derive(Debug, Clone, Copy)]
struct Span {
    /// Name start.
    start: usize,
    /// Name end = value start.
    name_end: usize,
    /// Value end.
    value_end: usize,
    /// The first 16 bytes of the name after the `__meta_kubernetes_` prefix (big-endian,
    /// zero-padded), when the name has that prefix: most comparisons end on it.
    key: Option<u128>,
}

fn sort_key(name: &str) -> Option<u128> {
    let rest = name.strip_prefix(P)?.as_bytes();
    let mut k = [0u8; 16];
    for (d, s) in k.iter_mut().zip(rest) {
        *d = *s;
    }
    Some(u128::from_be_bytes(k))
}

/// A label set under construction; later sets of a name win.
///
/// Every name and value is written back to back into one string buffer (a label is three
/// offsets into it), so building a target's twenty-odd labels costs no allocation per label,
/// and one `Ls` is reused (with [`Ls::clear`]) for all the targets of a group.
#[derive(Debug, Default, Clone)]
pub(crate) struct Ls {
    buf: String,
    /// The labels, in the order set.
    spans: Vec<Span>,
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
        let key = self.buf.get(start..name_end).and_then(sort_key);
        self.spans.push(Span {
            start,
            name_end,
            value_end: self.buf.len(),
            key,
        });
    }

    /// Appends every label of `other`, in its order (as if they were set here one by one).
    pub(crate) fn extend_from(&mut self, other: &Ls) {
        let base = self.buf.len();
        self.buf.push_str(&other.buf);
        self.spans.extend(other.spans.iter().map(|sp| Span {
            start: sp.start + base,
            name_end: sp.name_end + base,
            value_end: sp.value_end + base,
            key: sp.key,
        }));
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
        let name = |sp: &Span| self.buf.get(sp.start..sp.name_end).unwrap_or("");
        spans.sort_unstable_by(|a, b| {
            let by_name = match (a.key, b.key) {
                (Some(x), Some(y)) if x != y => x.cmp(&y),
                _ => name(a).cmp(name(b)),
            };
            by_name.then(b.start.cmp(&a.start))
        });
        spans.dedup_by(|a, b| name(a) == name(b));
        let buf = &self.buf;
        let labels = Labels::from_sorted_iter(spans.iter().map(|sp| {
            (
                buf.get(sp.start..sp.name_end).unwrap_or(""),
                buf.get(sp.name_end..sp.value_end).unwrap_or(""),
            )
        }));
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
        // A block appended keeps its order: its later sets win over earlier ones here, and
        // later sets here win over it.
        let mut block = Ls::new();
        block.raw("c", "7");
        block.raw("d", "8");
        block.raw("d", "9");
        ls.extend_from(&block);
        ls.raw("e", "10");
        ls.extend_from(&block);
        ls.raw("c", "11");
        assert_eq!(ls.labels().to_string(), r#"{c="11", d="9", e="10"}"#);
    }

    #[test]
    fn sort_key_order_is_name_order() {
        let names = [
            "__address__",
            "__meta_kubernetes_",
            "__meta_kubernetes_a",
            "__meta_kubernetes_pod_label_app",
            "__meta_kubernetes_pod_label_app_x",
            "__meta_kubernetes_pod_labelpresent_app",
            "__meta_kubernetes_pod_labelpresent_app_name_long_enough",
            "__meta_kubernetes_pod_labelpresent_app_name_long_enougi",
            "__meta_kubernetes_pod_name",
            "__meta_kubernetes_pod_name1",
            "__meta_kubernetesz",
            "instance",
        ];
        let mut ls = Ls::new();
        for (i, n) in names.iter().enumerate().rev() {
            ls.raw(n, &i.to_string());
        }
        let got: Vec<String> = ls.labels().iter().map(|l| l.name.to_string()).collect();
        assert_eq!(got, names);
        assert_eq!(sanitize_label_name("ok_Name1"), "ok_Name1");
        for raw in [
            "a.b/é-c",
            "",
            "-",
            "--x--",
            "é",
            "ok",
            "_a_",
            "x😀y.",
            "k8s.io/a-b",
        ] {
            let mut b = String::from("p");
            push_sanitized(&mut b, raw);
            assert_eq!(b, format!("p{}", sanitize_label_name(raw)), "{raw:?}");
        }
        let mut b = String::new();
        push_sanitized(&mut b, "a.b/é-c");
        assert_eq!(b, "a_b___c");
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
