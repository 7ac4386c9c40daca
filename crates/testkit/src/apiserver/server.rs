//! HTTP handling of the API server double.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::{Frame, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;

use super::selector::{FieldSelector, LabelSelector};
use super::{
    Fault, Obj, ObjectKey, RESOURCE_TYPES, RequestRecord, ResourceType, State, StoredEvent,
};

type Body = BoxBody<Bytes, std::io::Error>;

pub(crate) async fn serve_connection(
    stream: TcpStream,
    state: Arc<State>,
    shutdown: CancellationToken,
) {
    // As Go's net/http does: no Nagle delay on small watch chunks.
    let _ = stream.set_nodelay(true);
    let svc = hyper::service::service_fn(move |req| {
        let state = state.clone();
        let shutdown = shutdown.clone();
        async move { Ok::<_, Infallible>(handle(req, state, shutdown).await) }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(stream), svc)
        .await;
}

fn full(status: StatusCode, body: Value) -> Response<Body> {
    let bytes = Bytes::from(body.to_string());
    let mut resp = Response::new(
        Full::new(bytes)
            .map_err(|never: Infallible| match never {})
            .boxed(),
    );
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    resp
}

fn status_body(code: u16, reason: &str, message: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
           "message": message, "reason": reason, "code": code})
}

fn status(code: StatusCode, reason: &str, message: &str) -> Response<Body> {
    full(code, status_body(code.as_u16(), reason, message))
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn parse_query(q: Option<&str>) -> BTreeMap<String, String> {
    q.unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (percent_decode(k), percent_decode(v)),
            None => (percent_decode(p), String::new()),
        })
        .collect()
}

struct Target {
    res: &'static ResourceType,
    namespace: Option<String>,
}

#[allow(clippy::result_large_err)]
fn route(path: &str) -> Result<Option<Target>, Response<Body>> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group_version, rest): (String, &[&str]) = match segs.as_slice() {
        ["version"] => {
            return Err(full(
                StatusCode::OK,
                json!({"major": "1", "minor": "37", "gitVersion": "v1.37.0", "platform": "linux/amd64"}),
            ));
        }
        ["api"] => {
            return Err(full(
                StatusCode::OK,
                json!({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}),
            ));
        }
        ["apis"] => {
            let mut groups: Vec<&str> = RESOURCE_TYPES
                .iter()
                .filter_map(|r| r.api_version.split_once('/').map(|(g, _)| g))
                .collect();
            groups.dedup();
            let groups: Vec<Value> = groups
                .iter()
                .map(|g| {
                    let gv = format!("{g}/v1");
                    json!({"name": g, "versions": [{"groupVersion": gv, "version": "v1"}],
                           "preferredVersion": {"groupVersion": gv, "version": "v1"}})
                })
                .collect();
            return Err(full(
                StatusCode::OK,
                json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}),
            ));
        }
        ["api", v, rest @ ..] => ((*v).to_string(), rest),
        ["apis", g, v, rest @ ..] => (format!("{g}/{v}"), rest),
        _ => return Ok(None),
    };
    let in_gv = RESOURCE_TYPES
        .iter()
        .filter(|r| r.api_version == group_version);
    let (plural, namespace) = match rest {
        [] => {
            let resources: Vec<Value> = in_gv
                .map(|r| {
                    json!({"name": r.plural, "singularName": r.kind.to_lowercase(), "namespaced": r.namespaced,
                           "kind": r.kind, "verbs": ["get", "list", "watch"]})
                })
                .collect();
            return Err(full(
                StatusCode::OK,
                json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources}),
            ));
        }
        [plural] => (*plural, None),
        ["namespaces", ns, plural] => (*plural, Some((*ns).to_string())),
        _ => return Ok(None),
    };
    let Some(res) = RESOURCE_TYPES
        .iter()
        .find(|r| r.api_version == group_version && r.plural == plural)
    else {
        return Ok(None);
    };
    Ok(Some(Target { res, namespace }))
}

async fn handle(
    req: Request<Incoming>,
    state: Arc<State>,
    shutdown: CancellationToken,
) -> Response<Body> {
    let path = req.uri().path().to_string();
    let query = parse_query(req.uri().query());
    let watch = matches!(query.get("watch").map(String::as_str), Some("true" | "1"));
    let (fault, delay) = {
        let mut inner = state.lock();
        inner.requests.push(RequestRecord {
            method: req.method().to_string(),
            path: path.clone(),
            query: query.clone(),
            watch,
            authorization: req
                .headers()
                .get(http::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
        });
        let mut fault = None;
        let mut delay = None;
        for f in inner.faults.iter_mut() {
            match f {
                Fault::ServerError {
                    path_contains,
                    count,
                } if *count > 0 && path.contains(path_contains.as_str()) && fault.is_none() => {
                    *count -= 1;
                    fault = Some(status(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "InternalError",
                        "injected fault",
                    ));
                }
                Fault::GoneOnWatch { count } if *count > 0 && watch && fault.is_none() => {
                    *count -= 1;
                    fault = Some(gone_watch());
                }
                Fault::Slow {
                    path_contains,
                    delay: d,
                    count,
                } if *count > 0 && path.contains(path_contains.as_str()) && delay.is_none() => {
                    *count -= 1;
                    delay = Some(*d);
                }
                _ => {}
            }
        }
        inner.faults.retain(|f| match f {
            Fault::ServerError { count, .. }
            | Fault::GoneOnWatch { count }
            | Fault::Slow { count, .. } => *count > 0,
        });
        (fault, delay)
    };
    state.stats.send_modify(|s| s.requests += 1);
    if let Some(d) = delay {
        tokio::time::sleep(d).await;
    }
    if let Some(resp) = fault {
        return resp;
    }
    if req.method() != hyper::Method::GET {
        return status(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "read-only double",
        );
    }
    let target = match route(&path) {
        Err(resp) => return resp,
        Ok(None) => {
            return status(
                StatusCode::NOT_FOUND,
                "NotFound",
                "the server could not find the requested resource",
            );
        }
        Ok(Some(t)) => t,
    };
    let lsel = match LabelSelector::parse(query.get("labelSelector").map_or("", String::as_str)) {
        Ok(s) => s,
        Err(e) => return status(StatusCode::BAD_REQUEST, "BadRequest", &e.to_string()),
    };
    let fsel = match FieldSelector::parse(query.get("fieldSelector").map_or("", String::as_str)) {
        Ok(s) => s,
        Err(e) => return status(StatusCode::BAD_REQUEST, "BadRequest", &e.to_string()),
    };
    let filter = Filter {
        res: target.res,
        namespace: target.namespace,
        lsel,
        fsel,
    };
    if watch {
        watch_response(state, filter, &query, shutdown)
    } else {
        list_response(&state, &filter, &query)
    }
}

fn gone_watch() -> Response<Body> {
    let ev =
        json!({"type": "ERROR", "object": status_body(410, "Expired", "too old resource version")});
    let mut resp = full(StatusCode::OK, ev);
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    resp
}

struct Filter {
    res: &'static ResourceType,
    namespace: Option<String>,
    lsel: LabelSelector,
    fsel: FieldSelector,
}

impl Filter {
    fn matches(&self, ns: &str, obj: &Obj) -> bool {
        self.namespace.as_deref().is_none_or(|n| n == ns)
            && self.lsel.matches(&obj.value)
            && self.fsel.matches(&obj.value)
    }

    /// The stored objects this filter selects, in key order: only the filter's resource (and
    /// namespace) range of the store is visited.
    fn select<'a>(
        &'a self,
        objects: &'a BTreeMap<ObjectKey, Arc<Obj>>,
    ) -> impl Iterator<Item = (&'a ObjectKey, &'a Arc<Obj>)> + 'a {
        let plural = self.res.plural;
        let ns = self.namespace.clone().unwrap_or_default();
        objects
            .range((plural, ns, String::new())..)
            .take_while(move |((r, n, _), _)| {
                *r == plural && self.namespace.as_deref().is_none_or(|want| want == n)
            })
            .filter(|((_, ns, _), v)| self.matches(ns, v))
    }
}

fn list_response(
    state: &State,
    filter: &Filter,
    query: &BTreeMap<String, String>,
) -> Response<Body> {
    let limit: usize = query
        .get("limit")
        .and_then(|l| l.parse().ok())
        .filter(|l| *l > 0)
        .unwrap_or(usize::MAX);
    let mut inner = state.lock();
    let (rv, items, offset) = match query.get("continue").filter(|c| !c.is_empty()) {
        Some(token) => {
            let parsed = token
                .split_once(':')
                .and_then(|(id, off)| Some((id.parse::<u64>().ok()?, off.parse::<usize>().ok()?)));
            let Some((id, off)) = parsed else {
                return status(
                    StatusCode::BAD_REQUEST,
                    "BadRequest",
                    "invalid continue token",
                );
            };
            let Some((rv, items)) = inner.snapshots.get(&id).cloned() else {
                return status(
                    StatusCode::GONE,
                    "Expired",
                    "The provided continue parameter is too old",
                );
            };
            (rv, items, (id, off))
        }
        None => {
            let items: Vec<Arc<Obj>> = filter
                .select(&inner.objects)
                .map(|(_, v)| v.clone())
                .collect();
            let id = inner.next_snapshot;
            inner.next_snapshot += 1;
            let rv = inner.rv;
            let items = Arc::new(items);
            if items.len() > limit {
                inner.snapshots.insert(id, (rv, items.clone()));
            }
            (rv, items, (id, 0))
        }
    };
    let (id, off) = offset;
    let end = off.saturating_add(limit).min(items.len());
    let page: &[Arc<Obj>] = items.get(off..end).unwrap_or(&[]);
    let page_bytes: usize = page.iter().map(|o| o.json.len() + 1).sum();
    let mut items_json = Vec::with_capacity(page_bytes + 2);
    items_json.push(b'[');
    for (i, o) in page.iter().enumerate() {
        if i > 0 {
            items_json.push(b',');
        }
        items_json.extend_from_slice(&o.json);
    }
    items_json.push(b']');
    let cont = if end < items.len() {
        format!("{id}:{end}")
    } else {
        inner.snapshots.remove(&id);
        String::new()
    };
    let plural = filter.res.plural;
    drop(inner);
    state
        .stats
        .send_modify(|s| *s.lists.entry(plural.to_string()).or_default() += 1);
    let mut meta = json!({"resourceVersion": rv.to_string()});
    if !cont.is_empty() {
        meta["continue"] = Value::String(cont);
    }
    // Splice the cached object encodings into the list without re-encoding them.
    let head = format!(
        r#"{{"kind":"{}List","apiVersion":"{}","metadata":{},"items":"#,
        filter.res.kind, filter.res.api_version, meta
    );
    let mut body = Vec::with_capacity(head.len() + items_json.len() + 1);
    body.extend_from_slice(head.as_bytes());
    body.extend_from_slice(&items_json);
    body.push(b'}');
    raw_json(body)
}

fn raw_json(body: Vec<u8>) -> Response<Body> {
    let mut resp = Response::new(
        Full::new(Bytes::from(body))
            .map_err(|never: Infallible| match never {})
            .boxed(),
    );
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    resp
}

fn event_line(kind: &str, object: &Obj) -> Bytes {
    event_bytes(kind, &object.json)
}

fn event_bytes(kind: &str, json: &[u8]) -> Bytes {
    let mut s = Vec::with_capacity(json.len() + 32);
    s.extend_from_slice(b"{\"type\":\"");
    s.extend_from_slice(kind.as_bytes());
    s.extend_from_slice(b"\",\"object\":");
    s.extend_from_slice(json);
    s.extend_from_slice(b"}\n");
    Bytes::from(s)
}

fn bookmark(res: &ResourceType, rv: u64, initial_end: bool) -> Bytes {
    let mut meta = json!({"resourceVersion": rv.to_string()});
    if initial_end {
        meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
    }
    event_bytes(
        "BOOKMARK",
        json!({"kind": res.kind, "apiVersion": res.api_version, "metadata": meta})
            .to_string()
            .as_bytes(),
    )
}

fn with_rv(obj: &Obj, rv: u64) -> Obj {
    let mut o = obj.value.clone();
    if let Some(m) = o.get_mut("metadata").and_then(Value::as_object_mut) {
        m.insert("resourceVersion".into(), Value::String(rv.to_string()));
    }
    Obj::new(o)
}

/// The watch event this watcher should see for a stored event, if any.
fn translate(filter: &Filter, ev: &StoredEvent) -> Option<Bytes> {
    if ev.resource != filter.res.plural {
        return None;
    }
    let old_m = ev.old.as_ref().map(|o| filter.matches(&ev.namespace, o));
    let new_m = ev.new.as_ref().map(|n| filter.matches(&ev.namespace, n));
    match (&ev.old, &ev.new, old_m, new_m) {
        (_, Some(n), None | Some(false), Some(true)) => Some(event_line("ADDED", n)),
        (_, Some(n), Some(true), Some(true)) => Some(event_line("MODIFIED", n)),
        (_, Some(n), Some(true), Some(false)) => Some(event_line("DELETED", n)),
        (Some(o), None, Some(true), _) => Some(event_line("DELETED", &with_rv(o, ev.rv))),
        _ => None,
    }
}

type Chunk = Result<Frame<Bytes>, std::io::Error>;

fn watch_response(
    state: Arc<State>,
    filter: Filter,
    query: &BTreeMap<String, String>,
    shutdown: CancellationToken,
) -> Response<Body> {
    let rv_param = query.get("resourceVersion").cloned().unwrap_or_default();
    let bookmarks = query
        .get("allowWatchBookmarks")
        .is_some_and(|v| v == "true");
    let send_initial = query.get("sendInitialEvents").is_some_and(|v| v == "true");
    let timeout = query
        .get("timeoutSeconds")
        .and_then(|t| t.parse::<u64>().ok())
        .map(Duration::from_secs);
    // Subscribe and read the replay under the lock so no event falls in between.
    let (sub, cur_rv, initial, replay) = {
        let inner = state.lock();
        let sub = state.events.subscribe();
        let from: Option<u64> = match rv_param.as_str() {
            "" | "0" => None,
            v => match v.parse() {
                Ok(v) => Some(v),
                Err(_) => {
                    return status(
                        StatusCode::BAD_REQUEST,
                        "BadRequest",
                        "invalid resourceVersion",
                    );
                }
            },
        };
        if let Some(from) = from
            && from < inner.compacted_rv
        {
            return gone_watch();
        }
        let initial: Vec<Bytes> = if from.is_none() || send_initial {
            filter
                .select(&inner.objects)
                .map(|(_, v)| event_line("ADDED", v))
                .collect()
        } else {
            Vec::new()
        };
        let replay: Vec<Bytes> = match from {
            // History is in resourceVersion order: skip what the watcher has seen.
            Some(from) if !send_initial => inner
                .history
                .range(inner.history.partition_point(|e| e.rv <= from)..)
                .filter_map(|e| translate(&filter, e))
                .collect(),
            _ => Vec::new(),
        };
        (sub, inner.rv, initial, replay)
    };
    let plural = filter.res.plural.to_string();
    state.stats.send_modify(|s| {
        *s.watches_started.entry(plural.clone()).or_default() += 1;
        *s.watches_open.entry(plural.clone()).or_default() += 1;
    });
    let (tx, rx) = mpsc::channel::<Chunk>(256);
    tokio::spawn(async move {
        watch_loop(
            &state,
            &filter,
            sub,
            cur_rv,
            initial,
            replay,
            send_initial,
            bookmarks,
            timeout,
            tx,
            shutdown,
        )
        .await;
        state.stats.send_modify(|s| {
            if let Some(n) = s.watches_open.get_mut(&plural) {
                *n = n.saturating_sub(1);
            }
        });
    });
    let stream =
        futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|c| (c, rx)) });
    let mut resp = Response::new(StreamBody::new(stream).boxed());
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    resp
}

#[allow(clippy::too_many_arguments)]
async fn watch_loop(
    state: &State,
    filter: &Filter,
    mut sub: broadcast::Receiver<Arc<StoredEvent>>,
    cur_rv: u64,
    initial: Vec<Bytes>,
    replay: Vec<Bytes>,
    send_initial: bool,
    bookmarks: bool,
    timeout: Option<Duration>,
    tx: mpsc::Sender<Chunk>,
    shutdown: CancellationToken,
) {
    let mut drop_rx = state.drop_gen.subscribe();
    drop_rx.mark_unchanged();
    let mut last_rv = cur_rv;
    for b in initial {
        if tx.send(Ok(Frame::data(b))).await.is_err() {
            return;
        }
    }
    if send_initial
        && tx
            .send(Ok(Frame::data(bookmark(filter.res, cur_rv, true))))
            .await
            .is_err()
    {
        return;
    }
    for b in replay {
        if tx.send(Ok(Frame::data(b))).await.is_err() {
            return;
        }
    }
    let deadline = tokio::time::sleep(timeout.unwrap_or(Duration::from_secs(3600)));
    tokio::pin!(deadline);
    let mut tick = tokio::time::interval(state.bookmark_interval);
    tick.tick().await;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = &mut deadline => return,
            _ = drop_rx.changed() => {
                let _ = tx.send(Err(std::io::Error::other("connection dropped by fault injection"))).await;
                return;
            }
            _ = tick.tick(), if bookmarks => {
                if tx.send(Ok(Frame::data(bookmark(filter.res, last_rv, false)))).await.is_err() {
                    return;
                }
            }
            ev = sub.recv() => match ev {
                Ok(ev) => {
                    last_rv = ev.rv;
                    if let Some(b) = translate(filter, &ev)
                        && tx.send(Ok(Frame::data(b))).await.is_err()
                    {
                        return;
                    }
                }
                Err(_) => {
                    let _ = tx.send(Err(std::io::Error::other("watcher too slow"))).await;
                    return;
                }
            },
            _ = tx.closed() => return,
        }
    }
}
