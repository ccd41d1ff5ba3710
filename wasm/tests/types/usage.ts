// Compiled by types.test.mjs with tsc --strict: the package's types (index.d.ts and the
// generated types.d.ts) describe what the JS door gives, and catch misuse
// (each @ts-expect-error line must be an error).
import { Pool, ConveyorError, ERROR_CODES, EVENT_TYPES } from '../../js/index.js';
import type { Outcome, Recipe, Result, Settings, ErrorCode, PoolEventType } from '../../js/index.js';

const recipe: Recipe = {
  outputs: [{ name: 'thumb', width: 320, height: 320, fit: 'cover', format: 'webp', quality: 75 }],
  fail_on: 'truncated',
};
const settings: Settings = { default_recipe: recipe, limits: { max_pixels: 1e6, max_scans: 50 }, formats: ['jpeg', 'png'] };

export async function use(pool: Pool, file: Blob): Promise<number> {
  await pool.reload(settings);
  const r: Result = await pool.process(file, recipe, { key: 'img-1' });
  const data: Uint8Array = r.outputs[0].data;
  const key: string | null = r.key;
  const ok: true = r.ok;
  let n: number = r.job_id + r.input.byte_len + r.outputs[0].byte_len + r.timings.queued_us + r.memory_estimate;
  n += data.length + (key ?? '').length + (ok ? 1 : 0);

  pool.addEventListener('job_finished', (e) => {
    const total: number = e.detail.timings.total_us;
    const code: ErrorCode | undefined = e.detail.error;
    console.log(total, code, e.detail.stage);
  });
  pool.addEventListener('job_started', (e) => console.log(e.detail.queued_us, e.detail.job_id));
  // @ts-expect-error: a job_queued event has no timings
  pool.addEventListener('job_queued', (e) => e.detail.timings);

  for await (const ev of pool.events({ capacity: 8 })) {
    if (ev.type === 'job_queued') n += ev.input_bytes;
    else if (ev.type === 'lagged') n += ev.missed;
    else if (ev.type === 'stats') n += ev.stats.failed.decode_failed ?? 0;
  }

  const o = JSON.parse('{}') as Outcome;
  if (o.ok) n += o.outputs.length;
  else n += o.error.numeric_code + (o.error.stage === 'decode' ? 1 : 0);

  try {
    await pool.process(new Uint8Array(4));
  } catch (e) {
    if (e instanceof ConveyorError) n += e.numeric_code + (e.job_id ?? 0) + ERROR_CODES[e.code];
  }
  const names: readonly PoolEventType[] = EVENT_TYPES;
  return n + names.length;
}

// @ts-expect-error: gif is not an output format
export const bad: Recipe = { outputs: [{ name: 'x', format: 'gif' }] };
// @ts-expect-error: the size is byte_len
export const size = (r: Result): number => r.outputs[0].len;
