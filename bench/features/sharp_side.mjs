// The sharp side of the feature comparisons (bench/features/run.sh runs it):
//   node sharp_side.mjs <corpus> <conveyor results dir>
// 1. attention crop: sharp's cover 400x400 with position 'attention' and 'entropy',
//    its crop offsets mapped back to source pixels, against conveyor's crop boxes
//    (crops.json from the Rust side): intersection over union per image;
// 2. AVIF: sharp's AVIF at the 1600 px long edge (effort 4, its default) for several
//    qualities: encode time, bytes and SSIM against sharp's own lossless resize; the
//    same SSIM for conveyor's AVIF files (decoded by sharp) against conveyor's own
//    lossless resize (avif/*.png), so each encoder is scored on its own pixels.
// Writes sharp.json next to the conveyor results. Needs sharp (the shared anchors').
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(process.env.SHARP_DIR ? path.join(process.env.SHARP_DIR, 'x.js') : import.meta.url);
const sharp = require('sharp');
sharp.concurrency(1);
const [corpus, res] = process.argv.slice(2);
const files = fs.readdirSync(corpus).filter((f) => /\.(jpe?g|png)$/i.test(f)).sort();

/** Luma of raw RGB(A). */
function luma({ data, info }) {
  const n = info.width * info.height, c = info.channels, out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = 0.299 * data[i * c] + 0.587 * data[i * c + 1] + 0.114 * data[i * c + 2];
  return out;
}

/** Mean SSIM over 8x8 blocks (step 4) of two luma planes of the same size. */
function ssim(a, b, w, h) {
  const C1 = (0.01 * 255) ** 2, C2 = (0.03 * 255) ** 2;
  let sum = 0, n = 0;
  for (let y = 0; y + 8 <= h; y += 4) for (let x = 0; x + 8 <= w; x += 4) {
    let ma = 0, mb = 0;
    for (let j = 0; j < 8; j++) for (let i = 0; i < 8; i++) { const k = (y + j) * w + x + i; ma += a[k]; mb += b[k]; }
    ma /= 64; mb /= 64;
    let va = 0, vb = 0, cov = 0;
    for (let j = 0; j < 8; j++) for (let i = 0; i < 8; i++) {
      const k = (y + j) * w + x + i, da = a[k] - ma, db = b[k] - mb;
      va += da * da; vb += db * db; cov += da * db;
    }
    va /= 63; vb /= 63; cov /= 63;
    sum += ((2 * ma * mb + C1) * (2 * cov + C2)) / ((ma * ma + mb * mb + C1) * (va + vb + C2));
    n++;
  }
  return sum / n;
}

const raw = (img) => img.raw().toBuffer({ resolveWithObject: true });
const out = { crops: [], avif: [], conveyor_avif: [] };

// 1. crops
const ours = JSON.parse(fs.readFileSync(path.join(res, 'crops.json'), 'utf8'));
const iou = (a, b) => {
  const ix = Math.max(0, Math.min(a.left + a.width, b.left + b.width) - Math.max(a.left, b.left));
  const iy = Math.max(0, Math.min(a.top + a.height, b.top + b.height) - Math.max(a.top, b.top));
  const inter = ix * iy;
  return inter / (a.width * a.height + b.width * b.height - inter);
};
for (const o of ours) {
  const meta = await sharp(path.join(corpus, o.file)).metadata();
  // conveyor's boxes are in the upright image: so are sharp's, after .rotate().
  const turned = (meta.orientation || 1) >= 5;
  const [w, h] = turned ? [meta.height, meta.width] : [meta.width, meta.height];
  const row = { file: o.file };
  for (const position of ['attention', 'entropy']) {
    const { info } = await sharp(path.join(corpus, o.file)).rotate().resize(400, 400, { fit: 'cover', position })
      .raw().toBuffer({ resolveWithObject: true });
    // sharp resizes to cover first, then crops: offsets are in the resized image.
    const s = Math.max(400 / w, 400 / h);
    const box = { left: -info.cropOffsetLeft / s, top: -info.cropOffsetTop / s, width: 400 / s, height: 400 / s };
    row[`sharp_${position}`] = box;
    row[`iou_${position}`] = iou(box, o[position]);
    row[`iou_centre_vs_sharp_${position}`] = iou(box, o.centre);
  }
  out.crops.push(row);
}

// 2. AVIF
const QUALITIES = [40, 50, 60, 70];
for (const f of files) {
  const ref = await raw(sharp(path.join(corpus, f)).rotate().resize(1600, 1600, { fit: 'inside', withoutEnlargement: true, kernel: 'lanczos3' }).removeAlpha());
  const refL = luma(ref);
  for (const q of QUALITIES) {
    const t = process.hrtime.bigint();
    const avif = await sharp(ref.data, { raw: ref.info }).avif({ quality: q, effort: 4 }).toBuffer();
    const ms = Number(process.hrtime.bigint() - t) / 1e6;
    const dec = await raw(sharp(avif).removeAlpha());
    out.avif.push({ file: f, quality: q, bytes: avif.length, encode_ms: ms, ssim: ssim(refL, luma(dec), ref.info.width, ref.info.height) });
  }
}
for (const a of JSON.parse(fs.readFileSync(path.join(res, 'avif.json'), 'utf8'))) {
  const ref = await raw(sharp(path.join(res, 'avif', a.reference)).removeAlpha());
  const dec = await raw(sharp(path.join(res, 'avif', a.output)).removeAlpha());
  out.conveyor_avif.push({ ...a, ssim: ssim(luma(ref), luma(dec), ref.info.width, ref.info.height) });
}
fs.writeFileSync(path.join(res, 'sharp.json'), JSON.stringify(out, null, 1));
console.log('wrote', path.join(res, 'sharp.json'));
