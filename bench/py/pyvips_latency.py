"""p50 latency of one upload with pyvips, for `bench/latency.sh`: the shared anchor's
thumbnail recipe (1600 px JPEG q80 + 320 px WebP q75, EXIF orientation, metadata
stripped) on one file at a time, libvips' own thread pool at VIPS_CONCURRENCY (set by
the caller). Prints one JSON line like `conveyor-bench --one`."""
import json, os, statistics, sys, time

sys.path.insert(0, os.path.join(os.environ["ANCHORS_PY"]))
import pyvips  # noqa: E402
from pyvips_anchor import one_thumbnail  # noqa: E402

path, reps, warmup = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
buf = open(path, "rb").read()
pyvips.cache_set_max(0)
times = []
for r in range(warmup + reps):
    t0 = time.perf_counter()
    one_thumbnail(buf)
    dt = (time.perf_counter() - t0) * 1e3
    if r >= warmup:
        times.append(dt)
print(json.dumps({"file": path, "threads": int(os.environ.get("VIPS_CONCURRENCY", "0")),
                  "reps": reps, "p50_ms": round(statistics.median(times), 2)}))
