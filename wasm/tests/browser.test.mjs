// The npm package in headless Chromium (Debian's /usr/bin/chromium via playwright-core):
// batches with 2 and 4 workers (including a 12-megapixel JPEG), the shared vectors,
// abort, garbage, a decompression-bomb header, more jobs than queueCapacity, a strict
// CSP without COOP/COEP, main-thread responsiveness, and the example page with no
// bundler and built by Vite (with screenshots in target/e2e/).
// Needs `bash wasm/build.sh` first (wasm/pkg/).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { serve, CSP } from '../serve.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const wasmDir = path.resolve(here, '..');
const root = path.resolve(wasmDir, '..');
const shots = path.join(root, 'target/e2e');
const report = {};
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
  mkdirSync(shots, { recursive: true });
});

after(async () => {
  await browser?.close();
  server?.close();
  writeFileSync(path.join(shots, 'browser-report.json'), JSON.stringify(report, null, 2));
  console.log('# browser report', JSON.stringify(report));
});

async function harness() {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  const res = await page.goto(`${base}/wasm/tests/pages/harness.html`);
  assert.equal(res.headers()['content-security-policy'], CSP);
  assert.equal(res.headers()['cross-origin-opener-policy'], undefined);
  assert.equal(res.headers()['cross-origin-embedder-policy'], undefined);
  await page.waitForFunction(() => window.ready === true);
  page.errors = errors;
  return page;
}

const fit = (w, h, box) => {
  const s = Math.min(1, box / Math.max(w, h));
  return [Math.max(1, Math.round(w * s)), Math.max(1, Math.round(h * s))];
};

for (const workers of [2, 4]) {
  test(`${workers} workers process a batch of 20 images`, async () => {
    const page = await harness();
    const out = await page.evaluate(async (workers) => {
      const { Pool, makeImage, magic } = window.conveyor;
      const types = ['image/jpeg', 'image/png', 'image/webp'];
      const specs = [{ w: 4000, h: 3000, type: 'image/jpeg' }];
      for (let i = 1; i < 20; i++) specs.push({ w: 400 + i * 97, h: 300 + ((i * 131) % 900), type: types[i % 3] });
      const blobs = await Promise.all(specs.map((s) => makeImage(s.w, s.h, s.type)));
      const recipe = { outputs: [
        { name: 'large', width: 1600, height: 1600, format: 'jpeg', quality: 80 },
        { name: 'thumb', width: 320, height: 320, format: 'webp', quality: 75 },
        { name: 'icon', width: 64, height: 64, fit: 'cover', format: 'png' }] };
      const pool = await Pool.create({ workers, queueCapacity: 8 });
      // Main-thread responsiveness: a 10 ms ticker and the long-task observer.
      let last = performance.now(), maxGap = 0;
      const ticker = setInterval(() => { const now = performance.now(); maxGap = Math.max(maxGap, now - last); last = now; }, 10);
      const t0 = performance.now();
      const results = await Promise.all(blobs.map((b) => pool.process(b, recipe)));
      const t1 = performance.now();
      clearInterval(ticker);
      await pool.close();
      const perImage = results.map((r) => r.timings.total_us / 1000);
      const big = results[0].timings;
      return {
        ms: t1 - t0,
        maxGap,
        longTasks: window.longTasks.filter((t) => t.start >= t0 && t.start <= t1).map((t) => t.duration),
        specs,
        bigTimings: big,
        perImageMedianMs: perImage.sort((a, b) => a - b)[perImage.length >> 1],
        items: results.map((r) => ({ input: r.input, outputs: r.outputs.map((o) => ({ name: o.name, format: o.format, width: o.width, height: o.height, magic: magic(o.data), len: o.data.length, byteLen: o.byte_len, blobType: o.blob().type })) })),
      };
    }, workers);
    assert.equal(out.items.length, 20);
    out.items.forEach((item, i) => {
      const s = out.specs[i];
      assert.equal(item.input.width, s.w);
      assert.equal(item.input.format, s.type.slice(6));
      const [large, thumb, icon] = item.outputs;
      assert.deepEqual([large.width, large.height], fit(s.w, s.h, 1600));
      assert.deepEqual([thumb.width, thumb.height], fit(s.w, s.h, 320));
      assert.deepEqual([icon.width, icon.height], [64, 64]);
      assert.deepEqual([large.magic, thumb.magic, icon.magic], ['jpeg', 'webp', 'png']);
      assert.equal(large.blobType, 'image/jpeg');
      assert.ok(thumb.len > 0 && thumb.len < 40_000, `lossy webp thumbnail is small: ${thumb.len}`);
    });
    report[`batch_${workers}_workers`] = {
      batch_ms: Math.round(out.ms), images_per_s: +(20000 / out.ms).toFixed(2), median_job_ms: Math.round(out.perImageMedianMs),
      twelve_mp_jpeg: { decode_ms: Math.round(out.bigTimings.decode_us / 1000), resize_ms: Math.round(out.bigTimings.resize_us / 1000), encode_ms: Math.round(out.bigTimings.encode_us / 1000) },
      main_thread_long_tasks_ms: out.longTasks.map(Math.round), main_thread_max_ticker_gap_ms: Math.round(out.maxGap),
    };
    // Nothing heavy runs on the page's thread: no long task comes near a job's length.
    assert.ok(out.longTasks.every((d) => d < 250), `long tasks ${out.longTasks}`);
    assert.deepEqual(await page.evaluate(() => window.violations), []);
    assert.deepEqual(page.errors, []);
  });
}

test('the shared vectors give the native outcomes and pixels', async () => {
  const page = await harness();
  const { bad: mismatches, pixels } = await page.evaluate(async () => {
    const { Pool, rgba, psnr } = window.conveyor;
    const { cases } = await (await fetch('/testdata/vectors/vectors.json')).json();
    const bad = [];
    const pixels = {};
    for (const c of cases) {
      const input = await (await fetch(`/testdata/vectors/inputs/${c.input}`)).arrayBuffer();
      const pool = await Pool.create({ workers: 1, limits: c.limits });
      try {
        // recipe_text: the raw recipe text, passed as a string unchanged.
        // expect_wasm: what the browser build gives instead (no AVIF encoder).
        if (c.expect_wasm) c.expect = c.expect_wasm;
        const r = await pool.process(input, 'recipe_text' in c ? c.recipe_text : c.recipe);
        if (!c.expect.ok) { bad.push(`${c.name}: expected ${c.expect.code}, got ok`); continue; }
        const want = c.expect;
        if (r.input.format !== want.input.format || r.input.width !== want.input.width || r.input.height !== want.input.height) bad.push(`${c.name}: input ${JSON.stringify(r.input)}`);
        const got = r.outputs.map((o) => [o.name, o.format, o.width, o.height].join());
        const exp = want.outputs.map((o) => [o.name, o.format, o.width, o.height].join());
        if (got.join(';') !== exp.join(';')) bad.push(`${c.name}: ${got} != ${exp}`);
        // Optional: the warnings' codes, in order (colour profiles ignored).
        if ('warnings' in want) {
          const codes = (r.warnings || []).map((w) => w.code).join();
          if (codes !== want.warnings.join()) bad.push(`${c.name}: warnings ${codes} != ${want.warnings}`);
        }
        // Pixels: decoded by the browser, against the native door's output.
        for (const [i, o] of r.outputs.entries()) {
          const w = want.outputs[i];
          if (w?.psnr_min == null) continue;
          const ref = await (await fetch(`/testdata/vectors/${w.reference}`)).blob();
          const db = psnr(await rgba(new Blob([o.data], { type: `image/${o.format}` })), await rgba(ref));
          pixels[`${c.name}/${o.name}`] = +db.toFixed(1);
          if (!(db >= w.psnr_min)) bad.push(`${c.name}/${o.name}: ${db.toFixed(1)} dB < ${w.psnr_min}`);
        }
      } catch (e) {
        if (c.expect.ok || e.code !== c.expect.code) bad.push(`${c.name}: ${e.code} ${e.message}`);
      } finally {
        await pool.close();
      }
    }
    return { bad, pixels };
  });
  report.vector_pixels_db = pixels;
  assert.deepEqual(mismatches, []);
  assert.ok(Object.keys(pixels).length >= 15, `only ${Object.keys(pixels).length} outputs checked by pixels`);
});

test("lossy WebP: the browser's encoder by default, the wasm's with browserWebp: false", async () => {
  const page = await harness();
  const out = await page.evaluate(async () => {
    const { Pool, makeImage, rgba, psnr } = window.conveyor;
    const ascii = (b, from, to) => String.fromCharCode(...b.slice(from, to));
    const photo = await makeImage(900, 600, 'image/jpeg');
    // A PNG with transparent pixels: its WebP needs an alpha channel.
    const c = new OffscreenCanvas(200, 150);
    const g = c.getContext('2d');
    g.fillStyle = 'rgba(200, 40, 40, 0.5)';
    g.fillRect(20, 20, 120, 90);
    const clear = await c.convertToBlob({ type: 'image/png' });
    const recipe = { outputs: [
      { name: 'thumb', width: 320, height: 320, format: 'webp', quality: 75 },
      { name: 'capped', width: 320, height: 320, format: 'webp', max_bytes: 6000 },
      { name: 'jpeg', width: 320, height: 320, format: 'jpeg', quality: 80 }] };
    const run = async (browserWebp, input) => {
      const pool = await Pool.create({ workers: 1, browserWebp });
      try {
        return await pool.process(input, recipe);
      } finally {
        await pool.close();
      }
    };
    const [browser, wasm] = [await run(true, photo), await run(false, photo)];
    const [browserClear, wasmClear] = [await run(true, clear), await run(false, clear)];
    const same = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
    const thumb = (r) => r.outputs[0].data;
    const decoded = async (r, i) => rgba(new Blob([r.outputs[i].data], { type: 'image/webp' }));
    return {
      lengths: [browser, wasm].map((r) => r.outputs.map((o) => o.byte_len === o.data.length)),
      chunk: ascii(thumb(browser), 12, 16),
      size: [browser.outputs[0].width, browser.outputs[0].height, wasm.outputs[0].width, wasm.outputs[0].height],
      decodedSize: await decoded(browser, 0).then((d) => [d.width, d.height]),
      thumbsDiffer: !same(thumb(browser), thumb(wasm)),
      db: psnr(await decoded(browser, 0), await decoded(wasm, 0)),
      cappedSame: same(browser.outputs[1].data, wasm.outputs[1].data),
      jpegSame: same(browser.outputs[2].data, wasm.outputs[2].data),
      clearSame: same(thumb(browserClear), thumb(wasmClear)),
      clearChunks: ascii(thumb(browserClear), 12, 16),
      encodeUs: browser.timings.encode_us,
    };
  });
  report.browser_webp = out;
  assert.deepEqual(out.lengths, [[true, true, true], [true, true, true]]);
  // The browser's file, rewrapped as the pipeline writes one: the VP8 stream alone.
  assert.equal(out.chunk, 'VP8 ');
  assert.deepEqual(out.size, [320, 213, 320, 213]);
  assert.deepEqual(out.decodedSize, [320, 213]);
  assert.ok(out.thumbsDiffer, 'the default pool should use the browser encoder');
  assert.ok(out.db >= 30, `browser and wasm thumbnails ${out.db} dB apart`);
  // Not deferred: a byte budget, JPEG, and pixels with alpha stay with the wasm.
  assert.ok(out.cappedSame);
  assert.ok(out.jpegSame);
  assert.ok(out.clearSame);
  assert.equal(out.clearChunks, 'VP8X');
  assert.ok(out.encodeUs > 0);
});

test('memory: estimates are admitted against the budget, and big workers are recycled', async () => {
  const page = await harness();
  const out = await page.evaluate(async () => {
    const { Pool, makeImage } = window.conveyor;
    const big = await makeImage(4000, 3000, 'image/jpeg');
    const small = await makeImage(300, 200, 'image/png');
    const recipe = { outputs: [{ name: 'o', width: 800, format: 'jpeg' }] };
    const settle = (p) => p.then(() => 'ok', (e) => `${e.code}: ${e.message}`);
    // The estimate of one big job, from its outcome.
    const probe = await Pool.create({ workers: 1 });
    const estimate = (await probe.process(big, recipe)).memory_estimate;
    const probeStats = probe.stats();
    await probe.close();
    // A budget under one job's estimate: refused with the native message, at once.
    const tight = await Pool.create({ workers: 1, memoryBudget: 8 << 20 });
    const over = await settle(tight.process(big, recipe));
    const fits = await settle(tight.process(small, recipe));
    await tight.close();
    // A budget for one big job at a time: two workers, four jobs, never two at once.
    const budget = Math.floor(estimate * 1.5);
    const pool = await Pool.create({ workers: 2, memoryBudget: budget, maxWorkerMemory: 1024 << 20 });
    let maxReserved = 0, sawWaiting = 0;
    const tick = setInterval(() => {
      const st = pool.stats();
      maxReserved = Math.max(maxReserved, st.memoryReserved);
      sawWaiting = Math.max(sawWaiting, st.memoryWaiting);
    }, 2);
    const codes = await Promise.all([0, 1, 2, 3].map(() => settle(pool.process(big, recipe))));
    clearInterval(tick);
    const after = pool.stats();
    await pool.close();
    // Recycling: a worker whose memory grew past maxWorkerMemory starts afresh. A
    // 3000 px output decodes the 12 MP JPEG at full size (no shrink-on-load).
    const recycling = await Pool.create({ workers: 1, maxWorkerMemory: 16 << 20 });
    const first = await settle(recycling.process(big, { outputs: [{ name: 'o', width: 3000, format: 'jpeg' }] }));
    await new Promise((r) => setTimeout(r, 50));
    const second = await settle(recycling.process(small, recipe));
    const recycled = recycling.stats();
    await recycling.close();
    // A 253-byte BMP whose header claims 2554x18803: refused before its pixels exist.
    const bomb = await (await fetch('/testdata/vectors/inputs/bmp_size_bomb.bmp')).arrayBuffer();
    const fresh = await Pool.create({ workers: 1 });
    const before = fresh.stats().workerMemory[0];
    const bombCode = await settle(fresh.process(bomb, recipe));
    const bombMemory = fresh.stats().workerMemory[0];
    await fresh.close();
    return { estimate, probeMemory: probeStats.workerMemory[0], over, fits, budget, maxReserved, sawWaiting, codes, after, first, second, recycled, before, bombCode, bombMemory };
  });
  report.memory = { big_job_estimate_mib: +(out.estimate / 2 ** 20).toFixed(1), worker_memory_after_big_job_mib: +(out.probeMemory / 2 ** 20).toFixed(1),
    worker_memory_after_bmp_bomb_mib: +(out.bombMemory / 2 ** 20).toFixed(1) };
  assert.ok(out.estimate > 8 << 20, `estimate ${out.estimate}`);
  assert.match(out.over, /^limit_exceeded: the job needs an estimated .* of memory; the pool's memory budget is 8\.0 MiB \(8388608 bytes\)$/);
  assert.equal(out.fits, 'ok');
  assert.deepEqual(out.codes, ['ok', 'ok', 'ok', 'ok']);
  assert.ok(out.maxReserved <= out.budget, `${out.maxReserved} reserved, budget ${out.budget}`);
  assert.ok(out.maxReserved >= out.estimate * 0.5, `${out.maxReserved}`);
  assert.ok(out.sawWaiting >= 1, 'a job waited for memory');
  assert.equal(out.after.memoryReserved, 0);
  assert.equal(out.after.memoryWaiting, 0);
  assert.equal(out.first, 'ok');
  assert.equal(out.second, 'ok');
  assert.ok(out.recycled.recycled >= 1, JSON.stringify(out.recycled));
  assert.match(out.bombCode, /^decode_failed: bmp: truncated input/);
  assert.ok(out.bombMemory < out.before + (16 << 20), `the bomb grew the worker from ${out.before} to ${out.bombMemory}`);
});

test('abort, garbage and a decompression-bomb header reject cleanly; the tab survives', async () => {
  const page = await harness();
  const out = await page.evaluate(async () => {
    const { Pool, makeImage } = window.conveyor;
    const big = await makeImage(4000, 3000, 'image/jpeg');
    const small = await makeImage(300, 200, 'image/png');
    const recipe = { outputs: [{ name: 'o', width: 800, format: 'jpeg' }] };
    const pool = await Pool.create({ workers: 1, queueCapacity: 4 });
    const codes = {};
    const settle = (p) => p.then(() => 'ok', (e) => e.code);
    const once = (type) => new Promise((r) => pool.addEventListener(type, (e) => r(e.detail), { once: true }));
    // Queued abort: the first job runs, the second waits in the queue, then is aborted.
    let started = once('job_started');
    const first = pool.process(big, recipe);
    await started;
    const ac = new AbortController();
    const queuedEvent = once('job_queued');
    const queued = settle(pool.process(small, recipe, { signal: ac.signal }));
    await queuedEvent;
    ac.abort();
    codes.queued = await queued;
    codes.first = await settle(first);
    // Running abort: abort once the job has started.
    const ac2 = new AbortController();
    started = once('job_started');
    const running = settle(pool.process(big, recipe, { signal: ac2.signal }));
    await started;
    ac2.abort();
    codes.running = await running;
    // Deadlines (`timeoutMs`): one that passes while the job runs, one in the queue
    // behind a running job, and one that is no number.
    codes.warm = await settle(pool.process(small, recipe)); // a started, idle worker
    let t0 = performance.now();
    codes.runningTimeout = await pool.process(big, recipe, { timeoutMs: 20 }).then(() => ({ code: 'ok' }), (e) => ({ code: e.code, stage: e.stage, message: e.message }));
    codes.runningTimeoutMs = performance.now() - t0;
    started = once('job_started');
    const ahead = settle(pool.process(big, recipe));
    await started;
    t0 = performance.now();
    codes.queuedTimeout = await pool.process(small, recipe, { timeoutMs: 5 }).then(() => ({ code: 'ok' }), (e) => ({ code: e.code, stage: e.stage }));
    codes.queuedTimeoutMs = performance.now() - t0;
    codes.ahead = await settle(ahead);
    codes.badTimeout = await settle(pool.process(small, recipe, { timeoutMs: -1 }));
    codes.zeroTimeout = await settle(pool.process(small, recipe, { timeoutMs: 0 }));
    // Already aborted.
    const ac3 = new AbortController();
    ac3.abort();
    codes.pre = await settle(pool.process(small, recipe, { signal: ac3.signal }));
    codes.garbage = await settle(pool.process(new TextEncoder().encode('not an image'), recipe));
    const bomb = await (await fetch('/testdata/vectors/inputs/bomb_50000x50000.png')).arrayBuffer();
    const t = performance.now();
    codes.bomb = await settle(pool.process(bomb, recipe));
    codes.bombMs = performance.now() - t;
    const acceptedBefore = pool.stats().accepted;
    codes.badRecipe = await settle(pool.process(small, { outputs: [{ name: 'o', format: 'gif' }] }));
    // Refused on the page's thread, before it took a place in the queue.
    codes.badRecipeAccepted = pool.stats().accepted - acceptedBefore;
    codes.strictRecipe = await settle(pool.process(small, '{"outputs":[{"name":"o","format":"png"}]} {}'));
    codes.after = await settle(pool.process(small, recipe));
    codes.stats = pool.stats();
    pool.terminate();
    codes.afterTerminate = await settle(pool.process(small, recipe));
    return codes;
  });
  assert.equal(out.queued, 'cancelled');
  assert.equal(out.first, 'ok');
  assert.equal(out.running, 'cancelled');
  assert.equal(out.pre, 'cancelled');
  assert.equal(out.garbage, 'unsupported_format');
  assert.equal(out.bomb, 'limit_exceeded');
  assert.ok(out.bombMs < 1000, `bomb took ${out.bombMs} ms`);
  assert.equal(out.badRecipe, 'invalid_recipe');
  assert.equal(out.badRecipeAccepted, 0);
  assert.equal(out.strictRecipe, 'invalid_recipe');
  assert.equal(out.after, 'ok');
  assert.equal(out.afterTerminate, 'shut_down');
  assert.equal(out.stats.failed.cancelled, 2);
  console.log(`deadline to outcome: running ${out.runningTimeoutMs.toFixed(1)} ms after submission (deadline 20 ms), queued ${out.queuedTimeoutMs.toFixed(1)} ms (deadline 5 ms)`);
  assert.equal(out.warm, 'ok');
  assert.equal(out.runningTimeout.code, 'timed_out', JSON.stringify(out.runningTimeout));
  assert.equal(out.runningTimeout.stage, null, 'it ran: no queue stage');
  assert.match(out.runningTimeout.message, /^deadline passed, 20 ms after acceptance/);
  assert.ok(out.runningTimeoutMs < 520, `a running job's deadline took ${out.runningTimeoutMs} ms`);
  assert.deepEqual(out.queuedTimeout, { code: 'timed_out', stage: 'queue' });
  assert.ok(out.queuedTimeoutMs < 505, `a queued job's deadline took ${out.queuedTimeoutMs} ms`);
  assert.equal(out.ahead, 'ok');
  assert.equal(out.badTimeout, 'invalid_argument');
  assert.equal(out.zeroTimeout, 'invalid_argument');
  assert.equal(out.stats.failed.timed_out, 2);
});

test('more jobs than queueCapacity: wait for room, or reject with queue_full', async () => {
  const page = await harness();
  const out = await page.evaluate(async () => {
    const { Pool, makeImage } = window.conveyor;
    const img = await makeImage(1200, 900, 'image/jpeg');
    const recipe = { outputs: [{ name: 'o', width: 300, format: 'webp' }] };
    const waitPool = await Pool.create({ workers: 1, queueCapacity: 2 });
    let maxQueued = 0;
    waitPool.addEventListener('job_queued', () => { maxQueued = Math.max(maxQueued, waitPool.stats().queued); });
    const waited = await Promise.allSettled(Array.from({ length: 10 }, () => waitPool.process(img, recipe)));
    await waitPool.close();
    const rejectPool = await Pool.create({ workers: 1, queueCapacity: 2, onFull: 'reject' });
    const rejected = await Promise.allSettled(Array.from({ length: 10 }, () => rejectPool.process(img, recipe)));
    const stats = rejectPool.stats();
    await rejectPool.close();
    return {
      waited: waited.map((r) => r.status), maxQueued,
      rejected: rejected.map((r) => (r.status === 'fulfilled' ? 'ok' : r.reason.code)), stats,
    };
  });
  assert.deepEqual(out.waited, Array(10).fill('fulfilled'));
  assert.ok(out.maxQueued <= 2, `queue grew to ${out.maxQueued}`);
  const ok = out.rejected.filter((c) => c === 'ok').length;
  const full = out.rejected.filter((c) => c === 'queue_full').length;
  assert.equal(ok + full, 10);
  assert.ok(ok >= 2 && full >= 1, JSON.stringify(out.rejected));
  assert.equal(out.stats.rejected, full);
  assert.equal(out.stats.completed, ok);
});

async function exampleFlow(url, shotName) {
  const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  const violations = [];
  page.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) violations.push(m.text()); });
  await page.goto(url);
  const inputs = path.join(root, 'testdata/vectors/inputs');
  const junk = path.join(tmpdir(), 'not-an-image.jpg');
  writeFileSync(junk, 'not an image');
  await page.setInputFiles('#files', [path.join(inputs, 'photo_640x480.jpg'), path.join(inputs, 'rgba_300x200.png'), path.join(inputs, 'gradient_100x100.webp'), junk]);
  await page.waitForFunction(() => document.getElementById('progress').textContent === 'done: 4 / 4', null, { timeout: 60_000 });
  const rows = await page.locator('[data-testid=result]').allInnerTexts();
  const all = rows.join('\n');
  assert.match(all, /large: jpeg 640×480/);
  assert.match(all, /thumb: webp 320×240/);
  assert.match(all, /thumb: webp 300×200/);
  assert.match(all, /unsupported_format/);
  assert.equal(await page.locator('#download').isDisabled(), false);
  await page.screenshot({ path: path.join(shots, shotName), fullPage: true });
  assert.deepEqual(errors, []);
  assert.deepEqual(violations, []);
}

test('the example page works end to end with no bundler', async () => {
  await exampleFlow(`${base}/examples/browser/`, 'browser-example.png');
});

test('the example page works end to end built by Vite', async () => {
  const exampleDir = path.join(root, 'examples/browser');
  execFileSync(path.join(wasmDir, 'node_modules/.bin/vite'), ['build', '--logLevel', 'warn'], { cwd: exampleDir, stdio: 'inherit' });
  const dist = await serve(0, path.join(exampleDir, 'dist'));
  try {
    await exampleFlow(`http://127.0.0.1:${dist.address().port}/`, 'browser-example-vite.png');
  } finally {
    dist.close();
  }
});

test('a crashed worker is replaced and its job rejects with panicked', async () => {
  const page = await harness();
  const out = await page.evaluate(async () => {
    const { Pool, makeImage } = window.conveyor;
    const big = await makeImage(4000, 3000, 'image/jpeg');
    const recipe = { outputs: [{ name: 'o', width: 800, format: 'jpeg' }] };
    const pool = await Pool.create({ workers: 1 });
    const started = new Promise((r) => pool.addEventListener('job_started', r, { once: true }));
    const crashed = pool.process(big, recipe).then(() => 'ok', (e) => e.code);
    await started;
    // Simulated: the browser reports the worker running the job as crashed (as it does
    // for an uncaught error or an out-of-memory abort).
    pool._slots[0].worker.onerror(new ErrorEvent('error', { message: 'simulated crash' }));
    const code = await crashed;
    const after = await pool.process(big, recipe).then((r) => r.outputs[0].width, (e) => e.code);
    const stats = pool.stats();
    await pool.close();
    return { code, after, stats };
  });
  assert.equal(out.code, 'panicked');
  assert.equal(out.after, 800);
  assert.equal(out.stats.completed, 1);
  assert.equal(out.stats.failed.panicked, 1);
});
