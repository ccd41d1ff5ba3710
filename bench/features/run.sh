#!/usr/bin/env bash
# The feature comparisons (README "Byte budgets, smart crops, ..."): conveyor's byte
# budget against imgproxy's rule, its smart crops against sharp's, its AVIF against
# sharp's. Usage:
#   bash bench/features/run.sh [corpus dir] [results dir]
# The corpus defaults to bench/run.sh's (target/bench/corpus); sharp comes from the
# shared anchors' lock file (target/bench/anchors/sharp, installed by bench/run.sh, or
# SHARP_DIR=<a folder whose node_modules has sharp>). FEATURES_BENCH_LIMIT=n uses the
# first n files only. Writes budget.json, crops.json, avif.json, sharp.json and
# summary.md into the results dir.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
corpus=${1:-$root/target/bench/corpus}
res=${2:-$root/target/bench/features/$(date -u +%Y%m%dT%H%M%SZ)}
export SHARP_DIR=${SHARP_DIR:-$root/target/bench/anchors/sharp}
mkdir -p "$res"
cargo run --release --locked -p conveyor --example features_bench -- "$corpus" "$res" | tee "$res/budget.txt"
node bench/features/sharp_side.mjs "$corpus" "$res"
python3 bench/features/summarize.py "$res" | tee "$res/summary.md"
