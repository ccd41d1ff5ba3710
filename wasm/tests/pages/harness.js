// Test harness page: exposes the package and helpers to the Playwright tests, and
// records CSP violations and long tasks. No inline script (the page runs under a
// strict CSP).
import { Pool, ConveyorError, ERROR_CODES } from '../../js/index.js';

window.violations = [];
document.addEventListener('securitypolicyviolation', (e) => window.violations.push(`${e.violatedDirective} ${e.blockedURI}`));
window.longTasks = [];
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) window.longTasks.push({ start: e.startTime, duration: e.duration });
}).observe({ type: 'longtask', buffered: true });

/** A photo-like test image made in the browser: gradient, shapes and noise. */
async function makeImage(w, h, type, quality = 0.9) {
  const c = new OffscreenCanvas(w, h);
  const g = c.getContext('2d');
  const grad = g.createLinearGradient(0, 0, w, h);
  grad.addColorStop(0, '#1d4e89');
  grad.addColorStop(0.5, '#f29e4c');
  grad.addColorStop(1, '#2a9d8f');
  g.fillStyle = grad;
  g.fillRect(0, 0, w, h);
  for (let i = 0; i < 40; i++) {
    g.fillStyle = `hsla(${(i * 37) % 360}, 70%, 55%, 0.5)`;
    g.beginPath();
    g.arc(((i * 97) % 100) / 100 * w, ((i * 53) % 100) / 100 * h, (5 + (i % 7) * 4) / 100 * Math.min(w, h), 0, Math.PI * 2);
    g.fill();
  }
  return c.convertToBlob({ type, quality });
}

function magic(bytes) {
  if (bytes[0] === 0xff && bytes[1] === 0xd8) return 'jpeg';
  if (bytes[0] === 0x89 && bytes[1] === 0x50) return 'png';
  if (String.fromCharCode(...bytes.slice(0, 4)) === 'RIFF' && String.fromCharCode(...bytes.slice(8, 12)) === 'WEBP') return 'webp';
  return 'unknown';
}

/** An image's RGBA pixels as the browser decodes it (no colour conversion). */
async function rgba(blob) {
  const bmp = await createImageBitmap(blob, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
  const c = new OffscreenCanvas(bmp.width, bmp.height);
  const g = c.getContext('2d');
  g.drawImage(bmp, 0, 0);
  return g.getImageData(0, 0, bmp.width, bmp.height);
}

/** PSNR in dB of two ImageData of the same size over R, G, B and A (99 when equal). */
function psnr(a, b) {
  if (a.width !== b.width || a.height !== b.height) return -1;
  let se = 0;
  for (let i = 0; i < a.data.length; i++) se += (a.data[i] - b.data[i]) ** 2;
  const mse = se / a.data.length;
  return mse === 0 ? 99 : 10 * Math.log10((255 * 255) / mse);
}

window.conveyor = { Pool, ConveyorError, ERROR_CODES, makeImage, magic, rgba, psnr };
window.ready = true;
document.getElementById('status').textContent = 'ready';
