//! A reader that follows the log: the checkpoint first, then segment after segment up to the
//! committed head, picking up new commits as they come.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use crate::record::{self, Record};
use crate::segment;
use crate::{Position, Wal};

/// What [`Reader::next`] yields: a record and where it ends (save that to resume after it).
pub type ReaderEvent = (Record, Position);

/// Reads a [`Wal`] from its start (checkpoint and all segments), delivering records that end
/// at or before `samples_from` as series only: a reader that resumes at a saved position
/// still learns every series ref but does not see the samples it already handled.
pub struct Reader {
    wal: Arc<Wal>,
    samples_from: Position,
    checkpoint_samples: bool,
    checkpoint: Option<VecDeque<ReaderEvent>>,
    file: Option<BufReader<File>>,
    pos: Position,
    body: Vec<u8>,
}

impl Reader {
    /// A reader of `wal` delivering samples of records that end after `samples_from`, and
    /// the checkpoint's samples when `checkpoint_samples` (a store replaying its log).
    pub fn new(wal: Arc<Wal>, samples_from: Position, checkpoint_samples: bool) -> Reader {
        Reader {
            wal,
            samples_from,
            checkpoint_samples,
            checkpoint: None,
            file: None,
            pos: Position::default(),
            body: Vec::new(),
        }
    }

    /// Where the next read starts.
    pub fn position(&self) -> Position {
        self.pos
    }

    fn load_checkpoint(&mut self) -> VecDeque<ReaderEvent> {
        let mut out = VecDeque::new();
        let Some((n, dir)) = crate::checkpoint::latest(&self.wal.dir) else {
            return out;
        };
        let at = Position {
            segment: n,
            offset: u64::from(u32::MAX),
        };
        let with_samples = self.checkpoint_samples;
        let _ = crate::wal::scan(&segment::path(&dir, 0), &mut |body| {
            if !with_samples && record::record_type(body) == Some(record::TYPE_SAMPLES) {
                return;
            }
            if let Ok(r) = record::decode(body) {
                out.push_back((r, at));
            }
        });
        // Segments up to the checkpoint's are gone: reading starts after it.
        if self.pos.segment <= n {
            self.pos = Position {
                segment: n.saturating_add(1),
                offset: 0,
            };
        }
        out
    }

    /// The next record, or `None` when the reader is at the committed head (call again after
    /// [`Wal::subscribe`]'s receiver changes). A damaged record ends its segment for the
    /// reader (counted and logged once per segment): it goes on with the next one.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Option<ReaderEvent> {
        if self.checkpoint.is_none() {
            let cp = self.load_checkpoint();
            self.checkpoint = Some(cp);
        }
        if let Some(ev) = self.checkpoint.as_mut().and_then(VecDeque::pop_front) {
            return Some(ev);
        }
        loop {
            let head = self.wal.head();
            if self.file.is_none() {
                let segments = segment::list(&self.wal.dir).ok()?;
                let seg = segments.into_iter().find(|s| *s >= self.pos.segment)?;
                if seg > head.segment {
                    return None;
                }
                if seg != self.pos.segment {
                    self.pos = Position {
                        segment: seg,
                        offset: 0,
                    };
                }
                let mut f = File::open(segment::path(&self.wal.dir, seg)).ok()?;
                f.seek(SeekFrom::Start(self.pos.offset)).ok()?;
                self.file = Some(BufReader::with_capacity(1 << 18, f));
            }
            let live = self.pos.segment == head.segment;
            if live && self.pos.offset >= head.offset {
                return None;
            }
            match self.read_frame(live.then_some(head.offset)) {
                Step::Record(end) => {
                    self.pos = end;
                    let before = end <= self.samples_from;
                    if before && record::record_type(&self.body) == Some(record::TYPE_SAMPLES) {
                        continue;
                    }
                    match record::decode(&self.body) {
                        Ok(r) => return Some((r, end)),
                        Err(_) => {
                            self.damaged("undecodable record");
                        }
                    }
                }
                Step::End => self.next_segment(),
                Step::Damaged(why) => self.damaged(why),
                Step::Wait => return None,
            }
        }
    }

    fn next_segment(&mut self) {
        self.file = None;
        self.pos = Position {
            segment: self.pos.segment.saturating_add(1),
            offset: 0,
        };
    }

    fn damaged(&mut self, why: &str) {
        self.wal.metrics.corruptions.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(
            segment = self.pos.segment,
            offset = self.pos.offset,
            err = why,
            "WAL reader skipping the rest of a damaged segment"
        );
        self.next_segment();
    }

    /// Reads the frame at the reader's position into `self.body`; `limit` is the committed
    /// end when this is the segment being written.
    fn read_frame(&mut self, limit: Option<u64>) -> Step {
        let Some(f) = self.file.as_mut() else {
            return Step::End;
        };
        let mut header = [0u8; segment::HEADER];
        if let Err(e) = f.read_exact(&mut header) {
            return match (e.kind(), limit) {
                (std::io::ErrorKind::UnexpectedEof, None) => Step::End,
                (std::io::ErrorKind::UnexpectedEof, Some(_)) => {
                    self.file = None;
                    Step::Wait
                }
                _ => Step::Damaged("read error"),
            };
        }
        let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as u64;
        let sum = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
        if len == 0 || len > segment::MAX_BODY as u64 {
            return Step::Damaged("invalid record length");
        }
        let end = self.pos.offset + segment::HEADER as u64 + len;
        if limit.is_some_and(|l| end > l) {
            self.file = None;
            return Step::Wait;
        }
        self.body.resize(len as usize, 0);
        if f.read_exact(&mut self.body).is_err() {
            return Step::Damaged("truncated record");
        }
        if let Err(why) = segment::check_body(&self.body, sum) {
            return Step::Damaged(why);
        }
        Step::Record(Position {
            segment: self.pos.segment,
            offset: end,
        })
    }
}

enum Step {
    Record(Position),
    End,
    Damaged(&'static str),
    Wait,
}
