#!/usr/bin/env bash
# Builds the C library in release mode and installs it under PREFIX (default
# /usr/local), the way cargo-c's `cargo cinstall` would, with plain cargo and the
# committed cbindgen header:
#   lib/libconveyor.so.X.Y.Z       the library, SONAME libconveyor.so.<soversion>
#   lib/libconveyor.so.<soversion> -> libconveyor.so.X.Y.Z   (what programs load)
#   lib/libconveyor.so             -> libconveyor.so.<soversion>   (what -lconveyor finds)
#   lib/libconveyor.a, include/conveyor.h, lib/pkgconfig/conveyor.pc
#
#   scripts/install-c.sh [PREFIX]          (DESTDIR=/staging is honoured, for packagers)
#   cc $(pkg-config --cflags conveyor) app.c $(pkg-config --libs conveyor)
#
# With the default prefix, run as root, this works out of the box: /usr/local/lib is on
# pkg-config's and the dynamic loader's search paths, and ldconfig is run. For any other
# prefix the script prints the two settings a build then needs (PKG_CONFIG_PATH, and an
# rpath or LD_LIBRARY_PATH).
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=${1:-/usr/local}
case "$prefix" in /*) ;; *) prefix=$(pwd)/$prefix ;; esac
prefix=${prefix%/}
destdir=${DESTDIR:-}
libdir=$prefix/lib

cargo build --release --locked -p conveyor-ffi
version=$(sed -n 's/^#define CONVEYOR_VERSION "\(.*\)"$/\1/p' include/conveyor.h)
major=${version%%.*}
minor=${version#*.}
minor=${minor%%.*}
if [ "$major" = 0 ]; then soversion=0.$minor; else soversion=$major; fi
soname=$(objdump -p target/release/libconveyor.so | awk '$1 == "SONAME" { print $2 }')
if [ "$soname" != "libconveyor.so.$soversion" ]; then
    echo "install-c.sh: target/release/libconveyor.so has SONAME '$soname', expected libconveyor.so.$soversion" >&2
    exit 1
fi

install -d "$destdir$libdir/pkgconfig" "$destdir$prefix/include"
install -m 0755 target/release/libconveyor.so "$destdir$libdir/libconveyor.so.$version"
ln -sfn "libconveyor.so.$version" "$destdir$libdir/libconveyor.so.$soversion"
ln -sfn "libconveyor.so.$soversion" "$destdir$libdir/libconveyor.so"
install -m 0644 target/release/libconveyor.a "$destdir$libdir/libconveyor.a"
install -m 0644 include/conveyor.h "$destdir$prefix/include/conveyor.h"
sed -e "s|@PREFIX@|$prefix|" -e "s|@VERSION@|$version|" ffi/conveyor.pc.in > "$destdir$libdir/pkgconfig/conveyor.pc"
chmod 0644 "$destdir$libdir/pkgconfig/conveyor.pc"
echo "installed conveyor $version (SONAME $soname) under $destdir$prefix"
[ -z "$destdir" ] || exit 0

# The loader finds the library by its SONAME through ld.so.cache: refresh it when the
# library directory is one the loader knows. (grep reads the files itself: piping cat
# into `grep -q` under pipefail fails at random when grep exits first.)
if [ "$(id -u)" = 0 ] && command -v ldconfig >/dev/null 2>&1 \
    && grep -qxs -- "$libdir" /etc/ld.so.conf /etc/ld.so.conf.d/*.conf; then
    ldconfig
    in_loader=yes
elif [ "$libdir" = /usr/lib ] || [ "$libdir" = /lib ]; then
    in_loader=yes
else
    in_loader=no
fi
pc_path=$(pkg-config --variable pc_path pkg-config 2>/dev/null || true)
case ":$pc_path:" in
    *":$libdir/pkgconfig:"*) ;;
    *) echo "note: $libdir/pkgconfig is not on pkg-config's default path; build with"
       echo "  export PKG_CONFIG_PATH=$libdir/pkgconfig\${PKG_CONFIG_PATH:+:\$PKG_CONFIG_PATH}" ;;
esac
if [ "$in_loader" = no ]; then
    echo "note: $libdir is not on the dynamic loader's path; link programs with"
    echo "  -Wl,-rpath,$libdir    (or run them with LD_LIBRARY_PATH=$libdir)"
fi
