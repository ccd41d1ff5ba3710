#!/usr/bin/env bash
# The side-by-side benchmark, in one run, back to back, on one machine:
#   bash bench/run.sh          (REPS=5 WARMUP=1 by default; ~10-15 min on 2 cores)
# conveyor through the Rust API, the C library and the Python package, against pyvips,
# sharp and Pillow (pinned by the shared anchors' lock files), on the shared real-photo
# corpus, with the shared harness (measure.py: median of REPS passes after WARMUP,
# peak PSS of the process tree; quality.py: SSIM against a no-shrink pyvips reference).
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
(cd "$shared" && tar --exclude=./results --exclude=./corpus --exclude=node_modules --exclude=.venv --exclude=target -cf - .) | (cd "$work" && tar -xf -)
chmod -R u+w "$work"
PY=$work/anchors/py/.venv/bin/python
[ -d "$work/anchors/sharp/node_modules/sharp" ] || (cd "$work/anchors/sharp" && npm ci --no-audit --no-fund)
[ -x "$PY" ] || { python3 -m venv "$work/anchors/py/.venv" && "$PY" -m pip install -q -r "$work/anchors/py/requirements.txt"; }
if [ ! -f "$work/corpus/MANIFEST.txt" ]; then
    apt-get update -qq
    (cd "$work" && "$PY" make_corpus.py)
fi

echo "==> conveyor (release)"
cargo build --release --locked -p conveyor-bench -p conveyor-ffi
cc -O2 -std=c11 -Wall -Wextra -I"$root/include" bench/c/bench.c -L"$root/target/release" -lconveyor \
   -Wl,-rpath,"$root/target/release" -lpthread -o "$work/conveyor-c-bench"

cd "$work"
RES=results/$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$RES/out"
{ echo "date: $(date -u)"; echo "host: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)";
  echo "node $(node --version), $("$PY" --version), $(rustc --version), conveyor $(git -C "$root" rev-parse --short HEAD)"; } > "$RES/env.txt"

ROWS=${ROWS:-all}   # e.g. ROWS="conveyor-rust-t2 conveyor-c-t2" for a subset
m() {
  case " $ROWS " in *" all "*|*" $1 "*) ;; *) return 0 ;; esac
  # One row; redone (up to 5 tries) if something else used more than max(2 s, 8 %) of its CPU.
  local name=$1; shift
  for try in 1 2 3 4 5; do
    echo ">> $name (try $try)" >&2
    "$PY" measure.py "$RES/$name" -- "$@" --reps "$REPS" --warmup "$WARMUP" --out "$RES/out/$name" \
      || { echo "!! $name failed, see $RES/$name.log" >&2; return 0; }
    if "$PY" -c "import json,sys; m=json.load(open(sys.argv[1])); sys.exit(0 if m['cpu_s_foreign_incl_sampler'] <= max(2.0, 0.08*m['cpu_s_ours']) else 1)" "$RES/$name.mem.json"; then
      echo "$try" > "$RES/$name.tries"; return 0
    fi
  done
  echo "5 (still contaminated)" > "$RES/$name.tries"
}

m conveyor-rust-t2   "$root/target/release/conveyor-bench" corpus --threads 2
m conveyor-rust-t1   "$root/target/release/conveyor-bench" corpus --threads 1
m conveyor-c-t2      ./conveyor-c-bench corpus --threads 2
m conveyor-python-t2 env ANCHORS_PY="$work/anchors/py" CONVEYOR_LIB="$root/target/release/libconveyor.so" PYTHONPATH="$root/python" \
                     "$PY" "$root/bench/py/conveyor_bench.py" corpus --threads 2
m pyvips-t2          "$PY" anchors/py/pyvips_anchor.py corpus --mode thumbnail --threads 2
m sharp-raw-pool2    node anchors/sharp/sharp_anchor.mjs corpus --pool 2 --shape raw
m sharp-default      node anchors/sharp/sharp_anchor.mjs corpus --pool 0
m pillow-draft-p2    "$PY" anchors/py/pillow_anchor.py corpus --mode draft --procs 2

echo ">> quality" >&2
"$PY" quality.py corpus "$RES"/out/* > "$RES/quality.json"
"$PY" "$root/bench/summarize.py" "$RES"
[ "${KEEP_OUT:-0}" = 1 ] || rm -rf "$RES/out"
echo "results: $work/$RES"
