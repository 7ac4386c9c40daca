//! The Kubernetes resource metrics pipeline served from the cgroup collector: the kubelet
//! Summary API (`/stats/summary`) and `metrics.k8s.io/v1beta1`, computed as the kubelet and
//! metrics-server compute them.

pub mod metrics_server;
pub mod quantity;
