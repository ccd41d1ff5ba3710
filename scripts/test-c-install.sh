#!/usr/bin/env bash
# Tests the installed C library as a user gets it (scripts/install-c.sh):
#   1. into a scratch prefix: the versioned file, the SONAME links, the pkg-config file,
#      the printed PKG_CONFIG_PATH / rpath notes, and examples/c/readme.c built with
#      them records NEEDED libconveyor.so.<soversion> and runs;
#   2. as root, into /usr/local: readme.c built with nothing but
#      `cc $(pkg-config --cflags conveyor) readme.c $(pkg-config --libs conveyor)` runs
#      with no environment at all; then the files are removed again. Skipped (and said
#      so) when not root, when /usr/local already has a libconveyor, or with
#      CONVEYOR_SKIP_SYSTEM_INSTALL=1.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
photo=$root/testdata/vectors/inputs/photo_640x480.jpg
scratch=$(mktemp -d)
cleanup_system=()
cleanup() {
    rm -rf "$scratch"
    if [ ${#cleanup_system[@]} -gt 0 ]; then
        rm -f "${cleanup_system[@]}"
        ldconfig 2>/dev/null || true
    fi
}
trap cleanup EXIT

version=$(sed -n 's/^#define CONVEYOR_VERSION "\(.*\)"$/\1/p' include/conveyor.h)
major=${version%%.*}
minor=${version#*.}
minor=${minor%%.*}
if [ "$major" = 0 ]; then soversion=0.$minor; else soversion=$major; fi

echo "==> install into a scratch prefix"
prefix=$scratch/prefix
scripts/install-c.sh "$prefix" | tee "$scratch/install.log"
lib=$prefix/lib
test -f "$lib/libconveyor.so.$version"
[ "$(readlink "$lib/libconveyor.so.$soversion")" = "libconveyor.so.$version" ]
[ "$(readlink "$lib/libconveyor.so")" = "libconveyor.so.$soversion" ]
test -f "$lib/libconveyor.a" && test -f "$prefix/include/conveyor.h"
objdump -p "$lib/libconveyor.so.$version" | grep "SONAME *libconveyor.so.$soversion" >/dev/null
grep -q "PKG_CONFIG_PATH=$lib/pkgconfig" "$scratch/install.log"
grep -q -- "-Wl,-rpath,$lib" "$scratch/install.log"
export PKG_CONFIG_PATH=$lib/pkgconfig
[ "$(pkg-config --modversion conveyor)" = "$version" ]
# shellcheck disable=SC2046
cc $(pkg-config --cflags conveyor) examples/c/readme.c $(pkg-config --libs conveyor) \
    -Wl,-rpath,"$lib" -o "$scratch/readme"
unset PKG_CONFIG_PATH
readelf -d "$scratch/readme" | grep "NEEDED.*\[libconveyor.so.$soversion\]" >/dev/null
"$scratch/readme" "$photo" | grep 'large jpeg 640x480' >/dev/null
echo "scratch prefix: ok"

echo "==> install into /usr/local, build with pkg-config only"
if [ "${CONVEYOR_SKIP_SYSTEM_INSTALL:-0}" = 1 ]; then
    echo "SKIPPED (CONVEYOR_SKIP_SYSTEM_INSTALL=1)"
elif [ "$(id -u)" != 0 ]; then
    echo "SKIPPED (needs root)"
elif ls /usr/local/lib/libconveyor.* /usr/local/include/conveyor.h /usr/local/lib/pkgconfig/conveyor.pc >/dev/null 2>&1; then
    echo "SKIPPED (/usr/local already has a conveyor installed; not touching it)"
else
    cleanup_system=(/usr/local/lib/libconveyor.so.$version /usr/local/lib/libconveyor.so.$soversion
        /usr/local/lib/libconveyor.so /usr/local/lib/libconveyor.a /usr/local/include/conveyor.h
        /usr/local/lib/pkgconfig/conveyor.pc)
    scripts/install-c.sh | tee "$scratch/system.log"
    if grep -q '^note:' "$scratch/system.log"; then
        echo "FAIL: the default install printed setup notes" >&2
        exit 1
    fi
    (
        cd "$scratch"
        env -u PKG_CONFIG_PATH -u LD_LIBRARY_PATH -u LIBRARY_PATH -u C_INCLUDE_PATH bash -c \
            'cc $(pkg-config --cflags conveyor) "$0" $(pkg-config --libs conveyor) -o readme-system' \
            "$root/examples/c/readme.c"
        env -i ./readme-system "$photo" | grep 'large jpeg 640x480' >/dev/null
    )
    echo "system prefix: ok"
fi
echo "c install: ok"
