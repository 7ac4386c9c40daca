//! The tables `kubectl top node` and `kubectl top pod` print (`kubectl/pkg/metricsutil`),
//! from Metrics API JSON: CPU in milli-cores rounded up (`173m`), memory in Mi truncated
//! (`48Mi`), percentages of capacity truncated, aligned by Go's `tabwriter` with kubectl's
//! settings (minimum width 10, padding 3, every cell followed by a tab).

use serde_json::Value;

/// kubectl's tabwriter minimum cell width (padding included).
const MIN_WIDTH: usize = 10;
/// kubectl's tabwriter padding.
const PADDING: usize = 3;

/// Why a Metrics API answer could not be turned into a table.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TopError {
    /// The body is not the expected JSON shape.
    #[error("unexpected Metrics API answer: {0}")]
    Shape(String),
    /// A quantity did not parse.
    #[error("bad quantity {0:?}")]
    Quantity(String),
}

/// A parsed Kubernetes quantity, in nano-units (so CPU is nanocores, memory nanobytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Quantity {
    nanos: u128,
}

impl Quantity {
    /// Parses `172668864n`, `250m`, `1`, `1.5`, `2k`, `49664Ki`, `256Mi`, `1e3` (non-negative).
    pub fn parse(s: &str) -> Result<Quantity, TopError> {
        let bad = || TopError::Quantity(s.to_owned());
        let split = s
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(s.len());
        let (num, suffix) = s.split_at(split);
        if num.is_empty() || num == "." {
            return Err(bad());
        }
        let (int, frac) = num.split_once('.').unwrap_or((num, ""));
        if frac.contains('.') || frac.len() > 9 {
            return Err(bad());
        }
        let int: u128 = if int.is_empty() {
            0
        } else {
            int.parse().map_err(|_| bad())?
        };
        let frac_nanos: u128 = if frac.is_empty() {
            0
        } else {
            format!("{frac:0<9}").parse().map_err(|_| bad())?
        };
        // Nano-units per one unit of the suffix.
        const G: u128 = 1_000_000_000;
        let per: u128 = match suffix {
            "n" => 1,
            "u" => 1_000,
            "m" => 1_000_000,
            "" => G,
            "k" => G * 1_000,
            "M" => G * 10u128.pow(6),
            "G" => G * 10u128.pow(9),
            "T" => G * 10u128.pow(12),
            "P" => G * 10u128.pow(15),
            "E" => G * 10u128.pow(18),
            "Ki" => G << 10,
            "Mi" => G << 20,
            "Gi" => G << 30,
            "Ti" => G << 40,
            "Pi" => G << 50,
            "Ei" => G << 60,
            e if e.starts_with(['e', 'E']) => {
                let exp: u32 = e[1..].parse().map_err(|_| bad())?;
                if exp > 18 {
                    return Err(bad());
                }
                G * 10u128.pow(exp)
            }
            _ => return Err(bad()),
        };
        // (int + frac/1e9) × per, rounded up to a whole nano-unit.
        let nanos = int
            .checked_mul(G)
            .and_then(|v| v.checked_add(frac_nanos))
            .and_then(|v| v.checked_mul(per))
            .ok_or_else(bad)?
            .div_ceil(G);
        Ok(Quantity { nanos })
    }

    /// kubectl's `MilliValue()`: milli-units rounded up.
    pub fn milli_value(self) -> u128 {
        self.nanos.div_ceil(1_000_000)
    }

    /// kubectl's `Value()`: units rounded up.
    pub fn value(self) -> u128 {
        self.nanos.div_ceil(1_000_000_000)
    }

    /// The sum of two quantities.
    pub fn add(self, other: Quantity) -> Quantity {
        Quantity {
            nanos: self.nanos.saturating_add(other.nanos),
        }
    }

    /// A quantity of whole units (bytes, cores).
    pub fn from_units(units: u64) -> Quantity {
        Quantity {
            nanos: u128::from(units) * 1_000_000_000,
        }
    }
}

/// One row of `kubectl top node`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRow {
    /// Node name.
    pub name: String,
    /// CPU usage.
    pub cpu: Quantity,
    /// Memory working set.
    pub memory: Quantity,
}

/// One row of `kubectl top pod`: the pod's containers summed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodRow {
    /// Namespace.
    pub namespace: String,
    /// Pod name.
    pub name: String,
    /// CPU usage summed over containers.
    pub cpu: Quantity,
    /// Memory summed over containers.
    pub memory: Quantity,
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Result<&'a str, TopError> {
    let mut cur = v;
    for p in path {
        cur = cur
            .get(p)
            .ok_or_else(|| TopError::Shape(format!("missing {}", path.join("."))))?;
    }
    cur.as_str()
        .ok_or_else(|| TopError::Shape(format!("{} is not a string", path.join("."))))
}

fn items(v: &Value, kind: &str) -> Result<Vec<Value>, TopError> {
    match v.get("kind").and_then(Value::as_str) {
        Some(k) if k == kind => {}
        other => return Err(TopError::Shape(format!("kind {other:?}, want {kind}"))),
    }
    match v.get("items") {
        Some(Value::Array(a)) => Ok(a.clone()),
        Some(Value::Null) | None => Ok(Vec::new()),
        Some(_) => Err(TopError::Shape("items is not an array".into())),
    }
}

/// The rows of a `NodeMetricsList`, in its order.
pub fn node_rows(list: &Value) -> Result<Vec<NodeRow>, TopError> {
    items(list, "NodeMetricsList")?
        .iter()
        .map(|m| {
            Ok(NodeRow {
                name: str_at(m, &["metadata", "name"])?.to_owned(),
                cpu: Quantity::parse(str_at(m, &["usage", "cpu"])?)?,
                memory: Quantity::parse(str_at(m, &["usage", "memory"])?)?,
            })
        })
        .collect()
}

/// The rows of a `PodMetricsList`, in its order.
pub fn pod_rows(list: &Value) -> Result<Vec<PodRow>, TopError> {
    items(list, "PodMetricsList")?
        .iter()
        .map(|m| {
            let mut cpu = Quantity::default();
            let mut memory = Quantity::default();
            if let Some(cs) = m.get("containers").and_then(Value::as_array) {
                for c in cs {
                    cpu = cpu.add(Quantity::parse(str_at(c, &["usage", "cpu"])?)?);
                    memory = memory.add(Quantity::parse(str_at(c, &["usage", "memory"])?)?);
                }
            }
            Ok(PodRow {
                namespace: str_at(m, &["metadata", "namespace"])?.to_owned(),
                name: str_at(m, &["metadata", "name"])?.to_owned(),
                cpu,
                memory,
            })
        })
        .collect()
}

fn cpu_cell(q: Quantity) -> String {
    format!("{}m", q.milli_value())
}

fn memory_cell(q: Quantity) -> String {
    format!("{}Mi", q.value() / (1024 * 1024))
}

/// kubectl's `int64(float64(used.MilliValue()) / float64(available.MilliValue()) * 100)`.
fn percent_cell(used: Quantity, available: Quantity) -> String {
    let a = available.milli_value();
    if a == 0 {
        return "<unknown>".to_owned();
    }
    let f = used.milli_value() as f64 / a as f64 * 100.0;
    format!("{}%", f as i64)
}

/// The `kubectl top node` table; `capacity` gives (CPU, memory) per node name for the
/// percentage columns (`<unknown>` where it returns `None`).
pub fn node_table(
    rows: &[NodeRow],
    capacity: impl Fn(&str) -> Option<(Quantity, Quantity)>,
    no_headers: bool,
) -> String {
    let mut lines: Vec<Vec<String>> = Vec::new();
    if !no_headers {
        lines.push(
            ["NAME", "CPU(cores)", "CPU(%)", "MEMORY(bytes)", "MEMORY(%)"]
                .map(str::to_owned)
                .to_vec(),
        );
    }
    for r in rows {
        let cap = capacity(&r.name);
        lines.push(vec![
            r.name.clone(),
            cpu_cell(r.cpu),
            cap.map_or_else(|| "<unknown>".to_owned(), |(c, _)| percent_cell(r.cpu, c)),
            memory_cell(r.memory),
            cap.map_or_else(
                || "<unknown>".to_owned(),
                |(_, m)| percent_cell(r.memory, m),
            ),
        ]);
    }
    tabwrite(&lines)
}

/// The `kubectl top pod` table, with a `NAMESPACE` column when `with_namespace`.
pub fn pod_table(rows: &[PodRow], with_namespace: bool, no_headers: bool) -> String {
    let mut lines: Vec<Vec<String>> = Vec::new();
    if !no_headers {
        let mut h = Vec::new();
        if with_namespace {
            h.push("NAMESPACE".to_owned());
        }
        h.extend(["NAME", "CPU(cores)", "MEMORY(bytes)"].map(str::to_owned));
        lines.push(h);
    }
    for r in rows {
        let mut l = Vec::new();
        if with_namespace {
            l.push(r.namespace.clone());
        }
        l.extend([r.name.clone(), cpu_cell(r.cpu), memory_cell(r.memory)]);
        lines.push(l);
    }
    tabwrite(&lines)
}

/// Go `text/tabwriter` with kubectl's settings for lines whose every cell ends in a tab:
/// each column is as wide as its widest cell plus padding, at least [`MIN_WIDTH`].
fn tabwrite(lines: &[Vec<String>]) -> String {
    let cols = lines.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![MIN_WIDTH; cols];
    for l in lines {
        for (i, cell) in l.iter().enumerate() {
            let w = cell.chars().count() + PADDING;
            if let Some(slot) = widths.get_mut(i)
                && w > *slot
            {
                *slot = w;
            }
        }
    }
    let mut out = String::new();
    for l in lines {
        for (cell, w) in l.iter().zip(&widths) {
            out.push_str(cell);
            for _ in cell.chars().count()..*w {
                out.push(' ');
            }
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_round_like_kubectl() {
        let q = |s| Quantity::parse(s).unwrap();
        assert_eq!(q("172668864n").milli_value(), 173);
        assert_eq!(q("250m").milli_value(), 250);
        assert_eq!(q("1").milli_value(), 1000);
        assert_eq!(q("1.5").milli_value(), 1500);
        assert_eq!(q("2k").value(), 2000);
        assert_eq!(q("49664Ki").value(), 50_855_936);
        assert_eq!(q("256Mi").value(), 268_435_456);
        assert_eq!(q("37224449").value(), 37_224_449);
        assert_eq!(q("1e3").value(), 1000);
        assert_eq!(q("0").milli_value(), 0);
        assert_eq!(q("1n").milli_value(), 1);
        assert!(Quantity::parse("").is_err());
        assert!(Quantity::parse("12x").is_err());
        assert!(Quantity::parse("-1").is_err());
        assert!(Quantity::parse("1.2.3").is_err());
    }

    #[test]
    fn spec_example_pod_row() {
        let list = serde_json::json!({
            "kind": "PodMetricsList", "apiVersion": "metrics.k8s.io/v1beta1", "metadata": {},
            "items": [{
                "metadata": {"name": "web-7d4b9c6f5-x2x8q", "namespace": "default", "creationTimestamp": "2026-01-01T00:00:03Z"},
                "timestamp": "2026-01-01T00:00:00Z", "window": "15.012s",
                "containers": [
                    {"name": "log-shipper", "usage": {"cpu": "12002398n", "memory": "36352Ki"}},
                    {"name": "nginx", "usage": {"cpu": "172668864n", "memory": "49664Ki"}}
                ]
            }]
        });
        let rows = pod_rows(&list).unwrap();
        // 184671262n -> 185m; 88080384 B -> 84Mi.
        assert_eq!(
            pod_table(&rows, false, false),
            "NAME                  CPU(cores)   MEMORY(bytes)   \n\
             web-7d4b9c6f5-x2x8q   185m         84Mi            \n"
        );
        assert_eq!(
            pod_table(&rows, true, false),
            "NAMESPACE   NAME                  CPU(cores)   MEMORY(bytes)   \n\
             default     web-7d4b9c6f5-x2x8q   185m         84Mi            \n"
        );
        assert_eq!(
            pod_table(&rows, false, true),
            "web-7d4b9c6f5-x2x8q   185m      84Mi      \n"
        );
    }

    #[test]
    fn node_table_with_and_without_capacity() {
        let list = serde_json::json!({
            "kind": "NodeMetricsList", "apiVersion": "metrics.k8s.io/v1beta1", "metadata": {},
            "items": [{
                "metadata": {"name": "node-v2", "creationTimestamp": "2026-01-01T00:00:03Z"},
                "timestamp": "2026-01-01T00:00:00Z", "window": "15.012s",
                "usage": {"cpu": "389295577n", "memory": "4141868Ki"}
            }]
        });
        let rows = node_rows(&list).unwrap();
        let cap = |_: &str| {
            Some((
                Quantity::from_units(4),
                Quantity::from_units(16_777_216_000),
            ))
        };
        // 390m of 4000m = 9.75% -> 9%; 4044Mi of 16000Mi: 4241272832/16777216000 = 25.28% -> 25%.
        assert_eq!(
            node_table(&rows, cap, false),
            "NAME      CPU(cores)   CPU(%)    MEMORY(bytes)   MEMORY(%)   \n\
             node-v2   390m         9%        4044Mi          25%         \n"
        );
        assert_eq!(
            node_table(&rows, |_| None, true),
            "node-v2   390m      <unknown>   4044Mi    <unknown>   \n"
        );
    }

    #[test]
    fn wrong_kind_is_an_error() {
        let v = serde_json::json!({"kind": "Status"});
        assert!(matches!(node_rows(&v), Err(TopError::Shape(_))));
        assert!(matches!(pod_rows(&v), Err(TopError::Shape(_))));
    }
}
