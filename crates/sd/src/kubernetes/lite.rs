//! Trimmed object types for the watches themselves: only the fields the labels need are
//! decoded; everything else (managedFields, volumes, env, probes, hints, …) is skipped by the
//! JSON parser without being built. Pods are by far the most numerous objects, so this is where
//! most decoding time and transient memory go; Nodes, Services, Endpoints, EndpointSlices and
//! Ingresses are trimmed the same way. Each implements `kube::Resource` so `kube`'s watcher runs
//! it unchanged.

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
    /// The `Ready` entries of `conditions` (the only type the labels read; the others are
    /// checked and skipped without being built).
    #[serde(default, deserialize_with = "ready_conditions")]
    pub conditions: Option<Vec<ConditionLite>>,
    /// `containerStatuses`.
    #[serde(rename = "containerStatuses")]
    pub container_statuses: Option<Vec<ContainerStatusLite>>,
    /// `initContainerStatuses`.
    #[serde(rename = "initContainerStatuses")]
    pub init_container_statuses: Option<Vec<ContainerStatusLite>>,
}

/// Decodes a condition list keeping only `type: Ready` entries. Each entry is still decoded
/// (a malformed one fails as it would in a full decode), but borrowed, so the others cost no
/// allocation.
fn ready_conditions<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Vec<ConditionLite>>, D::Error> {
    #[derive(Deserialize)]
    struct Borrowed<'a> {
        #[serde(default, rename = "type", borrow)]
        type_: Cow<'a, str>,
        #[serde(default, borrow)]
        status: Cow<'a, str>,
    }
    struct Ready;
    impl<'de> serde::de::Visitor<'de> for Ready {
        type Value = Option<Vec<ConditionLite>>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a list of conditions or null")
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_seq(self)
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(c) = seq.next_element::<Borrowed<'de>>()? {
                if c.type_ == "Ready" {
                    out.push(ConditionLite {
                        type_: c.type_.into_owned(),
                        status: c.status.into_owned(),
                    });
                }
            }
            Ok(Some(out))
        }
    }
    d.deserialize_option(Ready)
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

/// Implements `kube::Resource` for a trimmed type: its scope, kind, API group, version and
/// resource plural, and its `metadata` field.
macro_rules! lite_resource {
    ($t:ty, $scope:ty, $kind:literal, $group:literal, $version:literal, $plural:literal) => {
        impl kube::Resource for $t {
            type DynamicType = ();
            type Scope = $scope;

            fn kind(_: &()) -> Cow<'_, str> {
                Cow::Borrowed($kind)
            }
            fn group(_: &()) -> Cow<'_, str> {
                Cow::Borrowed($group)
            }
            fn version(_: &()) -> Cow<'_, str> {
                Cow::Borrowed($version)
            }
            fn plural(_: &()) -> Cow<'_, str> {
                Cow::Borrowed($plural)
            }
            fn meta(&self) -> &ObjectMeta {
                &self.metadata
            }
            fn meta_mut(&mut self) -> &mut ObjectMeta {
                &mut self.metadata
            }
        }
    };
}

lite_resource!(
    PodLite,
    k8s_openapi::NamespaceResourceScope,
    "Pod",
    "",
    "v1",
    "pods"
);
lite_resource!(
    NodeLite,
    k8s_openapi::ClusterResourceScope,
    "Node",
    "",
    "v1",
    "nodes"
);

// The types below decode what `k8s-openapi` would (every field optional, `null` = absent, a
// missing required field = its default) but only the fields the labels need; the rest
// (managedFields, hints, status conditions, …) is skipped by the parser.

/// A Service with only what discovery reads.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct ServiceLite {
    /// Name, namespace, labels, annotations.
    #[serde(default, deserialize_with = "slim_meta")]
    pub metadata: ObjectMeta,
    /// `spec`.
    #[serde(default)]
    pub spec: Option<ServiceSpecLite>,
    /// `status`.
    #[serde(default)]
    pub status: Option<ServiceStatusLite>,
}

/// `spec` of [`ServiceLite`].
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceSpecLite {
    /// `ports`.
    #[serde(default)]
    pub ports: Option<Vec<ServicePortLite>>,
    /// `type`.
    #[serde(default, rename = "type")]
    pub type_: Option<String>,
    /// `clusterIP`.
    #[serde(default, rename = "clusterIP")]
    pub cluster_ip: Option<String>,
    /// `externalName`.
    #[serde(default)]
    pub external_name: Option<String>,
    /// `loadBalancerIP`.
    #[serde(default, rename = "loadBalancerIP")]
    pub load_balancer_ip: Option<String>,
    /// `ipFamilyPolicy`.
    #[serde(default)]
    pub ip_family_policy: Option<String>,
    /// `ipFamilies`.
    #[serde(default)]
    pub ip_families: Option<Vec<String>>,
}

/// A port of a Service or of an Endpoints subset (`name`, `port`, `protocol`).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct ServicePortLite {
    /// `name`.
    #[serde(default)]
    pub name: Option<String>,
    /// `port` (required by the API; absent or `null` reads as 0, as `k8s-openapi` does).
    #[serde(default)]
    pub port: Option<i32>,
    /// `protocol`.
    #[serde(default)]
    pub protocol: Option<String>,
}

/// `status` of [`ServiceLite`].
#[derive(Clone, Debug, Default, Deserialize)]
pub struct ServiceStatusLite {
    /// `loadBalancer`.
    #[serde(default, rename = "loadBalancer")]
    pub load_balancer: Option<LoadBalancerStatusLite>,
}

/// `status.loadBalancer`.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct LoadBalancerStatusLite {
    /// `ingress`.
    #[serde(default)]
    pub ingress: Option<Vec<LoadBalancerIngressLite>>,
}

/// `status.loadBalancer.ingress[]`.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct LoadBalancerIngressLite {
    /// `ip`.
    #[serde(default)]
    pub ip: Option<String>,
}

lite_resource!(
    ServiceLite,
    k8s_openapi::NamespaceResourceScope,
    "Service",
    "",
    "v1",
    "services"
);

/// A `targetRef` (`kind`, `name`, `namespace`).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct ObjectReferenceLite {
    /// `kind`.
    #[serde(default)]
    pub kind: Option<String>,
    /// `name`.
    #[serde(default)]
    pub name: Option<String>,
    /// `namespace`.
    #[serde(default)]
    pub namespace: Option<String>,
}

/// An Endpoints object with only what discovery reads.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct EndpointsLite {
    /// Name, namespace, labels, annotations.
    #[serde(default, deserialize_with = "slim_meta")]
    pub metadata: ObjectMeta,
    /// `subsets`.
    #[serde(default)]
    pub subsets: Option<Vec<EndpointSubsetLite>>,
}

/// A subset of [`EndpointsLite`].
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointSubsetLite {
    /// `addresses`.
    #[serde(default)]
    pub addresses: Option<Vec<EndpointAddressLite>>,
    /// `notReadyAddresses`.
    #[serde(default)]
    pub not_ready_addresses: Option<Vec<EndpointAddressLite>>,
    /// `ports`.
    #[serde(default)]
    pub ports: Option<Vec<ServicePortLite>>,
}

/// An address of an Endpoints subset.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointAddressLite {
    /// `ip` (required by the API; absent or `null` reads as `""`).
    #[serde(default)]
    pub ip: Option<String>,
    /// `hostname`.
    #[serde(default)]
    pub hostname: Option<String>,
    /// `nodeName`.
    #[serde(default)]
    pub node_name: Option<String>,
    /// `targetRef`.
    #[serde(default)]
    pub target_ref: Option<ObjectReferenceLite>,
}

lite_resource!(
    EndpointsLite,
    k8s_openapi::NamespaceResourceScope,
    "Endpoints",
    "",
    "v1",
    "endpoints"
);

/// An EndpointSlice with only what discovery reads.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointSliceLite {
    /// Name, namespace, labels, annotations.
    #[serde(default, deserialize_with = "slim_meta")]
    pub metadata: ObjectMeta,
    /// `addressType` (required by the API; absent or `null` reads as `""`).
    #[serde(default)]
    pub address_type: Option<String>,
    /// `endpoints`.
    #[serde(default)]
    pub endpoints: Option<Vec<SliceEndpointLite>>,
    /// `ports`.
    #[serde(default)]
    pub ports: Option<Vec<SlicePortLite>>,
}

/// An endpoint of [`EndpointSliceLite`].
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SliceEndpointLite {
    /// `addresses` (required by the API; absent or `null` reads as empty).
    #[serde(default)]
    pub addresses: Option<Vec<String>>,
    /// `conditions`.
    #[serde(default)]
    pub conditions: Option<SliceConditionsLite>,
    /// `hostname`.
    #[serde(default)]
    pub hostname: Option<String>,
    /// `nodeName`.
    #[serde(default)]
    pub node_name: Option<String>,
    /// `zone`.
    #[serde(default)]
    pub zone: Option<String>,
    /// `targetRef`.
    #[serde(default)]
    pub target_ref: Option<ObjectReferenceLite>,
    /// `deprecatedTopology`.
    #[serde(default)]
    pub deprecated_topology: Option<BTreeMap<String, String>>,
}

/// `conditions` of a slice endpoint.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct SliceConditionsLite {
    /// `ready`.
    #[serde(default)]
    pub ready: Option<bool>,
    /// `serving`.
    #[serde(default)]
    pub serving: Option<bool>,
    /// `terminating`.
    #[serde(default)]
    pub terminating: Option<bool>,
}

/// A port of [`EndpointSliceLite`].
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SlicePortLite {
    /// `name`.
    #[serde(default)]
    pub name: Option<String>,
    /// `port`.
    #[serde(default)]
    pub port: Option<i32>,
    /// `protocol`.
    #[serde(default)]
    pub protocol: Option<String>,
    /// `appProtocol`.
    #[serde(default)]
    pub app_protocol: Option<String>,
}

lite_resource!(
    EndpointSliceLite,
    k8s_openapi::NamespaceResourceScope,
    "EndpointSlice",
    "discovery.k8s.io",
    "v1",
    "endpointslices"
);

/// An Ingress with only what discovery reads.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct IngressLite {
    /// Name, namespace, labels, annotations.
    #[serde(default, deserialize_with = "slim_meta")]
    pub metadata: ObjectMeta,
    /// `spec`.
    #[serde(default)]
    pub spec: Option<IngressSpecLite>,
}

/// `spec` of [`IngressLite`].
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IngressSpecLite {
    /// `ingressClassName`.
    #[serde(default)]
    pub ingress_class_name: Option<String>,
    /// `rules`.
    #[serde(default)]
    pub rules: Option<Vec<IngressRuleLite>>,
    /// `tls`.
    #[serde(default)]
    pub tls: Option<Vec<IngressTlsLite>>,
}

/// An ingress rule.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct IngressRuleLite {
    /// `host`.
    #[serde(default)]
    pub host: Option<String>,
    /// `http`.
    #[serde(default)]
    pub http: Option<HttpRuleLite>,
}

/// `http` of an ingress rule.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct HttpRuleLite {
    /// `paths` (required by the API; absent or `null` reads as empty).
    #[serde(default)]
    pub paths: Option<Vec<HttpPathLite>>,
}

/// A path of an ingress rule.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct HttpPathLite {
    /// `path`.
    #[serde(default)]
    pub path: Option<String>,
}

/// A `tls` entry of an ingress.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct IngressTlsLite {
    /// `hosts`.
    #[serde(default)]
    pub hosts: Option<Vec<String>>,
}

lite_resource!(
    IngressLite,
    k8s_openapi::NamespaceResourceScope,
    "Ingress",
    "networking.k8s.io",
    "v1",
    "ingresses"
);

#[cfg(test)]
mod tests {
    //! The trimmed types against `k8s-openapi` on the same documents: both decode or both fail,
    //! and the fields discovery reads agree.

    use super::*;
    use k8s_openapi::api::core::v1::{Endpoints, Service};
    use k8s_openapi::api::discovery::v1::EndpointSlice;
    use k8s_openapi::api::networking::v1::Ingress;
    use serde_json::{Value, json};

    fn both<A: serde::de::DeserializeOwned, B: serde::de::DeserializeOwned>(
        v: &Value,
    ) -> Option<(A, B)> {
        let a = serde_json::from_value::<A>(v.clone());
        let b = serde_json::from_value::<B>(v.clone());
        assert_eq!(a.is_ok(), b.is_ok(), "decode disagreement on {v}");
        Some((a.ok()?, b.ok()?))
    }

    #[test]
    fn pods_keep_only_ready_conditions() {
        let p: PodLite = serde_json::from_value(json!({"status": {"conditions": [
            {"type": "Initialized", "status": "True"},
            {"type": "Ready", "status": "False", "lastTransitionTime": "t"},
            {"type": "Ready", "status": "True"},
            {"type": "PodScheduled", "status": "True"}]}}))
        .unwrap();
        let got: Vec<(String, String)> = p
            .status
            .and_then(|s| s.conditions)
            .unwrap_or_default()
            .into_iter()
            .map(|c| (c.type_, c.status))
            .collect();
        assert_eq!(
            got,
            [
                ("Ready".to_string(), "False".to_string()),
                ("Ready".to_string(), "True".to_string())
            ]
        );
        let text = r#"{"status": {"conditions": [{"type": "Re\u0061dy", "status": "Tr\u0075e"}]}}"#;
        let p: PodLite = serde_json::from_str(text).unwrap();
        let c = p.status.and_then(|s| s.conditions).unwrap_or_default();
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].status, "True");
        for (doc, want) in [
            (r#"{"status": {"conditions": null}}"#, Some(None)),
            (r#"{"status": {}}"#, Some(None)),
            (r#"{"status": {"conditions": []}}"#, Some(Some(0))),
            (r#"{"status": {"conditions": [null]}}"#, None),
            (r#"{"status": {"conditions": [{"type": 1}]}}"#, None),
            (r#"{"status": {"conditions": {}}}"#, None),
        ] {
            let got = serde_json::from_str::<PodLite>(doc)
                .ok()
                .map(|p| p.status.and_then(|s| s.conditions).map(|c| c.len()));
            assert_eq!(got, want, "{doc}");
        }
    }

    #[test]
    fn services_decode_like_k8s_openapi() {
        let docs = [
            json!({"metadata": {"name": "a", "namespace": "n", "labels": {"x": "1"}, "managedFields": [{"manager": "m"}]},
                   "spec": {"type": "LoadBalancer", "clusterIP": "10.0.0.1", "loadBalancerIP": "1.2.3.4",
                            "ipFamilyPolicy": "PreferDualStack", "ipFamilies": ["IPv6", "IPv4"],
                            "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": "web"}, {"port": null}]},
                   "status": {"loadBalancer": {"ingress": [{"ip": "5.6.7.8"}, {"hostname": "h"}]}}}),
            json!({"metadata": null, "spec": {"type": "ExternalName", "externalName": "e.example", "ports": null}}),
            json!({"spec": {"ports": [{}]}}),
            json!({"spec": {"ports": [{"port": "80"}]}}),
            json!({"spec": null, "status": null}),
        ];
        let mut decoded = 0;
        for d in &docs {
            let Some((k, l)) = both::<Service, ServiceLite>(d) else {
                continue;
            };
            decoded += 1;
            let (ks, ls) = (k.spec.unwrap_or_default(), l.spec.unwrap_or_default());
            assert_eq!(k.metadata.name, l.metadata.name);
            assert_eq!(k.metadata.labels, l.metadata.labels);
            assert_eq!(ks.type_, ls.type_);
            assert_eq!(ks.cluster_ip, ls.cluster_ip);
            assert_eq!(ks.external_name, ls.external_name);
            assert_eq!(ks.load_balancer_ip, ls.load_balancer_ip);
            assert_eq!(ks.ip_family_policy, ls.ip_family_policy);
            assert_eq!(ks.ip_families, ls.ip_families);
            let kp: Vec<_> = ks
                .ports
                .iter()
                .flatten()
                .map(|p| (p.name.clone(), p.port, p.protocol.clone()))
                .collect();
            let lp: Vec<_> = ls
                .ports
                .iter()
                .flatten()
                .map(|p| {
                    (
                        p.name.clone(),
                        p.port.unwrap_or_default(),
                        p.protocol.clone(),
                    )
                })
                .collect();
            assert_eq!(kp, lp);
            let kip: Vec<_> = k
                .status
                .and_then(|s| s.load_balancer)
                .and_then(|l| l.ingress)
                .into_iter()
                .flatten()
                .map(|i| i.ip)
                .collect();
            let lip: Vec<_> = l
                .status
                .and_then(|s| s.load_balancer)
                .and_then(|l| l.ingress)
                .into_iter()
                .flatten()
                .map(|i| i.ip)
                .collect();
            assert_eq!(kip, lip);
        }
        assert_eq!(decoded, 4, "documents both decoders accept");
    }

    #[test]
    fn endpoints_decode_like_k8s_openapi() {
        let docs = [
            json!({"metadata": {"name": "a", "namespace": "n"},
                   "subsets": [{"addresses": [{"ip": "1.1.1.1", "hostname": "h", "nodeName": "nd",
                                               "targetRef": {"kind": "Pod", "name": "p", "namespace": "n", "uid": "u"}}],
                                "notReadyAddresses": [{"ip": null}, {}],
                                "ports": [{"name": "w", "port": 9, "protocol": "UDP"}, {}]}]}),
            json!({"subsets": null}),
            json!({"subsets": [{"addresses": null, "ports": null}]}),
            json!({"subsets": [{"addresses": [{"ip": 7}]}]}),
        ];
        let mut decoded = 0;
        for d in &docs {
            let Some((k, l)) = both::<Endpoints, EndpointsLite>(d) else {
                continue;
            };
            decoded += 1;
            let kv: Vec<_> = k
                .subsets
                .iter()
                .flatten()
                .map(|s| {
                    let a =
                        |v: &Option<Vec<k8s_openapi::api::core::v1::EndpointAddress>>| -> Vec<_> {
                            v.iter()
                                .flatten()
                                .map(|a| {
                                    (
                                        a.ip.clone(),
                                        a.hostname.clone(),
                                        a.node_name.clone(),
                                        a.target_ref.as_ref().map(|t| {
                                            (t.kind.clone(), t.name.clone(), t.namespace.clone())
                                        }),
                                    )
                                })
                                .collect()
                        };
                    let p: Vec<_> = s
                        .ports
                        .iter()
                        .flatten()
                        .map(|p| (p.name.clone(), p.port, p.protocol.clone()))
                        .collect();
                    (a(&s.addresses), a(&s.not_ready_addresses), p)
                })
                .collect();
            let lv: Vec<_> = l
                .subsets
                .iter()
                .flatten()
                .map(|s| {
                    let a = |v: &Option<Vec<EndpointAddressLite>>| -> Vec<_> {
                        v.iter()
                            .flatten()
                            .map(|a| {
                                (
                                    a.ip.clone().unwrap_or_default(),
                                    a.hostname.clone(),
                                    a.node_name.clone(),
                                    a.target_ref.as_ref().map(|t| {
                                        (t.kind.clone(), t.name.clone(), t.namespace.clone())
                                    }),
                                )
                            })
                            .collect()
                    };
                    let p: Vec<_> = s
                        .ports
                        .iter()
                        .flatten()
                        .map(|p| {
                            (
                                p.name.clone(),
                                p.port.unwrap_or_default(),
                                p.protocol.clone(),
                            )
                        })
                        .collect();
                    (a(&s.addresses), a(&s.not_ready_addresses), p)
                })
                .collect();
            assert_eq!(kv, lv);
        }
        assert_eq!(decoded, 3, "documents both decoders accept");
    }

    #[test]
    fn endpointslices_decode_like_k8s_openapi() {
        let docs = [
            json!({"metadata": {"name": "s", "namespace": "n", "labels": {"kubernetes.io/service-name": "a"}},
                   "addressType": "IPv4",
                   "endpoints": [{"addresses": ["1.1.1.1", "2.2.2.2"], "conditions": {"ready": true, "serving": null},
                                  "hostname": "h", "nodeName": "nd", "zone": "z", "hints": {"forZones": [{"name": "z"}]},
                                  "targetRef": {"kind": "Pod", "name": "p"}, "deprecatedTopology": {"a.b/c": "d"}},
                                 {"addresses": null}, {}],
                   "ports": [{"name": "w", "port": 9, "protocol": "TCP", "appProtocol": "http"}, {"port": null}]}),
            json!({"addressType": null, "endpoints": null, "ports": null}),
            json!({}),
            json!({"endpoints": [{"addresses": [null]}]}),
        ];
        let mut decoded = 0;
        for d in &docs {
            let Some((k, l)) = both::<EndpointSlice, EndpointSliceLite>(d) else {
                continue;
            };
            decoded += 1;
            assert_eq!(k.address_type, l.address_type.clone().unwrap_or_default());
            let ke: Vec<_> = k
                .endpoints
                .iter()
                .flatten()
                .map(|e| {
                    (
                        e.addresses.clone(),
                        e.conditions
                            .as_ref()
                            .map(|c| (c.ready, c.serving, c.terminating)),
                        e.hostname.clone(),
                        e.node_name.clone(),
                        e.zone.clone(),
                        e.target_ref
                            .as_ref()
                            .map(|t| (t.kind.clone(), t.name.clone(), t.namespace.clone())),
                        e.deprecated_topology.clone(),
                    )
                })
                .collect();
            let le: Vec<_> = l
                .endpoints
                .iter()
                .flatten()
                .map(|e| {
                    (
                        e.addresses.clone().unwrap_or_default(),
                        e.conditions
                            .as_ref()
                            .map(|c| (c.ready, c.serving, c.terminating)),
                        e.hostname.clone(),
                        e.node_name.clone(),
                        e.zone.clone(),
                        e.target_ref
                            .as_ref()
                            .map(|t| (t.kind.clone(), t.name.clone(), t.namespace.clone())),
                        e.deprecated_topology.clone(),
                    )
                })
                .collect();
            assert_eq!(ke, le);
            let kp: Vec<_> = k
                .ports
                .iter()
                .flatten()
                .map(|p| {
                    (
                        p.name.clone(),
                        p.port,
                        p.protocol.clone(),
                        p.app_protocol.clone(),
                    )
                })
                .collect();
            let lp: Vec<_> = l
                .ports
                .iter()
                .flatten()
                .map(|p| {
                    (
                        p.name.clone(),
                        p.port,
                        p.protocol.clone(),
                        p.app_protocol.clone(),
                    )
                })
                .collect();
            assert_eq!(kp, lp);
        }
        assert_eq!(decoded, 3, "documents both decoders accept");
    }

    #[test]
    fn ingresses_decode_like_k8s_openapi() {
        let docs = [
            json!({"metadata": {"name": "i", "namespace": "n"},
                   "spec": {"ingressClassName": "nginx",
                            "rules": [{"host": "a.example", "http": {"paths": [{"path": "/x", "pathType": "Prefix",
                                          "backend": {"service": {"name": "s", "port": {"number": 80}}}}, {"path": null}]}},
                                      {"host": null, "http": null}, {"http": {"paths": null}}, {}],
                            "tls": [{"hosts": ["a.example"], "secretName": "t"}, {"hosts": null}]}}),
            json!({"spec": null}),
            json!({"spec": {"rules": [{"http": {}}]}}),
        ];
        let mut decoded = 0;
        for d in &docs {
            let Some((k, l)) = both::<Ingress, IngressLite>(d) else {
                continue;
            };
            decoded += 1;
            let (ks, ls) = (k.spec.unwrap_or_default(), l.spec.unwrap_or_default());
            assert_eq!(ks.ingress_class_name, ls.ingress_class_name);
            let kr: Vec<_> = ks
                .rules
                .iter()
                .flatten()
                .map(|r| {
                    (
                        r.host.clone(),
                        r.http
                            .as_ref()
                            .map(|h| h.paths.iter().map(|p| p.path.clone()).collect::<Vec<_>>()),
                    )
                })
                .collect();
            let lr: Vec<_> = ls
                .rules
                .iter()
                .flatten()
                .map(|r| {
                    (
                        r.host.clone(),
                        r.http.as_ref().map(|h| {
                            h.paths
                                .iter()
                                .flatten()
                                .map(|p| p.path.clone())
                                .collect::<Vec<_>>()
                        }),
                    )
                })
                .collect();
            assert_eq!(kr, lr);
            let kt: Vec<_> = ks.tls.iter().flatten().map(|t| t.hosts.clone()).collect();
            let lt: Vec<_> = ls.tls.iter().flatten().map(|t| t.hosts.clone()).collect();
            assert_eq!(kt, lt);
        }
        assert_eq!(decoded, 3, "documents both decoders accept");
    }
}
