#!/usr/bin/env bash
# Latency of one upload on an idle pool (issue 16): conveyor's Rust API with 2 workers
# (`conveyor-bench --one`; idle workers help the lone job) against pyvips with 2 threads
# (VIPS_CONCURRENCY=2, the shared anchor's thumbnail recipe), one file at a time, the
# standard upload workload. Rounds interleave the two; each prints the median (p50) of
# REPS runs after WARMUP. Needs bench/run.sh's harness under target/bench (run that once).
#   bash bench/latency.sh [FILE...]   (default: the corpus's 10-20 MP JPEGs)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
work=$root/target/bench
PY=$work/anchors/py/.venv/bin/python
[ -x "$PY" ] || { echo "run bash bench/run.sh once first (it installs pyvips and the corpus)" >&2; exit 1; }
REPS=${REPS:-21} WARMUP=${WARMUP:-2} ROUNDS=${ROUNDS:-2}
cargo build --release --locked -p conveyor-bench >&2
files=("$@")
[ ${#files[@]} -gt 0 ] || files=("$work"/corpus/{sunset_by_Aitzol_Berasategi,Dragonfly_by_Bolly,Bridge_by_Sander_Klootwijk,Kleiber_by_Lukas_Baubkus}.jpg)
echo "# $(date -u), $(nproc) cores,$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2), conveyor $(git rev-parse --short HEAD)"
for round in $(seq 1 "$ROUNDS"); do
  for f in "${files[@]}"; do
    c=$("$root/target/release/conveyor-bench" --one "$f" --threads 2 --reps "$REPS" --warmup "$WARMUP")
    v=$(VIPS_CONCURRENCY=2 ANCHORS_PY="$work/anchors/py" "$PY" "$root/bench/py/pyvips_latency.py" "$f" "$REPS" "$WARMUP")
    "$PY" - "$round" "$c" "$v" <<'PYEOF'
import json, os, sys
c, v = json.loads(sys.argv[2]), json.loads(sys.argv[3])
print(f"round {sys.argv[1]}  {os.path.basename(c['file']):40s} conveyor p50 {c['p50_ms']:7.1f} ms "
      f"(decode {c['decode_p50_ms']:.1f}, resize {c['resize_p50_ms']:.1f}, encode {c['encode_p50_ms']:.1f})  "
      f"pyvips p50 {v['p50_ms']:7.1f} ms  conveyor/pyvips {c['p50_ms'] / v['p50_ms']:.2f}")
PYEOF
  done
done
