#!/usr/bin/env python3
"""Deterministic generator of the synthetic benchmark payloads (Python 3 stdlib only).

    python3 generate.py            # writes the files below next to this script
    python3 generate.py --check    # regenerates in memory and compares with the files on disk
    python3 generate.py --out DIR  # writes them into DIR instead (what the Rust tests do)

Writes:
  cadvisor.prom            kubelet /metrics/cadvisor-shaped payload of a busy node
  synthetic-large.prom     ~16 MB text format 0.0.4, every feature of the format
  synthetic-large.om       ~16 MB OpenMetrics 1.0.0, every metric type
  utf8-names.prom          Prometheus 3 quoted UTF-8 metric / label names

Every file is a pure function of the fixed seeds below: `random.Random(seed)` with an int
seed, and only `random()` / `randrange()` are used, whose output is stable across CPython 3.x.
The captured files (node_exporter.prom, prometheus.prom) are not touched.
"""

import os
import random
import sys
from decimal import Decimal

HERE = os.path.dirname(os.path.abspath(__file__))


# --------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------

def go_g(v):
    """Go strconv.FormatFloat(v, 'g', -1, 64), as client_golang prints sample values."""
    if v != v:
        return "NaN"
    if v == float("inf"):
        return "+Inf"
    if v == float("-inf"):
        return "-Inf"
    if v == 0:
        return "-0" if str(v).startswith("-") else "0"
    neg = v < 0
    _, digits, exp = Decimal(repr(abs(v))).as_tuple()
    allds = "".join(map(str, digits)).lstrip("0")
    dp = len(allds) + exp          # value = 0.<allds> * 10**dp
    ds = allds.rstrip("0") or "0"
    e = dp - 1
    if e < -4 or e >= 6:
        out = ds[0] + ("." + ds[1:] if len(ds) > 1 else "")
        out += "e" + ("-" if e < 0 else "+") + ("%02d" % abs(e))
    elif dp <= 0:
        out = "0." + "0" * (-dp) + ds
    elif dp >= len(ds):
        out = ds + "0" * (dp - len(ds))
    else:
        out = ds[:dp] + "." + ds[dp:]
    return ("-" if neg else "") + out


def esc_lv(s):
    return s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def esc_help(s):
    return s.replace("\\", "\\\\").replace("\n", "\\n")


def esc_help_om(s):
    return s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


HEX = "0123456789abcdef"


def rhex(rng, n):
    return "".join(HEX[rng.randrange(16)] for _ in range(n))


def rchoice(rng, seq):
    return seq[rng.randrange(len(seq))]


def rshuffle(rng, seq):
    seq = list(seq)
    for i in range(len(seq) - 1, 0, -1):
        j = rng.randrange(i + 1)
        seq[i], seq[j] = seq[j], seq[i]
    return seq


ALNUM = "bcdfghjklmnpqrstvwxz2456789"


def rsuffix(rng, n):
    return "".join(ALNUM[rng.randrange(len(ALNUM))] for _ in range(n))


# --------------------------------------------------------------------------------------
# cadvisor.prom
# --------------------------------------------------------------------------------------

CAD_TS = 1767225600000          # sample collection time, ms (2026-01-01T00:00:00Z)
CAD_NOW = 1767225604.218        # container_last_seen value (scrape-ish time, s)

CAD_HELP = {
    "cadvisor_version_info": "A metric with a constant '1' value labeled by kernel version, OS version, docker version, cadvisor version & cadvisor revision.",
    "container_blkio_device_usage_total": "Blkio Device bytes usage",
    "container_cpu_cfs_periods_total": "Number of elapsed enforcement period intervals.",
    "container_cpu_cfs_throttled_periods_total": "Number of throttled period intervals.",
    "container_cpu_cfs_throttled_seconds_total": "Total time duration the container has been throttled.",
    "container_cpu_load_average_10s": "Value of container cpu load average over the last 10 seconds.",
    "container_cpu_system_seconds_total": "Cumulative system cpu time consumed in seconds.",
    "container_cpu_usage_seconds_total": "Cumulative cpu time consumed in seconds.",
    "container_cpu_user_seconds_total": "Cumulative user cpu time consumed in seconds.",
    "container_file_descriptors": "Number of open file descriptors for the container.",
    "container_fs_inodes_free": "Number of available Inodes",
    "container_fs_inodes_total": "Number of Inodes",
    "container_fs_io_current": "Number of I/Os currently in progress",
    "container_fs_io_time_seconds_total": "Cumulative count of seconds spent doing I/Os",
    "container_fs_io_time_weighted_seconds_total": "Cumulative weighted I/O time in seconds",
    "container_fs_limit_bytes": "Number of bytes that can be consumed by the container on this filesystem.",
    "container_fs_read_seconds_total": "Cumulative count of seconds spent reading",
    "container_fs_reads_bytes_total": "Cumulative count of bytes read",
    "container_fs_reads_merged_total": "Cumulative count of reads merged",
    "container_fs_reads_total": "Cumulative count of reads completed",
    "container_fs_sector_reads_total": "Cumulative count of sector reads completed",
    "container_fs_sector_writes_total": "Cumulative count of sector writes completed",
    "container_fs_usage_bytes": "Number of bytes that are consumed by the container on this filesystem.",
    "container_fs_write_seconds_total": "Cumulative count of seconds spent writing",
    "container_fs_writes_bytes_total": "Cumulative count of bytes written",
    "container_fs_writes_merged_total": "Cumulative count of writes merged",
    "container_fs_writes_total": "Cumulative count of writes completed",
    "container_last_seen": "Last time a container was seen by the exporter",
    "container_memory_cache": "Number of bytes of page cache memory.",
    "container_memory_failcnt": "Number of memory usage hits limits",
    "container_memory_failures_total": "Cumulative count of memory allocation failures.",
    "container_memory_kernel_usage": "Size of kernel memory allocated in bytes.",
    "container_memory_mapped_file": "Size of memory mapped files in bytes.",
    "container_memory_max_usage_bytes": "Maximum memory usage recorded in bytes",
    "container_memory_rss": "Size of RSS in bytes.",
    "container_memory_swap": "Container swap usage in bytes.",
    "container_memory_total_active_file_bytes": "Current total active file in bytes.",
    "container_memory_total_inactive_file_bytes": "Current total inactive file in bytes.",
    "container_memory_usage_bytes": "Current memory usage in bytes, including all memory regardless of when it was accessed",
    "container_memory_working_set_bytes": "Current working set in bytes.",
    "container_network_receive_bytes_total": "Cumulative count of bytes received",
    "container_network_receive_errors_total": "Cumulative count of errors encountered while receiving",
    "container_network_receive_packets_dropped_total": "Cumulative count of packets dropped while receiving",
    "container_network_receive_packets_total": "Cumulative count of packets received",
    "container_network_transmit_bytes_total": "Cumulative count of bytes transmitted",
    "container_network_transmit_errors_total": "Cumulative count of errors encountered while transmitting",
    "container_network_transmit_packets_dropped_total": "Cumulative count of packets dropped while transmitting",
    "container_network_transmit_packets_total": "Cumulative count of packets transmitted",
    "container_oom_events_total": "Count of out of memory events observed for the container",
    "container_processes": "Number of processes running inside the container.",
    "container_scrape_error": "1 if there was an error while getting container metrics, 0 otherwise",
    "container_sockets": "Number of open sockets for the container.",
    "container_spec_cpu_period": "CPU period of the container.",
    "container_spec_cpu_quota": "CPU quota of the container.",
    "container_spec_cpu_shares": "CPU share of the container.",
    "container_spec_memory_limit_bytes": "Memory limit for the container.",
    "container_spec_memory_reservation_limit_bytes": "Memory reservation limit for the container.",
    "container_spec_memory_swap_limit_bytes": "Memory swap limit for the container.",
    "container_start_time_seconds": "Start time of the container since unix epoch in seconds.",
    "container_tasks_state": "Number of tasks in given state",
    "container_threads": "Number of threads running inside the container",
    "container_threads_max": "Maximum number of threads allowed inside the container, infinity if value is zero",
    "container_ulimits_soft": "Soft ulimit values for the container root process. Unlimited if -1, except priority and nice",
    "machine_cpu_cores": "Number of logical CPU cores.",
    "machine_cpu_physical_cores": "Number of physical CPU cores.",
    "machine_cpu_sockets": "Number of CPU sockets.",
    "machine_memory_bytes": "Amount of memory installed on the machine.",
    "machine_nvm_avg_power_budget_watts": "NVM power budget.",
    "machine_nvm_capacity": "NVM capacity value labeled by NVM mode (memory mode or app direct mode).",
    "machine_scrape_error": "1 if there was an error while getting machine metrics, 0 otherwise.",
    "machine_swap_bytes": "Amount of swap memory available on the machine.",
}

# Families a real kubelet also emits (always-zero load/tasks families, extra memory/spec
# families, per-op blkio) but that are left out here so the payload stays in the 3-6 MB range
# the benchmark wants; with them the file is ~8.6 MB.
CAD_OMITTED = {
    "container_tasks_state", "container_cpu_load_average_10s", "container_memory_kernel_usage",
    "container_memory_total_active_file_bytes", "container_spec_memory_reservation_limit_bytes",
    "container_spec_memory_swap_limit_bytes", "container_blkio_device_usage_total",
    "container_oom_events_total", "container_memory_total_inactive_file_bytes", "container_ulimits_soft",
}

COUNTER_FAMS = {n for n in CAD_HELP if n.endswith("_total")} | {"container_memory_failcnt"}

NAMESPACES = [
    ("kube-system", 14), ("monitoring", 10), ("ingress-nginx", 4), ("cert-manager", 3),
    ("logging", 6), ("default", 8), ("payments", 12), ("checkout", 10), ("search", 9),
    ("data-pipeline", 11), ("web-frontend", 13), ("ml-serving", 5), ("argocd", 5),
]   # 110 pods

APPS = [
    # (workload, [(container, image, cpu_limit_millicores or 0, mem_limit bytes or 0)])
    ("coredns", [("coredns", "registry.k8s.io/coredns/coredns:v1.11.3", 0, 178257920)]),
    ("kube-proxy", [("kube-proxy", "registry.k8s.io/kube-proxy:v1.34.1", 0, 0)]),
    ("node-exporter", [("node-exporter", "quay.io/prometheus/node-exporter:v1.9.1", 250, 187695104),
                       ("kube-rbac-proxy", "quay.io/brancz/kube-rbac-proxy:v0.19.1", 20, 41943040)]),
    ("api-gateway", [("envoy", "docker.io/envoyproxy/envoy:v1.33.2@sha256:%s", 2000, 1073741824),
                     ("app", "ghcr.io/acme/api-gateway:2.14.7@sha256:%s", 1000, 536870912),
                     ("otel-agent", "docker.io/otel/opentelemetry-collector-contrib:0.121.0", 200, 268435456)]),
    ("checkout-service", [("checkout", "123456789012.dkr.ecr.eu-west-1.amazonaws.com/checkout-service@sha256:%s", 500, 805306368)]),
    ("redis", [("redis", "docker.io/bitnami/redis:7.4.2-debian-12-r6@sha256:%s", 0, 2147483648),
               ("metrics", "docker.io/bitnami/redis-exporter:1.69.0-debian-12-r1", 100, 134217728)]),
    ("web", [("nginx", "docker.io/library/nginx:1.27.3", 0, 268435456),
             ("log-shipper", "cr.fluentbit.io/fluent/fluent-bit:3.2.2", 100, 134217728)]),
    ("search-indexer", [("indexer", "europe-docker.pkg.dev/acme-prod/search/indexer@sha256:%s", 4000, 8589934592),
                        ("jmx-exporter", "docker.io/bitnami/jmx-exporter:1.1.0", 100, 201326592)]),
    ("kafka-consumer", [("consumer", "registry.gitlab.com/acme/pipeline/kafka-consumer:v3.8.1-3a9f2c1", 1500, 2147483648)]),
    ("prometheus", [("prometheus", "quay.io/prometheus/prometheus:v3.2.1", 0, 4294967296),
                    ("config-reloader", "quay.io/prometheus-operator/prometheus-config-reloader:v0.81.0", 10, 52428800),
                    ("thanos-sidecar", "quay.io/thanos/thanos:v0.37.2@sha256:%s", 0, 0)]),
    ("model-server", [("triton", "nvcr.io/nvidia/tritonserver:25.01-py3@sha256:%s", 8000, 34359738368),
                      ("queue-proxy", "gcr.io/knative-releases/knative.dev/serving/cmd/queue@sha256:%s", 25, 52428800)]),
    ("cert-manager", [("cert-manager-controller", "quay.io/jetstack/cert-manager-controller:v1.17.1", 0, 0)]),
]

PAUSE = "registry.k8s.io/pause:3.10"
IFACES = ["eth0", "eth1"]
DEVICES = [("/dev/nvme0n1", 259, 0), ("/dev/nvme1n1", 259, 1)]
BLKIO_OPS = ["Async", "Discard", "Read", "Sync", "Total", "Write"]


def cad_build_cgroups(rng):
    """Returns a list of cgroup dicts with labels and stats."""
    cgs = []

    def cg(id_, container="", image="", name="", namespace="", pod="", kind="raw", **kw):
        d = dict(id=id_, container=container, image=image, name=name, namespace=namespace,
                 pod=pod, kind=kind)
        d.update(kw)
        cgs.append(d)
        return d

    root = cg("/", kind="root", quota=0, mem_limit=25097953280, ncpu=4)
    cg("/kubepods.slice", kind="raw", quota=0, mem_limit=24024211456)
    cg("/kubepods.slice/kubepods-besteffort.slice", quota=0, mem_limit=0)
    cg("/kubepods.slice/kubepods-burstable.slice", quota=0, mem_limit=0)
    cg("/system.slice/containerd.service", quota=0, mem_limit=0, procs=1)
    cg("/system.slice/kubelet.service", quota=0, mem_limit=0, procs=1)

    pod_index = 0
    for ns, npods in NAMESPACES:
        for _ in range(npods):
            wl, ctrs = APPS[pod_index % len(APPS)]
            pod_index += 1
            ctrs = ctrs[: 1 + rng.randrange(len(ctrs))] if rng.random() < 0.3 else ctrs
            kind = rng.randrange(10)
            qos = "guaranteed" if kind < 2 else ("besteffort" if kind < 3 else "burstable")
            uid = "%s-%s-%s-%s-%s" % (rhex(rng, 8), rhex(rng, 4), "4" + rhex(rng, 3),
                                     rchoice(rng, "89ab") + rhex(rng, 3), rhex(rng, 12))
            if rng.random() < 0.75:
                podname = "%s-%s-%s" % (wl, rsuffix(rng, 10), rsuffix(rng, 5))
            else:
                podname = "%s-%d" % (wl, rng.randrange(40))
            podname = podname if ns != "kube-system" or rng.random() < 0.5 else podname
            uid_u = uid.replace("-", "_")
            if qos == "guaranteed":
                pslice = "/kubepods.slice/kubepods-pod%s.slice" % uid_u
            else:
                pslice = "/kubepods.slice/kubepods-%s.slice/kubepods-%s-pod%s.slice" % (qos, qos, uid_u)
            tot_quota = sum(c[2] for c in ctrs) * 100 if qos == "guaranteed" else 0
            tot_mem = sum(c[3] for c in ctrs) if qos == "guaranteed" else 0
            cg(pslice, namespace=ns, pod=podname, kind="pod", quota=tot_quota, mem_limit=tot_mem)
            sid = rhex(rng, 64)
            cg(pslice + "/cri-containerd-%s.scope" % sid, image=PAUSE, name=sid, namespace=ns,
               pod=podname, kind="sandbox", quota=0, mem_limit=0, procs=1)
            for cname, image, cpu_m, mem in ctrs:
                cid = rhex(rng, 64)
                if "%s" in image:
                    image = image % rhex(rng, 64)
                q = cpu_m * 100 if (cpu_m and qos != "besteffort") else 0
                m = mem if qos != "besteffort" else 0
                cg(pslice + "/cri-containerd-%s.scope" % cid, container=cname, image=image,
                   name=cid, namespace=ns, pod=podname, kind="container", quota=q, mem_limit=m,
                   procs=1 + rng.randrange(6))
    # stats
    for c in cgs:
        k = c["kind"]
        scale = {"root": 400.0, "raw": 60.0, "pod": 8.0, "sandbox": 0.002, "container": 6.0}[k]
        c["cpu"] = round(rng.random() * scale * 3600 + 0.5, 6)
        c["user"] = round(c["cpu"] * (0.55 + rng.random() * 0.35), 2)
        c["sys"] = round(c["cpu"] - c["user"], 2) if c["cpu"] - c["user"] > 0 else 0.01
        mscale = {"root": 2.0e10, "raw": 8.0e9, "pod": 6.0e8, "sandbox": 4.0e5, "container": 5.0e8}[k]
        usage = int(mscale * (0.1 + rng.random())) // 4096 * 4096
        c["mem_usage"] = usage
        c["cache"] = int(usage * rng.random() * 0.5) // 4096 * 4096
        c["rss"] = max(usage - c["cache"] - 4096 * rng.randrange(2000), 0) // 4096 * 4096
        c["inactive"] = int(c["cache"] * rng.random()) // 4096 * 4096
        c["active"] = c["cache"] - c["inactive"]
        c["ws"] = max(usage - c["inactive"], 0)
        c["mapped"] = int(c["cache"] * 0.1 * rng.random()) // 4096 * 4096
        c["kmem"] = int(usage * 0.03 * rng.random()) // 4096 * 4096
        c["maxu"] = usage + 4096 * rng.randrange(100000)
        c["pgfault"] = rng.randrange(10 ** (3 + rng.randrange(6)))
        c["pgmaj"] = rng.randrange(1 + c["pgfault"] // 100)
        c["threads"] = {"root": 0, "raw": 300 + rng.randrange(2000), "pod": 5 + rng.randrange(200),
                        "sandbox": 1, "container": 1 + rng.randrange(200)}[k]
        c["fds"] = c["threads"] * 3 + rng.randrange(50) if k != "root" else 0
        c["sockets"] = rng.randrange(1 + c["fds"] // 3) if k != "root" else 0
        c["start"] = 1766620800 + rng.randrange(600000)
        c["periods"] = rng.randrange(10 ** 6)
        c["throttled"] = rng.randrange(1 + c["periods"] // 10)
        c["thr_s"] = round(c["throttled"] * 0.0037 * rng.random(), 6)
        c["io"] = []
        for dev, maj, mi in DEVICES:
            if k == "sandbox" and rng.random() < 0.7:
                continue
            if rng.random() < 0.15 and k == "container":
                continue
            rb = rng.randrange(1 << (12 + rng.randrange(26))) // 512 * 512
            wb = rng.randrange(1 << (12 + rng.randrange(28))) // 512 * 512
            c["io"].append((dev, maj, mi, rb, wb, rb // 4096 + rng.randrange(50),
                            wb // 4096 + rng.randrange(50)))
        if k in ("root", "sandbox"):
            c["net"] = []
            for ifc in IFACES:
                rxb = rng.randrange(10 ** (6 + rng.randrange(6)))
                txb = rng.randrange(10 ** (6 + rng.randrange(6)))
                c["net"].append((ifc, rxb, rxb // 900 + rng.randrange(1000), rng.randrange(3),
                                 rng.randrange(20), txb, txb // 900 + rng.randrange(1000),
                                 rng.randrange(2), rng.randrange(5)))
    return cgs


def cad_label_str(pairs):
    return "{" + ",".join('%s="%s"' % (k, esc_lv(v)) for k, v in pairs) + "}"


def gen_cadvisor():
    rng = random.Random(20260101)
    cgs = cad_build_cgroups(rng)
    fams = {}   # name -> list of (sortkey, labelpairs, value, ts)

    def base(c, extra_before=(), extra=()):
        # label names sorted alphabetically; caller passes extras already placed
        pairs = [("container", c["container"]), ("id", c["id"]), ("image", c["image"]),
                 ("name", c["name"]), ("namespace", c["namespace"]), ("pod", c["pod"])]
        pairs += list(extra_before) + list(extra)
        pairs.sort(key=lambda kv: kv[0])
        return pairs

    def add(fam, pairs, v, ts=True):
        if fam in CAD_OMITTED:
            return
        fams.setdefault(fam, []).append((pairs, v, CAD_TS if ts else None))

    for c in cgs:
        k = c["kind"]
        add("container_cpu_usage_seconds_total", base(c, [("cpu", "total")]), c["cpu"])
        add("container_cpu_user_seconds_total", base(c), c["user"])
        add("container_cpu_system_seconds_total", base(c), c["sys"])
        add("container_cpu_load_average_10s", base(c), 0)
        if c["quota"]:
            add("container_cpu_cfs_periods_total", base(c), c["periods"])
            add("container_cpu_cfs_throttled_periods_total", base(c), c["throttled"])
            add("container_cpu_cfs_throttled_seconds_total", base(c), c["thr_s"])
            add("container_spec_cpu_quota", base(c), c["quota"], ts=False)
        add("container_spec_cpu_period", base(c), 100000 if k != "root" else 0, ts=False)
        shares = {"root": 0, "sandbox": 2}.get(k, 2 + ((1 + c["quota"] // 2600) * 262142) // 9999)
        add("container_spec_cpu_shares", base(c), shares, ts=False)
        add("container_spec_memory_limit_bytes", base(c), c["mem_limit"], ts=False)
        add("container_spec_memory_reservation_limit_bytes", base(c), 0, ts=False)
        add("container_spec_memory_swap_limit_bytes", base(c), 0 if k != "root" else 0, ts=False)
        add("container_start_time_seconds", base(c), c["start"], ts=False)
        add("container_last_seen", base(c), CAD_NOW, ts=True)
        add("container_memory_cache", base(c), c["cache"])
        add("container_memory_rss", base(c), c["rss"])
        add("container_memory_swap", base(c), 0)
        add("container_memory_usage_bytes", base(c), c["mem_usage"])
        add("container_memory_working_set_bytes", base(c), c["ws"])
        add("container_memory_mapped_file", base(c), c["mapped"])
        add("container_memory_kernel_usage", base(c), 0)
        add("container_memory_max_usage_bytes", base(c), c["maxu"])
        add("container_memory_failcnt", base(c), 0)
        add("container_memory_total_active_file_bytes", base(c), c["active"])
        add("container_memory_total_inactive_file_bytes", base(c), c["inactive"])
        for ft, val in (("pgfault", c["pgfault"]), ("pgmajfault", c["pgmaj"])):
            for scope in ("container", "hierarchy"):
                add("container_memory_failures_total",
                    base(c, [("failure_type", ft), ("scope", scope)]), val)
        add("container_oom_events_total", base(c), 0)
        add("container_processes", base(c), c.get("procs", 0))
        add("container_threads", base(c), c["threads"])
        add("container_threads_max", base(c), 0 if k in ("root", "raw") else 4194304)
        add("container_file_descriptors", base(c), c["fds"])
        add("container_sockets", base(c), c["sockets"])
        if k in ("sandbox", "container"):
            add("container_ulimits_soft", base(c, [("ulimit", "max_open_files")]), 1048576)
        for st in ("iowaiting", "running", "sleeping", "stopped", "uninterruptible"):
            add("container_tasks_state", base(c, [("state", st)]), 0)
        for dev, maj, mi, rb, wb, rios, wios in c["io"]:
            d = [("device", dev)]
            add("container_fs_reads_bytes_total", base(c, d), rb)
            add("container_fs_writes_bytes_total", base(c, d), wb)
            add("container_fs_reads_total", base(c, d), rios)
            add("container_fs_writes_total", base(c, d), wios)
            for op, val in (("Read", rb), ("Write", wb)):
                add("container_blkio_device_usage_total",
                    base(c, d + [("major", str(maj)), ("minor", str(mi)), ("operation", op)]), val)
        if k == "root":
            for dev, maj, mi in DEVICES + [("/dev/nvme0n1p1", 259, 2), ("shm", 0, 48), ("tmpfs", 0, 25)]:
                d = [("device", dev)]
                lim = 500107862016 if dev.startswith("/dev") else 67108864
                add("container_fs_limit_bytes", base(c, d), lim)
                add("container_fs_usage_bytes", base(c, d), lim // (2 + rng.randrange(8)))
                add("container_fs_inodes_total", base(c, d), 30531584 if dev.startswith("/dev") else 3063361)
                add("container_fs_inodes_free", base(c, d), 28000000 + rng.randrange(2000000) if dev.startswith("/dev") else 3063000)
                if dev.startswith("/dev"):
                    add("container_fs_io_current", base(c, d), rng.randrange(4))
                    add("container_fs_io_time_seconds_total", base(c, d), round(rng.random() * 9e4, 3))
                    add("container_fs_io_time_weighted_seconds_total", base(c, d), round(rng.random() * 3e5, 3))
                    add("container_fs_read_seconds_total", base(c, d), round(rng.random() * 5e4, 3))
                    add("container_fs_write_seconds_total", base(c, d), round(rng.random() * 9e4, 3))
                    add("container_fs_reads_merged_total", base(c, d), rng.randrange(10 ** 7))
                    add("container_fs_writes_merged_total", base(c, d), rng.randrange(10 ** 8))
                    add("container_fs_sector_reads_total", base(c, d), rng.randrange(10 ** 9))
                    add("container_fs_sector_writes_total", base(c, d), rng.randrange(10 ** 10))
        if "net" in c:
            for ifc, rxb, rxp, rxe, rxd, txb, txp, txe, txd in c["net"]:
                i = [("interface", ifc)]
                add("container_network_receive_bytes_total", base(c, i), rxb)
                add("container_network_receive_packets_total", base(c, i), rxp)
                add("container_network_receive_errors_total", base(c, i), rxe)
                add("container_network_receive_packets_dropped_total", base(c, i), rxd)
                add("container_network_transmit_bytes_total", base(c, i), txb)
                add("container_network_transmit_packets_total", base(c, i), txp)
                add("container_network_transmit_errors_total", base(c, i), txe)
                add("container_network_transmit_packets_dropped_total", base(c, i), txd)

    add("container_scrape_error", [], 0, ts=False)
    add("cadvisor_version_info", [("cadvisorRevision", ""), ("cadvisorVersion", ""),
                                  ("dockerVersion", ""), ("kernelVersion", "6.8.0-1021-aws"),
                                  ("osVersion", "Ubuntu 24.04.2 LTS")], 1, ts=False)
    mlab = [("boot_id", "3f1c2b4a-9d8e-4f7a-b6c5-d4e3f2a1b0c9"),
            ("machine_id", "ec2a7f3c1b9d4e8fa6b5c4d3e2f1a0b9"),
            ("system_uuid", "ec2a7f3c-1b9d-4e8f-a6b5-c4d3e2f1a0b9")]
    add("machine_cpu_cores", mlab, 4, ts=False)
    add("machine_cpu_physical_cores", mlab, 2, ts=False)
    add("machine_cpu_sockets", mlab, 1, ts=False)
    add("machine_memory_bytes", mlab, 33324838912, ts=False)
    add("machine_swap_bytes", mlab, 0, ts=False)
    add("machine_nvm_avg_power_budget_watts", mlab, 0, ts=False)
    for mode in ("app_direct_mode", "memory_mode"):
        add("machine_nvm_capacity", mlab + [("mode", mode)], 0, ts=False)
    add("machine_scrape_error", [], 0, ts=False)

    out = []
    for fam in sorted(fams):
        typ = "counter" if fam in COUNTER_FAMS else "gauge"
        out.append("# HELP %s %s\n# TYPE %s %s\n" % (fam, esc_help(CAD_HELP[fam]), fam, typ))
        rows = sorted(fams[fam], key=lambda r: [v for _, v in r[0]])
        for pairs, v, ts in rows:
            ls = cad_label_str(pairs) if pairs else ""
            line = fam + ls + " " + go_g(float(v))
            if ts is not None:
                line += " %d" % ts
            out.append(line + "\n")
    return "".join(out)


# --------------------------------------------------------------------------------------
# synthetic-large.prom  (text format 0.0.4)
# --------------------------------------------------------------------------------------

WORDS = ("http request duration bytes queue depth cache hits misses errors retries latency "
         "size items workers goroutines memory heap alloc gc pause disk read write net rx tx "
         "open close sessions tokens batch flush compaction wal segment index lookup shard "
         "replica leader election raft commit apply snapshot upload download").split()
LNAMES = ("job instance method code handler path route status le_bucket_id shard zone region "
          "cluster tenant service version pod namespace container node device mountpoint fstype "
          "quantile_id operation reason endpoint protocol scheme peer topic partition").split()
UTF8_VALUES = ["héllo wörld", "日本語のラベル", "Ελληνικά", "emoji 😀🚀", "кириллица",
               "中文/路径/值", "naïve café", "∑∫√ math", "עברית", "한국어 값", "Ünïcödé-Ωmega"]
ESCAPED_VALUES = ['C:\\Program Files\\App', 'say "hi"', "line1\nline2", 'mix \\ " \n all',
                  'trailing backslash \\', '"quoted"', "multi\n\nnewlines"]


def rand_label_value(rng, i):
    r = rng.random()
    if r < 0.04:
        return rchoice(rng, ESCAPED_VALUES) + " %d" % i
    if r < 0.09:
        return rchoice(rng, UTF8_VALUES) + " %d" % i
    if r < 0.12:
        return ""
    if r < 0.30:
        return "/api/v%d/%s/%s/{id}" % (1 + rng.randrange(3), rchoice(rng, WORDS), rchoice(rng, WORDS))
    if r < 0.45:
        return "10.%d.%d.%d:%d" % (rng.randrange(256), rng.randrange(256), rng.randrange(256), 1024 + rng.randrange(60000))
    if r < 0.55:
        return rhex(rng, 8 + rng.randrange(56))
    return "%s-%s-%d" % (rchoice(rng, WORDS), rchoice(rng, WORDS), rng.randrange(1000))


def rand_value_text(rng, kind):
    """Value formats Prometheus (strconv.ParseFloat), expfmt and OpenMetrics accept."""
    r = rng.random()
    if kind == "gauge" and r < 0.01:
        return rchoice(rng, ["NaN", "+Inf", "-Inf"])
    if r < 0.35:
        return str(rng.randrange(10 ** (1 + rng.randrange(12))))
    if r < 0.55:
        return repr(round(rng.random() * 10 ** rng.randrange(8), rng.randrange(1, 10)))
    if r < 0.70:
        return go_g(rng.random() * 10 ** (rng.randrange(24) - 8))
    if r < 0.78:
        return "%de%s%d" % (1 + rng.randrange(9), rchoice(rng, ["-", "+", ""]), rng.randrange(1, 20))
    if r < 0.84:
        return "%.3E" % (rng.random() * 10 ** rng.randrange(30))
    if r < 0.88:
        return "%d.%de-%d" % (rng.randrange(10), rng.randrange(1000), rng.randrange(1, 12))
    if r < 0.92:
        return "0.%03d" % rng.randrange(1000)
    if r < 0.95:
        return "%d.0" % rng.randrange(100000)
    if kind == "gauge":
        return "-" + str(rng.randrange(1, 10 ** 9)) if r < 0.98 else "-%.6f" % rng.random()
    return str(rng.randrange(10 ** 6))


HELP_EXTRAS = ["", " (see docs\\at C:\\\\path)", " Multi-line help\nsecond line.", " Über-metric für Tests — ✓.",
               " with a backslash \\ and \"quotes\"."]


def gen_prom_large(target_bytes):
    rng = random.Random(424242)
    out = []
    size = 0
    fam_i = 0
    used_names = set()
    while size < target_bytes:
        fam_i += 1
        r = rng.random()
        kind = ("counter" if r < 0.30 else "gauge" if r < 0.60 else "histogram" if r < 0.75
                else "summary" if r < 0.85 else "untyped")
        base = "%s_%s_%s" % (rchoice(rng, ["app", "svc", "node", "db", "proxy", "jvm", "go", "kafka"]),
                             rchoice(rng, WORDS), rchoice(rng, WORDS))
        if rng.random() < 0.03:
            base = "job:" + base + ":rate5m"
        name = "%s_%d" % (base, fam_i)
        if kind == "counter":
            name += "_total"
        elif kind in ("histogram", "summary"):
            name += "_seconds"
        used_names.add(name)
        lines = []
        if rng.random() < 0.9:
            h = "%s %s of %s." % (rchoice(rng, ["Total", "Current", "Observed"]), rchoice(rng, WORDS), rchoice(rng, WORDS))
            if rng.random() < 0.1:
                h += rchoice(rng, HELP_EXTRAS)
            lines.append("# HELP %s %s\n" % (name, esc_help(h)))
        if kind != "untyped" or rng.random() < 0.5:
            lines.append("# TYPE %s %s\n" % (name, kind))
        if rng.random() < 0.01:
            lines.append("# free-form comment about %s\n" % name)
        nlabels = rng.randrange(0, 13) if rng.random() < 0.85 else 0
        lnames = rshuffle(rng, LNAMES)[:nlabels]
        if kind == "histogram":
            nseries = 1 + rng.randrange(25)
        elif kind == "summary":
            nseries = 1 + rng.randrange(40)
        else:
            nseries = 1 + rng.randrange(300)
        if nlabels == 0:
            nseries = 1
        with_ts_family = rng.random() < 0.2
        seen = set()
        for si in range(nseries):
            lv = [rand_label_value(rng, si) for _ in lnames]
            if lnames:
                lv[0] = lv[0] + ("" if si == 0 else "_%d" % si)   # series are unique
            key = tuple(lv)
            if key in seen:
                continue
            seen.add(key)
            pairs = list(zip(lnames, lv))
            ts = 1767225600000 + rng.randrange(10 ** 8) if (with_ts_family or rng.random() < 0.1) else None

            def emit(mname, extra_pairs, value):
                ps = pairs + extra_pairs
                sep = "=" if rng.random() > 0.003 else " = "
                comma = "," if rng.random() > 0.05 else ", "
                if ps:
                    body = comma.join('%s%s"%s"' % (k, sep, esc_lv(v)) for k, v in ps)
                    if rng.random() < 0.02:
                        body += ","              # trailing comma
                    ls = ("{" if rng.random() > 0.005 else " {") + body + "}"
                else:
                    ls = "" if rng.random() > 0.02 else "{}"
                ws = " " if rng.random() > 0.03 else rchoice(rng, ["\t", "  ", " \t "])
                line = mname + ls + ws + value
                if ts is not None:
                    line += (" " if rng.random() > 0.03 else "\t") + str(ts)
                lines.append(line + "\n")

            if kind in ("counter", "gauge", "untyped"):
                emit(name, [], rand_value_text(rng, kind))
            elif kind == "histogram":
                nb = 10 + rng.randrange(11)
                start = 10 ** (rng.randrange(6) - 4)
                factor = rchoice(rng, [2, 2.5, 4, 5, 10])
                acc = 0
                bounds = []
                b = start
                for _ in range(nb - 1):
                    bounds.append(go_g(float("%.6g" % b)))
                    b *= factor
                bounds.append("+Inf")
                for bnd in bounds:
                    acc += rng.randrange(1000) if rng.random() < 0.7 else 0
                    emit(name + "_bucket", [("le", bnd)], str(acc))
                emit(name + "_sum", [], go_g(acc * rng.random() * start * 10))
                emit(name + "_count", [], str(acc))
            else:
                cnt = rng.randrange(10 ** 7)
                for q in ("0", "0.25", "0.5", "0.75", "0.9", "0.99", "1")[: 3 + rng.randrange(5)]:
                    emit(name, [("quantile", q)], "NaN" if cnt == 0 or rng.random() < 0.02 else go_g(rng.random()))
                emit(name + "_sum", [], go_g(cnt * rng.random()))
                emit(name + "_count", [], str(cnt))
        if rng.random() < 0.02:
            lines.append("\n")   # blank line between families
        chunk = "".join(lines)
        out.append(chunk)
        size += len(chunk.encode("utf-8"))
    return "".join(out)


# --------------------------------------------------------------------------------------
# synthetic-large.om  (OpenMetrics 1.0.0)
# --------------------------------------------------------------------------------------

def om_num(rng, nonneg=True, integer=False):
    r = rng.random()
    if integer or r < 0.4:
        return str(rng.randrange(10 ** (1 + rng.randrange(10))))
    if r < 0.7:
        return repr(round(rng.random() * 10 ** rng.randrange(7), rng.randrange(1, 8)))
    if r < 0.85:
        return go_g(rng.random() * 10 ** (rng.randrange(20) - 6))
    if r < 0.9:
        return "%de-%d" % (1 + rng.randrange(9), rng.randrange(1, 9))
    if not nonneg and r < 0.95:
        return "-" + repr(round(rng.random() * 1000, 3))
    return "%.4e" % (rng.random() * 10 ** rng.randrange(12))


def om_ts(rng, base=1767225600.0):
    t = base + rng.randrange(10 ** 6) + rng.randrange(1000) / 1000.0
    r = rng.random()
    if r < 0.6:
        return "%.3f" % t
    if r < 0.8:
        return "%d" % int(t)
    if r < 0.9:
        return "%.9f" % t
    return go_g(t)


def gen_om_large(target_bytes, all_ts=False):
    rng = random.Random(777001)
    out = []
    size = 0
    fam_i = 0
    units = [("seconds", 0.5), ("bytes", 0.3), ("ratio", 0.05), ("celsius", 0.05), ("joules", 0.1)]
    while size < target_bytes:
        fam_i += 1
        r = rng.random()
        kind = ("counter" if r < 0.28 else "gauge" if r < 0.52 else "histogram" if r < 0.68
                else "gaugehistogram" if r < 0.73 else "summary" if r < 0.82 else "info" if r < 0.87
                else "stateset" if r < 0.92 else "unknown")
        base = "%s_%s_%s_%d" % (rchoice(rng, ["app", "svc", "node", "db", "proxy", "jvm", "kafka"]),
                                rchoice(rng, WORDS), rchoice(rng, WORDS), fam_i)
        unit = None
        if kind in ("counter", "gauge", "histogram", "gaugehistogram", "summary", "unknown") and rng.random() < 0.35:
            u = rng.random()
            acc = 0.0
            for name_u, w in units:
                acc += w
                if u < acc:
                    unit = name_u
                    break
            unit = unit or "seconds"
            base += "_" + unit
        name = base
        lines = []
        lines.append("# TYPE %s %s\n" % (name, kind))
        if unit:
            lines.append("# UNIT %s %s\n" % (name, unit))
        if rng.random() < 0.9:
            h = "%s %s of %s." % (rchoice(rng, ["Total", "Current", "Observed"]), rchoice(rng, WORDS), rchoice(rng, WORDS))
            if rng.random() < 0.1:
                h += rchoice(rng, HELP_EXTRAS)
            lines.append("# HELP %s %s\n" % (name, esc_help_om(h)))
        nlabels = rng.randrange(0, 9) if rng.random() < 0.85 else 0
        lnames = sorted(rshuffle(rng, LNAMES)[:nlabels])
        if kind == "info":
            lnames = [ln for ln in lnames if ln not in ("version", "revision")]
        if kind in ("histogram", "gaugehistogram"):
            nseries = 1 + rng.randrange(20)
        elif kind == "stateset":
            nseries = 1 + rng.randrange(10)
        elif kind == "info":
            nseries = 1 + rng.randrange(5)
        else:
            nseries = 1 + rng.randrange(200)
        if nlabels == 0:
            nseries = 1
        fam_ts = rng.random() < 0.25
        for si in range(nseries):
            lv = [rand_label_value(rng, si) for _ in lnames]
            if lnames:
                lv[0] = lv[0] + ("" if si == 0 else "_%d" % si)
            pairs = list(zip(lnames, lv))
            # info: the Python reference parser treats a whole info family as one group, so
            # timestamp presence is decided per family there
            ts = om_ts(rng) if (all_ts or fam_ts or (kind != "info" and rng.random() < 0.05)) else None
            created = "%.3f" % (1766620800 + rng.randrange(600000) + rng.randrange(1000) / 1000.0)

            def emit(mname, extra, value, exemplar=None):
                ps = pairs + extra
                ls = ("{" + ",".join('%s="%s"' % (k, esc_lv(v)) for k, v in ps) + "}") if ps else ""
                line = mname + ls + " " + value
                if ts is not None:
                    line += " " + ts
                if exemplar:
                    line += " " + exemplar
                lines.append(line + "\n")

            def exemplar_for(v):
                e = '# {trace_id="%s",span_id="%s"} %s' % (rhex(rng, 32), rhex(rng, 16), v)
                if rng.random() < 0.6:
                    e += " " + om_ts(rng)
                return e

            if kind == "counter":
                v = om_num(rng)
                emit(name + "_total", [], v, exemplar_for(go_g(rng.random() * 5)) if rng.random() < 0.1 else None)
                if rng.random() < 0.8:
                    emit(name + "_created", [], created)
            elif kind == "gauge":
                emit(name, [], rchoice(rng, ["NaN", "+Inf", "-Inf"]) if rng.random() < 0.01 else om_num(rng, nonneg=False))
            elif kind == "unknown":
                emit(name, [], om_num(rng, nonneg=False))
            elif kind in ("histogram", "gaugehistogram"):
                nb = 10 + rng.randrange(11)
                start = 10 ** (rng.randrange(6) - 4)
                factor = rchoice(rng, [2, 2.5, 4, 5, 10])
                bounds = []
                b = start
                for _ in range(nb - 1):
                    bounds.append(go_g(float("%.6g" % b)))
                    b *= factor
                bounds.append("+Inf")
                acc = 0
                for bnd in bounds:
                    acc += rng.randrange(1000) if rng.random() < 0.7 else 0
                    ex = None
                    if rng.random() < 0.08:
                        ex = exemplar_for(go_g(float(bnd) * 0.9 if bnd != "+Inf" else 1e6))
                    emit(name + "_bucket", [("le", bnd)], str(acc), ex)
                s = go_g(acc * rng.random() * start * 10)
                if kind == "histogram":
                    emit(name + "_count", [], str(acc))
                    emit(name + "_sum", [], s)
                    if rng.random() < 0.8:
                        emit(name + "_created", [], created)
                else:
                    emit(name + "_gcount", [], str(acc))
                    emit(name + "_gsum", [], s)
            elif kind == "summary":
                cnt = rng.randrange(10 ** 7)
                for q in ("0.5", "0.9", "0.95", "0.99", "0.999")[: 1 + rng.randrange(5)]:
                    emit(name, [("quantile", q)], "NaN" if cnt == 0 else go_g(rng.random()))
                emit(name + "_count", [], str(cnt))
                emit(name + "_sum", [], go_g(cnt * rng.random()))
                if rng.random() < 0.8:
                    emit(name + "_created", [], created)
            elif kind == "info":
                extra = [("version", "v%d.%d.%d" % (rng.randrange(3), rng.randrange(30), rng.randrange(10))),
                         ("revision", rhex(rng, 40))]
                emit(name + "_info", extra, "1")
            elif kind == "stateset":
                states = ["starting", "running", "degraded", "stopping", "stopped", "failed"][: 2 + rng.randrange(5)]
                on = rng.randrange(len(states))
                for j, st in enumerate(states):
                    emit(name, [(name, st)], "1" if j == on else "0")
        chunk = "".join(lines)
        out.append(chunk)
        size += len(chunk.encode("utf-8"))
    out.append("# EOF\n")
    return "".join(out)


# --------------------------------------------------------------------------------------
# utf8-names.prom  (Prometheus 3 text format with quoted names)
# --------------------------------------------------------------------------------------

def q(s):
    return '"' + esc_lv(s) + '"'


def gen_utf8_names():
    rng = random.Random(8)
    out = []
    metric_names = ["http.server.request.duration", "process.cpu.time", "k8s.pod.memory.usage",
                    "db.client.connections.usage", "jvm.gc.duration", "messaging.kafka.consumer.lag",
                    "système.mémoire.utilisée", "ネットワーク.受信.バイト", "温度.传感器", "metric-with-dashes",
                    "metric/with/slashes", "metric with spaces", "ok_legacy_name_but_quoted",
                    "Heizölrückstoßabdämpfung 10€", "emoji.🚀.launches", 'weird "quoted" name']
    label_names = ["http.request.method", "http.response.status_code", "service.name", "k8s.namespace.name",
                   "server.address", "url.scheme", "otel.scope.name", "etiqueta.año", "ラベル",
                   "label with space", "label-dash", "label\\backslash", "legacy_label", "code"]
    types = ["counter", "gauge", "histogram", "summary", "untyped"]
    for i, mn in enumerate(metric_names):
        typ = types[i % len(types)]
        full = mn + ("_total" if typ == "counter" else "")
        out.append("# HELP %s %s\n" % (q(mn if typ != "counter" else full), esc_help("Quoted UTF-8 name test for " + mn)))
        out.append("# TYPE %s %s\n" % (q(mn if typ != "counter" else full), typ))
        nseries = 4 + rng.randrange(8)
        for s in range(nseries):
            nl = rng.randrange(5)
            lns = rshuffle(rng, label_names)[:nl]
            pairs = []
            for ln in lns:
                v = rand_label_value(rng, s)
                ln_txt = ln if ln.replace("_", "a").isalnum() and ln.isascii() else q(ln)
                pairs.append("%s=%s" % (ln_txt, q(v)))
            ts = " %d" % (1767225600000 + s) if rng.random() < 0.2 else ""
            sep = "," if rng.random() < 0.8 else ", "

            def line(name, extra, val):
                ps = list(pairs) + extra
                if rng.random() < 0.15 and all(c.isalnum() or c == "_" for c in name) and name.isascii():
                    # legacy-valid name may stay outside the braces
                    body = sep.join(ps)
                    return "%s{%s} %s%s\n" % (name, body, val, ts) if ps else "%s %s%s\n" % (name, val, ts)
                return "{%s} %s%s\n" % (sep.join([q(name)] + ps), val, ts)

            if typ in ("counter", "gauge", "untyped"):
                out.append(line(full, [], go_g(rng.random() * 1000)))
            elif typ == "histogram":
                acc = 0
                for le in ("0.005", "0.01", "0.05", "0.1", "0.5", "1", "5", "+Inf"):
                    acc += rng.randrange(100)
                    out.append(line(mn + "_bucket", ['le="%s"' % le], str(acc)))
                out.append(line(mn + "_sum", [], go_g(acc * rng.random())))
                out.append(line(mn + "_count", [], str(acc)))
            else:
                for qq in ("0.5", "0.9", "0.99"):
                    out.append(line(mn, ['quantile="%s"' % qq], go_g(rng.random())))
                out.append(line(mn + "_sum", [], go_g(rng.random() * 100)))
                out.append(line(mn + "_count", [], str(rng.randrange(1000))))
    # legacy metric names with quoted label names
    out.append("# HELP legacy_metric_with_utf8_labels Legacy metric name, quoted UTF-8 label names.\n")
    out.append("# TYPE legacy_metric_with_utf8_labels gauge\n")
    for s in range(20):
        out.append('legacy_metric_with_utf8_labels{%s=%s,code="%d"} %s\n' % (
            q(rchoice(rng, label_names[:11])), q("v%d" % s), 200 + s, go_g(rng.random())))
    return "".join(out)


# --------------------------------------------------------------------------------------

FILES = {
    "cadvisor.prom": lambda: gen_cadvisor(),
    "synthetic-large.prom": lambda: gen_prom_large(16 * 1000 * 1000),
    "synthetic-large.om": lambda: gen_om_large(16 * 1000 * 1000),
    "utf8-names.prom": lambda: gen_utf8_names(),
}


def om_add_timestamps(text, ts="1767225600.000"):
    out = []
    for line in text.splitlines(True):
        if line.startswith("#") or line == "\n":
            out.append(line)
            continue
        body = line.rstrip("\n")
        # end of the metric name + label set (label values may contain '}' or ' # ')
        i, inq, esc = 0, False, False
        end_ls = body.find(" ")
        if "{" in body[: end_ls if end_ls >= 0 else len(body)]:
            for i, c in enumerate(body):
                if esc:
                    esc = False
                elif c == "\\":
                    esc = True
                elif c == '"':
                    inq = not inq
                elif c == "}" and not inq:
                    end_ls = i + 1
                    break
        head, rest = body[:end_ls], body[end_ls:]
        ex = ""
        if " # " in rest:
            rest, ex = rest.split(" # ", 1)
            ex = " # " + ex
        toks = rest.split()
        if len(toks) == 1:
            rest = " " + toks[0] + " " + ts
        out.append(head + rest + ex + "\n")
    return "".join(out)


def main(argv):
    check = "--check" in argv
    out_dir = HERE
    if "--out" in argv:
        i = argv.index("--out")
        out_dir = argv[i + 1]
        argv = argv[:i] + argv[i + 2:]
        os.makedirs(out_dir, exist_ok=True)
    only = [a for a in argv[1:] if not a.startswith("--")]
    if "--om-timestamped-copy" in argv:
        # Verification aid: prints synthetic-large.om with a timestamp added to every sample
        # that has none (`promtool tsdb create-blocks-from openmetrics` requires one on every
        # sample). Writes nothing.
        sys.stdout.write(om_add_timestamps(open(os.path.join(HERE, "synthetic-large.om"), encoding="utf-8").read()))
        return 0
    bad = 0
    for fn, gen in FILES.items():
        if only and fn not in only:
            continue
        data = gen().encode("utf-8")
        path = os.path.join(out_dir, fn)
        if check:
            with open(path, "rb") as f:
                same = f.read() == data
            print("%-24s %s" % (fn, "identical" if same else "DIFFERENT"))
            bad += not same
        else:
            with open(path, "wb") as f:
                f.write(data)
            print("%-24s %d bytes" % (fn, len(data)))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
