//! Machine facts (`machine_*` families, root limits) and block-device names.

use std::collections::HashMap;
use std::path::Path;

use crate::fs::{HostPaths, Reader};
use crate::parse::{self, MemInfo, MountInfo};
use crate::stats::MachineInfo;

/// Reads the machine facts that do not change while the host runs (CPU count, ids).
/// Memory and boot time are refreshed per collection by [`refresh`].
pub fn read_static(paths: &HostPaths, reader: &mut Reader) -> MachineInfo {
    let mut m = MachineInfo::default();
    let proc = paths.proc_root.as_path();
    m.cpu_cores = reader
        .read(proc, "cpuinfo")
        .map(parse::count_cpuinfo_processors)
        .unwrap_or(0);
    if m.cpu_cores == 0 {
        m.cpu_cores = reader
            .parsed(
                &paths.sys_root.join("devices/system/cpu"),
                "online",
                parse::count_cpu_list,
            )
            .unwrap_or(0);
    }
    let trimmed = |r: &mut Reader, dir: &Path, name: &'static str| {
        r.read(dir, name)
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    };
    m.machine_id = trimmed(reader, &paths.rootfs.join("etc"), "machine-id");
    if m.machine_id.is_empty() {
        m.machine_id = trimmed(reader, &paths.rootfs.join("var/lib/dbus"), "machine-id");
    }
    m.system_uuid = trimmed(reader, &paths.sys_root.join("class/dmi/id"), "product_uuid");
    m.boot_id = trimmed(reader, &proc.join("sys/kernel/random"), "boot_id");
    m
}

/// Updates memory totals and the boot-time floor for a collection at `now_unix`.
pub fn refresh(m: &mut MachineInfo, paths: &HostPaths, reader: &mut Reader, now_unix: i64) {
    let proc = paths.proc_root.as_path();
    let mi: MemInfo = reader
        .parsed(proc, "meminfo", parse::parse_meminfo)
        .unwrap_or_default();
    m.memory_bytes = mi.mem_total;
    m.swap_bytes = mi.swap_total;
    m.swap_used_bytes = mi.swap_total.saturating_sub(mi.swap_free);
    m.boot_time_unix = match reader.parsed(proc, "uptime", parse::parse_uptime_secs) {
        Some(up) => {
            let boot = now_unix.saturating_sub(i64::try_from(up).unwrap_or(i64::MAX));
            boot.div_euclid(60) * 60
        }
        None => 0,
    };
}

/// Names block devices the way cAdvisor does: `/dev/<name>` for `/sys/block/<name>/dev`,
/// skipping `loop*`, `ram*`, `sr*` and hidden NVMe multipath devices (`nvme0c0n1`); else
/// the source of a mounted filesystem with that `MAJ:MIN`; else `""`.
pub fn device_names(
    paths: &HostPaths,
    mounts: &[MountInfo],
    reader: &mut Reader,
) -> HashMap<(u32, u32), String> {
    let mut out = HashMap::new();
    for m in mounts {
        if m.source.starts_with('/') {
            out.entry((m.major, m.minor))
                .or_insert_with(|| m.source.clone());
        }
    }
    let block = paths.sys_root.join("block");
    let Ok(entries) = std::fs::read_dir(&block) else {
        return out;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.starts_with("loop")
            || name.starts_with("ram")
            || name.starts_with("sr")
            || is_hidden_nvme(name)
        {
            continue;
        }
        if let Some(dev) = reader.parsed(&e.path(), "dev", parse::parse_dev) {
            out.insert(dev, format!("/dev/{name}"));
        }
    }
    out
}

/// `nvme<N>c<M>n<K>`: a per-controller path of a multipath namespace, hidden by the kernel.
fn is_hidden_nvme(name: &str) -> bool {
    let Some(rest) = name.strip_prefix("nvme") else {
        return false;
    };
    let Some((a, b)) = rest.split_once('c') else {
        return false;
    };
    let Some((c, d)) = b.split_once('n') else {
        return false;
    };
    [a, c, d]
        .iter()
        .all(|s| !s.is_empty() && s.bytes().all(|x| x.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_nvme() {
        assert!(is_hidden_nvme("nvme0c0n1"));
        assert!(!is_hidden_nvme("nvme0n1"));
        assert!(!is_hidden_nvme("nvme0n1p1"));
    }
}
