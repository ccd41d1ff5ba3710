// conveyor's npm package as a tool of the shared browser harness (../shared/bench/browser):
// bench/run.sh copies this file to www/tools/conveyor.js and the package (js/ and the built
// pkg/) to www/conveyor-images/. One Pool of `concurrency` module Web Workers, one wasm
// instance each; one job per image makes both outputs from one decode, as the native rows do.
import { Pool } from '../conveyor-images/js/index.js';

const RECIPE = {
  outputs: [
    { name: 'large', width: 1600, height: 1600, format: 'jpeg', quality: 80 },
    { name: 'thumb', width: 320, height: 320, format: 'webp', quality: 75 },
  ],
};

export async function create({ concurrency }) {
  const pool = await Pool.create({ workers: concurrency, queueCapacity: concurrency * 2 });
  return {
    concurrency,
    info: { package: 'conveyor-images', workers: concurrency },
    stats: () => pool.stats(),
    async process(file) {
      const r = await pool.process(file, RECIPE);
      const [large, thumb] = r.outputs;
      const t = r.timings;
      return {
        jpeg: new Blob([large.bytes], { type: 'image/jpeg' }),
        webp: new Blob([thumb.bytes], { type: 'image/webp' }),
        stages: { decode: t.decode_us / 1000, resize: t.resize_us / 1000, encode: t.encode_us / 1000 },
      };
    },
  };
}
