//! Test images made by the tests: every input format, EXIF orientations, ICC and GPS
//! metadata, and hostile headers (decompression bombs). Shared by the test files.
#![allow(dead_code, missing_docs)]

pub mod hostile;
pub mod psnr;

use std::io::Cursor;

use image::metadata::Orientation;
use image::{DynamicImage, ImageFormat, Rgb, RgbImage, Rgba, RgbaImage};

/// A deterministic RGB gradient.
pub fn gradient(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        Rgb([
            (x * 255 / w.max(1)) as u8,
            (y * 255 / h.max(1)) as u8,
            ((x + y) % 256) as u8,
        ])
    })
}

/// Encodes with `image`'s encoder for `format`.
pub fn encode(img: &DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    let img = match format {
        ImageFormat::Jpeg => DynamicImage::ImageRgb8(img.to_rgb8()),
        ImageFormat::Gif | ImageFormat::Ico => DynamicImage::ImageRgba8(img.to_rgba8()),
        _ => img.clone(),
    };
    img.write_to(&mut out, format).unwrap();
    out.into_inner()
}

pub fn png(w: u32, h: u32) -> Vec<u8> {
    encode(&DynamicImage::ImageRgb8(gradient(w, h)), ImageFormat::Png)
}

pub fn jpeg(w: u32, h: u32) -> Vec<u8> {
    jpeg_of(&gradient(w, h), &[])
}

/// A JPEG with extra APPn segments `(n, payload)`.
pub fn jpeg_of(img: &RgbImage, segments: &[(u8, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut enc = jpeg_encoder::Encoder::new(&mut out, 92);
    for (n, data) in segments {
        enc.add_app_segment(*n, data.clone()).unwrap();
    }
    enc.encode(
        img.as_raw(),
        img.width() as u16,
        img.height() as u16,
        jpeg_encoder::ColorType::Rgb,
    )
    .unwrap();
    out
}

/// An EXIF APP1 payload with an orientation tag and, optionally, a GPS IFD.
pub fn exif(orientation: u16, with_gps: bool) -> Vec<u8> {
    let mut t: Vec<u8> = b"II*\0".to_vec();
    t.extend(8u32.to_le_bytes());
    let entries: u16 = if with_gps { 2 } else { 1 };
    t.extend(entries.to_le_bytes());
    // Orientation, SHORT, 1, value
    t.extend(0x0112u16.to_le_bytes());
    t.extend(3u16.to_le_bytes());
    t.extend(1u32.to_le_bytes());
    t.extend((orientation as u32).to_le_bytes());
    let gps_ifd_offset = 8 + 2 + 12 * entries as u32 + 4;
    if with_gps {
        // GPSInfo IFD pointer, LONG
        t.extend(0x8825u16.to_le_bytes());
        t.extend(4u16.to_le_bytes());
        t.extend(1u32.to_le_bytes());
        t.extend(gps_ifd_offset.to_le_bytes());
    }
    t.extend(0u32.to_le_bytes());
    if with_gps {
        // GPS IFD: GPSLatitudeRef "N" plus a marker string we can search for.
        t.extend(1u16.to_le_bytes());
        t.extend(0x0001u16.to_le_bytes());
        t.extend(2u16.to_le_bytes());
        t.extend(2u32.to_le_bytes());
        t.extend(b"N\0\0\0");
        t.extend(0u32.to_le_bytes());
        t.extend(b"GPS-SECRET-48.8584N-2.2945E");
    }
    let mut p = b"Exif\0\0".to_vec();
    p.extend(t);
    p
}

/// The inverse of an orientation: what to store so that applying `o` gives back the
/// upright image.
pub fn inverse(o: Orientation) -> Orientation {
    match o {
        Orientation::Rotate90 => Orientation::Rotate270,
        Orientation::Rotate270 => Orientation::Rotate90,
        other => other,
    }
}

/// An upright test card `w`×`h`: red top-left quadrant, green top-right, blue
/// bottom-left, white bottom-right.
pub fn card(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| match (x < w / 2, y < h / 2) {
        (true, true) => Rgb([255, 0, 0]),
        (false, true) => Rgb([0, 255, 0]),
        (true, false) => Rgb([0, 0, 255]),
        (false, false) => Rgb([255, 255, 255]),
    })
}

/// A JPEG that stores `card(w, h)` under EXIF orientation `exif_value`.
pub fn oriented_jpeg(w: u32, h: u32, exif_value: u8) -> Vec<u8> {
    let o = Orientation::from_exif(exif_value).unwrap();
    let mut stored = DynamicImage::ImageRgb8(card(w, h));
    stored.apply_orientation(inverse(o));
    jpeg_of(&stored.to_rgb8(), &[(1, exif(exif_value as u16, false))])
}

/// The nearest of red, green, blue, white.
pub fn colour_name(p: [u8; 3]) -> &'static str {
    let names: [(&str, [u8; 3]); 4] = [
        ("red", [255, 0, 0]),
        ("green", [0, 255, 0]),
        ("blue", [0, 0, 255]),
        ("white", [255, 255, 255]),
    ];
    names
        .iter()
        .min_by_key(|(_, c)| {
            (0..3)
                .map(|i| (p[i] as i32 - c[i] as i32).pow(2))
                .sum::<i32>()
        })
        .unwrap()
        .0
}

/// Input bytes of every format conveyor decodes, `w`×`h`.
pub fn every_format(w: u32, h: u32) -> Vec<(&'static str, Vec<u8>)> {
    let rgb = DynamicImage::ImageRgb8(gradient(w, h));
    let rgba = DynamicImage::ImageRgba8(RgbaImage::from_fn(w, h, |x, y| {
        Rgba([x as u8, y as u8, 90, 200])
    }));
    vec![
        ("jpeg", encode(&rgb, ImageFormat::Jpeg)),
        ("png", encode(&rgba, ImageFormat::Png)),
        ("gif", encode(&rgb, ImageFormat::Gif)),
        ("webp", encode(&rgba, ImageFormat::WebP)),
        ("bmp", encode(&rgb, ImageFormat::Bmp)),
        ("tiff", encode(&rgb, ImageFormat::Tiff)),
        ("ico", encode(&rgba, ImageFormat::Ico)),
    ]
}

fn chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut c = (data.len() as u32).to_be_bytes().to_vec();
    c.extend(kind);
    c.extend(data);
    let mut h = crc32fast::Hasher::new();
    h.update(kind);
    h.update(data);
    c.extend(h.finalize().to_be_bytes());
    c
}

/// A PNG whose header declares `w`×`h` RGB but whose data is a few bytes: a
/// decompression bomb's header.
pub fn png_bomb_header(w: u32, h: u32) -> Vec<u8> {
    let mut p = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = w.to_be_bytes().to_vec();
    ihdr.extend(h.to_be_bytes());
    ihdr.extend([8, 2, 0, 0, 0]);
    p.extend(chunk(b"IHDR", &ihdr));
    p.extend(chunk(
        b"IDAT",
        &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
    ));
    p.extend(chunk(b"IEND", &[]));
    p
}

/// A real, valid, highly compressible PNG of `w`×`h` black pixels (a genuine bomb at
/// large sizes: tiny file, huge decode).
pub fn png_zeros(w: u32, h: u32) -> Vec<u8> {
    let img = image::GrayImage::new(w, h);
    let mut out = Cursor::new(Vec::new());
    image::codecs::png::PngEncoder::new_with_quality(
        &mut out,
        image::codecs::png::CompressionType::Fast,
        image::codecs::png::FilterType::NoFilter,
    )
    .write_image_fixed(img.as_raw(), w, h);
    out.into_inner()
}

trait WriteFixed {
    fn write_image_fixed(self, buf: &[u8], w: u32, h: u32);
}

impl<W: std::io::Write> WriteFixed for image::codecs::png::PngEncoder<W> {
    fn write_image_fixed(self, buf: &[u8], w: u32, h: u32) {
        use image::ImageEncoder;
        self.write_image(buf, w, h, image::ExtendedColorType::L8)
            .unwrap();
    }
}

/// A JPEG whose SOF header is patched to declare `w`×`h`.
pub fn jpeg_with_declared_size(w: u16, h: u16) -> Vec<u8> {
    let mut j = jpeg(16, 16);
    let sof = j
        .windows(2)
        .position(|m| m == [0xFF, 0xC0])
        .expect("baseline SOF0");
    j[sof + 5..sof + 7].copy_from_slice(&h.to_be_bytes());
    j[sof + 7..sof + 9].copy_from_slice(&w.to_be_bytes());
    j
}

/// A GIF whose logical screen and first frame declare `w`×`h`.
pub fn gif_bomb_header(w: u16, h: u16) -> Vec<u8> {
    let mut g = b"GIF89a".to_vec();
    g.extend(w.to_le_bytes());
    g.extend(h.to_le_bytes());
    g.extend([0x80, 0, 0]); // global colour table of 2 entries
    g.extend([0, 0, 0, 255, 255, 255]);
    g.push(0x2C);
    g.extend([0, 0, 0, 0]);
    g.extend(w.to_le_bytes());
    g.extend(h.to_le_bytes());
    g.push(0);
    g.extend([2, 2, 0x4C, 0x01, 0]); // LZW min code size 2, one tiny sub-block
    g.push(0x3B);
    g
}

/// Decodes an output and returns its format and size. AVIF (which `image` cannot
/// decode here) is read from its `ftyp` brand and `ispe` box.
pub fn sniff(bytes: &[u8]) -> (ImageFormat, u32, u32) {
    if bytes.get(4..12) == Some(b"ftypavif") {
        let at = bytes
            .windows(4)
            .position(|w| w == b"ispe")
            .expect("an ispe box");
        let be = |i: usize| u32::from_be_bytes(bytes[i..i + 4].try_into().unwrap());
        return (ImageFormat::Avif, be(at + 8), be(at + 12));
    }
    let format = image::guess_format(bytes).unwrap();
    let img = image::load_from_memory(bytes).unwrap();
    (format, img.width(), img.height())
}
