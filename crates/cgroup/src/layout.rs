//! Which cgroup layout the host uses (v1, v2 or hybrid) and where each controller lives.
//!
//! Detected from `mountinfo`, never from fixed paths: `cpu` and `cpuacct` are usually one
//! hierarchy (`/sys/fs/cgroup/cpu,cpuacct`) but separate on some hosts (this project's
//! development machine), and a hybrid host has an empty cgroup2 at `/sys/fs/cgroup/unified`
//! next to the v1 controllers. As runc's `IsCgroup2UnifiedMode`, only a cgroup2 mounted at
//! `/sys/fs/cgroup` itself makes the host v2; anything else with v1 hierarchies is v1.

use std::path::{Path, PathBuf};

use crate::parse::MountInfo;

/// The mount point of the cgroup filesystem on a standard host.
pub const CGROUP_MOUNT_BASE: &str = "/sys/fs/cgroup";

/// How the host's cgroups are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Legacy: one `cgroup` mount per controller (group). Every stat is read from v1 files.
    V1,
    /// Legacy plus a cgroup2 mount (usually `/sys/fs/cgroup/unified`) holding no resource
    /// controllers. Every stat is read from v1 files, as runc and cAdvisor do.
    Hybrid,
    /// Unified: a single cgroup2 tree.
    V2,
}

/// One v1 hierarchy: the controllers bound to it and where it is mounted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hierarchy {
    /// Controller names from the mount's super options (`cpu`, `cpuacct`, `name=systemd`).
    pub controllers: Vec<String>,
    /// The directory to read, already resolved under the configured roots.
    pub path: PathBuf,
}

impl Hierarchy {
    /// Whether `controller` is bound to this hierarchy.
    pub fn has(&self, controller: &str) -> bool {
        self.controllers.iter().any(|c| c == controller)
    }
}

/// The detected layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// v1, hybrid or v2.
    pub mode: Mode,
    /// v1 hierarchies (empty on v2), one per distinct mount.
    pub hierarchies: Vec<Hierarchy>,
    /// The cgroup2 mount (the whole tree on v2, the controller-less one in hybrid mode).
    pub unified: Option<PathBuf>,
}

/// Controllers the collector reads on v1, in the order used to find a cgroup's directories.
pub const V1_CONTROLLERS: [&str; 5] = ["cpu", "cpuacct", "memory", "blkio", "pids"];

impl Layout {
    /// Detects the layout from parsed `mountinfo`. `resolve` maps a mount point as the
    /// kernel lists it (`/sys/fs/cgroup/memory`) to the directory to read (for example under
    /// a `/host` prefix). `None` when there is no cgroup mount at all.
    pub fn detect(mounts: &[MountInfo], resolve: impl Fn(&str) -> PathBuf) -> Option<Layout> {
        let mut hierarchies: Vec<Hierarchy> = Vec::new();
        let mut unified: Option<(String, PathBuf)> = None;
        for m in mounts {
            match m.fstype.as_str() {
                "cgroup" => {
                    let controllers: Vec<String> = m
                        .super_options
                        .split(',')
                        .filter(|o| {
                            !matches!(*o, "rw" | "ro" | "xattr" | "noprefix" | "clone_children")
                                && !o.starts_with("release_agent=")
                                && !o.is_empty()
                        })
                        .map(str::to_string)
                        .collect();
                    if controllers.is_empty() {
                        continue;
                    }
                    // The same hierarchy can be mounted twice; keep the first.
                    if hierarchies.iter().any(|h| h.controllers == controllers) {
                        continue;
                    }
                    hierarchies.push(Hierarchy {
                        controllers,
                        path: resolve(&m.mount_point),
                    });
                }
                "cgroup2" => {
                    let better = match &unified {
                        None => true,
                        Some((mp, _)) => {
                            mp != CGROUP_MOUNT_BASE && m.mount_point == CGROUP_MOUNT_BASE
                        }
                    };
                    if better {
                        unified = Some((m.mount_point.clone(), resolve(&m.mount_point)));
                    }
                }
                _ => {}
            }
        }
        let unified_at_base = unified
            .as_ref()
            .is_some_and(|(mp, _)| mp == CGROUP_MOUNT_BASE);
        let unified = unified.map(|(_, p)| p);
        let mode = if unified_at_base || (hierarchies.is_empty() && unified.is_some()) {
            hierarchies.clear();
            Mode::V2
        } else if hierarchies.is_empty() {
            return None;
        } else if unified.is_some() {
            Mode::Hybrid
        } else {
            Mode::V1
        };
        Some(Layout {
            mode,
            hierarchies,
            unified,
        })
    }

    /// Whether stats are read from v1 files (v1 and hybrid).
    pub fn is_v1(&self) -> bool {
        self.mode != Mode::V2
    }

    /// The v1 hierarchy directory of `controller`, if mounted.
    pub fn controller(&self, controller: &str) -> Option<&Path> {
        self.hierarchies
            .iter()
            .find(|h| h.has(controller))
            .map(|h| h.path.as_path())
    }

    /// The distinct hierarchy directories holding the controllers the collector reads
    /// ([`V1_CONTROLLERS`]) on v1, or the unified tree on v2: where cgroups are listed and
    /// where creation times are taken from.
    pub fn stat_dirs(&self) -> Vec<&Path> {
        if !self.is_v1() {
            return self.unified.as_deref().into_iter().collect();
        }
        let mut out: Vec<&Path> = Vec::new();
        for c in V1_CONTROLLERS {
            if let Some(p) = self.controller(c)
                && !out.contains(&p)
            {
                out.push(p);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse_mountinfo;

    fn resolve(mp: &str) -> PathBuf {
        PathBuf::from(format!("/host{mp}"))
    }

    #[test]
    fn this_machine_is_hybrid_with_separate_cpu_and_cpuacct() {
        let mi = "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";
        let l = Layout::detect(&parse_mountinfo(mi).unwrap(), resolve).unwrap();
        assert_eq!(l.mode, Mode::Hybrid);
        assert_eq!(
            l.controller("cpu"),
            Some(Path::new("/host/sys/fs/cgroup/cpu"))
        );
        assert_eq!(
            l.controller("cpuacct"),
            Some(Path::new("/host/sys/fs/cgroup/cpuacct"))
        );
        assert_eq!(l.controller("hugetlb"), None);
        assert_eq!(
            l.unified.as_deref(),
            Some(Path::new("/host/sys/fs/cgroup/unified"))
        );
        assert_eq!(l.stat_dirs().len(), 5);
    }

    #[test]
    fn comounted_and_v2() {
        let mi = "31 26 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n";
        let l = Layout::detect(&parse_mountinfo(mi).unwrap(), resolve).unwrap();
        assert_eq!(l.mode, Mode::V1);
        assert_eq!(l.controller("cpu"), l.controller("cpuacct"));
        assert_eq!(l.stat_dirs().len(), 1);

        let mi = "33 24 0:28 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n";
        let l = Layout::detect(&parse_mountinfo(mi).unwrap(), resolve).unwrap();
        assert_eq!(l.mode, Mode::V2);
        assert_eq!(l.stat_dirs(), vec![Path::new("/host/sys/fs/cgroup")]);

        let mi = "1 1 8:1 / / rw - ext4 /dev/sda1 rw\n";
        assert_eq!(Layout::detect(&parse_mountinfo(mi).unwrap(), resolve), None);
    }
}
