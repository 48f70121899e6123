#!/usr/bin/env python3
"""Embed a folder or a list of images with vit on a Ray cluster and write Parquet.

    python examples/ray_embed.py --model DIR --input FOLDER_OR_LIST --output OUT.parquet \\
        [--actors N] [--threads-per-actor T] [--batch B] [--address ADDR]

Each of N Ray actors holds one model (vit.load, T threads) and embeds batches of up to B images:
files are decoded and resized by the bindings exactly as vit-embed does (Model.prepare), images
of one size run in one forward. The result is a Parquet dataset (a folder of part files, written
by the workers) with one row per image: path, summary [C], features [T, D] (tensor columns),
height and width (the size the model ran at), and NAME_summary, NAME_features per --adaptor. A file that fails (missing, corrupt, too large) is
listed at the end and does not stop the run; the exit status is then 1, as with vit-embed.

Without --address a local Ray cluster is started (--num-cpus CPUs, default actors * threads);
with it the script joins that cluster (`ray start --head` on one machine, `ray start --address`
on the others; paths must then be readable by every node). See docs/scale-out.md.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time

import numpy as np

IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".tga"}  # vit::io::has_image_extension
INPUT_EXTENSIONS = IMAGE_EXTENSIONS | {".npy"}


def list_inputs(spec: str) -> tuple[list[str], list[tuple[str, str]]]:
    """The input files named by `spec`, and (path, message) for what cannot be an input.

    spec: a folder (walked recursively for .png .jpg .jpeg .bmp .tga, sorted by path, as
    vit-embed walks one), an image or .npy file, or a text file with one path per line (blank
    lines, '#' comments and trailing blanks skipped, as vit-embed's --input-list)."""
    if os.path.isdir(spec):
        found = []
        for root, _, files in os.walk(spec):
            found += [os.path.join(root, f) for f in files if os.path.splitext(f)[1].lower() in IMAGE_EXTENSIONS]
        if not found:
            return [], [(spec, f"{spec}: the folder holds no images (.png, .jpg, .jpeg, .bmp, .tga)")]
        return sorted(found), []
    if not os.path.exists(spec):
        return [], [(spec, f"{spec}: no such file or folder")]
    if os.path.splitext(spec)[1].lower() in INPUT_EXTENSIONS:
        return [spec], []
    with open(spec, encoding="utf-8", errors="surrogateescape") as f:
        paths = [line.rstrip(" \t\r\n") for line in f]
    paths = [p for p in paths if p and not p.startswith("#")]
    if not paths:
        return [], [(spec, f"{spec}: the list names no input (only blank lines and # comments)")]
    return paths, []


def peak_rss_bytes() -> int:
    """This process's peak resident memory (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def fixed_shape_tensor(a: np.ndarray):
    """[N, ...] float32 -> an Arrow fixed-shape tensor column of N rows (arrow.fixed_shape_tensor)."""
    import pyarrow as pa

    return pa.FixedShapeTensorArray.from_numpy_ndarray(np.ascontiguousarray(a))


class Log:
    """A small Ray actor beside the pipeline: the per-file failures and each actor's statistics."""

    def __init__(self):
        self.failures: list[tuple[str, str]] = []
        self.actors: dict[int, dict] = {}

    def fail(self, path: str, message: str) -> None:
        self.failures.append((path, message))

    def actor_stats(self, key: int, stats: dict) -> None:
        self.actors[key] = stats

    def report(self) -> tuple[list[tuple[str, str]], dict[int, dict]]:
        return self.failures, self.actors


class Embedder:
    """The Ray Data actor: one model per actor process, called on batches of paths."""

    def __init__(self, model: str, backend: str, threads: int, batch: int, prepare: dict, log, adaptors=(), vitdet: int = 0):
        import vit

        self.vit = vit
        device = -1
        if backend == "vulkan":  # the GPU Ray gave this actor (num_gpus); assumes Vulkan lists GPUs in CUDA's order
            import ray

            gpus = ray.get_gpu_ids()
            device = int(gpus[0]) if gpus else -1
        self.model = vit.load(model, backend, threads=threads if backend == "cpu" else 0, device=device, adaptors=list(adaptors), vitdet=vitdet)
        self.batch = batch
        self.prepare = prepare
        self.log = log
        self.images = 0
        self.forward_s = 0.0
        self.first = None  # wall clock at the start of the first batch, and the end of the last
        self.key = os.getpid()

    def _fail(self, path: str, message: str) -> None:
        import ray

        ray.get(self.log.fail.remote(path, message))  # waited for: recorded before the batch is returned

    def __call__(self, batch):
        """{path, file} -> tables of {path, summary, features, height, width}, one per image size."""
        if self.first is None:
            self.first = time.time()
        groups: dict[tuple[int, int], list[tuple[str, np.ndarray]]] = {}
        for path, file in zip(batch["path"].to_pylist(), batch["file"].to_pylist()):
            try:
                x = self.model.prepare(file, **self.prepare)
                if x.shape[0] != 1:
                    raise self.vit.Error(f"{path}: expected one image [1, 3, H, W], got a batch of {x.shape[0]}")
            except self.vit.Error as e:
                self._fail(path, str(e))
                continue
            groups.setdefault((x.shape[2], x.shape[3]), []).append((path, x))
        for (h, w), items in groups.items():
            for at in range(0, len(items), self.batch):
                chunk = items[at : at + self.batch]
                table = self._embed(chunk, h, w)
                if table is not None:
                    yield table
        import ray

        stats = {"peak_rss": peak_rss_bytes(), "images": self.images, "forward_s": self.forward_s, "first": self.first, "last": time.time()}
        ray.get(self.log.actor_stats.remote(self.key, stats))

    def _embed(self, chunk, h: int, w: int):
        import pyarrow as pa

        x = chunk[0][1] if len(chunk) == 1 else np.concatenate([a for _, a in chunk])
        t0 = time.perf_counter()
        try:
            out = self.model(x)
        except self.vit.Error as e:
            for path, _ in chunk:
                self._fail(path, f"{path}: forward failed: {e}")
            return None
        self.forward_s += time.perf_counter() - t0
        self.images += len(chunk)
        n = len(chunk)
        columns = {
            "path": pa.array([p for p, _ in chunk], pa.string()),
            "summary": fixed_shape_tensor(out.summary),
            "features": fixed_shape_tensor(out.features),
            "height": pa.array([h] * n, pa.int32()),
            "width": pa.array([w] * n, pa.int32()),
        }
        for name, head in out.adaptors.items():  # --adaptor NAME: that teacher head's outputs
            columns[f"{name}_summary"] = fixed_shape_tensor(head.summary)
            columns[f"{name}_features"] = fixed_shape_tensor(head.features)
        return pa.table(columns)


def embed(
    paths: list[str],
    model: str,
    output: str,
    *,
    actors: int = 2,
    threads_per_actor: int = 1,
    batch: int = 8,
    backend: str = "cpu",
    gpus_per_actor: float = 0,
    resolution: str | None = None,
    preprocess: str = "torch",
    allow_large: bool = False,
    adaptors: tuple[str, ...] = (),
    vitdet: int = 0,
) -> dict:
    """Embeds `paths` into the Parquet dataset `output` on the Ray cluster this process is
    connected to (ray.init first). Returns {failures: [(path, message)], actors: {pid: stats},
    seconds, images, embed_seconds}: seconds from the start to the last write; embed_seconds from
    the first batch an actor started (its model loaded) to the last one it finished."""
    import ray
    import ray.data

    log = ray.remote(num_cpus=0)(Log).remote()
    prepare = {"resolution": resolution, "preprocess": preprocess, "allow_large": allow_large}
    items = [{"path": p, "file": os.path.abspath(p)} for p in paths]
    t0 = time.perf_counter()
    ds = ray.data.from_items(items, override_num_blocks=max(1, min(len(items), -(-len(items) // batch))))
    ds = ds.map_batches(
        Embedder,
        fn_constructor_kwargs={"model": os.path.abspath(model), "backend": backend, "threads": threads_per_actor, "batch": batch,
                               "prepare": prepare, "log": log, "adaptors": tuple(adaptors), "vitdet": vitdet},
        batch_size=batch,
        batch_format="pyarrow",
        compute=ray.data.ActorPoolStrategy(size=actors),
        num_cpus=threads_per_actor,
        num_gpus=gpus_per_actor,
    )
    ds.write_parquet(output)
    seconds = time.perf_counter() - t0
    failures, stats = ray.get(log.report.remote())
    images = sum(s["images"] for s in stats.values())
    embed_seconds = max((s["last"] for s in stats.values()), default=0) - min((s["first"] for s in stats.values()), default=0)
    return {"failures": failures, "actors": stats, "seconds": seconds, "images": images, "embed_seconds": embed_seconds}


def tensor_rows(column) -> list[np.ndarray]:
    """A tensor column -> one array per row. Columns are arrow.fixed_shape_tensor as written;
    Ray may merge blocks of several image sizes into its own variable-shape tensor type, which
    pyarrow reads once ray.data is imported (it registers the type)."""
    if hasattr(column, "to_numpy_ndarray"):
        return list(column.to_numpy_ndarray())
    return list(column.to_numpy())


def read_embeddings(output: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Reads a dataset written by embed(): {path: (summary [C], features [T, D])}."""
    import pyarrow.parquet as pq
    import ray.data  # noqa: F401 (registers Ray's tensor types)

    rows = {}
    for name in sorted(os.listdir(output)):
        if name.endswith(".parquet"):
            t = pq.read_table(os.path.join(output, name))
            summaries, features = (tensor_rows(t[c].combine_chunks()) for c in ("summary", "features"))
            rows.update(zip(t["path"].to_pylist(), zip(summaries, features)))
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Embed images with vit on a Ray cluster; write Parquet (path, summary, features).")
    ap.add_argument("--model", required=True, help="model folder (C-RADIO or timm snapshot, or a project config)")
    ap.add_argument("--input", required=True, action="append",
                    help="a folder (walked recursively), an image, or a text file listing one path per line; may repeat")
    ap.add_argument("--output", required=True, help="the Parquet dataset to write (a folder of part files)")
    ap.add_argument("--actors", type=int, default=2, help="Ray actors, each holding one model (default 2)")
    ap.add_argument("--threads-per-actor", type=int, default=1, help="cpu threads (and Ray CPUs) per actor (default 1)")
    ap.add_argument("--batch", type=int, default=8, help="images per Ray batch and at most per forward (default 8)")
    ap.add_argument("--address", help="join this Ray cluster (e.g. 'auto' or HEAD:6379) instead of starting a local one")
    ap.add_argument("--num-cpus", type=int, help="CPUs of the local cluster (default actors * threads-per-actor)")
    ap.add_argument("--backend", default="cpu", help="vit backend: cpu (default), reference, vulkan")
    ap.add_argument("--gpus-per-actor", type=float, default=0, help="Ray GPUs per actor (num_gpus), for a GPU backend")
    ap.add_argument("--resolution", help="HxW or 'preferred': resize every image to this size (default: vit-embed's rule)")
    ap.add_argument("--preprocess", default="torch", choices=["torch", "hf"], help="preprocessing as vit-embed's --preprocess")
    ap.add_argument("--allow-large", action="store_true", help="accept sizes beyond the model's max_resolution")
    ap.add_argument("--adaptor", action="append", default=[], metavar="NAME",
                    help="also run this C-RADIO teacher head (repeatable): columns NAME_summary, NAME_features")
    ap.add_argument("--vitdet", type=int, default=0, metavar="W", help="ViTDet windowed attention with WxW windows (as vit-embed)")
    args = ap.parse_args(argv)
    for name in ("actors", "threads_per_actor", "batch"):
        if getattr(args, name) < 1:
            ap.error(f"--{name.replace('_', '-')} must be at least 1")

    paths, failures = [], []
    for spec in args.input:
        p, f = list_inputs(spec)
        paths += p
        failures += f
    if not paths:
        for _, message in failures:
            print(f"ray_embed: error: {message}", file=sys.stderr)
        print("ray_embed: error: no input to embed", file=sys.stderr)
        return 1

    import ray

    if args.address:
        ray.init(address=args.address)
    else:
        ray.init(num_cpus=args.num_cpus or args.actors * args.threads_per_actor, include_dashboard=False)
    result = embed(paths, args.model, args.output, actors=args.actors, threads_per_actor=args.threads_per_actor, batch=args.batch,
                   backend=args.backend, gpus_per_actor=args.gpus_per_actor, resolution=args.resolution, preprocess=args.preprocess,
                   allow_large=args.allow_large, adaptors=tuple(args.adaptor), vitdet=args.vitdet)
    failures += result["failures"]
    total = len(paths) + sum(1 for f in failures if f[0] not in paths)
    done, seconds = result["images"], result["seconds"]
    memory = ", ".join(f"{s['peak_rss'] / 2**20:.0f} MiB" for s in result["actors"].values())
    embedding = result["embed_seconds"]
    print(f"ray_embed: {done} of {total} inputs embedded in {seconds:.2f} s ({done / seconds:.2f} images/s; "
          f"{done / embedding if embedding > 0 else 0:.2f} images/s once the models were loaded) by {args.actors} actors x "
          f"{args.threads_per_actor} threads; peak memory per actor: {memory or '-'}; output: {args.output}", file=sys.stderr)
    if failures:
        print(f"ray_embed: error: {len(failures)} of {total} inputs failed:", file=sys.stderr)
        for _, message in sorted(failures):
            print(f"  {message}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
