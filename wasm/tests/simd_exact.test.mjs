// The wasm build's own simd128 code paths give the bytes of the scalar code they replace
// (Node runs the built package, wasm/pkg/, with simd128):
// - jpeg-encoder's forward DCT (vendor/jpeg-encoder): JPEG outputs of PNG inputs, no
//   resize, against the hashes the same tree gives when built without simd128 (every
//   step of those jobs is then scalar);
// - jpeg-decoder's fancy upsampling of 4:2:2 and 4:2:0 chroma (vendor/jpeg-decoder):
//   PNG outputs of JPEG inputs at full size, against the hashes given by the build with
//   the crate's scalar upsampling loops (conveyor 7f494b1's upsampler.rs; the IDCT and
//   colour conversion are simd128 in both, and are not bit-exact with their scalar
//   versions, so a build without simd128 cannot be the reference here).
// A change that alters these outputs on purpose (an encoder or decoder upgrade) makes
// new references the same way: build without simd128
// (`cargo build --release --target wasm32-unknown-unknown -p conveyor-wasm` with no
// RUSTFLAGS, then wasm-bindgen --target web) for the JPEG rows, and with the scalar
// upsampler for the PNG rows.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';

const pkg = new URL('../pkg/', import.meta.url);
const testdata = new URL('../../testdata/', import.meta.url);

const CASES = [
  // [input, output format, sha-256 of the output]
  ['vectors/inputs/odd_37x23.png', 'jpeg', 'b58f60e42357efddaaa6cd397f5c84904a15045be0949b62947c4d63401be4cd'],
  ['vectors/inputs/rgba_300x200.png', 'jpeg', 'd25f4d91ea6b08a3a5a67005a45e86eee7c204acf1a125cd806fb85bad91780e'],
  ['vectors/inputs/colour_p3.png', 'jpeg', '6de7d3ee4f1f8c301b0bf1641a88cb15d9a6797efedcca7fc1045b31866e3477'],
  // 4:2:2 (H2V1), progressive, 97 px wide: the 16-wide loop and the scalar tail.
  ['jpeg/progressive_422.jpg', 'png', '7f1f1accca2cd81248a3c9c1dbf5a5cf5cdc50157ba766211afdf77374d08efe'],
  // 4:2:0 (H2V2), baseline and progressive.
  ['vectors/inputs/photo_640x480.jpg', 'png', 'bec23fa5635e7863a177d4a372c85bcc90c556172fd957b1a327a6a61f0ff454'],
  ['jpeg/noninterleaved_420.jpg', 'png', '7caeb4cf1416f0eed0e03bc683d1b5e50013c5ddca5027d79b69ead3aea0a533'],
  ['vectors/inputs/progressive_160x120.jpg', 'png', '6b2a9aadd3614ba00388543e642914337432a5381cb23ae3053651f4ccf32b3f'],
];

test('simd128 paths give the scalar code\'s bytes', async (t) => {
  if (!fs.existsSync(new URL('conveyor_wasm_bg.wasm', pkg))) {
    assert.fail('wasm/pkg/ is missing: run `bash wasm/build.sh` first');
  }
  const { initSync, processWith } = await import(new URL('conveyor_wasm.js', pkg));
  initSync({ module: fs.readFileSync(new URL('conveyor_wasm_bg.wasm', pkg)) });
  const bad = [];
  for (const [input, format, want] of CASES) {
    const output = format === 'png' ? { name: 'o', format } : { name: 'o', format, quality: 80 };
    const out = processWith(new Uint8Array(fs.readFileSync(new URL(input, testdata))), JSON.stringify({ outputs: [output] }), '{}', 1, undefined, false);
    const got = crypto.createHash('sha256').update(out.buffers[0]).digest('hex');
    if (got !== want) bad.push(`${input} -> ${format}: ${got}`);
  }
  assert.deepEqual(bad, []);
});
