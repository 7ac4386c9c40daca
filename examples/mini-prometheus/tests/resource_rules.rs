//! metrics-server's rules through [`ResourceMetrics`], on collections of the v2 fixture
//! tree edited the way a live node changes: two readings before anything appears, pods with
//! a zero-reading container left out, restarts, vanished pods, counters going backwards.

#[allow(dead_code, unused_imports)]
#[path = "../src/resource/mod.rs"]
mod resource;
mod resource_support;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use resource::{ResourceConfig, ResourceMetrics};
use resource_support::{T_MS, body, collect_fixture, v2_previous};
use scrapeline_cgroup::Collection;
use scrapeline_cgroup::path::CgroupKind;
use serde_json::{Value, json};

const NODES: &str = "/apis/metrics.k8s.io/v1beta1/nodes";
const PODS: &str = "/apis/metrics.k8s.io/v1beta1/pods";
const WEB: &str = "web-7d4b9c6f5-x2x8q";

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(T_MS as u64 + 3_000)
}

fn names(v: &Value) -> Vec<String> {
    resource_support::item_names(v)
}

fn get(m: &ResourceMetrics, path: &str) -> Value {
    body(m.handle(path, None, now()), 200)
}

/// The container cgroup of `name` in a collection.
fn container<'a>(c: &'a mut Collection, name: &str) -> &'a mut scrapeline_cgroup::ContainerStats {
    c.containers
        .iter_mut()
        .find(|s| s.identity.kind == CgroupKind::Container && s.container == name)
        .unwrap()
}

/// A later collection: `secs` seconds after `c`, every CPU counter `extra_ns` higher.
fn later(c: &Collection, secs: i64, extra_ns: u64) -> Collection {
    let mut n = c.clone();
    n.timestamp_ms += secs * 1000;
    for s in &mut n.containers {
        if let Some(cpu) = &mut s.cpu {
            cpu.usage_ns += extra_ns;
        }
    }
    n
}

#[test]
fn nothing_appears_before_the_second_reading() {
    let (_tmp, cur) = collect_fixture("cgroup-v2-systemd");
    let mut m = ResourceMetrics::new(ResourceConfig::new("node-v2", Duration::from_secs(15)));
    m.observe(v2_previous(&cur));
    assert_eq!(names(&get(&m, NODES)), Vec::<String>::new());
    assert_eq!(names(&get(&m, PODS)), Vec::<String>::new());
    assert_eq!(
        body(
            m.handle("/apis/metrics.k8s.io/v1beta1/nodes/node-v2", None, now()),
            404
        )["reason"],
        "NotFound"
    );
    // The Summary is there from the first collection, with zero rates.
    let s = get(&m, "/stats/summary");
    assert_eq!(s["node"]["cpu"]["usageNanoCores"], json!(0));
    assert_eq!(
        s["pods"][0]["containers"][1]["cpu"]["usageNanoCores"],
        json!(0)
    );
    m.observe(cur);
    assert_eq!(names(&get(&m, NODES)), ["node-v2"]);
    assert_eq!(names(&get(&m, PODS)), [WEB, "coredns-6f6b679f8f-q2lzt"]);
}

#[test]
fn a_pod_with_a_zero_reading_container_is_left_out() {
    let (_tmp, cur) = collect_fixture("cgroup-v2-systemd");
    let mut prev = v2_previous(&cur);
    let mut cur = cur;
    // config-reloader reads no memory now (coredns pod), nginx has no CPU accounting.
    for c in [&mut prev, &mut cur] {
        container(c, "config-reloader")
            .memory
            .as_mut()
            .unwrap()
            .working_set_bytes = 0;
    }
    container(&mut cur, "nginx").cpu = None;
    let mut m = ResourceMetrics::new(ResourceConfig::new("node-v2", Duration::from_secs(15)));
    m.observe(prev);
    m.observe(cur);
    assert_eq!(names(&get(&m, PODS)), Vec::<String>::new());
    assert_eq!(names(&get(&m, NODES)), ["node-v2"]);
    // The Summary still reports both pods.
    let s = get(&m, "/stats/summary");
    assert_eq!(s["pods"].as_array().unwrap().len(), 2);
    assert_eq!(
        s["pods"][0]["containers"][1]["cpu"],
        json!({"time": "2026-01-01T00:00:00Z", "usageNanoCores": 0, "usageCoreNanoSeconds": 0})
    );
}

#[test]
fn a_pod_that_misses_one_reading_needs_two_again() {
    let (_tmp, cur) = collect_fixture("cgroup-v2-systemd");
    let mut m = ResourceMetrics::new(ResourceConfig::new("node-v2", Duration::from_secs(15)));
    m.observe(v2_previous(&cur));
    m.observe(cur.clone());
    // The web pod's containers vanish for one collection (say, the pod was recreated).
    let mut gap = later(&cur, 15, 1_500_000_000);
    gap.containers.retain(|s| s.pod != WEB);
    m.observe(gap);
    assert_eq!(names(&get(&m, PODS)), ["coredns-6f6b679f8f-q2lzt"]);
    // Back: one reading only, so still absent.
    m.observe(later(&cur, 30, 3_000_000_000));
    assert_eq!(names(&get(&m, PODS)), ["coredns-6f6b679f8f-q2lzt"]);
    m.observe(later(&cur, 45, 4_500_000_000));
    let pods = get(&m, PODS);
    assert_eq!(names(&pods), [WEB, "coredns-6f6b679f8f-q2lzt"]);
    // 1.5 s of CPU in 15 s on every container: 100m.
    assert_eq!(pods["items"][0]["containers"][1]["usage"]["cpu"], "100m");
    assert_eq!(pods["items"][0]["window"], "15s");
}

#[test]
fn a_restarted_container_drops_its_old_point() {
    let (_tmp, cur) = collect_fixture("cgroup-v2-systemd");
    let mut m = ResourceMetrics::new(ResourceConfig::new("node-v2", Duration::from_secs(15)));
    m.observe(v2_previous(&cur));
    m.observe(cur.clone());
    // nginx restarted 5 s before the next reading: new start time, counter from 0.
    let mut next = later(&cur, 15, 1_000_000_000);
    let nginx = container(&mut next, "nginx");
    nginx.start_time_unix = T_MS / 1000 + 10;
    nginx.cpu.as_mut().unwrap().usage_ns = 250_000_000;
    m.observe(next.clone());
    assert_eq!(names(&get(&m, PODS)), ["coredns-6f6b679f8f-q2lzt"]);
    // The Summary does not compute a rate across the restart either.
    let s = get(&m, "/stats/summary");
    assert_eq!(s["pods"][0]["containers"][1]["name"], "nginx");
    assert_eq!(
        s["pods"][0]["containers"][1]["cpu"]["usageNanoCores"],
        json!(0)
    );
    m.observe(later(&next, 15, 1_500_000_000));
    let pods = get(&m, PODS);
    assert_eq!(names(&pods), [WEB, "coredns-6f6b679f8f-q2lzt"]);
    assert_eq!(pods["items"][0]["containers"][1]["usage"]["cpu"], "100m");
}

#[test]
fn an_old_cgroup_of_a_restarted_container_is_ignored() {
    let (_tmp, cur) = collect_fixture("cgroup-v2-systemd");
    let add_stale = |c: &Collection| {
        let mut c = c.clone();
        let mut stale = container(&mut c, "nginx").clone();
        stale.id = stale.id.replace("c8f5e1519b", "fffffffff0");
        stale.start_time_unix -= 3600;
        stale.cpu.as_mut().unwrap().usage_ns = 7;
        stale.memory.as_mut().unwrap().working_set_bytes = 5;
        c.containers.push(stale);
        c.containers.sort_by(|a, b| a.id.cmp(&b.id));
        c
    };
    let mut m = ResourceMetrics::new(ResourceConfig::new("node-v2", Duration::from_secs(15)));
    m.observe(add_stale(&v2_previous(&cur)));
    m.observe(add_stale(&cur));
    let pods = get(&m, PODS);
    assert_eq!(
        pods["items"][0]["containers"][1],
        json!({"name": "nginx", "usage": {"cpu": "172668864n", "memory": "49664Ki"}})
    );
    let s = get(&m, "/stats/summary");
    let web = &s["pods"][0]["containers"];
    assert_eq!(web.as_array().unwrap().len(), 2);
    assert_eq!(web[1]["cpu"]["usageNanoCores"], json!(172_668_864));
}

#[test]
fn node_cpu_going_backwards_hides_the_node() {
    let (_tmp, cur) = collect_fixture("cgroup-v2-systemd");
    let mut prev = v2_previous(&cur);
    prev.containers[0].cpu.as_mut().unwrap().usage_ns += 10_000_000_000;
    assert_eq!(prev.containers[0].id, "/");
    let mut m = ResourceMetrics::new(ResourceConfig::new("node-v2", Duration::from_secs(15)));
    m.observe(prev);
    m.observe(cur);
    assert_eq!(names(&get(&m, NODES)), Vec::<String>::new());
    assert_eq!(
        get(&m, "/stats/summary")["node"]["cpu"]["usageNanoCores"],
        json!(0)
    );
    assert_eq!(names(&get(&m, PODS)), [WEB, "coredns-6f6b679f8f-q2lzt"]);
}

#[test]
fn a_young_container_gets_a_value_after_one_reading() {
    // metrics-server's fresh-container rule: started between 10 s and one resolution before
    // its first reading, it is measured from its start with CPU 0.
    let (_tmp, cur) = collect_fixture("cgroup-v2-systemd");
    let mut only = cur.clone();
    let nginx = container(&mut only, "nginx");
    nginx.start_time_unix = T_MS / 1000 - 30;
    nginx.cpu.as_mut().unwrap().usage_ns = 3_000_000_000;
    let mut m = ResourceMetrics::new(ResourceConfig::new("node-v2", Duration::from_secs(60)));
    m.observe(only);
    let pods = get(&m, PODS);
    // log-shipper is old and has one reading: the web pod is not complete.
    assert_eq!(names(&pods), Vec::<String>::new());
    let mut m = ResourceMetrics::new(ResourceConfig::new("node-v2", Duration::from_secs(60)));
    let mut c = cur;
    c.containers.retain(|s| s.container != "log-shipper");
    let nginx = container(&mut c, "nginx");
    nginx.start_time_unix = T_MS / 1000 - 30;
    nginx.cpu.as_mut().unwrap().usage_ns = 3_000_000_000;
    m.observe(c);
    let pods = get(&m, PODS);
    assert_eq!(names(&pods), [WEB]);
    assert_eq!(
        pods["items"][0]["containers"],
        json!([{"name": "nginx", "usage": {"cpu": "100m", "memory": "49664Ki"}}])
    );
    assert_eq!(pods["items"][0]["window"], "30s");
}
