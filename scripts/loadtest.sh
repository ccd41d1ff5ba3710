#!/usr/bin/env bash
# Load test of the upload server on loopback: a fixed number of concurrent uploads
# from upload-loadgen, then the server's peak RSS. Stops by itself.
#   scripts/loadtest.sh [COUNT] [CONCURRENCY] [SIZE] [PROFILE]
# e.g. scripts/loadtest.sh 400 16 3000x2000 release
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-400}; conc=${2:-16}; size=${3:-3000x2000}; profile=${4:-release}
flag=""; [ "$profile" = release ] && flag="--release"
cargo build -q --locked $flag -p conveyor-upload-server
bin=target/$profile
out=$(mktemp -d)
"$bin/upload-server" --bind 127.0.0.1:0 --output-dir "$out/uploads" > "$out/server.out" 2> "$out/server.err" &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -rf "$out"' EXIT
for _ in $(seq 100); do grep -q listening "$out/server.out" 2>/dev/null && break; sleep 0.1; done
url="$(sed -n 's/^listening on //p' "$out/server.out")/uploads"
"$bin/upload-loadgen" --url "$url" --synthetic "$size" --count "$count" --concurrency "$conc"
echo "server peak RSS: $(awk '/VmHWM/ {printf "%.1f MiB", $2/1024}' /proc/$pid/status)"
kill -TERM $pid; wait $pid; echo "server exit status: $?"
