//! Remote write 1.0 messages (`prometheus/prompb/remote.proto`, `types.proto`), hand-written
//! for prost so no `protoc` is needed, and the snappy block framing of request bodies.

use prost::Message;

/// `prometheus.WriteRequest`.
#[derive(Clone, PartialEq, Message)]
pub struct WriteRequest {
    /// Field 1: the series.
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
}

/// `prometheus.TimeSeries`.
#[derive(Clone, PartialEq, Message)]
pub struct TimeSeries {
    /// Field 1: labels, sorted by name.
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    /// Field 2: samples, in timestamp order.
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<Sample>,
}

/// `prometheus.Label`.
#[derive(Clone, PartialEq, Message)]
pub struct Label {
    /// Field 1.
    #[prost(string, tag = "1")]
    pub name: String,
    /// Field 2.
    #[prost(string, tag = "2")]
    pub value: String,
}

/// `prometheus.Sample`.
#[derive(Clone, PartialEq, Message)]
pub struct Sample {
    /// Field 1.
    #[prost(double, tag = "1")]
    pub value: f64,
    /// Field 2: milliseconds since the epoch.
    #[prost(int64, tag = "2")]
    pub timestamp: i64,
}

/// Encodes `req` and compresses it with snappy's block format, as remote write requires.
pub fn encode(req: &WriteRequest) -> Result<Vec<u8>, snap::Error> {
    let raw = req.encode_to_vec();
    snap::raw::Encoder::new().compress_vec(&raw)
}

/// The inverse of [`encode`] (what a receiver does), refusing bodies that claim more than `limit` decoded bytes
/// before decompressing anything.
#[cfg(test)]
pub fn decode(body: &[u8], limit: usize) -> Result<WriteRequest, String> {
    let n = snap::raw::decompress_len(body).map_err(|e| e.to_string())?;
    if n > limit {
        return Err(format!(
            "decoded size {n} exceeds the limit of {limit} bytes"
        ));
    }
    let raw = snap::raw::Decoder::new()
        .decompress_vec(body)
        .map_err(|e| e.to_string())?;
    WriteRequest::decode(&raw[..]).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_format_matches_prompb() {
        let req = WriteRequest {
            timeseries: vec![TimeSeries {
                labels: vec![Label {
                    name: "a".into(),
                    value: "b".into(),
                }],
                samples: vec![Sample {
                    value: 1.0,
                    timestamp: 2,
                }],
            }],
        };
        // 0a LEN { 0a LEN {0a 01 'a' 12 01 'b'} 12 LEN {09 <f64 1.0> 10 02} }
        assert_eq!(
            req.encode_to_vec(),
            vec![
                0x0a, 0x15, 0x0a, 0x06, 0x0a, 0x01, b'a', 0x12, 0x01, b'b', 0x12, 0x0b, 0x09, 0, 0,
                0, 0, 0, 0, 0xf0, 0x3f, 0x10, 0x02
            ]
        );
        let body = encode(&req).unwrap();
        assert_eq!(decode(&body, 1 << 20).unwrap(), req);
        assert!(decode(&body, 4).unwrap_err().contains("exceeds the limit"));
        assert!(decode(b"\xff\xff\xff\xff\x0f", 1 << 20).is_err());
    }
}
