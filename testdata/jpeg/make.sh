#!/usr/bin/env bash
# Regenerates the JPEG fixtures here with libjpeg-turbo's tools (Debian:
# libjpeg-turbo-progs). arithmetic.jpg: a 96x64 gradient, arithmetic-coded, which
# libjpeg-turbo decodes and the first wave's double header parse refused.
set -euo pipefail
cd "$(dirname "$0")"
python3 - > /tmp/conveyor-gradient.ppm <<'PY'
import sys
w, h = 96, 64
sys.stdout.buffer.write(b"P6\n%d %d\n255\n" % (w, h))
sys.stdout.buffer.write(bytes(v for y in range(h) for x in range(w) for v in (x * 2, y * 3, 128)))
PY
cjpeg -arithmetic -quality 85 /tmp/conveyor-gradient.ppm > arithmetic.jpg
