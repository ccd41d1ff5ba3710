// A conveyor module worker: one wasm instance running the core pipeline, one job at a
// time. Messages are namespaced ("conveyor:*"): init → ready, job → estimated (the
// job's memory estimate, from its header and recipe, before any pixel is decoded) |
// failed, run (the pool admitted it under its memory budget) → done (the wire outcome
// JSON, as conveyor::wire writes it, and the output buffers) | failed, check → checked
// (a settings object validated by the wasm), settings (the pool's new live settings,
// used from the next job on). Every done/failed says how large this instance's wasm
// memory has grown (`memory`, bytes), so the pool can recycle a worker that grew too
// much. Output buffers go back as transferables.
import init, { processWith, checkSettings, estimate } from '../pkg/conveyor_wasm.js';
import { hasSimd, NO_SIMD_MESSAGE } from './simd.js';

let settingsJson = '';
let ready = null;
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
    const out = processWith(job.input, job.recipe, job.settings, job.id, job.key);
    const buffers = Array.from(out.buffers, (u8) => u8.buffer);
    self.postMessage({ type: 'conveyor:done', id: job.id, outcome: out.outcome, buffers, memory: memory() }, buffers);
  } catch (err) {
    fail(job.id, err);
  }
};
