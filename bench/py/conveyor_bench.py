"""The standard upload workload through conveyor's Python package, in the shared
anchors' harness (common.run): conveyor_bench.py CORPUS --threads N --reps R --warmup W --out DIR."""
import argparse
import os
import sys

sys.path.insert(0, os.environ["ANCHORS_PY"])  # the shared bench's anchors/py (common.py)
from common import load_corpus, run  # noqa: E402

import conveyor  # noqa: E402

RECIPE = {"outputs": [{"name": "large", "width": 1600, "height": 1600, "format": "jpeg", "quality": 80},
                      {"name": "thumb", "width": 320, "height": 320, "format": "webp", "quality": 75}]}

ap = argparse.ArgumentParser()
ap.add_argument("corpus")
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--reps", type=int, default=5)
ap.add_argument("--warmup", type=int, default=1)
ap.add_argument("--out")
a = ap.parse_args()
names, bufs = load_corpus(a.corpus)
with conveyor.Pool(workers=a.threads, queue_capacity=a.threads * 2) as pool:
    def once():
        futures = [pool.submit(b, RECIPE) for b in bufs]
        results = [f.result() for f in futures]
        return [(r.outputs[0].data, r.outputs[1].data) for r in results]
    run("conveyor-python", names, once, a.reps, a.warmup, a.out, {"threads": a.threads})
