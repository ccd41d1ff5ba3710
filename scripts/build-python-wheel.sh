#!/usr/bin/env bash
# Builds a wheel of the Python package that bundles libconveyor.so (release build).
#   scripts/build-python-wheel.sh [OUT_DIR]     (default: target/wheels)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-target/wheels}
cargo build --release --locked -p conveyor-ffi
cp target/release/libconveyor.so python/conveyor/libconveyor.so
python3 -m pip wheel --no-deps --no-build-isolation -w "$out" ./python
rm -f python/conveyor/libconveyor.so
ls "$out"/conveyor_images-*.whl
