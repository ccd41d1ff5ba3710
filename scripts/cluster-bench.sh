#!/usr/bin/env bash
# Measures the cluster path against the in-process pool on the same corpus, with the
# upload load generator (synchronous uploads, so latency is upload to answer):
#   embedded    upload-server with W pool threads (W = 1, then 2)
#   cluster-1   upload-server --nats + 1 conveyor-worker process with W=1 ... etc.
# Usage: scripts/cluster-bench.sh [debug|release] [total] [concurrency]
# Needs scripts/install-cluster-tools.sh and the binaries built in that profile:
#   cargo build [--release] -p conveyor-upload-server -p conveyor-cluster
set -euo pipefail
cd "$(dirname "$0")/.."
profile=${1:-release}
total=${2:-300}
conc=${3:-8}
bin=target/$profile
img=testdata/vectors/inputs/photo_640x480.jpg
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT
port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
wait_line() { for _ in $(seq 300); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done; echo "timeout: $1" >&2; exit 1; }
load() { "$bin/upload-loadgen" --url "$1/uploads" --file "$img" --count "$total" --concurrency "$conc" --json; }

echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores, profile $profile, $total uploads of $(basename $img), $conc in flight"
for w in 1 2; do
    "$bin/upload-server" --bind 127.0.0.1:0 --workers "$w" --queue-capacity 16 --output-dir "$tmp/emb$w" >"$tmp/emb$w.out" 2>/dev/null &
    pids+=($!)
    wait_line "$tmp/emb$w.out" listening
    url=$(grep -o 'http://[0-9.:]*' "$tmp/emb$w.out")
    echo "embedded, $w pool thread(s): $(load "$url")"
    kill "${pids[-1]}"
done
np=$(port)
target/cluster-venv/bin/nats-server -js -a 127.0.0.1 -p "$np" -sd "$tmp/js" >/dev/null 2>&1 &
pids+=($!)
sleep 1
nats=nats://127.0.0.1:$np
store=file://$tmp/store
"$bin/upload-server" --bind 127.0.0.1:0 --nats "$nats" --store "$store" >"$tmp/srv.out" 2>/dev/null &
pids+=($!)
wait_line "$tmp/srv.out" listening
url=$(grep -o 'http://[0-9.:]*' "$tmp/srv.out")
for n in 1 2; do
    RUST_LOG=warn "$bin/conveyor-worker" --nats "$nats" --store "$store" --workers 1 --name "w$n" >"$tmp/w$n.out" 2>/dev/null &
    pids+=($!)
    wait_line "$tmp/w$n.out" "worker ready"
    echo "cluster, $n worker process(es) x 1 thread: $(load "$url")"
done
