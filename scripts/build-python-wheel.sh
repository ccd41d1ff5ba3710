#!/usr/bin/env bash
# Builds the Python wheel that bundles libconveyor.so (release build):
#   scripts/build-python-wheel.sh [OUT_DIR]     (default: target/wheels)
#
# The package is pure Python (ctypes), so the wheel is tagged py3-none-<platform> and
# installs on every CPython 3.9+; the platform is manylinux_2_<N>_x86_64, where 2.N is
# the newest glibc symbol version the library needs (objdump -T), at least 2.17.
# The package is staged with the library under target/python-wheel/ (the source tree
# is never written to), and built by pip in an isolated build environment with the
# setuptools pinned in python/pyproject.toml, so the system Python's setuptools and
# wheel do not matter. Needs python3 with pip (python3-venv on Debian) and objdump.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
out=${1:-target/wheels}
mkdir -p "$out"
out=$(cd "$out" && pwd)
python=${PYTHON:-python3}

cargo build --release --locked -p conveyor-ffi
lib=target/release/libconveyor.so

arch=$(uname -m)
if [ "$(uname -s)" != Linux ] || [ "$arch" != x86_64 ]; then
    echo "build-python-wheel.sh: only Linux x86_64 wheels are built here (this is $(uname -s) $arch)" >&2
    exit 1
fi
# The newest GLIBC_2.N the library needs decides the manylinux tag (PEP 600).
glibc_minor=$(objdump -T "$lib" | grep -o 'GLIBC_2\.[0-9]*' | sed 's/GLIBC_2\.//' | sort -n | tail -1)
glibc_minor=${glibc_minor:-17}
[ "$glibc_minor" -ge 17 ] || glibc_minor=17
platform=manylinux_2_${glibc_minor}_${arch}

stage=$root/target/python-wheel/src
rm -rf "$stage"
mkdir -p "$stage/conveyor"
cp python/pyproject.toml python/setup.py LICENSE-MIT LICENSE-APACHE "$stage/"
cp python/conveyor/*.py python/conveyor/py.typed "$stage/conveyor/"
cp "$lib" "$stage/conveyor/libconveyor.so"
strip --strip-unneeded "$stage/conveyor/libconveyor.so" 2>/dev/null || true

# pip builds in an isolated environment (no --no-build-isolation): it installs the
# pinned build backend itself. A private venv gives a pip recent enough for that.
venv=$root/target/python-wheel/venv
if [ ! -x "$venv/bin/pip" ]; then
    "$python" -m venv "$venv"
fi
rm -f "$out"/conveyor_images-*.whl
CONVEYOR_WHEEL_PLATFORM=$platform "$venv/bin/python" -m pip wheel -q --disable-pip-version-check \
    --no-deps -w "$out" "$stage"
ls "$out"/conveyor_images-*-py3-none-"$platform".whl
