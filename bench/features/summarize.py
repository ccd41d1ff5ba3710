#!/usr/bin/env python3
"""Summarises a bench/features run: python3 summarize.py <results dir> (Markdown)."""
import json, os, statistics as st, sys

res = sys.argv[1]
load = lambda f: json.load(open(os.path.join(res, f)))
budget, sharp = load("budget.json"), load("sharp.json")

print(f"### max_bytes: bisection vs imgproxy's rule ({len(budget)} images, JPEG at 1600 px, budget = half the quality-80 size)\n")
print("| method | fits | mean SSIM | mean encodes | max encodes | mean quality |\n|---|---|---|---|---|---|")
# SSIM, encodes and quality over the images where the bisection gave an output (it
# refuses a budget that even quality 1 misses; imgproxy's rule then ends over budget).
scored = [r for r in budget if r["bisection"]["ssim"] is not None]
for m in ("bisection", "imgproxy"):
    rows = [r[m] for r in scored]
    fits = sum(r[m]["fits"] for r in budget)
    print(f"| {m} | {fits}/{len(budget)} | {st.mean(r['ssim'] for r in rows):.4f} | "
          f"{st.mean(r['encodes'] for r in rows):.2f} | {max(r['encodes'] for r in rows)} | {st.mean(r['quality'] for r in rows):.1f} |")
refused = [r["file"] for r in budget if r["bisection"]["ssim"] is None]
if refused:
    print(f"\nSSIM, encodes and quality are over the {len(scored)} images with a bisection output; "
          f"{len(refused)} budget(s) no quality meets were refused with limit_exceeded: {', '.join(refused)}.")

crops = sharp["crops"]
print(f"\n### Smart crop vs sharp ({len(crops)} images, cover 400x400): intersection over union of the kept boxes\n")
print("| strategy | mean IoU with sharp's | median | IoU >= 0.5 | centre crop's mean IoU with sharp's |\n|---|---|---|---|---|")
for p in ("attention", "entropy"):
    v = [c[f"iou_{p}"] for c in crops]
    c0 = [c[f"iou_centre_vs_sharp_{p}"] for c in crops]
    print(f"| {p} | {st.mean(v):.3f} | {st.median(v):.3f} | {sum(x >= 0.5 for x in v)}/{len(v)} | {st.mean(c0):.3f} |")

def curve(rows):
    by_q = {}
    for r in rows:
        by_q.setdefault(r["quality"], []).append(r)
    return [(q, sum(r["bytes"] for r in v), st.mean(r["ssim"] for r in v), st.median(r["encode_ms"] for r in v))
            for q, v in sorted(by_q.items())]

def bytes_at(curve, target, field=1):
    """Total bytes (field 1) or median encode ms per image (field 3) at a mean SSIM of
    target, interpolated linearly (None outside the curve)."""
    pts = sorted((p[2], p[field]) for p in curve)
    for (s0, b0), (s1, b1) in zip(pts, pts[1:]):
        if s0 <= target <= s1 and s1 > s0:
            return b0 + (b1 - b0) * (target - s0) / (s1 - s0)
    return None

ours, theirs = curve(sharp["conveyor_avif"]), curve(sharp["avif"])
n = len({r["file"] for r in sharp["avif"]})
print(f"\n### AVIF at the 1600 px long edge ({n} images): conveyor (ravif/rav1e, speed 6) vs sharp (libaom, effort 4)\n")
print("| tool | quality | total bytes | mean SSIM | median encode ms per image |\n|---|---|---|---|---|")
for name, c in (("conveyor", ours), ("sharp", theirs)):
    for q, b, s, ms in c:
        print(f"| {name} | {q} | {b:,} | {s:.4f} | {ms:.0f} |")
lo = max(min(s for _, _, s, _ in ours), min(s for _, _, s, _ in theirs))
hi = min(max(s for _, _, s, _ in ours), max(s for _, _, s, _ in theirs))
print("\nAt equal SSIM (each tool's curve interpolated linearly):\n")
print("| mean SSIM | conveyor bytes | sharp bytes | ratio | conveyor median ms/image | sharp median ms/image |\n|---|---|---|---|---|---|")
for t in (lo + (hi - lo) * k / 4 for k in range(1, 4)) if hi > lo else ():
    a, b = bytes_at(ours, t), bytes_at(theirs, t)
    ta, tb = bytes_at(ours, t, 3), bytes_at(theirs, t, 3)
    if a and b:
        print(f"| {t:.4f} | {a:,.0f} | {b:,.0f} | {a / b:.2f} | {ta:.0f} | {tb:.0f} |")
