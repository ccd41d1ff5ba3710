#!/usr/bin/env bash
# Tests the npm package as a user gets it:
#   scripts/test-npm-package.sh
# `npm pack` in wasm/ (its prepack runs wasm/build.sh), checks the tarball's contents
# (the wasm, the JS and its types, README, both licenses; no sources or tests), then
# installs the tarball into a fresh Vite project, builds it with the Vite pinned in
# wasm/package-lock.json, and opens the result in headless Chromium under a strict CSP
# (scripts/npm-vite-smoke.mjs). Needs Node.js, the wasm toolchain of wasm/build.sh and
# Debian's chromium (CONVEYOR_SKIP_BROWSER=1 stops after the Vite build).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
[ -x wasm/node_modules/.bin/vite ] || npm ci --prefix wasm --no-audit --no-fund
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

echo "==> npm pack (prepack builds the wasm)"
(cd wasm && npm pack --pack-destination "$scratch" >"$scratch/pack.log")
tarball=$(ls "$scratch"/conveyor-images-*.tgz)
echo "packed: $(basename "$tarball") ($(stat -c %s "$tarball") bytes)"
tar -tzf "$tarball" | sort >"$scratch/contents"
for f in package/package.json package/README.md package/LICENSE-MIT package/LICENSE-APACHE \
    package/js/index.js package/js/index.d.ts package/js/worker.js \
    package/pkg/conveyor_wasm.js package/pkg/conveyor_wasm.d.ts package/pkg/conveyor_wasm_bg.wasm; do
    grep -qx "$f" "$scratch/contents" || { echo "FAIL: the tarball lacks $f" >&2; cat "$scratch/contents" >&2; exit 1; }
done
if grep -E '^package/(src|tests|node_modules)/|Cargo.toml|build.sh|serve.mjs' "$scratch/contents"; then
    echo "FAIL: the tarball ships files a user does not need (above)" >&2
    exit 1
fi
node -e '
const p = require(process.argv[1]);
for (const k of ["repository", "engines", "license", "types"]) if (!p[k]) { console.error("FAIL: package.json lacks " + k); process.exit(1); }
' "$root/wasm/package.json"
echo "tarball contents: ok"

echo "==> a fresh Vite project with the tarball installed"
app=$scratch/app
mkdir -p "$app/public"
cp testdata/vectors/inputs/photo_640x480.jpg "$app/public/photo.jpg"
cat >"$app/package.json" <<'JSON'
{ "name": "fresh-vite-app", "private": true, "version": "0.0.0", "type": "module" }
JSON
cat >"$app/vite.config.js" <<'JS'
export default { base: './', build: { target: 'es2022' }, worker: { format: 'es' } };
JS
cat >"$app/index.html" <<'HTML'
<!doctype html>
<html><head><meta charset="utf-8"><title>fresh app</title></head>
<body><p id="out">working</p><script type="module" src="./main.js"></script></body></html>
HTML
cat >"$app/main.js" <<'JS'
import { Pool, ERROR_CODES } from 'conveyor-images';

const out = document.getElementById('out');
const events = [];
try {
  const pool = await Pool.create({ workers: 1 });
  pool.addEventListener('job_finished', () => events.push('job_finished'));
  const photo = await (await fetch('./photo.jpg')).blob();
  const { outputs } = await pool.process(photo, { outputs: [
    { name: 'large', width: 1600, height: 1600, format: 'jpeg', quality: 80 },
    { name: 'thumb', width: 160, height: 160, format: 'webp' }] });
  await pool.close();
  out.textContent = 'ok ' + outputs.map((o) => `${o.name} ${o.format} ${o.width}x${o.height}`).join(', ')
    + `; events: ${events.join(' ')}; codes: ${Object.keys(ERROR_CODES).length}`;
} catch (e) {
  out.textContent = `failed: ${e.code ?? ''} ${e.message}`;
}
out.dataset.done = '1';
JS
(cd "$app" && npm install --no-audit --no-fund --prefer-offline "$tarball" >/dev/null)
test -f "$app/node_modules/conveyor-images/pkg/conveyor_wasm_bg.wasm"
(cd "$app" && "$root/wasm/node_modules/.bin/vite" build --logLevel warn)
ls "$app"/dist/assets/*.wasm >/dev/null
echo "vite build: ok ($(ls "$app"/dist/assets | tr '\n' ' '))"

if [ "${CONVEYOR_SKIP_BROWSER:-0}" = 1 ]; then
    echo "==> the built app in Chromium SKIPPED (CONVEYOR_SKIP_BROWSER=1)"
else
    node scripts/npm-vite-smoke.mjs "$app/dist"
fi
echo "npm package: ok"
