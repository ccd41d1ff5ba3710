#!/usr/bin/env python3
"""summarize.py RESULTS_DIR: the side-by-side table (ratios to pyvips) and the issue's
targets, as table.md and table.json in RESULTS_DIR; prints the Markdown."""
import json
import os
import sys

R = sys.argv[1]
ROWS = ["conveyor-rust-t2", "conveyor-rust-t1", "conveyor-c-t2", "conveyor-python-t2", "pyvips-t2",
        "sharp-raw-pool2", "sharp-default", "pillow-draft-p2", "rust-crates-t2"]
q = json.load(open(os.path.join(R, "quality.json")))
rounds = sorted(d for d in os.listdir(R) if d.startswith("r") and d[1:].isdigit())
data = {}
for name in ROWS:
    seen = []
    for rd in rounds:
        base = os.path.join(R, rd, name)
        if not os.path.exists(base + ".json"):
            continue
        try:
            r = json.loads(open(base + ".json").read().strip().splitlines()[-1])
            m = json.load(open(base + ".mem.json"))
        except Exception as e:  # a failed pass stays visible
            seen.append({"round": rd, "failed": f"{e.__class__.__name__}: {e}"})
            continue
        tries = open(base + ".tries").read().strip() if os.path.exists(base + ".tries") else "?"
        seen.append({"round": rd, "ips_median": r["ips_median"], "reps_s": r["reps_s"],
                     "peak_pss_mib": round(m["peak_tree_pss_kb"] / 1024, 1), "jpeg_bytes": r["jpeg_bytes"],
                     "webp_bytes": r["webp_bytes"], "cpu_s": m["cpu_s_ours"], "tries": tries})
    ok = [x for x in seen if "ips_median" in x]
    if not ok:
        if seen or "all" in os.environ.get("ROWS", "all").split() or name in os.environ.get("ROWS", "").split():
            data[name] = {"failed": "; ".join(x.get("failed", "") for x in seen) or "not run"}
        continue
    best = max(ok, key=lambda x: x["ips_median"])  # the faster round, for every row alike
    data[name] = {
        "ips_median": best["ips_median"], "reps_s": best["reps_s"], "round": best["round"],
        "ips_median_by_round": [x["ips_median"] for x in ok],
        "peak_pss_mib": max(x["peak_pss_mib"] for x in ok),  # the highest of all rounds
        "jpeg_bytes": best["jpeg_bytes"], "webp_bytes": best["webp_bytes"],
        "jpeg_ssim": q.get(name, {}).get("jpeg_ssim"), "webp_ssim": q.get(name, {}).get("webp_ssim"),
        "tries": ",".join(x["tries"] for x in ok),
    }
ref = data.get("pyvips-t2", {})
for d in data.values():
    if "ips_median" in d and "ips_median" in ref:
        d["throughput_vs_pyvips"] = round(d["ips_median"] / ref["ips_median"], 3)
        d["memory_vs_pyvips"] = round(d["peak_pss_mib"] / ref["peak_pss_mib"], 3)

lines = ["| row | images/s (median of passes) | per round | × pyvips | peak memory PSS (MiB) | × pyvips | JPEG bytes (25) | WebP bytes (25) | 1600 JPEG SSIM | 320 WebP SSIM |",
         "|---|---|---|---|---|---|---|---|---|---|"]
for name, d in data.items():
    if "failed" in d:
        lines.append(f"| {name} | FAILED: {d['failed']} | | | | | | | | |")
        continue
    per_round = " / ".join(f"{x:.2f}" for x in d["ips_median_by_round"])
    lines.append(f"| {name} | {d['ips_median']:.2f} | {per_round} | {d.get('throughput_vs_pyvips', '')} | {d['peak_pss_mib']:.0f} | "
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
# The browser row (bench/run.sh's browser step): conveyor's npm package against
# browser-image-compression, 20 JPEG photos, 2 Web Workers, headless Chromium.
browser = {}
bdir = os.path.join(R, "browser")
if os.path.isdir(bdir):
    bq = json.load(open(os.path.join(bdir, "quality.json"))) if os.path.exists(os.path.join(bdir, "quality.json")) else {}
    for job, label in (("conveyor", "conveyor-images (wasm, strict CSP)"), ("bic", "browser-image-compression 2.0.2 (Web Worker mode)")):
        try:
            j = json.load(open(os.path.join(bdir, job + ".json")))
        except FileNotFoundError:
            continue
        if not j.get("ok"):
            browser[job] = {"label": label, "failed": j.get("error", "?")}
            continue
        browser[job] = {"label": label, "ips_median": round(j["imagesPerS"], 3), "passes_ms": [round(p["ms"]) for p in j["passes"]],
                        "jpeg_bytes": j["jpegBytes"], "webp_bytes": j["webpBytes"], "longtask_max_ms": j["longtaskMaxMs"],
                        "workers_created": (j.get("implStats") or {}).get("workersCreated"),
                        "jpeg_ssim": bq.get(job, {}).get("jpeg_ssim"), "webp_ssim": bq.get(job, {}).get("webp_ssim")}
if browser:
    lines += ["", "Browser (headless Chromium, 20 JPEG photos, 2 workers):", "",
              "| row | images/s (median of passes) | × browser-image-compression | JPEG bytes (20) | WebP bytes (20) | 1600 JPEG SSIM | longest main-thread task (ms) |",
              "|---|---|---|---|---|---|---|"]
    ref_b = browser.get("bic", {}).get("ips_median")
    for job, d in browser.items():
        if "failed" in d:
            lines.append(f"| {d['label']} | FAILED: {d['failed'][:200]} | | | | | |")
            continue
        ratio = f"{d['ips_median'] / ref_b:.2f}" if ref_b else ""
        lt = d["longtask_max_ms"]
        lines.append(f"| {d['label']} | {d['ips_median']:.2f} | {ratio} | {d['jpeg_bytes']:,} | {d['webp_bytes']:,} | {d['jpeg_ssim']} | {'none' if lt in (0, None) else lt} |")

# Pool dispatch (criterion, bench/run.sh's dispatch step): trivial jobs through the pool
# against a bare crossbeam bounded channel with the same threads.
dispatch = {}
dpath = os.path.join(R, "dispatch.json")
if os.path.exists(dpath):
    dispatch = json.load(open(dpath))
    lines += ["", "Pool dispatch, trivial jobs (criterion, median; jobs/s):", "",
              "| workers | bare crossbeam | pool, callback | × | pool, collector | × |", "|---|---|---|---|---|---|"]
    for w in sorted({k.split("/")[-1] for k in dispatch}):
        raw, cb, co = (dispatch.get(f"{n}/{w}") for n in ("raw_crossbeam", "pool_callback", "pool_collected"))
        if raw and cb and co:
            lines.append(f"| {w} | {raw:,.0f} | {cb:,.0f} | {cb / raw:.2f} | {co:,.0f} | {co / raw:.2f} |")
            target(f"dispatch >= 0.5x bare crossbeam ({w} worker{'s' if w != '1' else ''})", min(cb, co) >= 0.5 * raw,
                   f"{min(cb, co) / raw:.2f}x (the slower of callback and collector)")

lines += ["", "| target | met | measured |", "|---|---|---|"] + [f"| {t['target']} | {'yes' if t['met'] else '**no**'} | {t['detail']} |" for t in targets]
env = open(os.path.join(R, "env.txt")).read().strip()
md = "\n".join([f"Run {os.path.basename(R)}; " + env.replace("\n", "; "), ""] + lines) + "\n"
open(os.path.join(R, "table.md"), "w").write(md)
json.dump({"env": env, "rows": data, "browser": browser, "dispatch_jobs_per_s": dispatch, "targets": targets}, open(os.path.join(R, "table.json"), "w"), indent=1)
print(md)
