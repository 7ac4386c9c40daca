//! Discovery's self-metrics under Prometheus' names: `prometheus_sd_received_updates_total`,
//! `prometheus_sd_updates_total` (kept by the [`Manager`](crate::discovery::Manager)) and
//! `prometheus_sd_kubernetes_events_total{event,role}` (kept here, process-wide, as
//! Prometheus' own counter is).

use std::sync::atomic::{AtomicU64, Ordering};

/// Prometheus' `role` label values, in the order of [`kubernetes_events`]' rows.
pub const KUBERNETES_ROLES: [&str; 6] = [
    "endpoints",
    "endpointslice",
    "ingress",
    "node",
    "pod",
    "service",
];

/// Prometheus' `event` label values, in the order of [`kubernetes_events`]' columns.
pub const KUBERNETES_EVENTS: [&str; 3] = ["add", "delete", "update"];

/// What a watch reported about one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KubeEvent {
    /// A new object (also each object of an initial list).
    Add,
    /// A removed object.
    Delete,
    /// A changed object.
    Update,
}

static EVENTS: [[AtomicU64; 3]; 6] = [const { [const { AtomicU64::new(0) }; 3] }; 6];

/// Counts one watch event for the informer of API kind `kind` (`"Pod"`, `"EndpointSlice"`,
/// …); kinds that are not a Prometheus role (namespaces, owners) are not counted.
pub fn count_kubernetes_event(kind: &str, event: KubeEvent) {
    let Some(role) = KUBERNETES_ROLES
        .iter()
        .position(|r| r.eq_ignore_ascii_case(kind))
    else {
        return;
    };
    let col = match event {
        KubeEvent::Add => 0,
        KubeEvent::Delete => 1,
        KubeEvent::Update => 2,
    };
    if let Some(c) = EVENTS.get(role).and_then(|r| r.get(col)) {
        c.fetch_add(1, Ordering::Relaxed);
    }
}

/// Every `(role, event, count)`, zeros included (Prometheus exposes all 18 from the start).
pub fn kubernetes_events() -> Vec<(&'static str, &'static str, u64)> {
    let mut out = Vec::with_capacity(18);
    for (role, row) in KUBERNETES_ROLES.iter().zip(EVENTS.iter()) {
        for (event, c) in KUBERNETES_EVENTS.iter().zip(row.iter()) {
            out.push((*role, *event, c.load(Ordering::Relaxed)));
        }
    }
    out
}

/// The discovery manager's update counters.
#[derive(Debug, Default)]
pub(crate) struct UpdateCounters {
    /// Batches received from providers.
    pub received: AtomicU64,
    /// Snapshots published to consumers.
    pub sent: AtomicU64,
}

/// A snapshot of the discovery manager's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DiscoveryCounters {
    /// `prometheus_sd_received_updates_total{name="scrape"}`.
    pub received_updates_total: u64,
    /// `prometheus_sd_updates_total{name="scrape"}`.
    pub updates_total: u64,
}

impl UpdateCounters {
    pub(crate) fn snapshot(&self) -> DiscoveryCounters {
        DiscoveryCounters {
            received_updates_total: self.received.load(Ordering::Relaxed),
            updates_total: self.sent.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubernetes_events_are_counted_per_role_and_event() {
        let before = kubernetes_events();
        count_kubernetes_event("EndpointSlice", KubeEvent::Update);
        count_kubernetes_event("Pod", KubeEvent::Add);
        count_kubernetes_event("Pod", KubeEvent::Add);
        count_kubernetes_event("Namespace", KubeEvent::Add);
        let after = kubernetes_events();
        assert_eq!(after.len(), 18);
        let delta = |role: &str, event: &str| {
            let f = |v: &[(&str, &str, u64)]| {
                v.iter()
                    .find(|(r, e, _)| *r == role && *e == event)
                    .map(|x| x.2)
                    .unwrap()
            };
            f(&after) - f(&before)
        };
        assert!(delta("pod", "add") >= 2);
        assert!(delta("endpointslice", "update") >= 1);
    }
}
