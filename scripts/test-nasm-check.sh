#!/usr/bin/env bash
# Tests core/build.rs, the check that the JPEG codec never silently loses its SIMD:
# the build script is compiled on its own and run the way cargo runs it, with a PATH
# that has no nasm, an outdated fake nasm, or a working fake one.
#   scripts/test-nasm-check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
rustc --edition 2021 -O core/build.rs -o "$scratch/build-script" 2>&1
mkdir -p "$scratch/empty" "$scratch/old" "$scratch/good"
printf '#!/bin/sh\necho "NASM version 0.98.39 compiled on Jan  1 2000"\n' >"$scratch/old/nasm"
printf '#!/bin/sh\necho "NASM version 2.16.01"\n' >"$scratch/good/nasm"
chmod +x "$scratch/old/nasm" "$scratch/good/nasm"
pass=0
fail=0

# run NAME EXPECTED_STATUS EXPECTED_TEXT ENV...
check() {
    local name=$1 want=$2 text=$3
    shift 3
    local got=0
    env -i "$@" "$scratch/build-script" >"$scratch/out" 2>&1 || got=$?
    if [ "$got" = "$want" ] && grep -q -- "$text" "$scratch/out"; then
        pass=$((pass + 1))
        echo "ok: $name"
    else
        fail=$((fail + 1))
        echo "FAILED: $name (status $got, want $want; output below)"
        cat "$scratch/out"
    fi
}

moz=(CARGO_FEATURE_MOZJPEG=1 CARGO_CFG_TARGET_ARCH=x86_64)
check "no nasm: fails with the fix" 1 "apt-get install nasm" "${moz[@]}" PATH="$scratch/empty"
check "no nasm: names brew too" 1 "brew install nasm" "${moz[@]}" PATH="$scratch/empty"
check "no nasm: names the opt-out" 1 "CONVEYOR_ALLOW_NO_SIMD=1" "${moz[@]}" PATH="$scratch/empty"
check "outdated nasm: fails" 1 "too old" "${moz[@]}" PATH="$scratch/old"
check "nasm present: builds" 0 "rerun-if-env-changed=CONVEYOR_ALLOW_NO_SIMD" "${moz[@]}" PATH="$scratch/good"
check "opt-out: builds with a warning" 0 "cargo:warning=.*without SIMD" "${moz[@]}" PATH="$scratch/empty" CONVEYOR_ALLOW_NO_SIMD=1
check "opt-out 0 is not an opt-out" 1 "apt-get install nasm" "${moz[@]}" PATH="$scratch/empty" CONVEYOR_ALLOW_NO_SIMD=0
check "x86 is checked too" 1 "apt-get install nasm" CARGO_FEATURE_MOZJPEG=1 CARGO_CFG_TARGET_ARCH=x86 PATH="$scratch/empty"
check "wasm32 (no mozjpeg there) is not checked" 0 "rerun-if-changed" CARGO_CFG_TARGET_ARCH=wasm32 PATH="$scratch/empty"
check "aarch64 (GNU as, not nasm) is not checked" 0 "rerun-if-changed" CARGO_FEATURE_MOZJPEG=1 CARGO_CFG_TARGET_ARCH=aarch64 PATH="$scratch/empty"
check "without the mozjpeg feature nothing is checked" 0 "rerun-if-changed" CARGO_CFG_TARGET_ARCH=x86_64 PATH="$scratch/empty"
echo "nasm check: $pass passed, $fail failed"
[ "$fail" = 0 ]
