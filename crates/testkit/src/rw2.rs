//! A remote write receiver on loopback, written from the Remote-Write 2.0 specification
//! (<https://prometheus.io/docs/specs/prw/remote_write_spec_2_0/>, 2.0-rc.4) with its own
//! decoder, so a sender is checked against the spec rather than against itself.
//!
//! It takes `POST`s on any path, picks the message from `Content-Type` as the spec says,
//! decodes the snappy block body, validates a 2.0 request (symbols start with `""`, refs in
//! range, label refs paired, names sorted and unique, no empty names or values, samples or
//! histograms but not both, samples in timestamp order, exemplars with timestamps) and
//! answers `204` with the `X-Prometheus-Remote-Write-{Samples,Histograms,Exemplars}-Written`
//! headers, or `400`/`415` with a reason. Every request is recorded with its headers, its
//! outcome and, when it decoded, its series with every ref resolved.
//!
//! [`Behavior`] also makes it a 1.x receiver: one that answers a 2.0 request `415` (it checks
//! `Content-Type`), or one that decodes anything as 1.0 and answers `204` without the 2.0
//! headers (the broken kind the spec warns about).
//!
//! No real receiver installed next to these tests speaks 2.0 (Debian's Prometheus is 2.42,
//! VictoriaMetrics 1.79), hence this one.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use prost::Message;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Largest compressed body taken, and largest decompressed size accepted.
const MAX_BODY: usize = 64 << 20;

/// The 2.0 `Content-Type`.
pub const CONTENT_TYPE_V2: &str = "application/x-protobuf;proto=io.prometheus.write.v2.Request";

/// How the receiver treats requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Behavior {
    /// A 2.0 receiver that also takes 1.0, as the spec describes.
    #[default]
    Spec,
    /// A 1.x receiver that checks `Content-Type`: a 2.0 request gets `415`.
    RejectsV2,
    /// A broken 1.x receiver: decodes every body as `prometheus.WriteRequest` and answers
    /// `204` without `Written` headers.
    IgnoresContentType,
    /// A broken 2.0 receiver: validates and records as [`Behavior::Spec`], then answers `204`
    /// with every `Written` header `0`.
    ConfirmsNothing,
}

/// Which message a request carried, by its `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Message2 {
    /// `prometheus.WriteRequest`.
    V1,
    /// `io.prometheus.write.v2.Request`.
    V2,
}

/// One sample as received.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedSample {
    /// The value.
    pub value: f64,
    /// Milliseconds since the epoch.
    pub timestamp: i64,
    /// 2.0's `start_timestamp` (0: unset, and always 0 in 1.0).
    pub start_timestamp: i64,
}

/// One exemplar as received, its label refs resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedExemplar {
    /// Labels, in order.
    pub labels: Vec<(String, String)>,
    /// The value.
    pub value: f64,
    /// Milliseconds since the epoch.
    pub timestamp: i64,
}

/// Metadata as received, refs resolved.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReceivedMetadata {
    /// The `MetricType` number (0: unspecified).
    pub metric_type: i32,
    /// Help text.
    pub help: String,
    /// Unit.
    pub unit: String,
}

/// One `TimeSeries` as received, refs resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedSeries {
    /// Labels, in wire order.
    pub labels: Vec<(String, String)>,
    /// Float samples.
    pub samples: Vec<ReceivedSample>,
    /// Number of native histogram samples (not decoded further).
    pub histograms: usize,
    /// Exemplars.
    pub exemplars: Vec<ReceivedExemplar>,
    /// Metadata (2.0 only; `None` when absent).
    pub metadata: Option<ReceivedMetadata>,
}

impl ReceivedSeries {
    /// The labels as `{a="b", c="d"}` (unescaped; for assertions).
    pub fn labels_text(&self) -> String {
        let inner: Vec<String> = self
            .labels
            .iter()
            .map(|(n, v)| format!("{n}=\"{v}\""))
            .collect();
        format!("{{{}}}", inner.join(", "))
    }
}

/// One request as the receiver saw it.
#[derive(Debug, Clone)]
pub struct Received {
    /// Request headers, names lower-case.
    pub headers: BTreeMap<String, String>,
    /// The message by `Content-Type`, `None` when it named neither.
    pub message: Option<Message2>,
    /// The status answered.
    pub status: u16,
    /// The error text answered, empty on success.
    pub error: String,
    /// The decoded series (empty when decoding or validation failed).
    pub series: Vec<ReceivedSeries>,
    /// 2.0: the symbol table as sent.
    pub symbols: Vec<String>,
}

/// A running receiver; stops when dropped.
pub struct Receiver {
    addr: SocketAddr,
    behavior: Arc<Mutex<Behavior>>,
    seen: Arc<Mutex<Vec<Received>>>,
    stop: CancellationToken,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Receiver {
    /// Starts a receiver on `127.0.0.1` with a free port.
    pub async fn start(behavior: Behavior) -> Receiver {
        let listener = match TcpListener::bind("127.0.0.1:0").await {
            Ok(l) => l,
            Err(e) => panic!("rw2 receiver: cannot bind 127.0.0.1:0: {e}"),
        };
        let addr = match listener.local_addr() {
            Ok(a) => a,
            Err(e) => panic!("rw2 receiver: no local address: {e}"),
        };
        let behavior = Arc::new(Mutex::new(behavior));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = CancellationToken::new();
        let (b, s, stop2) = (behavior.clone(), seen.clone(), stop.clone());
        tokio::spawn(async move {
            loop {
                let conn = tokio::select! {
                    _ = stop2.cancelled() => return,
                    c = listener.accept() => c,
                };
                let Ok((stream, _)) = conn else { continue };
                let (b, s, stop3) = (b.clone(), s.clone(), stop2.clone());
                tokio::spawn(async move {
                    let svc = service_fn(move |req: Request<Incoming>| {
                        let (b, s) = (b.clone(), s.clone());
                        async move {
                            let behavior = *lock(&b);
                            let (resp, rec) = handle(behavior, req).await;
                            lock(&s).push(rec);
                            Ok::<_, std::convert::Infallible>(resp)
                        }
                    });
                    let conn = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc);
                    tokio::select! {
                        _ = stop3.cancelled() => {}
                        _ = conn => {}
                    }
                });
            }
        });
        Receiver {
            addr,
            behavior,
            seen,
            stop,
        }
    }

    /// The write URL (`http://127.0.0.1:<port>/api/v1/write`).
    pub fn url(&self) -> String {
        format!("http://{}/api/v1/write", self.addr)
    }

    /// Changes how later requests are treated.
    pub fn set_behavior(&self, b: Behavior) {
        *lock(&self.behavior) = b;
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<Received> {
        lock(&self.seen).clone()
    }
}

async fn handle(behavior: Behavior, req: Request<Incoming>) -> (Response<Full<Bytes>>, Received) {
    let headers: BTreeMap<String, String> = req
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let mut rec = Received {
        message: message_of(headers.get("content-type").map(String::as_str)),
        headers,
        status: 0,
        error: String::new(),
        series: Vec::new(),
        symbols: Vec::new(),
    };
    let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            return answer(
                rec,
                StatusCode::BAD_REQUEST,
                format!("reading body: {e}"),
                None,
            );
        }
    };
    let message = match (behavior, rec.message) {
        (Behavior::IgnoresContentType, _) => Message2::V1,
        (Behavior::RejectsV2, Some(Message2::V2)) | (_, None) => {
            let ct = rec.headers.get("content-type").cloned().unwrap_or_default();
            return answer(
                rec,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("unsupported Content-Type {ct:?}"),
                None,
            );
        }
        (_, Some(m)) => m,
    };
    if rec.headers.get("content-encoding").map(String::as_str) != Some("snappy") {
        return answer(
            rec,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content-Encoding must be snappy".into(),
            None,
        );
    }
    for h in ["x-prometheus-remote-write-version", "user-agent"] {
        if !rec.headers.contains_key(h) {
            return answer(
                rec,
                StatusCode::BAD_REQUEST,
                format!("missing {h} header"),
                None,
            );
        }
    }
    let raw = match decompress(&body) {
        Ok(r) => r,
        Err(e) => return answer(rec, StatusCode::BAD_REQUEST, e, None),
    };
    let decoded = match message {
        Message2::V1 => v1::WriteRequest::decode(&raw[..])
            .map_err(|e| format!("decoding prometheus.WriteRequest: {e}"))
            .map(|w| (v1::resolve(w), Vec::new())),
        Message2::V2 => v2::Request::decode(&raw[..])
            .map_err(|e| format!("decoding io.prometheus.write.v2.Request: {e}"))
            .and_then(|r| {
                let series = v2::validate(&r)?;
                Ok((series, r.symbols))
            }),
    };
    match decoded {
        Err(e) => answer(rec, StatusCode::BAD_REQUEST, e, Some(Default::default())),
        Ok((series, symbols)) => {
            let counts = [
                series.iter().map(|s| s.samples.len()).sum::<usize>(),
                series.iter().map(|s| s.histograms).sum(),
                series.iter().map(|s| s.exemplars.len()).sum(),
            ];
            rec.series = series;
            rec.symbols = symbols;
            let headers = match behavior {
                Behavior::IgnoresContentType => None,
                Behavior::ConfirmsNothing => Some([0; 3]),
                _ => Some(counts),
            };
            answer(rec, StatusCode::NO_CONTENT, String::new(), headers)
        }
    }
}

/// The message `Content-Type` names, as the spec lists them.
fn message_of(content_type: Option<&str>) -> Option<Message2> {
    let ct: String = content_type?
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    match ct.as_str() {
        "application/x-protobuf" | "application/x-protobuf;proto=prometheus.WriteRequest" => {
            Some(Message2::V1)
        }
        CONTENT_TYPE_V2 => Some(Message2::V2),
        _ => None,
    }
}

fn decompress(body: &[u8]) -> Result<Vec<u8>, String> {
    let n = snap::raw::decompress_len(body).map_err(|e| format!("snappy: {e}"))?;
    if n > MAX_BODY {
        return Err(format!(
            "decoded size {n} exceeds the limit of {MAX_BODY} bytes"
        ));
    }
    snap::raw::Decoder::new()
        .decompress_vec(body)
        .map_err(|e| format!("snappy: {e}"))
}

/// The response: `written` counts as the three 2.0 headers (absent when `None`).
fn answer(
    mut rec: Received,
    status: StatusCode,
    error: String,
    written: Option<[usize; 3]>,
) -> (Response<Full<Bytes>>, Received) {
    let mut resp = Response::new(Full::new(Bytes::from(error.clone())));
    *resp.status_mut() = status;
    if let Some(w) = written {
        for (name, n) in [
            "X-Prometheus-Remote-Write-Samples-Written",
            "X-Prometheus-Remote-Write-Histograms-Written",
            "X-Prometheus-Remote-Write-Exemplars-Written",
        ]
        .iter()
        .zip(w)
        {
            if let Ok(v) = hyper::header::HeaderValue::from_str(&n.to_string()) {
                resp.headers_mut().insert(*name, v);
            }
        }
    }
    rec.status = status.as_u16();
    rec.error = error;
    (resp, rec)
}

/// `prometheus.WriteRequest`, as far as the receiver reads it.
pub mod v1 {
    use super::{ReceivedExemplar, ReceivedSample, ReceivedSeries};

    /// `prometheus.WriteRequest`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct WriteRequest {
        /// Field 1.
        #[prost(message, repeated, tag = "1")]
        pub timeseries: Vec<TimeSeries>,
    }

    /// `prometheus.TimeSeries`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct TimeSeries {
        /// Field 1.
        #[prost(message, repeated, tag = "1")]
        pub labels: Vec<Label>,
        /// Field 2.
        #[prost(message, repeated, tag = "2")]
        pub samples: Vec<Sample>,
        /// Field 3.
        #[prost(message, repeated, tag = "3")]
        pub exemplars: Vec<Exemplar>,
        /// Field 4, counted only.
        #[prost(bytes = "vec", repeated, tag = "4")]
        pub histograms: Vec<Vec<u8>>,
    }

    /// `prometheus.Label`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Label {
        /// Field 1.
        #[prost(string, tag = "1")]
        pub name: String,
        /// Field 2.
        #[prost(string, tag = "2")]
        pub value: String,
    }

    /// `prometheus.Sample`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Sample {
        /// Field 1.
        #[prost(double, tag = "1")]
        pub value: f64,
        /// Field 2.
        #[prost(int64, tag = "2")]
        pub timestamp: i64,
    }

    /// `prometheus.Exemplar`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Exemplar {
        /// Field 1.
        #[prost(message, repeated, tag = "1")]
        pub labels: Vec<Label>,
        /// Field 2.
        #[prost(double, tag = "2")]
        pub value: f64,
        /// Field 3.
        #[prost(int64, tag = "3")]
        pub timestamp: i64,
    }

    fn pairs(labels: Vec<Label>) -> Vec<(String, String)> {
        labels.into_iter().map(|l| (l.name, l.value)).collect()
    }

    /// The series of a 1.0 request.
    pub fn resolve(w: WriteRequest) -> Vec<ReceivedSeries> {
        w.timeseries
            .into_iter()
            .map(|ts| ReceivedSeries {
                labels: pairs(ts.labels),
                samples: ts
                    .samples
                    .into_iter()
                    .map(|s| ReceivedSample {
                        value: s.value,
                        timestamp: s.timestamp,
                        start_timestamp: 0,
                    })
                    .collect(),
                histograms: ts.histograms.len(),
                exemplars: ts
                    .exemplars
                    .into_iter()
                    .map(|e| ReceivedExemplar {
                        labels: pairs(e.labels),
                        value: e.value,
                        timestamp: e.timestamp,
                    })
                    .collect(),
                metadata: None,
            })
            .collect()
    }
}

/// `io.prometheus.write.v2.Request`, as far as the receiver reads it, and the spec's rules.
pub mod v2 {
    use super::{ReceivedExemplar, ReceivedMetadata, ReceivedSample, ReceivedSeries};

    /// `io.prometheus.write.v2.Request`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Request {
        /// Field 4.
        #[prost(string, repeated, tag = "4")]
        pub symbols: Vec<String>,
        /// Field 5.
        #[prost(message, repeated, tag = "5")]
        pub timeseries: Vec<TimeSeries>,
    }

    /// `io.prometheus.write.v2.TimeSeries`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct TimeSeries {
        /// Field 1.
        #[prost(uint32, repeated, tag = "1")]
        pub labels_refs: Vec<u32>,
        /// Field 2.
        #[prost(message, repeated, tag = "2")]
        pub samples: Vec<Sample>,
        /// Field 3, counted only.
        #[prost(bytes = "vec", repeated, tag = "3")]
        pub histograms: Vec<Vec<u8>>,
        /// Field 4.
        #[prost(message, repeated, tag = "4")]
        pub exemplars: Vec<Exemplar>,
        /// Field 5.
        #[prost(message, optional, tag = "5")]
        pub metadata: Option<Metadata>,
    }

    /// `io.prometheus.write.v2.Sample`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Sample {
        /// Field 1.
        #[prost(double, tag = "1")]
        pub value: f64,
        /// Field 2.
        #[prost(int64, tag = "2")]
        pub timestamp: i64,
        /// Field 3.
        #[prost(int64, tag = "3")]
        pub start_timestamp: i64,
    }

    /// `io.prometheus.write.v2.Exemplar`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Exemplar {
        /// Field 1.
        #[prost(uint32, repeated, tag = "1")]
        pub labels_refs: Vec<u32>,
        /// Field 2.
        #[prost(double, tag = "2")]
        pub value: f64,
        /// Field 3.
        #[prost(int64, tag = "3")]
        pub timestamp: i64,
    }

    /// `io.prometheus.write.v2.Metadata`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Metadata {
        /// Field 1.
        #[prost(int32, tag = "1")]
        pub r#type: i32,
        /// Field 3.
        #[prost(uint32, tag = "3")]
        pub help_ref: u32,
        /// Field 4.
        #[prost(uint32, tag = "4")]
        pub unit_ref: u32,
    }

    fn symbol(symbols: &[String], r: u32, what: &str) -> Result<String, String> {
        symbols
            .get(r as usize)
            .cloned()
            .ok_or_else(|| format!("{what} ref {r} is out of range ({} symbols)", symbols.len()))
    }

    /// Label pairs of `refs`: an even number of refs in range, names sorted, unique and
    /// non-empty, values non-empty.
    fn labels(
        symbols: &[String],
        refs: &[u32],
        what: &str,
    ) -> Result<Vec<(String, String)>, String> {
        if !refs.len().is_multiple_of(2) {
            return Err(format!("{what}: odd number of label refs ({})", refs.len()));
        }
        let mut out: Vec<(String, String)> = Vec::with_capacity(refs.len() / 2);
        for pair in refs.chunks(2) {
            let (n, v) = match pair {
                [n, v] => (symbol(symbols, *n, what)?, symbol(symbols, *v, what)?),
                _ => return Err(format!("{what}: odd number of label refs")),
            };
            if n.is_empty() || v.is_empty() {
                return Err(format!("{what}: empty label name or value ({n:?}={v:?})"));
            }
            if let Some((prev, _)) = out.last()
                && *prev >= n
            {
                return Err(format!(
                    "{what}: label names not sorted and unique ({prev:?} before {n:?})"
                ));
            }
            out.push((n, v));
        }
        Ok(out)
    }

    /// Checks a request against the spec's MUSTs and resolves its refs.
    pub fn validate(r: &Request) -> Result<Vec<ReceivedSeries>, String> {
        let symbols = &r.symbols;
        if symbols.first().map(String::as_str) != Some("") {
            return Err("symbols must start with the empty string".to_owned());
        }
        let mut out = Vec::with_capacity(r.timeseries.len());
        for (i, ts) in r.timeseries.iter().enumerate() {
            let what = format!("timeseries {i}");
            if ts.labels_refs.is_empty() {
                return Err(format!("{what}: labels_refs must be provided"));
            }
            let labels = labels(symbols, &ts.labels_refs, &what)?;
            match (ts.samples.is_empty(), ts.histograms.is_empty()) {
                (true, true) => return Err(format!("{what}: no samples and no histograms")),
                (false, false) => return Err(format!("{what}: both samples and histograms")),
                _ => {}
            }
            if ts
                .samples
                .windows(2)
                .any(|w| matches!(w, [a, b] if a.timestamp > b.timestamp))
            {
                return Err(format!("{what}: samples not in timestamp order"));
            }
            let mut exemplars = Vec::with_capacity(ts.exemplars.len());
            for e in &ts.exemplars {
                if e.timestamp == 0 {
                    return Err(format!("{what}: exemplar without a timestamp"));
                }
                exemplars.push(ReceivedExemplar {
                    labels: self::labels(symbols, &e.labels_refs, &what)?,
                    value: e.value,
                    timestamp: e.timestamp,
                });
            }
            let metadata = match &ts.metadata {
                None => None,
                Some(m) => Some(ReceivedMetadata {
                    metric_type: m.r#type,
                    help: symbol(symbols, m.help_ref, &what)?,
                    unit: symbol(symbols, m.unit_ref, &what)?,
                }),
            };
            out.push(ReceivedSeries {
                labels,
                samples: ts
                    .samples
                    .iter()
                    .map(|s| ReceivedSample {
                        value: s.value,
                        timestamp: s.timestamp,
                        start_timestamp: s.start_timestamp,
                    })
                    .collect(),
                histograms: ts.histograms.len(),
                exemplars,
                metadata,
            });
        }
        Ok(out)
    }
}

/// Decodes a snappy-compressed 2.0 body and validates it as the receiver does: the series,
/// or the reason it would answer `400`. For tests of an encoder without HTTP.
pub fn decode_v2(body: &[u8]) -> Result<(Vec<String>, Vec<ReceivedSeries>), String> {
    let raw = decompress(body)?;
    let r = v2::Request::decode(&raw[..])
        .map_err(|e| format!("decoding io.prometheus.write.v2.Request: {e}"))?;
    let series = v2::validate(&r)?;
    Ok((r.symbols, series))
}

/// [`decode_v2`] for 1.0 bodies.
pub fn decode_v1(body: &[u8]) -> Result<Vec<ReceivedSeries>, String> {
    let raw = decompress(body)?;
    let w = v1::WriteRequest::decode(&raw[..])
        .map_err(|e| format!("decoding prometheus.WriteRequest: {e}"))?;
    Ok(v1::resolve(w))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(r: &v2::Request) -> Vec<u8> {
        snap::raw::Encoder::new()
            .compress_vec(&r.encode_to_vec())
            .unwrap_or_default()
    }

    fn sample(t: i64) -> v2::Sample {
        v2::Sample {
            value: 1.0,
            timestamp: t,
            start_timestamp: 0,
        }
    }

    fn series(refs: Vec<u32>, samples: Vec<v2::Sample>) -> v2::TimeSeries {
        v2::TimeSeries {
            labels_refs: refs,
            samples,
            histograms: vec![],
            exemplars: vec![],
            metadata: None,
        }
    }

    /// Each MUST of the spec the receiver checks turns a request into a 400 with its reason.
    #[test]
    fn spec_violations_are_refused_with_a_reason() {
        let syms = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let ok = v2::Request {
            symbols: syms(&["", "__name__", "up", "job", "a"]),
            timeseries: vec![series(vec![1, 2, 3, 4], vec![sample(1)])],
        };
        let (_, got) = decode_v2(&body(&ok)).unwrap();
        assert_eq!(got[0].labels_text(), "{__name__=\"up\", job=\"a\"}");

        let cases: Vec<(v2::Request, &str)> = vec![
            (
                v2::Request {
                    symbols: syms(&["x"]),
                    ..ok.clone()
                },
                "symbols must start with the empty string",
            ),
            (
                v2::Request {
                    timeseries: vec![series(vec![1, 9], vec![sample(1)])],
                    ..ok.clone()
                },
                "timeseries 0 ref 9 is out of range (5 symbols)",
            ),
            (
                v2::Request {
                    timeseries: vec![series(vec![3, 4, 1, 2], vec![sample(1)])],
                    ..ok.clone()
                },
                "timeseries 0: label names not sorted and unique (\"job\" before \"__name__\")",
            ),
            (
                v2::Request {
                    timeseries: vec![series(vec![1, 0], vec![sample(1)])],
                    ..ok.clone()
                },
                "timeseries 0: empty label name or value (\"__name__\"=\"\")",
            ),
            (
                v2::Request {
                    timeseries: vec![series(vec![1, 2, 3], vec![sample(1)])],
                    ..ok.clone()
                },
                "timeseries 0: odd number of label refs (3)",
            ),
            (
                v2::Request {
                    timeseries: vec![series(vec![1, 2], vec![])],
                    ..ok.clone()
                },
                "timeseries 0: no samples and no histograms",
            ),
            (
                v2::Request {
                    timeseries: vec![series(vec![1, 2], vec![sample(2), sample(1)])],
                    ..ok.clone()
                },
                "timeseries 0: samples not in timestamp order",
            ),
            (
                v2::Request {
                    timeseries: vec![series(vec![], vec![sample(1)])],
                    ..ok.clone()
                },
                "timeseries 0: labels_refs must be provided",
            ),
        ];
        for (req, want) in cases {
            assert_eq!(decode_v2(&body(&req)).unwrap_err(), want);
        }
        assert_eq!(
            decode_v2(b"\xff\xff\xff\xff\x0f").unwrap_err(),
            "decoded size 4294967295 exceeds the limit of 67108864 bytes"
        );
        assert!(decode_v2(b"\x05\x00").unwrap_err().starts_with("snappy: "));
    }

    #[test]
    fn content_types_are_the_specs_three() {
        assert_eq!(
            message_of(Some("application/x-protobuf")),
            Some(Message2::V1)
        );
        assert_eq!(
            message_of(Some("application/x-protobuf;proto=prometheus.WriteRequest")),
            Some(Message2::V1)
        );
        assert_eq!(message_of(Some(CONTENT_TYPE_V2)), Some(Message2::V2));
        assert_eq!(message_of(Some("application/json")), None);
        assert_eq!(message_of(None), None);
    }
}
