//! `conveyor_job_result`: one job's outcome as C sees it, and the Rust memory that
//! backs its pointers ([`OwnedResult`]). Built on the delivering thread from the core's
//! `Outcome`; for callbacks it lives for the callback, for polled results until
//! `conveyor_job_result_free`.

use std::ffi::{c_char, c_void, CString};

use bytes::Bytes;
use conveyor::{InputFormat, Outcome, OutputFormat};

use crate::result::{c_name, conveyor_result};

/// Time spent per stage, in microseconds.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct conveyor_timings {
    /// Waiting in the queue.
    pub queued_us: u64,
    /// Header, limits and decode.
    pub decode_us: u64,
    /// Resize, orientation, crop and pad (all outputs).
    pub resize_us: u64,
    /// Encoding (all outputs).
    pub encode_us: u64,
    /// Writing files (all outputs).
    pub save_us: u64,
    /// From acceptance to the outcome.
    pub total_us: u64,
}

/// One finished output. Every pointer is owned by the library.
#[repr(C)]
#[derive(Debug)]
pub struct conveyor_output {
    /// The recipe's name for the output (NUL-terminated).
    pub name: *const c_char,
    /// `"jpeg"`, `"png"` or `"webp"` (static).
    pub format: *const c_char,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// The encoded bytes, or NULL when the output was saved to a file.
    pub data: *const u8,
    /// Encoded size in bytes (also when saved).
    pub len: usize,
    /// The saved file's path, or NULL when the bytes are in `data`.
    pub path: *const c_char,
}

/// One job's outcome. Valid only during the callback; a polled result until
/// `conveyor_job_result_free`.
#[repr(C)]
#[derive(Debug)]
pub struct conveyor_job_result {
    /// The id returned by submit.
    pub job_id: u64,
    /// `CONVEYOR_OK` or the failure's code.
    pub code: conveyor_result,
    /// What went wrong, or NULL on success.
    pub message: *const c_char,
    /// The failing stage (`"decode"`, `"resize"`, ...), or NULL.
    pub stage: *const c_char,
    /// The input's detected format (static string), or NULL when it was not decoded.
    pub input_format: *const c_char,
    /// The input's stored width (0 when not decoded).
    pub input_width: u32,
    /// The input's stored height (0 when not decoded).
    pub input_height: u32,
    /// The input's size in bytes (0 when not decoded).
    pub input_bytes: u64,
    /// Stage timings.
    pub timings: conveyor_timings,
    /// The outputs, in recipe order (NULL when `output_count` is 0).
    pub outputs: *const conveyor_output,
    /// Number of outputs.
    pub output_count: usize,
    /// The userdata given at submit.
    pub userdata: *mut c_void,
    /// The job's key as given in `conveyor_job_options` (NUL-terminated), or NULL when
    /// it had none. With an `output_dir`, the outputs of a successful job are in the
    /// folder `output_dir/key/` (`output_dir/<job_id>/` without a key). Appended last,
    /// so the fields before it keep their offsets.
    pub key: *const c_char,
    /// The whole outcome as the shared wire JSON (NUL-terminated; the same object the
    /// upload server, the batch CLI, Python and JS show), including fields this struct
    /// has no member for. Output bytes are never in it (they are in `outputs[i].data`).
    /// Appended last, so the fields before it keep their offsets.
    pub json: *const c_char,
    /// Length of `json` in bytes, without the NUL.
    pub json_len: usize,
}

/// The C view plus everything its pointers point into. `c` must stay the first field:
/// polled results are handed out as a pointer to it and taken back by casting.
#[repr(C)]
pub(crate) struct OwnedResult {
    pub c: conveyor_job_result,
    strings: Vec<CString>,
    outputs: Vec<conveyor_output>,
    data: Vec<Bytes>,
    /// Called on drop (polled results).
    pub free_userdata: Option<unsafe extern "C" fn(*mut c_void)>,
}

fn static_input_format(f: InputFormat) -> *const c_char {
    c_name(f.as_str())
}

fn static_output_format(f: OutputFormat) -> *const c_char {
    c_name(f.as_str())
}

fn micros(d: std::time::Duration) -> u64 {
    d.as_micros().min(u64::MAX as u128) as u64
}

impl OwnedResult {
    pub(crate) fn new(outcome: Outcome, userdata: *mut c_void) -> Box<OwnedResult> {
        let mut strings = Vec::new();
        let mut keep = |s: String| -> *const c_char {
            let c = CString::new(s.replace('\0', "\\0")).unwrap_or_default();
            let p = c.as_ptr();
            strings.push(c); // moving a CString does not move its heap buffer
            p
        };
        let mut c = conveyor_job_result {
            job_id: outcome.job_id.0,
            code: conveyor_result::CONVEYOR_OK,
            message: std::ptr::null(),
            stage: std::ptr::null(),
            input_format: std::ptr::null(),
            input_width: 0,
            input_height: 0,
            input_bytes: 0,
            timings: conveyor_timings::default(),
            outputs: std::ptr::null(),
            output_count: 0,
            userdata,
            key: std::ptr::null(),
            json: std::ptr::null(),
            json_len: 0,
        };
        let json = serde_json::to_string(&outcome).unwrap_or_else(|_| "{}".to_string());
        c.json_len = json.len();
        c.json = keep(json);
        if let Some(key) = outcome.key {
            c.key = keep(key);
        }
        // Failed jobs carry their timings too (time queued, time until failure).
        let t = outcome.timings;
        c.timings = conveyor_timings {
            queued_us: micros(t.queued),
            decode_us: micros(t.decode),
            resize_us: micros(t.resize),
            encode_us: micros(t.encode),
            save_us: micros(t.save),
            total_us: micros(t.total),
        };
        let mut outputs = Vec::new();
        let mut data = Vec::new();
        match outcome.result {
            Err(e) => {
                c.code = e.kind.into();
                c.message = keep(e.message);
                if let Some(stage) = e.stage {
                    c.stage = keep(stage.as_str().to_string());
                }
            }
            Ok(report) => {
                c.input_format = static_input_format(report.input.format);
                c.input_width = report.input.width;
                c.input_height = report.input.height;
                c.input_bytes = report.input.byte_len;
                for o in report.outputs {
                    let (ptr, path) = match (&o.data, &o.path) {
                        (Some(b), _) => (b.as_ptr(), std::ptr::null()),
                        (None, Some(p)) => {
                            (std::ptr::null(), keep(p.to_string_lossy().into_owned()))
                        }
                        (None, None) => (std::ptr::null(), std::ptr::null()),
                    };
                    outputs.push(conveyor_output {
                        name: keep(o.name),
                        format: static_output_format(o.format),
                        width: o.width,
                        height: o.height,
                        data: ptr,
                        len: o.byte_len as usize,
                        path,
                    });
                    if let Some(b) = o.data {
                        data.push(b);
                    }
                }
            }
        }
        if !outputs.is_empty() {
            c.outputs = outputs.as_ptr();
            c.output_count = outputs.len();
        }
        Box::new(OwnedResult {
            c,
            strings,
            outputs,
            data,
            free_userdata: None,
        })
    }
}

impl Drop for OwnedResult {
    fn drop(&mut self) {
        if let Some(free) = self.free_userdata.take() {
            // SAFETY: `free` is the userdata_free the caller gave at submit, for exactly
            // this userdata; it runs once, after the result was handed over.
            unsafe { free(self.c.userdata) };
        }
        let _ = (&self.strings, &self.outputs, &self.data);
    }
}

/// Frees a result returned by `conveyor_pool_poll` (and runs the job's userdata_free).
/// NULL does nothing. Never pass a result received in a callback.
///
/// # Safety
/// `result` is NULL or a pointer from `conveyor_pool_poll` not yet freed.
#[no_mangle]
pub unsafe extern "C" fn conveyor_job_result_free(result: *mut conveyor_job_result) {
    if result.is_null() {
        return;
    }
    let _ = std::panic::catch_unwind(|| {
        // SAFETY: polled results are `Box<OwnedResult>` leaked as a pointer to their
        // first field (`#[repr(C)]`), so the cast gives back the original box.
        drop(unsafe { Box::from_raw(result.cast::<OwnedResult>()) });
    });
}
