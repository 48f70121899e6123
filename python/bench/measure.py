#!/usr/bin/env python3
"""The measurements of docs/python.md: bindings overhead and the Ray pipeline vs the CLI.

    python python/bench/measure.py [--build build] [--threads 2 [1 ...]] [--rounds 5] [--images 64] [--skip overhead|pipeline]

1. Bindings overhead: C-RADIO-B/16 (models/radio/configs/c-radio-v3-b.json, random weights) at
   224x224 and 512x512, batch 1, the same thread count: the C++ API as the CLI times it
   (`radio-embed --bench N`: model.forward on an uploaded input) vs `model(x)` from Python (host
   array in, NumPy arrays out: the upload and the download included). Rounds alternate the two;
   each round gives a median and a minimum of N forwards; printed: the median of the round
   medians and the minimum of all (on a shared machine the minimum is the steadier estimate).
2. Pipeline: the same model over --images generated 224x224 PNGs: the CLI with 2 threads
   (`--out-dir`, batch 1) vs examples/ray_embed.py with two one-thread actors on a local 2-CPU
   cluster (batch 1): images per second once the model is loaded (the CLI's --verbose line; the
   pipeline's first-batch-to-last-batch window) and the whole run, and each actor's peak RSS.
Run it on a quiet machine; OPENBLAS_CORETYPE must be unset.
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "models" / "radio" / "configs" / "c-radio-v3-b.json"


def cli_bench(exe, npy, threads, reps, tmp):
    r = subprocess.run([str(exe), "--model", str(CONFIG), "--input", str(npy), "--summary", str(tmp / "s.npy"), "--features", str(tmp / "f.npy"),
                        "--backend", "cpu", "--threads", str(threads), "--bench", str(reps), "--allow-large"], capture_output=True, text=True, check=True)
    m = re.search(r"forward: median ([0-9.]+) ms, min ([0-9.]+) ms", r.stderr)
    return float(m.group(1)), float(m.group(2))


def python_bench(model, x, reps):
    model(x)  # the first forward at a shape allocates the workspace (the CLI's --bench excludes it too)
    ms = []
    for _ in range(reps):
        t0 = time.perf_counter()
        model(x)
        ms.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(ms), min(ms)


def overhead(exe, threads, rounds, tmp):
    import vit

    model = vit.load(str(CONFIG), "cpu", threads=threads)
    rows = []
    for size, reps in ((224, 10), (512, 4)):
        x = np.random.default_rng(0).random((1, 3, size, size), dtype=np.float32)
        np.save(tmp / f"x{size}.npy", x)
        cpp, py = [], []
        for _ in range(rounds):
            cpp.append(cli_bench(exe, tmp / f"x{size}.npy", threads, reps, tmp))
            py.append(python_bench(model, x, reps))
        c, p = statistics.median(v for v, _ in cpp), statistics.median(v for v, _ in py)
        cmin, pmin = min(v for _, v in cpp), min(v for _, v in py)
        rows.append((size, c, p, cpp, py))
        print(f"B/16 {size}x{size}, {threads} threads: median C++ {c:.1f} ms, Python {p:.1f} ms ({(p / c - 1) * 100:+.1f}%); "
              f"min C++ {cmin:.1f} ms, Python {pmin:.1f} ms ({(pmin / cmin - 1) * 100:+.1f}%) "
              f"[round medians C++ {', '.join(f'{v:.1f}' for v, _ in cpp)}; Python {', '.join(f'{v:.1f}' for v, _ in py)}]", flush=True)
    return rows


def pipeline(build, images, rounds, tmp):
    folder = tmp / "images"
    subprocess.run([str(build / "examples" / "radio-make-images"), "--out", str(folder), "--count", str(images), "--size", "224"],
                   check=True, capture_output=True)
    env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0")
    cli_rate, cli_wall, ray_rate, ray_wall, ray_total, memory, cli_rss = [], [], [], [], [], [], []
    for i in range(rounds):
        t0 = time.perf_counter()
        r = subprocess.run(["/usr/bin/time", "-f", "maxrss %M", str(build / "examples" / "radio-embed"), "--model", str(CONFIG), str(folder),
                            "--out-dir", str(tmp / f"cli{i}"), "--backend", "cpu", "--threads", "2", "--verbose", "--quiet"],
                           capture_output=True, text=True, check=True)
        cli_wall.append(time.perf_counter() - t0)
        cli_rate.append(float(re.search(r"after loading \(([0-9.]+) images/s\)", r.stderr).group(1)))
        cli_rss.append(int(re.search(r"maxrss (\d+)", r.stderr).group(1)) / 1024)
        t0 = time.perf_counter()
        r = subprocess.run([sys.executable, str(REPO / "examples" / "ray_embed.py"), "--model", str(CONFIG), "--input", str(folder),
                            "--output", str(tmp / f"ray{i}.parquet"), "--actors", "2", "--threads-per-actor", "1", "--num-cpus", "2", "--batch", "1"],
                           capture_output=True, text=True, env=env)
        ray_total.append(time.perf_counter() - t0)
        m = re.search(r"embedded in ([0-9.]+) s \(([0-9.]+) images/s; ([0-9.]+) images/s once the models were loaded\).*peak memory per actor: ([^;]+);",
                      r.stderr)
        if r.returncode != 0 or not m:
            raise SystemExit(f"ray_embed failed: {r.stderr[-3000:]}")
        ray_wall.append(float(m.group(1)))
        ray_rate.append(float(m.group(3)))
        memory.append(m.group(4))
        print(f"round {i}: CLI {cli_rate[-1]:.2f} img/s after load, {cli_wall[-1]:.1f} s wall, {cli_rss[-1]:.0f} MiB; "
              f"Ray {ray_rate[-1]:.2f} img/s after load, {ray_wall[-1]:.1f} s pipeline, {ray_total[-1]:.1f} s with cluster start; actors {memory[-1]}",
              flush=True)
    med = statistics.median
    print(f"pipeline, {images} images 224x224: CLI 2 threads {med(cli_rate):.2f} img/s after load ({images / med(cli_wall):.2f} img/s whole run, "
          f"{med(cli_wall):.1f} s); Ray 2x1 {med(ray_rate):.2f} img/s after load ({images / med(ray_wall):.2f} img/s pipeline, {med(ray_wall):.1f} s; "
          f"{med(ray_total):.1f} s with the cluster start) -> {med(ray_rate) / med(cli_rate):.2f}x after load; CLI peak RSS {med(cli_rss):.0f} MiB")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=str(REPO / "build"))
    ap.add_argument("--threads", type=int, nargs="+", default=[2])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--images", type=int, default=64)
    ap.add_argument("--skip", choices=["overhead", "pipeline"])
    args = ap.parse_args()
    if "OPENBLAS_CORETYPE" in os.environ:
        raise SystemExit("unset OPENBLAS_CORETYPE first")
    build = Path(args.build)
    subprocess.run(["sh", "-c", "lscpu | grep 'Model name'; nproc; uptime"])
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        if args.skip != "overhead":
            for threads in args.threads:
                overhead(build / "examples" / "radio-embed", threads, args.rounds, tmp)
        if args.skip != "pipeline":
            pipeline(build, args.images, max(1, args.rounds // 2 + 1), tmp)


if __name__ == "__main__":
    main()
