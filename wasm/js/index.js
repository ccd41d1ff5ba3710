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
// (an EventTarget) with the native bus's names and payloads.

/** The shared error codes (the same names and numbers in Rust, C, Python and JS). */
export const ERROR_CODES = Object.freeze({
  invalid_recipe: 1, invalid_argument: 2, unsupported_format: 3, decode_failed: 4, limit_exceeded: 5,
  encode_failed: 6, save_failed: 7, queue_full: 8, shut_down: 9, cancelled: 10, timed_out: 11, panicked: 12,
});

/** A failed job or call; `code` is the shared snake_case name. */
export class ConveyorError extends Error {
  constructor(code, message, { stage = null, jobId = null } = {}) {
    super(message || code);
    this.name = 'ConveyorError';
    this.code = code;
    this.numericCode = ERROR_CODES[code] ?? -1;
    this.stage = stage;
    this.jobId = jobId;
  }
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

class WorkerSlot {
  constructor(pool, index) {
    this.pool = pool;
    this.index = index;
    this.job = null;
    this.ready = new Promise((resolve, reject) => {
      // This exact form lets every bundler (Vite, webpack, Rollup) find and bundle the worker.
      this.worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
      this.worker.onmessage = (e) => {
        const m = e.data;
        if (m?.type === 'conveyor:ready') resolve();
        else if (m?.type === 'conveyor:init-failed') reject(new ConveyorError('panicked', m.message));
        else pool._onWorkerMessage(this, m);
      };
      this.worker.onerror = (e) => {
        e.preventDefault?.();
        reject(new ConveyorError('panicked', e.message || 'worker failed to start'));
        pool._onWorkerCrash(this, e.message || 'the worker crashed');
      };
      this.worker.onmessageerror = () => pool._onWorkerCrash(this, 'a message could not be read');
      this.worker.postMessage({ type: 'conveyor:init', limits: pool._limitsJson });
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
   * @param {{workers?: number, queueCapacity?: number, onFull?: 'wait'|'reject', limits?: object}} [options]
   */
  static async create(options = {}) {
    const pool = new Pool(options);
    await Promise.all(pool._slots.map((s) => s.ready));
    return pool;
  }

  /** Use `Pool.create`. */
  constructor({ workers = defaultWorkers(), queueCapacity, onFull = 'wait', limits } = {}) {
    super();
    checkInt('workers', workers, 1, 64);
    queueCapacity ??= workers * 4;
    checkInt('queueCapacity', queueCapacity, 1, 1 << 20);
    if (onFull !== 'wait' && onFull !== 'reject') {
      throw new ConveyorError('invalid_argument', `onFull must be 'wait' or 'reject', got ${onFull}`);
    }
    this._capacity = queueCapacity;
    this._onFull = onFull;
    this._limitsJson = limits ? JSON.stringify(limits) : '';
    this._queue = []; // accepted jobs waiting for a worker (at most queueCapacity)
    this._waiting = []; // process() calls waiting for room in the queue
    this._nextId = 1;
    this._closing = false;
    this._closed = false;
    this._stats = { accepted: 0, completed: 0, failed: {}, rejected: 0 };
    this._slots = Array.from({ length: workers }, (_, i) => new WorkerSlot(this, i));
  }

  _emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail: { type, ...detail } }));
  }

  /**
   * Processes one image. Resolves to `{input, outputs, timings}`; rejects with a
   * ConveyorError whose `code` is the shared name.
   * @param {Blob|File|ArrayBuffer|Uint8Array} input
   * @param {object|string} recipe the shared recipe JSON schema
   * @param {{signal?: AbortSignal}} [options]
   */
  async process(input, recipe, { signal } = {}) {
    if (this._closing) throw new ConveyorError('shut_down', 'the pool is closed');
    if (signal?.aborted) throw new ConveyorError('cancelled', 'aborted before submission');
    let recipeJson;
    try {
      recipeJson = typeof recipe === 'string' ? recipe : JSON.stringify(recipe);
    } catch (e) {
      throw new ConveyorError('invalid_recipe', `recipe is not serialisable: ${e.message}`);
    }
    if (recipeJson === undefined) throw new ConveyorError('invalid_recipe', 'a recipe is required');
    const buffer = await toBuffer(input);
    if (signal?.aborted) throw new ConveyorError('cancelled', 'aborted before submission');
    if (this._closing) throw new ConveyorError('shut_down', 'the pool is closed');
    return new Promise((resolve, reject) => {
      const job = { id: 0, buffer, recipeJson, resolve, reject, signal, settled: false, slot: null, onAbort: null };
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
        this._stats.rejected++;
        this._emit('job_rejected', { job_id: null, reason: 'queue_full' });
        return this._settle(job, new ConveyorError('queue_full', 'the job queue is full'), undefined, false);
      }
      this._waiting.push(job);
      return;
    }
    job.id = this._nextId++;
    job.acceptedAt = performance.now();
    this._stats.accepted++;
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
      this._emit('job_started', { job_id: job.id, worker: slot.index });
      slot.worker.postMessage(
        { type: 'conveyor:job', id: job.id, input: job.buffer, recipe: job.recipeJson },
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
    if (job.signal && job.onAbort) job.signal.removeEventListener('abort', job.onAbort);
    if (job.id && count) {
      if (error) this._stats.failed[error.code] = (this._stats.failed[error.code] || 0) + 1;
      else this._stats.completed++;
      this._emit('job_finished', { job_id: job.id, ok: !error, ...(error ? { error: error.code, stage: error.stage } : {}) });
    }
    if (error) {
      error.jobId ??= job.id || null;
      job.reject(error);
    } else {
      job.resolve(value);
    }
    this._maybeFinishClose();
  }

  _onWorkerMessage(slot, m) {
    const job = slot.job;
    if (!job || m.id !== job.id) return;
    slot.job = null;
    if (m.type === 'conveyor:done') {
      const report = JSON.parse(m.report);
      const outputs = report.outputs.map((o, i) => {
        const bytes = new Uint8Array(m.buffers[i]);
        const type = `image/${o.format}`;
        return { name: o.name, format: o.format, width: o.width, height: o.height, bytes, blob: () => new Blob([bytes], { type }) };
      });
      const input = { format: report.input.format, width: report.input.width, height: report.input.height, bytes: report.input.bytes };
      // The pipeline measures its own stages; the pool adds queue time and the total.
      const now = performance.now();
      const timings = { ...report.timings, queued_us: Math.round((job.startedAt - job.acceptedAt) * 1000), total_us: Math.round((now - job.acceptedAt) * 1000) };
      this._settle(job, null, { input, outputs, timings });
    } else {
      const e = m.error || {};
      this._settle(job, new ConveyorError(e.code || 'panicked', e.message, { stage: e.stage ?? null }));
      if (m.fatal) this._replace(slot);
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

  _abort(job) {
    if (job.settled) return;
    const err = new ConveyorError('cancelled', 'aborted by its AbortSignal');
    const w = this._waiting.indexOf(job);
    if (w >= 0) { this._waiting.splice(w, 1); return this._settle(job, err, undefined, false); }
    const q = this._queue.indexOf(job);
    if (q >= 0) { this._queue.splice(q, 1); this._settle(job, err); return this._dispatch(); }
    if (job.slot && job.slot.job === job) {
      // A running wasm call cannot be interrupted: replace its worker.
      const slot = job.slot;
      slot.job = null;
      this._settle(job, err);
      this._replace(slot);
      this._dispatch();
    }
  }

  /** `{workers, queueCapacity, queued, waiting, running, accepted, completed, failed, rejected}`. */
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
    };
  }

  _pending() {
    return this._queue.length + this._waiting.length + this._slots.filter((s) => s.job && !s.job.placeholder).length;
  }

  _maybeFinishClose() {
    if (this._closing && !this._closed && this._pending() === 0 && this._closeResolve) {
      this._closed = true;
      for (const s of this._slots) s.terminate();
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
    this._closeResolve?.();
  }
}

export default Pool;
