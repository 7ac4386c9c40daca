//! A trimmed Pod type for the watch itself: only the fields the pod labels need are decoded;
//! everything else (managedFields, volumes, env, probes, …) is skipped by the JSON parser
//! without being built. Pods are by far the most numerous objects, so this is where decoding
//! time and transient memory go. It implements `kube::Resource` so `kube`'s watcher runs it
//! unchanged.

use std::borrow::Cow;
use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use serde::{Deserialize, Deserializer};

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct MetaLite {
    name: Option<String>,
    namespace: Option<String>,
    uid: Option<String>,
    resource_version: Option<String>,
    labels: Option<BTreeMap<String, String>>,
    annotations: Option<BTreeMap<String, String>>,
    owner_references: Option<Vec<OwnerLite>>,
}

#[derive(Deserialize, Default)]
struct OwnerLite {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    name: String,
    controller: Option<bool>,
}

fn slim_meta<'de, D: Deserializer<'de>>(d: D) -> Result<ObjectMeta, D::Error> {
    let m = Option::<MetaLite>::deserialize(d)?.unwrap_or_default();
    Ok(ObjectMeta {
        name: m.name,
        namespace: m.namespace,
        uid: m.uid,
        resource_version: m.resource_version,
        labels: m.labels,
        annotations: m.annotations,
        owner_references: m.owner_references.map(|v| {
            v.into_iter()
                .map(|o| OwnerReference {
                    kind: o.kind,
                    name: o.name,
                    controller: o.controller,
                    ..Default::default()
                })
                .collect()
        }),
        ..Default::default()
    })
}

/// A Pod with only what discovery reads.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct PodLite {
    /// Name, namespace, uid, resourceVersion, labels, annotations, owner references.
    #[serde(default, deserialize_with = "slim_meta")]
    pub metadata: ObjectMeta,
    /// `spec`.
    #[serde(default)]
    pub spec: Option<PodSpecLite>,
    /// `status`.
    #[serde(default)]
    pub status: Option<PodStatusLite>,
}

/// `spec` of [`PodLite`].
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodSpecLite {
    /// `nodeName`.
    pub node_name: Option<String>,
    /// `containers`.
    pub containers: Option<Vec<ContainerLite>>,
    /// `initContainers`.
    pub init_containers: Option<Vec<ContainerLite>>,
}

/// A container of [`PodLite`].
#[derive(Clone, Debug, Default, Deserialize)]
pub struct ContainerLite {
    /// `name`.
    #[serde(default)]
    pub name: String,
    /// `image`.
    pub image: Option<String>,
    /// `ports`.
    pub ports: Option<Vec<ContainerPortLite>>,
}

/// A container port of [`PodLite`].
#[derive(Clone, Debug, Default, Deserialize)]
pub struct ContainerPortLite {
    /// `containerPort`.
    #[serde(default, rename = "containerPort")]
    pub container_port: i32,
    /// `name`.
    pub name: Option<String>,
    /// `protocol`.
    pub protocol: Option<String>,
}

/// `status` of [`PodLite`].
#[derive(Clone, Debug, Default, Deserialize)]
pub struct PodStatusLite {
    /// `podIP`.
    #[serde(rename = "podIP")]
    pub pod_ip: Option<String>,
    /// `hostIP`.
    #[serde(rename = "hostIP")]
    pub host_ip: Option<String>,
    /// `phase`.
    pub phase: Option<String>,
    /// `conditions`.
    pub conditions: Option<Vec<ConditionLite>>,
    /// `containerStatuses`.
    #[serde(rename = "containerStatuses")]
    pub container_statuses: Option<Vec<ContainerStatusLite>>,
    /// `initContainerStatuses`.
    #[serde(rename = "initContainerStatuses")]
    pub init_container_statuses: Option<Vec<ContainerStatusLite>>,
}

/// A pod condition.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct ConditionLite {
    /// `type`.
    #[serde(default, rename = "type")]
    pub type_: String,
    /// `status`.
    #[serde(default)]
    pub status: String,
}

/// A container status.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct ContainerStatusLite {
    /// `name`.
    #[serde(default)]
    pub name: String,
    /// `containerID`.
    #[serde(rename = "containerID")]
    pub container_id: Option<String>,
}

impl kube::Resource for PodLite {
    type DynamicType = ();
    type Scope = k8s_openapi::NamespaceResourceScope;

    fn kind(_: &()) -> Cow<'_, str> {
        Cow::Borrowed("Pod")
    }
    fn group(_: &()) -> Cow<'_, str> {
        Cow::Borrowed("")
    }
    fn version(_: &()) -> Cow<'_, str> {
        Cow::Borrowed("v1")
    }
    fn plural(_: &()) -> Cow<'_, str> {
        Cow::Borrowed("pods")
    }
    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

/// A Node with only what discovery reads (real nodes carry large image lists and status).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct NodeLite {
    /// Name, resourceVersion, labels, annotations.
    #[serde(default, deserialize_with = "slim_meta")]
    pub metadata: ObjectMeta,
    /// `spec`.
    #[serde(default)]
    pub spec: Option<NodeSpecLite>,
    /// `status`.
    #[serde(default)]
    pub status: Option<NodeStatusLite>,
}

/// `spec` of [`NodeLite`].
#[derive(Clone, Debug, Default, Deserialize)]
pub struct NodeSpecLite {
    /// `providerID`.
    #[serde(rename = "providerID")]
    pub provider_id: Option<String>,
}

/// `status` of [`NodeLite`].
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeStatusLite {
    /// `conditions`.
    pub conditions: Option<Vec<ConditionLite>>,
    /// `addresses`.
    pub addresses: Option<Vec<NodeAddressLite>>,
    /// `daemonEndpoints`.
    pub daemon_endpoints: Option<DaemonEndpointsLite>,
}

/// A node address.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct NodeAddressLite {
    /// `type`.
    #[serde(default, rename = "type")]
    pub type_: String,
    /// `address`.
    #[serde(default)]
    pub address: String,
}

/// `daemonEndpoints`.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct DaemonEndpointsLite {
    /// `kubeletEndpoint`.
    #[serde(rename = "kubeletEndpoint")]
    pub kubelet_endpoint: Option<KubeletEndpointLite>,
}

/// `kubeletEndpoint` (the JSON field is `Port`, capitalised, as in the real API).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct KubeletEndpointLite {
    /// `Port`.
    #[serde(default, rename = "Port")]
    pub port: i32,
}

impl kube::Resource for NodeLite {
    type DynamicType = ();
    type Scope = k8s_openapi::ClusterResourceScope;

    fn kind(_: &()) -> Cow<'_, str> {
        Cow::Borrowed("Node")
    }
    fn group(_: &()) -> Cow<'_, str> {
        Cow::Borrowed("")
    }
    fn version(_: &()) -> Cow<'_, str> {
        Cow::Borrowed("v1")
    }
    fn plural(_: &()) -> Cow<'_, str> {
        Cow::Borrowed("nodes")
    }
    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}
