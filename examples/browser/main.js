// The conveyor browser example: pick or drop photos; each is processed in a Web Worker
// (a 1600 px JPEG and a 320 px WebP by default); the page shows the original next to
// its outputs, sizes and savings, progress, and offers the results for download.
// Works with no bundler (served as is) and with Vite (`npx vite build`).
// Previews are drawn on canvases, so the page works under a strict CSP (no blob: or
// data: images needed).
import { Pool } from '../../wasm/js/index.js';

const $ = (id) => document.getElementById(id);
const kib = (n) => (n / 1024).toFixed(1) + ' KiB';
const results = []; // { name, blob } for "Download all"
let poolPromise = null;

function pool() {
  poolPromise ??= Pool.create({ queueCapacity: 64 });
  return poolPromise;
}

async function preview(blob, maxSide) {
  const canvas = document.createElement('canvas');
  try {
    const bmp = await createImageBitmap(blob);
    const s = Math.min(1, maxSide / Math.max(bmp.width, bmp.height));
    canvas.width = Math.max(1, Math.round(bmp.width * s));
    canvas.height = Math.max(1, Math.round(bmp.height * s));
    canvas.getContext('2d').drawImage(bmp, 0, 0, canvas.width, canvas.height);
    bmp.close();
  } catch {
    canvas.width = canvas.height = maxSide;
  }
  return canvas;
}

function recipe() {
  const size = Number($('size').value) || 1600;
  const quality = Number($('quality').value) || 80;
  return {
    outputs: [
      { name: 'large', width: size, height: size, fit: 'inside', format: 'jpeg', quality },
      { name: 'thumb', width: 320, height: 320, fit: 'inside', format: 'webp', quality: 75 },
    ],
  };
}

async function run(files) {
  const list = Array.from(files);
  if (!list.length) return;
  const p = await pool();
  let done = 0;
  $('progress').textContent = `0 / ${list.length}`;
  const r = recipe();
  await Promise.all(list.map(async (file) => {
    const row = document.createElement('div');
    row.className = 'row';
    row.dataset.testid = 'result';
    row.append(await preview(file, 160));
    const meta = document.createElement('div');
    meta.className = 'meta';
    row.append(meta);
    $('results').append(row);
    try {
      const res = await p.process(file, r);
      const total = res.outputs.reduce((a, o) => a + o.bytes.length, 0);
      const large = res.outputs[0];
      const saved = 100 - (100 * large.bytes.length) / file.size;
      meta.innerHTML = `<strong></strong><br>original ${res.input.format} ${res.input.width}×${res.input.height}, ${kib(file.size)}`;
      meta.querySelector('strong').textContent = file.name;
      for (const o of res.outputs) {
        const line = document.createElement('div');
        line.dataset.testid = 'output';
        line.textContent = `${o.name}: ${o.format} ${o.width}×${o.height}, ${kib(o.bytes.length)}`;
        meta.append(line);
        const name = file.name.replace(/\.[^.]+$/, '') + `-${o.name}.${o.format === 'jpeg' ? 'jpg' : o.format}`;
        results.push({ name, blob: o.blob() });
      }
      const save = document.createElement('div');
      save.className = 'save';
      save.textContent = saved >= 0
        ? `large is ${saved.toFixed(0)}% smaller than the original; all outputs ${kib(total)}`
        : `large is ${(-saved).toFixed(0)}% larger than the (already small) original; all outputs ${kib(total)}`;
      meta.append(save);
      row.append(await preview(res.outputs[1].blob(), 160));
    } catch (e) {
      row.classList.add('error');
      meta.innerHTML = '<strong></strong><br><span class="code"></span> <span class="msg"></span>';
      meta.querySelector('strong').textContent = file.name;
      meta.querySelector('.code').textContent = e.code || 'error';
      meta.querySelector('.msg').textContent = e.message;
    }
    done++;
    $('progress').textContent = `${done} / ${list.length}`;
  }));
  $('progress').textContent = `done: ${done} / ${list.length}`;
  $('download').disabled = results.length === 0;
}

function downloadAll() {
  for (const { name, blob } of results) {
    const a = document.createElement('a');
    a.href = URL.createObjectURL(blob);
    a.download = name;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
  }
}

const drop = $('drop');
drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (e) => { e.preventDefault(); drop.classList.remove('over'); run(e.dataTransfer.files); });
$('files').addEventListener('change', (e) => run(e.target.files));
$('download').addEventListener('click', downloadAll);
