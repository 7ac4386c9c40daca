//! Compact projections of Kubernetes objects: only the fields some role's labels need.
//!
//! Watched objects are decoded, projected here at once, and dropped; the informer stores keep
//! only these. Strings are boxed (no spare capacity) and optional fields keep their
//! present/absent distinction only where Prometheus' labels depend on it.

use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use std::collections::BTreeMap;

use super::lite::{
    ContainerLite, ContainerStatusLite, EndpointAddressLite, EndpointSliceLite, EndpointsLite,
    IngressLite, NodeLite, ObjectReferenceLite, PodLite, ServiceLite,
};

/// A boxed string: two words, no spare capacity.
pub(crate) type Str = Box<str>;

fn s(v: &str) -> Str {
    Box::from(v)
}

fn os(v: &Option<String>) -> Str {
    s(v.as_deref().unwrap_or(""))
}

fn oos(v: &Option<String>) -> Option<Str> {
    v.as_deref().map(s)
}

/// `v` or `""`, from a borrowed optional string (one allocation, none for `""`).
fn ds(v: Option<&str>) -> Str {
    s(v.unwrap_or(""))
}

/// Takes an optional string without copying it (the decoder sized it exactly).
fn take(v: Option<String>) -> Str {
    v.map_or_else(|| s(""), String::into_boxed_str)
}

fn pairs(m: &Option<BTreeMap<String, String>>) -> Box<[(Str, Str)]> {
    m.iter().flatten().map(|(k, v)| (s(k), s(v))).collect()
}

fn take_pairs(m: Option<BTreeMap<String, String>>) -> Box<[(Str, Str)]> {
    m.into_iter()
        .flatten()
        .map(|(k, v)| (k.into_boxed_str(), v.into_boxed_str()))
        .collect()
}

fn str_heap(v: &str) -> usize {
    v.len()
}

fn pairs_heap(p: &[(Str, Str)]) -> usize {
    std::mem::size_of_val(p) + p.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>()
}

/// Heap bytes a projection holds, for memory accounting in benches.
pub trait HeapSize {
    /// Bytes on the heap owned by this value (not counting `size_of::<Self>()`).
    fn heap_size(&self) -> usize;
}

/// Name, namespace, labels and annotations.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Meta {
    /// `metadata.name`.
    pub name: Str,
    /// `metadata.namespace`.
    pub namespace: Str,
    /// `metadata.labels`, sorted by key.
    pub labels: Box<[(Str, Str)]>,
    /// `metadata.annotations`, sorted by key.
    pub annotations: Box<[(Str, Str)]>,
}

impl Meta {
    /// Moves name, namespace, labels and annotations out of `m`.
    fn take(m: &mut ObjectMeta) -> Self {
        Self {
            name: take(m.name.take()),
            namespace: take(m.namespace.take()),
            labels: take_pairs(m.labels.take()),
            annotations: take_pairs(m.annotations.take()),
        }
    }

    /// The value of label `k`.
    pub fn label(&self, k: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(n, _)| &**n == k)
            .map(|(_, v)| &**v)
    }
}

impl HeapSize for Meta {
    fn heap_size(&self) -> usize {
        str_heap(&self.name)
            + str_heap(&self.namespace)
            + pairs_heap(&self.labels)
            + pairs_heap(&self.annotations)
    }
}

/// The first ownerReference with `controller: true`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Controller {
    /// Owner kind.
    pub kind: Str,
    /// Owner name.
    pub name: Str,
}

fn controller(m: &ObjectMeta) -> Option<Controller> {
    m.owner_references
        .iter()
        .flatten()
        .find(|o| o.controller == Some(true))
        .map(|o| Controller {
            kind: s(&o.kind),
            name: s(&o.name),
        })
}

/// A Node.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NodeObj {
    /// Metadata.
    pub meta: Meta,
    /// `spec.providerID`.
    pub provider_id: Str,
    /// `(type, status)` of `status.conditions`.
    pub conditions: Box<[(Str, Str)]>,
    /// `(type, address)` of `status.addresses`, in order.
    pub addresses: Box<[(Str, Str)]>,
    /// `status.daemonEndpoints.kubeletEndpoint.Port`.
    pub kubelet_port: i32,
}

impl From<NodeLite> for NodeObj {
    fn from(mut n: NodeLite) -> Self {
        let meta = Meta::take(&mut n.metadata);
        let status = n.status.unwrap_or_default();
        Self {
            meta,
            provider_id: take(n.spec.and_then(|s| s.provider_id)),
            conditions: status
                .conditions
                .into_iter()
                .flatten()
                .map(|c| (c.type_.into_boxed_str(), c.status.into_boxed_str()))
                .collect(),
            addresses: status
                .addresses
                .into_iter()
                .flatten()
                .map(|a| (a.type_.into_boxed_str(), a.address.into_boxed_str()))
                .collect(),
            kubelet_port: status
                .daemon_endpoints
                .and_then(|d| d.kubelet_endpoint)
                .map_or(0, |k| k.port),
        }
    }
}

impl HeapSize for NodeObj {
    fn heap_size(&self) -> usize {
        self.meta.heap_size()
            + self.provider_id.len()
            + pairs_heap(&self.conditions)
            + pairs_heap(&self.addresses)
    }
}

/// A container port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortObj {
    /// Port name (`""` if unset).
    pub name: Str,
    /// Port number.
    pub number: i32,
    /// Protocol, verbatim (`""` if unset).
    pub protocol: Str,
}

/// A container (or init container) of a pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerObj {
    /// Container name.
    pub name: Str,
    /// Image.
    pub image: Str,
    /// `containerID` from the matching status entry (`""` if none).
    pub id: Str,
    /// Whether it is an init container.
    pub init: bool,
    /// Declared ports.
    pub ports: Box<[PortObj]>,
}

/// A Pod.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PodObj {
    /// Metadata.
    pub meta: Meta,
    /// `metadata.uid`.
    pub uid: Str,
    /// Controller owner.
    pub controller: Option<Controller>,
    /// `spec.nodeName`.
    pub node_name: Str,
    /// `status.podIP`.
    pub pod_ip: Str,
    /// `status.hostIP`.
    pub host_ip: Str,
    /// `status.phase`.
    pub phase: Str,
    /// Lower-cased Ready condition status, `unknown` if absent.
    pub ready: Str,
    /// Containers then init containers.
    pub containers: Box<[ContainerObj]>,
}

fn containers(
    list: Vec<ContainerLite>,
    statuses: Option<&[ContainerStatusLite]>,
    init: bool,
    out: &mut Vec<ContainerObj>,
) {
    out.extend(list.into_iter().map(|c| {
        ContainerObj {
            id: ds(statuses
                .into_iter()
                .flatten()
                .find(|st| st.name == c.name)
                .and_then(|st| st.container_id.as_deref())),
            name: c.name.into_boxed_str(),
            image: take(c.image),
            init,
            ports: c
                .ports
                .into_iter()
                .flatten()
                .map(|p| PortObj {
                    name: take(p.name),
                    number: p.container_port,
                    protocol: take(p.protocol),
                })
                .collect(),
        }
    }));
}

impl From<PodLite> for PodObj {
    /// Moves the decoded strings into the projection (no copy).
    fn from(mut p: PodLite) -> Self {
        let controller = controller(&p.metadata);
        let uid = take(p.metadata.uid.take());
        let meta = Meta::take(&mut p.metadata);
        let status = p.status.unwrap_or_default();
        let spec = p.spec.unwrap_or_default();
        let ready = status
            .conditions
            .iter()
            .flatten()
            .find(|c| c.type_ == "Ready")
            .map_or_else(|| s("unknown"), |c| s(&c.status.to_lowercase()));
        let mut cs: Vec<ContainerObj> = Vec::new();
        if let Some(list) = spec.containers {
            containers(list, status.container_statuses.as_deref(), false, &mut cs);
        }
        if let Some(init) = spec.init_containers {
            let statuses = status.init_container_statuses.as_deref();
            containers(init, statuses, true, &mut cs);
        }
        Self {
            meta,
            uid,
            controller,
            node_name: take(spec.node_name),
            pod_ip: take(status.pod_ip),
            host_ip: take(status.host_ip),
            phase: take(status.phase),
            ready,
            containers: cs.into_boxed_slice(),
        }
    }
}

impl From<&PodLite> for PodObj {
    fn from(p: &PodLite) -> Self {
        Self::from(p.clone())
    }
}

impl HeapSize for PodObj {
    fn heap_size(&self) -> usize {
        self.meta.heap_size()
            + self.uid.len()
            + self
                .controller
                .as_ref()
                .map_or(0, |c| c.kind.len() + c.name.len())
            + self.node_name.len()
            + self.pod_ip.len()
            + self.host_ip.len()
            + self.phase.len()
            + self.ready.len()
            + self.containers.len() * std::mem::size_of::<ContainerObj>()
            + self
                .containers
                .iter()
                .map(|c| {
                    c.name.len()
                        + c.image.len()
                        + c.id.len()
                        + c.ports.len() * std::mem::size_of::<PortObj>()
                        + c.ports
                            .iter()
                            .map(|p| p.name.len() + p.protocol.len())
                            .sum::<usize>()
                })
                .sum::<usize>()
    }
}

/// A Service.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServiceObj {
    /// Metadata.
    pub meta: Meta,
    /// `spec.ports`.
    pub ports: Box<[PortObj]>,
    /// `spec.type`.
    pub type_: Str,
    /// `spec.clusterIP`.
    pub cluster_ip: Str,
    /// `spec.externalName`.
    pub external_name: Str,
    /// Load balancer IPs: ingress IPs joined with `,`, else `spec.loadBalancerIP`.
    pub load_balancer_ip: Str,
    /// `ipFamilies[0]` when the policy is dual-stack and families are set.
    pub dual_stack_primary: Option<Str>,
}

impl From<ServiceLite> for ServiceObj {
    fn from(mut v: ServiceLite) -> Self {
        let meta = Meta::take(&mut v.metadata);
        let v = &v;
        let spec = v.spec.as_ref();
        let ingress_ips: Vec<&str> = v
            .status
            .as_ref()
            .and_then(|s| s.load_balancer.as_ref())
            .and_then(|l| l.ingress.as_ref())
            .into_iter()
            .flatten()
            .filter_map(|i| i.ip.as_deref())
            .filter(|ip| !ip.is_empty())
            .collect();
        let lb = if ingress_ips.is_empty() {
            ds(spec.and_then(|s| s.load_balancer_ip.as_deref()))
        } else {
            s(&ingress_ips.join(","))
        };
        let dual = spec.and_then(|s| {
            let policy = s.ip_family_policy.as_deref()?;
            if policy != "PreferDualStack" && policy != "RequireDualStack" {
                return None;
            }
            s.ip_families.as_ref()?.first().map(|f| self::s(f))
        });
        Self {
            meta,
            ports: spec
                .and_then(|s| s.ports.as_ref())
                .into_iter()
                .flatten()
                .map(|p| PortObj {
                    name: os(&p.name),
                    number: p.port.unwrap_or_default(),
                    protocol: os(&p.protocol),
                })
                .collect(),
            type_: ds(spec.and_then(|s| s.type_.as_deref())),
            cluster_ip: ds(spec.and_then(|s| s.cluster_ip.as_deref())),
            external_name: ds(spec.and_then(|s| s.external_name.as_deref())),
            load_balancer_ip: lb,
            dual_stack_primary: dual,
        }
    }
}

impl HeapSize for ServiceObj {
    fn heap_size(&self) -> usize {
        self.meta.heap_size()
            + self.ports.len() * std::mem::size_of::<PortObj>()
            + self
                .ports
                .iter()
                .map(|p| p.name.len() + p.protocol.len())
                .sum::<usize>()
            + self.type_.len()
            + self.cluster_ip.len()
            + self.external_name.len()
            + self.load_balancer_ip.len()
    }
}

/// A `targetRef`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetRef {
    /// Kind (`""` if unset).
    pub kind: Str,
    /// Name (`""` if unset).
    pub name: Str,
    /// Namespace (`""` if unset).
    pub namespace: Str,
}

fn target_ref(r: &Option<ObjectReferenceLite>) -> Option<TargetRef> {
    r.as_ref().map(|r| TargetRef {
        kind: os(&r.kind),
        name: os(&r.name),
        namespace: os(&r.namespace),
    })
}

/// An address of an Endpoints subset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressObj {
    /// IP.
    pub ip: Str,
    /// Hostname (`""` if unset).
    pub hostname: Str,
    /// `nodeName` if set.
    pub node_name: Option<Str>,
    /// `targetRef` if set.
    pub target: Option<TargetRef>,
}

fn address(a: &EndpointAddressLite) -> AddressObj {
    AddressObj {
        ip: os(&a.ip),
        hostname: os(&a.hostname),
        node_name: oos(&a.node_name),
        target: target_ref(&a.target_ref),
    }
}

/// An Endpoints subset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubsetObj {
    /// Ready addresses.
    pub addresses: Box<[AddressObj]>,
    /// Not-ready addresses.
    pub not_ready: Box<[AddressObj]>,
    /// Ports.
    pub ports: Box<[PortObj]>,
}

/// An Endpoints object.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EndpointsObj {
    /// Metadata.
    pub meta: Meta,
    /// Subsets.
    pub subsets: Box<[SubsetObj]>,
}

impl From<EndpointsLite> for EndpointsObj {
    fn from(mut e: EndpointsLite) -> Self {
        Self {
            meta: Meta::take(&mut e.metadata),
            subsets: e
                .subsets
                .iter()
                .flatten()
                .map(|ss| SubsetObj {
                    addresses: ss.addresses.iter().flatten().map(address).collect(),
                    not_ready: ss
                        .not_ready_addresses
                        .iter()
                        .flatten()
                        .map(address)
                        .collect(),
                    ports: ss
                        .ports
                        .iter()
                        .flatten()
                        .map(|p| PortObj {
                            name: os(&p.name),
                            number: p.port.unwrap_or_default(),
                            protocol: os(&p.protocol),
                        })
                        .collect(),
                })
                .collect(),
        }
    }
}

fn addr_heap(a: &AddressObj) -> usize {
    a.ip.len()
        + a.hostname.len()
        + a.node_name.as_ref().map_or(0, |n| n.len())
        + a.target
            .as_ref()
            .map_or(0, |t| t.kind.len() + t.name.len() + t.namespace.len())
}

impl HeapSize for EndpointsObj {
    fn heap_size(&self) -> usize {
        self.meta.heap_size()
            + self
                .subsets
                .iter()
                .map(|ss| {
                    std::mem::size_of::<SubsetObj>()
                        + (ss.addresses.len() + ss.not_ready.len())
                            * std::mem::size_of::<AddressObj>()
                        + ss.addresses
                            .iter()
                            .chain(ss.not_ready.iter())
                            .map(addr_heap)
                            .sum::<usize>()
                        + ss.ports.len() * std::mem::size_of::<PortObj>()
                        + ss.ports
                            .iter()
                            .map(|p| p.name.len() + p.protocol.len())
                            .sum::<usize>()
                })
                .sum::<usize>()
    }
}

/// An endpoint of an EndpointSlice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SliceEndpointObj {
    /// Addresses.
    pub addresses: Box<[Str]>,
    /// `conditions.ready`.
    pub ready: Option<bool>,
    /// `conditions.serving`.
    pub serving: Option<bool>,
    /// `conditions.terminating`.
    pub terminating: Option<bool>,
    /// `hostname`.
    pub hostname: Option<Str>,
    /// `nodeName`.
    pub node_name: Option<Str>,
    /// `zone`.
    pub zone: Option<Str>,
    /// `targetRef`.
    pub target: Option<TargetRef>,
    /// `deprecatedTopology`.
    pub topology: Box<[(Str, Str)]>,
}

/// A port of an EndpointSlice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlicePortObj {
    /// `name`.
    pub name: Option<Str>,
    /// `port`.
    pub port: Option<i32>,
    /// `protocol`.
    pub protocol: Option<Str>,
    /// `appProtocol`.
    pub app_protocol: Option<Str>,
}

/// An EndpointSlice.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EndpointSliceObj {
    /// Metadata.
    pub meta: Meta,
    /// `addressType`.
    pub address_type: Str,
    /// `endpoints`.
    pub endpoints: Box<[SliceEndpointObj]>,
    /// `ports`.
    pub ports: Box<[SlicePortObj]>,
}

impl From<EndpointSliceLite> for EndpointSliceObj {
    fn from(mut e: EndpointSliceLite) -> Self {
        Self {
            meta: Meta::take(&mut e.metadata),
            address_type: os(&e.address_type),
            endpoints: e
                .endpoints
                .iter()
                .flatten()
                .map(|ep| {
                    let c = ep.conditions.as_ref();
                    SliceEndpointObj {
                        addresses: ep.addresses.iter().flatten().map(|a| s(a)).collect(),
                        ready: c.and_then(|c| c.ready),
                        serving: c.and_then(|c| c.serving),
                        terminating: c.and_then(|c| c.terminating),
                        hostname: oos(&ep.hostname),
                        node_name: oos(&ep.node_name),
                        zone: oos(&ep.zone),
                        target: target_ref(&ep.target_ref),
                        topology: pairs(&ep.deprecated_topology),
                    }
                })
                .collect(),
            ports: e
                .ports
                .iter()
                .flatten()
                .map(|p| SlicePortObj {
                    name: oos(&p.name),
                    port: p.port,
                    protocol: oos(&p.protocol),
                    app_protocol: oos(&p.app_protocol),
                })
                .collect(),
        }
    }
}

impl HeapSize for EndpointSliceObj {
    fn heap_size(&self) -> usize {
        let o = |v: &Option<Str>| v.as_ref().map_or(0, |x| x.len());
        self.meta.heap_size()
            + self.address_type.len()
            + self
                .endpoints
                .iter()
                .map(|e| {
                    std::mem::size_of::<SliceEndpointObj>()
                        + e.addresses
                            .iter()
                            .map(|a| a.len() + std::mem::size_of::<Str>())
                            .sum::<usize>()
                        + o(&e.hostname)
                        + o(&e.node_name)
                        + o(&e.zone)
                        + e.target
                            .as_ref()
                            .map_or(0, |t| t.kind.len() + t.name.len() + t.namespace.len())
                        + pairs_heap(&e.topology)
                })
                .sum::<usize>()
            + self
                .ports
                .iter()
                .map(|p| {
                    std::mem::size_of::<SlicePortObj>()
                        + o(&p.name)
                        + o(&p.protocol)
                        + o(&p.app_protocol)
                })
                .sum::<usize>()
    }
}

/// An ingress rule with its paths resolved (`/` for no http block or an empty path).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleObj {
    /// `host` (`""` if unset).
    pub host: Str,
    /// Paths to emit (empty for `http: {paths: []}`).
    pub paths: Box<[Str]>,
}

/// An Ingress.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IngressObj {
    /// Metadata.
    pub meta: Meta,
    /// `spec.ingressClassName`.
    pub class_name: Option<Str>,
    /// `spec.rules`.
    pub rules: Box<[RuleObj]>,
    /// All `spec.tls[].hosts`.
    pub tls_hosts: Box<[Str]>,
}

impl From<IngressLite> for IngressObj {
    fn from(mut i: IngressLite) -> Self {
        let meta = Meta::take(&mut i.metadata);
        let spec = i.spec.as_ref();
        Self {
            meta,
            class_name: spec.and_then(|s| oos(&s.ingress_class_name)),
            rules: spec
                .and_then(|s| s.rules.as_ref())
                .into_iter()
                .flatten()
                .map(|r| RuleObj {
                    host: os(&r.host),
                    paths: match &r.http {
                        None => Box::new([s("/")]),
                        Some(h) => h
                            .paths
                            .iter()
                            .flatten()
                            .map(|p| match p.path.as_deref() {
                                None | Some("") => s("/"),
                                Some(x) => s(x),
                            })
                            .collect(),
                    },
                })
                .collect(),
            tls_hosts: spec
                .and_then(|s| s.tls.as_ref())
                .into_iter()
                .flatten()
                .flat_map(|t| t.hosts.iter().flatten())
                .map(|h| s(h))
                .collect(),
        }
    }
}

impl HeapSize for IngressObj {
    fn heap_size(&self) -> usize {
        self.meta.heap_size()
            + self.class_name.as_ref().map_or(0, |c| c.len())
            + self
                .rules
                .iter()
                .map(|r| {
                    std::mem::size_of::<RuleObj>()
                        + r.host.len()
                        + r.paths.iter().map(|p| p.len() + 16).sum::<usize>()
                })
                .sum::<usize>()
            + self.tls_hosts.iter().map(|h| h.len() + 16).sum::<usize>()
    }
}

/// A Namespace (labels and annotations only).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NamespaceObj {
    /// Metadata.
    pub meta: Meta,
}

impl From<Namespace> for NamespaceObj {
    fn from(mut n: Namespace) -> Self {
        Self {
            meta: Meta::take(&mut n.metadata),
        }
    }
}

impl HeapSize for NamespaceObj {
    fn heap_size(&self) -> usize {
        self.meta.heap_size()
    }
}

/// A ReplicaSet or Job: only its controller matters (Deployment or CronJob name).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OwnedObj {
    /// Controller owner.
    pub controller: Option<Controller>,
}

impl From<ReplicaSet> for OwnedObj {
    fn from(r: ReplicaSet) -> Self {
        Self {
            controller: controller(&r.metadata),
        }
    }
}

impl From<Job> for OwnedObj {
    fn from(r: Job) -> Self {
        Self {
            controller: controller(&r.metadata),
        }
    }
}

impl HeapSize for OwnedObj {
    fn heap_size(&self) -> usize {
        self.controller
            .as_ref()
            .map_or(0, |c| c.kind.len() + c.name.len())
    }
}
