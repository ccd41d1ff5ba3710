#!/usr/bin/env python3
"""summarize.py RESULTS_DIR: the side-by-side table (ratios to pyvips) and the issue's
targets, as table.md and table.json in RESULTS_DIR; prints the Markdown."""
import json
import os
import sys

R = sys.argv[1]
ROWS = ["conveyor-rust-t2", "conveyor-rust-t1", "conveyor-c-t2", "conveyor-python-t2", "pyvips-t2",
        "sharp-raw-pool2", "sharp-default", "pillow-draft-p2"]
q = json.load(open(os.path.join(R, "quality.json")))
data = {}
for name in ROWS:
    try:
        r = json.loads(open(os.path.join(R, name + ".json")).read().strip().splitlines()[-1])
        m = json.load(open(os.path.join(R, name + ".mem.json")))
    except Exception as e:  # a failed row stays in the table, marked
        data[name] = {"failed": f"{e.__class__.__name__}: {e}"}
        continue
    data[name] = {
        "ips_median": r["ips_median"], "reps_s": r["reps_s"], "peak_pss_mib": round(m["peak_tree_pss_kb"] / 1024, 1),
        "jpeg_bytes": r["jpeg_bytes"], "webp_bytes": r["webp_bytes"],
        "jpeg_ssim": q.get(name, {}).get("jpeg_ssim"), "webp_ssim": q.get(name, {}).get("webp_ssim"),
        "tries": open(os.path.join(R, name + ".tries")).read().strip() if os.path.exists(os.path.join(R, name + ".tries")) else "?",
    }
ref = data.get("pyvips-t2", {})
for d in data.values():
    if "ips_median" in d and "ips_median" in ref:
        d["throughput_vs_pyvips"] = round(d["ips_median"] / ref["ips_median"], 3)
        d["memory_vs_pyvips"] = round(d["peak_pss_mib"] / ref["peak_pss_mib"], 3)

lines = ["| row | images/s (median of passes) | × pyvips | peak memory PSS (MiB) | × pyvips | JPEG bytes (25) | WebP bytes (25) | 1600 JPEG SSIM | 320 WebP SSIM |",
         "|---|---|---|---|---|---|---|---|---|"]
for name, d in data.items():
    if "failed" in d:
        lines.append(f"| {name} | FAILED: {d['failed']} | | | | | | | |")
        continue
    lines.append(f"| {name} | {d['ips_median']:.2f} | {d.get('throughput_vs_pyvips', '')} | {d['peak_pss_mib']:.0f} | "
                 f"{d.get('memory_vs_pyvips', '')} | {d['jpeg_bytes']:,} | {d['webp_bytes']:,} | {d['jpeg_ssim']} | {d['webp_ssim']} |")


def get(row, key):
    return data.get(row, {}).get(key)


targets = []


def target(label, ok, detail):
    targets.append({"target": label, "met": bool(ok), "detail": detail})


rust, rust1, c, py, vips, sharp = (data.get(k, {}) for k in
                                   ("conveyor-rust-t2", "conveyor-rust-t1", "conveyor-c-t2", "conveyor-python-t2", "pyvips-t2", "sharp-raw-pool2"))
if all("ips_median" in d for d in (rust, rust1, c, py, vips, sharp)):
    target("throughput >= 1.6x pyvips (Rust API)", rust["ips_median"] >= 1.6 * vips["ips_median"], f"{rust['throughput_vs_pyvips']}x")
    target("C >= 0.97x Rust", c["ips_median"] >= 0.97 * rust["ips_median"], f"{c['ips_median'] / rust['ips_median']:.3f}x")
    target("Python >= 0.97x Rust", py["ips_median"] >= 0.97 * rust["ips_median"], f"{py['ips_median'] / rust['ips_median']:.3f}x")
    target("peak memory <= 0.5x pyvips", rust["peak_pss_mib"] <= 0.5 * vips["peak_pss_mib"], f"{rust['memory_vs_pyvips']}x")
    target("JPEG bytes <= sharp at SSIM >= sharp - 0.002",
           rust["jpeg_bytes"] <= sharp["jpeg_bytes"] and (rust["jpeg_ssim"] or 0) >= (sharp["jpeg_ssim"] or 1) - 0.002,
           f"{rust['jpeg_bytes'] / sharp['jpeg_bytes']:.3f}x bytes, SSIM {rust['jpeg_ssim']} vs {sharp['jpeg_ssim']}")
    target("WebP bytes <= 1.05x sharp", rust["webp_bytes"] <= 1.05 * sharp["webp_bytes"], f"{rust['webp_bytes'] / sharp['webp_bytes']:.3f}x")
    target("2 workers >= 1.85x 1 worker", rust["ips_median"] >= 1.85 * rust1["ips_median"], f"{rust['ips_median'] / rust1['ips_median']:.3f}x")
lines += ["", "| target | met | measured |", "|---|---|---|"] + [f"| {t['target']} | {'yes' if t['met'] else '**no**'} | {t['detail']} |" for t in targets]
env = open(os.path.join(R, "env.txt")).read().strip()
md = "\n".join([f"Run {os.path.basename(R)}; " + env.replace("\n", "; "), ""] + lines) + "\n"
open(os.path.join(R, "table.md"), "w").write(md)
json.dump({"env": env, "rows": data, "targets": targets}, open(os.path.join(R, "table.json"), "w"), indent=1)
print(md)
