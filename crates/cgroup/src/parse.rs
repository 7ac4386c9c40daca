//! Pure parsers for the cgroup and `/proc` file formats the collector reads.
//!
//! Every function here takes the file's content as `&str` and does no I/O, so each format can
//! be tested on literal strings. Errors are [`FormatError`]s (line + message); the
//! [`crate::fs`] layer adds the path. None of them panics on any input.

use crate::error::FormatError;

/// Parses a file holding one unsigned integer (`memory.current`, `cpuacct.usage`, ...).
pub fn parse_u64(s: &str) -> Result<u64, FormatError> {
    let t = s.trim();
    t.parse::<u64>()
        .map_err(|_| FormatError::new(1, format!("expected an unsigned integer, got {t:?}")))
}

/// Parses a file holding one signed integer (`cpu.cfs_quota_us`, which is `-1` when unset).
pub fn parse_i64(s: &str) -> Result<i64, FormatError> {
    let t = s.trim();
    t.parse::<i64>()
        .map_err(|_| FormatError::new(1, format!("expected an integer, got {t:?}")))
}

/// Parses a cgroup v2 limit file (`memory.max`, `pids.max`, `memory.swap.max`): `max` is
/// `None`, a number is `Some`.
pub fn parse_max(s: &str) -> Result<Option<u64>, FormatError> {
    let t = s.trim();
    if t == "max" {
        return Ok(None);
    }
    parse_u64(t).map(Some)
}

/// Parses v2 `cpu.max`: `"<quota|max> <period>"`. Returns `(quota, period)`, quota `None`
/// when `max`. A file with only the first field (very old kernels) gets period 100000.
pub fn parse_cpu_max(s: &str) -> Result<(Option<u64>, u64), FormatError> {
    let mut it = s.split_ascii_whitespace();
    let quota = match it.next() {
        Some("max") => None,
        Some(q) => Some(
            q.parse::<u64>()
                .map_err(|_| FormatError::new(1, format!("bad quota {q:?}")))?,
        ),
        None => return Err(FormatError::new(1, "empty cpu.max")),
    };
    let period = match it.next() {
        Some(p) => p
            .parse::<u64>()
            .map_err(|_| FormatError::new(1, format!("bad period {p:?}")))?,
        None => 100_000,
    };
    Ok((quota, period))
}

/// Parses a pressure file (`cpu.pressure`, `memory.pressure`, `io.pressure`):
/// `some avg10=0.00 avg60=0.00 avg300=0.00 total=N` and the same for `full` (µs). A missing
/// `full` line (the root's `cpu.pressure` on kernels < 5.13) is 0.
pub fn parse_pressure(s: &str) -> Result<crate::stats::Psi, FormatError> {
    let mut psi = crate::stats::Psi::default();
    let mut some_seen = false;
    for (i, line) in Lines(Some(s)).enumerate() {
        let Some((first, mut rest)) = token(line) else {
            continue;
        };
        let slot = match first {
            "some" => {
                some_seen = true;
                &mut psi.some_total_us
            }
            "full" => &mut psi.full_total_us,
            other => {
                return Err(FormatError::new(
                    i + 1,
                    format!("unknown pressure line {other:?}"),
                ));
            }
        };
        let total = loop {
            match token(rest) {
                Some((t, r)) => match t.strip_prefix("total=") {
                    Some(v) => break v,
                    None => rest = r,
                },
                None => return Err(FormatError::new(i + 1, "no total= field")),
            }
        };
        *slot = parse_u64_ascii(total)
            .ok_or_else(|| FormatError::new(i + 1, format!("bad total {total:?}")))?;
    }
    if !some_seen {
        return Err(FormatError::new(1, "no \"some\" line"));
    }
    Ok(psi)
}

/// The lines of `s` split at `\n` (memchr), a last empty line included: for parsers that
/// skip blank lines, the same lines as [`str::lines`] up to `\r`, which they take as
/// whitespace.
struct Lines<'a>(Option<&'a str>);

impl<'a> Iterator for Lines<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let rest = self.0?;
        match memchr::memchr(b'\n', rest.as_bytes()) {
            Some(i) => {
                self.0 = rest.get(i + 1..);
                rest.get(..i)
            }
            None => {
                self.0 = None;
                Some(rest)
            }
        }
    }
}

/// The first token of `s` separated by ASCII whitespace, and what follows it (as
/// `split_ascii_whitespace` splits).
fn token(s: &str) -> Option<(&str, &str)> {
    let b = s.as_bytes();
    let start = b.iter().position(|c| !c.is_ascii_whitespace())?;
    let len = b
        .get(start..)?
        .iter()
        .position(u8::is_ascii_whitespace)
        .unwrap_or(b.len() - start);
    Some((s.get(start..start + len)?, s.get(start + len..)?))
}

/// `str::parse::<u64>` without its generic machinery: an optional `+`, then only digits,
/// no overflow.
fn parse_u64_ascii(t: &str) -> Option<u64> {
    let b = t.as_bytes();
    let digits = b.strip_prefix(b"+").unwrap_or(b);
    if digits.is_empty() {
        return None;
    }
    let mut v: u64 = 0;
    for &c in digits {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(d))?;
    }
    Some(v)
}

/// [`flat_keyed`] without the iterator and the line numbers: calls `each` per valid
/// `key value` line (the same lines, keys and values) and returns how many lines were
/// malformed. The collector's hot path (`memory.stat` has about 60 lines).
pub fn flat_keyed_each(s: &str, mut each: impl FnMut(&str, u64)) -> u64 {
    let mut bad = 0;
    for line in Lines(Some(s)) {
        let Some((key, rest)) = token(line) else {
            continue;
        };
        match token(rest).and_then(|(v, _)| parse_u64_ascii(v)) {
            Some(v) => each(key, v),
            None => bad += 1,
        }
    }
    bad
}

/// One `key value` pair of a flat-keyed file.
pub type KeyValue<'a> = (&'a str, u64);

/// Iterates the `key value` lines of a flat-keyed file (`memory.stat`, `cpu.stat`,
/// `cpuacct.stat`, `memory.events`, `pids.events`). Blank lines are skipped; a line without
/// a numeric second field yields an error for that line only, so callers can skip and count.
pub fn flat_keyed(s: &str) -> impl Iterator<Item = Result<KeyValue<'_>, FormatError>> + '_ {
    s.lines().enumerate().filter_map(|(i, line)| {
        let mut it = line.split_ascii_whitespace();
        let key = it.next()?;
        Some(match it.next().map(str::parse::<u64>) {
            Some(Ok(v)) => Ok((key, v)),
            _ => Err(FormatError::new(
                i + 1,
                format!("expected `key value`, got {line:?}"),
            )),
        })
    })
}

/// What a `cgroup.procs` file says: how many processes, and the first one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Procs {
    /// Number of non-empty lines.
    pub count: u64,
    /// The first pid listed (the one whose `/proc/<pid>/net/dev` cAdvisor reads).
    pub first: Option<u32>,
}

/// Counts the lines of a `cgroup.procs` file and returns the first pid.
pub fn parse_procs(s: &str) -> Procs {
    let mut out = Procs::default();
    for line in s.lines() {
        let t = line.trim();
        if t.is_empty() {
            continue;
        }
        if out.first.is_none() {
            out.first = t.parse().ok();
        }
        out.count += 1;
    }
    out
}

/// The block-I/O operations of a v1 `blkio.*` table that cAdvisor keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BlkioOp {
    /// `Read`.
    Read,
    /// `Write`.
    Write,
    /// `Sync`.
    Sync,
    /// `Async`.
    Async,
    /// `Discard`.
    Discard,
    /// `Total`.
    Total,
}

impl BlkioOp {
    /// The operation's name as the kernel writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            BlkioOp::Read => "Read",
            BlkioOp::Write => "Write",
            BlkioOp::Sync => "Sync",
            BlkioOp::Async => "Async",
            BlkioOp::Discard => "Discard",
            BlkioOp::Total => "Total",
        }
    }

    fn from_str(s: &str) -> Option<Self> {
        Some(match s {
            "Read" => BlkioOp::Read,
            "Write" => BlkioOp::Write,
            "Sync" => BlkioOp::Sync,
            "Async" => BlkioOp::Async,
            "Discard" => BlkioOp::Discard,
            "Total" => BlkioOp::Total,
            _ => return None,
        })
    }
}

/// One `MAJ:MIN Op value` line of a v1 blkio table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlkioEntry {
    /// Device major number.
    pub major: u32,
    /// Device minor number.
    pub minor: u32,
    /// The operation.
    pub op: BlkioOp,
    /// The counter (bytes or operations, depending on the file).
    pub value: u64,
}

/// A parsed v1 blkio table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BlkioTable {
    /// The per-device lines, in file order.
    pub entries: Vec<BlkioEntry>,
    /// Lines with an operation name this parser does not know (skipped).
    pub unknown_keys: u64,
}

/// Parses a v1 blkio table (`blkio.throttle.io_service_bytes_recursive` and friends). The
/// trailing `Total N` summary line is skipped; a file holding only it is empty (runc treats
/// it so when choosing which file group to read).
pub fn parse_blkio(s: &str) -> Result<BlkioTable, FormatError> {
    let mut out = BlkioTable::default();
    parse_blkio_into(s, &mut out)?;
    Ok(out)
}

/// [`parse_blkio`] into `out`, replacing what it holds (its vector reused). On an error
/// `out` holds the lines before the bad one.
pub fn parse_blkio_into(s: &str, out: &mut BlkioTable) -> Result<(), FormatError> {
    out.entries.clear();
    out.unknown_keys = 0;
    for (i, line) in s.lines().enumerate() {
        let mut it = line.split_ascii_whitespace();
        match (it.next(), it.next(), it.next(), it.next()) {
            (None, ..) => {}
            (Some(_), Some(_), None, _) => {} // the "Total N" summary
            (Some(dev), Some(op), Some(value), None) => {
                let (major, minor) =
                    parse_dev(dev).map_err(|e| FormatError::new(i + 1, e.message))?;
                let value = value
                    .parse::<u64>()
                    .map_err(|_| FormatError::new(i + 1, format!("bad value in {line:?}")))?;
                match BlkioOp::from_str(op) {
                    Some(op) => out.entries.push(BlkioEntry {
                        major,
                        minor,
                        op,
                        value,
                    }),
                    None => out.unknown_keys += 1,
                }
            }
            _ => {
                return Err(FormatError::new(
                    i + 1,
                    format!("expected `MAJ:MIN Op value`, got {line:?}"),
                ));
            }
        }
    }
    Ok(())
}

/// Parses `MAJ:MIN` (`/sys/block/<dev>/dev`, blkio and io.stat device fields).
pub fn parse_dev(s: &str) -> Result<(u32, u32), FormatError> {
    let t = s.trim();
    let (a, b) = t
        .split_once(':')
        .ok_or_else(|| FormatError::new(1, format!("expected MAJ:MIN, got {t:?}")))?;
    match (a.parse::<u32>(), b.parse::<u32>()) {
        (Ok(a), Ok(b)) => Ok((a, b)),
        _ => Err(FormatError::new(1, format!("expected MAJ:MIN, got {t:?}"))),
    }
}

/// One device line of v2 `io.stat`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IoStatLine {
    /// Device major number.
    pub major: u32,
    /// Device minor number.
    pub minor: u32,
    /// `rbytes`.
    pub rbytes: u64,
    /// `wbytes`.
    pub wbytes: u64,
    /// `rios`.
    pub rios: u64,
    /// `wios`.
    pub wios: u64,
}

/// A parsed v2 `io.stat`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IoStat {
    /// One entry per device line, in file order.
    pub devices: Vec<IoStatLine>,
    /// `key=value` fields with a key this parser does not know (skipped).
    pub unknown_keys: u64,
}

/// Parses v2 `io.stat` (`259:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0`). Discard
/// counters and iocost (`cost.*`) fields are accepted and ignored, as cAdvisor's kubelet
/// families do not use them.
pub fn parse_io_stat(s: &str) -> Result<IoStat, FormatError> {
    let mut devices = Vec::new();
    let unknown_keys = io_stat_each(s, |l| devices.push(l))?;
    Ok(IoStat {
        devices,
        unknown_keys,
    })
}

/// [`parse_io_stat`] without the `Vec`: calls `each` per device line, in file order, and
/// returns the number of unknown keys. On an error, `each` may have been called for the
/// lines before it.
pub fn io_stat_each(s: &str, mut each: impl FnMut(IoStatLine)) -> Result<u64, FormatError> {
    let mut unknown_keys = 0;
    for (i, line) in s.lines().enumerate() {
        let mut it = line.split_ascii_whitespace();
        let Some(dev) = it.next() else { continue };
        let (major, minor) = parse_dev(dev).map_err(|e| FormatError::new(i + 1, e.message))?;
        let mut l = IoStatLine {
            major,
            minor,
            ..IoStatLine::default()
        };
        for kv in it {
            let Some((k, v)) = kv.split_once('=') else {
                unknown_keys += 1;
                continue;
            };
            let Ok(v) = v.parse::<u64>() else {
                // cost.* values may be fractional; the kubelet families do not use them.
                if !k.starts_with("cost.") {
                    unknown_keys += 1;
                }
                continue;
            };
            match k {
                "rbytes" => l.rbytes = v,
                "wbytes" => l.wbytes = v,
                "rios" => l.rios = v,
                "wios" => l.wios = v,
                "dbytes" | "dios" => {}
                k if k.starts_with("cost.") => {}
                _ => unknown_keys += 1,
            }
        }
        each(l);
    }
    Ok(unknown_keys)
}

/// One interface line of `/proc/<pid>/net/dev`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InterfaceStats {
    /// Interface name (`eth0`).
    pub name: String,
    /// Received bytes.
    pub rx_bytes: u64,
    /// Received packets.
    pub rx_packets: u64,
    /// Receive errors.
    pub rx_errors: u64,
    /// Received packets dropped.
    pub rx_dropped: u64,
    /// Transmitted bytes.
    pub tx_bytes: u64,
    /// Transmitted packets.
    pub tx_packets: u64,
    /// Transmit errors.
    pub tx_errors: u64,
    /// Transmitted packets dropped.
    pub tx_dropped: u64,
}

/// Whether cAdvisor ignores an interface: lower-cased name starting with `lo`, `veth`,
/// `docker` or `nerdctl`.
pub fn is_ignored_interface(name: &str) -> bool {
    ["lo", "veth", "docker", "nerdctl"].iter().any(|p| {
        name.as_bytes()
            .get(..p.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(p.as_bytes()))
    })
}

/// Parses `/proc/<pid>/net/dev` as cAdvisor's `scanInterfaceStats` does: two header lines
/// skipped, `:` removed, exactly 17 fields per line (otherwise the whole file is rejected),
/// ignored interfaces ([`is_ignored_interface`]) dropped. The result is sorted by name.
pub fn parse_net_dev(s: &str) -> Result<Vec<InterfaceStats>, FormatError> {
    let mut out = Vec::new();
    parse_net_dev_into(s, &mut out)?;
    Ok(out)
}

/// [`parse_net_dev`] into `out`, replacing what it holds but reusing its entries' name
/// strings. On an error `out` is left empty.
pub fn parse_net_dev_into(s: &str, out: &mut Vec<InterfaceStats>) -> Result<(), FormatError> {
    let mut n = 0;
    let r = net_dev_lines(s, |name, v| {
        let [
            rx_bytes,
            rx_packets,
            rx_errors,
            rx_dropped,
            tx_bytes,
            tx_packets,
            tx_errors,
            tx_dropped,
        ] = v;
        let entry = InterfaceStats {
            name: String::new(),
            rx_bytes,
            rx_packets,
            rx_errors,
            rx_dropped,
            tx_bytes,
            tx_packets,
            tx_errors,
            tx_dropped,
        };
        match out.get_mut(n) {
            Some(slot) => {
                let mut s = std::mem::take(&mut slot.name);
                s.clear();
                s.push_str(name);
                *slot = InterfaceStats { name: s, ..entry };
            }
            None => out.push(InterfaceStats {
                name: name.to_string(),
                ..entry
            }),
        }
        n += 1;
    });
    if let Err(e) = r {
        out.clear();
        return Err(e);
    }
    out.truncate(n);
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(())
}

/// The interface lines of a `net/dev` file: name and the eight counters kept (rx bytes,
/// packets, errors, dropped, then the same for tx). Stops at the first bad line.
fn net_dev_lines(s: &str, mut each: impl FnMut(&str, [u64; 8])) -> Result<(), FormatError> {
    for (i, line) in s.lines().enumerate().skip(2) {
        if line.trim().is_empty() {
            continue;
        }
        // The first `:` taken as a space: the fields of both sides.
        let (a, b) = line.split_once(':').unwrap_or((line, ""));
        let mut f = [""; 17];
        let mut n = 0;
        for t in a.split_ascii_whitespace().chain(b.split_ascii_whitespace()) {
            if let Some(slot) = f.get_mut(n) {
                *slot = t;
            }
            n += 1;
        }
        if n != 17 {
            return Err(FormatError::new(
                i + 1,
                format!("expected 17 fields, got {n}"),
            ));
        }
        let name = f[0];
        if is_ignored_interface(name) {
            continue;
        }
        let mut v = [0u64; 8];
        for (slot, idx) in v.iter_mut().zip([1usize, 2, 3, 4, 9, 10, 11, 12]) {
            *slot = f
                .get(idx)
                .and_then(|v| v.parse::<u64>().ok())
                .ok_or_else(|| FormatError::new(i + 1, format!("bad field {idx} in {line:?}")))?;
        }
        each(name, v);
    }
    Ok(())
}

/// The `/proc/meminfo` values the collector uses, in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MemInfo {
    /// `MemTotal` × 1024.
    pub mem_total: u64,
    /// `SwapTotal` × 1024.
    pub swap_total: u64,
    /// `SwapFree` × 1024.
    pub swap_free: u64,
}

/// Parses `/proc/meminfo` (`MemTotal:  16384000 kB`). Missing keys read as 0.
pub fn parse_meminfo(s: &str) -> Result<MemInfo, FormatError> {
    let mut out = MemInfo::default();
    for (i, line) in s.lines().enumerate() {
        let Some((k, rest)) = line.split_once(':') else {
            continue;
        };
        let slot = match k.trim() {
            "MemTotal" => &mut out.mem_total,
            "SwapTotal" => &mut out.swap_total,
            "SwapFree" => &mut out.swap_free,
            _ => continue,
        };
        let v = rest
            .split_ascii_whitespace()
            .next()
            .and_then(|v| v.parse::<u64>().ok())
            .ok_or_else(|| FormatError::new(i + 1, format!("bad value in {line:?}")))?;
        *slot = v.saturating_mul(1024);
    }
    Ok(out)
}

/// Counts the `processor` lines of `/proc/cpuinfo` (logical CPUs).
pub fn count_cpuinfo_processors(s: &str) -> u64 {
    s.lines()
        .filter(|l| {
            l.split_once(':')
                .is_some_and(|(k, _)| k.trim_end() == "processor")
        })
        .count() as u64
}

/// Counts the CPUs of a kernel CPU list (`/sys/devices/system/cpu/online`: `0-3,6,8-9`).
pub fn count_cpu_list(s: &str) -> Result<u64, FormatError> {
    let mut n = 0u64;
    for part in s.trim().split(',').filter(|p| !p.is_empty()) {
        let bad = || FormatError::new(1, format!("bad CPU list element {part:?}"));
        match part.split_once('-') {
            Some((a, b)) => {
                let a: u64 = a.parse().map_err(|_| bad())?;
                let b: u64 = b.parse().map_err(|_| bad())?;
                if b < a {
                    return Err(bad());
                }
                n += b - a + 1;
            }
            None => {
                part.parse::<u64>().map_err(|_| bad())?;
                n += 1;
            }
        }
    }
    Ok(n)
}

/// Parses `/proc/uptime` and returns the whole seconds of the first field.
pub fn parse_uptime_secs(s: &str) -> Result<u64, FormatError> {
    let first = s
        .split_ascii_whitespace()
        .next()
        .ok_or_else(|| FormatError::new(1, "empty uptime"))?;
    let int = first.split('.').next().unwrap_or(first);
    int.parse::<u64>()
        .map_err(|_| FormatError::new(1, format!("bad uptime {first:?}")))
}

/// One line of `/proc/<pid>/mountinfo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountInfo {
    /// `MAJ:MIN` of the mounted filesystem (field 3).
    pub major: u32,
    /// Minor number (field 3).
    pub minor: u32,
    /// Root of the mount within the filesystem (field 4).
    pub root: String,
    /// Mount point (field 5), octal escapes decoded.
    pub mount_point: String,
    /// Filesystem type (`cgroup`, `cgroup2`, `tmpfs`, ...).
    pub fstype: String,
    /// Mount source (`/dev/sda1`, `cgroup`, ...).
    pub source: String,
    /// Super options (`rw,cpu,cpuacct`).
    pub super_options: String,
}

/// Parses `/proc/<pid>/mountinfo`. Lines with too few fields are an error for that line.
pub fn parse_mountinfo(s: &str) -> Result<Vec<MountInfo>, FormatError> {
    let mut out = Vec::new();
    for (i, line) in s.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let bad = || FormatError::new(i + 1, format!("malformed mountinfo line {line:?}"));
        let (pre, post) = line.split_once(" - ").ok_or_else(bad)?;
        let pre: Vec<&str> = pre.split(' ').collect();
        let post: Vec<&str> = post.split(' ').collect();
        let (Some(dev), Some(root), Some(mp)) = (pre.get(2), pre.get(3), pre.get(4)) else {
            return Err(bad());
        };
        let (major, minor) = parse_dev(dev).map_err(|_| bad())?;
        out.push(MountInfo {
            major,
            minor,
            root: unescape_octal(root),
            mount_point: unescape_octal(mp),
            fstype: post.first().copied().unwrap_or_default().to_string(),
            source: unescape_octal(post.get(1).copied().unwrap_or_default()),
            super_options: post.get(2).copied().unwrap_or_default().to_string(),
        });
    }
    Ok(out)
}

/// Decodes the `\NNN` octal escapes the kernel uses for spaces and such in mount paths.
fn unescape_octal(s: &str) -> String {
    if !s.contains('\\') {
        return s.to_string();
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if let (Some(b'\\'), Some(d)) = (b.get(i), b.get(i + 1..i + 4))
            && d.iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = d.iter().fold(0u32, |acc, c| acc * 8 + u32::from(c - b'0'));
            if let Ok(byte) = u8::try_from(v) {
                out.push(byte);
                i += 4;
                continue;
            }
        }
        if let Some(c) = b.get(i) {
            out.push(*c);
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pressure_files() {
        let p = parse_pressure(
            "some avg10=0.00 avg60=0.12 avg300=0.00 total=123456789\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=98765432\n",
        )
        .unwrap();
        assert_eq!((p.some_total_us, p.full_total_us), (123456789, 98765432));
        let p = parse_pressure("some avg10=0.00 avg60=0.00 avg300=0.00 total=5\n").unwrap();
        assert_eq!((p.some_total_us, p.full_total_us), (5, 0));
        assert_eq!(
            parse_pressure("some avg10=0.00 total=x\n")
                .unwrap_err()
                .to_string(),
            "line 1: bad total \"x\""
        );
        assert!(parse_pressure("").is_err());
        assert!(parse_pressure("other total=1\n").is_err());
        assert!(parse_pressure("some avg10=1.00\n").is_err());
    }

    #[test]
    fn single_values() {
        assert_eq!(parse_u64("63438848\n"), Ok(63438848));
        assert_eq!(parse_i64("-1\n"), Ok(-1));
        assert_eq!(parse_max("max\n"), Ok(None));
        assert_eq!(parse_max("268435456\n"), Ok(Some(268435456)));
        let e = parse_u64("abc").unwrap_err();
        assert_eq!(e.message, "expected an unsigned integer, got \"abc\"");
        assert_eq!(parse_cpu_max("50000 100000\n"), Ok((Some(50000), 100000)));
        assert_eq!(parse_cpu_max("max 100000\n"), Ok((None, 100000)));
        assert_eq!(parse_cpu_max("max\n"), Ok((None, 100000)));
        assert!(parse_cpu_max("").is_err());
        assert!(parse_cpu_max("x 1").is_err());
    }

    #[test]
    fn flat_keyed_skips_bad_lines() {
        let got: Vec<_> = flat_keyed("a 1\n\nb x\ncore_sched.force_idle_usec 0\nc\n").collect();
        assert_eq!(got.len(), 4);
        assert_eq!(got[0], Ok(("a", 1)));
        assert_eq!(got[1].as_ref().unwrap_err().line, 3);
        assert_eq!(got[2], Ok(("core_sched.force_idle_usec", 0)));
        assert_eq!(got[3].as_ref().unwrap_err().line, 5);
    }

    #[test]
    fn procs() {
        assert_eq!(
            parse_procs("3456\n3501\n\n3502\n"),
            Procs {
                count: 3,
                first: Some(3456)
            }
        );
        assert_eq!(parse_procs(""), Procs::default());
    }

    #[test]
    fn blkio() {
        let t = parse_blkio("8:0 Read 20971520\n8:0 Write 4194304\n8:0 Frob 1\nTotal 25231360\n")
            .unwrap();
        assert_eq!(t.unknown_keys, 1);
        assert_eq!(
            t.entries,
            vec![
                BlkioEntry {
                    major: 8,
                    minor: 0,
                    op: BlkioOp::Read,
                    value: 20971520
                },
                BlkioEntry {
                    major: 8,
                    minor: 0,
                    op: BlkioOp::Write,
                    value: 4194304
                }
            ]
        );
        assert_eq!(parse_blkio("Total 0\n").unwrap().entries, vec![]);
        assert_eq!(parse_blkio("8:0 Read x\n").unwrap_err().line, 1);
        assert_eq!(
            parse_blkio("8:0 Read 1\n8:0 Read 1 2\n").unwrap_err().line,
            2
        );
    }

    #[test]
    fn io_stat() {
        let s = parse_io_stat(
            "259:0 rbytes=1572864 wbytes=40960 rios=96 wios=10 dbytes=0 dios=0 cost.usage=12 zz=1\n7:0 rbytes=1\n",
        )
        .unwrap();
        assert_eq!(s.unknown_keys, 1);
        assert_eq!(
            s.devices,
            vec![
                IoStatLine {
                    major: 259,
                    minor: 0,
                    rbytes: 1572864,
                    wbytes: 40960,
                    rios: 96,
                    wios: 10
                },
                IoStatLine {
                    major: 7,
                    minor: 0,
                    rbytes: 1,
                    ..Default::default()
                }
            ]
        );
        assert!(parse_io_stat("nodev rbytes=1").is_err());
    }

    #[test]
    fn net_dev() {
        let s = "Inter-|   Receive                                                |  Transmit\n face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n    lo: 100 2 0 0 0 0 0 0 100 2 0 0 0 0 0 0\n  eth0: 987654321 123 1 2 0 0 0 0 555 66 3 4 0 0 0 0\nflannel.1:5 6 7 8 0 0 0 0 9 10 11 12 0 0 0 0\nveth12: 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1\n";
        let v = parse_net_dev(s).unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(
            v[0],
            InterfaceStats {
                name: "eth0".into(),
                rx_bytes: 987654321,
                rx_packets: 123,
                rx_errors: 1,
                rx_dropped: 2,
                tx_bytes: 555,
                tx_packets: 66,
                tx_errors: 3,
                tx_dropped: 4
            }
        );
        assert_eq!(v[1].name, "flannel.1");
        assert_eq!(v[1].tx_dropped, 12);
        let bad = "h\nh\neth0: 1 2 3\n";
        assert_eq!(parse_net_dev(bad).unwrap_err().line, 3);
        assert!(is_ignored_interface("Docker0"));
        assert!(!is_ignored_interface("cni0"));
    }

    #[test]
    fn meminfo_cpus_uptime() {
        let m = parse_meminfo(
            "MemTotal:       16384000 kB\nMemFree: 1 kB\nSwapTotal: 2 kB\nSwapFree: 1 kB\n",
        )
        .unwrap();
        assert_eq!(
            m,
            MemInfo {
                mem_total: 16777216000,
                swap_total: 2048,
                swap_free: 1024
            }
        );
        assert!(parse_meminfo("MemTotal: x kB").is_err());
        assert_eq!(
            count_cpuinfo_processors("processor\t: 0\nmodel : x\n\nprocessor\t: 1\n"),
            2
        );
        assert_eq!(count_cpu_list("0-3\n"), Ok(4));
        assert_eq!(count_cpu_list("0-3,6,8-9"), Ok(7));
        assert!(count_cpu_list("3-1").is_err());
        assert_eq!(parse_uptime_secs("1234567.42 4567890.12\n"), Ok(1234567));
        assert!(parse_uptime_secs("").is_err());
    }

    #[test]
    fn mountinfo() {
        let s = "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n31 26 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:13 - cgroup cgroup rw,cpu,cpuacct\n40 1 8:1 / /mnt/a\\040b rw - ext4 /dev/sda1 rw\n";
        let m = parse_mountinfo(s).unwrap();
        assert_eq!(m.len(), 3);
        assert_eq!(m[1].mount_point, "/sys/fs/cgroup/cpu,cpuacct");
        assert_eq!(m[1].fstype, "cgroup");
        assert_eq!(m[1].super_options, "rw,cpu,cpuacct");
        assert_eq!(m[2].mount_point, "/mnt/a b");
        assert_eq!((m[2].major, m[2].minor), (8, 1));
        assert_eq!(m[2].source, "/dev/sda1");
        assert_eq!(parse_mountinfo("garbage\n").unwrap_err().line, 1);
    }

    /// The `str`-iterator implementation [`parse_pressure`] replaced, as the oracle.
    fn parse_pressure_reference(s: &str) -> Result<crate::stats::Psi, FormatError> {
        let mut psi = crate::stats::Psi::default();
        let mut some_seen = false;
        for (i, line) in s.lines().enumerate() {
            let mut it = line.split_ascii_whitespace();
            let slot = match it.next() {
                Some("some") => {
                    some_seen = true;
                    &mut psi.some_total_us
                }
                Some("full") => &mut psi.full_total_us,
                None => continue,
                Some(other) => {
                    return Err(FormatError::new(
                        i + 1,
                        format!("unknown pressure line {other:?}"),
                    ));
                }
            };
            let total = it
                .find_map(|kv| kv.strip_prefix("total="))
                .ok_or_else(|| FormatError::new(i + 1, "no total= field"))?;
            *slot = total
                .parse()
                .map_err(|_| FormatError::new(i + 1, format!("bad total {total:?}")))?;
        }
        if !some_seen {
            return Err(FormatError::new(1, "no \"some\" line"));
        }
        Ok(psi)
    }

    /// The implementation [`parse_net_dev`] replaced (a `String` and a `Vec` per line), as
    /// the oracle.
    fn parse_net_dev_reference(s: &str) -> Result<Vec<InterfaceStats>, FormatError> {
        let mut out = Vec::new();
        for (i, line) in s.lines().enumerate().skip(2) {
            if line.trim().is_empty() {
                continue;
            }
            let replaced = line.replacen(':', " ", 1);
            let f: Vec<&str> = replaced.split_ascii_whitespace().collect();
            if f.len() != 17 {
                return Err(FormatError::new(
                    i + 1,
                    format!("expected 17 fields, got {}", f.len()),
                ));
            }
            let name = f.first().copied().unwrap_or_default();
            let l = name.to_ascii_lowercase();
            if ["lo", "veth", "docker", "nerdctl"]
                .iter()
                .any(|p| l.starts_with(p))
            {
                continue;
            }
            let n = |idx: usize| -> Result<u64, FormatError> {
                f.get(idx)
                    .and_then(|v| v.parse::<u64>().ok())
                    .ok_or_else(|| FormatError::new(i + 1, format!("bad field {idx} in {line:?}")))
            };
            out.push(InterfaceStats {
                name: name.to_string(),
                rx_bytes: n(1)?,
                rx_packets: n(2)?,
                rx_errors: n(3)?,
                rx_dropped: n(4)?,
                tx_bytes: n(9)?,
                tx_packets: n(10)?,
                tx_errors: n(11)?,
                tx_dropped: n(12)?,
            });
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    proptest::proptest! {
        #[test]
        fn net_dev_equals_reference(s in "(h\n){0,2}([ ]{0,2}(eth0|LO|Veth1|docker0|cni0|é)(:| :|: ){0,1}( [0-9x]{1,3}){14,18}\n){0,4}") {
            proptest::prop_assert_eq!(parse_net_dev(&s), parse_net_dev_reference(&s));
        }

        #[test]
        fn net_dev_equals_reference_any_text(s in "\\PC{0,200}") {
            proptest::prop_assert_eq!(parse_net_dev(&s), parse_net_dev_reference(&s));
        }

        #[test]
        fn net_dev_into_a_used_vector_is_the_same(
            a in "(h\n){2}((eth0|wlan1|cni0|x)(: )( [0-9]{1,3}){16}\n){0,4}",
            b in "(h\n){2}((eth0|bond0|cni0)(: )( [0-9]{1,3}){16}\n){0,4}|garbage",
        ) {
            let mut v = Vec::new();
            let _ = parse_net_dev_into(&a, &mut v);
            let got = parse_net_dev_into(&b, &mut v).map(|()| v.clone());
            proptest::prop_assert_eq!(got, parse_net_dev(&b));
            if parse_net_dev(&b).is_err() {
                proptest::prop_assert!(v.is_empty());
            }
        }

        #[test]
        fn pressure_equals_reference(s in "((some|full|x)( avg10=0\\.[0-9]{2}| total=[+0-9a]{0,21}|\r){0,4}\n?){0,3}") {
            proptest::prop_assert_eq!(parse_pressure(&s), parse_pressure_reference(&s));
        }

        #[test]
        fn pressure_equals_reference_any_text(s in "\\PC{0,100}") {
            proptest::prop_assert_eq!(parse_pressure(&s), parse_pressure_reference(&s));
        }

        #[test]
        fn flat_keyed_each_equals_flat_keyed(s in "([a-z_]{0,6}[ \t\r]{0,2}[+0-9a-x]{0,22}[ \t]{0,2}[0-9]{0,2}\n?){0,12}") {
            let want: Vec<(String, u64)> = flat_keyed(&s)
                .filter_map(Result::ok)
                .map(|(k, v)| (k.to_string(), v))
                .collect();
            let want_bad = flat_keyed(&s).filter(Result::is_err).count() as u64;
            let mut got = Vec::new();
            let bad = flat_keyed_each(&s, |k, v| got.push((k.to_string(), v)));
            proptest::prop_assert_eq!(got, want);
            proptest::prop_assert_eq!(bad, want_bad);
        }

        #[test]
        fn flat_keyed_each_equals_flat_keyed_any_text(s in "\\PC{0,200}") {
            let want: Vec<(String, u64)> = flat_keyed(&s)
                .filter_map(Result::ok)
                .map(|(k, v)| (k.to_string(), v))
                .collect();
            let want_bad = flat_keyed(&s).filter(Result::is_err).count() as u64;
            let mut got = Vec::new();
            let bad = flat_keyed_each(&s, |k, v| got.push((k.to_string(), v)));
            proptest::prop_assert_eq!(got, want);
            proptest::prop_assert_eq!(bad, want_bad);
        }

        #[test]
        fn u64_like_std(t in "[+-]?[0-9]{0,21}|[+0-9a ]{0,4}") {
            proptest::prop_assert_eq!(parse_u64_ascii(&t), t.parse::<u64>().ok());
        }

        #[test]
        fn parsers_never_panic(s in "\\PC{0,200}") {
            let _ = parse_u64(&s);
            let _ = parse_cpu_max(&s);
            let _ = flat_keyed(&s).count();
            let _ = flat_keyed_each(&s, |_, _| {});
            let _ = parse_pressure(&s);
            let _ = parse_blkio(&s);
            let _ = parse_io_stat(&s);
            let _ = parse_net_dev(&s);
            let _ = parse_meminfo(&s);
            let _ = parse_mountinfo(&s);
            let _ = count_cpu_list(&s);
            let _ = parse_uptime_secs(&s);
            let _ = parse_procs(&s);
        }
    }
}
