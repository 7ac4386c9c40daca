//! Label-set helpers the operators share.

use scrapeline_exposition::Labels;
use scrapeline_exposition::labels::METRIC_NAME;

/// Labels that functions and arithmetic drop (the metric name and the type and unit
/// metadata labels, like Prometheus' `DropReserved`).
pub(crate) fn is_reserved(name: &str) -> bool {
    name == METRIC_NAME || name == "__type__" || name == "__unit__"
}

/// `l` without the metric name (and metadata labels); a clone when there is none.
pub(crate) fn drop_name(l: &Labels) -> Labels {
    if !l.iter().any(|x| is_reserved(x.name)) {
        return l.clone();
    }
    Labels::from_sorted_iter(
        l.iter()
            .filter(|x| !is_reserved(x.name))
            .map(|x| (x.name, x.value))
            .collect::<Vec<_>>(),
    )
}

/// The labels of `l` named in `names` (`include`) or not named there (`!include`).
pub(crate) fn keep(l: &Labels, names: &[String], include: bool) -> Labels {
    Labels::from_sorted_iter(
        l.iter()
            .filter(|x| names.iter().any(|n| n == x.name) == include)
            .map(|x| (x.name, x.value))
            .collect::<Vec<_>>(),
    )
}

/// `l` with `name` set to `value` (removed when `value` is empty).
pub(crate) fn with_label(l: &Labels, name: &str, value: &str) -> Labels {
    let mut v: Vec<(&str, &str)> = l
        .iter()
        .filter(|x| x.name != name)
        .map(|x| (x.name, x.value))
        .collect();
    if !value.is_empty() {
        let at = v.partition_point(|x| x.0 < name);
        v.insert(at, (name, value));
    }
    Labels::from_sorted_iter(v)
}

/// Prometheus' rendering of a label set in error messages: `{a="b", c="d"}`.
pub(crate) fn render(l: &Labels) -> String {
    let mut s = String::from("{");
    for (i, x) in l.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        s.push_str(x.name);
        s.push_str("=\"");
        s.push_str(x.value);
        s.push('"');
    }
    s.push('}');
    s
}
