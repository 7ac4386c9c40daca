//! Kubernetes service discovery: nodes, pods, services, endpoints, endpointslices, ingresses.
