//! Lossy and lossless WebP encoding with libwebp (built by `libwebp-sys`), called
//! directly rather than through the `webp` crate so that the encoder can be stopped:
//! libwebp calls a progress hook as it goes (for lossy output once per row of
//! macroblocks), and the hook asks the job whether it may go on. Returning 0 from the
//! hook makes `WebPEncode` give up with `VP8_ENC_ERROR_USER_ABORT`; the job then fails
//! with its own error (`timed_out`, `cancelled`), not the encoder's.
#![allow(unsafe_code)]

use std::cell::Cell;
use std::ffi::c_int;
use std::panic::{catch_unwind, AssertUnwindSafe};

use libwebp_sys as ffi;

use super::input::Check;
use super::pixels::{Layout, Pixels};
use crate::error::Error;

/// What the progress hook sees: the job's check, and the job's error once it said stop.
struct Hook<'a> {
    check: Check<'a>,
    stopped: Cell<Option<Error>>,
}

/// libwebp's progress hook: asks the job whether it may go on.
unsafe extern "C" fn progress(_percent: c_int, picture: *const ffi::WebPPicture) -> c_int {
    catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: libwebp passes the picture being encoded; its `user_data` is the `Hook`
        // that `encode` set and keeps alive until `WebPEncode` returns.
        let hook = unsafe { &*((*picture).user_data as *const Hook<'_>) };
        match (hook.check)() {
            Ok(()) => 1,
            Err(e) => {
                hook.stopped.set(Some(e));
                0
            }
        }
    }))
    .unwrap_or(0)
}

/// Owns a picture and a memory writer for the length of one encode, and frees both.
struct Encoding {
    picture: ffi::WebPPicture,
    writer: ffi::WebPMemoryWriter,
}

impl Drop for Encoding {
    fn drop(&mut self) {
        // SAFETY: both were initialised by `encode`; freeing an empty picture or writer
        // is a no-op in libwebp, and each is freed once.
        unsafe {
            ffi::WebPPictureFree(&mut self.picture);
            ffi::WebPMemoryWriterClear(&mut self.writer);
        }
    }
}

/// Encodes RGB or RGBA pixels with `config`. `Err(Ok(e))` is the job's error (the check
/// said stop); `Err(Err(msg))` is libwebp's failure.
pub(crate) fn encode(
    px: &Pixels,
    config: &ffi::WebPConfig,
    check: Check<'_>,
) -> Result<Vec<u8>, Result<Error, String>> {
    let (stride, rgba) = match px.layout {
        Layout::Rgb8 => (px.width as usize * 3, false),
        Layout::Rgba8 => (px.width as usize * 4, true),
        Layout::L8 => return Err(Err("gray pixels must be widened first".into())),
    };
    if px.buf.len() < stride * px.height as usize {
        return Err(Err("pixel buffer too small".into()));
    }
    let (Ok(width), Ok(height), Ok(stride)) = (
        c_int::try_from(px.width),
        c_int::try_from(px.height),
        c_int::try_from(stride),
    ) else {
        return Err(Err(format!("{}x{} is too large", px.width, px.height)));
    };
    let hook = Hook {
        check,
        stopped: Cell::new(None),
    };
    let mut picture = ffi::WebPPicture::new().map_err(|()| Err("WebPPictureInit".into()))?;
    // As the `webp` crate (and cwebp) do: ARGB input, converted by libwebp as needed.
    picture.use_argb = 1;
    picture.width = width;
    picture.height = height;
    let mut enc = Encoding {
        picture,
        // SAFETY: zeroed is a valid empty writer; WebPMemoryWriterInit sets it up below.
        writer: unsafe { std::mem::zeroed() },
    };
    // SAFETY: `enc.writer` is valid memory for the writer; the picture was initialised by
    // WebPPictureInit, the buffer holds `height` rows of `stride` bytes (checked above),
    // and libwebp copies the pixels during the import.
    let imported = unsafe {
        ffi::WebPMemoryWriterInit(&mut enc.writer);
        if rgba {
            ffi::WebPPictureImportRGBA(&mut enc.picture, px.buf.as_ptr(), stride)
        } else {
            ffi::WebPPictureImportRGB(&mut enc.picture, px.buf.as_ptr(), stride)
        }
    };
    if imported == 0 {
        return Err(Err(format!(
            "libwebp could not take a {}x{} picture (out of memory)",
            px.width, px.height
        )));
    }
    enc.picture.writer = Some(ffi::WebPMemoryWrite);
    enc.picture.custom_ptr = (&mut enc.writer as *mut ffi::WebPMemoryWriter).cast();
    enc.picture.progress_hook = Some(progress);
    enc.picture.user_data = (&hook as *const Hook<'_>).cast_mut().cast();
    // SAFETY: the config is a valid WebPConfig; the picture, its writer target and the
    // hook's state all live on this frame until WebPEncode returns.
    let ok = unsafe {
        if ffi::WebPValidateConfig(config) == 0 {
            return Err(Err("invalid encoder configuration".into()));
        }
        ffi::WebPEncode(config, &mut enc.picture)
    };
    if let Some(e) = hook.stopped.take() {
        return Err(Ok(e));
    }
    if ok == 0 {
        return Err(Err(format!("libwebp error {:?}", enc.picture.error_code)));
    }
    let len = enc.writer.size;
    let mut out = super::pixels::reserve(len, "the encoded WebP").map_err(Ok)?;
    // SAFETY: the memory writer holds `size` bytes at `mem` (written by WebPEncode);
    // they are copied before `enc` frees them.
    out.extend_from_slice(unsafe { std::slice::from_raw_parts(enc.writer.mem, len) });
    Ok(out)
}
