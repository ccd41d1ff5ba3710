// Types for the conveyor npm package (the JS layer in js/index.js). The shared JSON's
// types (recipe, settings, limits, outcome, events, codes) are generated from the Rust
// core into types.d.ts; this file adds only what the JS door itself has.

import type {
  ErrorCode, Stage, PoolEvent, PoolEventType, PoolEventMap, Lagged, Limits, OutcomeOk, OutputInfo, InputInfo,
  Recipe, Settings,
} from './types.js';

export * from './types.js';

/** The shared error codes (the same names and numbers in Rust, C, Python and JS). */
export declare const ERROR_CODES: Readonly<Record<ErrorCode, number>>;
/** Every stage name, in job order. */
export declare const STAGES: readonly Stage[];
/** Every event name of the pool's bus. */
export declare const EVENT_TYPES: readonly PoolEventType[];

/** A failed job or call, with the wire error's fields. */
export declare class ConveyorError extends Error {
  constructor(code: ErrorCode | string, message?: string, options?: { stage?: Stage | null; job_id?: number | null });
  readonly code: ErrorCode;
  readonly numeric_code: number;
  readonly stage: Stage | null;
  job_id: number | null;
  /** @deprecated use `numeric_code`. */
  readonly numericCode: number;
  /** @deprecated use `job_id`. */
  jobId: number | null;
}

/** One finished output: the wire `OutputInfo` plus its bytes. */
export interface Output extends OutputInfo {
  /** The encoded bytes. */
  data: Uint8Array;
  /** The bytes as a Blob of the output's MIME type. */
  blob(): Blob;
  /** @deprecated use `data`. */
  readonly bytes: Uint8Array;
}

/** A successful job: the wire outcome, with each output's bytes. */
export interface Result extends OutcomeOk {
  input: InputInfo & {
    /** @deprecated use `byte_len`. */
    readonly bytes: number;
  };
  outputs: Output[];
}

export interface PoolOptions {
  workers?: number;
  queueCapacity?: number;
  onFull?: 'wait' | 'reject';
  limits?: Limits;
  /** The recipe for `process` calls that bring none. */
  defaultRecipe?: Recipe;
  /**
   * Bytes of estimated peak memory the jobs running at once may take (default: half
   * of `navigator.deviceMemory`, 4 GiB when the browser does not say, at least
   * 512 MiB). A job whose estimate exceeds it fails with `limit_exceeded`.
   */
  memoryBudget?: number;
  /** A worker whose wasm memory grew past this many bytes is replaced after its job (default 256 MiB). */
  maxWorkerMemory?: number;
  /**
   * Lossy WebP outputs that need only the VP8 encode (opaque, sRGB, no `max_bytes`) are
   * encoded by the browser's libwebp, about 3x faster than the wasm's
   * encoder (default true); the wasm's takes over where the browser has none (Safari).
   * `false`: always the wasm's encoder.
   */
  browserWebp?: boolean;
}

export interface ProcessOptions {
  signal?: AbortSignal;
  /** Carried into the outcome's `key` (checked as the native pool checks keys). */
  key?: string;
  /**
   * The job's deadline in milliseconds (> 0) from its acceptance, queue time included. Past
   * it the job fails with `timed_out` at once; a running job's worker is replaced.
   */
  timeoutMs?: number;
}

export interface Stats {
  workers: number;
  queueCapacity: number;
  queued: number;
  waiting: number;
  running: number;
  accepted: number;
  completed: number;
  failed: Partial<Record<ErrorCode, number>>;
  rejected: number;
  /** The pool's memory budget, in bytes. */
  memoryBudget: number;
  /** The estimated peak memory of the jobs running now, in bytes. */
  memoryReserved: number;
  /** Jobs whose header is read and that wait for memory. */
  memoryWaiting: number;
  /** Workers replaced because their wasm memory grew past `maxWorkerMemory`. */
  recycled: number;
  /** Each worker's wasm memory in bytes, as it last reported (after its last job). */
  workerMemory: number[];
}

/** One subscriber of the pool's events, with its own bounded buffer. */
export interface EventStream extends AsyncIterableIterator<PoolEvent | Lagged> {
  /** The next event if one is buffered, else null; undefined once the pool closed. */
  poll(): PoolEvent | Lagged | null | undefined;
  /** Unsubscribes. */
  close(): void;
}

export declare class Pool extends EventTarget {
  static create(options?: PoolOptions): Promise<Pool>;
  process(input: Blob | ArrayBuffer | Uint8Array, recipe?: Recipe | string | null, options?: ProcessOptions): Promise<Result>;
  events(options?: { capacity?: number }): EventStream;
  reload(settings: Settings): Promise<void>;
  stats(): Stats;
  close(): Promise<void>;
  terminate(): void;
  addEventListener<K extends keyof PoolEventMap>(
    type: K,
    listener: (this: Pool, ev: PoolEventMap[K]) => unknown,
    options?: boolean | AddEventListenerOptions,
  ): void;
  addEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | AddEventListenerOptions): void;
  removeEventListener<K extends keyof PoolEventMap>(
    type: K,
    listener: (this: Pool, ev: PoolEventMap[K]) => unknown,
    options?: boolean | EventListenerOptions,
  ): void;
  removeEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | EventListenerOptions): void;
}

export default Pool;
