#!/usr/bin/env bash
# Runs every test of conveyor:
#   1. the Rust workspace (unit, integration and doc tests: core, upload server, batch tool);
#   2. the upload page in headless Chromium (playwright-core, Debian's /usr/bin/chromium);
#   3. a short load-test smoke run of the upload server.
# Ends with one summary line: "summary: N passed, N failed".
# Needs Chromium (`apt-get install chromium`); CONVEYOR_SKIP_BROWSER=1 skips step 2 and says so.
set -uo pipefail
cd "$(dirname "$0")/.."

log=$(mktemp)
status=0

run() {
    echo "==> $*"
    "$@" 2>&1 | tee -a "$log"
    local rc=${PIPESTATUS[0]}
    if [ "$rc" -ne 0 ]; then status=$rc; echo "FAILED: $*" | tee -a "$log"; fi
}

run cargo test --workspace --locked

if [ "${CONVEYOR_SKIP_BROWSER:-0}" = 1 ]; then
    echo "==> browser tests SKIPPED (CONVEYOR_SKIP_BROWSER=1)"
elif [ ! -x "${CHROMIUM:-/usr/bin/chromium}" ]; then
    echo "==> browser tests need Chromium: apt-get install chromium (or CONVEYOR_SKIP_BROWSER=1)"
    status=1
    echo "; 1 failed" >> "$log"
else
    [ -d examples/upload-server/e2e/node_modules ] || run npm ci --prefix examples/upload-server/e2e --no-audit --no-fund
    run cargo build --locked -p conveyor-upload-server
    (cd examples/upload-server/e2e && run node --test)
fi

run scripts/loadtest.sh 60 8 1200x900 debug

passed=$(grep -oE 'test result: [a-zA-Z]+\. [0-9]+ passed' "$log" | grep -oE '[0-9]+ passed' | awk '{s+=$1} END {print s+0}')
failed=$(grep -oE '; [0-9]+ failed' "$log" | grep -oE '[0-9]+' | awk '{s+=$1} END {print s+0}')
tap_pass=$(grep -E '^# pass [0-9]+' "$log" | awk '{s+=$3} END {print s+0}')
tap_fail=$(grep -E '^# fail [0-9]+' "$log" | awk '{s+=$3} END {print s+0}')
passed=$((passed + tap_pass)); failed=$((failed + tap_fail))
rm -f "$log"
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
echo
echo "summary: ${passed} passed, ${failed} failed"
exit "$status"
