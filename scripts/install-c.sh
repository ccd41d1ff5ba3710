#!/usr/bin/env bash
# Builds the C library in release mode and installs it under PREFIX (default
# /usr/local): lib/libconveyor.so, lib/libconveyor.a, include/conveyor.h and
# lib/pkgconfig/conveyor.pc. This plays the part of cargo-c's `cargo cinstall`, with
# plain cargo and the committed cbindgen header.
#   scripts/install-c.sh [PREFIX]
#   cc $(pkg-config --cflags conveyor) app.c $(pkg-config --libs conveyor)
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=$(mkdir -p "${1:-/usr/local}" && cd "${1:-/usr/local}" && pwd)
cargo build --release --locked -p conveyor-ffi
version=$(sed -n 's/^#define CONVEYOR_VERSION "\(.*\)"$/\1/p' include/conveyor.h)
install -d "$prefix/lib/pkgconfig" "$prefix/include"
install -m 0755 target/release/libconveyor.so "$prefix/lib/libconveyor.so"
install -m 0644 target/release/libconveyor.a "$prefix/lib/libconveyor.a"
install -m 0644 include/conveyor.h "$prefix/include/conveyor.h"
sed -e "s|@PREFIX@|$prefix|" -e "s|@VERSION@|$version|" ffi/conveyor.pc.in > "$prefix/lib/pkgconfig/conveyor.pc"
echo "installed conveyor $version under $prefix"
