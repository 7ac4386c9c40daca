//! Remote write 2.0 (`io.prometheus.write.v2.Request`): the encoder, the content
//! negotiation with 1.0 receivers, and the message types.
//!
//! # How it fits the queue
//!
//! The queue keeps storing one *series record* per sample at append time
//! ([`write_series`]): a 1.0 `TimeSeries` (labels as strings, samples, exemplars) plus, when
//! known, metadata and the created timestamp in two private fields. Without those extras a
//! record is exactly what the 1.0 queue stores today, so nothing changes on the append path
//! until metadata and exemplars reach the appender.
//!
//! When a shard sends, a [`Codec`] (one per shard) turns the
//! batch's records into a request of the endpoint's current [`WriteMessage`]: for 2.0 it
//! interns every string into the request's symbol table (index 0 is `""`), writes label refs,
//! samples (the created timestamp as each sample's `start_timestamp`), exemplars and metadata
//! refs, then snappy-compresses the body; for 1.0 it concatenates the records (dropping the
//! private fields) and compresses. `send_negotiated` (crate-private) sends it and handles what the spec
//! says about 1.0 receivers: a `415 Unsupported Media Type` answer to a 2.0 request, or a 2xx
//! answer without any `X-Prometheus-Remote-Write-*-Written` header (a 1.0 receiver that
//! decoded the 2.0 body as an empty 1.0 message), makes the endpoint's [`Negotiation`] fall
//! back to 1.0 for good (logged once), and the same records are sent again at once as 1.0.
//!
//! In the queue (`lib.rs`): one `Negotiation` per queue (built from
//! [`RemoteWriteConfig::write_message`](crate::RemoteWriteConfig::write_message)), one
//! `Codec` per shard. `send_batch` builds the request in `negotiation.message()` from the
//! batch's per-sample slices that pass `sample_age_limit` (a 1.0 request from the queue's
//! plain records is their concatenation, [`Codec::request_v1_plain`]), keeps a 2.0 request's
//! batch until the request is done, and makes every attempt of its one retry loop through
//! `send_negotiated`, whichever the message.
//!
//! # Receivers
//!
//! No receiver installed here speaks 2.0 (Debian's Prometheus is 2.42, VictoriaMetrics
//! 1.79), so the protocol is tested against `scrapeline_testkit::rw2`, a receiver written from
//! the spec with its own decoder. Those two real 1.x receivers are used for the negotiation:
//! both decode a 2.0 body as an empty 1.0 request and answer 204 without `Written` headers,
//! which falls back to 1.0, after which the batch is queryable in each.
//!
//! # Created timestamps
//!
//! The spec (2.0-rc.4) and Prometheus from 3.9 carry the created ("start") timestamp per
//! sample (`Sample.start_timestamp`, field 3); Prometheus 3.0 to 3.8 had it per series
//! (`TimeSeries.created_timestamp`, field 6, now reserved). Only the former is sent.

mod encoder;
mod pairs;
mod record;
mod symbols;
pub mod types;
mod wire;

use std::sync::atomic::{AtomicBool, Ordering};

pub use encoder::{Codec, EncodeError, Encoded, EncodedRequest};
pub use record::{Exemplar, Metadata, SeriesExtras, extend_last_record, write_series};
pub use symbols::{SymbolOverflow, SymbolTable};
pub use types::MetricType;
pub use wire::Malformed;

use crate::client::{Client, MessageError, SendError};

/// The protobuf message of a remote write request: `protobuf_message` in the config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum WriteMessage {
    /// `prometheus.WriteRequest`: remote write 1.0 (the default).
    #[default]
    V1,
    /// `io.prometheus.write.v2.Request`: remote write 2.0.
    V2,
}

impl WriteMessage {
    /// The fully qualified message name, as configured.
    pub const fn name(self) -> &'static str {
        match self {
            WriteMessage::V1 => "prometheus.WriteRequest",
            WriteMessage::V2 => "io.prometheus.write.v2.Request",
        }
    }

    /// The message with this fully qualified name.
    pub fn from_name(name: &str) -> Option<WriteMessage> {
        [WriteMessage::V1, WriteMessage::V2]
            .into_iter()
            .find(|m| m.name() == name)
    }

    /// The request's `Content-Type` (1.0 without the `proto` parameter, for 1.x receivers).
    pub const fn content_type(self) -> &'static str {
        match self {
            WriteMessage::V1 => "application/x-protobuf",
            WriteMessage::V2 => "application/x-protobuf;proto=io.prometheus.write.v2.Request",
        }
    }

    /// The request's `X-Prometheus-Remote-Write-Version`.
    pub const fn version(self) -> &'static str {
        match self {
            WriteMessage::V1 => "0.1.0",
            WriteMessage::V2 => "2.0.0",
        }
    }
}

impl std::fmt::Display for WriteMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Samples, histograms and exemplars in a request, or as a receiver confirmed them in its
/// `X-Prometheus-Remote-Write-{Samples,Histograms,Exemplars}-Written` headers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WrittenCounts {
    /// Float samples.
    pub samples: u64,
    /// Native histogram samples.
    pub histograms: u64,
    /// Exemplars.
    pub exemplars: u64,
}

impl WrittenCounts {
    /// Whether nothing at all is counted.
    pub fn is_empty(&self) -> bool {
        self.samples == 0 && self.histograms == 0 && self.exemplars == 0
    }
}

/// Which message one endpoint is sent: the configured one until a 1.0 receiver shows it
/// does not take 2.0, then 1.0 for the rest of the queue's life. Shared by the queue's shards.
#[derive(Debug)]
pub struct Negotiation {
    configured: WriteMessage,
    fell_back: AtomicBool,
}

impl Negotiation {
    /// Starts with the configured message.
    pub fn new(configured: WriteMessage) -> Negotiation {
        Negotiation {
            configured,
            fell_back: AtomicBool::new(false),
        }
    }

    /// The message to build requests in now.
    pub fn message(&self) -> WriteMessage {
        if self.fell_back.load(Ordering::Relaxed) {
            WriteMessage::V1
        } else {
            self.configured
        }
    }

    /// Switches to 1.0; the first call (only) logs why, and returns true.
    pub fn fall_back(&self, remote_name: &str, url: &str, reason: &str) -> bool {
        let first = self
            .fell_back
            .compare_exchange(false, true, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok();
        if first {
            tracing::warn!(
                remote_name,
                url,
                reason,
                "remote write receiver does not accept io.prometheus.write.v2.Request; falling back to prometheus.WriteRequest (remote write 1.0) for this endpoint"
            );
        }
        first
    }
}

/// One attempt at sending `request`, with the spec's content negotiation: when the endpoint
/// answers a 2.0 request the way a 1.0 receiver does (415, or 2xx without `Written`
/// headers), `negotiation` falls back to 1.0 (logged once per endpoint), `request` is
/// rebuilt as 1.0 from `records` (the same records it was built from) and sent at once.
/// Returns what the receiver confirmed (the request's own counts where a 1.0 receiver
/// confirms nothing); errors are classified for the queue's retry loop as before (a 1.0
/// request answered 415 is a permanent error).
pub(crate) async fn send_negotiated<'r, I>(
    client: &Client,
    negotiation: &Negotiation,
    codec: &mut Codec,
    request: &mut EncodedRequest,
    records: impl Fn() -> I,
    remote_name: &str,
    url: &str,
) -> Result<WrittenCounts, SendError>
where
    I: IntoIterator<Item = &'r [u8]>,
{
    match client.send_message(request).await {
        Ok(counts) => Ok(counts),
        Err(MessageError::Unsupported(reason)) => {
            negotiation.fall_back(remote_name, url, &reason);
            *request = codec
                .request(WriteMessage::V1, records())
                .map_err(|e| SendError::Permanent(e.to_string()))?;
            client
                .send_message(request)
                .await
                .map_err(MessageError::into_send_error)
        }
        Err(MessageError::Failed(e)) => Err(e),
    }
}

#[cfg(test)]
mod queue_tests;
#[cfg(test)]
mod real_receivers;
#[cfg(test)]
mod tests;
