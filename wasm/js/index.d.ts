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

export interface Result {
  input: { format: string; width: number; height: number; bytes: number };
  outputs: Output[];
  timings: { queued_us: number; decode_us: number; resize_us: number; encode_us: number; save_us: number; total_us: number };
}

export interface PoolOptions {
  workers?: number;
  queueCapacity?: number;
  onFull?: 'wait' | 'reject';
  limits?: Limits;
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

export type PoolEventType = 'job_queued' | 'job_started' | 'job_finished' | 'job_rejected' | 'shutting_down';

export declare class Pool extends EventTarget {
  static create(options?: PoolOptions): Promise<Pool>;
  process(input: Blob | ArrayBuffer | Uint8Array, recipe: Recipe | string, options?: { signal?: AbortSignal }): Promise<Result>;
  stats(): Stats;
  close(): Promise<void>;
  terminate(): void;
}

export default Pool;
