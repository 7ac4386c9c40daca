//! Kubernetes metadata for the cgroup collector, taken from pod discovery.
//!
//! Pod-role targets carry everything the kubelet would attach to a container's series:
//! `__meta_kubernetes_pod_uid`, `_namespace`, `_pod_name`, and per container
//! `_pod_container_name`, `_pod_container_image` and `_pod_container_id`
//! (`containerd://<64 hex>`). Indexing the latest discovery snapshot by pod UID and container id
//! lets `/metrics/cadvisor` label series with `namespace`, `pod`, `container` and `image` with no
//! container-runtime connection.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use scrapeline_cgroup::{ContainerMeta, PodLookup};
use scrapeline_sd::TargetGroup;

/// What one pod contributes to the index.
#[derive(Debug, Default, Clone)]
struct PodEntry {
    namespace: String,
    name: String,
    /// Container id (64 hex, runtime prefix stripped) to (container name, image).
    containers: HashMap<String, (String, String)>,
}

/// A [`PodLookup`] over the pods seen by discovery; refresh it with every snapshot.
#[derive(Debug, Default)]
pub struct DiscoveredPods {
    pods: RwLock<HashMap<String, PodEntry>>,
}

impl DiscoveredPods {
    /// An empty index.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Rebuilds the index from every pod-role target in `groups`.
    pub fn refresh<'a>(&self, groups: impl IntoIterator<Item = &'a TargetGroup>) {
        let mut pods: HashMap<String, PodEntry> = HashMap::new();
        for group in groups {
            for target in &group.targets {
                let get = |name: &str| {
                    target
                        .get(name)
                        .or_else(|| group.labels.get(name))
                        .unwrap_or("")
                };
                let uid = get("__meta_kubernetes_pod_uid");
                if uid.is_empty() {
                    continue;
                }
                let entry = pods.entry(uid.to_owned()).or_insert_with(|| PodEntry {
                    namespace: get("__meta_kubernetes_namespace").to_owned(),
                    name: get("__meta_kubernetes_pod_name").to_owned(),
                    containers: HashMap::new(),
                });
                let id = get("__meta_kubernetes_pod_container_id");
                let id = id.rsplit("://").next().unwrap_or(id);
                if !id.is_empty() {
                    entry.containers.insert(
                        id.to_owned(),
                        (
                            get("__meta_kubernetes_pod_container_name").to_owned(),
                            get("__meta_kubernetes_pod_container_image").to_owned(),
                        ),
                    );
                }
            }
        }
        *self.pods.write().unwrap_or_else(|p| p.into_inner()) = pods;
    }

    /// Number of pods indexed.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.pods.read().unwrap_or_else(|p| p.into_inner()).len()
    }
}

impl PodLookup for DiscoveredPods {
    fn lookup_into(&self, pod_uid: &str, container_id: &str, out: &mut ContainerMeta) -> bool {
        let pods = self.pods.read().unwrap_or_else(|p| p.into_inner());
        let Some(pod) = pods.get(pod_uid) else {
            return false;
        };
        out.namespace.clone_from(&pod.namespace);
        out.pod.clone_from(&pod.name);
        out.container.clear();
        out.image.clear();
        out.name = None;
        out.sandbox = false;
        if container_id.is_empty() {
            return true;
        }
        match pod.containers.get(container_id) {
            Some((name, image)) => {
                out.container.clone_from(name);
                out.image.clone_from(image);
            }
            // As in `lookup`: a container of a known pod that status does not list is its
            // pause container.
            None => out.sandbox = true,
        }
        true
    }

    fn lookup(&self, pod_uid: &str, container_id: &str) -> Option<ContainerMeta> {
        let pods = self.pods.read().unwrap_or_else(|p| p.into_inner());
        let pod = pods.get(pod_uid)?;
        let mut meta = ContainerMeta {
            namespace: pod.namespace.clone(),
            pod: pod.name.clone(),
            ..ContainerMeta::default()
        };
        if container_id.is_empty() {
            return Some(meta);
        }
        match pod.containers.get(container_id) {
            Some((name, image)) => {
                meta.container = name.clone();
                meta.image = image.clone();
            }
            // Pod status lists app and init containers, never the sandbox: a container of a
            // known pod that status does not list is its pause container.
            None => meta.sandbox = true,
        }
        Some(meta)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use scrapeline_exposition::Labels;

    #[test]
    fn indexes_pod_targets_by_uid_and_container_id() {
        let group = TargetGroup {
            source: "pod/default/web-0".into(),
            targets: vec![
                Labels::from_pairs([
                    ("__address__", "10.0.0.5:8080"),
                    ("__meta_kubernetes_pod_container_name", "nginx"),
                    ("__meta_kubernetes_pod_container_image", "nginx:1.27"),
                    (
                        "__meta_kubernetes_pod_container_id",
                        "containerd://c8f5e1519b0fc19da2bf5be2173582ff9e952e6712a9cb827a62c5067e22ad01",
                    ),
                ]),
                Labels::from_pairs([("__address__", "10.0.0.5")]),
            ],
            labels: Labels::from_pairs([
                ("__meta_kubernetes_namespace", "default"),
                ("__meta_kubernetes_pod_name", "web-0"),
                (
                    "__meta_kubernetes_pod_uid",
                    "6a0c8b4e-5f3d-4c2a-9b1e-7f8d2c3a4b5c",
                ),
            ]),
        };
        let pods = DiscoveredPods::new();
        pods.refresh([&group]);
        assert_eq!(pods.len(), 1);
        let uid = "6a0c8b4e-5f3d-4c2a-9b1e-7f8d2c3a4b5c";
        let m = pods
            .lookup(
                uid,
                "c8f5e1519b0fc19da2bf5be2173582ff9e952e6712a9cb827a62c5067e22ad01",
            )
            .unwrap();
        assert_eq!(
            (
                m.namespace.as_str(),
                m.pod.as_str(),
                m.container.as_str(),
                m.image.as_str(),
                m.sandbox
            ),
            ("default", "web-0", "nginx", "nginx:1.27", false)
        );
        let pod = pods.lookup(uid, "").unwrap();
        assert_eq!((pod.pod.as_str(), pod.container.as_str()), ("web-0", ""));
        let pause = pods.lookup(uid, &"a".repeat(64)).unwrap();
        assert!(pause.sandbox);
        assert_eq!(pods.lookup("other", ""), None);

        // `lookup_into` fills a reused value exactly as `lookup` builds a new one.
        let mut reused = ContainerMeta {
            name: Some("stale".into()),
            ..m.clone()
        };
        for id in [
            "c8f5e1519b0fc19da2bf5be2173582ff9e952e6712a9cb827a62c5067e22ad01",
            "",
            &"a".repeat(64),
        ] {
            assert!(pods.lookup_into(uid, id, &mut reused));
            assert_eq!(Some(reused.clone()), pods.lookup(uid, id), "{id}");
        }
        assert!(!pods.lookup_into("other", "", &mut reused));
    }
}
