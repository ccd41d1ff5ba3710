#!/usr/bin/env python3
"""Writes the colour-management test images and their LittleCMS references into
testdata/colour/ (committed; rerun only to change them).

Each input is one synthetic, saturated 64x48 image (a hue sweep at falling saturation,
then at falling value, then a grey ramp) whose RGB values are taken to be in a wide
colour space, with that space's profile embedded: Display P3, Adobe RGB, ProPhoto and
Rec.2020 (the CC0 profiles of /work/shared/icc, copied into testdata/colour/icc/), as
JPEG (4:4:4, quality 95), PNG (iCCP) and lossless WebP (ICCP chunk); a PNG that says
Display P3 with a cICP chunk instead of a profile; a TIFF; a CMYK JPEG (Adobe, inverted,
as Photoshop writes them) with a LUT-based CMYK profile written here; and inputs whose
profile is broken (truncated, garbage) or names the wrong colour model.

The reference for each input is what LittleCMS (Pillow's ImageCms, perceptual intent,
LittleCMS's own sRGB) makes of the same decoded pixels: `<name>.srgb.png`. Inputs whose
profile must be ignored have the unconverted pixels as their reference.
`core/tests/colour.rs` compares conveyor's output with these (CIEDE2000).

Needs Pillow (pinned in python/requirements-colour.txt; not needed to run the tests):
    python3 -m venv /tmp/cv && /tmp/cv/bin/pip install -r python/requirements-colour.txt
    /tmp/cv/bin/python scripts/colour-testimages.py
"""

from __future__ import annotations

import colorsys
import io
import json
import math
import struct
import zlib
from pathlib import Path

from PIL import Image, ImageCms

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "testdata" / "colour"
ICC = OUT / "icc"
W, H = 64, 48


def source_image() -> Image.Image:
    im = Image.new("RGB", (W, H))
    px = im.load()
    for y in range(H):
        for x in range(W):
            hue = x / W
            if y < 16:
                r, g, b = colorsys.hsv_to_rgb(hue, 1.0 - 0.7 * y / 15, 1.0)
            elif y < 32:
                r, g, b = colorsys.hsv_to_rgb(hue, 1.0, 1.0 - 0.75 * (y - 16) / 15)
            else:
                v = x / (W - 1)
                t = 0.04 * (y - 32) / 15
                r, g, b = v, min(1.0, v + t), max(0.0, v - t)
            px[x, y] = (round(r * 255), round(g * 255), round(b * 255))
    return im


# -- a LUT-based CMYK profile (ICC v2, lut16Type A2B0, Lab PCS) ---------------------------


def s15f16(v: float) -> bytes:
    return struct.pack(">i", round(v * 65536))


def srgb_to_lab_d50(r: float, g: float, b: float) -> tuple[float, float, float]:
    def lin(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = lin(r), lin(g), lin(b)
    # sRGB -> XYZ (D50, Bradford-adapted, as in ICC sRGB profiles)
    x = 0.4360747 * r + 0.3850649 * g + 0.1430804 * b
    y = 0.2225045 * r + 0.7168786 * g + 0.0606169 * b
    z = 0.0139322 * r + 0.0971045 * g + 0.7141733 * b
    wx, wy, wz = 0.9642, 1.0, 0.8249

    def f(t: float) -> float:
        return t ** (1 / 3) if t > (6 / 29) ** 3 else t / (3 * (6 / 29) ** 2) + 4 / 29

    fx, fy, fz = f(x / wx), f(y / wy), f(z / wz)
    return 116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)


def cmyk_model(c: float, m: float, y: float, k: float) -> tuple[float, float, float]:
    """A smooth, made-up press: inks that are not quite the complements of RGB, and a
    black that is not quite black. Returns Lab (D50)."""
    r = (1 - c) * (1 - 0.08 * m) * (1 - 0.02 * y)
    g = (1 - m) * (1 - 0.12 * c) * (1 - 0.06 * y)
    b = (1 - y) * (1 - 0.25 * c) * (1 - 0.1 * m)
    kk = 1 - 0.92 * k
    return srgb_to_lab_d50(r * kk, g * kk, b * kk)


def cmyk_profile(grid: int = 9) -> bytes:
    # lut16Type: 4 inputs, 3 outputs, identity matrix, 2-entry linear curves.
    lut = bytearray(b"mft2\0\0\0\0")
    lut += bytes([4, 3, grid, 0])
    for row in ((1, 0, 0), (0, 1, 0), (0, 0, 1)):
        for v in row:
            lut += s15f16(v)
    lut += struct.pack(">HH", 2, 2)
    for _ in range(4):
        lut += struct.pack(">HH", 0, 65535)
    steps = [i / (grid - 1) for i in range(grid)]
    for c in steps:
        for m in steps:
            for y in steps:
                for k in steps:
                    L, a, b = cmyk_model(c, m, y, k)
                    # ICC v2 16-bit Lab: L 0..100 -> 0..0xFF00, a/b -128..127.996 -> 0..0xFFFF
                    lut += struct.pack(
                        ">HHH",
                        max(0, min(65535, round(L * 652.8))),
                        max(0, min(65535, round((a + 128) * 256))),
                        max(0, min(65535, round((b + 128) * 256))),
                    )
    for _ in range(3):
        lut += struct.pack(">HH", 0, 65535)
    text = b"conveyor test CMYK (made up)\0"
    desc = b"desc\0\0\0\0" + struct.pack(">I", len(text)) + text + bytes(4 + 4 + 2 + 1 + 67)
    wtpt = b"XYZ \0\0\0\0" + s15f16(0.9642) + s15f16(1.0) + s15f16(0.8249)
    tags = [(b"desc", desc), (b"wtpt", wtpt), (b"A2B0", bytes(lut))]
    offset = 128 + 4 + 12 * len(tags)
    table = struct.pack(">I", len(tags))
    body = b""
    for sig, data in tags:
        while (offset + len(body)) % 4:
            body += b"\0"
        table += sig + struct.pack(">II", offset + len(body), len(data))
        body += data
    size = offset + len(body)
    header = struct.pack(">I", size) + b"\0\0\0\0" + bytes([2, 0x10, 0, 0])
    header += b"prtr" + b"CMYK" + b"Lab " + bytes(12) + b"acsp" + bytes(4)
    header += bytes(4) + bytes(4) + bytes(4) + bytes(8) + struct.pack(">I", 0)
    header += s15f16(0.9642) + s15f16(1.0) + s15f16(0.8249) + bytes(4) + bytes(16)
    header += bytes(128 - len(header))
    assert len(header) == 128
    return header + table + body


# -- containers ----------------------------------------------------------------------------


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def with_cicp(png: bytes, cicp: bytes) -> bytes:
    """The PNG with a cICP chunk right after IHDR (8 + 25 bytes)."""
    return png[:33] + png_chunk(b"cICP", cicp) + png[33:]


def with_raw_iccp(png: bytes, icc: bytes) -> bytes:
    """The PNG with an iCCP chunk holding `icc` as is (Pillow refuses broken ones)."""
    body = b"broken\0\0" + zlib.compress(icc)
    return png[:33] + png_chunk(b"iCCP", body) + png[33:]


def save(im: Image.Image, fmt: str, **kw) -> bytes:
    b = io.BytesIO()
    im.save(b, fmt, **kw)
    return b.getvalue()


def encode(im: Image.Image, ext: str, icc: bytes | None) -> bytes:
    kw = {"icc_profile": icc} if icc is not None else {}
    if ext == "jpg":
        return save(im, "JPEG", quality=95, subsampling=0, **kw)
    if ext == "png":
        return save(im, "PNG", **kw)
    if ext == "webp":
        return save(im, "WEBP", lossless=True, exact=True, **kw)
    if ext == "tiff":
        return save(im, "TIFF", **kw)
    raise ValueError(ext)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    ICC.mkdir(exist_ok=True)
    shared = Path("/work/shared/icc")
    profiles = {}
    for name, file in [
        ("p3", "DisplayP3-v4.icc"),
        ("adobe", "AdobeCompat-v4.icc"),
        ("prophoto", "ProPhoto-v4.icc"),
        ("rec2020", "Rec2020-v4.icc"),
    ]:
        src = shared / file
        data = src.read_bytes() if src.exists() else (ICC / file).read_bytes()
        (ICC / file).write_bytes(data)
        profiles[name] = data
    if (shared / "LICENSE-CC0").exists():
        (ICC / "LICENSE-CC0").write_bytes((shared / "LICENSE-CC0").read_bytes())
    cmyk = cmyk_profile()
    (ICC / "conveyor-test-cmyk.icc").write_bytes(cmyk)

    srgb = ImageCms.createProfile("sRGB")
    src = source_image()
    cases = []

    def reference(decoded: Image.Image, icc: bytes | None) -> Image.Image:
        if icc is None:
            return decoded.convert("RGB")
        prof = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        return ImageCms.profileToProfile(
            decoded, prof, srgb, renderingIntent=ImageCms.Intent.PERCEPTUAL, outputMode="RGB"
        )

    def add(name: str, data: bytes, icc_for_ref: bytes | None, warning: str | None, about: str):
        (OUT / name).write_bytes(data)
        decoded = Image.open(io.BytesIO(data))
        decoded.load()
        ref = reference(decoded, icc_for_ref)
        ref.info = {}
        ref.save(OUT / (name + ".srgb.png"))
        cases.append({"input": name, "reference": name + ".srgb.png", "warning": warning, "about": about})

    for space, icc in profiles.items():
        for ext in ("jpg", "png", "webp"):
            add(f"{space}.{ext}", encode(src, ext, icc), icc, None, f"{space} profile in {ext}")
    add("p3.tiff", encode(src, "tiff", profiles["p3"]), profiles["p3"], None, "p3 profile in TIFF")
    # Display P3 (primaries 12, sRGB transfer 13, RGB, full range) as a cICP chunk only.
    add(
        "p3_cicp.png",
        with_cicp(encode(src, "png", None), bytes([12, 13, 0, 1])),
        profiles["p3"],
        None,
        "cICP 12/13/0/1 (Display P3), no ICC profile; referenced through the P3 profile",
    )
    # sRGB as LittleCMS writes it (parametric curves): the same as untagged, so
    # conveyor must leave the pixels exactly as they are (no needless conversion).
    lcms_srgb = ImageCms.ImageCmsProfile(srgb).tobytes()
    add("srgb_lcms.png", encode(src, "png", lcms_srgb), lcms_srgb, None, "LittleCMS's own sRGB profile")
    # CMYK: the source's RGB run through a naive RGB->CMYK split, stored with the profile.
    cmyk_im = Image.new("CMYK", (W, H))
    cp = cmyk_im.load()
    sp = src.load()
    for y in range(H):
        for x in range(W):
            r, g, b = (v / 255 for v in sp[x, y])
            k = 1 - max(r, g, b)
            d = 1 - k if k < 1 else 1
            c, m, yy = ((1 - r - k) / d, (1 - g - k) / d, (1 - b - k) / d)
            cp[x, y] = tuple(round(v * 255) for v in (c, m, yy, k * 0.9))
    add(
        "cmyk.jpg",
        save(cmyk_im, "JPEG", quality=95, subsampling=0, icc_profile=cmyk),
        cmyk,
        None,
        "Adobe CMYK JPEG (inverted) with a LUT-based CMYK profile (lut16, Lab PCS)",
    )
    # Broken profiles: ignored, the pixels taken as sRGB (reference: unconverted).
    add(
        "broken_truncated.jpg",
        encode(src, "jpg", profiles["p3"][:200]),
        None,
        "icc_ignored",
        "Display P3 profile cut to 200 bytes",
    )
    add(
        "broken_garbage.png",
        with_raw_iccp(encode(src, "png", None), b"not an ICC profile at all" * 8),
        None,
        "icc_ignored",
        "iCCP holding garbage",
    )
    add(
        "wrong_model.jpg",
        encode(src, "jpg", cmyk),
        None,
        "icc_ignored",
        "an RGB JPEG carrying a CMYK profile",
    )
    add(
        "hdr_cicp.png",
        with_cicp(encode(src, "png", None), bytes([9, 16, 0, 1])),
        None,
        "cicp_ignored",
        "cICP naming Rec.2020 PQ (HDR): not converted",
    )
    (OUT / "cases.json").write_text(json.dumps({"cases": cases}, indent=1) + "\n")
    print(f"wrote {len(cases)} cases to {OUT}")


if __name__ == "__main__":
    main()
