#!/usr/bin/env python3
"""Writes the fuzz seed corpus under testdata/fuzz/ (run from anywhere).

- testdata/fuzz/fixed/: the two small images the `recipe` target runs every valid
  recipe on (compiled in with include_bytes!).
- testdata/fuzz/seeds/pipeline/: one tiny valid image per input format and variant
  (JPEG baseline/progressive/grey/CMYK/4:4:4/EXIF/ICC, PNG 8/16-bit, palette,
  grey+alpha, 1-bit, interlaced, GIF still/animated/transparent, WebP lossy/lossless/
  alpha, BMP 24/32/8-bit, TIFF raw/LZW/16-bit grey, ICO).
- testdata/fuzz/seeds/recipe/: recipe JSON from testdata/vectors/vectors.json, the
  README and the recipe docs, plus pool configuration JSON.
- testdata/fuzz/seeds/ffi_submit/: `recipe NUL image` pairs (a leading NUL means a NULL
  recipe), as the ffi_submit target splits its input.

Needs Pillow (pinned): scripts/fuzz.sh makes a venv with it. Interlaced and 16-bit RGB
PNGs are written by hand below, since Pillow writes neither. The output is
deterministic for a given Pillow version; the files are committed, so the fuzz targets
and the replay tests never need Python.
"""

import io
import json
import os
import re
import struct
import sys
import zlib

from PIL import Image, ImageCms

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
OUT = os.path.join(ROOT, "testdata", "fuzz")


def gradient(mode, w, h):
    """A deterministic RGBA gradient converted to `mode`."""
    img = Image.new("RGBA", (w, h))
    img.putdata(
        [
            ((x * 255) // max(w - 1, 1), (y * 255) // max(h - 1, 1), (x * y) % 256, 255 if (x + y) % 5 else 96)
            for y in range(h)
            for x in range(w)
        ]
    )
    return img.convert(mode)


def save(img, fmt, **kw):
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_raw(w, h, color_type, bit_depth, pixel, interlace=False):
    """A PNG written by hand; `pixel(x, y)` gives the packed bytes of one pixel."""
    ihdr = struct.pack(">IIBBBBB", w, h, bit_depth, color_type, 0, 0, 1 if interlace else 0)
    raw = bytearray()
    if interlace:
        passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
        for x0, y0, dx, dy in passes:
            xs = list(range(x0, w, dx))
            if not xs:
                continue
            for y in range(y0, h, dy):
                raw.append(0)
                for x in xs:
                    raw += pixel(x, y)
    else:
        for y in range(h):
            raw.append(0)
            for x in range(w):
                raw += pixel(x, y)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", zlib.compress(bytes(raw), 9))
        + png_chunk(b"IEND", b"")
    )


def exif_orientation(value):
    exif = Image.Exif()
    exif[0x0112] = value
    return exif.tobytes()


def images():
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    rgb = gradient("RGB", 32, 24)
    out = {
        "jpeg_baseline_32x24.jpg": save(rgb, "JPEG", quality=75),
        "jpeg_progressive_32x24.jpg": save(rgb, "JPEG", quality=75, progressive=True),
        "jpeg_grey_24x16.jpg": save(gradient("L", 24, 16), "JPEG", quality=75),
        "jpeg_cmyk_24x16.jpg": save(gradient("CMYK", 24, 16), "JPEG", quality=75),
        "jpeg_444_17x13.jpg": save(gradient("RGB", 17, 13), "JPEG", quality=90, subsampling=0),
        "jpeg_orient8_24x16.jpg": save(gradient("RGB", 24, 16), "JPEG", quality=60, exif=exif_orientation(8)),
        "jpeg_icc_16x16.jpg": save(gradient("RGB", 16, 16), "JPEG", quality=60, icc_profile=srgb),
        "png_rgb8_24x16.png": save(gradient("RGB", 24, 16), "PNG"),
        "png_rgba8_24x16.png": save(gradient("RGBA", 24, 16), "PNG"),
        "png_grey16_16x16.png": save(gradient("L", 16, 16).convert("I").point(lambda v: v * 257).convert("I;16"), "PNG"),
        "png_rgba16_12x8.png": png_raw(
            12, 8, 6, 16, lambda x, y: struct.pack(">HHHH", x * 5000, y * 8000, 1234, 65535 - x * 300)
        ),
        "png_palette_trns_16x16.png": save(gradient("RGBA", 16, 16).quantize(16), "PNG", transparency=0),
        "png_grey_alpha_16x12.png": save(gradient("LA", 16, 12), "PNG"),
        "png_1bit_16x16.png": save(gradient("1", 16, 16), "PNG"),
        "png_interlaced_rgb_17x11.png": png_raw(17, 11, 2, 8, lambda x, y: bytes([x * 15, y * 23, (x ^ y) * 9])),
        "png_icc_8x8.png": save(gradient("RGB", 8, 8), "PNG", icc_profile=srgb),
        "gif_16x16.gif": save(gradient("RGB", 16, 16).quantize(16), "GIF"),
        "gif_transparent_16x12.gif": save(gradient("RGBA", 16, 12).quantize(8), "GIF", transparency=0),
        "gif_animated_12x12.gif": save(
            gradient("RGB", 12, 12).quantize(8),
            "GIF",
            save_all=True,
            append_images=[gradient("RGB", 12, 12).rotate(90).quantize(8)],
            duration=100,
            loop=0,
        ),
        "webp_lossy_24x16.webp": save(gradient("RGB", 24, 16), "WEBP", quality=60, method=0),
        "webp_lossless_16x16.webp": save(gradient("RGB", 16, 16), "WEBP", lossless=True, method=0),
        "webp_alpha_lossy_16x12.webp": save(gradient("RGBA", 16, 12), "WEBP", quality=50, method=0),
        "webp_alpha_lossless_12x8.webp": save(gradient("RGBA", 12, 8), "WEBP", lossless=True, method=0),
        "bmp_rgb24_16x12.bmp": save(gradient("RGB", 16, 12), "BMP"),
        "bmp_palette8_16x8.bmp": save(gradient("RGB", 16, 8).quantize(16), "BMP"),
        "bmp_grey_12x8.bmp": save(gradient("L", 12, 8), "BMP"),
        "tiff_rgb_raw_12x8.tif": save(gradient("RGB", 12, 8), "TIFF"),
        "tiff_rgba_lzw_16x12.tif": save(gradient("RGBA", 16, 12), "TIFF", compression="tiff_lzw"),
        "tiff_grey16_8x8.tif": save(gradient("L", 8, 8).convert("I;16"), "TIFF"),
        "ico_16_32.ico": save(gradient("RGBA", 32, 32), "ICO", sizes=[(16, 16), (32, 32)]),
    }
    return out


def compact(obj):
    return json.dumps(obj, separators=(",", ":"))


def recipes():
    found = []
    with open(os.path.join(ROOT, "testdata", "vectors", "vectors.json")) as f:
        for case in json.load(f)["cases"]:
            if "recipe" in case:
                found.append(compact(case["recipe"]))
    # Recipe objects quoted in the README and the recipe module docs.
    for doc in ("README.md", os.path.join("core", "src", "recipe.rs"), os.path.join("core", "src", "lib.rs")):
        with open(os.path.join(ROOT, doc)) as f:
            text = re.sub(r"^\s*(//[!/]\s?)", "", f.read(), flags=re.M)
        for m in re.finditer(r'\{\s*"outputs"', text):
            depth, end = 0, None
            for i in range(m.start(), len(text)):
                depth += {"{": 1, "}": -1}.get(text[i], 0)
                if depth == 0:
                    end = i + 1
                    break
            try:
                found.append(compact(json.loads(text[m.start() : end])))
            except (ValueError, TypeError):
                pass
    found += [
        compact({"outputs": [{"name": "a", "format": "png", "width": 7, "height": 5, "fit": "fill", "compression": 0}]}),
        compact({"outputs": [{"name": "p", "format": "jpeg", "progressive": True, "quality": 1, "background": "#123"}],
                 "auto_orient": False, "strip_metadata": False}),
        compact({"outputs": [{"name": "c", "format": "webp", "lossless": True, "width": 33, "height": 9, "fit": "contain",
                              "background": "#10203040", "without_enlargement": False}]}),
        compact({"outputs": [{"name": "h", "format": "png", "height": 10}, {"name": "w", "format": "jpeg", "width": 10}]}),
    ]
    configs = [
        compact({"workers": 2, "queue_capacity": 8, "limits": {"max_pixels": 50000000}}),
        compact({"workers": 1, "event_capacity": 4, "stats_interval_ms": 1000, "output_dir": "/tmp/x",
                 "formats": ["jpeg", "png"], "limits": {"max_input_bytes": 1000, "max_width": 10, "max_height": 10,
                                                       "max_alloc": 1, "max_icc_bytes": 0},
                 "default_recipe": {"outputs": [{"name": "t", "format": "webp", "width": 8}]}}),
    ]
    seen, uniq = set(), []
    for r in found + configs:
        if r not in seen:
            seen.add(r)
            uniq.append(r)
    return uniq


def write(folder, name, data):
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


def main():
    fixed = os.path.join(OUT, "fixed")
    write(fixed, "rgba_64x48.png", save(gradient("RGBA", 64, 48), "PNG"))
    write(fixed, "orient6_48x64.jpg", save(gradient("RGB", 48, 64), "JPEG", quality=70, exif=exif_orientation(6)))

    imgs = images()
    for name, data in imgs.items():
        write(os.path.join(OUT, "seeds", "pipeline"), name, data)

    recs = recipes()
    for i, r in enumerate(recs):
        write(os.path.join(OUT, "seeds", "recipe"), "recipe_%02d.json" % i, r.encode())

    ffi = os.path.join(OUT, "seeds", "ffi_submit")
    for name, data in imgs.items():
        write(ffi, "null_recipe__" + name, b"\0" + data)
    pairs = [
        (recs[0], "jpeg_progressive_32x24.jpg"),
        (recs[1], "png_rgba8_24x16.png"),
        (recs[2], "webp_alpha_lossy_16x12.webp"),
        (recs[-3], "gif_animated_12x12.gif"),
        (recs[-4], "tiff_rgba_lzw_16x12.tif"),
    ]
    for i, (r, img) in enumerate(pairs):
        write(ffi, "recipe_%02d__%s" % (i, img), r.encode() + b"\0" + imgs[img])
    write(ffi, "invalid_recipe.bin", b'{"outputs":[]}\0' + imgs["bmp_rgb24_16x12.bmp"])
    write(ffi, "recipe_only.bin", recs[0].encode())
    print("wrote %d images, %d recipe/config seeds, %d ffi seeds" % (len(imgs), len(recs), len(os.listdir(ffi))))


if __name__ == "__main__":
    sys.exit(main())
