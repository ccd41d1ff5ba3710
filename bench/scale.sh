#!/usr/bin/env bash
# How conveyor's Rust API scales with workers, on the standard upload workload:
#   bash bench/scale.sh   (THREADS="1 2 4 ..." up to nproc by default; COPIES=8; REPS=3)
# Each pass processes COPIES copies of the shared corpus (25 images each), so that the
# end of a pass (workers idle while the last, largest images finish) weighs little even
# at 16 workers. Needs the corpus that bench/run.sh fetches (target/bench/corpus).
# Prints images/s per worker count (median of REPS passes after one warm-up pass), the
# speed-up over 1 worker and the CPU time per image; writes
# target/bench/results/scale-<UTC time>/scale.jsonl and scale.md.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
corpus=$root/target/bench/corpus
[ -f "$corpus/MANIFEST.txt" ] || { echo "no corpus at $corpus: run bash bench/run.sh first" >&2; exit 2; }
n=$(nproc)
if [ -z "${THREADS:-}" ]; then
  THREADS=1; t=2; while [ "$t" -le "$n" ]; do THREADS="$THREADS $t"; t=$((t * 2)); done
  [ "$((t / 2))" -eq "$n" ] || THREADS="$THREADS $n"
fi
COPIES=${COPIES:-8} REPS=${REPS:-3}

cargo build --release --locked -p conveyor-bench
res=$root/target/bench/results/scale-$(date -u +%Y%m%dT%H%M%SZ)
work=$res/corpus
mkdir -p "$work"
for i in $(seq 1 "$COPIES"); do
  for f in "$corpus"/*.jpg "$corpus"/*.png; do ln -s "$f" "$work/$i-$(basename "$f")"; done
done
for t in $THREADS; do
  echo ">> $t workers" >&2
  /usr/bin/time -f "%U %S" -o "$res/time-$t.txt" \
    "$root/target/release/conveyor-bench" "$work" --threads "$t" --reps "$REPS" --warmup 1 >> "$res/scale.jsonl"
  cpu=$(awk '{print $1 + $2}' "$res/time-$t.txt")
  sed -i "\$s/}\$/,\"cpu_s\":$cpu}/" "$res/scale.jsonl"
done
python3 - "$res" "$REPS" <<'PYEOF'
import json, sys
res, reps = sys.argv[1], int(sys.argv[2])
rows = [json.loads(l) for l in open(f"{res}/scale.jsonl")]
base = rows[0]["ips_median"]
lines = ["| workers | images/s | × 1 worker | CPU ms per image |", "|---|---|---|---|"]
for r in rows:
    per_image = r["cpu_s"] / (r["images"] * (reps + 1)) * 1e3
    lines.append(f"| {r['threads']} | {r['ips_median']:.1f} | {r['ips_median'] / base:.2f} | {per_image:.0f} |")
open(f"{res}/scale.md", "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PYEOF
rm -rf "$work"
echo "results: $res"
