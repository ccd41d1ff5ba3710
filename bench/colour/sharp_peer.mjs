// sharp's sRGB conversion of every input of testdata/colour (bench/colour/run.sh runs
// it): `sharp(input).png()` with its defaults, which convert an embedded profile to
// sRGB and strip it, as conveyor does. Writes <out>/<input>.png; an input sharp
// refuses is left out (the table shows "-").
//   node sharp_peer.mjs <testdata/colour> <out dir>
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(process.env.SHARP_DIR ? path.resolve(process.env.SHARP_DIR, 'x.js') : import.meta.url);
const sharp = require('sharp');
const [dir, out] = process.argv.slice(2);
const { cases } = JSON.parse(fs.readFileSync(path.join(dir, 'cases.json'), 'utf8'));
for (const c of cases) {
  try {
    await sharp(path.join(dir, c.input)).png().toFile(path.join(out, `${c.input}.png`));
  } catch (e) {
    console.error(`sharp: ${c.input}: ${e.message}`);
  }
}
