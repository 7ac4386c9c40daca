#!/bin/sh
# Update latency, API event -> /api/v1/targets, mini-prometheus against vmagent on the same
# Kubernetes API server double (10,000 pods under churn). See crates/sd/BENCHMARKS.md.
#
#   bench/sd-latency/run.sh
#   SD_LATENCY_OURS=5s,1s,100ms SD_LATENCY_VMAGENT_CHECK=30s,1s bench/sd-latency/run.sh
#
# Knobs (environment): SD_LATENCY_PODS (10000), SD_LATENCY_PROBES (200), SD_LATENCY_CHURN
# (pod label changes per second, 200), SD_LATENCY_SPACING_MS (between probes, 100),
# SD_LATENCY_POLL_MS (/api/v1/targets poll period, 10), SD_LATENCY_VMAGENT (/usr/bin/vmagent).
# LTO off: the same code, a build that fits a shared 2-core machine (the bench profile's fat
# LTO takes far longer to link).
set -eu
cd "$(dirname "$0")/../.."
export CARGO_PROFILE_BENCH_LTO=off CARGO_PROFILE_BENCH_CODEGEN_UNITS=16
cargo build --profile bench -p mini-prometheus
export SD_LATENCY_MINI_PROMETHEUS="${SD_LATENCY_MINI_PROMETHEUS:-$PWD/target/release/mini-prometheus}"
exec cargo bench -p scrapeline-sd --bench sd_latency
