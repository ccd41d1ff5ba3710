// The wasm is built with simd128 (WebAssembly SIMD: Chrome 91, Firefox 89, Safari 16.4
// and later). A module holding one v128 instruction (wasm-feature-detect's probe) tells
// a browser without it apart, so that `Pool.create` rejects with this message rather
// than a CompileError about an unknown opcode.
const PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11]);

/** Whether this browser runs WebAssembly SIMD. */
export function hasSimd() {
  return WebAssembly.validate(PROBE);
}

/** What `Pool.create` says where it does not. */
export const NO_SIMD_MESSAGE = 'conveyor needs WebAssembly SIMD (Chrome 91, Firefox 89, Safari 16.4 or later)';
