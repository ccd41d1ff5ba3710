//! Smart crop for `fit: "cover"` (`position`): where the crop window goes, found on a
//! small upright copy of the image (at most [`ANALYSIS_SIDE`] a side). Written from
//! sharp's and libvips' published descriptions of their strategies, not their code:
//!
//! - `entropy`: while the window is wider (taller) than the target, compare the
//!   Shannon entropy of the luminance histogram of a strip at each side and cut the
//!   strip with less, until the window has the target's size;
//! - `attention`: a saliency map of luminance edges (a Laplacian), saturation
//!   (chroma) and skin tones, blurred, and the window centred on its strongest point,
//!   then kept inside the image.
//!
//! Only the window's position changes: its size is the geometry's (`geometry.rs`), so
//! shrink-on-load, the limits and the memory estimate do not depend on the content.

use super::pixels::{Layout, Pixels};
use crate::recipe::Position;

/// The largest side of the analysis image.
pub(crate) const ANALYSIS_SIDE: u32 = 256;

/// Moves the upright crop `[x, y, w, h]` of an upright source `upright` in size to
/// where `position` finds the interesting part, using `analysis` (the whole upright
/// image, downscaled).
pub(crate) fn place(
    position: Position,
    analysis: &Pixels,
    upright: (u32, u32),
    crop: [f64; 4],
) -> [f64; 4] {
    let [_, _, cw, ch] = crop;
    let (aw, ah) = (analysis.width as usize, analysis.height as usize);
    let (sx, sy) = (aw as f64 / upright.0 as f64, ah as f64 / upright.1 as f64);
    // The window in analysis pixels.
    let ww = ((cw * sx).round() as usize).clamp(1, aw);
    let wh = ((ch * sy).round() as usize).clamp(1, ah);
    let luma = luminance(analysis);
    let (ax, ay) = match position {
        Position::Centre => return crop,
        Position::Entropy => entropy_window(&luma, aw, ah, ww, wh),
        Position::Attention => attention_window(analysis, &luma, ww, wh),
        #[allow(unreachable_patterns)]
        _ => return crop,
    };
    let x = (ax as f64 / sx).clamp(0.0, (upright.0 as f64 - cw).max(0.0));
    let y = (ay as f64 / sy).clamp(0.0, (upright.1 as f64 - ch).max(0.0));
    [x, y, cw, ch]
}

fn rgb_at(px: &Pixels, i: usize) -> [u8; 3] {
    match px.layout {
        Layout::L8 => [px.buf[i]; 3],
        Layout::Rgb8 => [px.buf[i * 3], px.buf[i * 3 + 1], px.buf[i * 3 + 2]],
        Layout::Rgba8 => [px.buf[i * 4], px.buf[i * 4 + 1], px.buf[i * 4 + 2]],
    }
}

fn luminance(px: &Pixels) -> Vec<u8> {
    (0..px.width as usize * px.height as usize)
        .map(|i| {
            let [r, g, b] = rgb_at(px, i);
            ((2126 * r as u32 + 7152 * g as u32 + 722 * b as u32) / 10_000) as u8
        })
        .collect()
}

/// Shannon entropy (bits) of the luminance histogram of the rectangle.
fn entropy(luma: &[u8], stride: usize, x: usize, y: usize, w: usize, h: usize) -> f64 {
    let mut hist = [0u32; 256];
    for row in y..y + h {
        for &v in &luma[row * stride + x..row * stride + x + w] {
            hist[v as usize] += 1;
        }
    }
    let n = (w * h) as f64;
    hist.iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / n;
            -p * p.log2()
        })
        .sum()
}

/// The `entropy` strategy: the top-left corner of the window.
fn entropy_window(luma: &[u8], aw: usize, ah: usize, ww: usize, wh: usize) -> (usize, usize) {
    let (mut x, mut y, mut w, mut h) = (0, 0, aw, ah);
    while w > ww {
        let slice = (w - ww).min((aw / 32).max(1));
        let left = entropy(luma, aw, x, y, slice, h);
        let right = entropy(luma, aw, x + w - slice, y, slice, h);
        if left < right {
            x += slice;
        }
        w -= slice;
    }
    while h > wh {
        let slice = (h - wh).min((ah / 32).max(1));
        let top = entropy(luma, aw, x, y, w, slice);
        let bottom = entropy(luma, aw, x, y + h - slice, w, slice);
        if top < bottom {
            y += slice;
        }
        h -= slice;
    }
    (x, y)
}

/// Whether the colour falls in a common skin-tone range (normalised r and g, and not
/// too dark or bright).
fn skin(r: u8, g: u8, b: u8) -> bool {
    let sum = r as f32 + g as f32 + b as f32;
    if !(90.0..=700.0).contains(&sum) {
        return false;
    }
    let (nr, ng) = (r as f32 / sum, g as f32 / sum);
    (0.36..=0.465).contains(&nr) && (0.28..=0.363).contains(&ng)
}

/// The `attention` strategy: the top-left corner of the window.
fn attention_window(px: &Pixels, luma: &[u8], ww: usize, wh: usize) -> (usize, usize) {
    let (w, h) = (px.width as usize, px.height as usize);
    let mut map = vec![0f32; w * h];
    for y in 0..h {
        for x in 0..w {
            let i = y * w + x;
            let at = |xx: usize, yy: usize| luma[yy * w + xx] as f32;
            let lap = 4.0 * at(x, y)
                - at(x.saturating_sub(1), y)
                - at((x + 1).min(w - 1), y)
                - at(x, y.saturating_sub(1))
                - at(x, (y + 1).min(h - 1));
            let [r, g, b] = rgb_at(px, i);
            let chroma = r.max(g).max(b) - r.min(g).min(b);
            let sat = if chroma > 60 { chroma as f32 } else { 0.0 };
            let skin = if skin(r, g, b) { 255.0 } else { 0.0 };
            map[i] = lap.abs() * 2.0 + sat + skin;
        }
    }
    // Three box blurs approximate a Gaussian of radius ~ 1/16 of the larger side.
    let radius = (w.max(h) / 16).max(1);
    for _ in 0..3 {
        map = box_blur(&map, w, h, radius);
    }
    let (best, _) =
        map.iter().enumerate().fold(
            (0, f32::MIN),
            |(bi, bv), (i, &v)| if v > bv { (i, v) } else { (bi, bv) },
        );
    let (cx, cy) = (best % w, best / w);
    let x = cx.saturating_sub(ww / 2).min(w - ww);
    let y = cy.saturating_sub(wh / 2).min(h - wh);
    (x, y)
}

/// A separable box blur with clamped edges.
fn box_blur(src: &[f32], w: usize, h: usize, r: usize) -> Vec<f32> {
    let mut tmp = vec![0f32; w * h];
    for y in 0..h {
        let row = &src[y * w..(y + 1) * w];
        for x in 0..w {
            let (a, b) = (x.saturating_sub(r), (x + r).min(w - 1));
            tmp[y * w + x] = row[a..=b].iter().sum::<f32>() / (b - a + 1) as f32;
        }
    }
    let mut out = vec![0f32; w * h];
    for x in 0..w {
        for y in 0..h {
            let (a, b) = (y.saturating_sub(r), (y + r).min(h - 1));
            out[y * w + x] = (a..=b).map(|yy| tmp[yy * w + x]).sum::<f32>() / (b - a + 1) as f32;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 200x50: flat grey, with a noisy (or red) 40x50 block whose left edge is at `at`.
    fn scene(at: usize, red: bool) -> Pixels {
        let mut buf = Vec::new();
        let mut seed = 7u32;
        for y in 0..50 {
            for x in 0..200 {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                let noise = (seed >> 16) as u8;
                let px = if (at..at + 40).contains(&x) {
                    if red {
                        [220, 20, 30]
                    } else {
                        [noise, noise / 2, 255 - noise]
                    }
                } else {
                    [128, 128, 128]
                };
                let _ = y;
                buf.extend(px);
            }
        }
        Pixels {
            width: 200,
            height: 50,
            layout: Layout::Rgb8,
            buf,
        }
    }

    #[test]
    fn entropy_and_attention_find_the_detail() {
        for at in [0usize, 30, 150] {
            for (pos, red) in [
                (Position::Entropy, false),
                (Position::Attention, false),
                (Position::Attention, true),
            ] {
                let a = scene(at, red);
                // Upright source 800x200 (the analysis is a quarter), square crop.
                let [x, _, w, _] = place(pos, &a, (800, 200), [300.0, 0.0, 200.0, 200.0]);
                let (lo, hi) = (x / 4.0, (x + w) / 4.0);
                assert!(
                    lo <= at as f64 + 1.0 && hi >= (at + 40) as f64 - 1.0,
                    "{pos:?} red={red}: block at {at}..{}, window {lo}..{hi}",
                    at + 40
                );
            }
        }
    }

    #[test]
    fn centre_keeps_the_planned_crop() {
        let a = scene(0, false);
        let crop = [300.0, 0.0, 200.0, 200.0];
        assert_eq!(place(Position::Centre, &a, (800, 200), crop), crop);
    }
}
