// The upload page in headless Chromium: a person picks a photo, its card appears at
// once and fills in with the thumbnail served by the server, live events arrive, a
// garbage file shows its error code, several files upload at once (a card each, at
// once), the favicon is served, and a screenshot is saved to
// target/e2e/upload-page.png.
//
// Needs the server binary (UPLOAD_SERVER_BIN, default target/debug/upload-server) and
// Debian's Chromium (CHROMIUM, default /usr/bin/chromium).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../../..');
const bin = process.env.UPLOAD_SERVER_BIN ?? path.join(root, 'target/debug/upload-server');
const vectors = path.join(root, 'testdata/vectors/inputs');
const shots = path.join(root, 'target/e2e');

let server, base, browser, work;

before(async () => {
  work = mkdtempSync(path.join(tmpdir(), 'conveyor-e2e-'));
  server = spawn(bin, ['--bind', '127.0.0.1:0', '--output-dir', path.join(work, 'uploads'), '--workers', '2'], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, RUST_LOG: 'warn' },
  });
  base = await new Promise((resolve, reject) => {
    const lines = createInterface({ input: server.stdout });
    lines.once('line', (line) => resolve(line.replace('listening on ', '').trim()));
    server.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
});

after(async () => {
  await browser?.close();
  server?.kill('SIGTERM');
});

test('a photo uploaded through the page shows its result and live events', async () => {
  const page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
  await page.goto(base + '/');
  await page.waitForFunction(() => document.getElementById('stats').textContent !== 'connecting…');
  await page.setInputFiles('#file', path.join(vectors, 'photo_640x480.jpg'));
  // The card appears at once (a placeholder with upload progress), then fills in.
  await page.locator('[data-testid=result]').first().waitFor({ timeout: 5_000 });
  const card = page.locator('[data-testid=result].done').first();
  await card.waitFor({ timeout: 30_000 });
  const text = await card.innerText();
  assert.match(text, /photo_640x480\.jpg/);
  assert.match(text, /jpeg 640×480/);
  assert.match(text, /large\s+jpeg\s+640×480/);
  assert.match(text, /thumb\s+webp\s+320×240/);
  // The thumbnail really loaded from GET /uploads/{id}/thumb.webp.
  await page.waitForFunction(() => {
    const img = document.querySelector('[data-testid=result] img');
    return img && img.complete && img.naturalWidth === 320;
  }, null, { timeout: 10_000 });
  // Live events reached the page over /events.
  await page.waitForFunction(() => document.getElementById('events').textContent.includes('job_finished'), null, { timeout: 10_000 });

  // A broken file shows its error code.
  const junk = path.join(work, 'broken.jpg');
  writeFileSync(junk, 'not a jpeg at all');
  await page.setInputFiles('#file', junk);
  await page.locator('.card.error').first().waitFor({ timeout: 30_000 });
  assert.match(await page.locator('.card.error').first().innerText(), /unsupported_format/);

  // Several files at once: every one gets its card at once, and every one completes.
  const before = await page.locator('[data-testid=result]').count();
  await page.setInputFiles('#file', [0, 1, 2].map(() => path.join(vectors, 'photo_640x480.jpg')));
  assert.equal(await page.locator('[data-testid=result]').count(), before + 3);
  await page.waitForFunction((n) => document.querySelectorAll('[data-testid=result].done').length === n,
    before + 3, { timeout: 30_000 });
  // The favicon the page links to is served.
  assert.equal(await page.evaluate(() => fetch('/favicon.svg').then((r) => r.status)), 200);

  mkdirSync(shots, { recursive: true });
  const shot = path.join(shots, 'upload-page.png');
  await page.screenshot({ path: shot, fullPage: true });
  assert.ok(existsSync(shot));
});
