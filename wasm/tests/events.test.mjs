// The JS pool's events and live reload in headless Chromium: the shared event script
// (testdata/events/events.json, which Rust, C and Python replay too), a reload that
// reaches every worker, and a stalled subscriber that stays bounded while jobs run.
// Needs `bash wasm/build.sh` first (wasm/pkg/).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { serve } from '../serve.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const wasmDir = path.resolve(here, '..');
let server, base, browser;

before(async () => {
  assert.ok(existsSync(path.join(wasmDir, 'pkg/conveyor_wasm_bg.wasm')), 'run `bash wasm/build.sh` first');
  server = await serve(0);
  base = `http://127.0.0.1:${server.address().port}`;
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
});

after(async () => {
  await browser?.close();
  server?.close();
});

async function harness() {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${base}/wasm/tests/pages/harness.html`);
  await page.waitForFunction(() => window.ready === true);
  page.errors = errors;
  return page;
}

/** The matching rule of testdata/events/README.md. */
function matches(want, got) {
  if (want === '<us>') return Number.isInteger(got) && got >= 0;
  if (want && typeof want === 'object') {
    if (!got || typeof got !== 'object') return false;
    const wk = Object.keys(want).sort(), gk = Object.keys(got).sort();
    return wk.join() === gk.join() && wk.every((k) => matches(want[k], got[k]));
  }
  return want === got;
}

test('the shared event script gives the native event streams', async () => {
  const page = await harness();
  const doc = await page.evaluate(async () => {
    const { Pool } = window.conveyor;
    const doc = await (await fetch('/testdata/events/events.json')).json();
    const pool = await Pool.create({ workers: doc.pool.workers, queueCapacity: doc.pool.queue_capacity });
    const subs = {};
    const problems = [];
    for (const step of doc.steps) {
      if (step.op === 'subscribe') {
        subs[step.name] = pool.events(step.capacity ? { capacity: step.capacity } : {});
      } else if (step.op === 'submit') {
        const input = await (await fetch(`/testdata/vectors/inputs/${step.input}`)).arrayBuffer();
        const want = step.outcome;
        try {
          const r = await pool.process(input, step.recipe);
          const names = r.outputs.map((o) => o.name);
          if (!want.ok || names.join() !== want.outputs.join()) problems.push(`${step.input}: ok ${names}`);
        } catch (e) {
          if (want.ok || e.code !== want.code) problems.push(`${step.input}: ${e.code} ${e.message}`);
        }
      } else if (step.op === 'reload') {
        try {
          await pool.reload(step.settings);
          if (step.error) problems.push(`reload ${JSON.stringify(step.settings)} was accepted`);
        } catch (e) {
          if (e.code !== step.error) problems.push(`reload: ${e.code} ${e.message}`);
        }
      } else if (step.op === 'shutdown') {
        await pool.close();
      }
    }
    const streams = {};
    for (const name of Object.keys(doc.expect)) {
      streams[name] = [];
      for await (const ev of subs[name]) streams[name].push(ev);
    }
    return { expect: doc.expect, streams, problems };
  });
  assert.deepEqual(doc.problems, []);
  for (const [name, want] of Object.entries(doc.expect)) {
    const got = doc.streams[name];
    assert.equal(got.length, want.length, `${name}: ${JSON.stringify(got)}`);
    want.forEach((w, i) => assert.ok(matches(w, got[i]), `${name}[${i}]: want ${JSON.stringify(w)}, got ${JSON.stringify(got[i])}`));
  }
  assert.deepEqual(page.errors, []);
});

test('reload reaches every worker; a stalled subscriber stays bounded and lags', async () => {
  const page = await harness();
  const out = await page.evaluate(async () => {
    const { Pool } = window.conveyor;
    const photo = await (await fetch('/testdata/vectors/inputs/photo_640x480.jpg')).arrayBuffer();
    const recipe = { outputs: [{ name: 'small', width: 64, height: 64, format: 'png' }] };
    const pool = await Pool.create({ workers: 3, queueCapacity: 8 });
    const stalled = Array.from({ length: 8 }, () => pool.events({ capacity: 16 }));
    const seen = [];
    pool.addEventListener('config_reloaded', (e) => seen.push(e.detail));
    const settle = (p) => p.then((r) => r.outputs.map((o) => o.name).join(), (e) => e.code);
    const limitedOn = new Set();
    const before = await Promise.all(Array.from({ length: 6 }, () => settle(pool.process(photo, recipe))));
    await pool.reload({ limits: { max_pixels: 1000 } });
    const onStart = (e) => limitedOn.add(e.detail.worker);
    pool.addEventListener('job_started', onStart);
    const limited = await Promise.all(Array.from({ length: 6 }, () => settle(pool.process(photo, recipe))));
    pool.removeEventListener('job_started', onStart);
    await pool.reload({ default_recipe: recipe });
    const defaults = await Promise.all(Array.from({ length: 6 }, () => settle(pool.process(photo))));
    const bad = [];
    let refused;
    try { await pool.reload({ limits: { max_pixels: 'many' } }); } catch (e) { refused = e.code; }
    try { await pool.reload({ bogus: 1 }); bad.push('bogus accepted'); } catch (e) { if (e.code !== 'invalid_argument') bad.push(e.code); }
    const after = await settle(pool.process(photo));
    await pool.close();
    const streams = [];
    for (const s of stalled) {
      const items = [];
      for await (const ev of s) items.push(ev);
      streams.push(items);
    }
    return { before, limited, defaults, after, refused, bad, seen: seen.length, limitedOn: limitedOn.size, streams: streams.map((s) => ({ first: s[0], kept: s.length - 1 })) };
  });
  assert.deepEqual(out.before, Array(6).fill('small'));
  assert.deepEqual(out.limited, Array(6).fill('limit_exceeded'));
  assert.deepEqual(out.defaults, Array(6).fill('small'));
  assert.equal(out.after, 'small');
  assert.equal(out.refused, 'invalid_argument');
  assert.deepEqual(out.bad, []);
  assert.equal(out.seen, 2);
  assert.equal(out.limitedOn, 3, 'the limited jobs ran on every worker');
  // 19 jobs x 3 events + 2 reloads + shutting_down = 60, of which each kept at most 16.
  for (const s of out.streams) {
    assert.equal(s.first.type, 'lagged');
    assert.equal(s.kept, 16);
    assert.equal(s.first.missed + s.kept, 60);
  }
  assert.deepEqual(page.errors, []);
});
