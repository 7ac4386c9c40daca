//! A Kubernetes API server double on loopback: list, watch, selectors, faults.
