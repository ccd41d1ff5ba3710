//! JPEG decoding with libjpeg-turbo (built by the `mozjpeg` crate): the one JPEG
//! decoder of native builds, and the crate's only FFI boundary.
//!
//! The `mozjpeg` crate does the decoding; this module adds what it does not expose:
//! an error manager that turns libjpeg's fatal errors into unwinds carrying the message
//! and *records* its warnings (corrupt data, a premature end), so that the recipe's
//! `fail_on` can refuse a damaged file. The input comes through
//! [`Input`](super::input::Input), cut at scan boundaries, so the job's deadline and
//! cancel are checked between scans; output rows are read in bands with a check between
//! bands.
#![allow(unsafe_code)]

use std::cell::RefCell;
use std::os::raw::c_int;
use std::panic::{catch_unwind, AssertUnwindSafe};

use mozjpeg_sys as ffi;

use super::colour::Cmyk;
use super::input::{Input, Watch};
use super::pixels::{Layout, Pixels};
use crate::error::{Error, ErrorKind, Stage};

/// Output rows decoded between two checks.
const BAND_ROWS: usize = 64;

thread_local! {
    /// The first warning libjpeg emitted while decoding on this thread.
    static WARNING: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// libjpeg's message for its current error or warning.
fn message(cinfo: &mut ffi::jpeg_common_struct) -> String {
    // SAFETY: libjpeg calls the error manager's hooks with `cinfo.err` pointing at the
    // manager we installed, which outlives the decompressor.
    let Some(format) = (unsafe { cinfo.err.as_ref() }).and_then(|e| e.format_message) else {
        return "unknown error".into();
    };
    // libjpeg writes at most JMSG_LENGTH_MAX (200) bytes, NUL included; the binding
    // declares the parameter as an 80-byte array, so it is called through a pointer.
    let mut buf = [0u8; 200];
    // SAFETY: the two function types differ only in how the buffer pointer is typed;
    // the C function receives a pointer to a writable 200-byte buffer, as it expects.
    unsafe {
        let format: unsafe extern "C-unwind" fn(&mut ffi::jpeg_common_struct, *mut u8) =
            std::mem::transmute(format);
        format(cinfo, buf.as_mut_ptr());
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

extern "C-unwind" fn error_exit(cinfo: &mut ffi::jpeg_common_struct) {
    let msg = message(cinfo);
    // Unwinds through libjpeg's C frames (the crate is built with unwinding support)
    // to the `catch_unwind` in `decode`, without running the panic hook.
    std::panic::resume_unwind(Box::new(msg));
}

extern "C-unwind" fn emit_message(cinfo: &mut ffi::jpeg_common_struct, level: c_int) {
    if level < 0 {
        let msg = message(cinfo);
        WARNING.with(|w| {
            w.borrow_mut().get_or_insert(msg);
        });
    }
}

/// A decoded JPEG, with what libjpeg had to say about it.
pub(crate) struct Decoded {
    pub pixels: Pixels,
    /// libjpeg's first warning (corrupt data, premature end), if any.
    pub warning: Option<String>,
}

/// Decodes a JPEG scaled by `1 / shrink` (1, 2, 4 or 8) in the DCT domain. CMYK and
/// YCCK come out as RGB (`adobe`: the Adobe marker says the values are inverted),
/// through the image's CMYK profile when `cmyk` is given.
pub(crate) fn decode(
    input: Input<'_>,
    watch: &Watch<'_>,
    shrink: u32,
    adobe: bool,
    cmyk: Option<&Cmyk>,
) -> Result<Decoded, Error> {
    WARNING.with(|w| w.borrow_mut().take());
    let result = catch_unwind(AssertUnwindSafe(|| -> Result<Pixels, Error> {
        // SAFETY: a zeroed manager is what `jpeg_std_error` expects to fill in.
        let mut err: ffi::jpeg_error_mgr = unsafe { std::mem::zeroed() };
        // SAFETY: `err` is a valid, writable manager.
        unsafe { ffi::jpeg_std_error(&mut err) };
        err.error_exit = Some(error_exit);
        err.emit_message = Some(emit_message);
        let io = |e: std::io::Error| Error::new(ErrorKind::DecodeFailed, format!("jpeg: {e}"));
        let mut dec = mozjpeg::Decompress::with_err(err)
            .from_reader(input)
            .map_err(io)?;
        dec.scale((8 / shrink.clamp(1, 8)) as u8);
        let (layout, mut started) = match dec.image().map_err(io)? {
            mozjpeg::decompress::Format::RGB(s) => (Layout::Rgb8, s),
            mozjpeg::decompress::Format::Gray(s) => (Layout::L8, s),
            mozjpeg::decompress::Format::CMYK(s) => (Layout::Rgba8, s), // 4 bytes, converted below
        };
        let (width, height) = (started.width(), started.height());
        let stride = width * layout.channels();
        let mut buf = super::pixels::alloc(stride * height, "the decoded JPEG")?;
        for band in buf.chunks_mut(stride * BAND_ROWS) {
            watch.check()?;
            started.read_scanlines_into(band).map_err(io)?;
        }
        // The trailing data is not needed: skip `finish` (it would read to EOI).
        drop(started);
        let (layout, buf) = match (layout, cmyk) {
            (Layout::Rgba8, Some(profile)) => (Layout::Rgb8, profile.to_rgb(&mut buf, adobe)?),
            (Layout::Rgba8, None) => (Layout::Rgb8, super::pixels::cmyk_to_rgb(&buf, adobe)?),
            _ => (layout, buf),
        };
        Ok(Pixels {
            width: width as u32,
            height: height as u32,
            layout,
            buf,
        })
    }));
    let warning = WARNING.with(|w| w.borrow_mut().take());
    if let Some(stop) = watch.stopped() {
        return Err(stop);
    }
    match result {
        Ok(Ok(pixels)) => Ok(Decoded { pixels, warning }),
        Ok(Err(e)) => Err(e.at(Stage::Decode)),
        Err(payload) => {
            let msg = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "corrupt data".into());
            Err(Error::new(ErrorKind::DecodeFailed, format!("jpeg: {msg}")).at(Stage::Decode))
        }
    }
}
