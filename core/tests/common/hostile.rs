//! Generators of hostile inputs, shared by the tests and by `core/examples/hostile.rs`
//! (which writes them to files for the C and Python doors and for benchmarks).
//! Every input here is built from scratch, so each test says what it attacks.
#![allow(dead_code)]

use std::io::Write;

/// A PNG chunk with its CRC.
pub fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut c = (data.len() as u32).to_be_bytes().to_vec();
    c.extend(kind);
    c.extend(data);
    let mut h = crc32fast::Hasher::new();
    h.update(kind);
    h.update(data);
    c.extend(h.finalize().to_be_bytes());
    c
}

fn zlib(raw_len: usize, mut fill: impl FnMut(&mut fdeflate::Compressor<&mut Vec<u8>>)) -> Vec<u8> {
    let mut out = Vec::new();
    let mut c = fdeflate::Compressor::new(&mut out).unwrap();
    let _ = raw_len;
    fill(&mut c);
    c.finish().unwrap();
    out
}

/// A valid PNG of `w`×`h` RGB pixels, streamed through the compressor row by row:
/// `fill` writes each row's pixels (filter type 0, no prediction).
fn png_rgb(w: u32, h: u32, mut fill: impl FnMut(&mut [u8])) -> Vec<u8> {
    let mut p = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = w.to_be_bytes().to_vec();
    ihdr.extend(h.to_be_bytes());
    ihdr.extend([8, 2, 0, 0, 0]);
    p.extend(png_chunk(b"IHDR", &ihdr));
    let mut row = vec![0u8; 1 + 3 * w as usize];
    let idat = zlib(row.len() * h as usize, |c| {
        for _ in 0..h {
            fill(&mut row[1..]);
            c.write_data(&row).unwrap();
        }
    });
    for part in idat.chunks(1 << 20) {
        p.extend(png_chunk(b"IDAT", part));
    }
    p.extend(png_chunk(b"IEND", &[]));
    p
}

/// A valid PNG of `w`×`h` RGB pixels, all black (a 10000×10000 one is about 400 KB and
/// declares 100 megapixels).
pub fn png_black_rgb(w: u32, h: u32) -> Vec<u8> {
    png_rgb(w, h, |_| {})
}

/// A valid PNG of `w`×`h` RGB pixels of random noise (xorshift) in every channel: the
/// worst case for lossless encoders (libwebp's among them).
pub fn png_noise_rgb(w: u32, h: u32) -> Vec<u8> {
    let mut seed = 0x2545_F491u32;
    png_rgb(w, h, |row| {
        for v in row {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            *v = (seed >> 24) as u8;
        }
    })
}

/// A small valid PNG (16×16 grey) whose iCCP chunk inflates to `inflated` bytes of
/// zeros: a zlib bomb in metadata that nothing needs.
pub fn png_iccp_bomb(inflated: usize) -> Vec<u8> {
    let mut p = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = 16u32.to_be_bytes().to_vec();
    ihdr.extend(16u32.to_be_bytes());
    ihdr.extend([8, 0, 0, 0, 0]);
    p.extend(png_chunk(b"IHDR", &ihdr));
    let mut iccp = b"bomb\0\0".to_vec();
    let zeros = vec![0u8; 1 << 20];
    iccp.extend(zlib(inflated, |c| {
        for _ in 0..inflated / zeros.len() {
            c.write_data(&zeros).unwrap();
        }
    }));
    p.extend(png_chunk(b"iCCP", &iccp));
    let row: Vec<u8> = std::iter::once(0).chain([128u8; 16]).collect();
    let idat = zlib(17 * 16, |c| {
        for _ in 0..16 {
            c.write_data(&row).unwrap();
        }
    });
    p.extend(png_chunk(b"IDAT", &idat));
    p.extend(png_chunk(b"IEND", &[]));
    p
}

/// A progressive JPEG of `w`×`h` (a noisy gradient, so scans carry data).
pub fn progressive_jpeg(w: u16, h: u16) -> Vec<u8> {
    progressive_jpeg_of(w, h, 31)
}

/// A progressive JPEG of a gradient with `noise` (0 to 255) added: with 0, most
/// refinement scans are a few bytes of end-of-band runs.
pub fn progressive_jpeg_of(w: u16, h: u16, noise: u32) -> Vec<u8> {
    let mut px = Vec::with_capacity(w as usize * h as usize * 3);
    let mut seed = 0x2545F491u32;
    for y in 0..h as u32 {
        for x in 0..w as u32 {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            let n = (seed % (noise + 1)) as u8;
            px.extend([
                (x % 256) as u8 ^ n,
                (y % 256) as u8,
                ((x + y) % 256) as u8 ^ n,
            ]);
        }
    }
    let mut out = Vec::new();
    let mut enc = jpeg_encoder::Encoder::new(&mut out, 90);
    enc.set_progressive(true);
    enc.encode(&px, w, h, jpeg_encoder::ColorType::Rgb).unwrap();
    out
}

/// The byte offsets of a JPEG's SOS markers and of its EOI.
fn scans_and_eoi(j: &[u8]) -> (Vec<usize>, usize) {
    let mut scans = Vec::new();
    let mut i = 2;
    while i + 1 < j.len() {
        if j[i] != 0xFF {
            i += 1;
            continue;
        }
        match j[i + 1] {
            0xD9 => return (scans, i),
            0xDA => {
                scans.push(i);
                let len = u16::from_be_bytes([j[i + 2], j[i + 3]]) as usize;
                i += 2 + len;
                while i + 1 < j.len() && (j[i] != 0xFF || matches!(j[i + 1], 0x00 | 0xD0..=0xD7)) {
                    i += 1;
                }
            }
            0x00 | 0xFF | 0xD0..=0xD7 => i += 1,
            _ if i + 4 > j.len() => break,
            _ => i += 2 + u16::from_be_bytes([j[i + 2], j[i + 3]]) as usize,
        }
    }
    (scans, j.len())
}

/// A progressive JPEG of `w`×`h` whose smallest scan is repeated until the file has
/// `scans` scans: the scan flood. libjpeg decodes every repeat (warning about the
/// bogus progression), each one a pass over that component's coefficients.
pub fn scan_flood_jpeg(w: u16, h: u16, scans: usize) -> Vec<u8> {
    // libjpeg's progressive encoder codes empty bands as end-of-band runs, so the
    // smallest scan of a smooth image is a few bytes.
    let mut px = Vec::with_capacity(w as usize * h as usize * 3);
    for y in 0..h as usize {
        for x in 0..w as usize {
            px.extend([(x % 256) as u8, (y % 256) as u8, 128]);
        }
    }
    let mut c = mozjpeg::Compress::new(mozjpeg::ColorSpace::JCS_RGB);
    c.set_size(w as usize, h as usize);
    c.set_quality(90.0);
    c.set_progressive_mode();
    let mut started = c.start_compress(Vec::new()).unwrap();
    started.write_scanlines(&px).unwrap();
    let base = started.finish().unwrap();
    let (mut offsets, eoi) = scans_and_eoi(&base);
    offsets.push(eoi);
    let last = offsets
        .windows(2)
        .map(|s| &base[s[0]..s[1]])
        .min_by_key(|s| s.len())
        .unwrap();
    let mut out = base[..eoi].to_vec();
    for _ in offsets.len()..scans {
        out.extend_from_slice(last);
    }
    out.extend_from_slice(&[0xFF, 0xD9]);
    out
}

/// The first `percent` per cent of `data` (a truncated upload).
pub fn truncated(data: &[u8], percent: usize) -> Vec<u8> {
    data[..data.len() * percent / 100].to_vec()
}

/// A JPEG header (SOI, SOF, EOI) of a variant: `sof` marker byte and sample precision.
pub fn jpeg_variant_header(sof: u8, precision: u8) -> Vec<u8> {
    let mut v = vec![0xFF, 0xD8, 0xFF, sof, 0, 17, precision, 0, 16, 0, 16, 3];
    v.extend([1, 0x11, 0, 2, 0x11, 0, 3, 0x11, 0]);
    v.extend([0xFF, 0xD9]);
    v
}

/// A BMP of 24-bit pixels whose header declares `w`×`h` but which carries no pixel
/// data (253 bytes declaring 2554×18803 is about 144 MB to allocate).
pub fn bmp_size_bomb(w: i32, h: i32, total_len: usize) -> Vec<u8> {
    let mut b = b"BM".to_vec();
    b.write_all(&(total_len as u32).to_le_bytes()).unwrap();
    b.write_all(&[0, 0, 0, 0]).unwrap();
    b.write_all(&54u32.to_le_bytes()).unwrap();
    b.write_all(&40u32.to_le_bytes()).unwrap();
    b.write_all(&w.to_le_bytes()).unwrap();
    b.write_all(&h.to_le_bytes()).unwrap();
    b.write_all(&1u16.to_le_bytes()).unwrap();
    b.write_all(&24u16.to_le_bytes()).unwrap();
    b.write_all(&[0u8; 24]).unwrap();
    b.resize(total_len.max(54), 0x7f);
    b
}

/// A WebP (VP8X) header declaring `w`×`h`, with no image data.
pub fn webp_header(w: u32, h: u32) -> Vec<u8> {
    let mut webp = b"RIFF\x16\0\0\0WEBPVP8X\x0a\0\0\0\x10\0\0\0".to_vec();
    webp.extend(&(w - 1).to_le_bytes()[..3]);
    webp.extend(&(h - 1).to_le_bytes()[..3]);
    webp
}
