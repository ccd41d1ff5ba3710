// Generated from core/src/wire (conveyor::wire::schema and the code tables) by
// `CONVEYOR_BLESS=1 cargo test -p conveyor --test bindings`; do not edit.
// The shared code tables for the JS door (types: index.d.ts, types.d.ts).

/** The shared error codes (the same names and numbers in Rust, C, Python and JS). */
export const ERROR_CODES = Object.freeze({
  invalid_recipe: 1,
  invalid_argument: 2,
  unsupported_format: 3,
  decode_failed: 4,
  limit_exceeded: 5,
  encode_failed: 6,
  save_failed: 7,
  queue_full: 8,
  shut_down: 9,
  cancelled: 10,
  timed_out: 11,
  panicked: 12,
});

/** Every stage name, in job order. */
export const STAGES = Object.freeze(['submit', 'queue', 'validate', 'decode', 'resize', 'encode', 'save']);

/** Every event name of the pool's bus (a lag is `lagged`, not an event). */
export const EVENT_TYPES = Object.freeze(['job_queued', 'job_rejected', 'job_started', 'job_finished', 'config_reloaded', 'stats', 'shutting_down']);
