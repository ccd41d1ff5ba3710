"""pyvips's (libvips, lcms2) sRGB conversion of every input of testdata/colour
(bench/colour/run.sh runs it): the embedded profile to sRGB with `icc_transform`, as
libvips' thumbnail does; an input without a usable profile is saved as decoded.
Writes <out>/<input>.png; an input libvips refuses is left out.
    python pyvips_peer.py <testdata/colour> <out dir>
"""
import json, os, sys

import pyvips

src, out = sys.argv[1], sys.argv[2]
for case in json.load(open(os.path.join(src, "cases.json")))["cases"]:
    name = case["input"]
    try:
        img = pyvips.Image.new_from_file(os.path.join(src, name), access="sequential")
        try:
            img = img.icc_transform("srgb", embedded=True, intent="relative")
        except pyvips.Error as e:
            print(f"pyvips: {name}: no conversion ({str(e).splitlines()[0]})", file=sys.stderr)
        if img.bands > 3:
            img = img[:3]
        img.cast("uchar").write_to_file(os.path.join(out, name + ".png"))
    except pyvips.Error as e:
        print(f"pyvips: {name}: {str(e).splitlines()[0]}", file=sys.stderr)
