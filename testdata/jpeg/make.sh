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
# Non-interleaved scans (one scan per component) with subsampled chroma, which
# zune-jpeg 0.5 decoded to the wrong colours: 4:2:0 and 4:4:0, odd sizes.
printf '0;\n1;\n2;\n' > /tmp/conveyor-noninterleaved.txt
python3 - > /tmp/conveyor-colours.ppm <<'PY'
import sys
w, h = 97, 65
sys.stdout.buffer.write(b"P6\n%d %d\n255\n" % (w, h))
def px(x, y):
    if y < 20:
        return (255, 0, 0) if x < 48 else (0, 0, 255)
    return (x * 2 % 256, y * 3 % 256, (x + y) % 256)
sys.stdout.buffer.write(bytes(v for y in range(h) for x in range(w) for v in px(x, y)))
PY
cjpeg -sample 2x2 -scans /tmp/conveyor-noninterleaved.txt -quality 90 /tmp/conveyor-colours.ppm > noninterleaved_420.jpg
cjpeg -sample 1x2 -scans /tmp/conveyor-noninterleaved.txt -quality 90 /tmp/conveyor-colours.ppm > noninterleaved_440.jpg
# Restart markers every MCU row, for the entropy check's restart handling.
cjpeg -restart 1 -quality 85 /tmp/conveyor-colours.ppm > restart.jpg
# libjpeg's standard progressive script (successive approximation: DC and AC
# refinement scans), 4:2:0, with restart markers every MCU row, for the entropy walk's
# coefficient decoding.
cjpeg -progressive -sample 2x2 -restart 1 -quality 85 /tmp/conveyor-colours.ppm > progressive_restart.jpg
# The same script without restart markers, 4:2:2 (DC and AC refinement in the walk's
# plain loop, and in jpeg-decoder's own progressive path).
cjpeg -progressive -sample 2x1 -quality 85 /tmp/conveyor-colours.ppm > progressive_422.jpg
