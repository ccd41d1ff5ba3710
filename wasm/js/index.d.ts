// Types for the conveyor npm package (the JS layer in js/index.js).

export type ErrorCode =
  | 'invalid_recipe' | 'invalid_argument' | 'unsupported_format' | 'decode_failed' | 'limit_exceeded'
  | 'encode_failed' | 'save_failed' | 'queue_full' | 'shut_down' | 'cancelled' | 'timed_out' | 'panicked';

export declare const ERROR_CODES: Readonly<Record<ErrorCode, number>>;

export declare class ConveyorError extends Error {
  readonly code: ErrorCode;
  readonly numericCode: number;
  readonly stage: string | null;
  jobId: number | null;
}

export type Fit = 'inside' | 'cover' | 'contain' | 'fill';

export interface OutputSpec {
  name: string;
  width?: number;
  height?: number;
  fit?: Fit;
  without_enlargement?: boolean;
  format: 'jpeg' | 'png' | 'webp';
  quality?: number;
  lossless?: boolean;
  progressive?: boolean;
  compression?: number;
  background?: string;
}

export interface Recipe {
  outputs: OutputSpec[];
  auto_orient?: boolean;
  strip_metadata?: boolean;
}

export interface Limits {
  max_input_bytes?: number;
  max_width?: number;
  max_height?: number;
  max_pixels?: number;
  max_alloc?: number;
  max_icc_bytes?: number;
}

export interface Output {
  name: string;
  format: 'jpeg' | 'png' | 'webp';
  width: number;
  height: number;
  bytes: Uint8Array;
  blob(): Blob;
}

export interface Timings {
  queued_us: number;
  decode_us: number;
  resize_us: number;
  encode_us: number;
  save_us: number;
  total_us: number;
}

export interface Result {
  input: { format: string; width: number; height: number; bytes: number };
  outputs: Output[];
  timings: Timings;
}

/** The live settings that `reload` replaces as a whole (the shared JSON object). */
export interface Settings {
  default_recipe?: Recipe;
  limits?: Limits;
  formats?: string[];
}

export interface PoolOptions {
  workers?: number;
  queueCapacity?: number;
  onFull?: 'wait' | 'reject';
  limits?: Limits;
  /** The recipe for `process` calls that bring none. */
  defaultRecipe?: Recipe;
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
}

/** The events, with the same names and fields as the native bus's JSON. */
export type PoolEvent =
  | { type: 'job_queued'; job_id: number; input_bytes: number }
  | { type: 'job_rejected'; job_id: number; reason: ErrorCode }
  | { type: 'job_started'; job_id: number; worker: number; queued_us: number }
  | { type: 'job_finished'; job_id: number; ok: boolean; error?: ErrorCode; stage?: string; timings: Timings }
  | { type: 'config_reloaded' }
  | { type: 'shutting_down'; graceful: boolean };

export type PoolEventType = PoolEvent['type'];

/** A subscriber that fell behind: this many events were dropped for it. */
export interface Lagged {
  type: 'lagged';
  missed: number;
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
  process(input: Blob | ArrayBuffer | Uint8Array, recipe?: Recipe | string | null, options?: { signal?: AbortSignal }): Promise<Result>;
  events(options?: { capacity?: number }): EventStream;
  reload(settings: Settings): Promise<void>;
  stats(): Stats;
  close(): Promise<void>;
  terminate(): void;
}

export default Pool;
