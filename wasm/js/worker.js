// A conveyor module worker: one wasm instance running the core pipeline, one job at a
// time. Messages are namespaced ("conveyor:*"): init → ready, job → done (the wire
// outcome JSON, as conveyor::wire writes it, and the output buffers) | failed,
// check → checked (a settings object validated by the wasm), settings (the pool's new
// live settings, used from the next job on). Output buffers go back as transferables.
import init, { processWith, checkSettings } from '../pkg/conveyor_wasm.js';

let settingsJson = '';
let ready = null;

function errorOf(err) {
  return { code: err.code, numeric_code: err.numeric_code, stage: err.stage, message: err.message };
}

self.onmessage = async (e) => {
  const m = e.data;
  if (m?.type === 'conveyor:init') {
    settingsJson = m.settings || '';
    ready = init({ module_or_path: new URL('../pkg/conveyor_wasm_bg.wasm', import.meta.url) });
    try {
      await ready;
      self.postMessage({ type: 'conveyor:ready' });
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
  if (m?.type !== 'conveyor:job') return;
  // The settings in force when this job's message arrived (a later reload waits its turn).
  const settings = settingsJson;
  await ready;
  try {
    const out = processWith(new Uint8Array(m.input), m.recipe, settings, m.id, m.key ?? undefined);
    const buffers = Array.from(out.buffers, (u8) => u8.buffer);
    self.postMessage({ type: 'conveyor:done', id: m.id, outcome: out.outcome, buffers }, buffers);
  } catch (err) {
    if (err && typeof err === 'object' && 'code' in err) {
      self.postMessage({ type: 'conveyor:failed', id: m.id, error: errorOf(err) });
    } else {
      // A trap (panic, out of memory): this instance may be broken; ask to be replaced.
      self.postMessage({ type: 'conveyor:failed', id: m.id, fatal: true, error: { code: 'panicked', stage: null, message: String(err) } });
    }
  }
};
