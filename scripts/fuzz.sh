#!/usr/bin/env bash
# Runs the cargo-fuzz targets in fuzz/, one after the other, each for a given time.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     (default: 600 s, all targets)
#   scripts/fuzz.sh cmin TARGET                          minimise fuzz/corpus/TARGET
#   scripts/fuzz.sh seeds                                regenerate testdata/fuzz/seeds
#
# Targets: pipeline (bytes -> pipeline::run, fixed two-output recipe), recipe (recipe
# and pool-config JSON, valid recipes run on fixed images), ffi_submit (the C ABI submit
# path in-process, `recipe NUL image`).
#
# Each target runs as ONE libFuzzer process under `nice -n 19` (the machine is shared;
# FUZZ_NICE=N for another level, e.g. 0 to measure a CPU-hour on a quiet machine),
# in fork mode with one child (-fork=1) so that a crash, timeout or OOM is saved and the
# run goes on. The working corpus is fuzz/corpus/TARGET (seeded from testdata/fuzz/
# seeds and corpus), crashes land in fuzz/artifacts/TARGET/, logs in fuzz/logs/.
# The last status line of each log has the executions and libFuzzer's `cov:`/`ft:`.
# Set FUZZ_FORK=0 for a plain run that stops at the first crash.
#
# Needs the nightly toolchain and cargo-fuzz 0.13.1 (installed here if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
fuzz=$root/fuzz
targets_all=(pipeline recipe ffi_submit)
cargo_fuzz_version=0.13.1

ensure_tools() {
    rustup toolchain list | grep '^nightly' >/dev/null || {
        echo "a nightly toolchain is needed: rustup toolchain install nightly" >&2
        exit 1
    }
    if ! cargo fuzz --version 2>/dev/null | grep " $cargo_fuzz_version" >/dev/null; then
        cargo install cargo-fuzz --version "$cargo_fuzz_version" --locked
    fi
}

dict_for() {
    case $1 in
        recipe) echo "$fuzz/dict/recipe.dict" ;;
        *) echo "$fuzz/dict/image.dict" ;;
    esac
}

max_len_for() {
    case $1 in
        recipe) echo 4096 ;;
        *) echo 16384 ;;
    esac
}

seed_corpus() {
    local t=$1
    mkdir -p "$fuzz/corpus/$t" "$fuzz/artifacts/$t" "$fuzz/logs"
    # Not regressions/: those crash or exhaust memory on purpose (replayed by the tests).
    for d in seeds corpus; do
        if [ -d "$root/testdata/fuzz/$d/$t" ]; then
            find "$root/testdata/fuzz/$d/$t" -maxdepth 1 -type f ! -name '*.md' \
                -exec cp -n {} "$fuzz/corpus/$t/" \;
        fi
    done
}

run_target() {
    local t=$1 secs=$2
    seed_corpus "$t"
    local log
    log=$fuzz/logs/$t-$(date -u +%Y%m%dT%H%M%SZ).log
    local mode=(-fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1)
    [ "${FUZZ_FORK:-1}" = 0 ] && mode=()
    echo "==> $t for ${secs}s, log $log"
    local start=$SECONDS
    set +e
    (cd "$fuzz" && nice -n "${FUZZ_NICE:-19}" cargo +nightly fuzz run -O -a "$t" "corpus/$t" -- \
        "${mode[@]}" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
        -max_len="$(max_len_for "$t")" -dict="$(dict_for "$t")" \
        -artifact_prefix="artifacts/$t/" -print_final_stats=1) >"$log" 2>&1
    local rc=$?
    set -e
    echo "    exit $rc after $((SECONDS - start))s"
    grep -E '^#[0-9]+' "$log" | tail -1 | sed 's/^/    /' || true
    grep -E 'stat::number_of_executed_units|stat::peak_rss_mb' "$log" | sed 's/^/    /' || true
    ls "$fuzz/artifacts/$t" | sed 's/^/    artifact: /' || true
}

case ${1:-} in
    seeds)
        venv=$root/target/fuzz-venv
        [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
        "$venv/bin/pip" install -q --disable-pip-version-check 'pillow==12.0.0'
        "$venv/bin/python" scripts/fuzz-seeds.py
        ;;
    cmin)
        ensure_tools
        t=${2:?usage: scripts/fuzz.sh cmin TARGET}
        (cd "$fuzz" && nice -n "${FUZZ_NICE:-19}" cargo +nightly fuzz cmin -O -a "$t" "corpus/$t" -- \
            -max_len="$(max_len_for "$t")" -timeout=10 -rss_limit_mb=2048)
        ;;
    *)
        secs=${1:-600}
        shift || true
        targets=("$@")
        [ ${#targets[@]} -gt 0 ] || targets=("${targets_all[@]}")
        ensure_tools
        (cd "$fuzz" && cargo +nightly fuzz build -O -a)
        for t in "${targets[@]}"; do
            run_target "$t" "$secs"
        done
        ;;
esac
