//! Group builders: turn the projections in a scope's stores into Prometheus' target groups,
//! label for label (Prometheus' `discovery/kubernetes/*.go`; its test cases are replayed from
//! `testdata/prometheus/kubernetes-cases.json`).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::TargetGroup;
use crate::config::Role;

use scrapeline_exposition::Labels;

use super::deps::{DepKind, dep, dep_in};
use super::labels::Ls;
use super::objects::{ContainerObj, PodObj, ServiceObj, TargetRef};
use super::scope::Scope;

/// The source prefix of a role.
pub(crate) fn source_prefix(role: Role) -> &'static str {
    match role {
        Role::Node => "node/",
        Role::Pod => "pod/",
        Role::Service => "svc/",
        Role::Endpoints => "endpoints/",
        Role::EndpointSlice => "endpointslice/",
        Role::Ingress => "ingress/",
    }
}

fn empty(role: Role, key: &str) -> TargetGroup {
    TargetGroup {
        source: format!("{}{key}", source_prefix(role)),
        ..Default::default()
    }
}

fn group(role: Role, key: &str, labels: &mut Ls, mut targets: Vec<Labels>) -> TargetGroup {
    // Targets were pushed one by one: do not keep the growth slack in every stored group.
    targets.shrink_to_fit();
    TargetGroup {
        source: format!("{}{key}", source_prefix(role)),
        targets,
        labels: labels.labels(),
    }
}

fn b(v: bool) -> &'static str {
    if v { "true" } else { "false" }
}

/// Builds the group of the main object `key`; `None` means "send nothing" (a node without a
/// usable address).
pub(crate) fn build(scope: &Scope, key: &str) -> Option<TargetGroup> {
    match scope.role {
        Role::Node => build_node(scope, key),
        Role::Pod => Some(build_pod(scope, key)),
        Role::Service => Some(build_service(scope, key)),
        Role::Endpoints => Some(build_endpoints(scope, key)),
        Role::EndpointSlice => Some(build_slice(scope, key)),
        Role::Ingress => Some(build_ingress(scope, key)),
    }
}

/// Adds to `out` the references (see `deps`) the group of main object `key` is built from:
/// what `build` reads besides the main object, whether or not it is stored yet.
pub(crate) fn deps(scope: &Scope, key: &str, out: &mut Vec<u64>) {
    let attach = scope.attach;
    let owners = attach.deployment || attach.cronjob;
    let node = |name: &str, out: &mut Vec<u64>| {
        if attach.node {
            out.push(dep(DepKind::Node, name));
        }
    };
    // A referenced pod, and (if owner metadata is attached) its owner as stored now: the
    // pod's own event rebuilds the group if the owner reference changes.
    let pod = |ns: &str, name: &str, out: &mut Vec<u64>| {
        out.push(dep_in(DepKind::Pod, ns, name));
        if owners
            && let Some(p) = scope
                .pods
                .as_ref()
                .and_then(|i| i.get(&format!("{ns}/{name}")))
        {
            pod_owner_deps(scope, &p, out);
        }
    };
    match scope.role {
        Role::Node | Role::Service | Role::Ingress => {}
        Role::Pod => {
            if let Some(p) = scope.pods.as_ref().and_then(|i| i.get(key)) {
                node(&p.node_name, out);
                pod_owner_deps(scope, &p, out);
            }
        }
        Role::Endpoints => {
            let Some(ep) = scope.endpoints.as_ref().and_then(|i| i.get(key)) else {
                return;
            };
            out.push(dep(DepKind::Service, key));
            for ss in ep.subsets.iter() {
                for a in ss.addresses.iter().chain(ss.not_ready.iter()) {
                    let target = a.target.as_ref();
                    if let Some(n) = a
                        .node_name
                        .as_deref()
                        .or_else(|| target.filter(|t| &*t.kind == "Node").map(|t| &*t.name))
                    {
                        node(n, out);
                    }
                    if let Some(t) = target.filter(|t| &*t.kind == "Pod") {
                        pod(&t.namespace, &t.name, out);
                    }
                }
            }
        }
        Role::EndpointSlice => {
            let Some(sl) = scope.slices.as_ref().and_then(|i| i.get(key)) else {
                return;
            };
            if let Some(svc) = sl.meta.label("kubernetes.io/service-name") {
                out.push(dep_in(DepKind::Service, &sl.meta.namespace, svc));
            }
            for ep in sl.endpoints.iter() {
                let target = ep.target.as_ref();
                let n = match target {
                    Some(t) if &*t.kind == "Node" => Some(&*t.name),
                    _ => ep.node_name.as_deref(),
                };
                if let Some(n) = n {
                    node(n, out);
                }
                if let Some(t) = target.filter(|t| &*t.kind == "Pod") {
                    pod(&t.namespace, &t.name, out);
                }
            }
        }
    }
}

/// The owner objects whose metadata `pod_labels` joins onto a pod's labels.
fn pod_owner_deps(scope: &Scope, pod: &PodObj, out: &mut Vec<u64>) {
    let Some(c) = &pod.controller else { return };
    let ns = &pod.meta.namespace;
    if scope.attach.deployment && &*c.kind == "ReplicaSet" {
        out.push(dep_in(DepKind::ReplicaSet, ns, &c.name));
    }
    if scope.attach.cronjob && &*c.kind == "Job" {
        out.push(dep_in(DepKind::Job, ns, &c.name));
    }
}

const NODE_ADDRESS_PRIORITY: [&str; 6] = [
    "InternalIP",
    "InternalDNS",
    "ExternalIP",
    "ExternalDNS",
    "LegacyHostIP",
    "Hostname",
];

fn build_node(scope: &Scope, key: &str) -> Option<TargetGroup> {
    let Some(node) = scope.nodes.as_ref().and_then(|i| i.get(key)) else {
        return Some(empty(Role::Node, key));
    };
    let addr = NODE_ADDRESS_PRIORITY.iter().find_map(|t| {
        node.addresses
            .iter()
            .find(|(ty, _)| &**ty == *t)
            .map(|(_, a)| a.clone())
    })?;
    let mut g = Ls::new();
    g.m("node_name", &node.meta.name);
    g.m("node_provider_id", &node.provider_id);
    for (ty, st) in node.conditions.iter() {
        g.m_sanitized("node_condition_", &ty.to_lowercase(), &st.to_lowercase());
    }
    g.meta("node", &node.meta, false);
    let mut t = Ls::new();
    t.address(&addr, node.kubelet_port);
    t.raw("instance", &node.meta.name);
    let mut seen: Vec<&str> = Vec::new();
    for (ty, a) in node.addresses.iter() {
        if !seen.contains(&&**ty) {
            seen.push(ty);
            t.m_sanitized("node_address_", ty, a);
        }
    }
    Some(group(Role::Node, key, &mut g, vec![t.labels()]))
}

/// Node metadata labels for `attach_metadata.node`, if the node is in the store.
fn node_meta(scope: &Scope, node_name: &str, out: &mut Ls) {
    if !scope.attach.node {
        return;
    }
    if let Some(n) = scope.nodes.as_ref().and_then(|i| i.get(node_name)) {
        out.meta("node", &n.meta, true);
    }
}

/// Namespace metadata labels for `attach_metadata.namespace`.
fn namespace_meta(scope: &Scope, ns: &str, out: &mut Ls) {
    if !scope.attach.namespace {
        return;
    }
    if let Some(n) = scope.namespaces.as_ref().and_then(|i| i.get(ns)) {
        out.meta("namespace", &n.meta, false);
    }
}

/// The pod-role group labels without namespace, node and namespace metadata: what endpoints
/// and endpointslice targets carry for a pod.
fn pod_labels(scope: &Scope, pod: &PodObj, out: &mut Ls) {
    out.meta("pod", &pod.meta, true);
    out.m("pod_ip", &pod.pod_ip);
    out.m("pod_ready", &pod.ready);
    out.m("pod_phase", &pod.phase);
    out.m("pod_node_name", &pod.node_name);
    out.m("pod_host_ip", &pod.host_ip);
    out.m("pod_uid", &pod.uid);
    let Some(c) = &pod.controller else { return };
    if !c.kind.is_empty() {
        out.m("pod_controller_kind", &c.kind);
    }
    if !c.name.is_empty() {
        out.m("pod_controller_name", &c.name);
    }
    let ns = &pod.meta.namespace;
    if scope.attach.deployment
        && &*c.kind == "ReplicaSet"
        && let Some(rs) = scope
            .replicasets
            .as_ref()
            .and_then(|i| i.get(&format!("{ns}/{}", c.name)))
        && let Some(d) = &rs.controller
        && &*d.kind == "Deployment"
    {
        out.m("pod_deployment_name", &d.name);
    }
    if &*c.kind == "Job" {
        if scope.attach.job {
            out.m("pod_job_name", &c.name);
        }
        if scope.attach.cronjob
            && let Some(job) = scope
                .jobs
                .as_ref()
                .and_then(|i| i.get(&format!("{ns}/{}", c.name)))
            && let Some(cj) = &job.controller
            && &*cj.kind == "CronJob"
        {
            out.m("pod_cronjob_name", &cj.name);
        }
    }
}

fn build_pod(scope: &Scope, key: &str) -> TargetGroup {
    let Some(pod) = scope.pods.as_ref().and_then(|i| i.get(key)) else {
        return empty(Role::Pod, key);
    };
    if pod.pod_ip.is_empty() {
        return empty(Role::Pod, key);
    }
    if scope.attach.node
        && scope
            .nodes
            .as_ref()
            .and_then(|i| i.get(&pod.node_name))
            .is_none()
    {
        return empty(Role::Pod, key);
    }
    let mut g = Ls::new();
    g.m("namespace", &pod.meta.namespace);
    pod_labels(scope, &pod, &mut g);
    node_meta(scope, &pod.node_name, &mut g);
    namespace_meta(scope, &pod.meta.namespace, &mut g);
    let mut targets = Vec::new();
    let mut t = Ls::new();
    for c in pod.containers.iter() {
        let base = |t: &mut Ls| {
            t.m("pod_container_name", &c.name);
            t.m("pod_container_id", &c.id);
            t.m("pod_container_image", &c.image);
            t.m("pod_container_init", b(c.init));
        };
        if c.ports.is_empty() {
            t.clear();
            t.raw("__address__", &pod.pod_ip);
            base(&mut t);
            targets.push(t.labels());
        }
        for p in c.ports.iter() {
            t.clear();
            t.address(&pod.pod_ip, p.number);
            base(&mut t);
            t.m_int("pod_container_port_number", p.number);
            t.m("pod_container_port_name", &p.name);
            t.m("pod_container_port_protocol", &p.protocol);
            targets.push(t.labels());
        }
    }
    group(Role::Pod, key, &mut g, targets)
}

/// The service role's group labels (namespace, name, labels, annotations).
fn service_group_labels(svc: &ServiceObj, out: &mut Ls) {
    out.m("namespace", &svc.meta.namespace);
    out.meta("service", &svc.meta, true);
}

fn build_service(scope: &Scope, key: &str) -> TargetGroup {
    let Some(svc) = scope.services.as_ref().and_then(|i| i.get(key)) else {
        return empty(Role::Service, key);
    };
    let mut g = Ls::new();
    service_group_labels(&svc, &mut g);
    namespace_meta(scope, &svc.meta.namespace, &mut g);
    let mut t = Ls::new();
    let targets = svc
        .ports
        .iter()
        .map(|p| {
            t.clear();
            t.raw(
                "__address__",
                &format!("{}.{}.svc:{}", svc.meta.name, svc.meta.namespace, p.number),
            );
            t.m("service_port_name", &p.name);
            t.m_int("service_port_number", p.number);
            t.m("service_port_protocol", &p.protocol);
            t.m("service_type", &svc.type_);
            if &*svc.type_ == "ExternalName" {
                t.m("service_external_name", &svc.external_name);
            } else {
                t.m("service_cluster_ip", &svc.cluster_ip);
            }
            if &*svc.type_ == "LoadBalancer" {
                t.m("service_loadbalancer_ip", &svc.load_balancer_ip);
            }
            t.labels()
        })
        .collect();
    group(Role::Service, key, &mut g, targets)
}

/// A pod referenced by a group's addresses: its labels (built once per group, copied into each
/// of its targets) and the endpoint port numbers seen for it.
struct SeenPod {
    pod: Arc<PodObj>,
    labels: Ls,
    ports: HashSet<i32>,
}

/// Pods referenced by a group's addresses, in order of first reference.
#[derive(Default)]
struct SeenPods {
    order: Vec<SeenPod>,
    index: HashMap<String, usize>,
    /// Scratch for `namespace/name` keys.
    key: String,
    /// Scratch the pod labels are built in (then copied out at their exact size).
    scratch: Ls,
}

impl SeenPods {
    /// The pod `namespace/name` (from the group's cache, else from the store), recording it.
    fn lookup(&mut self, scope: &Scope, namespace: &str, name: &str) -> Option<&mut SeenPod> {
        self.key.clear();
        self.key.push_str(namespace);
        self.key.push('/');
        self.key.push_str(name);
        let idx = match self.index.get(self.key.as_str()) {
            Some(&i) => i,
            None => {
                let pod = scope.pods.as_ref().and_then(|i| i.get(&self.key))?;
                self.scratch.clear();
                pod_labels(scope, &pod, &mut self.scratch);
                self.order.push(SeenPod {
                    pod,
                    labels: self.scratch.clone(),
                    ports: HashSet::new(),
                });
                self.index.insert(self.key.clone(), self.order.len() - 1);
                self.order.len() - 1
            }
        };
        self.order.get_mut(idx)
    }

    /// Appends the extra targets for container ports no endpoint port covered (`t` is scratch).
    fn extra_targets(&self, t: &mut Ls, out: &mut Vec<Labels>) {
        for seen in &self.order {
            let pod = &seen.pod;
            if pod.pod_ip.is_empty() {
                continue;
            }
            for c in pod.containers.iter() {
                for p in c.ports.iter() {
                    if seen.ports.contains(&p.number) {
                        continue;
                    }
                    t.clear();
                    t.address(&pod.pod_ip, p.number);
                    t.extend_from(&seen.labels);
                    container_labels(c, &p.name, p.number, &p.protocol, t);
                    out.push(t.labels());
                }
            }
        }
    }
}

fn container_labels(c: &ContainerObj, port_name: &str, number: i32, protocol: &str, t: &mut Ls) {
    t.m("pod_container_name", &c.name);
    t.m("pod_container_image", &c.image);
    t.m("pod_container_port_name", port_name);
    t.m_int("pod_container_port_number", number);
    t.m("pod_container_port_protocol", protocol);
    t.m("pod_container_init", b(c.init));
}

/// Pod and container labels for an address whose targetRef is a pod; records the pod.
fn pod_target_labels(
    scope: &Scope,
    target: Option<&TargetRef>,
    port: Option<i32>,
    endpoint_protocol: Option<&str>,
    seen: &mut SeenPods,
    t: &mut Ls,
) {
    let Some(tr) = target.filter(|tr| &*tr.kind == "Pod") else {
        return;
    };
    let Some(seen) = seen.lookup(scope, &tr.namespace, &tr.name) else {
        return;
    };
    t.extend_from(&seen.labels);
    let pod = &seen.pod;
    if let Some(port) = port {
        let mut matched: Option<(&ContainerObj, &super::objects::PortObj)> = None;
        for c in pod.containers.iter() {
            if let Some(p) = c.ports.iter().find(|p| p.number == port) {
                matched = Some((c, p));
            }
        }
        if let Some((c, p)) = matched {
            let proto = endpoint_protocol.unwrap_or(&p.protocol);
            container_labels(c, &p.name, p.number, proto, t);
        }
        seen.ports.insert(port);
    }
}

fn build_endpoints(scope: &Scope, key: &str) -> TargetGroup {
    let Some(ep) = scope.endpoints.as_ref().and_then(|i| i.get(key)) else {
        return empty(Role::Endpoints, key);
    };
    let mut g = Ls::new();
    g.m("namespace", &ep.meta.namespace);
    if let Some(svc) = scope.services.as_ref().and_then(|i| i.get(key)) {
        service_group_labels(&svc, &mut g);
    }
    g.meta("endpoints", &ep.meta, true);
    namespace_meta(scope, &ep.meta.namespace, &mut g);
    let mut seen = SeenPods::default();
    let mut targets = Vec::new();
    let mut t = Ls::new();
    for ss in ep.subsets.iter() {
        for port in ss.ports.iter() {
            let lists = [(&ss.addresses, true), (&ss.not_ready, false)];
            for (addrs, ready) in lists {
                for a in addrs.iter() {
                    t.clear();
                    t.address(&a.ip, port.number);
                    t.m("endpoint_port_name", &port.name);
                    t.m("endpoint_port_protocol", &port.protocol);
                    t.m("endpoint_ready", b(ready));
                    if let Some(tr) = &a.target {
                        t.m("endpoint_address_target_kind", &tr.kind);
                        t.m("endpoint_address_target_name", &tr.name);
                    }
                    if let Some(n) = &a.node_name {
                        t.m("endpoint_node_name", n);
                    }
                    if !a.hostname.is_empty() {
                        t.m("endpoint_hostname", &a.hostname);
                    }
                    let node = a.node_name.as_deref().or_else(|| {
                        a.target
                            .as_ref()
                            .filter(|tr| &*tr.kind == "Node")
                            .map(|tr| &*tr.name)
                    });
                    if let Some(n) = node {
                        node_meta(scope, n, &mut t);
                    }
                    pod_target_labels(
                        scope,
                        a.target.as_ref(),
                        Some(port.number),
                        Some(&port.protocol),
                        &mut seen,
                        &mut t,
                    );
                    targets.push(t.labels());
                }
            }
        }
    }
    seen.extra_targets(&mut t, &mut targets);
    group(Role::Endpoints, key, &mut g, targets)
}

fn build_slice(scope: &Scope, key: &str) -> TargetGroup {
    let Some(sl) = scope.slices.as_ref().and_then(|i| i.get(key)) else {
        return empty(Role::EndpointSlice, key);
    };
    let mut g = Ls::new();
    g.m("namespace", &sl.meta.namespace);
    g.m("endpointslice_address_type", &sl.address_type);
    g.meta("endpointslice", &sl.meta, true);
    let svc = sl
        .meta
        .label("kubernetes.io/service-name")
        .and_then(|name| {
            scope
                .services
                .as_ref()
                .and_then(|i| i.get(&format!("{}/{name}", sl.meta.namespace)))
        });
    if let Some(svc) = &svc {
        service_group_labels(svc, &mut g);
    }
    namespace_meta(scope, &sl.meta.namespace, &mut g);
    let secondary = svc
        .as_ref()
        .and_then(|s| s.dual_stack_primary.as_deref())
        .is_some_and(|primary| primary != &*sl.address_type);
    if secondary {
        return group(Role::EndpointSlice, key, &mut g, Vec::new());
    }
    let mut seen = SeenPods::default();
    let mut targets = Vec::new();
    let mut t = Ls::new();
    for ep in sl.endpoints.iter() {
        for port in sl.ports.iter() {
            for addr in ep.addresses.iter() {
                t.clear();
                match port.port {
                    Some(p) => t.address(addr, p),
                    None => t.raw("__address__", addr),
                }
                if let Some(n) = &port.name {
                    t.m("endpointslice_port_name", n);
                }
                if let Some(p) = &port.protocol {
                    t.m("endpointslice_port_protocol", p);
                }
                if let Some(p) = port.port {
                    t.m_int("endpointslice_port", p);
                }
                if let Some(p) = &port.app_protocol {
                    t.m("endpointslice_port_app_protocol", p);
                }
                if let Some(v) = ep.ready {
                    t.m("endpointslice_endpoint_conditions_ready", b(v));
                }
                if let Some(v) = ep.serving {
                    t.m("endpointslice_endpoint_conditions_serving", b(v));
                }
                if let Some(v) = ep.terminating {
                    t.m("endpointslice_endpoint_conditions_terminating", b(v));
                }
                if let Some(h) = &ep.hostname {
                    t.m("endpointslice_endpoint_hostname", h);
                }
                if let Some(tr) = &ep.target {
                    t.m("endpointslice_address_target_kind", &tr.kind);
                    t.m("endpointslice_address_target_name", &tr.name);
                }
                if let Some(n) = &ep.node_name {
                    t.m("endpointslice_endpoint_node_name", n);
                }
                if let Some(z) = &ep.zone {
                    t.m("endpointslice_endpoint_zone", z);
                }
                for (k, v) in ep.topology.iter() {
                    t.m_sanitized("endpointslice_endpoint_topology_", k, v);
                    t.m_sanitized("endpointslice_endpoint_topology_present_", k, "true");
                }
                let node = match &ep.target {
                    Some(tr) if &*tr.kind == "Node" => Some(&*tr.name),
                    _ => ep.node_name.as_deref(),
                };
                if let Some(n) = node {
                    node_meta(scope, n, &mut t);
                }
                pod_target_labels(
                    scope,
                    ep.target.as_ref(),
                    port.port,
                    None,
                    &mut seen,
                    &mut t,
                );
                targets.push(t.labels());
            }
        }
    }
    seen.extra_targets(&mut t, &mut targets);
    group(Role::EndpointSlice, key, &mut g, targets)
}

/// Whether TLS host pattern `pattern` covers `host` (`*.a.b` matches `x.a.b` only).
fn tls_matches(pattern: &str, host: &str) -> bool {
    if pattern == host {
        return true;
    }
    let p: Vec<&str> = pattern.split('.').collect();
    let h: Vec<&str> = host.split('.').collect();
    p.len() == h.len() && p.first() == Some(&"*") && p.iter().skip(1).eq(h.iter().skip(1))
}

fn build_ingress(scope: &Scope, key: &str) -> TargetGroup {
    let Some(ing) = scope.ingresses.as_ref().and_then(|i| i.get(key)) else {
        return empty(Role::Ingress, key);
    };
    let mut g = Ls::new();
    g.m("namespace", &ing.meta.namespace);
    if let Some(c) = &ing.class_name {
        g.m("ingress_class_name", c);
    }
    g.meta("ingress", &ing.meta, true);
    namespace_meta(scope, &ing.meta.namespace, &mut g);
    let mut targets = Vec::new();
    let mut t = Ls::new();
    for rule in ing.rules.iter() {
        let scheme = if ing.tls_hosts.iter().any(|p| tls_matches(p, &rule.host)) {
            "https"
        } else {
            "http"
        };
        for path in rule.paths.iter() {
            t.clear();
            t.raw("__address__", &rule.host);
            t.m("ingress_scheme", scheme);
            t.m("ingress_host", &rule.host);
            t.m("ingress_path", path);
            targets.push(t.labels());
        }
    }
    group(Role::Ingress, key, &mut g, targets)
}

#[cfg(test)]
mod tests {
    use super::tls_matches;

    #[test]
    fn tls_wildcards() {
        assert!(tls_matches("a.example.com", "a.example.com"));
        assert!(tls_matches("*.example.com", "a.example.com"));
        assert!(!tls_matches("*.example.com", "example.com"));
        assert!(!tls_matches("*.example.com", "a.b.example.com"));
    }
}
