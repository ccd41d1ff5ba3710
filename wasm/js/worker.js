// A conveyor module worker: one wasm instance running the core pipeline, one job at a
// time. Messages are namespaced ("conveyor:*"): init → ready, job → estimated (the
// job's memory estimate, from its header and recipe, before any pixel is decoded) |
// failed, run (the pool admitted it under its memory budget) → done (the wire outcome
// JSON, as conveyor::wire writes it, and the output buffers) | failed, check → checked
// (a settings object validated by the wasm), settings (the pool's new live settings,
// used from the next job on). Every done/failed says how large this instance's wasm
// memory has grown (`memory`, bytes), so the pool can recycle a worker that grew too
// much. Output buffers go back as transferables.
//
// Lossy WebP outputs that need only the VP8 encode come back from the wasm as RGBA
// pixels (`deferred`) unless the pool said `browserWebp: false`: the browser's libwebp
// encodes them (`OffscreenCanvas.convertToBlob`), the wasm checks and rewraps its file
// (`finishDeferredWebp`), and the wasm's own encoder takes over where the browser has
// no WebP canvas encoder or its file does not pass.
import init, { processWith, checkSettings, estimate, finishDeferredWebp, encodeDeferredWebp } from '../pkg/conveyor_wasm.js';
import { hasSimd, NO_SIMD_MESSAGE } from './simd.js';

let settingsJson = '';
let ready = null;
// Whether lossy WebP outputs go to the browser's encoder (the pool's `browserWebp`);
// false from the first time the browser turns out to have no WebP canvas encoder.
let browserWebp = false;
let exports = null;
// The job between its estimate and its run.
let pending = null;

function errorOf(err) {
  return { code: err.code, numeric_code: err.numeric_code, stage: err.stage, message: err.message };
}

function memory() {
  return exports?.memory?.buffer?.byteLength ?? 0;
}

function fail(id, err) {
  if (err && typeof err === 'object' && 'code' in err) {
    self.postMessage({ type: 'conveyor:failed', id, error: errorOf(err), memory: memory() });
  } else {
    // A trap (panic, out of memory): this instance may be broken; ask to be replaced.
    self.postMessage({ type: 'conveyor:failed', id, fatal: true, error: { code: 'panicked', stage: null, message: String(err) }, memory: memory() });
  }
}

self.onmessage = async (e) => {
  const m = e.data;
  if (m?.type === 'conveyor:init') {
    settingsJson = m.settings || '';
    browserWebp = m.browserWebp !== false && typeof OffscreenCanvas === 'function';
    if (!hasSimd()) {
      self.postMessage({ type: 'conveyor:init-failed', message: NO_SIMD_MESSAGE });
      return;
    }
    ready = init({ module_or_path: new URL('../pkg/conveyor_wasm_bg.wasm', import.meta.url) });
    try {
      exports = await ready;
      self.postMessage({ type: 'conveyor:ready', memory: memory() });
    } catch (err) {
      self.postMessage({ type: 'conveyor:init-failed', message: String(err) });
    }
    return;
  }
  if (m?.type === 'conveyor:settings') {
    settingsJson = m.settings;
    return;
  }
  if (m?.type === 'conveyor:check') {
    await ready;
    try {
      checkSettings(m.settings);
      self.postMessage({ type: 'conveyor:checked', req: m.req });
    } catch (err) {
      const error = err && typeof err === 'object' && 'code' in err ? errorOf(err) : { code: 'panicked', stage: null, message: String(err) };
      self.postMessage({ type: 'conveyor:checked', req: m.req, error });
    }
    return;
  }
  if (m?.type === 'conveyor:job') {
    // The settings in force when this job's message arrived (a later reload waits its turn).
    const job = { id: m.id, key: m.key ?? undefined, input: new Uint8Array(m.input), recipe: m.recipe, settings: settingsJson };
    await ready;
    try {
      const bytes = estimate(job.input, job.recipe, job.settings, m.budget ?? 0);
      pending = job;
      self.postMessage({ type: 'conveyor:estimated', id: job.id, bytes });
    } catch (err) {
      fail(job.id, err);
    }
    return;
  }
  if (m?.type !== 'conveyor:run' || pending?.id !== m.id) return;
  const job = pending;
  pending = null;
  try {
    const out = processWith(job.input, job.recipe, job.settings, job.id, job.key, browserWebp);
    let outcome = out.outcome;
    const outputs = Array.from(out.buffers);
    if (out.deferred.length) {
      const o = JSON.parse(outcome);
      for (const d of out.deferred) {
        const t0 = performance.now();
        outputs[d.index] = await encodeWebp(outputs[d.index], d);
        o.outputs[d.index].byte_len = outputs[d.index].length;
        o.timings.encode_us += Math.round((performance.now() - t0) * 1000);
      }
      outcome = JSON.stringify(o);
    }
    const buffers = outputs.map((u8) => u8.buffer);
    self.postMessage({ type: 'conveyor:done', id: job.id, outcome, buffers, memory: memory() }, buffers);
  } catch (err) {
    fail(job.id, err);
  }
};

// A deferred output's RGBA pixels as the output's WebP: the browser's encoder where it
// has one and its file passes the wasm's check, else the wasm's own encoder (the bytes
// the pipeline would have made). Throws the wire error only if the wasm's fails too.
async function encodeWebp(rgba, { width, height, quality }) {
  if (browserWebp) {
    try {
      const canvas = new OffscreenCanvas(width, height);
      const pixels = new ImageData(new Uint8ClampedArray(rgba.buffer, rgba.byteOffset, rgba.byteLength), width, height);
      canvas.getContext('2d').putImageData(pixels, 0, 0);
      const blob = await canvas.convertToBlob({ type: 'image/webp', quality: quality / 100 });
      if (blob.type === 'image/webp') {
        return finishDeferredWebp(new Uint8Array(await blob.arrayBuffer()), width, height);
      }
      // No WebP canvas encoder (it made a PNG): the wasm's from now on.
      browserWebp = false;
    } catch {
      // This output's file did not pass (or the canvas failed): the wasm's encodes it.
    }
  }
  return encodeDeferredWebp(rgba, width, height, quality);
}
