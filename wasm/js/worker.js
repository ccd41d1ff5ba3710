// A conveyor module worker: one wasm instance running the core pipeline, one job at a
// time. Messages are namespaced ("conveyor:*"): init → ready, job → done | failed.
// Output buffers go back as transferables (no copy).
import init, { process } from '../pkg/conveyor_wasm.js';

let limitsJson = '';
let ready = null;

self.onmessage = async (e) => {
  const m = e.data;
  if (m?.type === 'conveyor:init') {
    limitsJson = m.limits || '';
    ready = init({ module_or_path: new URL('../pkg/conveyor_wasm_bg.wasm', import.meta.url) });
    try {
      await ready;
      self.postMessage({ type: 'conveyor:ready' });
    } catch (err) {
      self.postMessage({ type: 'conveyor:init-failed', message: String(err) });
    }
    return;
  }
  if (m?.type !== 'conveyor:job') return;
  await ready;
  try {
    const out = process(new Uint8Array(m.input), m.recipe, limitsJson);
    const buffers = Array.from(out.buffers, (u8) => u8.buffer);
    self.postMessage({ type: 'conveyor:done', id: m.id, report: out.report, buffers }, buffers);
  } catch (err) {
    if (err && typeof err === 'object' && 'code' in err) {
      self.postMessage({ type: 'conveyor:failed', id: m.id, error: { code: err.code, stage: err.stage, message: err.message } });
    } else {
      // A trap (panic, out of memory): this instance may be broken; ask to be replaced.
      self.postMessage({ type: 'conveyor:failed', id: m.id, fatal: true, error: { code: 'panicked', stage: null, message: String(err) } });
    }
  }
};
