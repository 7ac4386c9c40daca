//! Group builders: turn the projections in a scope's stores into Prometheus' target groups,
//! label for label (see `shared/spec/kubernetes/meta-labels.md`).

use std::collections::HashSet;

use crate::TargetGroup;
use crate::config::Role;

use super::labels::{Ls, join_host_port, sanitize_label_name};
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

fn group(role: Role, key: &str, labels: &Ls, targets: Vec<Ls>) -> TargetGroup {
    TargetGroup {
        source: format!("{}{key}", source_prefix(role)),
        targets: targets.iter().map(Ls::labels).collect(),
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
        g.m(
            &format!("node_condition_{}", sanitize_label_name(&ty.to_lowercase())),
            &st.to_lowercase(),
        );
    }
    g.meta("node", &node.meta, false);
    let mut t = Ls::new();
    t.raw("__address__", &join_host_port(&addr, node.kubelet_port));
    t.raw("instance", &node.meta.name);
    let mut seen: Vec<&str> = Vec::new();
    for (ty, a) in node.addresses.iter() {
        if !seen.contains(&&**ty) {
            seen.push(ty);
            t.m(&format!("node_address_{}", sanitize_label_name(ty)), a);
        }
    }
    Some(group(Role::Node, key, &g, vec![t]))
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
    for c in pod.containers.iter() {
        let base = |t: &mut Ls| {
            t.m("pod_container_name", &c.name);
            t.m("pod_container_id", &c.id);
            t.m("pod_container_image", &c.image);
            t.m("pod_container_init", b(c.init));
        };
        if c.ports.is_empty() {
            let mut t = Ls::new();
            t.raw("__address__", &pod.pod_ip);
            base(&mut t);
            targets.push(t);
        }
        for p in c.ports.iter() {
            let mut t = Ls::new();
            t.raw("__address__", &join_host_port(&pod.pod_ip, p.number));
            base(&mut t);
            t.m("pod_container_port_number", &p.number.to_string());
            t.m("pod_container_port_name", &p.name);
            t.m("pod_container_port_protocol", &p.protocol);
            targets.push(t);
        }
    }
    group(Role::Pod, key, &g, targets)
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
    let targets = svc
        .ports
        .iter()
        .map(|p| {
            let mut t = Ls::new();
            t.raw(
                "__address__",
                &format!("{}.{}.svc:{}", svc.meta.name, svc.meta.namespace, p.number),
            );
            t.m("service_port_name", &p.name);
            t.m("service_port_number", &p.number.to_string());
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
            t
        })
        .collect();
    group(Role::Service, key, &g, targets)
}

/// Pods referenced by a group's addresses, with the endpoint port numbers seen for each.
#[derive(Default)]
struct SeenPods {
    order: Vec<(String, std::sync::Arc<PodObj>, HashSet<i32>)>,
}

impl SeenPods {
    fn record(&mut self, key: String, pod: &std::sync::Arc<PodObj>, port: Option<i32>) {
        let idx = match self.order.iter().position(|(k, _, _)| *k == key) {
            Some(i) => i,
            None => {
                self.order.push((key, pod.clone(), HashSet::new()));
                self.order.len() - 1
            }
        };
        if let (Some(p), Some(entry)) = (port, self.order.get_mut(idx)) {
            entry.2.insert(p);
        }
    }

    /// The extra targets for container ports no endpoint port covered.
    fn extra_targets(&self, scope: &Scope) -> Vec<Ls> {
        let mut out = Vec::new();
        for (_, pod, seen) in &self.order {
            if pod.pod_ip.is_empty() {
                continue;
            }
            for c in pod.containers.iter() {
                for p in c.ports.iter() {
                    if seen.contains(&p.number) {
                        continue;
                    }
                    let mut t = Ls::new();
                    t.raw("__address__", &join_host_port(&pod.pod_ip, p.number));
                    pod_labels(scope, pod, &mut t);
                    container_labels(c, &p.name, p.number, &p.protocol, &mut t);
                    out.push(t);
                }
            }
        }
        out
    }
}

fn container_labels(c: &ContainerObj, port_name: &str, number: i32, protocol: &str, t: &mut Ls) {
    t.m("pod_container_name", &c.name);
    t.m("pod_container_image", &c.image);
    t.m("pod_container_port_name", port_name);
    t.m("pod_container_port_number", &number.to_string());
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
    let key = format!("{}/{}", tr.namespace, tr.name);
    let Some(pod) = scope.pods.as_ref().and_then(|i| i.get(&key)) else {
        return;
    };
    pod_labels(scope, &pod, t);
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
    }
    seen.record(key, &pod, port);
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
    for ss in ep.subsets.iter() {
        for port in ss.ports.iter() {
            let lists = [(&ss.addresses, true), (&ss.not_ready, false)];
            for (addrs, ready) in lists {
                for a in addrs.iter() {
                    let mut t = Ls::new();
                    t.raw("__address__", &join_host_port(&a.ip, port.number));
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
                    targets.push(t);
                }
            }
        }
    }
    targets.extend(seen.extra_targets(scope));
    group(Role::Endpoints, key, &g, targets)
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
        return group(Role::EndpointSlice, key, &g, Vec::new());
    }
    let mut seen = SeenPods::default();
    let mut targets = Vec::new();
    for ep in sl.endpoints.iter() {
        for port in sl.ports.iter() {
            for addr in ep.addresses.iter() {
                let mut t = Ls::new();
                let address = match port.port {
                    Some(p) => join_host_port(addr, p),
                    None => addr.to_string(),
                };
                t.raw("__address__", &address);
                if let Some(n) = &port.name {
                    t.m("endpointslice_port_name", n);
                }
                if let Some(p) = &port.protocol {
                    t.m("endpointslice_port_protocol", p);
                }
                if let Some(p) = port.port {
                    t.m("endpointslice_port", &p.to_string());
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
                    let k = sanitize_label_name(k);
                    t.m(&format!("endpointslice_endpoint_topology_{k}"), v);
                    t.m(
                        &format!("endpointslice_endpoint_topology_present_{k}"),
                        "true",
                    );
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
                targets.push(t);
            }
        }
    }
    targets.extend(seen.extra_targets(scope));
    group(Role::EndpointSlice, key, &g, targets)
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
    for rule in ing.rules.iter() {
        let scheme = if ing.tls_hosts.iter().any(|p| tls_matches(p, &rule.host)) {
            "https"
        } else {
            "http"
        };
        for path in rule.paths.iter() {
            let mut t = Ls::new();
            t.raw("__address__", &rule.host);
            t.m("ingress_scheme", scheme);
            t.m("ingress_host", &rule.host);
            t.m("ingress_path", path);
            targets.push(t);
        }
    }
    group(Role::Ingress, key, &g, targets)
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
