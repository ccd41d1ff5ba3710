// sharp's smart crop boxes, for core/examples/crop_check.rs (a quick check of
// conveyor's smart crops without the rest of the feature bench):
//   node bench/features/sharp_crops.mjs <corpus> <boxes.json>
// For each image, sharp's cover at 400x400, 400x200 and 200x400 with position
// 'attention' and 'entropy', its crop offsets mapped back to source pixels (sharp
// resizes to cover first, then crops), once as stored and once auto-oriented
// (`.rotate()`, keys ending in `_upright`, which is what conveyor's upright boxes
// compare with). Needs sharp: SHARP_DIR=<a folder whose node_modules has sharp>.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(process.env.SHARP_DIR ? path.join(process.env.SHARP_DIR, 'x.js') : import.meta.url);
const sharp = require('sharp');
sharp.concurrency(1);
const [corpus, outFile] = process.argv.slice(2);
const files = fs.readdirSync(corpus).filter((f) => /\.(jpe?g|png)$/i.test(f)).sort();
const out = [];
for (const f of files) {
  const p = path.join(corpus, f);
  const meta = await sharp(p).metadata();
  const orientation = meta.orientation || 1;
  const row = { file: f, width: meta.width, height: meta.height, orientation, boxes: {} };
  for (const [tw, th] of [[400, 400], [400, 200], [200, 400]]) {
    for (const position of ['attention', 'entropy']) {
      for (const upright of [false, true]) {
        const img = upright ? sharp(p).rotate() : sharp(p);
        const { info } = await img.resize(tw, th, { fit: 'cover', position })
          .raw().toBuffer({ resolveWithObject: true });
        const [W, H] = upright && orientation >= 5 ? [meta.height, meta.width] : [meta.width, meta.height];
        const s = Math.max(tw / W, th / H);
        row.boxes[`${tw}x${th}_${position}${upright ? '_upright' : ''}`] = {
          left: -info.cropOffsetLeft / s, top: -info.cropOffsetTop / s, width: tw / s, height: th / s, W, H,
        };
      }
    }
  }
  out.push(row);
}
fs.writeFileSync(outFile, JSON.stringify(out, null, 1));
console.log('wrote', outFile);
