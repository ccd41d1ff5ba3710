//! The animated WebP container, written around frames that the still WebP encoders
//! made (libwebp natively, the pure-Rust encoder in wasm), so that every door writes
//! the same file: `RIFF` `WEBP` with `VP8X` (animation flag, alpha and ICC flags, canvas
//! size), optionally `ICCP`, `ANIM` (background colour, loop count), then one `ANMF` per
//! frame wrapping that frame's `ALPH` and `VP8 `/`VP8L` chunks as the still encoder
//! stored them. Layout as in Google's "WebP Container Specification" (extended format).
//!
//! Every frame covers the whole canvas at offset 0 and replaces it (no blending, no
//! disposal): the decoders hand over frames already composited, so each one is the
//! picture as shown.

use crate::error::{Error, ErrorKind, Stage};

/// The longest frame duration the `ANMF` chunk holds, in milliseconds (24 bits).
pub(crate) const MAX_DURATION_MS: u32 = (1 << 24) - 1;

/// The animation as a whole.
pub(crate) struct Animation<'a> {
    /// Canvas width and height (every frame's size).
    pub size: (u32, u32),
    /// Plays: 0 for forever.
    pub loop_count: u16,
    /// The background colour hint, as `ANIM` stores it (B, G, R, A).
    pub background: [u8; 4],
    /// An ICC profile to embed.
    pub icc: Option<&'a [u8]>,
}

/// One encoded frame: its image chunks, as stored (`ALPH`, then `VP8 ` or `VP8L`, each
/// with header and padding), and how long it shows.
pub(crate) struct Frame {
    /// The chunks.
    pub chunks: Vec<u8>,
    /// Milliseconds, at most [`MAX_DURATION_MS`].
    pub duration_ms: u32,
    /// Whether the chunks carry alpha.
    pub alpha: bool,
}

fn fail(msg: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::EncodeFailed, format!("animated webp: {msg}")).at(Stage::Encode)
}

/// The image chunks of a still WebP (`ALPH`, `VP8 `, `VP8L`), as a [`Frame`]'s
/// chunks, and whether they carry alpha. `None` when `still` is not a WebP with an
/// image chunk.
pub(crate) fn frame_chunks(still: &[u8]) -> Option<(Vec<u8>, bool)> {
    if still.get(..4)? != b"RIFF" || still.get(8..12)? != b"WEBP" {
        return None;
    }
    let mut out = Vec::with_capacity(still.len());
    let (mut alpha, mut image) = (false, false);
    let mut at = 12usize;
    while let Some(head) = still.get(at..at + 8) {
        let len = u32::from_le_bytes([head[4], head[5], head[6], head[7]]) as usize;
        let end = at.checked_add(8)?.checked_add(len)?;
        let body = still.get(at + 8..end)?;
        let padded = (end + (len & 1)).min(still.len());
        match &head[..4] {
            b"ALPH" => {
                alpha = true;
                out.extend_from_slice(&still[at..end]);
            }
            b"VP8 " => {
                image = true;
                out.extend_from_slice(&still[at..end]);
            }
            b"VP8L" => {
                image = true;
                // Signature 0x2f, then 14 + 14 bits of size and the alpha_is_used bit.
                let bits = u32::from_le_bytes(body.get(1..5)?.try_into().ok()?);
                alpha |= bits >> 28 & 1 == 1;
                out.extend_from_slice(&still[at..end]);
            }
            // Other chunks (ICCP, EXIF, XMP) are left out, padding byte included.
            _ => {
                at = padded;
                continue;
            }
        }
        if len & 1 == 1 {
            out.push(0);
        }
        at = padded;
    }
    image.then_some((out, alpha))
}

fn push_u24(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes()[..3]);
}

fn push_chunk(out: &mut Vec<u8>, id: &[u8; 4], body: &[u8]) -> Result<(), Error> {
    let len = u32::try_from(body.len()).map_err(|_| fail("a chunk over 4 GiB"))?;
    out.extend_from_slice(id);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(body);
    if len & 1 == 1 {
        out.push(0);
    }
    Ok(())
}

/// Writes the animated WebP. The frames must all be `anim.size`; the caller has
/// bounded their number and size (the job's limits).
pub(crate) fn assemble(anim: &Animation<'_>, frames: &[Frame]) -> Result<Vec<u8>, Error> {
    let (w, h) = anim.size;
    if w == 0 || h == 0 || w > 1 << 24 || h > 1 << 24 {
        return Err(fail(format_args!("a {w}x{h} canvas")));
    }
    let payload: usize = frames.iter().map(|f| f.chunks.len() + 24).sum();
    let icc_len = anim.icc.map_or(0, |p| p.len() + 9);
    let mut out = super::pixels::reserve(payload + icc_len + 64, "the animated WebP")
        .map_err(|e| e.at(Stage::Encode))?;
    out.extend_from_slice(b"RIFF\0\0\0\0WEBP");
    // VP8X: flags (ICC 0x20, alpha 0x10, animation 0x02), 3 reserved bytes, canvas size.
    let alpha = frames.iter().any(|f| f.alpha);
    let flags = 0x02 | if alpha { 0x10 } else { 0 } | if anim.icc.is_some() { 0x20 } else { 0 };
    let mut vp8x = vec![flags, 0, 0, 0];
    push_u24(&mut vp8x, w - 1);
    push_u24(&mut vp8x, h - 1);
    push_chunk(&mut out, b"VP8X", &vp8x)?;
    if let Some(icc) = anim.icc {
        push_chunk(&mut out, b"ICCP", icc)?;
    }
    let mut chunk = anim.background.to_vec();
    chunk.extend_from_slice(&anim.loop_count.to_le_bytes());
    push_chunk(&mut out, b"ANIM", &chunk)?;
    for f in frames {
        chunk.clear();
        push_u24(&mut chunk, 0); // x offset / 2
        push_u24(&mut chunk, 0); // y offset / 2
        push_u24(&mut chunk, w - 1);
        push_u24(&mut chunk, h - 1);
        push_u24(&mut chunk, f.duration_ms.min(MAX_DURATION_MS));
        // Reserved bits, then blending (bit 1: do not blend) and disposal (bit 0: none).
        chunk.push(0b10);
        chunk.extend_from_slice(&f.chunks);
        push_chunk(&mut out, b"ANMF", &chunk)?;
    }
    let riff = u32::try_from(out.len() - 8).map_err(|_| fail("the file would pass 4 GiB"))?;
    out[4..8].copy_from_slice(&riff.to_le_bytes());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::AnimationDecoder as _;

    /// A lossless still (image's own encoder), RGB when `colour` is opaque.
    fn still(colour: [u8; 4]) -> Vec<u8> {
        let mut out = Vec::new();
        let enc = image::codecs::webp::WebPEncoder::new_lossless(&mut out);
        if colour[3] == 255 {
            let img =
                image::RgbImage::from_pixel(6, 4, image::Rgb([colour[0], colour[1], colour[2]]));
            enc.encode(img.as_raw(), 6, 4, image::ExtendedColorType::Rgb8)
        } else {
            let img = image::RgbaImage::from_pixel(6, 4, image::Rgba(colour));
            enc.encode(img.as_raw(), 6, 4, image::ExtendedColorType::Rgba8)
        }
        .unwrap();
        out
    }

    /// Frames from still encodings come back from an independent decoder (image-webp)
    /// in order, with their durations, colours, loop count and canvas size.
    #[test]
    fn assembled_frames_decode_with_their_durations_and_colours() {
        let colours = [[255, 0, 0, 255], [0, 255, 0, 128], [0, 0, 255, 255]];
        let frames: Vec<Frame> = colours
            .iter()
            .zip([40, 1000, MAX_DURATION_MS + 5])
            .map(|(&c, ms)| {
                let (chunks, alpha) = frame_chunks(&still(c)).unwrap();
                Frame {
                    chunks,
                    duration_ms: ms,
                    alpha,
                }
            })
            .collect();
        assert!(frames[1].alpha && !frames[0].alpha);
        let anim = Animation {
            size: (6, 4),
            loop_count: 3,
            background: [0; 4],
            icc: None,
        };
        let file = assemble(&anim, &frames).unwrap();
        assert_eq!(
            super::super::animation::count_frames(crate::InputFormat::Webp, &file),
            3
        );
        assert_eq!(
            super::super::animation::loop_count(crate::InputFormat::Webp, &file),
            3
        );
        let dec = image::codecs::webp::WebPDecoder::new(std::io::Cursor::new(&file)).unwrap();
        assert!(dec.has_animation());
        let got = dec.into_frames().collect_frames().unwrap();
        assert_eq!(got.len(), 3);
        for ((f, c), ms) in got.iter().zip(colours).zip([40, 1000, MAX_DURATION_MS]) {
            assert_eq!(f.buffer().dimensions(), (6, 4));
            assert_eq!(f.buffer().get_pixel(3, 2).0, c);
            let (n, d) = f.delay().numer_denom_ms();
            assert_eq!(n / d, ms);
        }
    }

    #[test]
    fn not_a_webp_has_no_frame_chunks() {
        assert!(frame_chunks(b"RIFF\0\0\0\0WAVEfmt ").is_none());
        assert!(frame_chunks(b"RIFF\x04\0\0\0WEBP").is_none());
        assert!(frame_chunks(&[]).is_none());
    }

    #[test]
    fn chunks_left_out_take_their_padding_with_them() {
        // VP8X, an ICCP chunk of odd length (padded), then a VP8L chunk of 6 bytes.
        let mut still = b"RIFF\0\0\0\0WEBP".to_vec();
        still.extend(b"VP8X\x0a\0\0\0");
        still.extend([0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        still.extend(b"ICCP\x03\0\0\0abc\0");
        let vp8l = b"VP8L\x06\0\0\0\x2f\0\0\0\0\0";
        still.extend(vp8l);
        let (chunks, alpha) = frame_chunks(&still).unwrap();
        assert_eq!(chunks, vp8l);
        assert!(!alpha);
    }
}
