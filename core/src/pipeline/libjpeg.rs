//! JPEG with libjpeg-turbo (built by the `mozjpeg` crates): the one JPEG decoder and
//! encoder of native builds, and one of the crate's two FFI boundaries (`libwebp.rs` is
//! the other).
//!
//! **Decoding.** The `mozjpeg` crate does it; this module adds what it does not expose:
//! an error manager that turns libjpeg's fatal errors into unwinds carrying the message
//! and *records* its warnings (corrupt data, a premature end), so that the recipe's
//! `fail_on` can refuse a damaged file. The input comes through
//! [`Input`](super::input::Input), cut at scan boundaries, so the job's deadline and
//! cancel are checked between scans; output rows are read in bands with a check between
//! bands.
//!
//! **Encoding** talks to libjpeg directly (`mozjpeg-sys`), because the crate's
//! compressor hides the progress monitor: ours runs the job's check every 16 rows of
//! every pass, including the passes over the whole image in `jpeg_finish_compress`
//! (Huffman statistics, and one per scan when progressive), and unwinds out of libjpeg
//! when it says stop. The output grows in a `Vec` by fallible doubling.
#![allow(unsafe_code)]

use std::cell::RefCell;
use std::os::raw::c_int;
use std::panic::{catch_unwind, AssertUnwindSafe};

use mozjpeg_sys as ffi;

use super::colour::Cmyk;
use super::input::{Check, Input, Watch};
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

/// Profile bytes per APP2 marker: 65,535 less the length field, "ICC_PROFILE\0" and
/// the sequence number and count.
const ICC_PER_MARKER: usize = 65_519;

/// How an encode ended without a file.
pub(crate) enum EncodeFailure {
    /// The job's check said stop; its error, as it is.
    Stopped(Error),
    /// libjpeg failed (its message) or the output could not grow.
    Failed(String),
}

/// The progress monitor of one encode: libjpeg calls it for every call of
/// `jpeg_write_scanlines` and for every iMCU row of every pass in
/// `jpeg_finish_compress` (the Huffman-statistics pass and the output passes), so the
/// job's check runs every 16 rows of work wherever libjpeg is.
#[repr(C)]
struct Monitor<'a> {
    /// libjpeg's view; first, so that a pointer to it is a pointer to the monitor.
    mgr: ffi::jpeg_progress_mgr,
    check: Check<'a>,
    stopped: Option<Error>,
}

/// The payload of the unwind that a stopping check starts.
struct Stop;

extern "C-unwind" fn progress_monitor(cinfo: &mut ffi::jpeg_common_struct) {
    // SAFETY: `cinfo.progress` is the `mgr` field, at offset 0, of the `repr(C)`
    // `Monitor` that `encode` installed and keeps alive until libjpeg is destroyed; no
    // other reference to it is live while libjpeg runs.
    let monitor = unsafe { &mut *cinfo.progress.cast::<Monitor<'_>>() };
    if let Err(e) = (monitor.check)() {
        monitor.stopped = Some(e);
        std::panic::resume_unwind(Box::new(Stop));
    }
}

/// A destination that writes into a `Vec`, growing it fallibly (doubling).
#[repr(C)]
struct VecDest {
    /// libjpeg's view; first, so that a pointer to it is a pointer to the destination.
    mgr: ffi::jpeg_destination_mgr,
    /// The bytes written so far; libjpeg writes into its spare capacity.
    out: Vec<u8>,
}

impl VecDest {
    /// The destination installed in `cinfo`.
    fn of(cinfo: &mut ffi::jpeg_compress_struct) -> &mut VecDest {
        // SAFETY: `cinfo.dest` is the `mgr` field, at offset 0, of the `repr(C)`
        // `VecDest` that `encode` installed and keeps alive until libjpeg is destroyed;
        // no other reference to it is live while libjpeg runs.
        unsafe { &mut *cinfo.dest.cast::<VecDest>() }
    }

    /// Hands libjpeg the spare capacity, growing the buffer first if it has none.
    fn hand_out(&mut self) {
        if self.out.capacity() == self.out.len() {
            let more = self.out.len().max(64 * 1024);
            if self.out.try_reserve(more).is_err() {
                std::panic::resume_unwind(Box::new(format!(
                    "cannot grow the encoded JPEG past {} bytes",
                    self.out.len()
                )));
            }
        }
        let len = self.out.len();
        // SAFETY: `len <= capacity`, so the pointer stays inside the allocation.
        self.mgr.next_output_byte = unsafe { self.out.as_mut_ptr().add(len) };
        self.mgr.free_in_buffer = self.out.capacity() - len;
    }
}

extern "C-unwind" fn init_destination(cinfo: &mut ffi::jpeg_compress_struct) {
    VecDest::of(cinfo).hand_out();
}

extern "C-unwind" fn empty_output_buffer(cinfo: &mut ffi::jpeg_compress_struct) -> ffi::boolean {
    let d = VecDest::of(cinfo);
    // libjpeg calls this when the whole region handed out is written.
    // SAFETY: libjpeg wrote every byte of the spare capacity handed out last.
    unsafe { d.out.set_len(d.out.capacity()) };
    d.hand_out();
    1
}

extern "C-unwind" fn term_destination(cinfo: &mut ffi::jpeg_compress_struct) {
    let d = VecDest::of(cinfo);
    let written = d.out.capacity() - d.out.len() - d.mgr.free_in_buffer;
    // SAFETY: libjpeg wrote the first `written` bytes of the region handed out last.
    unsafe { d.out.set_len(d.out.len() + written) };
}

/// Encodes 8-bit gray or RGB pixels with libjpeg-turbo's fast settings (no trellis),
/// optimised Huffman tables and 4:2:0 chroma (libjpeg's default), like sharp's
/// defaults; baseline, or progressive with libjpeg's simple progression. `icc` goes in
/// APP2 markers. `out` receives the file (its capacity is a first guess). `check` runs
/// every 16 rows of work, in every pass, so a deadline or cancel stops even the passes
/// over the whole image that `jpeg_finish_compress` makes.
pub(crate) fn encode(
    px: &Pixels,
    quality: u8,
    progressive: bool,
    icc: Option<&[u8]>,
    check: Check<'_>,
    out: Vec<u8>,
) -> Result<Vec<u8>, EncodeFailure> {
    let (components, color_space) = match px.layout {
        Layout::L8 => (1, ffi::J_COLOR_SPACE::JCS_GRAYSCALE),
        Layout::Rgb8 => (3, ffi::J_COLOR_SPACE::JCS_RGB),
        other => {
            return Err(EncodeFailure::Failed(format!(
                "cannot encode {other:?} pixels as JPEG"
            )))
        }
    };
    // JDIMENSION is u32, as the pixels' sizes are; libjpeg refuses more than 65500.
    let (width, height): (ffi::JDIMENSION, ffi::JDIMENSION) = (px.width, px.height);
    let stride = px.width as usize * components;
    if icc.is_some_and(|icc| icc.len() > ICC_PER_MARKER * 255) {
        return Err(EncodeFailure::Failed(format!(
            "an ICC profile of {} bytes does not fit in JPEG's 255 APP2 markers",
            icc.map_or(0, <[u8]>::len)
        )));
    }
    // SAFETY: a zeroed manager is what `jpeg_std_error` expects to fill in.
    let mut err: ffi::jpeg_error_mgr = unsafe { std::mem::zeroed() };
    // SAFETY: `err` is a valid, writable manager.
    unsafe { ffi::jpeg_std_error(&mut err) };
    err.error_exit = Some(error_exit);
    err.emit_message = Some(emit_message);
    let mut monitor = Monitor {
        mgr: ffi::jpeg_progress_mgr {
            progress_monitor: Some(progress_monitor),
            pass_counter: 0,
            pass_limit: 0,
            completed_passes: 0,
            total_passes: 0,
        },
        check,
        stopped: None,
    };
    let mut dest = VecDest {
        mgr: ffi::jpeg_destination_mgr {
            next_output_byte: std::ptr::null_mut(),
            free_in_buffer: 0,
            init_destination: Some(init_destination),
            empty_output_buffer: Some(empty_output_buffer),
            term_destination: Some(term_destination),
        },
        out,
    };
    // SAFETY: libjpeg expects a zeroed struct before `jpeg_CreateCompress` (as the
    // mozjpeg crate does), and `jpeg_destroy_compress` accepts one that was never
    // created.
    let mut cinfo: Box<ffi::jpeg_compress_struct> = Box::new(unsafe { std::mem::zeroed() });
    cinfo.common.err = &mut err;
    let monitor_ptr: *mut Monitor<'_> = &mut monitor;
    let dest_ptr: *mut VecDest = &mut dest;
    WARNING.with(|w| w.borrow_mut().take());
    let result = catch_unwind(AssertUnwindSafe(|| {
        let cinfo = &mut *cinfo;
        // SAFETY: every call gets the compressor created here, with the error manager,
        // monitor and destination above, which outlive it (it is destroyed below,
        // before they go); errors unwind out of libjpeg (built with unwinding) to the
        // `catch_unwind` around this closure; rows point into `px.buf`, each `stride`
        // bytes long, as `input_components` and `image_width` say.
        unsafe {
            ffi::jpeg_CreateCompress(
                cinfo,
                ffi::JPEG_LIB_VERSION,
                std::mem::size_of::<ffi::jpeg_compress_struct>(),
            );
            cinfo.common.progress = monitor_ptr.cast();
            cinfo.dest = dest_ptr.cast();
            cinfo.image_width = width;
            cinfo.image_height = height;
            cinfo.input_components = components as std::os::raw::c_int;
            cinfo.in_color_space = color_space;
            ffi::jpeg_c_set_int_param(
                cinfo,
                ffi::J_INT_PARAM::JINT_COMPRESS_PROFILE,
                ffi::JINT_COMPRESS_PROFILE_VALUE::JCP_FASTEST as std::os::raw::c_int,
            );
            ffi::jpeg_set_defaults(cinfo);
            ffi::jpeg_set_quality(cinfo, c_int::from(quality), 0);
            cinfo.optimize_coding = 1;
            if progressive {
                ffi::jpeg_simple_progression(cinfo);
            }
            ffi::jpeg_start_compress(cinfo, 1);
            if let Some(icc) = icc {
                // APP2 "ICC_PROFILE\0", sequence number, count, then at most
                // ICC_PER_MARKER bytes of the profile per marker (the ICC spec's
                // embedding, as libjpeg's jpeg_write_icc_profile does); at most 255
                // markers (checked above).
                let chunks = icc.chunks(ICC_PER_MARKER);
                let count = chunks.len() as u8;
                let mut marker = Vec::with_capacity(ICC_PER_MARKER + 14);
                for (i, chunk) in chunks.enumerate() {
                    marker.clear();
                    marker.extend_from_slice(b"ICC_PROFILE\0");
                    marker.extend([i as u8 + 1, count]);
                    marker.extend_from_slice(chunk);
                    ffi::jpeg_write_marker(
                        cinfo,
                        ffi::jpeg_marker::APP0 as c_int + 2,
                        marker.as_ptr(),
                        marker.len() as std::os::raw::c_uint,
                    );
                }
            }
            const ROWS: usize = 16;
            for band in px.buf.chunks(stride.max(1) * ROWS) {
                let mut rows = [std::ptr::null::<u8>(); ROWS];
                let n = band.len() / stride.max(1);
                for (row, ptr) in band.chunks_exact(stride.max(1)).zip(rows.iter_mut()) {
                    *ptr = row.as_ptr();
                }
                let mut done = 0;
                while done < n {
                    let wrote = ffi::jpeg_write_scanlines(
                        cinfo,
                        rows.as_ptr().add(done),
                        (n - done) as ffi::JDIMENSION,
                    );
                    if wrote == 0 {
                        std::panic::resume_unwind(Box::new("libjpeg took no rows".to_string()));
                    }
                    done += wrote as usize;
                }
            }
            ffi::jpeg_finish_compress(cinfo);
        }
    }));
    // SAFETY: the compressor is not used after this; destroying frees libjpeg's memory
    // (also after an unwind, as libjpeg allows after an error).
    unsafe { ffi::jpeg_destroy_compress(&mut cinfo) };
    drop(cinfo);
    WARNING.with(|w| w.borrow_mut().take());
    if let Some(stop) = monitor.stopped.take() {
        return Err(EncodeFailure::Stopped(stop));
    }
    match result {
        Ok(()) => Ok(dest.out),
        Err(payload) => Err(EncodeFailure::Failed(
            payload
                .downcast_ref::<String>()
                .cloned()
                .unwrap_or_else(|| "libjpeg failed".into()),
        )),
    }
}
