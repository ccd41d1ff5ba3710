#!/usr/bin/env bash
# The colour-accuracy row of the side-by-side bench: conveyor, sharp and pyvips (libvips
# with lcms2) convert every input of testdata/colour (P3, Adobe RGB, ProPhoto, Rec.2020
# in JPEG/PNG/WebP, TIFF, PNG cICP, CMYK with a profile, broken profiles) to sRGB, and
# each result is compared with LittleCMS's (Pillow's ImageCms, the committed
# references that scripts/colour-testimages.py made): CIEDE2000 mean and 99th
# percentile per image, and over all. Pillow is the reference, so its row is 0 by
# construction. Usage:
#   bash bench/colour/run.sh [results dir]
# sharp and pyvips come from the shared anchors' lock files, installed under
# target/bench/anchors as bench/run.sh installs them (SHARP_DIR=<folder with
# node_modules/sharp> and PY=<python with pyvips> to use others). Writes sharp/,
# pyvips/ (the PNGs) and colour.md into the results dir. Takes about a minute once the
# tools are installed (debug build of the test; accuracy does not depend on it).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
shared=${CONVEYOR_SHARED_BENCH:-$root/../shared/bench}
res=${1:-$root/target/bench/colour/$(date -u +%Y%m%dT%H%M%SZ)}
anchors=$root/target/bench/anchors
export SHARP_DIR=${SHARP_DIR:-$anchors/sharp}
if [ ! -d "$SHARP_DIR/node_modules/sharp" ]; then
  mkdir -p "$SHARP_DIR"
  cp "$shared/anchors/sharp/package.json" "$shared/anchors/sharp/package-lock.json" "$SHARP_DIR/"
  (cd "$SHARP_DIR" && npm ci --no-audit --no-fund)
fi
PY=${PY:-$anchors/py/.venv/bin/python}
if ! "$PY" -c "import pyvips" 2>/dev/null; then
  python3 -m venv "$anchors/py/.venv"
  PY=$anchors/py/.venv/bin/python
  # Only pyvips and its libvips build, at the anchors' pinned versions.
  "$PY" -m pip install -q $(grep -E '^pyvips' "$shared/anchors/py/requirements.txt")
fi
mkdir -p "$res/sharp" "$res/pyvips"
node bench/colour/sharp_peer.mjs testdata/colour "$res/sharp"
"$PY" bench/colour/pyvips_peer.py testdata/colour "$res/pyvips"
{
  echo "### Colour accuracy: ΔE2000 against LittleCMS (Pillow ImageCms), $(date -u +%F)"
  echo
  echo "sharp $(node -e "console.log(require('$SHARP_DIR/node_modules/sharp/package.json').version)"), pyvips $("$PY" -c 'import pyvips; print(pyvips.__version__, "libvips", pyvips.version(0), pyvips.version(1), pyvips.version(2))'), conveyor $(git rev-parse --short HEAD) (moxcms)."
  echo
  CONVEYOR_COLOUR_PEERS="sharp=$res/sharp,pyvips=$res/pyvips" \
    cargo test -q --locked -p conveyor --test colour peers_against_littlecms -- --ignored --nocapture 2>/dev/null \
    | grep '^|'
} | tee "$res/colour.md"
