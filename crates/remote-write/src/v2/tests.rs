//! Remote write 2.0: the encoder's bytes against hand-checked ones and prost's, round trips
//! through the spec receiver's own decoder (`scrapeline_testkit::rw2`), and the content
//! negotiation against that receiver acting as 2.0, 1.x and broken receivers.

use std::sync::{Arc, Mutex};

use prost::Message;
use scrapeline_exposition::Labels;
use scrapeline_testkit::rw2::{self, Behavior, Message2, ReceivedSample, ReceivedSeries};

use super::*;
use crate::client::Client;

/// One series to queue: labels, samples, and the 2.0 extras.
struct Series {
    labels: Labels,
    samples: Vec<(f64, i64)>,
    metric_type: MetricType,
    help: &'static str,
    unit: &'static str,
    exemplars: Vec<(Labels, f64, i64)>,
    created: i64,
}

impl Series {
    fn plain(pairs: &[(&str, &str)], value: f64, t: i64) -> Series {
        Series {
            labels: Labels::from_pairs(pairs.iter().copied()),
            samples: vec![(value, t)],
            metric_type: MetricType::Unspecified,
            help: "",
            unit: "",
            exemplars: vec![],
            created: 0,
        }
    }

    fn record(&self) -> Vec<u8> {
        let exemplars: Vec<Exemplar<'_>> = self
            .exemplars
            .iter()
            .map(|(labels, value, timestamp_ms)| Exemplar {
                labels,
                value: *value,
                timestamp_ms: *timestamp_ms,
            })
            .collect();
        let mut out = Vec::new();
        write_series(
            &mut out,
            self.labels.iter(),
            self.samples.iter().copied(),
            &SeriesExtras {
                metadata: Metadata {
                    metric_type: self.metric_type,
                    help: self.help,
                    unit: self.unit,
                },
                exemplars: &exemplars,
                created_timestamp_ms: self.created,
            },
        );
        out
    }

    /// What the receiver should decode from it.
    fn expected(&self, message: Message2) -> ReceivedSeries {
        let pairs = |l: &Labels| {
            l.iter()
                .map(|l| (l.name.to_owned(), l.value.to_owned()))
                .collect()
        };
        let v2 = message == Message2::V2;
        let has_metadata = self.metric_type != MetricType::Unspecified
            || !self.help.is_empty()
            || !self.unit.is_empty();
        ReceivedSeries {
            labels: pairs(&self.labels),
            samples: self
                .samples
                .iter()
                .map(|&(value, timestamp)| ReceivedSample {
                    value,
                    timestamp,
                    start_timestamp: if v2 { self.created } else { 0 },
                })
                .collect(),
            histograms: 0,
            exemplars: self
                .exemplars
                .iter()
                .map(|(l, value, timestamp)| rw2::ReceivedExemplar {
                    labels: pairs(l),
                    value: *value,
                    timestamp: *timestamp,
                })
                .collect(),
            metadata: (v2 && has_metadata).then(|| rw2::ReceivedMetadata {
                metric_type: self.metric_type as i32,
                help: self.help.to_owned(),
                unit: self.unit.to_owned(),
            }),
        }
    }
}

fn example() -> Vec<Series> {
    vec![
        Series {
            metric_type: MetricType::Gauge,
            help: "h",
            ..Series::plain(&[("__name__", "up"), ("job", "node")], 1.0, 2)
        },
        Series {
            metric_type: MetricType::Gauge,
            help: "h",
            exemplars: vec![(Labels::from_pairs([("trace_id", "t")]), 0.5, 3)],
            created: 1,
            ..Series::plain(&[("__name__", "up"), ("job", "api")], 0.5, 3)
        },
    ]
}

/// A small request, checked byte by byte by hand against the 2.0 proto (field numbers and
/// wire types from `types.proto`), and against what prost writes for the same message.
#[test]
fn small_request_has_the_hand_checked_bytes() {
    let records: Vec<Vec<u8>> = example().iter().map(Series::record).collect();
    let mut codec = Codec::default();
    let e = codec
        .encode(WriteMessage::V2, records.iter().map(Vec::as_slice))
        .unwrap();
    assert_eq!(
        e.counts,
        WrittenCounts {
            samples: 2,
            histograms: 0,
            exemplars: 1
        }
    );
    let one = 1.0f64.to_le_bytes();
    let half = 0.5f64.to_le_bytes();
    let want = [
        // Request.symbols (field 4, LEN): "" first, then in first-use order.
        &[0x22, 0][..],
        &[0x22, 8],
        b"__name__",
        &[0x22, 2],
        b"up",
        &[0x22, 3],
        b"job",
        &[0x22, 4],
        b"node",
        &[0x22, 1],
        b"h",
        &[0x22, 3],
        b"api",
        &[0x22, 8],
        b"trace_id",
        &[0x22, 1],
        b"t",
        // Request.timeseries (field 5, LEN 25)
        &[0x2a, 25],
        //   labels_refs (field 1, packed): __name__=up job=node
        &[0x0a, 4, 1, 2, 3, 4],
        //   samples (field 2, LEN 11): value (1, I64) 1.0, timestamp (2, VARINT) 2
        &[0x12, 11, 0x09],
        &one,
        &[0x10, 2],
        //   metadata (field 5, LEN 4): type (1) GAUGE=2, help_ref (3) 5
        &[0x2a, 4, 0x08, 2, 0x18, 5],
        // Request.timeseries (field 5, LEN 44)
        &[0x2a, 44],
        &[0x0a, 4, 1, 2, 3, 6],
        //   sample: 0.5 at 3, start_timestamp (3, VARINT) 1
        &[0x12, 13, 0x09],
        &half,
        &[0x10, 3, 0x18, 1],
        //   exemplars (field 4, LEN 15): labels_refs trace_id=t, value (2, I64), timestamp (3)
        &[0x22, 15, 0x0a, 2, 7, 8, 0x11],
        &half,
        &[0x18, 3],
        &[0x2a, 4, 0x08, 2, 0x18, 5],
    ]
    .concat();
    assert_eq!(codec.last_uncompressed(), want.as_slice());

    let by_prost = types::Request {
        symbols: [
            "", "__name__", "up", "job", "node", "h", "api", "trace_id", "t",
        ]
        .map(String::from)
        .to_vec(),
        timeseries: vec![
            types::TimeSeries {
                labels_refs: vec![1, 2, 3, 4],
                samples: vec![types::Sample {
                    value: 1.0,
                    timestamp: 2,
                    start_timestamp: 0,
                }],
                exemplars: vec![],
                metadata: Some(types::Metadata {
                    r#type: MetricType::Gauge as i32,
                    help_ref: 5,
                    unit_ref: 0,
                }),
            },
            types::TimeSeries {
                labels_refs: vec![1, 2, 3, 6],
                samples: vec![types::Sample {
                    value: 0.5,
                    timestamp: 3,
                    start_timestamp: 1,
                }],
                exemplars: vec![types::Exemplar {
                    labels_refs: vec![7, 8],
                    value: 0.5,
                    timestamp: 3,
                }],
                metadata: Some(types::Metadata {
                    r#type: MetricType::Gauge as i32,
                    help_ref: 5,
                    unit_ref: 0,
                }),
            },
        ],
    };
    assert_eq!(by_prost.encode_to_vec(), want);

    // The body is that, snappy block compressed.
    let body = codec
        .encode(WriteMessage::V2, records.iter().map(Vec::as_slice))
        .unwrap()
        .body
        .to_vec();
    assert_eq!(
        snap::raw::Decoder::new().decompress_vec(&body).unwrap(),
        want
    );
}

/// Deterministic pseudo-random numbers for generated batches.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn generated(n: usize, seed: u64) -> Vec<Series> {
    let mut rng = Rng(seed);
    let helps = ["", "Requests served.", "Bytes in use; ü and 日本"];
    let units = ["", "bytes", "seconds"];
    (0..n)
        .map(|i| {
            let pod = format!("pod-{}", rng.below(40));
            let path = "p".repeat(rng.below(300) as usize);
            let mut pairs = vec![
                ("__name__".to_owned(), format!("metric_{}", rng.below(7))),
                (
                    "instance".to_owned(),
                    format!("10.0.{}.{}:9100", i % 3, rng.below(256)),
                ),
                ("namespace".to_owned(), "kube-system".to_owned()),
                ("pod".to_owned(), pod),
            ];
            if !path.is_empty() {
                pairs.push(("path".to_owned(), path));
            }
            let value = match rng.below(5) {
                0 => 0.0,
                1 => f64::from_bits(0x7ff0_0000_0000_0002), // stale marker
                2 => -1.5e300,
                _ => rng.below(1 << 40) as f64,
            };
            let t = 1_700_000_000_000 + rng.below(100_000) as i64;
            Series {
                labels: Labels::from_pairs(pairs.iter().map(|(a, b)| (a.as_str(), b.as_str()))),
                samples: vec![(value, t)],
                metric_type: MetricType::from_number(rng.below(8)),
                help: helps[rng.below(3) as usize],
                unit: units[rng.below(3) as usize],
                exemplars: (0..rng.below(3))
                    .map(|k| {
                        (
                            Labels::from_pairs([("trace_id", format!("{:x}", rng.next()))]),
                            k as f64 + 0.25,
                            t - 1,
                        )
                    })
                    .collect(),
                created: if rng.below(2) == 0 { 0 } else { t - 60_000 },
            }
        })
        .collect()
}

/// Compares decoded series with what was queued, NaN-safe (bits, not `==`).
fn assert_same(got: &[ReceivedSeries], want: &[ReceivedSeries]) {
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(want) {
        let bits = |s: &ReceivedSeries| {
            s.samples
                .iter()
                .map(|x| (x.value.to_bits(), x.timestamp, x.start_timestamp))
                .collect::<Vec<_>>()
        };
        assert_eq!(bits(g), bits(w), "{}", w.labels_text());
        let strip = |s: &ReceivedSeries| ReceivedSeries {
            samples: vec![],
            ..s.clone()
        };
        assert_eq!(strip(g), strip(w));
    }
}

/// What the encoder writes, the spec receiver's independent decoder reads back, in both
/// protocols, and accepts as valid 2.0.
#[test]
fn round_trip_through_the_spec_receivers_decoder() {
    let series = generated(500, 7);
    let records: Vec<Vec<u8>> = series.iter().map(Series::record).collect();
    let mut codec = Codec::default();

    let e = codec
        .encode(WriteMessage::V2, records.iter().map(Vec::as_slice))
        .unwrap();
    let exemplars: u64 = series.iter().map(|s| s.exemplars.len() as u64).sum();
    assert_eq!(
        e.counts,
        WrittenCounts {
            samples: 500,
            histograms: 0,
            exemplars
        }
    );
    let (symbols, got) = rw2::decode_v2(e.body).unwrap();
    let want: Vec<_> = series.iter().map(|s| s.expected(Message2::V2)).collect();
    assert_same(&got, &want);
    // Deduplicated: every string once.
    let mut sorted = symbols.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), symbols.len());

    // 1.0 from the same records: no metadata or start timestamps, exemplars kept, and no
    // private fields left (prost drops unknown fields, so re-encoding shows any).
    let e = codec
        .encode(WriteMessage::V1, records.iter().map(Vec::as_slice))
        .unwrap();
    assert_eq!(e.counts.samples, 500);
    assert_eq!(e.counts.exemplars, exemplars);
    let got = rw2::decode_v1(e.body).unwrap();
    let want: Vec<_> = series.iter().map(|s| s.expected(Message2::V1)).collect();
    assert_same(&got, &want);
    let raw = codec.last_uncompressed().to_vec();
    let reencoded = rw2::v1::WriteRequest::decode(&raw[..])
        .unwrap()
        .encode_to_vec();
    assert_eq!(raw, reencoded, "1.0 body has no private fields");

    // Records given as whole chunks (several back to back) encode the same.
    let joined = records.concat();
    let whole = codec
        .encode(WriteMessage::V2, [joined.as_slice()])
        .unwrap()
        .body
        .to_vec();
    let per_record = codec
        .encode(WriteMessage::V2, records.iter().map(Vec::as_slice))
        .unwrap()
        .body
        .to_vec();
    assert_eq!(whole, per_record);
}

/// 1.0 requests built from plain records are the records back to back: what the 1.0 queue
/// sends today.
#[test]
fn v1_from_plain_records_is_their_concatenation() {
    let series = [
        Series::plain(&[("__name__", "a")], 1.0, 1),
        Series::plain(&[("__name__", "b"), ("x", "y")], 2.0, 2),
    ];
    let records: Vec<Vec<u8>> = series.iter().map(Series::record).collect();
    let mut codec = Codec::default();
    codec
        .encode(WriteMessage::V1, records.iter().map(Vec::as_slice))
        .unwrap();
    assert_eq!(codec.last_uncompressed(), records.concat());
}

/// Labels with an empty value (absent in Prometheus) and series without samples are left
/// out of 2.0 requests, which the spec forbids; an empty batch is a valid empty request.
#[test]
fn what_the_spec_forbids_is_left_out() {
    // `Labels` never holds an empty value; a record written from other labels may.
    let mut with_empty = Vec::new();
    write_series(
        &mut with_empty,
        [("__name__", "a"), ("empty", ""), ("", "noname")]
            .into_iter()
            .map(|(name, value)| scrapeline_exposition::Label { name, value }),
        std::iter::once((1.0, 1)),
        &SeriesExtras::default(),
    );
    let records = [
        with_empty,
        Series {
            samples: vec![],
            ..Series::plain(&[("__name__", "nosamples"), ("job", "j")], 0.0, 0)
        }
        .record(),
        // Its pair job="j" was rolled back with the series above: interned again here.
        Series::plain(&[("__name__", "b"), ("job", "j")], 2.0, 2).record(),
    ];
    let mut codec = Codec::default();
    let e = codec
        .encode(WriteMessage::V2, records.iter().map(Vec::as_slice))
        .unwrap();
    assert_eq!(e.counts.samples, 2);
    let (symbols, got) = rw2::decode_v2(e.body).unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].labels_text(), "{__name__=\"a\"}");
    assert_eq!(got[1].labels_text(), "{__name__=\"b\", job=\"j\"}");
    assert_eq!(symbols, ["", "__name__", "a", "b", "job", "j"]);

    let e = codec.encode(WriteMessage::V2, []).unwrap();
    assert_eq!(e.counts, WrittenCounts::default());
    assert_eq!(codec.last_uncompressed(), [0x22, 0]);
}

/// Once a codec has built a request of some size, building more of that size grows none of
/// its buffers: no allocation per batch in steady state.
#[test]
fn steady_state_reuses_every_buffer() {
    let batches: Vec<Vec<Vec<u8>>> = (0..6)
        .map(|i| generated(400, 100 + i).iter().map(Series::record).collect())
        .collect();
    let mut codec = Codec::default();
    // Warm up on the largest of them, in both protocols.
    for b in &batches {
        for m in [WriteMessage::V2, WriteMessage::V1] {
            codec.encode(m, b.iter().map(Vec::as_slice)).unwrap();
        }
    }
    let warm = codec.capacities();
    for _ in 0..3 {
        for (i, b) in batches.iter().enumerate() {
            for m in [WriteMessage::V2, WriteMessage::V1] {
                let e = codec.encode(m, b.iter().map(Vec::as_slice)).unwrap();
                // Label pairs cached from earlier requests resolve to this request's refs.
                if m == WriteMessage::V2 {
                    let (_, got) = rw2::decode_v2(e.body).unwrap();
                    let want: Vec<_> = generated(400, 100 + i as u64)
                        .iter()
                        .map(|s| s.expected(Message2::V2))
                        .collect();
                    assert_same(&got, &want);
                }
                assert_eq!(codec.capacities(), warm);
            }
        }
    }
}

/// Records that are not what `write_series` writes (a corrupted queue or WAL) are an error,
/// never a panic.
#[test]
fn malformed_records_are_errors() {
    let mut codec = Codec::default();
    let e = codec.encode(WriteMessage::V2, [&[0x0a, 0x05, 0x0a][..]]);
    assert_eq!(
        e.unwrap_err().to_string(),
        "queued series record: malformed protobuf at byte 2: field runs past the end"
    );
    let good = generated(20, 3)
        .iter()
        .map(Series::record)
        .collect::<Vec<_>>()
        .concat();
    let mut rng = Rng(99);
    for _ in 0..2000 {
        let mut bad = good.clone();
        for _ in 0..1 + rng.below(4) {
            let at = rng.below(bad.len() as u64) as usize;
            bad[at] = rng.next() as u8;
        }
        bad.truncate(rng.below(bad.len() as u64 + 1) as usize);
        for m in [WriteMessage::V2, WriteMessage::V1] {
            // Ok or Err, but whatever is Ok must decode.
            if let Ok(e) = codec.encode(m, [bad.as_slice()]) {
                let body = e.body.to_vec();
                match m {
                    WriteMessage::V2 => {
                        let raw = snap::raw::Decoder::new().decompress_vec(&body).unwrap();
                        types::Request::decode(&raw[..]).unwrap();
                    }
                    WriteMessage::V1 => {
                        rw2::decode_v1(&body).unwrap();
                    }
                }
            }
        }
    }
}

// ---- over HTTP, against the spec receiver ----

#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn client_for(url: &str) -> Client {
    let cfg = crate::tests::config(url, "protobuf_message: io.prometheus.write.v2.Request\n");
    cfg.validate().unwrap();
    assert_eq!(cfg.write_message(), WriteMessage::V2);
    Client::new(&cfg).unwrap()
}

/// A 2.0 request carries the spec's headers; the receiver's `Written` headers are read back.
#[tokio::test]
async fn v2_requests_carry_the_spec_headers_and_written_counts() {
    let rx = rw2::Receiver::start(Behavior::Spec).await;
    let client = client_for(&rx.url());
    let negotiation = Negotiation::new(WriteMessage::V2);
    let mut codec = Codec::default();
    let series = example();
    let records: Vec<Vec<u8>> = series.iter().map(Series::record).collect();
    let recs = || records.iter().map(Vec::as_slice);
    let mut req = codec.request(negotiation.message(), recs()).unwrap();
    let written = send_negotiated(&client, &negotiation, &mut codec, &mut req, recs, "q", "u")
        .await
        .unwrap();
    assert_eq!(
        written,
        WrittenCounts {
            samples: 2,
            histograms: 0,
            exemplars: 1
        }
    );
    assert_eq!(negotiation.message(), WriteMessage::V2);
    let seen = rx.requests();
    assert_eq!(seen.len(), 1);
    let r = &seen[0];
    assert_eq!((r.status, r.error.as_str()), (204, ""));
    assert_eq!(r.message, Some(Message2::V2));
    let h = |k: &str| r.headers.get(k).map(String::as_str);
    assert_eq!(
        h("content-type"),
        Some("application/x-protobuf;proto=io.prometheus.write.v2.Request")
    );
    assert_eq!(h("x-prometheus-remote-write-version"), Some("2.0.0"));
    assert_eq!(h("content-encoding"), Some("snappy"));
    assert_eq!(h("user-agent"), Some(crate::USER_AGENT));
    let want: Vec<_> = series.iter().map(|s| s.expected(Message2::V2)).collect();
    assert_eq!(r.series, want);
    assert_eq!(r.symbols[0], "");

    // The 1.0 path of the same client still sends 1.0's headers.
    let v1 = codec
        .request(WriteMessage::V1, records.iter().map(Vec::as_slice))
        .unwrap();
    client.send_message(&v1).await.unwrap();
    let seen = rx.requests();
    assert_eq!(
        seen[1].headers.get("content-type").unwrap(),
        "application/x-protobuf"
    );
    assert_eq!(
        seen[1]
            .headers
            .get("x-prometheus-remote-write-version")
            .unwrap(),
        "0.1.0"
    );
}

/// A 1.x receiver answers 2.0 with 415: the endpoint falls back to 1.0 for good, the batch
/// is sent again as 1.0 at once, and the fallback is logged once however many requests
/// were already built as 2.0.
#[tokio::test(flavor = "current_thread")]
async fn a_415_makes_the_endpoint_fall_back_to_v1_logged_once() {
    let logs = LogBuffer::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let rx = rw2::Receiver::start(Behavior::RejectsV2).await;
    let client = client_for(&rx.url());
    let negotiation = Negotiation::new(WriteMessage::V2);
    let mut codec = Codec::default();
    let series = example();
    let records: Vec<Vec<u8>> = series.iter().map(Series::record).collect();
    let recs = || records.iter().map(Vec::as_slice);
    // Two shards built 2.0 requests before either heard back.
    let mut a = codec.request(negotiation.message(), recs()).unwrap();
    let mut b = codec.request(negotiation.message(), recs()).unwrap();
    for req in [&mut a, &mut b] {
        let written = send_negotiated(
            &client,
            &negotiation,
            &mut codec,
            req,
            recs,
            "q",
            "http://rx",
        )
        .await
        .unwrap();
        // A 1.0 receiver confirms nothing: the request's own counts.
        assert_eq!(written.samples, 2);
        assert_eq!(req.message, WriteMessage::V1);
    }
    assert_eq!(negotiation.message(), WriteMessage::V1);
    // Later batches are built as 1.0 from the start.
    let mut c = codec.request(negotiation.message(), recs()).unwrap();
    send_negotiated(
        &client,
        &negotiation,
        &mut codec,
        &mut c,
        recs,
        "q",
        "http://rx",
    )
    .await
    .unwrap();

    let seen: Vec<(Option<Message2>, u16)> = rx
        .requests()
        .iter()
        .map(|r| (r.message, r.status))
        .collect();
    assert_eq!(
        seen,
        [
            (Some(Message2::V2), 415),
            (Some(Message2::V1), 204),
            (Some(Message2::V2), 415),
            (Some(Message2::V1), 204),
            (Some(Message2::V1), 204),
        ]
    );
    let want: Vec<_> = series.iter().map(|s| s.expected(Message2::V1)).collect();
    assert_eq!(rx.requests()[1].series, want);

    let logged = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert_eq!(
        logged
            .matches("falling back to prometheus.WriteRequest")
            .count(),
        1,
        "{logged}"
    );
    assert!(
        logged.contains(
            "server returned HTTP status 415 Unsupported Media Type: unsupported Content-Type"
        ),
        "{logged}"
    );
    assert!(
        logged.contains("remote_name=\"q\"") || logged.contains("remote_name=q"),
        "{logged}"
    );
}

/// A 1.x receiver that ignores `Content-Type` decodes a 2.0 body as an empty 1.0 request
/// and answers 204 without `Written` headers; the spec says to treat that as 415, so the
/// data is sent again as 1.0 instead of being lost.
#[tokio::test]
async fn a_2xx_without_written_headers_counts_as_415() {
    let rx = rw2::Receiver::start(Behavior::IgnoresContentType).await;
    let client = client_for(&rx.url());
    let negotiation = Negotiation::new(WriteMessage::V2);
    let mut codec = Codec::default();
    let series = example();
    let records: Vec<Vec<u8>> = series.iter().map(Series::record).collect();
    let recs = || records.iter().map(Vec::as_slice);
    let mut req = codec.request(WriteMessage::V2, recs()).unwrap();
    send_negotiated(&client, &negotiation, &mut codec, &mut req, recs, "q", "u")
        .await
        .unwrap();
    assert_eq!(negotiation.message(), WriteMessage::V1);
    let seen = rx.requests();
    assert_eq!(seen.len(), 2);
    assert_eq!((seen[0].message, seen[0].status), (Some(Message2::V2), 204));
    assert!(
        seen[0].series.is_empty(),
        "the reserved fields 1-3 make it an empty 1.0 message"
    );
    assert_eq!(seen[1].message, Some(Message2::V1));
    let want: Vec<_> = series.iter().map(|s| s.expected(Message2::V1)).collect();
    assert_eq!(seen[1].series, want);

    // Without negotiation (a queue that cannot fall back), it is a permanent error.
    let req = codec.request(WriteMessage::V2, recs()).unwrap();
    let err = client
        .send_message(&req)
        .await
        .unwrap_err()
        .into_send_error();
    assert_eq!(
        err,
        SendError::Permanent(
            "server returned HTTP status 204 No Content to a io.prometheus.write.v2.Request request \
             without any X-Prometheus-Remote-Write-*-Written header; assuming 415 Unsupported \
             Media Type (a 1.0 receiver that does not check the Content-Type)"
                .to_owned()
        )
    );
}

/// A receiver that confirms writing nothing of a non-empty request has failed it
/// (Prometheus' check and message); no fallback, since it did speak 2.0.
#[tokio::test]
async fn written_headers_confirming_nothing_are_a_permanent_error() {
    let rx = rw2::Receiver::start(Behavior::ConfirmsNothing).await;
    let client = client_for(&rx.url());
    let negotiation = Negotiation::new(WriteMessage::V2);
    let mut codec = Codec::default();
    let records: Vec<Vec<u8>> = example().iter().map(Series::record).collect();
    let recs = || records.iter().map(Vec::as_slice);
    let mut req = codec.request(WriteMessage::V2, recs()).unwrap();
    let err = send_negotiated(&client, &negotiation, &mut codec, &mut req, recs, "q", "u")
        .await
        .unwrap_err();
    assert_eq!(
        err,
        SendError::Permanent(
            "sent v2 request with 2 samples, 0 histograms and 1 exemplars; got 2xx, but PRW 2.0 \
             response header statistics indicate 0 samples, 0 histograms and 0 exemplars were \
             accepted; assumining failure e.g. the target only supports PRW 1.0 \
             prometheus.WriteRequest, but does not check the Content-Type header correctly"
                .to_owned()
        )
    );
    assert_eq!(negotiation.message(), WriteMessage::V2);
    assert_eq!(rx.requests().len(), 1);
}

/// Server errors on a 2.0 request are retried by the queue as for 1.0 (no fallback), and
/// the `Written` headers of an accepted 1.0 request are read when a receiver sends them.
#[tokio::test]
async fn other_answers_keep_their_classification() {
    let rx = rw2::Receiver::start(Behavior::Spec).await;
    let client = client_for(&rx.url());
    let mut codec = Codec::default();
    let records: Vec<Vec<u8>> = example().iter().map(Series::record).collect();
    let v1 = codec
        .request(WriteMessage::V1, records.iter().map(Vec::as_slice))
        .unwrap();
    assert_eq!(
        client.send_message(&v1).await.unwrap(),
        WrittenCounts {
            samples: 2,
            histograms: 0,
            exemplars: 1
        }
    );
    // Nothing listens on port 1: a recoverable error, not a fallback.
    let client = client_for("http://127.0.0.1:1/api/v1/write");
    let v2 = codec
        .request(WriteMessage::V2, records.iter().map(Vec::as_slice))
        .unwrap();
    assert!(matches!(
        client.send_message(&v2).await,
        Err(MessageError::Failed(SendError::Recoverable { .. }))
    ));
}
