//! Animated inputs: how many frames a GIF, APNG or WebP holds and how often it loops,
//! read from the container's structure without decoding any pixels. Without
//! `animated: true` the pipeline decodes only the first frame and reports the count in
//! the outcome's `input.frames`; with it, `animated.rs` checks the count against the
//! limits before decoding any frame.
//!
//! Each walk is linear in the input, reads only inside it and stops at the first
//! damage (a truncated or malformed file counts the frames seen so far, at least 1);
//! decoding, not this count, decides whether a damaged file is accepted.

use crate::format::InputFormat;

/// The number of frames in `data` (at least 1).
pub(crate) fn count_frames(format: InputFormat, data: &[u8]) -> u32 {
    let n = match format {
        InputFormat::Gif => gif_frames(data),
        InputFormat::Png => apng_frames(data),
        InputFormat::Webp => webp_frames(data),
        _ => 1,
    };
    n.max(1)
}

/// How many times the animation plays, as WebP's `ANIM` chunk says it: 0 for forever.
/// GIF: the NETSCAPE2.0 extension's count of *repeats* plus the first play, as
/// libwebp's gif2webp converts it (absent: 1, as browsers play such a GIF once; 0 and
/// 65535 stay); APNG: `acTL`'s `num_plays`; WebP: `ANIM`'s count. Counts past 65535 (APNG)
/// become 0.
pub(crate) fn loop_count(format: InputFormat, data: &[u8]) -> u16 {
    match format {
        InputFormat::Gif => gif_loops(data),
        InputFormat::Png => find_png_chunk(data, b"acTL")
            .and_then(|c| c.get(4..8))
            .map_or(0, |b| {
                u16::try_from(u32::from_be_bytes([b[0], b[1], b[2], b[3]])).unwrap_or(0)
            }),
        InputFormat::Webp => find_webp_chunk(data, b"ANIM")
            .and_then(|c| c.get(4..6))
            .map_or(0, |b| u16::from_le_bytes([b[0], b[1]])),
        _ => 1,
    }
}

/// The background colour an animated WebP declares (`ANIM`, as B, G, R, A), if any.
pub(crate) fn webp_background(data: &[u8]) -> Option<[u8; 4]> {
    let c = find_webp_chunk(data, b"ANIM")?;
    Some([*c.first()?, *c.get(1)?, *c.get(2)?, *c.get(3)?])
}

/// The NETSCAPE2.0 (or ANIMEXTS1.0) loop count of a GIF; 1 when it has none.
fn gif_loops(data: &[u8]) -> u16 {
    for app in [&b"NETSCAPE2.0"[..], b"ANIMEXTS1.0"] {
        // Extension introducer, application label, block size 11, the identifier, then
        // the sub-block: size 3, id 1, the count (little-endian).
        if let Some(at) = data
            .windows(14)
            .position(|w| w[..3] == [0x21, 0xFF, 0x0B] && &w[3..] == app)
        {
            if let Some(b) = data.get(at + 14..at + 18) {
                if b[0] == 3 && b[1] == 1 {
                    // GIF counts repeats after the first play; WebP counts plays.
                    return match u16::from_le_bytes([b[2], b[3]]) {
                        n @ (0 | u16::MAX) => n,
                        n => n + 1,
                    };
                }
            }
        }
    }
    1
}

/// The body of the first PNG chunk of this kind before the image data.
fn find_png_chunk<'a>(data: &'a [u8], kind: &[u8; 4]) -> Option<&'a [u8]> {
    let mut at = 8usize;
    while let Some(head) = data.get(at..at + 8) {
        let len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
        if &head[4..8] == kind {
            return data.get(at + 8..at.checked_add(8)?.checked_add(len)?);
        }
        if &head[4..8] == b"IDAT" || &head[4..8] == b"IEND" {
            return None;
        }
        at = at.checked_add(12)?.checked_add(len)?;
    }
    None
}

/// The body of the first top-level WebP chunk of this kind.
fn find_webp_chunk<'a>(data: &'a [u8], kind: &[u8; 4]) -> Option<&'a [u8]> {
    let mut at = 12usize;
    while let Some(head) = data.get(at..at + 8) {
        let len = u32::from_le_bytes([head[4], head[5], head[6], head[7]]) as usize;
        if &head[..4] == kind {
            return data.get(at + 8..at.checked_add(8)?.checked_add(len)?);
        }
        at = at.checked_add(8)?.checked_add(len + (len & 1))?;
    }
    None
}

/// Counts image descriptors (`0x2C`), skipping extensions and image data sub-blocks.
fn gif_frames(data: &[u8]) -> u32 {
    // Header (6) + logical screen descriptor (7), then the global colour table.
    let Some(&packed) = data.get(10) else {
        return 1;
    };
    let mut at = 13usize;
    if packed & 0x80 != 0 {
        at += 3 << ((packed & 7) + 1);
    }
    // Skips data sub-blocks from `at`; the index after the terminator.
    let skip_blocks = |mut at: usize| -> Option<usize> {
        loop {
            let len = *data.get(at)? as usize;
            at += 1;
            if len == 0 {
                return Some(at);
            }
            at += len;
        }
    };
    let mut frames = 0u32;
    while let Some(&marker) = data.get(at) {
        match marker {
            0x2C => {
                let Some(&local) = data.get(at + 9) else {
                    break;
                };
                frames = frames.saturating_add(1);
                at += 10;
                if local & 0x80 != 0 {
                    at += 3 << ((local & 7) + 1);
                }
                // LZW minimum code size, then the image data.
                match skip_blocks(at + 1) {
                    Some(next) => at = next,
                    None => break,
                }
            }
            0x21 => match skip_blocks(at + 2) {
                Some(next) => at = next,
                None => break,
            },
            _ => break, // 0x3B (trailer) or damage
        }
    }
    frames
}

/// Counts `fcTL` chunks when the PNG has an `acTL` (an APNG); 1 for a plain PNG.
fn apng_frames(data: &[u8]) -> u32 {
    let mut at = 8usize;
    let (mut animated, mut frames) = (false, 0u32);
    while let Some(head) = data.get(at..at + 8) {
        let len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
        match &head[4..8] {
            b"acTL" => animated = true,
            b"fcTL" => frames = frames.saturating_add(1),
            b"IEND" => break,
            _ => {}
        }
        at = match at.checked_add(12).and_then(|a| a.checked_add(len)) {
            Some(next) => next,
            None => break,
        };
    }
    if animated {
        frames
    } else {
        1
    }
}

/// Counts `ANMF` chunks in an animated (extended, `VP8X`) WebP; 1 for a still one.
fn webp_frames(data: &[u8]) -> u32 {
    let mut at = 12usize;
    let mut frames = 0u32;
    while let Some(head) = data.get(at..at + 8) {
        let len = u32::from_le_bytes([head[4], head[5], head[6], head[7]]) as usize;
        if &head[..4] == b"ANMF" {
            frames = frames.saturating_add(1);
        }
        at = match at
            .checked_add(8)
            .and_then(|a| a.checked_add(len + (len & 1)))
        {
            Some(next) => next,
            None => break,
        };
    }
    frames
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gif(frames: u32) -> Vec<u8> {
        use image::codecs::gif::GifEncoder;
        use image::{Delay, Frame, RgbaImage};
        let mut out = Vec::new();
        {
            let mut enc = GifEncoder::new(&mut out);
            for i in 0..frames {
                let img = RgbaImage::from_pixel(8, 6, image::Rgba([i as u8 * 40, 0, 0, 255]));
                enc.encode_frame(Frame::from_parts(
                    img,
                    0,
                    0,
                    Delay::from_numer_denom_ms(50, 1),
                ))
                .unwrap();
            }
        }
        out
    }

    #[test]
    fn gif_frames_are_counted_and_damage_stops_the_walk() {
        assert_eq!(count_frames(InputFormat::Gif, &gif(1)), 1);
        let three = gif(3);
        assert_eq!(count_frames(InputFormat::Gif, &three), 3);
        // Truncated inside the last frame: the frames seen so far.
        assert!(count_frames(InputFormat::Gif, &three[..three.len() - 8]) >= 2);
        assert_eq!(count_frames(InputFormat::Gif, &three[..5]), 1);
    }

    #[test]
    fn plain_png_and_still_webp_are_one_frame() {
        let img = image::RgbImage::from_pixel(4, 4, image::Rgb([1, 2, 3]));
        let mut png = std::io::Cursor::new(Vec::new());
        img.write_to(&mut png, image::ImageFormat::Png).unwrap();
        assert_eq!(count_frames(InputFormat::Png, png.get_ref()), 1);
        let mut webp = std::io::Cursor::new(Vec::new());
        img.write_to(&mut webp, image::ImageFormat::WebP).unwrap();
        assert_eq!(count_frames(InputFormat::Webp, webp.get_ref()), 1);
        assert_eq!(count_frames(InputFormat::Jpeg, b"\xff\xd8"), 1);
    }

    #[test]
    fn apng_counts_frame_controls() {
        // Signature, then acTL and two fcTL chunks (contents do not matter here).
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        for (kind, len) in [
            (b"IHDR", 13),
            (b"acTL", 8),
            (b"fcTL", 26),
            (b"IDAT", 3),
            (b"fcTL", 26),
            (b"fdAT", 7),
            (b"IEND", 0),
        ] {
            png.extend_from_slice(&(len as u32).to_be_bytes());
            png.extend_from_slice(kind);
            png.extend(std::iter::repeat_n(0u8, len + 4));
        }
        assert_eq!(count_frames(InputFormat::Png, &png), 2);
    }
}
