#!/usr/bin/env bash
# The side-by-side benchmark, in one run, back to back, on one machine:
#   bash bench/run.sh   (REPS=5 WARMUP=1 ROUNDS=2 by default; ~25 min on 2 cores;
#                        ROWS="..." for some native rows only, BROWSER=0 without the browser,
#                        COLOUR=0 without the colour-accuracy row, bench/colour/run.sh,
#                        AVIF=0 without the AVIF row, bench/features/run.sh)
# conveyor through the Rust API, the C library and the Python package, against pyvips,
# sharp, Pillow and the shared Rust-crates baseline (pinned by the shared anchors' lock
# files), on the shared real-photo corpus, with the shared harness (measure.py: median of
# REPS passes after WARMUP, peak PSS of the process tree; quality.py: SSIM against a
# no-shrink pyvips reference). Then the browser row: the npm package against
# browser-image-compression in headless Chromium (the shared browser harness).
# Writes target/bench/results/<UTC time>/table.md and table.json and prints the table.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
shared=${CONVEYOR_SHARED_BENCH:-$root/../shared/bench}
work=$root/target/bench
export REPS=${REPS:-5} WARMUP=${WARMUP:-1}

echo "==> harness from $shared"
mkdir -p "$work"
# A writable copy of the shared harness (shared/ is read-only in CI); keep the installs.
(cd "$shared" && tar --exclude=./results --exclude=./corpus --exclude=./browser/results --exclude=node_modules --exclude=.venv --exclude=target -cf - .) | (cd "$work" && tar -xf -)
chmod -R u+w "$work"
PY=$work/anchors/py/.venv/bin/python
[ -d "$work/anchors/sharp/node_modules/sharp" ] || (cd "$work/anchors/sharp" && npm ci --no-audit --no-fund)
[ -x "$PY" ] || { python3 -m venv "$work/anchors/py/.venv" && "$PY" -m pip install -q -r "$work/anchors/py/requirements.txt"; }
if [ ! -f "$work/corpus/MANIFEST.txt" ]; then
    apt-get update -qq
    (cd "$work" && "$PY" make_corpus.py)
fi

RUST_BASELINE=$work/anchors/rust-baseline/target/release/conveyor-anchor-rust
[ -x "$RUST_BASELINE" ] || (cd "$work/anchors/rust-baseline" && cargo build --release --locked)

echo "==> conveyor (release)"
cargo build --release --locked -p conveyor-bench -p conveyor-ffi
[ "${DISPATCH:-1}" = 1 ] && cargo bench --locked -p conveyor --bench dispatch --no-run
cc -O2 -std=c11 -Wall -Wextra -I"$root/include" bench/c/bench.c -L"$root/target/release" -lconveyor \
   -Wl,-rpath,"$root/target/release" -lpthread -o "$work/conveyor-c-bench"

cd "$work"
RES=results/$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$RES/out"
{ echo "date: $(date -u)"; echo "host: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)";
  echo "node $(node --version), $("$PY" --version), $(rustc --version), conveyor $(git -C "$root" rev-parse --short HEAD)"; } > "$RES/env.txt"

ROWS=${ROWS:-all}     # e.g. ROWS="conveyor-rust-t2 conveyor-c-t2" for a subset
ROUNDS=${ROUNDS:-2}   # every row is measured once per round; rounds are interleaved
m() {
  case " $ROWS " in *" all "*|*" $1 "*) ;; *) return 0 ;; esac
  # One row; redone (up to 5 tries) if something else used more than max(2 s, 8 %) of its CPU.
  local name=$1; shift
  local dir=$RES/r$round
  mkdir -p "$dir"
  for try in 1 2 3 4 5; do
    echo ">> round $round: $name (try $try)" >&2
    "$PY" measure.py "$dir/$name" -- "$@" --reps "$REPS" --warmup "$WARMUP" --out "$RES/out/r$round/$name" \
      || { echo "!! $name failed, see $dir/$name.log" >&2; return 0; }
    if "$PY" -c "import json,sys; m=json.load(open(sys.argv[1])); sys.exit(0 if m['cpu_s_foreign_incl_sampler'] <= max(2.0, 0.08*m['cpu_s_ours']) else 1)" "$dir/$name.mem.json"; then
      echo "$try" > "$dir/$name.tries"; return 0
    fi
  done
  echo "5 (still contaminated)" > "$dir/$name.tries"
}

if [ "${DISPATCH:-1}" = 1 ]; then
  # Pool dispatch on trivial jobs against a bare crossbeam channel (criterion, same threads).
  echo ">> dispatch (criterion)" >&2
  "$PY" quiet.py >&2 || true
  (cd "$root" && cargo bench --locked -p conveyor --bench dispatch -- --noplot) > "$RES/dispatch.log" 2>&1 \
    || echo "!! dispatch bench failed, see $RES/dispatch.log" >&2
  "$PY" - "$root/target/criterion/dispatch" "$RES/dispatch.json" <<'PYEOF'
import json, os, sys
root, out = sys.argv[1], sys.argv[2]
res = {}
for name in ("raw_crossbeam", "pool_callback", "pool_collected"):
    for w in sorted(os.listdir(os.path.join(root, name))):
        d = os.path.join(root, name, w, "new")
        if not os.path.exists(os.path.join(d, "estimates.json")):
            continue
        jobs = json.load(open(os.path.join(d, "benchmark.json")))["throughput"]["Elements"]
        ns = json.load(open(os.path.join(d, "estimates.json")))["median"]["point_estimate"]
        res[f"{name}/{w}"] = round(jobs / (ns / 1e9))
json.dump(res, open(out, "w"), indent=1)
PYEOF
fi

# Rounds, not one long row after another: a slow spell of the (virtual) machine then
# hits one pass of every row instead of all passes of one row. summarize.py reports
# each row's faster round (and the peak memory of all rounds), the same rule for all.
for round in $(seq 1 "$ROUNDS"); do
  m conveyor-rust-t2   "$root/target/release/conveyor-bench" corpus --threads 2
  m conveyor-rust-t1   "$root/target/release/conveyor-bench" corpus --threads 1
  m conveyor-c-t2      ./conveyor-c-bench corpus --threads 2
  m conveyor-python-t2 env ANCHORS_PY="$work/anchors/py" CONVEYOR_LIB="$root/target/release/libconveyor.so" PYTHONPATH="$root/python" \
                       "$PY" "$root/bench/py/conveyor_bench.py" corpus --threads 2
  m pyvips-t2          "$PY" anchors/py/pyvips_anchor.py corpus --mode thumbnail --threads 2
  m sharp-raw-pool2    node anchors/sharp/sharp_anchor.mjs corpus --pool 2 --shape raw
  m sharp-default      node anchors/sharp/sharp_anchor.mjs corpus --pool 0
  m pillow-draft-p2    "$PY" anchors/py/pillow_anchor.py corpus --mode draft --procs 2
  m rust-crates-t2     "$RUST_BASELINE" corpus --variant fast --threads 2
done

if [ "${BROWSER:-1}" = 1 ]; then
  # The browser row: the npm package (wasm, Web Workers) against browser-image-compression
  # (its Web Worker mode), in headless Chromium, through the shared browser harness with
  # one more tool (bench/browser/conveyor.js). Same 20 JPEG photos, 2 workers.
  echo ">> browser" >&2
  [ -x /usr/bin/chromium ] || { apt-get update -qq && apt-get install -y -qq chromium; }
  bash "$root/wasm/build.sh" >&2
  b=$work/browser
  [ -d "$b/node_modules/playwright-core" ] || (cd "$b" && npm ci --no-audit --no-fund)
  rm -rf "$b/www/conveyor-images" && mkdir -p "$b/www/conveyor-images"
  cp -r "$root/wasm/js" "$root/wasm/pkg" "$b/www/conveyor-images/"
  cp "$root/bench/browser/conveyor.js" "$b/www/tools/conveyor.js"
  # The harness's job list, plus conveyor under the strict CSP (bic cannot run its
  # workers under it, so it runs on the plain page, as in the shared anchors).
  "$PY" - "$b/run.mjs" "$b/run-with-conveyor.mjs" <<'PYEOF'
import sys
s = open(sys.argv[1]).read()
anchor = "const JOBS = ["
assert anchor in s, "the shared browser harness changed: no JOBS list"
s = s.replace(anchor, anchor + "\n  { name: 'conveyor', tool: 'conveyor', mode: 'csp', save: true },", 1)
# Its pass timeouts (setTimeout, never cleared) would keep node alive for 10 minutes.
tail = "main().catch((e) => { console.error(e); process.exit(1); });"
assert tail in s, "the shared browser harness changed: no main() call"
s = s.replace(tail, "main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });")
open(sys.argv[2], "w").write(s)
PYEOF
  (cd "$b" && node run-with-conveyor.mjs --out "$work/$RES/browser" --warmup "$WARMUP" --reps "$REPS" --only conveyor,bic) \
    || echo "!! browser rows failed" >&2
  if [ -d "$RES/browser/out" ]; then
    "$PY" quality.py corpus "$RES"/browser/out/* > "$RES/browser/quality.json" || echo "!! browser quality failed" >&2
  fi
fi

echo ">> quality" >&2
"$PY" quality.py corpus "$RES"/out/r1/* > "$RES/quality.json"
"$PY" "$root/bench/summarize.py" "$RES"
if [ "${COLOUR:-1}" = 1 ]; then
  # The colour-accuracy row (conveyor, sharp, pyvips against LittleCMS), appended.
  (PY="$PY" SHARP_DIR="$work/anchors/sharp" bash "$root/bench/colour/run.sh" "$work/$RES/colour" >&2 \
    && { echo; cat "$RES/colour/colour.md"; } >> "$RES/table.md") || echo "!! colour row failed" >&2
fi
if [ "${AVIF:-1}" = 1 ]; then
  # The AVIF row (conveyor's ravif against sharp's libaom at 1600 px, bytes and encode
  # time at equal SSIM, one thread each), with the byte-budget and smart-crop
  # comparisons that share its run (bench/features/run.sh), appended.
  (SHARP_DIR="$work/anchors/sharp" bash "$root/bench/features/run.sh" "$work/corpus" "$work/$RES/features" >&2 \
    && { echo; cat "$RES/features/summary.md"; } >> "$RES/table.md") || echo "!! AVIF row failed" >&2
fi
[ "${KEEP_OUT:-0}" = 1 ] || rm -rf "$RES/out"
echo "results: $work/$RES"
