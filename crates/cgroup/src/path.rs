//! Kubernetes identity from a cgroup path: pod UID, QoS class, container id.
//!
//! Implements the algorithm of the spec (`cgroup-paths.md` §4) for both kubelet cgroup
//! drivers (`cgroupfs`: `/kubepods/burstable/pod<uid>/<id>`; `systemd`:
//! `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid_>.slice/cri-containerd-<id>.scope`)
//! and the containerd, CRI-O and cri-dockerd naming of container cgroups. Pure string work.

/// The kubelet cgroup driver a path was written by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Driver {
    /// `cgroupDriver: cgroupfs` (plain directory names).
    Cgroupfs,
    /// `cgroupDriver: systemd` (`.slice` / `.scope` units).
    Systemd,
}

/// What level of the Kubernetes tree a cgroup is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CgroupKind {
    /// The hierarchy root `/`.
    Root,
    /// Not under a kubepods root (`/system.slice/...`).
    Other,
    /// The node-allocatable root (`/kubepods`, `/kubepods.slice`).
    Kubepods,
    /// A QoS-class cgroup (`burstable`, `besteffort`).
    Qos,
    /// A pod-level cgroup.
    Pod,
    /// A container (or pod sandbox) cgroup.
    Container,
    /// CRI-O's `crio-conmon-<id>.scope`: the monitor process, not a container.
    Conmon,
    /// A cgroup below a container (crun's `container` sub-cgroup, systemd `.mount` units):
    /// its usage is already in the container's (hierarchical) stats.
    ContainerSubcgroup,
    /// Under a kubepods root but not matching the pod/container layout.
    UnknownKubepods,
}

/// A pod's QoS class, as the kubelet places its cgroup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QosClass {
    /// Directly under the kubepods root (no QoS level).
    Guaranteed,
    /// Under `burstable`.
    Burstable,
    /// Under `besteffort`.
    BestEffort,
}

impl QosClass {
    /// The Kubernetes spelling (`Guaranteed`, `Burstable`, `BestEffort`).
    pub fn as_str(self) -> &'static str {
        match self {
            QosClass::Guaranteed => "Guaranteed",
            QosClass::Burstable => "Burstable",
            QosClass::BestEffort => "BestEffort",
        }
    }
}

/// The container runtime whose naming a container cgroup follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Runtime {
    /// `cri-containerd-<id>.scope` (systemd driver).
    Containerd,
    /// `crio-<id>` / `crio-<id>.scope`.
    CriO,
    /// `docker-<id>.scope` (cri-dockerd, systemd driver).
    Docker,
}

impl Runtime {
    /// `containerd`, `cri-o` or `docker`.
    pub fn as_str(self) -> &'static str {
        match self {
            Runtime::Containerd => "containerd",
            Runtime::CriO => "cri-o",
            Runtime::Docker => "docker",
        }
    }
}

/// Everything a cgroup path says about Kubernetes identity.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CgroupIdentity {
    /// Which driver wrote the path; `None` outside the kubepods tree.
    pub driver: Option<Driver>,
    /// The level in the tree.
    pub kind: CgroupKind,
    /// The pod's QoS class (pod, container and QoS cgroups).
    pub qos: Option<QosClass>,
    /// The pod UID with dashes (`6a0c8b4e-5f3d-...`) or the 32-hex static-pod UID.
    pub pod_uid: Option<String>,
    /// The runtime, when the container component carries a prefix that names one
    /// (plain cgroupfs containerd/docker ids carry none).
    pub runtime: Option<Runtime>,
    /// The 64-hex container id.
    pub container_id: Option<String>,
}

impl CgroupIdentity {
    fn plain(kind: CgroupKind) -> Self {
        Self {
            driver: None,
            kind,
            qos: None,
            pod_uid: None,
            runtime: None,
            container_id: None,
        }
    }
}

/// `tok(c)`: for `*.slice` the text after the last `-` of the unit name, else `c` itself.
fn tok(c: &str) -> &str {
    match c.strip_suffix(".slice") {
        Some(base) => base.rsplit('-').next().unwrap_or(base),
        None => c,
    }
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// `pod<uuid with - or _>` or `pod<32 hex>` → the UID with dashes.
fn pod_uid(t: &str) -> Option<String> {
    let mut out = String::with_capacity(36);
    pod_uid_into(t, Some(&mut out)).then_some(out)
}

/// Whether `t` is `pod<uuid with - or _>` or `pod<32 hex>`; the UID with dashes is
/// appended to `out` when given.
fn pod_uid_into(t: &str, mut out: Option<&mut String>) -> bool {
    let Some(rest) = t.strip_prefix("pod") else {
        return false;
    };
    if is_hex(rest, 32) {
        if let Some(o) = out {
            o.push_str(rest);
        }
        return true;
    }
    if rest.len() != 36 {
        return false;
    }
    let groups = [8usize, 4, 4, 4, 12];
    let mut parts = rest.split(['-', '_']);
    for (n, want) in groups.iter().enumerate() {
        let Some(p) = parts.next() else {
            return false;
        };
        if !is_hex(p, *want) {
            return false;
        }
        if let Some(o) = out.as_deref_mut() {
            if n > 0 {
                o.push('-');
            }
            o.push_str(p);
        }
    }
    parts.next().is_none()
}

/// The [`CgroupKind`] [`decode`] gives `path`, without building its strings.
pub(crate) fn kind_of(path: &str) -> CgroupKind {
    decode_with(path, false).kind
}

/// Decodes one cgroup path (the `id` label: relative to the hierarchy root, starting with
/// `/`) into Kubernetes identity. Never fails: unknown shapes come back as
/// [`CgroupKind::Other`] or [`CgroupKind::UnknownKubepods`].
///
/// ```
/// use scrapeline_cgroup::path::{decode, CgroupKind, QosClass};
/// let id = decode("/kubepods/burstable/pod6a0c8b4e-5f3d-4c2a-9b1e-7f8d2c3a4b5c");
/// assert_eq!(id.kind, CgroupKind::Pod);
/// assert_eq!(id.qos, Some(QosClass::Burstable));
/// assert_eq!(id.pod_uid.as_deref(), Some("6a0c8b4e-5f3d-4c2a-9b1e-7f8d2c3a4b5c"));
/// ```
pub fn decode(path: &str) -> CgroupIdentity {
    decode_with(path, true)
}

/// [`decode`]; without `strings` the pod UID and container id are left `None` (the kind
/// and the rest are the same).
fn decode_with(path: &str, strings: bool) -> CgroupIdentity {
    // The components, in a stack array for the usual depths (no allocation).
    let mut stack = [""; 16];
    let mut n = 0;
    let mut heap: Vec<&str> = Vec::new();
    for c in path.split('/').filter(|c| !c.is_empty()) {
        match stack.get_mut(n) {
            Some(slot) if heap.is_empty() => *slot = c,
            _ => {
                if heap.is_empty() {
                    heap.extend_from_slice(&stack);
                }
                heap.push(c);
            }
        }
        n += 1;
    }
    let comps: &[&str] = if heap.is_empty() {
        stack.get(..n).unwrap_or_default()
    } else {
        &heap
    };
    if comps.is_empty() {
        return CgroupIdentity::plain(CgroupKind::Root);
    }
    let Some(kp) = comps.iter().rposition(|c| tok(c) == "kubepods") else {
        return CgroupIdentity::plain(CgroupKind::Other);
    };
    let driver = if comps.get(kp).is_some_and(|c| c.ends_with(".slice")) {
        Driver::Systemd
    } else {
        Driver::Cgroupfs
    };
    let mut id = CgroupIdentity {
        driver: Some(driver),
        kind: CgroupKind::Kubepods,
        qos: None,
        pod_uid: None,
        runtime: None,
        container_id: None,
    };
    let mut i = kp + 1;
    let Some(next) = comps.get(i) else {
        return id;
    };
    match tok(next) {
        "burstable" => {
            id.qos = Some(QosClass::Burstable);
            i += 1;
        }
        "besteffort" => {
            id.qos = Some(QosClass::BestEffort);
            i += 1;
        }
        _ => {}
    }
    let Some(pod) = comps.get(i) else {
        id.kind = CgroupKind::Qos;
        return id;
    };
    let uid = if strings {
        pod_uid(tok(pod))
    } else {
        pod_uid_into(tok(pod), None).then(String::new)
    };
    let Some(uid) = uid else {
        id.kind = CgroupKind::UnknownKubepods;
        return id;
    };
    id.qos.get_or_insert(QosClass::Guaranteed);
    id.pod_uid = strings.then_some(uid);
    i += 1;
    let Some(ctr) = comps.get(i) else {
        id.kind = CgroupKind::Pod;
        return id;
    };
    let base = ctr.strip_suffix(".scope").unwrap_or(ctr);
    let (kind, runtime, rest) = if let Some(r) = base.strip_prefix("cri-containerd-") {
        (CgroupKind::Container, Some(Runtime::Containerd), r)
    } else if let Some(r) = base.strip_prefix("crio-conmon-") {
        (CgroupKind::Conmon, Some(Runtime::CriO), r)
    } else if let Some(r) = base.strip_prefix("crio-") {
        (CgroupKind::Container, Some(Runtime::CriO), r)
    } else if let Some(r) = base.strip_prefix("docker-") {
        (CgroupKind::Container, Some(Runtime::Docker), r)
    } else {
        (CgroupKind::Container, None, base)
    };
    if !is_hex(rest, 64) {
        id.kind = CgroupKind::UnknownKubepods;
        return id;
    }
    id.runtime = runtime;
    id.container_id = strings.then(|| rest.to_string());
    id.kind = if comps.len() > i + 1 && kind == CgroupKind::Container {
        CgroupKind::ContainerSubcgroup
    } else {
        kind
    };
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens() {
        assert_eq!(tok("kubepods.slice"), "kubepods");
        assert_eq!(tok("kubelet-kubepods.slice"), "kubepods");
        assert_eq!(tok("kubepods-burstable.slice"), "burstable");
        assert_eq!(tok("burstable"), "burstable");
        assert_eq!(
            pod_uid("pod6a0c8b4e_5f3d_4c2a_9b1e_7f8d2c3a4b5c").as_deref(),
            Some("6a0c8b4e-5f3d-4c2a-9b1e-7f8d2c3a4b5c")
        );
        assert_eq!(pod_uid("pod6a0c8b4e_5f3d_4c2a_9b1e_7f8d2c3a4b5"), None);
        assert_eq!(pod_uid("pod6A0c8b4e-5f3d-4c2a-9b1e-7f8d2c3a4b5c"), None);
        assert_eq!(pod_uid("notapod"), None);
    }

    #[test]
    fn kind_without_strings_is_the_kind() {
        for p in [
            "/",
            "/system.slice",
            "/kubepods",
            "/kubepods.slice/kubepods-burstable.slice",
            "/kubepods/burstable/pod6a0c8b4e-5f3d-4c2a-9b1e-7f8d2c3a4b5c",
            "/kubepods/burstable/pod6a0c8b4e-5f3d-4c2a-9b1e-7f8d2c3a4b5",
            "/kubepods/pod0f3c9a4e8b7d6c5a4f3e2d1c0b9a8f7e/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "/kubepods/pod0f3c9a4e8b7d6c5a4f3e2d1c0b9a8f7e/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef/x",
            "/kubepods.slice/kubepods-pod0f3c9a4e_8b7d_6c5a_4f3e_2d1c0b9a8f7e.slice/crio-conmon-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.scope",
            "/kubepods/burstable/pod6a0c8b4e-5f3d-4c2a-9b1e-7f8d2c3a4b5c/short",
        ] {
            assert_eq!(kind_of(p), decode(p).kind, "{p}");
        }
    }

    #[test]
    fn deep_paths_decode_like_short_ones() {
        let tail = "/kubepods/burstable/pod6a0c8b4e-5f3d-4c2a-9b1e-7f8d2c3a4b5c/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        let short = decode(tail);
        assert_eq!(short.kind, CgroupKind::Container);
        for depth in [10, 12, 13, 14, 20] {
            let prefix: String = (0..depth).map(|i| format!("/d{i}")).collect();
            assert_eq!(decode(&format!("{prefix}{tail}")), short, "{depth}");
        }
        let sub = decode(&format!("/a/b/c/d/e/f/g/h/i/j/k/l{tail}/x/y"));
        assert_eq!(sub.kind, CgroupKind::ContainerSubcgroup);
        assert_eq!(sub.container_id, short.container_id);
    }

    #[test]
    fn non_pod_under_kubepods() {
        let id = decode("/kubepods/burstable/something");
        assert_eq!(id.kind, CgroupKind::UnknownKubepods);
        let id = decode("/kubepods/burstable/pod6a0c8b4e-5f3d-4c2a-9b1e-7f8d2c3a4b5c/short");
        assert_eq!(id.kind, CgroupKind::UnknownKubepods);
    }
}
