// conveyor in the browser: a pool of module Web Workers, each with its own wasm
// instance running the core pipeline. The page's thread only queues jobs and moves
// buffers; no work, no blocking, no eval, no blob: URLs, no SharedArrayBuffer.
//
//   const pool = await Pool.create({ workers: 4, queueCapacity: 16 });
//   const result = await pool.process(file, recipe, { signal });
//
// Topology and semantics match the native pool: a bounded queue (process() waits for
// room, or rejects with `queue_full` when created with { onFull: 'reject' }), idle
// workers pull the next job, every job settles exactly once, a crashed worker is
// replaced and its job rejects with `panicked`. Events are dispatched on the pool
// (an EventTarget) with the native bus's names and fields (`event.detail` is the same
// object the Rust event serialises to), and `pool.events({capacity})` is the bus's
// bounded subscriber: an async iterator that yields `{type: 'lagged', missed}` when it
// fell behind, and never slows the pool. `pool.reload(settings)` replaces the live
// settings (default recipe, limits, formats) in every worker, as `Pool::reload` does.
//
// Memory, as in the native pool: a worker reads each job's header and estimates its
// peak memory (the core's estimate) before decoding a pixel; the job runs only when
// the estimate fits in `memoryBudget` beside the jobs running (first come, first
// served), and one whose estimate exceeds the whole budget fails with
// `limit_exceeded`. A wasm instance's memory never shrinks, so a worker whose memory
// grew past `maxWorkerMemory` is replaced by a fresh one once its job is done.

import { ERROR_CODES } from './codes.js';
// The page's thread loads the wasm too, only to check recipes before they are queued
// (the same strict parser and validation as every door; no image work happens here).
import initChecker, { checkRecipe } from '../pkg/conveyor_wasm.js';
import { hasSimd, NO_SIMD_MESSAGE } from './simd.js';

// The code tables are generated from the Rust core (codes.js; see its header).
export { ERROR_CODES, STAGES, EVENT_TYPES } from './codes.js';

/**
 * A failed job or call, with the wire error's fields: `code` (the shared snake_case
 * name), `numeric_code`, `stage`, `message`, and the `job_id` when a job had one.
 */
export class ConveyorError extends Error {
  constructor(code, message, { stage = null, job_id = null, jobId = null } = {}) {
    super(message || code);
    this.name = 'ConveyorError';
    this.code = code;
    this.numeric_code = ERROR_CODES[code] ?? -1;
    this.stage = stage;
    this.job_id = job_id ?? jobId;
  }

  /** @deprecated use `numeric_code` (the wire name). */
  get numericCode() { return this.numeric_code; }

  /** @deprecated use `job_id` (the wire name). */
  get jobId() { return this.job_id; }
  set jobId(v) { this.job_id = v; }
}

/** Adds a deprecated, non-enumerable alias `old` for `obj[now]`. */
function alias(obj, old, now) {
  Object.defineProperty(obj, old, { get() { return obj[now]; }, enumerable: false });
  return obj;
}

const MiB = 1 << 20;

/**
 * The default memory budget: half the device's memory as `navigator.deviceMemory`
 * reports it (4 GiB when the browser does not say), at least 512 MiB.
 */
function defaultMemoryBudget() {
  const gib = (typeof navigator !== 'undefined' && navigator.deviceMemory) || 4;
  return Math.max(512 * MiB, Math.floor((gib * 1024 * MiB) / 2));
}

function defaultWorkers() {
  const n = (typeof navigator !== 'undefined' && navigator.hardwareConcurrency) || 2;
  return Math.max(1, Math.min(n, 8));
}

async function toBuffer(input) {
  if (typeof Blob !== 'undefined' && input instanceof Blob) return input.arrayBuffer(); // fresh buffer: transfer it
  if (input instanceof ArrayBuffer) return input.slice(0); // copy: never detach the caller's buffer
  if (ArrayBuffer.isView(input)) return input.buffer.slice(input.byteOffset, input.byteOffset + input.byteLength);
  throw new ConveyorError('invalid_argument', 'input must be a Blob, File, ArrayBuffer or Uint8Array');
}

function checkInt(name, value, min, max) {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConveyorError('invalid_argument', `${name} must be an integer between ${min} and ${max}, got ${value}`);
  }
}

const TIMING_KEYS = ['queued_us', 'decode_us', 'resize_us', 'encode_us', 'save_us', 'total_us'];
const SETTINGS_KEYS = ['default_recipe', 'limits', 'formats'];

/**
 * One subscriber of the pool's events (see `Pool.events`): a bounded buffer of its own;
 * when more than `capacity` events wait, the oldest are dropped for it alone and the
 * next item is `{type: 'lagged', missed}`. It ends when the pool has closed.
 */
class EventStream {
  constructor(pool, capacity) {
    this._pool = pool;
    this._capacity = capacity;
    this._buf = [];
    this._head = 0;
    this._missed = 0;
    this._waiter = null;
    this._ended = false;
  }

  _push(ev) {
    if (this._waiter) {
      const w = this._waiter;
      this._waiter = null;
      return w({ value: ev, done: false });
    }
    this._buf.push(ev);
    if (this._buf.length - this._head > this._capacity) {
      this._head++;
      this._missed++;
    }
    if (this._head > 1024 && this._head * 2 > this._buf.length) {
      this._buf = this._buf.slice(this._head);
      this._head = 0;
    }
  }

  _end() {
    this._ended = true;
    if (this._waiter) {
      const w = this._waiter;
      this._waiter = null;
      w({ value: undefined, done: true });
    }
  }

  /** The next event (or lag), waiting if none is buffered; `done` once the pool closed. */
  next() {
    const value = this.poll();
    if (value) return Promise.resolve({ value, done: false });
    if (value === undefined) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => { this._waiter = resolve; });
  }

  /** The next event (or lag) if one is buffered, else `null`; `undefined` once ended. */
  poll() {
    if (this._missed) {
      const missed = this._missed;
      this._missed = 0;
      return Object.freeze({ type: 'lagged', missed });
    }
    if (this._head < this._buf.length) {
      const value = this._buf[this._head];
      this._buf[this._head++] = undefined;
      return value;
    }
    return this._ended ? undefined : null;
  }

  /** Unsubscribes; a pending `next()` resolves as done. */
  close() {
    this._pool._streams.delete(this);
    this._buf = [];
    this._head = 0;
    this._missed = 0;
    this._end();
  }

  return() {
    this.close();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator]() {
    return this;
  }
}

class WorkerSlot {
  constructor(pool, index) {
    this.pool = pool;
    this.index = index;
    this.job = null;
    this.memory = 0; // bytes of wasm memory, as the worker last reported
    this.ready = new Promise((resolve, reject) => {
      // This exact form lets every bundler (Vite, webpack, Rollup) find and bundle the worker.
      this.worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
      this.worker.onmessage = (e) => {
        const m = e.data;
        if (m?.type === 'conveyor:ready') { this.memory = m.memory ?? 0; resolve(); }
        else if (m?.type === 'conveyor:init-failed') reject(new ConveyorError('panicked', m.message));
        else if (m?.type === 'conveyor:checked') pool._onChecked(m);
        else pool._onWorkerMessage(this, m);
      };
      this.worker.onerror = (e) => {
        e.preventDefault?.();
        reject(new ConveyorError('panicked', e.message || 'worker failed to start'));
        pool._onWorkerCrash(this, e.message || 'the worker crashed');
      };
      this.worker.onmessageerror = () => pool._onWorkerCrash(this, 'a message could not be read');
      this.worker.postMessage({ type: 'conveyor:init', settings: pool._settingsJson, browserWebp: pool._browserWebp });
    });
  }
  terminate() {
    this.worker.onmessage = this.worker.onerror = this.worker.onmessageerror = null;
    this.worker.terminate();
  }
}

/** A pool of Web Workers running the conveyor pipeline. */
export class Pool extends EventTarget {
  /**
   * @param {{workers?: number, queueCapacity?: number, onFull?: 'wait'|'reject', limits?: object, defaultRecipe?: object, memoryBudget?: number, maxWorkerMemory?: number, browserWebp?: boolean}} [options]
   *   `memoryBudget` (bytes; default half of `navigator.deviceMemory`, 4 GiB when
   *   unknown, at least 512 MiB): the estimated peak memory of the jobs running at
   *   once. `maxWorkerMemory` (bytes; default 256 MiB): a worker whose wasm memory grew
   *   past it is replaced after its job. `browserWebp` (default true): lossy WebP
   *   outputs that need only the VP8 encode (opaque, sRGB, no `max_bytes`)
   *   are encoded by the browser's libwebp (`OffscreenCanvas.convertToBlob`), about 3x
   *   faster than the wasm's encoder; where the browser has no WebP canvas encoder
   *   (Safari) or it fails, the wasm's encodes them. `false`: always the wasm's.
   */
  static async create(options = {}) {
    const pool = new Pool(options);
    await Promise.all([pool._checker, ...pool._slots.map((s) => s.ready)]);
    return pool;
  }

  /** Use `Pool.create`. */
  constructor({ workers = defaultWorkers(), queueCapacity, onFull = 'wait', limits, defaultRecipe, memoryBudget, maxWorkerMemory = 256 * MiB, browserWebp = true } = {}) {
    super();
    if (typeof browserWebp !== 'boolean') {
      throw new ConveyorError('invalid_argument', `browserWebp must be true or false, got ${browserWebp}`);
    }
    this._browserWebp = browserWebp;
    checkInt('workers', workers, 1, 64);
    memoryBudget ??= defaultMemoryBudget();
    checkInt('memoryBudget', memoryBudget, MiB, Number.MAX_SAFE_INTEGER);
    checkInt('maxWorkerMemory', maxWorkerMemory, 16 * MiB, 16 * 1024 * MiB);
    this._budget = memoryBudget;
    this._maxWorkerMemory = maxWorkerMemory;
    this._reserved = 0; // bytes reserved by admitted jobs
    this._memWaiting = []; // estimated jobs waiting for memory, in order
    this._recycled = 0;
    queueCapacity ??= workers * 4;
    checkInt('queueCapacity', queueCapacity, 1, 1 << 20);
    if (onFull !== 'wait' && onFull !== 'reject') {
      throw new ConveyorError('invalid_argument', `onFull must be 'wait' or 'reject', got ${onFull}`);
    }
    this._capacity = queueCapacity;
    this._onFull = onFull;
    // The live settings, the shared JSON object that `reload` replaces as a whole.
    const settings = {};
    if (defaultRecipe) settings.default_recipe = typeof defaultRecipe === 'string' ? JSON.parse(defaultRecipe) : defaultRecipe;
    if (limits) settings.limits = limits;
    this._settingsJson = JSON.stringify(settings);
    this._checker = hasSimd()
      ? initChecker().then(() => checkRecipe)
      : Promise.reject(new ConveyorError('panicked', NO_SIMD_MESSAGE));
    this._checker.catch(() => {}); // reported by process(), not as an unhandled rejection
    this._streams = new Set();
    this._checks = new Map();
    this._nextCheck = 1;
    this._queue = []; // accepted jobs waiting for a worker (at most queueCapacity)
    this._waiting = []; // process() calls waiting for room in the queue
    this._nextId = 1;
    this._closing = false;
    this._closed = false;
    this._stats = { accepted: 0, completed: 0, failed: {}, rejected: 0 };
    this._slots = Array.from({ length: workers }, (_, i) => new WorkerSlot(this, i));
  }

  _emit(type, detail) {
    const ev = Object.freeze({ type, ...detail });
    for (const s of this._streams) s._push(ev);
    this.dispatchEvent(new CustomEvent(type, { detail: ev }));
  }

  /**
   * Subscribes to the pool's events: an async iterator of the same objects as the DOM
   * events' `detail`, with its own bound of `capacity` waiting events. When it falls
   * further behind, the oldest are dropped for it alone and it yields
   * `{type: 'lagged', missed}`; the pool never waits for it. It ends once the pool has
   * closed; `close()` (or leaving a `for await` loop) unsubscribes.
   * @param {{capacity?: number}} [options]
   */
  events({ capacity = 1024 } = {}) {
    checkInt('capacity', capacity, 1, 1 << 20);
    const stream = new EventStream(this, capacity);
    if (this._closed) stream._end();
    else this._streams.add(stream);
    return stream;
  }

  /**
   * Replaces the live settings in every worker: `settings` is the shared settings object
   * `{default_recipe, limits, formats}` (a field left out takes its default, as in
   * Rust's `Pool::reload`). Jobs started afterwards use them; running jobs finish with
   * the old ones. Resolves once every worker has them, after a `config_reloaded` event;
   * a bad object rejects (`invalid_argument`, or `invalid_recipe` for the default
   * recipe) and the old settings stay.
   * @param {{default_recipe?: object, limits?: object, formats?: string[]}} settings
   */
  async reload(settings = {}) {
    if (this._closing) throw new ConveyorError('shut_down', 'the pool is closed');
    if (settings === null || typeof settings !== 'object' || Array.isArray(settings)) {
      throw new ConveyorError('invalid_argument', `settings must be an object, got ${settings === null ? 'null' : typeof settings}`);
    }
    const unknown = Object.keys(settings).filter((k) => !SETTINGS_KEYS.includes(k));
    if (unknown.length) {
      throw new ConveyorError('invalid_argument', `settings: unknown field \`${unknown[0]}\`, expected one of ${SETTINGS_KEYS.join(', ')}`);
    }
    const json = JSON.stringify(settings);
    // The wasm's own parser decides (the same code as the native pool's), in a worker.
    await new Promise((resolve, reject) => {
      const req = this._nextCheck++;
      this._checks.set(req, { resolve, reject });
      const slot = this._slots.find((s) => !s.job) ?? this._slots[0];
      slot.worker.postMessage({ type: 'conveyor:check', req, settings: json });
    });
    if (this._closing) throw new ConveyorError('shut_down', 'the pool is closed');
    this._settingsJson = json;
    // Messages to a worker arrive in order: every job dispatched from now on sees them.
    for (const s of this._slots) s.worker.postMessage({ type: 'conveyor:settings', settings: json });
    this._emit('config_reloaded', {});
  }

  _onChecked(m) {
    const check = this._checks.get(m.req);
    if (!check) return;
    this._checks.delete(m.req);
    if (m.error) check.reject(new ConveyorError(m.error.code || 'invalid_argument', m.error.message, { stage: m.error.stage ?? null }));
    else check.resolve();
  }

  /**
   * Processes one image. Resolves to the job's outcome as every door shows it
   * (`{job_id, key, ok: true, input, outputs, memory_estimate, timings}`, see
   * types.d.ts), each output with its bytes as `data` and a `blob()`; rejects with a
   * ConveyorError whose `code` is the shared name.
   * @param {Blob|File|ArrayBuffer|Uint8Array} input
   * @param {object|string} [recipe] the shared recipe JSON schema; without one, the
   *   pool's default recipe (see `reload`)
   * @param {{signal?: AbortSignal, key?: string, timeoutMs?: number}} [options] `key` is
   *   carried into the outcome (checked as the native pool checks keys); `timeoutMs` is
   *   the job's deadline from its acceptance, queue time included: past it the job fails
   *   with `timed_out` at once (a running job's worker is replaced, as for an abort)
   */
  async process(input, recipe, { signal, key, timeoutMs } = {}) {
    if (this._closing) throw new ConveyorError('shut_down', 'the pool is closed');
    if (key != null && typeof key !== 'string') {
      throw new ConveyorError('invalid_argument', `key must be a string, got ${typeof key}`);
    }
    if (timeoutMs != null && !(typeof timeoutMs === 'number' && timeoutMs > 0 && Number.isFinite(timeoutMs))) {
      // As Python's `timeout=`: a positive, finite deadline (leave it out for none).
      throw new ConveyorError('invalid_argument', `timeoutMs must be a finite number of milliseconds > 0, got ${timeoutMs}`);
    }
    if (signal?.aborted) throw new ConveyorError('cancelled', 'aborted before submission');
    let recipeJson;
    try {
      recipeJson = recipe == null ? '' : typeof recipe === 'string' ? recipe : JSON.stringify(recipe);
    } catch (e) {
      throw new ConveyorError('invalid_recipe', `recipe is not serialisable: ${e.message}`);
    }
    if (recipeJson === undefined) throw new ConveyorError('invalid_recipe', 'the recipe is not a JSON value');
    if (recipeJson !== '') {
      // Refused here, before it takes a place in the queue.
      const check = await this._checker;
      try {
        check(recipeJson);
      } catch (e) {
        throw new ConveyorError(e?.code || 'invalid_recipe', e?.message ?? String(e), { stage: e?.stage ?? null });
      }
    }
    const buffer = await toBuffer(input);
    if (signal?.aborted) throw new ConveyorError('cancelled', 'aborted before submission');
    if (this._closing) throw new ConveyorError('shut_down', 'the pool is closed');
    return new Promise((resolve, reject) => {
      const job = { id: 0, key: key ?? null, buffer, recipeJson, resolve, reject, signal, settled: false, slot: null, onAbort: null, timeoutMs: timeoutMs ?? null, timer: null };
      if (signal) {
        job.onAbort = () => this._abort(job);
        signal.addEventListener('abort', job.onAbort, { once: true });
      }
      this._admit(job);
    });
  }

  _admit(job) {
    if (this._closing) return this._settle(job, new ConveyorError('shut_down', 'the pool is closed'));
    if (this._queue.length >= this._capacity) {
      if (this._onFull === 'reject') {
        // As in the native pool: the job gets an id, is announced, then handed back.
        job.id = this._nextId++;
        this._stats.rejected++;
        this._emit('job_queued', { job_id: job.id, input_bytes: job.buffer.byteLength });
        this._emit('job_rejected', { job_id: job.id, reason: 'queue_full' });
        return this._settle(job, new ConveyorError('queue_full', 'the job queue is full'), undefined, false);
      }
      this._waiting.push(job);
      return;
    }
    job.id = this._nextId++;
    job.acceptedAt = performance.now();
    this._stats.accepted++;
    if (job.timeoutMs != null) job.timer = setTimeout(() => this._expire(job), job.timeoutMs);
    this._queue.push(job);
    this._emit('job_queued', { job_id: job.id, input_bytes: job.buffer.byteLength });
    this._dispatch();
  }

  _dispatch() {
    for (const slot of this._slots) {
      if (this._queue.length === 0) break;
      if (slot.job) continue;
      const job = this._queue.shift();
      slot.job = job;
      job.slot = slot;
      job.startedAt = performance.now();
      this._emit('job_started', { job_id: job.id, worker: slot.index, queued_us: Math.round((job.startedAt - job.acceptedAt) * 1000) });
      slot.worker.postMessage(
        { type: 'conveyor:job', id: job.id, key: job.key, input: job.buffer, recipe: job.recipeJson, budget: this._budget },
        [job.buffer],
      );
      job.buffer = null;
    }
    // Room appeared in the queue: admit waiters in order.
    while (this._waiting.length && this._queue.length < this._capacity) this._admit(this._waiting.shift());
  }

  _settle(job, error, value, count = true) {
    if (job.settled) return;
    job.settled = true;
    const w = this._memWaiting.indexOf(job);
    if (w >= 0) this._memWaiting.splice(w, 1);
    if (job.reserved) {
      this._reserved -= job.reserved;
      job.reserved = 0;
      this._pumpMemory();
    }
    if (job.signal && job.onAbort) job.signal.removeEventListener('abort', job.onAbort);
    if (job.timer) clearTimeout(job.timer);
    if (job.id && count) {
      if (error) this._stats.failed[error.code] = (this._stats.failed[error.code] || 0) + 1;
      else this._stats.completed++;
      this._emit('job_finished', { job_id: job.id, ok: !error, ...(error ? { error: error.code, ...(error.stage ? { stage: error.stage } : {}) } : {}), timings: this._timings(job, value) });
    }
    if (error) {
      error.job_id ??= job.id || null;
      job.reject(error);
    } else {
      job.resolve(value);
    }
    this._maybeFinishClose();
  }

  /** The job's timings with the native event's fields (zero where it never got). */
  _timings(job, value) {
    if (value?.timings) return Object.fromEntries(TIMING_KEYS.map((k) => [k, value.timings[k] ?? 0]));
    const now = performance.now();
    const started = job.startedAt ?? now;
    const t = Object.fromEntries(TIMING_KEYS.map((k) => [k, 0]));
    t.queued_us = Math.round((started - job.acceptedAt) * 1000);
    t.total_us = Math.round((now - job.acceptedAt) * 1000);
    return t;
  }

  /** Runs estimated jobs in order while they fit in the budget (as `Budget::acquire`). */
  _pumpMemory() {
    while (this._memWaiting.length) {
      const job = this._memWaiting[0];
      if (this._reserved + job.estimate > this._budget) break;
      this._memWaiting.shift();
      job.reserved = job.estimate;
      this._reserved += job.estimate;
      job.slot.worker.postMessage({ type: 'conveyor:run', id: job.id });
    }
  }

  _onWorkerMessage(slot, m) {
    const job = slot.job;
    if (!job || m.id !== job.id) return;
    if (m.type === 'conveyor:estimated') {
      // Its header is read; it waits for memory (the worker holds it meanwhile).
      job.estimate = m.bytes;
      this._memWaiting.push(job);
      this._pumpMemory();
      return;
    }
    slot.job = null;
    if (m.memory) slot.memory = m.memory;
    if (m.type === 'conveyor:done') {
      // The wire outcome the wasm wrote; the bytes travel beside it.
      const outcome = JSON.parse(m.outcome);
      outcome.outputs = outcome.outputs.map((o, i) => {
        const data = new Uint8Array(m.buffers[i]);
        const type = `image/${o.format}`;
        return alias({ ...o, data, blob: () => new Blob([data], { type }) }, 'bytes', 'data');
      });
      alias(outcome.input, 'bytes', 'byte_len');
      // The pipeline measures its own stages; the pool adds queue time and the total.
      const now = performance.now();
      outcome.timings = { ...outcome.timings, queued_us: Math.round((job.startedAt - job.acceptedAt) * 1000), total_us: Math.round((now - job.acceptedAt) * 1000) };
      this._settle(job, null, outcome);
    } else {
      const e = m.error || {};
      this._settle(job, new ConveyorError(e.code || 'panicked', e.message, { stage: e.stage ?? null, job_id: job.id }));
      if (m.fatal) this._replace(slot);
    }
    if (!m.fatal && !this._closing && m.memory > this._maxWorkerMemory) {
      // Wasm memory never shrinks: an idle worker that grew too much starts afresh.
      this._recycled++;
      this._replace(slot);
    }
    this._dispatch();
  }

  _onWorkerCrash(slot, message) {
    const job = slot.job;
    slot.job = null;
    if (job) this._settle(job, new ConveyorError('panicked', `the worker crashed: ${message}`));
    if (!this._closed) this._replace(slot);
  }

  _replace(slot) {
    slot.terminate();
    const fresh = new WorkerSlot(this, slot.index);
    fresh.busyUntilReady = true;
    fresh.job = { placeholder: true };
    this._slots[slot.index] = fresh;
    fresh.ready.then(
      () => { fresh.job = null; this._dispatch(); },
      () => { fresh.job = null; },
    );
  }

  /** The job's deadline passed: stopped as an abort is, with `timed_out`. */
  _expire(job) {
    const why = `deadline passed, ${job.timeoutMs} ms after acceptance`;
    this._stop(job, (stage) => new ConveyorError('timed_out', stage ? `${why}, in the queue` : `${why}, while it ran`, { stage }));
  }

  _abort(job) {
    this._stop(job, (stage) => new ConveyorError('cancelled', 'aborted by its AbortSignal', { stage }));
  }

  /**
   * Settles a job that was stopped (abort, deadline) with `error(stage)` wherever it is:
   * waiting for room (not yet accepted, so not counted), queued (`stage` 'queue') or
   * running (`stage` null), whose worker is replaced since a running wasm call cannot
   * be interrupted.
   */
  _stop(job, error) {
    if (job.settled) return;
    const w = this._waiting.indexOf(job);
    if (w >= 0) { this._waiting.splice(w, 1); return this._settle(job, error(null), undefined, false); }
    const q = this._queue.indexOf(job);
    if (q >= 0) {
      this._queue.splice(q, 1);
      this._settle(job, error('queue'));
      return this._dispatch();
    }
    if (job.slot && job.slot.job === job) {
      const slot = job.slot;
      slot.job = null;
      this._settle(job, error(null));
      this._replace(slot);
      this._dispatch();
    }
  }

  /**
   * `{workers, queueCapacity, queued, waiting, running, accepted, completed, failed,
   * rejected, memoryBudget, memoryReserved, memoryWaiting, recycled, workerMemory}`:
   * `memoryReserved` is the estimate of the jobs running, `memoryWaiting` the jobs whose
   * header is read and that wait for memory, `recycled` the workers replaced for their
   * memory, `workerMemory` each worker's wasm memory in bytes as it last reported.
   */
  stats() {
    return {
      workers: this._slots.length,
      queueCapacity: this._capacity,
      queued: this._queue.length,
      waiting: this._waiting.length,
      running: this._slots.filter((s) => s.job && !s.job.placeholder).length,
      accepted: this._stats.accepted,
      completed: this._stats.completed,
      failed: { ...this._stats.failed },
      rejected: this._stats.rejected,
      memoryBudget: this._budget,
      memoryReserved: this._reserved,
      memoryWaiting: this._memWaiting.length,
      recycled: this._recycled,
      workerMemory: this._slots.map((s) => s.memory),
    };
  }

  _pending() {
    return this._queue.length + this._waiting.length + this._slots.filter((s) => s.job && !s.job.placeholder).length;
  }

  _maybeFinishClose() {
    if (this._closing && !this._closed && this._pending() === 0 && this._closeResolve) {
      this._closed = true;
      for (const s of this._slots) s.terminate();
      this._endStreams();
      this._closeResolve();
    }
  }

  /** Stops intake, lets every queued and running job finish, then terminates the workers. */
  close() {
    if (this._closePromise) return this._closePromise;
    this._closing = true;
    this._emit('shutting_down', { graceful: true });
    this._closePromise = new Promise((resolve) => { this._closeResolve = resolve; });
    // Jobs already waiting for room were accepted calls: they still run.
    this._maybeFinishClose();
    return this._closePromise;
  }

  /** Stops at once: every pending job rejects with `shut_down`; workers are terminated. */
  terminate() {
    this._closing = true;
    this._emit('shutting_down', { graceful: false });
    const err = () => new ConveyorError('shut_down', 'the pool was terminated');
    for (const job of this._waiting.splice(0)) this._settle(job, err(), undefined, false);
    for (const job of this._queue.splice(0)) this._settle(job, err());
    for (const s of this._slots) {
      if (s.job && !s.job.placeholder) this._settle(s.job, err());
      s.job = null;
      s.terminate();
    }
    this._closed = true;
    this._endStreams();
    this._closeResolve?.();
  }

  _endStreams() {
    for (const s of this._streams) s._end();
    this._streams.clear();
    for (const { reject } of this._checks.values()) reject(new ConveyorError('shut_down', 'the pool is closed'));
    this._checks.clear();
  }
}

export default Pool;
