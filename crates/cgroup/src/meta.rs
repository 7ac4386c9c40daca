//! Kubernetes metadata for cgroups: the hook the binary fills from pod discovery.
//!
//! A cgroup path gives a pod UID and a container id ([`crate::path::decode`]) but not the
//! pod name, namespace, container name or image; the kubelet takes those from the container
//! runtime. Scrapeline asks a [`PodLookup`] instead.

/// Kubernetes metadata of one container (or pod sandbox), as the kubelet would label it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerMeta {
    /// Pod namespace (`namespace` label).
    pub namespace: String,
    /// Pod name (`pod` label).
    pub pod: String,
    /// Kubernetes container name (`container` label): `""` for a containerd pod sandbox,
    /// `"POD"` for a CRI-O / dockershim infra container.
    pub container: String,
    /// Image reference as the runtime stores it (`image` label).
    pub image: String,
    /// The runtime's first alias for the container (`name` label) when it is not the
    /// 64-hex id: CRI-O's `k8s_<ctr>_<pod>_<ns>_<uid>_<attempt>`, a docker name. `None`
    /// means "the container id" (containerd).
    pub name: Option<String>,
    /// Whether this is the pod sandbox (pause container). Only the sandbox gets
    /// `container_network_*` series: app containers share its network namespace.
    pub sandbox: bool,
}

/// Looks up Kubernetes metadata by the identity a cgroup path carries.
///
/// The collector calls it once per pod-level cgroup (with `container_id == ""`; only
/// `namespace` and `pod` of the answer are used, as the kubelet does for pod cgroups) and
/// once per container cgroup. Implementations must be cheap (a hash map lookup): the
/// collector calls it for every cgroup on every collection.
pub trait PodLookup {
    /// Metadata for the container `container_id` (64 hex) of the pod `pod_uid` (with
    /// dashes, or the 32-hex static-pod UID); `container_id` is `""` for the pod itself.
    fn lookup(&self, pod_uid: &str, container_id: &str) -> Option<ContainerMeta>;

    /// [`PodLookup::lookup`] into `out`, whose strings the collector reuses from one call
    /// to the next: an implementation that copies into them (`clone_from`, `push_str`)
    /// instead of returning new strings lets a steady-state collection allocate nothing
    /// for labels. Returns whether there is metadata; when true, every field of `out` must
    /// be set (the collector clears them before the call). The default calls
    /// [`PodLookup::lookup`].
    fn lookup_into(&self, pod_uid: &str, container_id: &str, out: &mut ContainerMeta) -> bool {
        match self.lookup(pod_uid, container_id) {
            Some(m) => {
                *out = m;
                true
            }
            None => false,
        }
    }
}
