//! The JPEG entropy check: one pass over every scan's Huffman-coded data, decoding the
//! codes but no coefficients, that reports the damage libjpeg-turbo reports, with its
//! wording, so that a decoder which says nothing about damage (the pure-Rust one of
//! builds without `mozjpeg`) is held to the same `fail_on` policy as the native door.
//!
//! It reproduces libjpeg-turbo's warnings (`Corrupt JPEG data: ...`): a bad Huffman
//! code, a scan whose data ends before its last block (`premature end of data
//! segment`), bytes left over before a marker (`N extraneous bytes before marker`,
//! counted after the bytes libjpeg's 64-bit bit buffer has already pulled in, as its
//! slow path fills it), a restart marker out of order, a progression that does not add
//! up, a sequential scan with progressive parameters; and its fatal errors for a second
//! frame header or impossible progressive parameters. Arithmetic-coded files are not
//! checked (no decoder here reads them without `mozjpeg`).
//!
//! Work is linear in the input and the block count (the header's size, already checked
//! against the limits); memory is one 64-bit mask per block, for progressive files only
//! (which coefficients are non-zero, as refinement scans need to know).

use super::input::Watch;
use crate::error::{Error, ErrorKind, Stage};

/// What the check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Finding {
    /// Nothing libjpeg would say anything about.
    Clean,
    /// The first warning, in libjpeg's words.
    Warning(String),
}

/// What the decoding walk hands to jpeg-decoder.
#[cfg_attr(any(feature = "mozjpeg", not(feature = "pure-jpeg")), allow(dead_code))]
pub(crate) struct Coefficients {
    /// Every component's quantized coefficients: its whole block grid (rows of blocks,
    /// padded to whole MCUs), `side` x `side` a block (the top left corner of the
    /// block in natural order, row by row), as jpeg-decoder's `decode_coefficients`
    /// takes them.
    pub components: Vec<Vec<i16>>,
    /// The side of each block's kept corner: 8 (all 64), or the scaled IDCT's size.
    pub side: usize,
    /// Every scan's entropy-coded data (from after its header to the marker that ends
    /// it), in file order: jpeg-decoder need not read it, so its input hides it.
    pub entropy: Vec<std::ops::Range<usize>>,
}

/// libjpeg's bit buffer: 64 bits, refilled to at least 57.
const MIN_GET_BITS: u32 = 57;

/// A Huffman table, as libjpeg builds it.
#[derive(Clone)]
struct Table {
    /// Largest code of each length (index 1..=16), -1 when none; index 17 is a sentinel.
    maxcode: [i32; 18],
    /// Index into `values` of the first code of each length, minus that code.
    valoffset: [i32; 17],
    values: Vec<u8>,
    /// libjpeg's `lookup`: for each 8-bit peek, the length of the code it starts with
    /// (in the high byte; 0 when longer than 8 bits) and its symbol.
    look: [u16; 256],
}

impl Table {
    fn new(counts: &[u8; 16], values: &[u8]) -> Option<Table> {
        let total: usize = counts.iter().map(|&c| c as usize).sum();
        if total > 256 || total > values.len() {
            return None;
        }
        let mut maxcode = [-1i32; 18];
        let mut valoffset = [0i32; 17];
        let mut code: i32 = 0;
        let mut p: i32 = 0;
        for l in 1..=16 {
            let n = counts[l - 1] as i32;
            if n > 0 {
                valoffset[l] = p - code;
                p += n;
                code += n;
                maxcode[l] = code - 1;
            }
            // A code space that overflows is "Bogus Huffman table definition".
            if n > 0 && code as i64 >= 1i64 << l {
                return None;
            }
            code <<= 1;
        }
        maxcode[17] = i32::MAX;
        let mut table = Table {
            maxcode,
            valoffset,
            values: values[..total].to_vec(),
            look: [0; 256],
        };
        for peek in 0..256 {
            table.look[peek] = table
                .lookahead_slow(peek as i32)
                .map_or(0, |(l, symbol)| (l << 8) as u16 | symbol as u16);
        }
        Some(table)
    }

    /// The code length and symbol of the code that an 8-bit peek starts with, when it
    /// is at most 8 bits: the first length whose largest code is not below it.
    fn lookahead_slow(&self, peek: i32) -> Option<(u32, u8)> {
        (1..=8).find_map(|l| {
            let code = peek >> (8 - l);
            (code <= self.maxcode[l]).then(|| {
                let i = (code + self.valoffset[l]) as usize;
                (l as u32, self.values.get(i).copied().unwrap_or(0))
            })
        })
    }
}

/// Component of the frame.
#[derive(Clone, Copy, Default)]
struct Component {
    id: u8,
    h: u32,
    v: u32,
    /// Blocks in a row and column of the padded, interleaved layout.
    grid_w: u32,
    grid_h: u32,
    /// Blocks a non-interleaved scan covers.
    blocks_w: u32,
    blocks_h: u32,
}

/// The bit reader over one scan's entropy-coded segment, as libjpeg-turbo's `jdhuff.c`
/// reads it through the native door's source: the input comes in chunks of at most
/// [`CHUNK`](super::input::CHUNK) bytes that end at every scan's start, and which bytes
/// were pulled into the 64-bit buffer when a scan ends decides what libjpeg counts as
/// extraneous, so the chunks and both of libjpeg's decoding paths are reproduced.
#[derive(Clone)]
struct Bits<'a> {
    data: &'a [u8],
    /// Where every scan starts (the native input's chunks end there).
    breaks: &'a [usize],
    /// Next byte to pull into the buffer (libjpeg's `next_input_byte`).
    pos: usize,
    /// The end of the source's current chunk.
    chunk_end: usize,
    buffer: u64,
    left: u32,
    /// The marker the fill stopped at (libjpeg's `unread_marker`): its code, where it
    /// starts and where it ends.
    marker: Option<(u8, usize, usize)>,
    /// The scan ran out of data (libjpeg's `insufficient_data`).
    insufficient: bool,
    warning: Option<String>,
}

impl<'a> Bits<'a> {
    fn new(data: &'a [u8], breaks: &'a [usize], pos: usize, chunk_end: usize) -> Bits<'a> {
        Bits {
            data,
            breaks,
            pos,
            chunk_end,
            buffer: 0,
            left: 0,
            marker: None,
            insufficient: false,
            warning: None,
        }
    }

    fn warn(&mut self, msg: impl Into<String>) {
        self.warning.get_or_insert_with(|| msg.into());
    }

    /// Bytes left in the source's current chunk (libjpeg's `bytes_in_buffer`).
    fn in_chunk(&self) -> usize {
        self.chunk_end.saturating_sub(self.pos)
    }

    /// The next byte through the source, refilling the chunk as `Input` does; `None` at
    /// the end of the data.
    fn byte(&mut self) -> Option<u8> {
        if self.pos >= self.chunk_end {
            self.chunk_end = chunk_end(self.pos, self.breaks, self.data.len());
        }
        let b = *self.data.get(self.pos)?;
        self.pos += 1;
        Some(b)
    }

    /// `jpeg_fill_bit_buffer`: pulls bytes until 57 bits are held or a marker stops it;
    /// past a marker, `need` bits that are not there are zeros and a warning.
    fn fill(&mut self, need: u32) {
        if self.marker.is_none() {
            while self.left < MIN_GET_BITS {
                let at = self.pos;
                let Some(mut c) = self.byte() else {
                    // The source inserts an EOI at the end of the input, with a warning.
                    self.warn("Premature end of JPEG file");
                    self.marker = Some((0xD9, at, at));
                    break;
                };
                if c == 0xFF {
                    loop {
                        let Some(n) = self.byte() else {
                            self.warn("Premature end of JPEG file");
                            self.marker = Some((0xD9, self.pos, self.pos));
                            break;
                        };
                        if n != 0xFF {
                            c = n;
                            break;
                        }
                    }
                    if self.marker.is_some() {
                        break;
                    }
                    if c == 0 {
                        c = 0xFF;
                    } else {
                        self.marker = Some((c, at, self.pos));
                        break;
                    }
                }
                self.buffer = (self.buffer << 8) | c as u64;
                self.left += 8;
            }
        }
        if self.marker.is_some() && need > self.left {
            if !self.insufficient {
                self.warn("Corrupt JPEG data: premature end of data segment");
                self.insufficient = true;
            }
            self.buffer <<= MIN_GET_BITS - self.left;
            self.left = MIN_GET_BITS;
        }
    }

    /// `CHECK_BIT_BUFFER` then `GET_BITS`.
    #[inline(always)]
    fn get(&mut self, n: u32) -> u32 {
        if n == 0 {
            return 0;
        }
        if self.left < n {
            self.fill(n);
        }
        self.left -= n;
        ((self.buffer >> self.left) & ((1u64 << n) - 1)) as u32
    }

    /// `n` times `get(1)`, as libjpeg reads correction bits: one at a time, refilling
    /// only when the buffer is empty (so the bytes pulled in, and what a later restart
    /// counts as extraneous, are the same).
    #[inline(always)]
    fn skip_ones(&mut self, n: u32) {
        self.ones(n, |_, _| {});
    }

    /// `n` single bits read as [`skip_ones`](Self::skip_ones) reads them, handed to
    /// `each` in runs: the run's bits at the top of a word (first bit highest), and
    /// their count.
    #[inline(always)]
    fn ones(&mut self, mut n: u32, mut each: impl FnMut(u64, u32)) {
        while n > 0 {
            if self.left == 0 {
                self.fill(1);
            }
            let t = n.min(self.left);
            self.left -= t;
            n -= t;
            each((self.buffer >> self.left) << (64 - t), t);
        }
    }

    /// `PEEK_BITS(8)`: the code length and symbol when the code is at most 8 bits.
    #[inline(always)]
    fn lookahead(&self, t: &Table) -> Option<(u32, u8)> {
        let look = t.look[((self.buffer >> (self.left - 8)) & 0xFF) as usize];
        (look >= 0x100).then_some(((look >> 8) as u32, look as u8))
    }

    /// `HUFF_DECODE`, then `jpeg_huff_decode` for long codes: a bad code is a warning
    /// and decodes as 0.
    #[inline(always)]
    fn decode(&mut self, t: &Table) -> u8 {
        if self.left < 8 {
            self.fill(0);
        }
        let (mut l, mut code) = if self.left < 8 {
            (1, self.get(1) as i32)
        } else if let Some((nb, symbol)) = self.lookahead(t) {
            self.left -= nb;
            return symbol;
        } else {
            (9, self.get(9) as i32)
        };
        while code > t.maxcode[l] {
            code = (code << 1) | self.get(1) as i32;
            l += 1;
        }
        if l > 16 {
            self.warn("Corrupt JPEG data: bad Huffman code");
            return 0;
        }
        let i = (code + t.valoffset[l]) as usize;
        t.values.get(i).copied().unwrap_or(0)
    }

    /// The fast path's `GET_BYTE`: a marker backs the byte out and is only noted.
    fn fast_byte(&mut self, hit: &mut bool) {
        let c0 = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        self.buffer = (self.buffer << 8) | c0 as u64;
        self.left += 8;
        if c0 == 0xFF {
            let c1 = self.data.get(self.pos).copied().unwrap_or(0xD9);
            self.pos += 1;
            if c1 != 0 {
                *hit = true;
                self.pos -= 2;
                self.buffer &= !0xFF;
            }
        }
    }

    /// `FILL_BIT_BUFFER_FAST`: six bytes whenever 16 bits or fewer are held.
    #[inline(always)]
    fn fast_fill(&mut self, hit: &mut bool) {
        if self.left <= 16 {
            // Six bytes at once when none of them is 0xFF (what the loop would do).
            if let Some(six) = self.data.get(self.pos..self.pos + 6) {
                if !six.contains(&0xFF) {
                    let v = six.iter().fold(0u64, |v, &b| (v << 8) | b as u64);
                    self.buffer = (self.buffer << 48) | v;
                    self.left += 48;
                    self.pos += 6;
                    return;
                }
            }
            for _ in 0..6 {
                self.fast_byte(hit);
            }
        }
    }

    /// `HUFF_DECODE_FAST`: a bad code decodes as 0 without a word.
    #[inline(always)]
    fn fast_decode(&mut self, t: &Table, hit: &mut bool) -> u8 {
        self.fast_fill(hit);
        if let Some((nb, symbol)) = self.lookahead(t) {
            self.left -= nb;
            return symbol;
        }
        let mut nb = 9usize;
        self.left -= 9;
        let mut code = ((self.buffer >> self.left) & 0x1FF) as i32;
        while code > t.maxcode[nb] && self.left > 0 {
            self.left -= 1;
            code = (code << 1) | ((self.buffer >> self.left) & 1) as i32;
            nb += 1;
        }
        if nb > 16 || code > t.maxcode[nb] {
            return 0;
        }
        let i = (code + t.valoffset[nb]) as usize;
        t.values.get(i).copied().unwrap_or(0)
    }

    /// The fast path's `GET_BITS(s)` then `HUFF_EXTEND`: past the held bits (a marker
    /// met), what is left.
    #[inline(always)]
    fn fast_value(&mut self, s: u32) -> i32 {
        let n = s.min(self.left);
        self.left -= n;
        extend(((self.buffer >> self.left) & ((1u64 << n) - 1)) as i32, s)
    }

    /// `decode_mcu_fast` for one sequential block; false when it met a marker (libjpeg
    /// then decodes the whole MCU again on the slow path). With `out`, the block's
    /// coefficients go there (natural order) and `dc` is the component's DC predictor.
    #[inline(always)]
    fn fast_block(
        &mut self,
        dc: &Table,
        ac: &Table,
        out: Option<(&mut [i16], &mut i32)>,
        slots: &Slots,
    ) -> bool {
        let mut fast = Fast {
            bits: self,
            hit: false,
        };
        sequential_block(&mut fast, dc, ac, out, slots);
        !fast.hit
    }
}

/// How a sequential block's codes and values are read: libjpeg's slow path
/// ([`Slow`]) or its fast one ([`Fast`]).
trait Codes {
    /// The next Huffman symbol.
    fn symbol(&mut self, t: &Table) -> u8;
    /// The `s`-bit value that follows a symbol, extended to its sign.
    fn value(&mut self, s: u32) -> i32;
}

/// libjpeg's `decode_mcu_slow`: every read checks the buffer, a marker is met in order.
struct Slow<'b, 'a>(&'b mut Bits<'a>);

impl Codes for Slow<'_, '_> {
    #[inline(always)]
    fn symbol(&mut self, t: &Table) -> u8 {
        self.0.decode(t)
    }
    #[inline(always)]
    fn value(&mut self, s: u32) -> i32 {
        extend(self.0.get(s.min(16)) as i32, s.min(16))
    }
}

/// libjpeg's `decode_mcu_fast`: bulk refills; a marker met is only noted (`hit`).
struct Fast<'b, 'a> {
    bits: &'b mut Bits<'a>,
    hit: bool,
}

impl Codes for Fast<'_, '_> {
    #[inline(always)]
    fn symbol(&mut self, t: &Table) -> u8 {
        self.bits.fast_decode(t, &mut self.hit)
    }
    #[inline(always)]
    fn value(&mut self, s: u32) -> i32 {
        self.bits.fast_fill(&mut self.hit);
        self.bits.fast_value(s)
    }
}

/// One sequential block: its DC difference and AC codes; with `out`, its coefficients
/// (natural order) as libjpeg stores them, and the DC predictor updated.
#[inline(always)]
fn sequential_block<C: Codes>(
    codes: &mut C,
    dc: &Table,
    ac: &Table,
    out: Option<(&mut [i16], &mut i32)>,
    slots: &Slots,
) {
    let s = codes.symbol(dc) as u32;
    let diff = if s != 0 { codes.value(s) } else { 0 };
    let mut block = out.map(|(block, pred)| {
        *pred = pred.wrapping_add(diff);
        block[0] = *pred as i16;
        block
    });
    let mut k = 1;
    while k < 64 {
        let rs = codes.symbol(ac);
        let (r, s) = ((rs >> 4) as usize, (rs & 15) as u32);
        if s != 0 {
            k += r;
            let v = codes.value(s);
            if let Some(c) = block.as_deref_mut().and_then(|b| b.get_mut(slots.of(k))) {
                *c = v as i16;
            }
        } else if r != 15 {
            break;
        } else {
            k += 15;
        }
        k += 1;
    }
}

/// `HUFF_EXTEND`: the signed value of the `s`-bit magnitude `r`.
#[inline(always)]
fn extend(r: i32, s: u32) -> i32 {
    if s == 0 {
        0
    } else if r < 1 << (s - 1) {
        r + (-1 << s) + 1
    } else {
        r
    }
}

/// Where a block's coefficients are kept in the walk's output: the position of zigzag
/// index `k` in a block of `side` x `side` (the corner the scaled IDCT reads, row by
/// row; all 64 in natural order when `side` is 8), or past the block when not kept.
#[derive(Clone, Copy)]
struct Slots {
    at: [u8; 64],
    /// The kept corner's side (8: the whole block).
    side: usize,
    per_block: usize,
}

impl Slots {
    fn new(side: usize) -> Slots {
        let side = side.clamp(1, 8);
        let mut at = [u8::MAX; 64];
        for (k, slot) in at.iter_mut().enumerate() {
            let n = natural(k);
            let (row, col) = (n / 8, n % 8);
            if row < side && col < side {
                *slot = (row * side + col) as u8;
            }
        }
        Slots {
            at,
            side,
            per_block: side * side,
        }
    }

    /// The slot of zigzag index `k` (past 63, where damaged data can take it, that of
    /// 63, as [`natural`] maps it); past the block when not kept.
    #[inline(always)]
    fn of(&self, k: usize) -> usize {
        self.at.get(k).map_or(self.at[63], |&s| s) as usize
    }
}

/// libjpeg's `jpeg_natural_order` for zigzag index `k`, with its 16 extra entries past
/// 63 (where damaged data can take `k`) all 63.
#[inline(always)]
fn natural(k: usize) -> usize {
    const ORDER: [u8; 64] = [
        0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27,
        20, 13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51,
        58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
    ];
    ORDER.get(k).map_or(63, |&n| n as usize)
}

/// Where the native input's chunk that starts at `pos` ends: [`CHUNK`] bytes on, or at
/// the next scan's start, or at the end.
///
/// [`CHUNK`]: super::input::CHUNK
fn chunk_end(pos: usize, breaks: &[usize], len: usize) -> usize {
    let next_break = breaks
        .iter()
        .copied()
        .find(|&b| b > pos)
        .unwrap_or(usize::MAX);
    (pos + super::input::CHUNK).min(next_break).min(len)
}

/// The marker after `pos` as libjpeg's `next_marker` finds it: skipped bytes are
/// counted (a stuffed `FF 00` as two), fill bytes are not. Returns the marker, the
/// offset just after it, and the count; `None` at the end of the data.
fn next_marker(data: &[u8], mut pos: usize) -> Option<(u8, usize, usize)> {
    let mut discarded = 0usize;
    loop {
        while *data.get(pos)? != 0xFF {
            discarded += 1;
            pos += 1;
        }
        while *data.get(pos)? == 0xFF {
            pos += 1;
        }
        let c = *data.get(pos)?;
        pos += 1;
        if c != 0 {
            return Some((c, pos, discarded));
        }
        discarded += 2;
    }
}

fn be16(b: &[u8], at: usize) -> Option<usize> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]) as usize)
}

fn fatal(msg: &str) -> Error {
    Error::new(ErrorKind::DecodeFailed, format!("jpeg: {msg}")).at(Stage::Decode)
}

/// The frame and the tables in force, walked in file order.
struct State<'a> {
    components: Vec<Component>,
    mcus_w: u32,
    mcus_h: u32,
    progressive: bool,
    arithmetic: bool,
    dc: [Option<Table>; 4],
    ac: [Option<Table>; 4],
    restart_interval: u32,
    /// Progressive: for each component and coefficient, the last scan's Al (-1 none).
    coef_bits: Vec<[i8; 64]>,
    /// Progressive: per component, one mask per block of the non-zero coefficients.
    nonzero: Vec<Vec<u64>>,
    /// Where every scan starts (the native input's chunks end there).
    breaks: &'a [usize],
    /// Bytes discarded and not yet reported (libjpeg's `discarded_bytes`).
    discarded: usize,
    /// Whether the walk also decodes the coefficients (see [`decode`]).
    decoding: bool,
    /// When decoding: per component, its whole block grid (`grid_w` x `grid_h` blocks),
    /// as libjpeg's coefficient buffer holds it but with only the coefficients `slots`
    /// keeps.
    coefs: Vec<Vec<i16>>,
    /// Where a block's coefficients are kept in `coefs`.
    slots: Slots,
    /// The DC predictors of the components (libjpeg's `last_dc_val`).
    last_dc: [i32; 4],
    /// False once a scan was not decoded (skipped, or given up at a lost restart
    /// marker): the coefficients are then not libjpeg's.
    complete: bool,
    /// Asked between stretches of MCUs while decoding (the job's deadline and cancel).
    watch: Option<&'a Watch<'a>>,
    /// When decoding: where each scan's entropy-coded data lies.
    entropy: Vec<std::ops::Range<usize>>,
}

impl State<'_> {
    /// The warning libjpeg's `next_marker` gives for discarded bytes, if any.
    fn report_discarded(&mut self, more: usize, marker: u8) -> Option<String> {
        let n = std::mem::take(&mut self.discarded) + more;
        (n > 0).then(|| {
            format!("Corrupt JPEG data: {n} extraneous bytes before marker 0x{marker:02x}")
        })
    }
}

/// Checks every scan of `data` (a JPEG starting with SOI) whose scans start at `scans`
/// (the SOS offsets the marker scan found). Returns the first warning libjpeg-turbo would emit while the
/// pipeline decodes, or an error for what it refuses outright. A file of one scan is
/// checked up to the end of that scan's data: the native decoder stops reading there
/// (it never calls `jpeg_finish_decompress`), so what follows cannot warn; a file of
/// several scans is read to EOI before the first row comes out.
#[cfg_attr(all(feature = "pure-jpeg", not(feature = "mozjpeg")), allow(dead_code))]
pub(crate) fn check(data: &[u8], scans: &[usize]) -> Result<Finding, Error> {
    walk(data, scans, None, 8).map(|(finding, _)| finding)
}

/// The check and, in the same pass, the decode of every block's coefficients as libjpeg
/// decodes them (damage included: a bad code is 0, blocks past a premature end stay
/// zero, values past coefficient 63 land on 63), for jpeg-decoder to turn into pixels
/// (`Decoder::decode_coefficients`, the vendored crate's addition). The coefficients
/// are `None` when this walk cannot give all of them: arithmetic coding, a frame other
/// than 8-bit baseline, extended or progressive DCT, a scan left to the decoder, or one
/// given up at a lost restart marker. `watch` is asked every 1,024 MCUs.
#[cfg_attr(any(feature = "mozjpeg", not(feature = "pure-jpeg")), allow(dead_code))]
pub(crate) fn decode(
    data: &[u8],
    scans: &[usize],
    watch: &Watch<'_>,
    side: usize,
) -> Result<(Finding, Option<Coefficients>), Error> {
    walk(data, scans, Some(watch), side)
}

fn walk(
    data: &[u8],
    scans: &[usize],
    watch: Option<&Watch<'_>>,
    side: usize,
) -> Result<(Finding, Option<Coefficients>), Error> {
    let mut st = State {
        components: Vec::new(),
        mcus_w: 0,
        mcus_h: 0,
        progressive: false,
        arithmetic: false,
        dc: Default::default(),
        ac: Default::default(),
        restart_interval: 0,
        coef_bits: Vec::new(),
        nonzero: Vec::new(),
        breaks: scans,
        discarded: 0,
        decoding: false,
        coefs: Vec::new(),
        slots: Slots::new(side),
        last_dc: [0; 4],
        complete: true,
        watch,
        entropy: Vec::new(),
    };
    let mut warning: Option<String> = None;
    let mut pos = 2;
    let mut frame_seen = false;
    // Whether the last scan's bit reader already read the marker that ended it: libjpeg
    // then takes it without a marker search, so bytes discarded at its restarts stay
    // unreported until a later search (if any).
    let mut in_hand = false;
    loop {
        let Some((marker, after, discarded)) = next_marker(data, pos) else {
            warning.get_or_insert_with(|| "Premature end of JPEG file".into());
            break;
        };
        if !std::mem::take(&mut in_hand) {
            if let Some(w) = st.report_discarded(discarded, marker) {
                warning.get_or_insert(w);
            }
        }
        pos = after;
        match marker {
            0xD9 => break,
            0xD8 => return Err(fatal("Invalid JPEG file structure: two SOI markers")),
            0xD0..=0xD7 | 0x01 => continue,
            // What libjpeg's marker reader knows: frames, tables, DNL, APPn, COM.
            0xC0..=0xCF | 0xDA..=0xDD | 0xE0..=0xEF | 0xFE => {}
            _ => return Err(fatal(&format!("Unsupported marker type 0x{marker:02x}"))),
        }
        let Some(len) = be16(data, pos) else {
            warning.get_or_insert_with(|| "Premature end of JPEG file".into());
            break;
        };
        if len < 2 {
            return Err(fatal("Bogus marker length"));
        }
        let Some(seg) = data.get(pos + 2..pos + len) else {
            warning.get_or_insert_with(|| "Premature end of JPEG file".into());
            break;
        };
        pos += len;
        match marker {
            0xC0..=0xCF if !matches!(marker, 0xC4 | 0xC8 | 0xCC) => {
                if frame_seen {
                    return Err(fatal("Invalid JPEG file structure: two SOF markers"));
                }
                frame_seen = true;
                st.progressive = matches!(marker, 0xC2 | 0xCA);
                st.arithmetic = marker >= 0xC8;
                st.decoding =
                    st.watch.is_some() && matches!(marker, 0xC0..=0xC2) && seg.first() == Some(&8);
                frame(&mut st, seg)?;
            }
            0xC4 => dht(&mut st, seg)?,
            0xDB => dqt(seg)?,
            0xDD => {
                if len != 4 {
                    return Err(fatal("Bogus marker length"));
                }
                st.restart_interval = be16(seg, 0).unwrap_or(0) as u32;
            }
            0xDA => {
                if !frame_seen {
                    return Err(fatal("Invalid JPEG file structure: SOS before SOF"));
                }
                if st.arithmetic {
                    // Not checked here: skip its data to the next marker.
                    pos = skip_entropy(data, pos);
                    st.complete = false;
                    continue;
                }
                let sos = pos - len - 2;
                let (end, w, held) = scan(&mut st, seg, data, (sos, pos))?;
                if let Some(w) = w {
                    warning.get_or_insert(w);
                }
                if st.decoding {
                    st.entropy.push(pos..end.max(pos));
                }
                if scans.len() <= 1 {
                    break;
                }
                pos = end;
                in_hand = held;
            }
            _ => {}
        }
    }
    let coefs = (st.decoding && st.complete && frame_seen).then_some(Coefficients {
        components: st.coefs,
        side: st.slots.side,
        entropy: st.entropy,
    });
    Ok((warning.map_or(Finding::Clean, Finding::Warning), coefs))
}

/// The offset of the marker that ends entropy-coded data starting at `pos`.
fn skip_entropy(data: &[u8], mut pos: usize) -> usize {
    while let Some(ff) = data
        .get(pos..)
        .and_then(|d| d.iter().position(|&b| b == 0xFF))
    {
        pos += ff;
        match data.get(pos + 1) {
            Some(0x00) | Some(0xD0..=0xD7) | Some(0xFF) => pos += 1,
            _ => return pos,
        }
    }
    data.len()
}

fn frame(st: &mut State<'_>, seg: &[u8]) -> Result<(), Error> {
    let short = || fatal("short frame header");
    let height = be16(seg, 1).ok_or_else(short)? as u32;
    let width = be16(seg, 3).ok_or_else(short)? as u32;
    let n = *seg.get(5).ok_or_else(short)? as usize;
    if seg.len() != 6 + 3 * n || width == 0 || height == 0 || n == 0 {
        return Err(fatal("Bogus marker length"));
    }
    let mut comps = Vec::with_capacity(n);
    for c in 0..n {
        let id = *seg.get(6 + 3 * c).ok_or_else(short)?;
        let s = *seg.get(6 + 3 * c + 1).ok_or_else(short)?;
        let (h, v) = ((s >> 4) as u32, (s & 15) as u32);
        if !(1..=4).contains(&h) || !(1..=4).contains(&v) {
            return Err(fatal("Bogus sampling factors"));
        }
        comps.push(Component {
            id,
            h,
            v,
            ..Component::default()
        });
    }
    let hmax = comps.iter().map(|c| c.h).max().unwrap_or(1);
    let vmax = comps.iter().map(|c| c.v).max().unwrap_or(1);
    st.mcus_w = width.div_ceil(8 * hmax);
    st.mcus_h = height.div_ceil(8 * vmax);
    for c in &mut comps {
        c.grid_w = st.mcus_w * c.h;
        c.grid_h = st.mcus_h * c.v;
        c.blocks_w = (width as u64 * c.h as u64).div_ceil(hmax as u64 * 8) as u32;
        c.blocks_h = (height as u64 * c.v as u64).div_ceil(vmax as u64 * 8) as u32;
    }
    if st.progressive {
        st.coef_bits = vec![[-1i8; 64]; comps.len()];
        st.nonzero = comps
            .iter()
            .map(|c| {
                let n = c.grid_w as usize * c.grid_h as usize;
                let mut masks = Vec::new();
                masks.try_reserve_exact(n).map_err(|_| {
                    super::pixels::out_of_memory(n * 8, "the JPEG check's block masks")
                })?;
                masks.resize(n, 0u64);
                Ok(masks)
            })
            .collect::<Result<_, Error>>()?;
    }
    // libjpeg keeps at most 4 components' DC predictors in a scan; more is refused later.
    st.decoding &= comps.len() <= 4;
    if st.decoding {
        st.coefs = comps
            .iter()
            .map(|c| {
                let n = c.grid_w as usize * c.grid_h as usize * st.slots.per_block;
                let mut coefs = Vec::new();
                coefs
                    .try_reserve_exact(n)
                    .map_err(|_| super::pixels::out_of_memory(n * 2, "the JPEG coefficients"))?;
                coefs.resize(n, 0i16);
                Ok(coefs)
            })
            .collect::<Result<_, Error>>()?;
    }
    st.components = comps;
    Ok(())
}

/// `get_dqt`: only what makes libjpeg refuse the segment.
fn dqt(seg: &[u8]) -> Result<(), Error> {
    let mut p = 0;
    while p < seg.len() {
        let (precision, index) = (seg[p] >> 4, seg[p] & 15);
        if index > 3 {
            return Err(fatal(&format!("Bogus DQT index {index}")));
        }
        p += 1 + if precision != 0 { 128 } else { 64 };
        if p > seg.len() {
            return Err(fatal("Bogus marker length"));
        }
    }
    Ok(())
}

fn dht(st: &mut State<'_>, seg: &[u8]) -> Result<(), Error> {
    let mut p = 0;
    while p < seg.len() {
        let bad = || fatal("Bogus Huffman table definition");
        let class_id = seg[p];
        let counts: [u8; 16] = seg
            .get(p + 1..p + 17)
            .ok_or_else(bad)?
            .try_into()
            .map_err(|_| bad())?;
        let total: usize = counts.iter().map(|&c| c as usize).sum();
        let values = seg.get(p + 17..p + 17 + total).ok_or_else(bad)?;
        let table = Table::new(&counts, values).ok_or_else(bad)?;
        let id = (class_id & 15) as usize;
        if id > 3 || class_id >> 4 > 1 {
            return Err(fatal("Bogus DHT index"));
        }
        if class_id >> 4 == 0 && values.iter().any(|&v| v > 15) {
            return Err(bad());
        }
        if class_id >> 4 == 0 {
            st.dc[id] = Some(table);
        } else {
            st.ac[id] = Some(table);
        }
        p += 17 + total;
    }
    Ok(())
}

/// One scan: its header `seg`, its SOS marker at `sos` and its data from `pos`. Returns
/// where the next marker search starts, the scan's first warning, and whether its bit
/// reader ended holding the marker found there.
fn scan(
    st: &mut State<'_>,
    seg: &[u8],
    data: &[u8],
    (sos, pos): (usize, usize),
) -> Result<(usize, Option<String>, bool), Error> {
    let bad = || fatal("Invalid SOS parameters");
    let n = *seg.first().ok_or_else(bad)? as usize;
    if n == 0 || n > 4 || seg.len() != n * 2 + 4 {
        return Err(fatal("Bogus marker length"));
    }
    let mut comps = Vec::with_capacity(n);
    for i in 0..n {
        let id = *seg.get(1 + 2 * i).ok_or_else(bad)?;
        let tables = *seg.get(2 + 2 * i).ok_or_else(bad)?;
        let ci = st
            .components
            .iter()
            .position(|c| c.id == id)
            .ok_or_else(bad)?;
        comps.push((ci, (tables >> 4) as usize, (tables & 15) as usize));
    }
    let ss = *seg.get(1 + 2 * n).ok_or_else(bad)? as usize;
    let se = *seg.get(2 + 2 * n).ok_or_else(bad)? as usize;
    let a = *seg.get(3 + 2 * n).ok_or_else(bad)?;
    let (ah, al) = ((a >> 4) as i8, (a & 15) as i8);
    let mut bits = Bits::new(data, st.breaks, pos, chunk_end(sos, st.breaks, data.len()));
    if st.progressive {
        let dc_band = ss == 0;
        let mut wrong = if dc_band {
            se != 0
        } else {
            ss > se || se > 63 || n != 1
        };
        if ah != 0 && al != ah - 1 {
            wrong = true;
        }
        if al > 13 || wrong {
            return Err(fatal(&format!(
                "Invalid progressive parameters Ss={ss} Se={se} Ah={ah} Al={al}"
            )));
        }
        for &(ci, _, _) in &comps {
            let cb = &mut st.coef_bits[ci];
            if !dc_band && cb[0] < 0 {
                bits.warn(format!(
                    "Inconsistent progression sequence for component {ci} coefficient 0"
                ));
            }
            for (k, bit) in cb.iter_mut().enumerate().take(se + 1).skip(ss) {
                let expected = (*bit).max(0);
                if ah != expected {
                    bits.warn(format!(
                        "Inconsistent progression sequence for component {ci} coefficient {k}"
                    ));
                }
                *bit = al;
            }
        }
    } else if ss != 0 || se != 63 || ah != 0 || al != 0 {
        bits.warn("Invalid SOS parameters for sequential JPEG");
    }
    // Tables the scan needs; a missing one is libjpeg's fatal "Huffman table 0x.. was
    // not defined", except tables 0 and 1, for which it supplies the standard tables
    // (motion JPEG leaves them out): those scans are left to the decoder.
    let needs_dc = !st.progressive || (ss == 0 && ah == 0);
    let needs_ac = !st.progressive || ss > 0;
    for &(_, d, a) in &comps {
        for (needed, index, tables) in [(needs_dc, d, &st.dc), (needs_ac, a, &st.ac)] {
            if needed && tables.get(index).is_none_or(Option::is_none) {
                if index > 1 {
                    return Err(fatal(&format!(
                        "Huffman table 0x{index:02x} was not defined"
                    )));
                }
                st.complete = false;
                return Ok((skip_entropy(data, pos), bits.warning, false));
            }
        }
    }
    let blocks_in_mcu: usize = if n > 1 {
        comps
            .iter()
            .map(|&(ci, _, _)| (st.components[ci].h * st.components[ci].v) as usize)
            .sum()
    } else {
        1
    };
    // The blocks of one MCU: (component, block x, block y) for each data unit.
    let interleaved = n > 1;
    let (mcus_w, mcus_h) = if interleaved {
        (st.mcus_w, st.mcus_h)
    } else {
        let c = st.components[comps[0].0];
        (c.blocks_w, c.blocks_h)
    };
    let total = mcus_w as u64 * mcus_h as u64;
    // The fast path's tables, per scan component: (component, DC, AC), copied once per
    // scan; `None` when one is missing (then every MCU takes the slow path).
    let fast_tables: Option<Vec<(usize, Table, Table)>> = if st.progressive {
        None
    } else {
        comps
            .iter()
            .map(|&(ci, d, a)| match (st.dc.get(d), st.ac.get(a)) {
                (Some(Some(dc)), Some(Some(ac))) => Some((ci, dc.clone(), ac.clone())),
                _ => None,
            })
            .collect()
    };
    st.last_dc = [0; 4];
    let mut eobrun: u32 = 0;
    let mut restarts_to_go = st.restart_interval;
    let mut next_restart: u8 = 0;
    let mut mcu: u64 = 0;
    // The watch is asked every 1,024 MCUs (or at the first MCU past a run skipped).
    let mut next_watch: u64 = 0;
    // The MCU's column and row, kept up to date with `mcu` (no division per block).
    let (mut mx, mut my) = (0u32, 0u32);
    let advance = |mcu: &mut u64, n: u64, mx: &mut u32, my: &mut u32| {
        *mcu += n;
        if n == 1 && *mx + 1 < mcus_w {
            *mx += 1;
        } else {
            (*mx, *my) = ((*mcu % mcus_w as u64) as u32, (*mcu / mcus_w as u64) as u32);
        }
    };
    while mcu < total {
        if mcu >= next_watch {
            if let (true, Some(w)) = (st.decoding, st.watch) {
                w.check()?;
            }
            next_watch = mcu + 1024;
        }
        if bits.insufficient && st.restart_interval == 0 {
            break; // libjpeg decodes nothing more of this scan
        }
        if st.restart_interval > 0 {
            if restarts_to_go == 0 {
                // process_restart: whole bytes still buffered count as discarded, and
                // are reported by the next marker search (if one happens).
                st.discarded += (bits.left / 8) as usize;
                bits.left = 0;
                let (marker, after) = match bits.marker.take() {
                    Some((m, _, after)) => (m, after),
                    None => match next_marker(data, bits.pos) {
                        Some((m, after, d)) => {
                            if let Some(w) = st.report_discarded(d, m) {
                                bits.warn(w);
                            }
                            (m, after)
                        }
                        None => (0xD9, data.len()),
                    },
                };
                if marker == 0xD0 + next_restart {
                    bits.pos = after;
                    bits.insufficient = false;
                    if bits.pos >= bits.chunk_end {
                        bits.chunk_end = chunk_end(bits.pos, st.breaks, data.len());
                    }
                } else {
                    bits.warn(format!(
                        "Corrupt JPEG data: found marker 0x{marker:02x} instead of RST{next_restart}"
                    ));
                    // libjpeg resynchronises; the rest of this check would be guesswork.
                    st.complete = false;
                    return Ok((skip_entropy(data, bits.pos), bits.warning, false));
                }
                next_restart = (next_restart + 1) & 7;
                restarts_to_go = st.restart_interval;
                eobrun = 0;
                st.last_dc = [0; 4];
                bits.marker = None;
                bits.buffer = 0;
            }
            restarts_to_go -= 1;
        }
        // A progressive AC first scan inside an EOB run: its blocks read nothing and
        // change no mask (`ac_first` only counts the run down), so the run's blocks
        // in this restart interval are counted down at once.
        if st.progressive && ss > 0 && ah == 0 && eobrun > 0 && !bits.insufficient {
            let mut skip = (eobrun as u64).min(total - mcu);
            if st.restart_interval > 0 {
                skip = skip.min(1 + restarts_to_go as u64);
                restarts_to_go -= (skip - 1) as u32;
            }
            eobrun -= skip as u32;
            advance(&mut mcu, skip, &mut mx, &mut my);
            continue;
        }
        // decode_mcu: the fast path when no restarts are used, no marker is pending and
        // the chunk holds 512 bytes a block; a marker met there sends the whole MCU to
        // the slow path.
        if !bits.insufficient
            && !st.progressive
            && st.restart_interval == 0
            && bits.marker.is_none()
            && bits.in_chunk() >= 512 * blocks_in_mcu
        {
            // The fast path changes only these (and the blocks, which the slow path then
            // writes again, as libjpeg's do); a marker met puts them back.
            let saved = (bits.pos, bits.buffer, bits.left, st.last_dc);
            let slots = &st.slots;
            let per_block = slots.per_block;
            let ok = fast_tables.as_ref().is_some_and(|t| {
                t.iter().all(|(ci, dc, ac)| {
                    let c = st.components[*ci];
                    let (hb, vb) = if interleaved { (c.h, c.v) } else { (1, 1) };
                    (0..vb).all(|by| {
                        (0..hb).all(|bx| {
                            let b = block_at(&c, interleaved, (mx, my), (bx, by));
                            let out = block_coefs(&mut st.coefs, per_block, *ci, b)
                                .map(|block| (block, &mut st.last_dc[*ci]));
                            bits.fast_block(dc, ac, out, slots)
                        })
                    })
                })
            });
            if ok {
                advance(&mut mcu, 1, &mut mx, &mut my);
                continue;
            }
            (bits.pos, bits.buffer, bits.left, st.last_dc) = saved;
        }
        if !bits.insufficient && st.progressive {
            // Up to the next watch or restart; the run stops early when data runs out.
            let mut limit = (total - mcu).min(next_watch.saturating_sub(mcu).max(1));
            if st.restart_interval > 0 {
                limit = limit.min(1 + restarts_to_go as u64);
            }
            let p = (ss, se, ah, al);
            let at = (mx, my, mcus_w);
            let done = progressive_run(
                st,
                &mut bits,
                &comps,
                interleaved,
                p,
                &mut eobrun,
                at,
                limit,
            );
            if done > 0 {
                if st.restart_interval > 0 {
                    restarts_to_go -= (done - 1) as u32;
                }
                advance(&mut mcu, done, &mut mx, &mut my);
                continue;
            }
        } else if !bits.insufficient {
            for &(ci, d, a) in &comps {
                let c = st.components[ci];
                let (hb, vb) = if interleaved { (c.h, c.v) } else { (1, 1) };
                for by in 0..vb {
                    for bx in 0..hb {
                        let block = block_at(&c, interleaved, (mx, my), (bx, by));
                        block_data(st, &mut bits, ci, block, (d, a));
                    }
                }
            }
        }
        advance(&mut mcu, 1, &mut mx, &mut my);
    }
    // The end of the scan: bits still buffered are dropped without a word; bytes past
    // them are counted by the marker search that follows.
    let end = match bits.marker {
        Some((_, at, _)) => at,
        None => bits.pos,
    };
    Ok((end, bits.warning, bits.marker.is_some()))
}

/// The walk of an AC refinement scan after a symbol with zero run `r`, from `k` in a
/// band ending at `se`, over a block whose non-zero coefficients are `mask`: libjpeg
/// reads a correction bit for each non-zero coefficient it passes and stops at the
/// (r+1)th zero one. Returns where it stops (`se + 1` past the band) and the non-zero
/// coefficients it passed (one correction bit each).
fn refine_walk(mask: u64, k: usize, se: usize, r: i32) -> (usize, u64) {
    let band = (u64::MAX >> (63 - se)) & (u64::MAX << k);
    let mut zeros = !mask & band;
    for _ in 0..r {
        zeros &= zeros.wrapping_sub(1);
    }
    let stop = if zeros == 0 {
        se + 1
    } else {
        zeros.trailing_zeros() as usize
    };
    let before_stop = u64::MAX.checked_shr(64 - stop as u32).unwrap_or(0);
    (stop, mask & band & before_stop)
}

/// The grid index of block (`bx`, `by`) of component `c` in the MCU at (`mx`, `my`); in
/// a scan of one component (not `interleaved`) an MCU is one block.
#[inline(always)]
fn block_at(c: &Component, interleaved: bool, (mx, my): (u32, u32), (bx, by): (u32, u32)) -> usize {
    let (x, y) = if interleaved {
        (mx * c.h + bx, my * c.v + by)
    } else {
        (mx, my)
    };
    y as usize * c.grid_w as usize + x as usize
}

/// Block `block` of component `ci` in the walk's coefficients (`per_block` a block);
/// `None` when not decoding (no coefficients are held).
#[inline(always)]
fn block_coefs(
    coefs: &mut [Vec<i16>],
    per_block: usize,
    ci: usize,
    block: usize,
) -> Option<&mut [i16]> {
    coefs
        .get_mut(ci)?
        .get_mut(block * per_block..(block + 1) * per_block)
}

/// One block of a sequential scan, as libjpeg's slow path (`decode_mcu_slow`) reads
/// it; when decoding, its coefficients as `jdhuff.c` stores them.
fn block_data(
    st: &mut State<'_>,
    bits: &mut Bits<'_>,
    ci: usize,
    block: usize,
    (d, a): (usize, usize),
) {
    let slots = &st.slots;
    let coefs = block_coefs(&mut st.coefs, slots.per_block, ci, block);
    let (Some(Some(dc)), Some(Some(ac))) = (st.dc.get(d), st.ac.get(a)) else {
        return;
    };
    let out = coefs.and_then(|block| st.last_dc.get_mut(ci).map(|pred| (block, pred)));
    sequential_block(&mut Slow(bits), dc, ac, out, slots);
}

/// Up to `limit` MCUs of a progressive scan from the one at `at`, each block read as
/// libjpeg's `jdphuff.c` reads it (and, when decoding, its coefficients stored as it
/// stores them), with the scan's tables, masks and coefficients looked up once rather
/// than per block. The caller has dealt with restarts and the watch: no restart marker
/// falls inside. Stops after an MCU that ran out of data. Returns the MCUs done (at
/// least one), or 0 when a table is missing (the scan then reads nothing).
#[allow(clippy::too_many_arguments)]
fn progressive_run(
    st: &mut State<'_>,
    bits: &mut Bits<'_>,
    comps: &[(usize, usize, usize)],
    interleaved: bool,
    (ss, se, ah, al): (usize, usize, i8, i8),
    eobrun: &mut u32,
    (mut mx, mut my, mcus_w): (u32, u32, u32),
    limit: u64,
) -> u64 {
    let State {
        components,
        dc,
        ac,
        nonzero,
        coefs,
        slots,
        last_dc,
        ..
    } = st;
    let slots = &*slots;
    let n = slots.per_block;
    let mut done = 0;
    // After an MCU: on to the next one, unless its data ran out (the run stops there).
    let next = |bits: &Bits<'_>, mx: &mut u32, my: &mut u32| {
        if bits.insufficient {
            return false;
        }
        *mx += 1;
        if *mx == mcus_w {
            (*mx, *my) = (0, *my + 1);
        }
        true
    };
    if ss > 0 {
        // AC scans have one component (the scan header's check).
        let (ci, _, a) = comps[0];
        let Some(Some(table)) = ac.get(a) else {
            return 0;
        };
        let c = components[ci];
        let (p1, m1) = (1i16 << al, (-1i16) << al);
        while done < limit {
            let block = block_at(&c, false, (mx, my), (0, 0));
            if let Some(mask) = nonzero[ci].get_mut(block) {
                let out = block_coefs(coefs, n, ci, block);
                if ah == 0 {
                    ac_first(bits, table, out, mask, (ss, se, al), eobrun, slots);
                } else {
                    ac_refine(bits, table, out, mask, (ss, se, p1, m1), eobrun, slots);
                }
            }
            done += 1;
            if !next(bits, &mut mx, &mut my) {
                break;
            }
        }
        return done;
    }
    // DC scans: the blocks of each component in the MCU, in order.
    let mut tables = [None; 4];
    for (slot, &(_, d, _)) in tables.iter_mut().zip(comps) {
        match dc.get(d) {
            Some(Some(t)) => *slot = Some(t),
            _ if ah == 0 => return 0,
            _ => {}
        }
    }
    while done < limit {
        for (&(ci, _, _), table) in comps.iter().zip(&tables) {
            let c = components[ci];
            let (hb, vb) = if interleaved { (c.h, c.v) } else { (1, 1) };
            for by in 0..vb {
                for bx in 0..hb {
                    let block = block_at(&c, interleaved, (mx, my), (bx, by));
                    if block >= nonzero[ci].len() {
                        continue;
                    }
                    let out = block_coefs(coefs, n, ci, block);
                    match table {
                        Some(t) if ah == 0 => dc_first(bits, t, out, last_dc.get_mut(ci), al),
                        _ => {
                            if bits.get(1) != 0 {
                                if let Some(out) = out {
                                    out[0] |= 1 << al;
                                }
                            }
                        }
                    }
                }
            }
        }
        done += 1;
        if !next(bits, &mut mx, &mut my) {
            break;
        }
    }
    done
}

/// A block of a progressive DC first scan (`decode_mcu_DC_first`).
#[inline(always)]
fn dc_first(
    bits: &mut Bits<'_>,
    dc: &Table,
    out: Option<&mut [i16]>,
    pred: Option<&mut i32>,
    al: i8,
) {
    let s = bits.decode(dc) as u32;
    let diff = extend(bits.get(s.min(16)) as i32, s.min(16));
    // Frames of more than 4 components (which only this check reads; libjpeg and
    // jpeg-decoder refuse them later) keep no predictor here.
    let Some(pred) = pred else {
        return;
    };
    *pred = pred.wrapping_add(diff);
    if let Some(out) = out {
        out[0] = pred.wrapping_shl(al as u32) as i16;
    }
}

/// A block of a progressive AC first scan (`decode_mcu_AC_first`).
#[inline(always)]
fn ac_first(
    bits: &mut Bits<'_>,
    ac: &Table,
    mut out: Option<&mut [i16]>,
    mask: &mut u64,
    (ss, se, al): (usize, usize, i8),
    eobrun: &mut u32,
    slots: &Slots,
) {
    if *eobrun > 0 {
        *eobrun -= 1;
        return;
    }
    let mut k = ss;
    while k <= se {
        let rs = bits.decode(ac);
        let (r, s) = ((rs >> 4) as u32, (rs & 15) as u32);
        if s != 0 {
            k += r as usize;
            let v = bits.get(s);
            if let Some(c) = out.as_deref_mut().and_then(|o| o.get_mut(slots.of(k))) {
                *c = extend(v as i32, s).wrapping_shl(al as u32) as i16;
            }
            if k < 64 {
                *mask |= 1 << k;
            }
        } else if r == 15 {
            k += 15;
        } else {
            *eobrun = 1 << r;
            if r > 0 {
                *eobrun += bits.get(r);
            }
            *eobrun -= 1;
            break;
        }
        k += 1;
    }
}

/// A block of a progressive AC refinement scan (`decode_mcu_AC_refine`); `p1` and `m1`
/// are the refined bit's +1 and -1.
#[inline(always)]
fn ac_refine(
    bits: &mut Bits<'_>,
    ac: &Table,
    mut out: Option<&mut [i16]>,
    mask: &mut u64,
    (ss, se, p1, m1): (usize, usize, i16, i16),
    eobrun: &mut u32,
    slots: &Slots,
) {
    let mut k = ss;
    if *eobrun == 0 {
        while k <= se {
            let rs = bits.decode(ac);
            let (r, s) = ((rs >> 4) as i32, (rs & 15) as u32);
            let mut new = 0;
            if s != 0 {
                if s != 1 {
                    bits.warn("Corrupt JPEG data: bad Huffman code");
                }
                new = if bits.get(1) != 0 { p1 } else { m1 };
            } else if r != 15 {
                *eobrun = 1 << r;
                if r > 0 {
                    *eobrun += bits.get(r as u32);
                }
                break;
            }
            let (stop, passed) = refine_walk(*mask, k, se, r);
            correct(bits, out.as_deref_mut(), passed, p1, slots);
            k = stop;
            if s != 0 {
                if let Some(c) = out.as_deref_mut().and_then(|o| o.get_mut(slots.of(k))) {
                    *c = new;
                }
                if k <= se {
                    *mask |= 1 << k;
                }
            }
            k += 1;
        }
    }
    if *eobrun > 0 {
        // One correction bit for each coefficient of the band already non-zero.
        if k <= se {
            let band = (u64::MAX >> (63 - se)) & (u64::MAX << k);
            correct(bits, out, *mask & band, p1, slots);
        }
        *eobrun -= 1;
    }
}

/// A refinement's correction bits, one for each coefficient in `nonzero` (zigzag
/// positions, in order): a set bit adds `p1` away from zero where that bit is not
/// already set (libjpeg's `decode_mcu_AC_refine`). Without `out` (the check alone) the
/// bits are only read.
///
/// The bits are taken as [`Bits::skip_ones`] takes them: all that the buffer holds at
/// once, refilling only when it is empty, as libjpeg's bit-by-bit reads do.
#[inline(always)]
fn correct(bits: &mut Bits<'_>, out: Option<&mut [i16]>, mut nonzero: u64, p1: i16, slots: &Slots) {
    let Some(out) = out else {
        bits.skip_ones(nonzero.count_ones());
        return;
    };
    bits.ones(nonzero.count_ones(), |mut set, t| {
        for _ in 0..t {
            let k = nonzero.trailing_zeros() as usize;
            nonzero &= nonzero - 1;
            // Without branches (the bits are random): add `p1` away from zero when the
            // bit is set and `p1` is not yet.
            if let Some(c) = out.get_mut(slots.of(k)) {
                let apply = ((set >> 63) as i16) & ((*c & p1 == 0) as i16);
                let sign = *c >> 15;
                *c = c.wrapping_add(((p1 ^ sign).wrapping_sub(sign)) & apply.wrapping_neg());
            }
            set <<= 1;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURES: [&str; 7] = [
        "vectors/inputs/photo_640x480.jpg",
        "vectors/inputs/progressive_160x120.jpg",
        "jpeg/noninterleaved_420.jpg",
        "jpeg/noninterleaved_440.jpg",
        "jpeg/restart.jpg",
        "jpeg/progressive_restart.jpg",
        "jpeg/progressive_422.jpg",
    ];

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!("{}/../testdata/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    /// A xorshift generator of numbers below `n` (0 for `n` = 0), from `seed`.
    fn rng(mut seed: u64) -> impl FnMut(usize) -> usize {
        move |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n.max(1) as u64) as usize
        }
    }

    fn scans(data: &[u8]) -> Vec<usize> {
        crate::pipeline::jpeg::scan(data, &crate::Limits::default(), false)
            .map(|h| h.scan_offsets)
            .unwrap_or_default()
    }

    #[test]
    fn the_refinement_walk_is_libjpegs_bit_by_bit_walk() {
        let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..20_000 {
            let mask = next() & next(); // sparse and dense masks
            let se = 1 + (next() % 63) as usize;
            let k = 1 + (next() % se as u64) as usize;
            let r0 = (next() % 16) as i32;
            // libjpeg's loop, one coefficient at a time.
            let (mut kk, mut r, mut reads) = (k, r0, 0u32);
            while kk <= se {
                if mask & (1 << kk) != 0 {
                    reads += 1;
                } else {
                    r -= 1;
                    if r < 0 {
                        break;
                    }
                }
                kk += 1;
            }
            let (stop, passed) = refine_walk(mask, k, se, r0);
            assert_eq!(
                (stop, passed.count_ones()),
                (kk, reads),
                "{mask:x} {k} {se} {r0}"
            );
        }
    }

    #[test]
    fn intact_files_are_clean() {
        for name in FIXTURES {
            let data = fixture(name);
            assert_eq!(
                check(&data, &scans(&data)).unwrap(),
                Finding::Clean,
                "{name}"
            );
        }
    }

    #[test]
    fn damage_is_named_as_libjpeg_names_it() {
        let data = fixture("jpeg/restart.jpg");
        // Junk between two restart intervals.
        let rst = data
            .windows(2)
            .position(|w| w[0] == 0xFF && (0xD0..=0xD7).contains(&w[1]))
            .unwrap();
        let mut junk = data.clone();
        junk.splice(
            rst..rst,
            [0x12, 0x34, 0x56, 0x78, 0x9A, 0xBC, 0xDE, 0x01, 0x23],
        );
        let Finding::Warning(w) = check(&junk, &scans(&junk)).unwrap() else {
            panic!("junk before a restart marker went unnoticed")
        };
        assert!(w.starts_with("Corrupt JPEG data"), "{w}");
        // A scan cut short by a marker.
        let mut short = data.clone();
        short.truncate(data.len() / 2);
        short.extend_from_slice(&[0xFF, 0xD9]);
        let Finding::Warning(w) = check(&short, &scans(&short)).unwrap() else {
            panic!("a short scan went unnoticed")
        };
        assert!(w.contains("premature end of data segment"), "{w}");
        // Two frame headers are fatal, as in libjpeg.
        let sof = data.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
        let len = u16::from_be_bytes([data[sof + 2], data[sof + 3]]) as usize;
        let mut two = data.clone();
        two.splice(sof..sof, data[sof..sof + 2 + len].to_vec());
        let e = check(&two, &scans(&two)).unwrap_err();
        assert!(e.message.contains("two SOF"), "{}", e.message);
    }

    /// The walk's coefficients, rendered by jpeg-decoder, give exactly the pixels of
    /// jpeg-decoder's own decode, for every kind of intact file the fixtures cover
    /// (baseline, progressive, non-interleaved 4:2:0 and 4:4:0, restart intervals, CMYK
    /// with Adobe, grey), at full size and shrunk on load.
    #[cfg(feature = "pure-jpeg")]
    #[test]
    fn the_walks_coefficients_are_jpeg_decoders() {
        let names = FIXTURES.iter().chain(&[
            "vectors/inputs/colour_cmyk_icc.jpg",
            "vectors/inputs/card_orient6.jpg",
            "vectors/inputs/colour_p3.jpg",
        ]);
        let watch = Watch::new(&|| Ok(()));
        let grey = {
            let mut img = image::GrayImage::new(37, 23);
            for (x, y, p) in img.enumerate_pixels_mut() {
                p.0 = [(x * 7 + y * 3) as u8];
            }
            let mut out = Vec::new();
            image::codecs::jpeg::JpegEncoder::new(&mut out)
                .encode_image(&img)
                .unwrap();
            out
        };
        let mut cases: Vec<(String, Vec<u8>)> =
            names.map(|n| (n.to_string(), fixture(n))).collect();
        cases.push(("grey 37x23".into(), grey));
        for (name, data) in &cases {
            // Shrinking on load by 1/2, 1/4 and 1/8, the walk keeps only the corner of
            // each block that the scaled IDCT reads: both ways, the same pixels.
            for (scale, side) in [
                (None, 8),
                (Some(4u16), 8),
                (Some(2), 4),
                (Some(4), 2),
                (Some(8), 1),
            ] {
                let (finding, coefs) = decode(data, &scans(data), &watch, side).unwrap();
                assert_eq!(finding, Finding::Clean, "{name}");
                let coefs = coefs.unwrap_or_else(|| panic!("{name}: no coefficients"));
                assert_eq!(coefs.side, side);
                // jpeg-decoder reads the file with the scans' data hidden, as in the
                // pipeline.
                let hidden = super::super::input::Input::with_hidden(data, &coefs.entropy, &watch);
                let mut ours = jpeg_decoder::Decoder::new(hidden);
                let mut theirs = jpeg_decoder::Decoder::new(data.as_slice());
                if let Some(s) = scale {
                    ours.read_info().unwrap();
                    let info = ours.info().unwrap();
                    let (w, h) = (info.width.div_ceil(s), info.height.div_ceil(s));
                    assert_eq!(ours.scale(w, h).unwrap(), theirs.scale(w, h).unwrap());
                }
                if side != 8 {
                    assert_eq!(ours.dct_scale(), Some(side), "{name}");
                }
                let a = ours.decode_coefficients(coefs.components, side).unwrap();
                let b = theirs.decode().unwrap();
                assert_eq!(a.len(), b.len(), "{name} {scale:?}");
                assert!(a == b, "{name} {scale:?}: the pixels differ");
                if side != 8 {
                    // Corners given to an unscaled decoder do not fit: an error.
                    let (_, c) = decode(data, &scans(data), &watch, side).unwrap();
                    let c = c.unwrap();
                    let input = super::super::input::Input::with_hidden(data, &c.entropy, &watch);
                    let mut full = jpeg_decoder::Decoder::new(input);
                    assert!(
                        full.decode_coefficients(c.components, side).is_err(),
                        "{name}"
                    );
                }
            }
        }
    }

    /// A progressive frame of 5 components (the header scan, libjpeg and jpeg-decoder
    /// all refuse it, so only a direct call gets here) is walked without a panic, in
    /// both modes.
    #[test]
    fn five_progressive_components_do_not_panic() {
        let mut f = vec![0xFF, 0xD8];
        // DQT: table 0, all ones.
        f.extend_from_slice(&[0xFF, 0xDB, 0, 67, 0]);
        f.extend_from_slice(&[1; 64]);
        // SOF2: 8x8, 5 components, 1x1 sampling, table 0.
        f.extend_from_slice(&[0xFF, 0xC2, 0, 8 + 3 * 5, 8, 0, 8, 0, 8, 5]);
        for id in 1..=5 {
            f.extend_from_slice(&[id, 0x11, 0]);
        }
        // DHT: DC table 0, one 1-bit code for symbol 1.
        f.extend_from_slice(&[0xFF, 0xC4, 0, 20, 0x00, 1]);
        f.extend_from_slice(&[0; 15]);
        f.push(1);
        // SOS: the fifth component alone, DC first, Al 0.
        f.extend_from_slice(&[0xFF, 0xDA, 0, 8, 1, 5, 0x00, 0, 0, 0]);
        f.extend_from_slice(&[0x55; 8]);
        f.extend_from_slice(&[0xFF, 0xD9]);
        let scans = [f.windows(2).position(|w| w == [0xFF, 0xDA]).unwrap()];
        assert!(check(&f, &scans).is_ok());
        for side in [8, 4, 2, 1] {
            assert!(decode(&f, &scans, &Watch::new(&|| Ok(())), side).is_ok());
        }
    }

    /// Randomly damaged fixtures through the decoding walk and jpeg-decoder's
    /// `decode_coefficients`, as the wasm build runs them: no panic, whatever the
    /// damage. A short run in CI; `CONVEYOR_WALK_FUZZ=N` runs N files per fixture.
    #[cfg(feature = "pure-jpeg")]
    #[test]
    fn the_decoding_walk_survives_damage() {
        let per: usize = std::env::var("CONVEYOR_WALK_FUZZ")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(150);
        let mut rand = rng(0xD1B5_4A32_D192_ED03);
        let watch = Watch::new(&|| Ok(()));
        let mut rendered = 0;
        for name in FIXTURES {
            let data = fixture(name);
            for _ in 0..per {
                let mut d = data.clone();
                for _ in 0..1 + rand(6) {
                    let p = 2 + rand(d.len() - 2);
                    match rand(3) {
                        0 => d[p] = rand(256) as u8,
                        1 => d.insert(p, rand(256) as u8),
                        _ => {
                            d.remove(p);
                        }
                    }
                }
                let Ok(h) = crate::pipeline::jpeg::scan(&d, &crate::Limits::default(), false)
                else {
                    continue;
                };
                // Every IDCT size: all coefficients, or the corner a scaled IDCT reads.
                let side = [8, 4, 2, 1][rand(4)];
                if let Ok((_, Some(c))) = decode(&d, &h.scan_offsets, &watch, side) {
                    let input = super::super::input::Input::with_hidden(&d, &c.entropy, &watch);
                    let mut dec = jpeg_decoder::Decoder::new(input);
                    if side != 8 {
                        let s = (8 / side) as u32;
                        let want = (h.width.div_ceil(s) as u16, h.height.div_ceil(s) as u16);
                        if dec.scale(want.0, want.1).is_err() || dec.dct_scale() != Some(side) {
                            continue;
                        }
                    }
                    if dec.decode_coefficients(c.components, side).is_ok() {
                        rendered += 1;
                    }
                }
            }
        }
        assert!(rendered > 0, "no damaged file was rendered");
    }

    /// Damaged files that libjpeg decodes with warnings (what `fail_on: "none"`
    /// accepts): the walk's coefficients, rendered by jpeg-decoder, give libjpeg's
    /// pixels (up to the two IDCTs' and upsamplers' rounding), where jpeg-decoder's own
    /// reading of the damage often does not.
    #[cfg(all(feature = "pure-jpeg", feature = "mozjpeg"))]
    #[test]
    fn damaged_files_decode_to_libjpegs_pixels() {
        use super::super::input::Input;
        let psnr = |a: &[u8], b: &[u8]| {
            let se: f64 = a
                .iter()
                .zip(b)
                .map(|(&x, &y)| (x as f64 - y as f64).powi(2))
                .sum();
            let mse = se / a.len().max(1) as f64;
            if mse == 0.0 {
                99.0
            } else {
                10.0 * (255.0f64 * 255.0 / mse).log10()
            }
        };
        let mut rand = rng(0x2F69_3A1B_77C4_0E5D);
        let watch = Watch::new(&|| Ok(()));
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        for name in FIXTURES {
            let data = fixture(name);
            let sos = data.windows(2).position(|w| w == [0xFF, 0xDA]).unwrap();
            for _ in 0..120 {
                let mut d = data.clone();
                for _ in 0..1 + rand(3) {
                    let p = sos + 16 + rand(data.len() - sos - 20);
                    d[p] = rand(256) as u8;
                }
                let Ok(h) = crate::pipeline::jpeg::scan(&d, &crate::Limits::default(), false)
                else {
                    continue;
                };
                let Ok(native) =
                    super::super::libjpeg::decode(Input::new(&d, &watch), &watch, 1, h.adobe, None)
                else {
                    continue;
                };
                if native.warning.is_none() {
                    continue; // undamaged where it counts
                }
                let Ok((_, Some(c))) = decode(&d, &h.scan_offsets, &watch, 8) else {
                    continue;
                };
                let input = Input::with_hidden(&d, &c.entropy, &watch);
                let Ok(walk) =
                    jpeg_decoder::Decoder::new(input).decode_coefficients(c.components, c.side)
                else {
                    continue;
                };
                let own = jpeg_decoder::Decoder::new(d.as_slice()).decode();
                let want = &native.pixels.buf;
                if walk.len() == want.len() {
                    ours.push(psnr(&walk, want));
                    theirs.push(own.map_or(0.0, |o| {
                        if o.len() == want.len() {
                            psnr(&o, want)
                        } else {
                            0.0
                        }
                    }));
                }
            }
        }
        let median = |v: &mut Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        let n = ours.len();
        assert!(n >= 50, "only {n} damaged files decoded with warnings");
        let (m_ours, m_theirs) = (median(&mut ours), median(&mut theirs));
        eprintln!(
            "{n} damaged files: PSNR against libjpeg, walk median {m_ours:.1} dB (min {:.1}, \
             {} under 40 dB), jpeg-decoder alone median {m_theirs:.1} dB ({} under 40 dB)",
            ours[0],
            ours.iter().filter(|&&p| p < 40.0).count(),
            theirs.iter().filter(|&&p| p < 40.0).count(),
        );
        assert!(m_ours >= 40.0, "walk median {m_ours:.1} dB");
        assert!(
            m_ours > m_theirs,
            "walk {m_ours:.1} dB, jpeg-decoder {m_theirs:.1} dB"
        );
    }

    /// Damaged copies of the fixtures: the check must refuse exactly the files the
    /// native door (libjpeg-turbo, fail_on "warning") refuses.
    #[cfg(feature = "mozjpeg")]
    #[test]
    fn agrees_with_libjpeg_on_damaged_files() {
        use crate::{OutputFormat, OutputSpec, Recipe};
        let recipe = Recipe::new(vec![OutputSpec::new("o", OutputFormat::Png).size(16, 16)]);
        let mut rand = rng(0x9E37_79B9_7F4A_7C15);
        let (mut total, mut disagree) = (0, Vec::new());
        for name in FIXTURES {
            let data = fixture(name);
            let sos = data.windows(2).position(|w| w == [0xFF, 0xDA]).unwrap();
            let body = sos + 16..data.len() - 2;
            for i in 0..240 {
                let mut d = data.clone();
                let at = body.start + rand(body.len());
                match i % 3 {
                    0 => {
                        for _ in 0..1 + rand(4) {
                            let p = body.start + rand(body.len());
                            d[p] = rand(256) as u8;
                        }
                    }
                    1 => {
                        let junk: Vec<u8> = (0..1 + rand(24)).map(|_| rand(256) as u8).collect();
                        d.splice(at..at, junk);
                    }
                    _ => {
                        let n = (1 + rand(16)).min(data.len() - 2 - at);
                        d.drain(at..at + n);
                    }
                }
                let Ok(h) = crate::pipeline::jpeg::scan(&d, &crate::Limits::default(), false)
                else {
                    continue; // refused by the marker scan, the same in every build
                };
                if !h.complete {
                    continue; // truncated: the same rule in every build
                }
                total += 1;
                let native_ok = crate::process(&d, &recipe).is_ok();
                let check_ok = matches!(check(&d, &h.scan_offsets), Ok(Finding::Clean));
                // The decoding walk (the wasm build's) reads the same bits.
                let decoded = walk(&d, &h.scan_offsets, Some(&Watch::new(&|| Ok(()))), 8);
                assert_eq!(
                    decoded.map(|(f, _)| f).map_err(|e| e.message),
                    check(&d, &h.scan_offsets).map_err(|e| e.message),
                    "{name} #{i}: the decoding walk's verdict differs"
                );
                if native_ok != check_ok {
                    let native = crate::process(&d, &recipe).err().map(|e| e.message);
                    disagree.push(format!(
                        "{name} #{i}: native {native:?}, check {:?}",
                        check(&d, &h.scan_offsets)
                    ));
                }
            }
        }
        assert!(
            total > 1000,
            "only {total} damaged files reached the decoder"
        );
        assert!(
            disagree.is_empty(),
            "{} of {total} disagree:\n{}",
            disagree.len(),
            disagree.join("\n")
        );
    }
}
