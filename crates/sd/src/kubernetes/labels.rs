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

/// Go's `net.JoinHostPort`: brackets a host containing `:`.
pub(crate) fn join_host_port(host: &str, port: i32) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// A label set under construction; later sets of a name win.
#[derive(Debug, Default, Clone)]
pub(crate) struct Ls(pub(crate) Vec<(String, String)>);

impl Ls {
    pub(crate) fn new() -> Self {
        Self(Vec::with_capacity(16))
    }

    /// Sets `__meta_kubernetes_<suffix>`.
    pub(crate) fn m(&mut self, suffix: &str, v: &str) {
        self.0.push((format!("{P}{suffix}"), v.to_string()));
    }

    /// Sets a label by its full name.
    pub(crate) fn raw(&mut self, name: &str, v: &str) {
        self.0.push((name.to_string(), v.to_string()));
    }

    /// `addObjectMetaLabels`: `_<role>_name` (if `with_name`), labels, annotations and their
    /// `present` companions.
    pub(crate) fn meta(&mut self, role: &str, m: &Meta, with_name: bool) {
        if with_name {
            self.0.push((format!("{P}{role}_name"), m.name.to_string()));
        }
        for (k, v) in m.labels.iter() {
            let k = sanitize_label_name(k);
            self.0.push((format!("{P}{role}_label_{k}"), v.to_string()));
            self.0
                .push((format!("{P}{role}_labelpresent_{k}"), "true".into()));
        }
        for (k, v) in m.annotations.iter() {
            let k = sanitize_label_name(k);
            self.0
                .push((format!("{P}{role}_annotation_{k}"), v.to_string()));
            self.0
                .push((format!("{P}{role}_annotationpresent_{k}"), "true".into()));
        }
    }

    pub(crate) fn labels(&self) -> Labels {
        Labels::from_pairs(self.0.iter().map(|(a, b)| (a.as_str(), b.as_str())))
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
    fn host_port() {
        assert_eq!(join_host_port("1.2.3.4", 80), "1.2.3.4:80");
        assert_eq!(join_host_port("fd00::1", 9000), "[fd00::1]:9000");
        assert_eq!(join_host_port("", 10250), ":10250");
    }
}
