//! The JPEG marker scan: one pass over the segment structure, without decoding any
//! entropy-coded data, that answers everything the pipeline must know before it lets a
//! decoder near the file.
//!
//! - the frame: size, sample precision, components, and the coding process, so that
//!   variants no decoder here supports (12-bit, lossless, hierarchical, DNL heights)
//!   are refused as `unsupported_format` naming the variant;
//! - the number of scans, so that a progressive file whose scans are repeated
//!   thousands of times fails in milliseconds against [`Limits::max_scans`](crate::Limits);
//! - where each scan starts, so that the decoder's input can be cut at scan boundaries
//!   and the job's deadline is checked between scans;
//! - whether the file ends with EOI (a truncated file does not);
//! - the EXIF orientation and the ICC profile (its APP2 chunks, bounded in size, read
//!   only when wanted: metadata that will be dropped is never copied).
//!
//! It reads only the bytes it is given and allocates only the scan list (bounded by the
//! scan limit) and a wanted, bounded profile.

use crate::error::{Error, ErrorKind, Stage};
use crate::limits::Limits;

/// What the marker scan found.
#[derive(Debug, Clone, Default)]
pub(crate) struct JpegHeader {
    pub width: u32,
    pub height: u32,
    /// Colour components: 1 (grey), 3 (YCbCr or RGB) or 4 (CMYK or YCCK).
    pub components: u8,
    /// Progressive (a coefficient buffer for the whole image is needed).
    pub progressive: bool,
    /// Arithmetic-coded.
    pub arithmetic: bool,
    /// The largest horizontal and vertical sampling factors (for the coefficient
    /// buffer's size).
    pub max_sampling: (u8, u8),
    /// The sum over components of h × v sampling factors.
    pub sampling_sum: u32,
    /// Byte offset of every SOS marker, in order.
    pub scan_offsets: Vec<usize>,
    /// The file ends properly with EOI after its last scan.
    pub complete: bool,
    /// EXIF orientation, 1 to 8 (1 when absent or unreadable).
    pub orientation: u16,
    /// The ICC profile, when asked for and no larger than the limit.
    pub icc: Option<Vec<u8>>,
    /// An ICC profile was present but dropped because it exceeded the size limit.
    pub icc_dropped: bool,
    /// An Adobe (APP14) marker is present: CMYK values are stored inverted.
    pub adobe: bool,
}

fn unsupported(what: &str) -> Error {
    Error::new(
        ErrorKind::UnsupportedFormat,
        format!("jpeg: {what} is not supported"),
    )
    .at(Stage::Decode)
}

fn corrupt(what: &str) -> Error {
    Error::new(ErrorKind::DecodeFailed, format!("jpeg: {what}")).at(Stage::Decode)
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

/// Scans the markers of `data` (which starts with SOI). `want_icc` collects the ICC
/// profile. Fails with `limit_exceeded` past `limits.max_scans` scans, with
/// `unsupported_format` for variants not decoded here, and with `decode_failed` when
/// there is no frame header before the first scan.
pub(crate) fn scan(data: &[u8], limits: &Limits, want_icc: bool) -> Result<JpegHeader, Error> {
    let mut h = JpegHeader {
        orientation: 1,
        ..JpegHeader::default()
    };
    let mut frame_seen = false;
    let mut icc_chunks: Vec<(u8, &[u8])> = Vec::new();
    let mut icc_bytes: u64 = 0;
    let mut pos = 2; // after SOI
                     // The next marker: skip anything up to an 0xFF (libjpeg warns and does the same),
                     // then fill bytes.
    while let Some(ff) = data
        .get(pos..)
        .and_then(|d| d.iter().position(|&b| b == 0xFF))
    {
        pos += ff;
        while data.get(pos) == Some(&0xFF) {
            pos += 1;
        }
        let Some(&marker) = data.get(pos) else { break };
        pos += 1;
        match marker {
            0xD9 => {
                h.complete = frame_seen && !h.scan_offsets.is_empty();
                break;
            }
            0xD8 | 0xD0..=0xD7 | 0x01 | 0x00 => continue,
            _ => {}
        }
        let Some(len) = be16(data, pos).map(usize::from) else {
            break;
        };
        if len < 2 {
            return Err(corrupt("a marker segment has a bad length"));
        }
        let Some(seg) = data.get(pos + 2..pos + len) else {
            break; // truncated inside a segment
        };
        let seg_start = pos - 2;
        pos += len;
        match marker {
            0xC0..=0xCF if !matches!(marker, 0xC4 | 0xC8 | 0xCC) => {
                if frame_seen {
                    continue; // libjpeg refuses a second SOF only once it decodes it
                }
                frame_seen = true;
                match marker {
                    0xC3 | 0xCB => return Err(unsupported("lossless coding (SOF3/SOF11)")),
                    0xC5..=0xC7 | 0xCD..=0xCF => {
                        return Err(unsupported("hierarchical coding (differential SOF)"))
                    }
                    _ => {}
                }
                h.progressive = matches!(marker, 0xC2 | 0xCA);
                h.arithmetic = marker >= 0xC9;
                let precision = *seg.first().ok_or_else(|| corrupt("short frame header"))?;
                if precision != 8 {
                    return Err(unsupported(&format!("{precision}-bit sample precision")));
                }
                h.height = be16(seg, 1).ok_or_else(|| corrupt("short frame header"))? as u32;
                h.width = be16(seg, 3).ok_or_else(|| corrupt("short frame header"))? as u32;
                h.components = *seg.get(5).ok_or_else(|| corrupt("short frame header"))?;
                if h.height == 0 {
                    return Err(unsupported("a height defined by a DNL marker"));
                }
                if !matches!(h.components, 1 | 3 | 4) {
                    return Err(unsupported(&format!("{} colour components", h.components)));
                }
                for c in 0..h.components as usize {
                    let s = *seg
                        .get(6 + 3 * c + 1)
                        .ok_or_else(|| corrupt("short frame header"))?;
                    let (hs, vs) = ((s >> 4).max(1), (s & 15).max(1));
                    h.max_sampling = (h.max_sampling.0.max(hs), h.max_sampling.1.max(vs));
                    h.sampling_sum += hs as u32 * vs as u32;
                }
            }
            0xDA => {
                if !frame_seen {
                    return Err(corrupt("a scan comes before the frame header"));
                }
                if h.scan_offsets.len() as u32 >= limits.max_scans {
                    return Err(Error::new(
                        ErrorKind::LimitExceeded,
                        format!(
                            "jpeg: more than {} scans; the limit is {} (max_scans)",
                            limits.max_scans, limits.max_scans
                        ),
                    )
                    .at(Stage::Decode));
                }
                h.scan_offsets.push(seg_start);
                // Skip the entropy-coded data: up to the next marker that is neither a
                // stuffed zero nor a restart marker.
                loop {
                    let Some(ff) = data
                        .get(pos..)
                        .and_then(|d| d.iter().position(|&b| b == 0xFF))
                    else {
                        pos = data.len();
                        break;
                    };
                    pos += ff;
                    match data.get(pos + 1) {
                        Some(0x00) | Some(0xD0..=0xD7) | Some(0xFF) => pos += 1,
                        _ => break,
                    }
                }
            }
            0xEE if seg.starts_with(b"Adobe") => h.adobe = true,
            0xE1 if seg.starts_with(b"Exif\0\0") => {
                h.orientation = exif_orientation(&seg[6..]).unwrap_or(1);
            }
            0xE2 if seg.starts_with(b"ICC_PROFILE\0") && seg.len() > 14 => {
                icc_bytes += (seg.len() - 14) as u64;
                if want_icc && icc_bytes <= limits.max_icc_bytes as u64 {
                    icc_chunks.push((seg[12], &seg[14..]));
                } else if icc_bytes > limits.max_icc_bytes as u64 {
                    h.icc_dropped = true;
                }
            }
            _ => {}
        }
    }
    if !frame_seen {
        return Err(corrupt("no frame header (SOF) before the end of the data"));
    }
    if want_icc && !icc_chunks.is_empty() && !h.icc_dropped {
        icc_chunks.sort_by_key(|(seq, _)| *seq);
        h.icc = Some(
            icc_chunks
                .iter()
                .flat_map(|(_, c)| c.iter().copied())
                .collect(),
        );
    }
    Ok(h)
}

/// The orientation tag (0x0112) of IFD0 in an EXIF TIFF block, if readable.
fn exif_orientation(tiff: &[u8]) -> Option<u16> {
    let le = match tiff.get(0..2)? {
        b"II" => true,
        b"MM" => false,
        _ => return None,
    };
    let u16_at = |at: usize| -> Option<u16> {
        let b = [*tiff.get(at)?, *tiff.get(at + 1)?];
        Some(if le {
            u16::from_le_bytes(b)
        } else {
            u16::from_be_bytes(b)
        })
    };
    let u32_at = |at: usize| -> Option<u32> {
        let b: [u8; 4] = tiff.get(at..at + 4)?.try_into().ok()?;
        Some(if le {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    };
    let ifd = u32_at(4)? as usize;
    let count = u16_at(ifd)? as usize;
    (0..count.min(256)).find_map(|i| {
        let e = ifd + 2 + 12 * i;
        (u16_at(e)? == 0x0112)
            .then(|| u16_at(e + 8))
            .flatten()
            .filter(|o| (1..=8).contains(o))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(marker: u8, body: &[u8]) -> Vec<u8> {
        let mut v = vec![0xFF, marker];
        v.extend_from_slice(&((body.len() + 2) as u16).to_be_bytes());
        v.extend_from_slice(body);
        v
    }

    fn sof(marker: u8, precision: u8, w: u16, h: u16) -> Vec<u8> {
        let mut body = vec![precision];
        body.extend_from_slice(&h.to_be_bytes());
        body.extend_from_slice(&w.to_be_bytes());
        body.extend_from_slice(&[3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]);
        seg(marker, &body)
    }

    fn file(parts: &[Vec<u8>]) -> Vec<u8> {
        let mut v = vec![0xFF, 0xD8];
        for p in parts {
            v.extend_from_slice(p);
        }
        v
    }

    #[test]
    fn counts_scans_and_skips_entropy_data() {
        let scan = seg(0xDA, &[1, 1, 0, 0, 63, 0]);
        let entropy = vec![0x12, 0xFF, 0x00, 0x34, 0xFF, 0xD3, 0x56];
        let mut parts = vec![sof(0xC2, 8, 100, 50)];
        for _ in 0..3 {
            parts.push(scan.clone());
            parts.push(entropy.clone());
        }
        parts.push(vec![0xFF, 0xD9]);
        let h = scan_ok(&file(&parts));
        assert_eq!((h.width, h.height, h.components), (100, 50, 3));
        assert!(h.progressive && h.complete);
        assert_eq!(h.scan_offsets.len(), 3);
        assert_eq!(h.max_sampling, (2, 2));
        assert_eq!(h.sampling_sum, 6);
    }

    fn scan_ok(data: &[u8]) -> JpegHeader {
        scan(data, &Limits::default(), false).unwrap()
    }

    #[test]
    fn scan_flood_fails_with_limit_exceeded() {
        let mut parts = vec![sof(0xC2, 8, 16, 16)];
        for _ in 0..500 {
            parts.push(seg(0xDA, &[1, 1, 0, 0, 63, 0]));
        }
        let e = scan(&file(&parts), &Limits::default().with_max_scans(100), false).unwrap_err();
        assert_eq!(e.kind, ErrorKind::LimitExceeded);
        assert!(e.message.contains("100"), "{}", e.message);
    }

    #[test]
    fn variants_are_named() {
        for (marker, precision, word) in [
            (0xC1, 12, "12-bit"),
            (0xC3, 8, "lossless"),
            (0xC5, 8, "hierarchical"),
        ] {
            let e = scan(
                &file(&[sof(marker, precision, 8, 8)]),
                &Limits::default(),
                false,
            )
            .unwrap_err();
            assert_eq!(e.kind, ErrorKind::UnsupportedFormat);
            assert!(e.message.contains(word), "{}", e.message);
        }
        let h = scan_ok(&file(&[sof(0xC9, 8, 8, 8)]));
        assert!(h.arithmetic && !h.complete);
    }

    #[test]
    fn reads_exif_orientation_and_icc_chunks() {
        let mut exif = b"Exif\0\0MM\0\x2a\0\0\0\x08\0\x01".to_vec();
        exif.extend_from_slice(&[0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0]);
        let icc2 = [b"ICC_PROFILE\0\x02\x02".as_slice(), b"world"].concat();
        let icc1 = [b"ICC_PROFILE\0\x01\x02".as_slice(), b"hello "].concat();
        let data = file(&[
            seg(0xE1, &exif),
            seg(0xE2, &icc2),
            seg(0xE2, &icc1),
            sof(0xC0, 8, 8, 8),
        ]);
        let h = scan(&data, &Limits::default(), true).unwrap();
        assert_eq!(h.orientation, 6);
        assert_eq!(h.icc.as_deref(), Some(b"hello world".as_slice()));
        let h = scan(&data, &Limits::default().with_max_icc_bytes(4), true).unwrap();
        assert!(h.icc.is_none() && h.icc_dropped);
        assert!(scan_ok(&data).icc.is_none());
    }
}
