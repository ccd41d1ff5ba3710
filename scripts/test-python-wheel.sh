#!/usr/bin/env bash
# Tests the Python wheel as a user gets it:
#   scripts/test-python-wheel.sh [WHEEL_DIR]
# Builds it (scripts/build-python-wheel.sh) unless WHEEL_DIR already holds one, checks
# its tag (py3-none-manylinux_*_x86_64), its contents (the library, py.typed, both
# licenses) and that the source tree gained no library, then installs it into a fresh
# venv of each CPython in $CONVEYOR_WHEEL_PYTHONS (default: pyenv's newest 3.9 and
# 3.12) and runs the package's tests there, from outside the source tree; on the
# newest, mypy --strict checks python/tests/typing_usage.py against the installed wheel
# and auditwheel checks the manylinux tag.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
wheels=${1:-$root/target/wheels}

if ! ls "$wheels"/conveyor_images-*.whl >/dev/null 2>&1; then
    scripts/build-python-wheel.sh "$wheels"
fi
wheel=$(ls "$wheels"/conveyor_images-*.whl | head -1)
echo "wheel: $(basename "$wheel")"
case "$(basename "$wheel")" in
    conveyor_images-*-py3-none-manylinux_2_*_x86_64.whl) ;;
    *) echo "FAIL: the wheel is not tagged py3-none-manylinux_2_*_x86_64" >&2; exit 1 ;;
esac
if [ -e python/conveyor/libconveyor.so ] || [ -d python/build ] || ls -d python/*.egg-info >/dev/null 2>&1; then
    echo "FAIL: the wheel build left files in python/ (libconveyor.so, build/ or *.egg-info)" >&2
    exit 1
fi
python3 - "$wheel" <<'EOF'
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
need = ["conveyor/__init__.py", "conveyor/libconveyor.so", "conveyor/py.typed"]
missing = [n for n in need if n not in names]
for lic in ("LICENSE-MIT", "LICENSE-APACHE"):
    if not any(n.endswith(lic) and ".dist-info/" in n for n in names):
        missing.append(lic)
if missing:
    sys.exit(f"FAIL: the wheel lacks {missing}")
print("wheel contents: ok")
EOF

mypy_version=2.4.1
auditwheel_version=6.8.2
pythons=${CONVEYOR_WHEEL_PYTHONS:-}
if [ -z "$pythons" ]; then
    pyroot=${PYENV_ROOT:-$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")}
    for v in 3.9 3.12; do
        p=$(ls -d "$pyroot"/versions/"$v".*/bin/python3 2>/dev/null | sort -V | tail -1)
        if [ -z "$p" ]; then
            echo "FAIL: no CPython $v under $pyroot/versions (set CONVEYOR_WHEEL_PYTHONS)" >&2
            exit 1
        fi
        pythons="$pythons $p"
    done
fi

# The tests run from a copy outside the source tree, so `import conveyor` can only be
# the installed wheel, and its library the bundled one.
# conftest.py finds the test data two folders up: link it there.
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
tests=$scratch/python/tests
mkdir -p "$tests"
cp python/tests/*.py "$tests/"
ln -s "$root/testdata" "$scratch/testdata"
ln -s "$root/Cargo.toml" "$scratch/Cargo.toml"
ln -s "$root/python/examples" "$scratch/python/examples"
for py in $pythons; do
    ver=$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    venv=$root/target/py-wheel-$ver
    rm -rf "$venv"
    "$py" -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check -r python/requirements-test.txt "$wheel"
    (cd "$tests" && env -u CONVEYOR_LIB "$venv/bin/python" - <<'EOF'
import conveyor, pathlib
lib = pathlib.Path(conveyor._native.__file__).with_name("libconveyor.so")
assert lib.exists() and "site-packages" in str(lib), lib
print("installed:", conveyor.__file__, "library", conveyor.version())
EOF
    )
    echo "==> pytest on CPython $ver"
    (cd "$tests" && env -u CONVEYOR_LIB "$venv/bin/python" -m pytest -q -p no:cacheprovider .)
    if "$venv/bin/python" -c 'import sys; sys.exit(sys.version_info < (3, 10))'; then
        # The installed package's types (py.typed), as a user's mypy sees them.
        echo "==> mypy against the installed wheel on CPython $ver"
        "$venv/bin/pip" install -q --disable-pip-version-check "mypy==$mypy_version" "auditwheel==$auditwheel_version"
        (cd "$tests" && "$venv/bin/python" -m mypy --no-incremental --strict typing_usage.py)
        # auditwheel agrees with the manylinux tag the build script computed.
        plat=$(basename "$wheel" .whl)
        plat=${plat##*-}
        "$venv/bin/auditwheel" show "$wheel" | tr -s ' \n' ' ' | grep "is consistent with the following platform tag: \"$plat\"" >/dev/null \
            || { "$venv/bin/auditwheel" show "$wheel"; echo "FAIL: auditwheel disagrees with $plat" >&2; exit 1; }
        echo "auditwheel: consistent with $plat"
        typed=yes
    fi
done
[ "${typed:-}" = yes ] || { echo "FAIL: no Python >= 3.10 among $pythons ran mypy" >&2; exit 1; }
