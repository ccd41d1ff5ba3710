// Opens a built Vite app (scripts/test-npm-package.sh makes it from the packed npm
// tarball) in headless Chromium, served under the strict CSP of wasm/serve.mjs, and
// waits for its page to report the processed image. Prints "vite app: ok" or fails.
//   node scripts/npm-vite-smoke.mjs DIST_DIR
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve } from '../wasm/serve.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '../wasm/package.json'));
const { chromium } = require('playwright-core');

const dist = path.resolve(process.argv[2]);
const server = await serve(0, dist);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
let code = 1;
try {
  const page = await browser.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(String(e)));
  // Console errors count, except the browser's own favicon request (the app has none).
  page.on('console', (m) => { if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) problems.push(m.text()); });
  page.on('response', (r) => { if (r.status() >= 400 && !r.url().endsWith('/favicon.ico')) problems.push(`${r.status()} ${r.url()}`); });
  await page.goto(`http://127.0.0.1:${server.address().port}/`);
  await page.waitForFunction(() => document.getElementById('out')?.dataset.done === '1', null, { timeout: 60_000 });
  const text = await page.locator('#out').innerText();
  console.log(`page says: ${text}`);
  if (!/^ok large jpeg 640x480, thumb webp 160x120; events: .*job_finished/.test(text) || problems.length) {
    console.error('FAIL: unexpected page output or errors', problems);
  } else {
    console.log('vite app: ok');
    code = 0;
  }
} finally {
  await browser.close();
  server.close();
}
process.exit(code);
