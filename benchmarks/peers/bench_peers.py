"""Peer timings for vit-bench: the same C-RADIO ViT (vit_torch.py) in PyTorch eager fp32, PyTorch
fp32 with scaled_dot_product_attention, PyTorch bf16 autocast (+ SDPA), and ONNX Runtime (CPU EP,
the model exported to ONNX), on the same shapes and thread count as vit-bench.

Engine torch-debian is PyTorch eager fp32 from Debian's python3-torch (the peer issue 2 names): run
this script with /usr/bin/python3 for it. Debian's torch does its matmuls through the system BLAS
(libblas.so.3, chosen by update-alternatives); with the reference netlib BLAS it is ~50x slower
than with OpenBLAS, so the engine refuses to run on netlib (install libopenblas0-openmp) and
records the BLAS it used.

  python bench_peers.py --engines torch-sdpa,ort --cases B16:224:1,B16:512:1 --threads 2 --out peers.json

Each case: two warm-up forwards, then forwards timed one by one until at least --min-iters of them
and --min-time seconds; the median is reported. Run it with OMP_WAIT_POLICY=PASSIVE set before
Python starts (libgomp reads it once) and OPENBLAS_CORETYPE unset: benchmarks/run.sh does both.
"""
import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))


def parse_cases(text):
    cases = []
    for item in text.split(","):
        variant, size, batch = item.split(":")
        h, _, w = size.partition("x")
        cases.append((variant, int(h), int(w or h), int(batch)))
    return cases


def time_forward(fn, min_iters, min_time):
    fn()
    fn()
    samples = []
    start = time.perf_counter()
    while len(samples) < min_iters or time.perf_counter() - start < min_time:
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1e3)
    return samples


def blas_library():
    """The BLAS shared library this process has mapped (resolved through the alternatives links)."""
    libs = set()
    with open("/proc/self/maps") as f:
        for line in f:
            path = line.split()[-1] if len(line.split()) >= 6 else ""
            name = os.path.basename(path)
            if name.startswith(("libblas", "libopenblas", "libmkl_core", "libblis")):
                libs.add(os.path.realpath(path))
    return ", ".join(sorted(libs)) or "(none mapped)"


def check_debian_torch():
    import torch
    if not torch.__file__.startswith("/usr/lib/python3/dist-packages/"):
        raise RuntimeError("torch-debian needs Debian's python3-torch (run this script with /usr/bin/python3); "
                           "this python's torch is %s from %s" % (torch.__version__, os.path.dirname(torch.__file__)))
    torch.ones(64, 64) @ torch.ones(64, 64)  # loads the BLAS
    blas = blas_library()
    if "/blas/libblas.so" in blas:
        raise RuntimeError("torch-debian: Debian's torch is using the reference netlib BLAS (%s), ~50x slower than "
                           "OpenBLAS; install libopenblas0-openmp (scripts/install-deps.sh --peers) for a fair peer" % blas)
    return blas


def torch_case(engine, cfg, h, w, batch, args):
    import torch
    from vit_torch import RadioViT
    if engine == "torch-debian":
        check_debian_torch()
    model = RadioViT(cfg, attn="sdpa" if engine in ("torch-sdpa", "torch-bf16") else "eager").eval()
    x = torch.rand(batch, 3, h, w, generator=torch.Generator().manual_seed(42))

    def run():
        with torch.inference_mode():
            if engine == "torch-bf16":
                with torch.autocast("cpu", dtype=torch.bfloat16):
                    return model(x)
            return model(x)

    return time_forward(run, args.min_iters, args.min_time)


def ort_case(cfg, h, w, batch, args):
    import numpy as np
    import onnxruntime as ort
    import torch
    from vit_torch import RadioViT
    model = RadioViT(cfg, attn="eager").eval()
    x = torch.rand(batch, 3, h, w, generator=torch.Generator().manual_seed(42))
    with tempfile.TemporaryDirectory(prefix="vit-bench-onnx-") as tmp:
        path = os.path.join(tmp, "radio.onnx")
        with torch.inference_mode():
            model.position(h // cfg["patch_size"], w // cfg["patch_size"])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(model, (x,), path, input_names=["images"], output_names=["summary", "features"],
                              opset_version=17, dynamo=False)
        so = ort.SessionOptions()
        so.intra_op_num_threads = args.threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
        feed = {"images": x.numpy().astype(np.float32)}
        return time_forward(lambda: sess.run(None, feed), args.min_iters, args.min_time)


def environment(threads):
    import torch
    env = {k: os.environ.get(k, "(unset)") for k in ("OMP_WAIT_POLICY", "OPENBLAS_CORETYPE", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    torch.ones(64, 64) @ torch.ones(64, 64)  # so that the BLAS, if any, is loaded
    env.update(python=platform.python_version(), torch=torch.__version__, torch_threads=torch.get_num_threads(),
               torch_interop_threads=torch.get_num_interop_threads(), threads=threads, blas=blas_library())
    try:
        import onnxruntime
        env["onnxruntime"] = onnxruntime.__version__
    except ImportError:
        pass
    return env


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--engines", default="torch-eager,torch-sdpa,torch-bf16,ort")
    ap.add_argument("--cases", default="B16:224:1,B16:512:1", help="variant:H[xW]:batch,...")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--min-iters", type=int, default=5)
    ap.add_argument("--min-time", type=float, default=1.0)
    ap.add_argument("--config-dir", default=os.path.join(REPO, "models", "radio", "configs"))
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    if os.environ.get("OMP_WAIT_POLICY", "").upper() != "PASSIVE":
        print("bench_peers: warning: OMP_WAIT_POLICY is not PASSIVE; PyTorch's spinning OpenMP threads will "
              "steal cores between ops (set it before Python starts)", file=sys.stderr)
    if os.environ.get("OPENBLAS_CORETYPE"):
        print("bench_peers: warning: OPENBLAS_CORETYPE is set (%s); unset it for a fair CPU" % os.environ["OPENBLAS_CORETYPE"],
              file=sys.stderr)
    import torch
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    from vit_torch import load_config

    results = []
    for engine in args.engines.split(","):
        for variant, h, w, batch in parse_cases(args.cases):
            cfg = load_config(variant, args.config_dir)
            row = dict(engine=engine, variant=variant, h=h, w=w, batch=batch, threads=args.threads)
            try:
                if engine == "ort":
                    samples = ort_case(cfg, h, w, batch, args)
                elif engine in ("torch-eager", "torch-sdpa", "torch-bf16", "torch-debian"):
                    samples = torch_case(engine, cfg, h, w, batch, args)
                else:
                    raise ValueError("unknown engine %r" % engine)
                row.update(median_ms=statistics.median(samples), min_ms=min(samples), samples_ms=samples)
            except Exception as e:  # a peer that cannot run is reported, not fatal
                row.update(error="%s: %s" % (type(e).__name__, e))
            print("%-12s %-4s %5dx%-5d b%-2d %s" % (engine, variant, h, w, batch,
                  "%.1f ms" % row["median_ms"] if "median_ms" in row else row["error"]), file=sys.stderr, flush=True)
            results.append(row)
    with open(args.out, "w") as f:
        json.dump(dict(environment=environment(args.threads), results=results), f, indent=1)


if __name__ == "__main__":
    main()
