//! The decoders' view of the input bytes: a reader that hands them out in bounded
//! chunks and asks the job whether it may go on before each chunk.
//!
//! Every decoder here pulls its input through a reader, so this is the one place where a
//! running decode notices its deadline or a cancel, whatever the format: a decoder
//! never gets more than [`CHUNK`] bytes (or, for JPEG, more than one scan) between two
//! checks. When the check says stop, the reader fails the decoder's read with an I/O
//! error and keeps the job's own error, which the pipeline reports instead of the
//! decoder's.
//!
//! The reader can also hide byte ranges from the decoder (metadata that will be dropped,
//! such as a PNG's compressed ICC profile, is then never inflated), and it records
//! whether the decoder asked for bytes past the end (a truncated input).

use std::cell::Cell;
use std::io::{self, BufRead, Read, Seek, SeekFrom};

use crate::error::Error;

/// The most bytes handed to a decoder between two checks.
pub(crate) const CHUNK: usize = 16 * 1024;

/// Asks whether the job may go on; an `Err` stops it with that error.
pub(crate) type Check<'a> = &'a dyn Fn() -> Result<(), Error>;

/// What the readers of one job report back: the job's error once a check said stop,
/// and whether a decoder asked for bytes past the end. Shared by reference, so the
/// reader itself can be handed to a decoder by value.
pub(crate) struct Watch<'a> {
    check: Check<'a>,
    stopped: Cell<Option<Error>>,
    read_past_end: Cell<bool>,
}

impl<'a> Watch<'a> {
    /// Watches a decode with `check`.
    pub(crate) fn new(check: Check<'a>) -> Watch<'a> {
        Watch {
            check,
            stopped: Cell::new(None),
            read_past_end: Cell::new(false),
        }
    }

    /// The job's error, if a check stopped the decoder.
    pub(crate) fn stopped(&self) -> Option<Error> {
        self.stopped.take()
    }

    fn is_stopped(&self) -> bool {
        let e = self.stopped.take();
        let stopped = e.is_some();
        self.stopped.set(e);
        stopped
    }

    /// Whether a decoder asked for bytes past the end of the input.
    #[cfg_attr(not(feature = "mozjpeg"), allow(dead_code))]
    pub(crate) fn read_past_end(&self) -> bool {
        self.read_past_end.get()
    }

    /// Runs the check outside a read (e.g. between bands of output rows).
    #[cfg_attr(not(feature = "mozjpeg"), allow(dead_code))]
    pub(crate) fn check(&self) -> Result<(), Error> {
        (self.check)()
    }

    fn run_check(&self) -> io::Result<()> {
        match (self.check)() {
            Ok(()) => Ok(()),
            Err(e) => {
                self.stopped.set(Some(e));
                Err(io::Error::other("the job was stopped"))
            }
        }
    }
}

/// The input as the decoders read it. See the module docs.
pub(crate) struct Input<'a> {
    /// The visible parts of the data, in order.
    parts: Vec<&'a [u8]>,
    /// The virtual offset at which each part starts.
    starts: Vec<u64>,
    len: u64,
    /// The virtual read position.
    pos: u64,
    /// The current chunk ends here (virtual); reading beyond asks `check` first.
    limit: u64,
    /// Virtual offsets where a chunk must end (sorted), e.g. where JPEG scans start.
    breaks: Vec<u64>,
    watch: &'a Watch<'a>,
    /// The rest of the current chunk within its part (from `pos`): small reads are
    /// served from it without the chunk bookkeeping. jpeg-decoder reads its entropy
    /// data a byte at a time, so this is its hot path.
    cur: &'a [u8],
}

impl<'a> Input<'a> {
    /// All of `data`, visible.
    pub(crate) fn new(data: &'a [u8], watch: &'a Watch<'a>) -> Input<'a> {
        Input::with_hidden(data, &[], watch)
    }

    /// `data` without the byte ranges in `hidden` (sorted, not overlapping).
    pub(crate) fn with_hidden(
        data: &'a [u8],
        hidden: &[std::ops::Range<usize>],
        watch: &'a Watch<'a>,
    ) -> Input<'a> {
        let mut parts = Vec::with_capacity(hidden.len() + 1);
        let mut at = 0;
        for r in hidden {
            let (s, e) = (r.start.clamp(at, data.len()), r.end.clamp(at, data.len()));
            if s > at {
                parts.push(&data[at..s]);
            }
            at = e;
        }
        if at < data.len() || parts.is_empty() {
            parts.push(&data[at..]);
        }
        let mut starts = Vec::with_capacity(parts.len());
        let mut len = 0u64;
        for p in &parts {
            starts.push(len);
            len += p.len() as u64;
        }
        Input {
            parts,
            starts,
            len,
            pos: 0,
            limit: 0,
            breaks: Vec::new(),
            watch,
            cur: &[],
        }
    }

    /// Ends chunks at these offsets of the visible data (e.g. JPEG scan starts), so the
    /// check runs at least once per segment.
    #[cfg_attr(not(feature = "mozjpeg"), allow(dead_code))]
    pub(crate) fn break_at(mut self, offsets: impl IntoIterator<Item = usize>) -> Self {
        self.breaks = offsets.into_iter().map(|o| o as u64).collect();
        self.breaks.sort_unstable();
        self
    }

    fn part_at(&self, pos: u64) -> usize {
        self.starts.partition_point(|&s| s <= pos).saturating_sub(1)
    }

    /// Takes `n` bytes (at most `cur.len()`) off the current chunk.
    fn take(&mut self, n: usize) -> &'a [u8] {
        let (taken, rest) = self.cur.split_at(n);
        self.cur = rest;
        self.pos += n as u64;
        taken
    }
}

impl BufRead for Input<'_> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if !self.cur.is_empty() {
            return Ok(self.cur);
        }
        if self.watch.is_stopped() {
            return Err(io::Error::other("the job was stopped"));
        }
        if self.pos >= self.len {
            self.watch.read_past_end.set(true);
            return Ok(&[]);
        }
        if self.pos >= self.limit {
            self.watch.run_check()?;
            let next_break = self
                .breaks
                .iter()
                .copied()
                .find(|&b| b > self.pos)
                .unwrap_or(u64::MAX);
            self.limit = (self.pos + CHUNK as u64).min(next_break).min(self.len);
        }
        let i = self.part_at(self.pos);
        let part = self.parts[i];
        let from = (self.pos - self.starts[i]) as usize;
        let to = (self.limit - self.starts[i]).min(part.len() as u64) as usize;
        self.cur = &part[from..to];
        Ok(self.cur)
    }

    fn consume(&mut self, amt: usize) {
        self.take(amt.min(self.cur.len()));
    }
}

impl Read for Input<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let [one] = buf {
            if let Some(&b) = self.cur.first() {
                *one = b;
                self.take(1);
                return Ok(1);
            }
        }
        let n = self.fill_buf()?.len().min(buf.len());
        buf[..n].copy_from_slice(self.take(n));
        Ok(n)
    }

    fn read_exact(&mut self, mut buf: &mut [u8]) -> io::Result<()> {
        if buf.len() <= self.cur.len() {
            buf.copy_from_slice(self.take(buf.len()));
            return Ok(());
        }
        // std's default, with its error.
        while !buf.is_empty() {
            match self.read(buf) {
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "failed to fill whole buffer",
                    ))
                }
                Ok(n) => buf = &mut buf[n..],
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

impl Seek for Input<'_> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        }
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek before the start"))?;
        if target != self.pos {
            self.pos = target;
            // The next read starts a new chunk (and so runs the check).
            self.limit = 0;
            self.cur = &[];
        }
        Ok(self.pos)
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn hands_out_bounded_chunks_and_checks_before_each() {
        let data = vec![7u8; CHUNK * 3 + 10];
        let calls = Cell::new(0);
        let check = || {
            calls.set(calls.get() + 1);
            Ok(())
        };
        let watch = Watch::new(&check);
        let mut input = Input::new(&data, &watch).break_at([100]);
        let mut out = Vec::new();
        input.read_to_end(&mut out).unwrap();
        assert_eq!(out, data);
        // 0..100, 100..100+CHUNK, then two more chunks.
        assert_eq!(calls.get(), 4);
        assert!(watch.read_past_end.get());
    }

    #[test]
    fn a_stop_fails_the_read_and_keeps_the_jobs_error() {
        let data = vec![1u8; CHUNK * 2];
        let calls = Cell::new(0);
        let check = || {
            calls.set(calls.get() + 1);
            if calls.get() > 1 {
                Err(Error::new(ErrorKind::TimedOut, "late"))
            } else {
                Ok(())
            }
        };
        let watch = Watch::new(&check);
        let mut input = Input::new(&data, &watch);
        let mut out = Vec::new();
        assert!(input.read_to_end(&mut out).is_err());
        assert_eq!(out.len(), CHUNK);
        assert!(!watch.read_past_end.get());
        assert_eq!(watch.stopped().unwrap().kind, ErrorKind::TimedOut);
    }

    #[test]
    fn hidden_ranges_are_skipped_and_seeks_are_virtual() {
        let data: Vec<u8> = (0..20).collect();
        let ok = || Ok(());
        let watch = Watch::new(&ok);
        let mut input = Input::with_hidden(&data, &[2..5, 10..15], &watch);
        let mut out = Vec::new();
        input.read_to_end(&mut out).unwrap();
        assert_eq!(out, [0, 1, 5, 6, 7, 8, 9, 15, 16, 17, 18, 19]);
        input.seek(SeekFrom::Start(7)).unwrap();
        let mut b = [0u8; 3];
        input.read_exact(&mut b).unwrap();
        assert_eq!(b, [15, 16, 17]);
        assert_eq!(input.seek(SeekFrom::End(-1)).unwrap(), 11);
    }
}
