#!/usr/bin/env bash
# Runs every test of conveyor:
#   1. the Rust workspace: core, C ABI (C/C++ programs plain, static, valgrind, ASan+UBSan),
#      upload server, batch tool (unit, integration and doc tests);
#   2. the Python package, from the source tree against the fresh debug library, then
#      from a wheel that bundles the release library, in a fresh virtualenv;
#   3. in headless Chromium (playwright-core, Debian's /usr/bin/chromium): the upload
#      page, and the npm package built for wasm32 (no bundler and Vite, strict CSP);
#   4. a short load-test smoke run of the upload server.
# Ends with one line: "summary: N passed, N failed".
# Needs: valgrind, a C/C++ compiler, python3 with venv, Node.js, Chromium (.ci/run
# installs them). CONVEYOR_SKIP_BROWSER=1 skips step 3 and says so.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

log=$(mktemp)
status=0

run() {
    echo "==> $*"
    "$@" 2>&1 | tee -a "$log"
    local rc=${PIPESTATUS[0]}
    if [ "$rc" -ne 0 ]; then status=$rc; echo "FAILED: $*" | tee -a "$log"; fi
}

run_in() {
    local dir=$1
    shift
    pushd "$dir" >/dev/null || return
    run "$@"
    popd >/dev/null || return
}

# 1. Rust. The C library first: `cargo test` does not build a cdylib for integration
#    tests that do not link it, and the C programs and Python load target/debug/libconveyor.so.
run cargo build --locked -p conveyor-ffi
# The cluster tests start nats-server and moto_server (pinned, into target/cluster-venv).
run scripts/install-cluster-tools.sh
run cargo test --workspace --locked --no-fail-fast
# The wasm build's decoders (jpeg-decoder, the entropy check, pure-Rust WebP), run
# natively: on its own, since within --workspace the features unify to the native ones.
run cargo test --locked -p conveyor-wasm --test pure_vectors
# The entropy walk's coefficients against jpeg-decoder's own decode (needs pure-jpeg).
run cargo test --locked -p conveyor --features pure-jpeg --lib jpeg_entropy
# Deferred WebP outputs with the wasm build's own WebP encoder (its fallback's bytes).
run cargo test --locked -p conveyor --no-default-features --features pure-jpeg,pure-webp --test deferred_webp
# core/build.rs: no nasm on x86/x86_64 fails the build with the fix (or the opt-out).
run scripts/test-nasm-check.sh

# 2. Python
venv=$root/target/py-venv
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
run "$venv/bin/pip" install -q --disable-pip-version-check -r python/requirements-test.txt
run_in python env CONVEYOR_LIB="$root/target/debug/libconveyor.so" "$venv/bin/python" -m pytest -q -p no:cacheprovider tests
wheels=$root/target/wheels
rm -rf "$wheels"
PATH="$venv/bin:$PATH" run scripts/build-python-wheel.sh "$wheels"
wheel_venv=$root/target/py-wheel-venv
rm -rf "$wheel_venv"
python3 -m venv "$wheel_venv"
run "$wheel_venv/bin/pip" install -q --disable-pip-version-check -r python/requirements-test.txt "$wheels"/conveyor_images-*.whl
# From tests/, so `import conveyor` finds the installed wheel and its bundled library.
run_in python/tests env -u CONVEYOR_LIB "$wheel_venv/bin/python" -m pytest -q -p no:cacheprovider .

# The C library installed with its pkg-config file, and a program built through it.
cprefix=$root/target/c-prefix
run scripts/install-c.sh "$cprefix"
run bash -c "cc \$(PKG_CONFIG_PATH=$cprefix/lib/pkgconfig pkg-config --cflags conveyor) examples/c/readme.c \
    \$(PKG_CONFIG_PATH=$cprefix/lib/pkgconfig pkg-config --libs conveyor) -Wl,-rpath,$cprefix/lib -o target/readme-pkgconfig \
    && target/readme-pkgconfig testdata/vectors/inputs/photo_640x480.jpg | grep -q 'large jpeg 640x480' && echo 'pkg-config build: ok'"
# The packages as users get them: the wheel on CPython 3.9 and 3.12 (+ mypy), and the
# C library installed with its SONAME links, built against with pkg-config only.
run scripts/test-python-wheel.sh "$wheels"
run scripts/test-c-install.sh

# 3. Browser
if [ "${CONVEYOR_SKIP_BROWSER:-0}" = 1 ]; then
    echo "==> browser tests SKIPPED (CONVEYOR_SKIP_BROWSER=1)"
elif [ ! -x "${CHROMIUM:-/usr/bin/chromium}" ]; then
    echo "==> browser tests need Chromium: apt-get install chromium (or CONVEYOR_SKIP_BROWSER=1)"
    status=1
    echo "; 1 failed" >> "$log"
else
    [ -d examples/upload-server/e2e/node_modules ] || run npm ci --prefix examples/upload-server/e2e --no-audit --no-fund
    run_in examples/upload-server/e2e node --test
    # The npm package: wasm build (wasm-bindgen + wasm-opt), then its browser tests.
    [ -d wasm/node_modules ] || run npm ci --prefix wasm --no-audit --no-fund
    run bash wasm/build.sh
    run_in wasm node --test tests/
    # The npm tarball (prepack builds) installed into a fresh Vite project, in Chromium.
    run scripts/test-npm-package.sh
fi

# 4. Load smoke
run scripts/loadtest.sh 60 8 1200x900 debug

# Summary over cargo, node (TAP) and pytest.
read -r passed failed < <(awk '
    /test result: .*passed/ { match($0, /[0-9]+ passed/); p += substr($0, RSTART, RLENGTH) + 0;
                              match($0, /[0-9]+ failed/); f += substr($0, RSTART, RLENGTH) + 0 }
    /^# pass [0-9]+/ { p += $3 } /^# fail [0-9]+/ { f += $3 }
    /^[=]* *([0-9]+ (passed|failed|skipped|error)[, ]*)+ *in [0-9.]+s/ {
        if (match($0, /[0-9]+ passed/)) p += substr($0, RSTART, RLENGTH) + 0
        if (match($0, /[0-9]+ failed/)) f += substr($0, RSTART, RLENGTH) + 0 }
    /^FAILED: / { f += 0 }
    END { print p + 0, f + 0 }' "$log")
rm -f "$log"
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
echo
echo "summary: ${passed} passed, ${failed} failed"
exit "$status"
