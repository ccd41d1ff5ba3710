// Generated from core/src/wire (conveyor::wire::schema and the code tables) by
// `CONVEYOR_BLESS=1 cargo test -p conveyor --test bindings`; do not edit.
// The shared JSON of conveyor as TypeScript types: what the recipe, settings and
// limits accept, what an outcome and the events carry. Every door uses these names.

/** The stable snake_case name of an error kind (numbers: ERROR_CODES). */
export type ErrorCode =
  | 'invalid_recipe'
  | 'invalid_argument'
  | 'unsupported_format'
  | 'decode_failed'
  | 'limit_exceeded'
  | 'encode_failed'
  | 'save_failed'
  | 'queue_full'
  | 'shut_down'
  | 'cancelled'
  | 'timed_out'
  | 'panicked';

/** The part of a job's life in which something happened (or failed). */
export type Stage =
  | 'submit'
  | 'queue'
  | 'validate'
  | 'decode'
  | 'resize'
  | 'encode'
  | 'save';

/** An input format conveyor decodes (detected from the bytes). */
export type InputFormat =
  | 'jpeg'
  | 'png'
  | 'gif'
  | 'webp'
  | 'bmp'
  | 'tiff'
  | 'ico';

/** An output format conveyor encodes. */
export type OutputFormat =
  | 'jpeg'
  | 'png'
  | 'webp'
  | 'avif';

/** How an image fits its target box (sharp's definitions). */
export type Fit =
  | 'inside'
  | 'cover'
  | 'contain'
  | 'fill';

/** Which damage refuses an input (sharp's failOn). */
export type FailOn =
  | 'none'
  | 'truncated'
  | 'error'
  | 'warning';

/** Colour management: convert to sRGB, or keep the source profile. */
export type ColourMode =
  | 'srgb'
  | 'keep';

/** The stable snake_case name of a warning (something a job worked around). */
export type WarningCode =
  | 'icc_ignored'
  | 'cicp_ignored'
  | 'frames_dropped';

/** Which placeholder to compute (a tiny blurred preview). */
export type Placeholder =
  | 'thumbhash'
  | 'blurhash';

/** Which part of the image fit "cover" keeps (sharp's strategies). */
export type Position =
  | 'centre'
  | 'entropy'
  | 'attention';

// -- given to conveyor

/** What to make from one input (the shared recipe schema). */
export interface Recipe {
  /** The outputs, in order (1 to 16). One decode feeds all of them. */
  outputs: OutputSpec[];
  /** Apply the EXIF orientation to the pixels. Default true. */
  auto_orient?: boolean;
  /** Write no metadata; false writes an ICC profile (sRGB's, or the source's with colour "keep"). Default true. */
  strip_metadata?: boolean;
  /** Which damage refuses an input. Default "warning". */
  fail_on?: FailOn;
  /** "srgb" converts profiled inputs to sRGB; "keep" embeds the source profile. Default "srgb". */
  colour?: ColourMode;
  /** Also compute this placeholder; the outcome's placeholder carries it. */
  placeholder?: Placeholder;
  /** Keep every frame of an animated input: WebP outputs are animated, others get the first frame and a frames_dropped warning. Default false. */
  animated?: boolean;
}

/** One output of a recipe. */
export interface OutputSpec {
  /** [A-Za-z0-9_-]{1,64}, unique in the recipe; the file name when saved. */
  name: string;
  /** Target box width, 1 to 16383. */
  width?: number;
  /** Target box height, 1 to 16383. */
  height?: number;
  /** How the image fits the box. Default "inside". */
  fit?: Fit;
  /** Never scale up. Default true. */
  without_enlargement?: boolean;
  /** Output format. */
  format: OutputFormat;
  /** JPEG, lossy WebP and AVIF quality, 1 to 100. Default 80. */
  quality?: number;
  /** WebP only: lossless encoding. */
  lossless?: boolean;
  /** JPEG only: progressive scans. */
  progressive?: boolean;
  /** PNG only: zlib effort 0 to 9. Default 6. */
  compression?: number;
  /** "#rgb", "#rrggbb" or "#rrggbbaa". Default white. */
  background?: string;
  /** Lossy formats: the largest quality (up to quality) whose encoding fits in this many bytes. */
  max_bytes?: number;
  /** cover only: which part to keep. Default "centre". */
  position?: Position;
  /** AVIF only: encoder speed, 1 (slowest, smallest) to 10. Default 6. */
  speed?: number;
}

/** Limits on one input, checked from the header before decoding. */
export interface Limits {
  /** Largest input in bytes. Default 64 MiB. */
  max_input_bytes?: number;
  /** Largest width. Default 30000. */
  max_width?: number;
  /** Largest height. Default 30000. */
  max_height?: number;
  /** Largest width x height. Default 100000000. */
  max_pixels?: number;
  /** Largest single decoder allocation in bytes. Default 1 GiB. */
  max_alloc?: number;
  /** Largest ICC profile read (to convert or keep). Default 1 MiB. */
  max_icc_bytes?: number;
  /** Most scans a JPEG may have. Default 100. */
  max_scans?: number;
  /** Largest output width in pixels. Default 30000. */
  max_output_width?: number;
  /** Largest output height in pixels. Default 30000. */
  max_output_height?: number;
  /** Largest width x height of one output. Default 100000000. */
  max_output_pixels?: number;
  /** Largest sum of width x height over a recipe's outputs. Default 300000000. */
  max_output_pixels_total?: number;
  /** Most frames of an animated input kept with animated: true. Default 1000. */
  max_frames?: number;
}

/** The live settings that reload replaces as a whole. */
export interface Settings {
  /** The recipe for jobs that bring none. */
  default_recipe?: Recipe;
  /** Limits on each input. */
  limits?: Limits;
  /** Allowed input formats. Default: all. */
  formats?: InputFormat[];
}

/** Everything needed to build a native pool (C and Python take this JSON). */
export interface PoolConfig {
  /** Worker threads. Default: the available parallelism. */
  workers?: number;
  /** Queue capacity. Default: 4 x workers. */
  queue_capacity?: number;
  /** Save outputs here; without it outputs come back as bytes. */
  output_dir?: string;
  /** Events buffered per subscriber before it lags. Default 1024. */
  event_capacity?: number;
  /** Emit a stats event this often. Default: never. */
  stats_interval_ms?: number;
  /** The recipe for jobs that bring none. */
  default_recipe?: Recipe;
  /** Limits on each input. */
  limits?: Limits;
  /** Allowed input formats. */
  formats?: InputFormat[];
  /** Job memory budget in bytes. Default: half the machine's memory. */
  memory_budget?: number;
}

// -- shown by conveyor

/** The input as it was received. */
export interface InputInfo {
  /** Detected format. */
  format: InputFormat;
  /** Width as stored (before orientation). */
  width: number;
  /** Height as stored (before orientation). */
  height: number;
  /** Size in bytes. */
  byte_len: number;
  /** The EXIF orientation found (1 to 8; 1 when none). */
  orientation: number;
  /** Frames in the file (more than 1 for an animation; the first is used unless animated: true). */
  frames: number;
}

/** One finished output (its bytes travel beside the JSON, as data). */
export interface OutputInfo {
  /** The recipe's name for it. */
  name: string;
  /** Its format. */
  format: OutputFormat;
  /** Final width. */
  width: number;
  /** Final height. */
  height: number;
  /** Encoded size in bytes. */
  byte_len: number;
  /** Where it was saved, when the pool has an output directory. */
  path?: string;
  /** With max_bytes: the quality chosen (the largest that fits). */
  quality?: number;
  /** With max_bytes: the encodes the search spent. */
  encodes?: number;
  /** With fit "cover", when it cropped: the part of the upright source kept. */
  crop?: CropBox;
  /** With animated: true, for an animated WebP output: its frame count. */
  frames?: number;
}

/** A box in the upright (oriented) source's pixels. */
export interface CropBox {
  /** Left edge. */
  left: number;
  /** Top edge. */
  top: number;
  /** Width. */
  width: number;
  /** Height. */
  height: number;
}

/** Microseconds per stage; resize, encode and save are summed over outputs. */
export interface Timings {
  /** Waiting in the queue. */
  queued_us: number;
  /** Header, limits and decode. */
  decode_us: number;
  /** Resize, orientation, crop and pad. */
  resize_us: number;
  /** Encoding. */
  encode_us: number;
  /** Writing files. */
  save_us: number;
  /** From acceptance to the outcome. */
  total_us: number;
}

/** A failure as JSON (the error object of every door). */
export interface ErrorInfo {
  /** The stable snake_case name. */
  code: ErrorCode;
  /** The stable number (ERROR_CODES). */
  numeric_code: number;
  /** The stage that failed, or null. */
  stage: Stage | null;
  /** What happened, for humans; never parse it. */
  message: string;
}

/** A job that succeeded. */
export interface OutcomeOk {
  /** The id the pool gave the job. */
  job_id: number;
  /** The job's key, or null. */
  key: string | null;
  /** true. */
  ok: true;
  /** The decoded input. */
  input: InputInfo;
  /** One entry per recipe output, in recipe order. */
  outputs: OutputInfo[];
  /** The job's estimated peak memory, in bytes. */
  memory_estimate: number;
  /** The placeholder the recipe asked for (ThumbHash as base64, or BlurHash). */
  placeholder?: string;
  /** What the job worked around without failing; usually empty. */
  warnings: Warning[];
  /** Time queued, per stage and in total. */
  timings: Timings;
}

/** Something a job worked around without failing (an unusable colour profile). */
export interface Warning {
  /** The stable snake_case name. */
  code: WarningCode;
  /** What happened, for humans; never parse it. */
  message: string;
}

/** A job that failed. */
export interface OutcomeErr {
  /** The id the pool gave the job. */
  job_id: number;
  /** The job's key, or null. */
  key: string | null;
  /** false. */
  ok: false;
  /** Why it failed. */
  error: ErrorInfo;
  /** Time queued and until the failure. */
  timings: Timings;
}

/** One stage's latency histogram. */
export interface LatencySnapshot {
  /** Samples. */
  count: number;
  /** Their sum, in microseconds. */
  sum_us: number;
  /** Median, as its bucket's upper bound, in microseconds. */
  p50_us: number;
  /** 99th percentile, as its bucket's upper bound. */
  p99_us: number;
  /** Samples at or under each bucket bound (Prometheus style). */
  cumulative_buckets: number[];
}

/** The pool's statistics. */
export interface StatsSnapshot {
  /** Worker threads. */
  workers: number;
  /** Queue capacity. */
  queue_capacity: number;
  /** Jobs waiting in the queue. */
  queued: number;
  /** Jobs running. */
  running: number;
  /** Jobs accepted since the start. */
  accepted: number;
  /** Jobs that succeeded. */
  completed: number;
  /** Jobs that failed, per error code. */
  failed: Partial<Record<ErrorCode, number>>;
  /** Submissions refused (queue full, shut down). */
  rejected: number;
  /** Latency histograms per stage. */
  latency: Record<string, LatencySnapshot>;
  /** The job memory budget, in bytes. */
  memory_budget?: number;
  /** Memory held by running jobs, in bytes. */
  memory_in_use?: number;
  /** Jobs waiting for memory. */
  memory_waiting?: number;
}

/** A job was accepted into the queue. */
export interface JobQueuedEvent {
  /** The event's name. */
  type: 'job_queued';
  /** The job. */
  job_id: number;
  /** Its input size. */
  input_bytes: number;
}

/** A job announced as queued did not fit and was handed back. */
export interface JobRejectedEvent {
  /** The event's name. */
  type: 'job_rejected';
  /** The job. */
  job_id: number;
  /** queue_full, timed_out or shut_down. */
  reason: ErrorCode;
}

/** A worker started a job. */
export interface JobStartedEvent {
  /** The event's name. */
  type: 'job_started';
  /** The job. */
  job_id: number;
  /** The worker's index. */
  worker: number;
  /** Time spent queued, in microseconds. */
  queued_us: number;
}

/** A job finished; its outcome is being delivered. */
export interface JobFinishedEvent {
  /** The event's name. */
  type: 'job_finished';
  /** The job. */
  job_id: number;
  /** Whether it succeeded. */
  ok: boolean;
  /** The error code, on failure. */
  error?: ErrorCode;
  /** The failing stage, on failure. */
  stage?: Stage;
  /** Stage timings (zero where the job never got). */
  timings: Timings;
}

/** `reload` changed the live settings. */
export interface ConfigReloadedEvent {
  /** The event's name. */
  type: 'config_reloaded';
}

/** Periodic statistics (see stats_interval_ms). */
export interface StatsEvent {
  /** The event's name. */
  type: 'stats';
  /** The figures. */
  stats: StatsSnapshot;
}

/** The pool started shutting down. */
export interface ShuttingDownEvent {
  /** The event's name. */
  type: 'shutting_down';
  /** true for shutdown (drain), false for shutdown_now (cancel queued). */
  graceful: boolean;
}

/** This subscriber fell behind: this many events were dropped for it. */
export interface Lagged {
  /** Always "lagged". */
  type: 'lagged';
  /** How many events were missed. */
  missed: number;
}

/** The single result of one accepted job. Told apart by `ok`. */
export type Outcome =
  | OutcomeOk
  | OutcomeErr;

/** An event of the pool's bus, with the same names and fields in every door. Told apart by `type`. */
export type PoolEvent =
  | JobQueuedEvent
  | JobRejectedEvent
  | JobStartedEvent
  | JobFinishedEvent
  | ConfigReloadedEvent
  | StatsEvent
  | ShuttingDownEvent;

/** An event's name. */
export type PoolEventType = PoolEvent['type'];

/** Each event's name mapped to the DOM event the pool dispatches (`e.detail` is the event). */
export interface PoolEventMap {
  job_queued: CustomEvent<JobQueuedEvent>;
  job_rejected: CustomEvent<JobRejectedEvent>;
  job_started: CustomEvent<JobStartedEvent>;
  job_finished: CustomEvent<JobFinishedEvent>;
  config_reloaded: CustomEvent<ConfigReloadedEvent>;
  stats: CustomEvent<StatsEvent>;
  shutting_down: CustomEvent<ShuttingDownEvent>;
}
