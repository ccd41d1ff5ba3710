//! Placeholders (`"placeholder"` in the recipe): a few dozen characters a page shows,
//! blurred, before the image arrives. Computed once per job from the upright image
//! resized to at most 100x100 (ThumbHash's own limit), so their cost does not grow with
//! the input.
//!
//! - ThumbHash (the `thumbhash` crate), written as standard padded base64;
//! - BlurHash with 4x3 components, written here from its published description
//!   (<https://github.com/woltapp/blurhash/blob/master/Algorithm.md>): a DCT of the
//!   linear-light RGB, the DC term as sRGB in 4 base83 digits, the AC terms quantised to
//!   19 levels per channel after a square-root curve. Transparent pixels are composited
//!   over white first (BlurHash has no alpha).

use super::pixels::{Layout, Pixels};
use crate::recipe::Placeholder;

/// The largest side of the image a placeholder is computed from.
pub(crate) const MAX_SIDE: u32 = 100;

/// The placeholder of `px` (upright, at most [`MAX_SIDE`] a side).
pub(crate) fn compute(kind: Placeholder, px: &Pixels) -> String {
    let rgba = to_rgba(px);
    let (w, h) = (px.width as usize, px.height as usize);
    match kind {
        Placeholder::Thumbhash => base64(&thumbhash::rgba_to_thumb_hash(w, h, &rgba)),
        Placeholder::Blurhash => blurhash(w, h, &rgba, 4, 3),
    }
}

fn to_rgba(px: &Pixels) -> Vec<u8> {
    let mut out = Vec::with_capacity(px.width as usize * px.height as usize * 4);
    match px.layout {
        Layout::L8 => px.buf.iter().for_each(|&v| out.extend([v, v, v, 255])),
        Layout::Rgb8 => px
            .buf
            .chunks_exact(3)
            .for_each(|p| out.extend([p[0], p[1], p[2], 255])),
        Layout::Rgba8 => out.extend_from_slice(&px.buf),
    }
    out
}

/// Standard base64 with padding.
pub(crate) fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for c in bytes.chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= c.len() {
                out.push(ABC[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

const BASE83: &[u8; 83] =
    b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#$%*+,-.:;=?@[]^_{|}~";

fn push83(out: &mut String, value: u32, digits: u32) {
    for i in 1..=digits {
        let d = value / 83u32.pow(digits - i) % 83;
        out.push(BASE83[d as usize] as char);
    }
}

fn to_linear(v: u8) -> f32 {
    super::colour::srgb_to_linear(v as f32 / 255.0)
}

fn to_srgb(v: f32) -> u32 {
    let v = v.clamp(0.0, 1.0);
    let s = if v <= 0.003_130_8 {
        v * 12.92
    } else {
        1.055 * v.powf(1.0 / 2.4) - 0.055
    };
    (s * 255.0 + 0.5) as u32
}

/// BlurHash of `rgba` (`w`x`h`) with `nx`x`ny` components (each 1 to 9).
fn blurhash(w: usize, h: usize, rgba: &[u8], nx: usize, ny: usize) -> String {
    // Linear RGB, composited over white.
    let linear: Vec<[f32; 3]> = rgba
        .chunks_exact(4)
        .map(|p| {
            let a = p[3] as f32 / 255.0;
            let c = |v: u8| to_linear(v) * a + (1.0 - a);
            [c(p[0]), c(p[1]), c(p[2])]
        })
        .collect();
    let mut factors = Vec::with_capacity(nx * ny);
    for j in 0..ny {
        for i in 0..nx {
            let norm = if i == 0 && j == 0 { 1.0 } else { 2.0 };
            let mut sum = [0f32; 3];
            for y in 0..h {
                let by = (std::f32::consts::PI * j as f32 * y as f32 / h as f32).cos();
                for x in 0..w {
                    let b = by * (std::f32::consts::PI * i as f32 * x as f32 / w as f32).cos();
                    let p = linear[y * w + x];
                    for c in 0..3 {
                        sum[c] += b * p[c];
                    }
                }
            }
            let scale = norm / (w * h).max(1) as f32;
            factors.push(sum.map(|v| v * scale));
        }
    }
    let mut out = String::with_capacity(4 + 2 * nx * ny);
    push83(&mut out, ((nx - 1) + (ny - 1) * 9) as u32, 1);
    let ac = &factors[1..];
    let max = if ac.is_empty() {
        push83(&mut out, 0, 1);
        1.0
    } else {
        let actual = ac.iter().flatten().fold(0f32, |m, v| m.max(v.abs()));
        let quantised = (actual * 166.0 - 0.5).floor().clamp(0.0, 82.0);
        push83(&mut out, quantised as u32, 1);
        (quantised + 1.0) / 166.0
    };
    let dc = factors[0];
    push83(
        &mut out,
        to_srgb(dc[0]) << 16 | to_srgb(dc[1]) << 8 | to_srgb(dc[2]),
        4,
    );
    for f in ac {
        let q = |v: f32| {
            let v = v / max;
            let curved = v.signum() * v.abs().sqrt();
            (curved * 9.0 + 9.5).floor().clamp(0.0, 18.0) as u32
        };
        push83(&mut out, q(f[0]) * 19 * 19 + q(f[1]) * 19 + q(f[2]), 2);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_rfc_examples() {
        for (raw, enc) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(raw.as_bytes()), enc);
        }
    }

    #[test]
    fn blurhash_of_a_flat_colour_has_its_size_flag_and_dc() {
        let px = Pixels {
            width: 8,
            height: 6,
            layout: Layout::Rgb8,
            buf: [200u8, 40, 90].repeat(48),
        };
        let hash = compute(Placeholder::Blurhash, &px);
        assert_eq!(hash.len(), 4 + 2 * 12);
        // 4x3 components: size flag (4-1) + (3-1)*9 = 21 -> 'L'.
        assert_eq!(&hash[..1], "L");
        let mut dc = String::new();
        push83(&mut dc, 200 << 16 | 40 << 8 | 90, 4);
        assert_eq!(&hash[2..6], dc);
    }
}
