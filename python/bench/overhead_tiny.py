#!/usr/bin/env python3
"""What a call through Python costs beyond the forward, in microseconds: the tiny fixture model
(tests/data/radio/A, D 64, depth 2), one thread, 224x224 and 512x512, `radio-embed --bench 200`
(the C++ API on an uploaded input) vs 200 calls of `model(x)` (NumPy in, NumPy out), 5 rounds.
The forward is short here, so the per-call cost of the bindings (argument checks, the input
upload from the NumPy buffer, the download, the arrays) is not hidden behind it.

    python python/bench/overhead_tiny.py [--build build]
"""

import argparse
import re
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

import vit

REPO = Path(__file__).resolve().parents[2]
MODEL = REPO / "tests" / "data" / "radio" / "A"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=str(REPO / "build"))
    exe = Path(ap.parse_args().build) / "examples" / "radio-embed"
    m = vit.load(str(MODEL), "cpu", threads=1)
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        for size in (224, 512):
            x = np.random.default_rng(0).random((1, 3, size, size), dtype=np.float32)
            np.save(tmp / "x.npy", x)
            cpp, py = [], []
            for _ in range(5):
                err = subprocess.run([str(exe), "--model", str(MODEL), "--input", str(tmp / "x.npy"), "--summary", str(tmp / "s.npy"), "--features",
                                      str(tmp / "f.npy"), "--backend", "cpu", "--threads", "1", "--bench", "200", "--allow-large"],
                                     capture_output=True, text=True, check=True).stderr
                found = re.search(r"median ([0-9.]+) ms, min ([0-9.]+) ms", err)
                cpp.append((float(found.group(1)), float(found.group(2))))
                m(x)
                ms = []
                for _ in range(200):
                    t0 = time.perf_counter()
                    m(x)
                    ms.append((time.perf_counter() - t0) * 1e3)
                py.append((statistics.median(ms), min(ms)))
            c, p = statistics.median(v for v, _ in cpp), statistics.median(v for v, _ in py)
            cmin, pmin = min(v for _, v in cpp), min(v for _, v in py)
            print(f"model A {size}x{size}, 1 thread: median C++ {c:.3f} ms, Python {p:.3f} ms ({1e3 * (p - c):+.0f} us); "
                  f"min C++ {cmin:.3f} ms, Python {pmin:.3f} ms ({1e3 * (pmin - cmin):+.0f} us)")


if __name__ == "__main__":
    main()
