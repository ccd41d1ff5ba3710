#!/usr/bin/env bash
# Builds the npm package's wasm: cargo (wasm32-unknown-unknown, release) → wasm-bindgen
# (--target web) → wasm-opt -O3 (npm binaryen, pinned). Output in wasm/pkg/ (not committed).
# Installs a wasm-bindgen-cli of exactly the version in Cargo.lock into target/tools if
# missing (see ../shared TOOLCHAIN notes: its published lockfile pins a webpki-roots
# release the registry may not serve; we then pin the newest served one and build it).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
cd "$root"
ver=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/"/, "", $3); print $3 }' Cargo.lock)
tools=$root/target/tools
bindgen=$tools/bin/wasm-bindgen
if ! "$bindgen" --version 2>/dev/null | grep -q " $ver\$"; then
    echo "==> installing wasm-bindgen-cli $ver"
    rustup target add wasm32-unknown-unknown >/dev/null
    if ! cargo install wasm-bindgen-cli --version "$ver" --locked --root "$tools"; then
        src=$(ls -d "$HOME"/.cargo/registry/src/*/wasm-bindgen-cli-"$ver" | head -1)
        work=$(mktemp -d)
        cp -r "$src"/. "$work"
        (cd "$work" && cargo update -p webpki-roots --precise 1.0.10 && cargo install --path . --locked --root "$tools")
        rm -rf "$work"
    fi
fi
"$bindgen" --version
[ -x "$here/node_modules/.bin/wasm-opt" ] || npm ci --prefix "$here" --no-audit --no-fund
# simd128 (every current browser: Chrome 91, Firefox 89, Safari 16.4 and later, as
# wasm-vips requires too): jpeg-decoder's IDCT and colour conversion and
# fast_image_resize's convolutions have simd128 paths chosen at compile time.
RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+simd128" \
    cargo build --release --locked --target wasm32-unknown-unknown -p conveyor-wasm
raw=target/wasm32-unknown-unknown/release/conveyor_wasm.wasm
rm -rf "$here/pkg"
"$bindgen" --target web --out-dir "$here/pkg" "$raw"
"$here/node_modules/.bin/wasm-opt" -O3 --enable-simd --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
    --enable-mutable-globals "$here/pkg/conveyor_wasm_bg.wasm" -o "$here/pkg/conveyor_wasm_bg.wasm"
size=$(stat -c %s "$here/pkg/conveyor_wasm_bg.wasm")
gz=$(gzip -9 -c "$here/pkg/conveyor_wasm_bg.wasm" | wc -c)
echo "conveyor_wasm_bg.wasm after wasm-opt: $size bytes raw, $gz bytes gzipped (before: $(stat -c %s "$raw") bytes)"
