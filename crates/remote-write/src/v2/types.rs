//! `io.prometheus.write.v2` messages (Prometheus' `prompb/io/prometheus/write/v2/types.proto`,
//! the schema of the remote write 2.0 spec), hand-written for prost so no `protoc` is needed.
//!
//! The sender does not build these (the [`Codec`](super::Codec) writes the wire format straight
//! from queued series); they are what a receiver decodes, and what the tests compare against.
//! Native histograms (field 3 of `TimeSeries`) are not modelled: they are skipped as unknown
//! fields when decoding.

use prost::Message;

/// `io.prometheus.write.v2.Request`. Fields 1 to 3 are reserved so a 1.0 receiver that decodes
/// it as `prometheus.WriteRequest` sees an empty message.
#[derive(Clone, PartialEq, Message)]
pub struct Request {
    /// Field 4: the interned strings; index 0 is always `""`.
    #[prost(string, repeated, tag = "4")]
    pub symbols: Vec<String>,
    /// Field 5: the series.
    #[prost(message, repeated, tag = "5")]
    pub timeseries: Vec<TimeSeries>,
}

/// `io.prometheus.write.v2.TimeSeries`.
#[derive(Clone, PartialEq, Message)]
pub struct TimeSeries {
    /// Field 1: label name and value refs into [`Request::symbols`], pairwise, sorted by name.
    #[prost(uint32, repeated, tag = "1")]
    pub labels_refs: Vec<u32>,
    /// Field 2: float samples, oldest first.
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<Sample>,
    /// Field 4: exemplars of these samples.
    #[prost(message, repeated, tag = "4")]
    pub exemplars: Vec<Exemplar>,
    /// Field 5: type, help and unit.
    #[prost(message, optional, tag = "5")]
    pub metadata: Option<Metadata>,
}

/// `io.prometheus.write.v2.Sample`.
#[derive(Clone, PartialEq, Message)]
pub struct Sample {
    /// Field 1.
    #[prost(double, tag = "1")]
    pub value: f64,
    /// Field 2: milliseconds since the epoch.
    #[prost(int64, tag = "2")]
    pub timestamp: i64,
    /// Field 3: when the counter started (the "created timestamp"), ms; 0 means unset.
    #[prost(int64, tag = "3")]
    pub start_timestamp: i64,
}

/// `io.prometheus.write.v2.Exemplar`.
#[derive(Clone, PartialEq, Message)]
pub struct Exemplar {
    /// Field 1: label refs, pairwise.
    #[prost(uint32, repeated, tag = "1")]
    pub labels_refs: Vec<u32>,
    /// Field 2.
    #[prost(double, tag = "2")]
    pub value: f64,
    /// Field 3: milliseconds since the epoch.
    #[prost(int64, tag = "3")]
    pub timestamp: i64,
}

/// `io.prometheus.write.v2.Metadata`.
#[derive(Clone, PartialEq, Message)]
pub struct Metadata {
    /// Field 1: a [`MetricType`] number.
    #[prost(int32, tag = "1")]
    pub r#type: i32,
    /// Field 3: ref of the help text (0: none).
    #[prost(uint32, tag = "3")]
    pub help_ref: u32,
    /// Field 4: ref of the unit (0: none).
    #[prost(uint32, tag = "4")]
    pub unit_ref: u32,
}

/// `io.prometheus.write.v2.Metadata.MetricType`: the numbers on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(u8)]
pub enum MetricType {
    /// `METRIC_TYPE_UNSPECIFIED` (0): unknown or untyped.
    #[default]
    Unspecified = 0,
    /// `METRIC_TYPE_COUNTER` (1).
    Counter = 1,
    /// `METRIC_TYPE_GAUGE` (2).
    Gauge = 2,
    /// `METRIC_TYPE_HISTOGRAM` (3).
    Histogram = 3,
    /// `METRIC_TYPE_GAUGEHISTOGRAM` (4).
    GaugeHistogram = 4,
    /// `METRIC_TYPE_SUMMARY` (5).
    Summary = 5,
    /// `METRIC_TYPE_INFO` (6).
    Info = 6,
    /// `METRIC_TYPE_STATESET` (7).
    StateSet = 7,
}

impl MetricType {
    /// The type of a `# TYPE` word of the text formats (`counter`, `gaugehistogram`, …);
    /// `Unspecified` for `untyped`, `unknown` and anything else.
    pub fn from_type_name(name: &str) -> MetricType {
        match name {
            "counter" => MetricType::Counter,
            "gauge" => MetricType::Gauge,
            "histogram" => MetricType::Histogram,
            "gaugehistogram" => MetricType::GaugeHistogram,
            "summary" => MetricType::Summary,
            "info" => MetricType::Info,
            "stateset" => MetricType::StateSet,
            _ => MetricType::Unspecified,
        }
    }

    /// The type with this wire number, `Unspecified` for unknown numbers.
    pub fn from_number(n: u64) -> MetricType {
        match n {
            1 => MetricType::Counter,
            2 => MetricType::Gauge,
            3 => MetricType::Histogram,
            4 => MetricType::GaugeHistogram,
            5 => MetricType::Summary,
            6 => MetricType::Info,
            7 => MetricType::StateSet,
            _ => MetricType::Unspecified,
        }
    }
}
