#!/usr/bin/env bash
# Runs every test of conveyor: the Rust workspace (unit, integration, doc tests).
# Later front doors (C, Python, browser) add their suites here.
# Ends with one summary line: "summary: N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."

log=$(mktemp)
status=0

run() {
    echo "==> $*"
    "$@" 2>&1 | tee -a "$log"
    local rc=${PIPESTATUS[0]}
    if [ "$rc" -ne 0 ]; then status=$rc; fi
}

run cargo test --workspace --locked

passed=$(grep -oE 'test result: [a-zA-Z]+\. [0-9]+ passed' "$log" | grep -oE '[0-9]+ passed' | awk '{s+=$1} END {print s+0}')
failed=$(grep -oE '; [0-9]+ failed' "$log" | grep -oE '[0-9]+' | awk '{s+=$1} END {print s+0}')
rm -f "$log"
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
echo
echo "summary: ${passed} passed, ${failed} failed"
exit "$status"
