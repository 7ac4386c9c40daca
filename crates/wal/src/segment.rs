//! Segment files and the frames in them.
//!
//! A segment is a file named by its number, eight decimal digits (`00000000`, as Prometheus
//! names them), holding frames back to back. A frame is
//! `[body length: u32 LE][CRC-32 (IEEE) of the body: u32 LE][body]`, the body being a record
//! (see [`crate::record`]). A frame whose length runs past the end of the file, whose
//! checksum does not match, or whose body has no known type ends the readable part of its
//! segment: that is where [`crate::Wal::open`] truncates it.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::record;

/// Bytes before a frame's body.
pub const HEADER: usize = 8;
/// The largest body a frame may have: a longer length is damage, not a record.
pub const MAX_BODY: usize = 1 << 30;

/// The file of segment `n` in `dir`.
pub fn path(dir: &Path, n: u32) -> PathBuf {
    dir.join(format!("{n:08}"))
}

/// The segment numbers in `dir`, ascending (other files are ignored).
pub fn list(dir: &Path) -> io::Result<Vec<u32>> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir)? {
        let name = e?.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.len() == 8
            && name.bytes().all(|b| b.is_ascii_digit())
            && let Ok(n) = name.parse::<u32>()
        {
            out.push(n);
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// Appends the frame of `body` to `out`.
pub fn frame(out: &mut Vec<u8>, body: &[u8]) {
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc(body).to_le_bytes());
    out.extend_from_slice(body);
}

/// CRC-32 (IEEE, as zlib computes it).
pub fn crc(b: &[u8]) -> u32 {
    zlib_rs::crc32::crc32(0, b)
}

/// What the frame at the start of `buf` is.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame<'a> {
    /// A whole, valid frame: its body and its length with the header.
    Ok(&'a [u8], usize),
    /// `buf` ends inside the frame (or is empty): more bytes may still come.
    Incomplete,
    /// The frame is damaged: wrong checksum, impossible length or unknown type.
    Corrupt(&'static str),
}

/// Reads the frame at the start of `buf`.
pub fn parse(buf: &[u8]) -> Frame<'_> {
    let Some((header, rest)) = buf.split_first_chunk::<HEADER>() else {
        return Frame::Incomplete;
    };
    let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
    let sum = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    if len == 0 || len > MAX_BODY {
        return Frame::Corrupt("invalid record length");
    }
    let Some(body) = rest.get(..len) else {
        return Frame::Incomplete;
    };
    match check_body(body, sum) {
        Ok(()) => Frame::Ok(body, HEADER + len),
        Err(why) => Frame::Corrupt(why),
    }
}

/// Checks a body against its frame's checksum and for a known record type.
pub fn check_body(body: &[u8], sum: u32) -> Result<(), &'static str> {
    if crc(body) != sum {
        return Err("checksum mismatch");
    }
    match record::record_type(body) {
        Some(record::TYPE_SERIES | record::TYPE_SAMPLES) => Ok(()),
        _ => Err("unknown record type"),
    }
}

/// Where the valid frames of `buf` end and why: `None` when they fill it exactly, else the
/// reason the frame at that offset is unreadable (a torn tail counts as damage here: the
/// file is complete when this runs).
pub fn valid_prefix(buf: &[u8]) -> (usize, Option<&'static str>) {
    let mut at = 0;
    while at < buf.len() {
        match parse(buf.get(at..).unwrap_or_default()) {
            Frame::Ok(_, n) => at += n,
            Frame::Incomplete => return (at, Some("truncated record")),
            Frame::Corrupt(why) => return (at, Some(why)),
        }
    }
    (at, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_parse_and_damage_is_found() {
        let mut buf = Vec::new();
        frame(&mut buf, &[record::TYPE_SAMPLES]);
        frame(&mut buf, &[record::TYPE_SERIES, 1, 2]);
        assert_eq!(valid_prefix(&buf), (buf.len(), None));
        assert_eq!(parse(&buf), Frame::Ok(&[record::TYPE_SAMPLES][..], 9));
        let whole = buf.len();
        assert_eq!(
            valid_prefix(&buf[..whole - 1]),
            (9, Some("truncated record"))
        );
        buf[whole - 1] ^= 1;
        assert_eq!(valid_prefix(&buf), (9, Some("checksum mismatch")));
        assert_eq!(parse(&[0; 16]), Frame::Corrupt("invalid record length"));
        assert_eq!(parse(&[0; 3]), Frame::Incomplete);
    }

    #[test]
    fn lists_only_segment_names_in_order() {
        let d = tempfile::tempdir().unwrap();
        for n in [
            "00000002",
            "00000000",
            "checkpoint.00000001",
            "0000001",
            "x",
        ] {
            fs::write(d.path().join(n), b"").unwrap();
        }
        assert_eq!(list(d.path()).unwrap(), [0, 2]);
    }
}
