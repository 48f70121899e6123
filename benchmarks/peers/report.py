"""Turns one run's vit-bench JSON (Google Benchmark format) and bench_peers.py JSON into
results.md (latency side by side with ratios ours ÷ peer, the issue-2 acceptance check, per-op
throughput and % of peak) and two PNG plots (latency vs resolution; % of peak per op).

  python report.py --vit vit-bench.json --peers peers.json --meta meta.json --out-dir docs/benchmarks/quick
"""
import argparse
import json
import os
import re
from collections import defaultdict

# Issue 2: cpu backend vs PyTorch fp32 on C-RADIO-B/16, batch 1 — speed-up targets per size. The
# issue names Debian's python3-torch (engine torch-debian, eager attention, system OpenBLAS); PyPI's
# current PyTorch with SDPA (as timm runs it) is the stronger fp32 peer and is shown beside it.
ACCEPTANCE = {("B16", 224, 224, 1): 1.5, ("B16", 512, 512, 1): 2.0}
ISSUE_PEER = "torch-debian"
PYTORCH_FP32 = "torch-sdpa"  # PyTorch fp32 as timm runs it (fused_attn = scaled_dot_product_attention)
UNIT_MS = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}
RADIO = re.compile(r"^radio/(?P<backend>[^/]+)/(?P<variant>[^/]+)/(?P<h>\d+)x(?P<w>\d+)/b(?P<batch>\d+)(?:/(?P<prec>[a-z0-9]+))?$")


def strip_suffix(name):
    return re.sub(r"/real_time$", "", name)


def load_vit(path):
    """{case name: {median_ms, counters, reps}} using the median aggregate when there are repetitions."""
    with open(path) as f:
        data = json.load(f)
    runs = defaultdict(list)
    medians = {}
    for b in data.get("benchmarks", []):
        name = strip_suffix(b.get("run_name", b["name"]))
        if b.get("error_occurred"):
            medians[name] = dict(error=b.get("error_message", "error"))
            continue
        ms = b["real_time"] * UNIT_MS[b.get("time_unit", "ns")]
        counters = {k: v for k, v in b.items() if k not in ("name", "run_name", "run_type", "repetitions", "repetition_index",
                                                             "threads", "iterations", "real_time", "cpu_time", "time_unit",
                                                             "family_index", "per_family_instance_index", "aggregate_name",
                                                             "aggregate_unit")}
        if b.get("run_type") == "aggregate":
            if b.get("aggregate_name") == "median":
                medians[name] = dict(median_ms=ms, counters=counters)
        else:
            runs[name].append((ms, counters))
    out = {}
    for name, rs in runs.items():
        if name in medians:
            out[name] = dict(medians[name], reps=len(rs))
        else:
            ms = sorted(r[0] for r in rs)
            out[name] = dict(median_ms=ms[len(ms) // 2], counters=rs[0][1], reps=len(rs))
    for name, m in medians.items():
        out.setdefault(name, m)
    return data.get("context", {}), out


def fmt_ms(x):
    return "—" if x is None else ("%.1f" % x if x >= 10 else "%.2f" % x)


def acceptance(md, rows):
    def speedup(ours, peer):
        return peer / ours if ours and peer else None

    def cell(x):
        return "%.2fx" % x if x else "—"

    md.append("## Issue 2 acceptance: cpu backend vs PyTorch fp32 (C-RADIO-B/16, batch 1)\n")
    md.append("| input | ours cpu (ms) | Debian python3-torch (ms) | PyTorch SDPA, PyPI (ms) | PyTorch eager, PyPI (ms) | ONNX Runtime (ms) "
              "| speed-up vs Debian torch | speed-up vs PyPI SDPA | vs ORT | target | result (vs Debian torch) |")
    md.append("|---|---|---|---|---|---|---|---|---|---|---|")
    for k, target in ACCEPTANCE.items():
        r = rows.get(k, {})
        ours = r.get("cpu")
        issue, sdpa = speedup(ours, r.get(ISSUE_PEER)), speedup(ours, r.get(PYTORCH_FP32))
        verdict = "—" if issue is None else ("met" if issue >= target else "NOT met")
        md.append("| %dx%d | %s | %s | %s | %s | %s | %s | %s | %s | ≥ %.1fx | %s |" % (
            k[1], k[2], fmt_ms(ours), fmt_ms(r.get(ISSUE_PEER)), fmt_ms(r.get(PYTORCH_FP32)), fmt_ms(r.get("torch-eager")),
            fmt_ms(r.get("ort")), cell(issue), cell(sdpa), cell(speedup(ours, r.get("ort"))), target, verdict))
    md.append("")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vit", required=True)
    ap.add_argument("--peers")
    ap.add_argument("--meta", required=True)
    ap.add_argument("--out-dir", required=True)
    args = ap.parse_args()
    with open(args.meta) as f:
        meta = json.load(f)
    context, vit = load_vit(args.vit)
    peers = {}
    peer_envs = []
    if args.peers and os.path.exists(args.peers):
        with open(args.peers) as f:
            pdata = json.load(f)
        peer_envs = pdata.get("environments") or ([pdata["environment"]] if "environment" in pdata else [])
        for r in pdata["results"]:
            peers[(r["engine"], r["variant"], r["h"], r["w"], r["batch"])] = r

    # End-to-end rows: (variant, h, w, batch) -> {column: ms}
    rows = defaultdict(dict)
    ours_cols, errors = [], []
    for name, r in vit.items():
        m = RADIO.match(name)
        if not m:
            continue
        key = (m["variant"], int(m["h"]), int(m["w"]), int(m["batch"]))
        col = m["backend"] + ("" if not m["prec"] else " " + m["prec"])
        if "error" in r:
            errors.append("%s: %s" % (name, r["error"]))
            continue
        rows[key][col] = r["median_ms"]
        if col not in ours_cols:
            ours_cols.append(col)
    peer_cols = []
    for (engine, variant, h, w, batch), r in peers.items():
        if "median_ms" in r:
            rows[(variant, h, w, batch)][engine] = r["median_ms"]
            if engine not in peer_cols:
                peer_cols.append(engine)
        else:
            errors.append("%s %s %dx%d b%d: %s" % (engine, variant, h, w, batch, r.get("error")))
    order = {"tiny": 0, "B16": 1, "L16": 2, "H16": 3}
    keys = sorted(rows, key=lambda k: (order.get(k[0], 9), k[1] * k[2], k[3]))

    md = []
    md.append("# vit benchmark results: %s\n" % meta["mode"])
    md.append("- date: %s" % meta["date"])
    md.append("- machine: %s, %s cores (%s)" % (meta["cpu_model"], meta["cores"], meta["host"]))
    md.append("- commit: `%s`%s" % (meta["commit"], " (working tree had local changes)" if meta.get("dirty") else ""))
    md.append("- threads: %s (ours: `--vit_threads`; PyTorch: `torch.set_num_threads`; ONNX Runtime: `intra_op_num_threads`)" % meta["threads"])
    md.append("- load average before / after: %s / %s — a shared machine; compare only numbers of the same run" %
              (meta["load_before"], meta.get("load_after", "?")))
    try:
        busy = max(float(meta["load_before"].split()[0]), float(str(meta.get("load_after", "0")).split()[0])) > float(meta["cores"])
    except ValueError:
        busy = False
    if busy:
        md.append("- **warning: the load average was above the core count — other work shared the CPU, so these "
                  "numbers (ours and the peers', each measured at a different moment) are not representative**")
    md.append("- environment (ours): " + ", ".join("%s=%s" % (k, context[k]) for k in ("OPENBLAS_CORETYPE", "OMP_WAIT_POLICY", "OMP_NUM_THREADS")
                                                    if k in context))
    for k in ("cpu_backend", "cpu_peak_gflops", "vulkan_backend", "cuda_backend", "cuda_peak_gflops"):
        if k in context:
            md.append("- %s: %s" % (k, context[k]))
    for env in peer_envs:
        md.append("- peers: " + ", ".join("%s=%s" % kv for kv in env.items()))
    md.append("- timings: medians (vit-bench: of %s repetitions; peers: of single forwards after 2 warm-ups)\n" % meta.get("repetitions", "?"))

    md.append("## End to end: C-RADIO forward latency (median ms, batch as listed)\n")
    cpu_col = "cpu" if "cpu" in ours_cols else (ours_cols[0] if ours_cols else None)
    head = ["model", "input", "batch"] + ["ours: " + c for c in ours_cols] + peer_cols
    ratio_cols = [p for p in peer_cols] if cpu_col else []
    head += ["%s ÷ %s" % (cpu_col, p) for p in ratio_cols]
    md.append("| " + " | ".join(head) + " |")
    md.append("|" + "---|" * len(head))
    for k in keys:
        r = rows[k]
        cells = [k[0], "%dx%d" % (k[1], k[2]), str(k[3])]
        cells += [fmt_ms(r.get(c)) for c in ours_cols + peer_cols]
        for p in ratio_cols:
            cells.append("%.2f" % (r[cpu_col] / r[p]) if cpu_col in r and p in r else "—")
        md.append("| " + " | ".join(cells) + " |")
    if ratio_cols:
        md.append("\nRatios are time ÷ time: below 1 means ours is faster (0.50 = twice as fast).")
    md.append("")

    if any("cpu" in rows.get(k, {}) for k in ACCEPTANCE):
        acceptance(md, rows)

    md.append("## Per op (median)\n")
    md.append("| case | ms | GFLOP/s | GB/s | % of fp32 peak |")
    md.append("|---|---|---|---|---|")
    pct = []
    for name, r in sorted(vit.items()):
        if not (name.startswith("op/") or name.startswith("load/")):
            continue
        if "error" in r:
            errors.append("%s: %s" % (name, r["error"]))
            continue
        c = r["counters"]
        g = c.get("GFLOP/s")
        md.append("| `%s` | %s | %s | %s | %s |" % (name, fmt_ms(r["median_ms"]), "%.1f" % g if g else "—",
                                                  "%.2f" % c["GB/s"] if "GB/s" in c else "—",
                                                  "%.1f" % c["pct_peak"] if "pct_peak" in c else "—"))
        if "pct_peak" in c:
            pct.append((name[3:], c["pct_peak"]))
    md.append("")
    mem = [(n, r) for n, r in vit.items() if n.startswith("radio/") and "counters" in r]
    if mem:
        md.append("## Memory per end-to-end case\n")
        md.append("| case | host peak above start (MiB) | model weights (MiB) | device (MiB) | setup (s) |")
        md.append("|---|---|---|---|---|")
        for n, r in sorted(mem):
            c = r["counters"]
            md.append("| `%s` | %.0f | %.0f | %s | %.1f |" % (n, c.get("host_peak_MiB", -1), c.get("host_model_MiB", -1),
                                                          "%.0f" % c["device_MiB"] if "device_MiB" in c else "—", c.get("setup_s", 0)))
        md.append("")
    if errors:
        md.append("## Cases that did not run\n")
        md += ["- " + e.replace("\n", " ") for e in errors]
        md.append("")

    os.makedirs(args.out_dir, exist_ok=True)
    plots = plot(args.out_dir, keys, rows, ours_cols, peer_cols, pct)
    if plots:
        md.append("## Plots\n")
        md += ["![%s](%s)" % (p, p) for p in plots]
        md.append("")
    with open(os.path.join(args.out_dir, "results.md"), "w") as f:
        f.write("\n".join(md))
    print(os.path.join(args.out_dir, "results.md"))


def plot(out_dir, keys, rows, ours_cols, peer_cols, pct):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    made = []
    variants = [v for v in dict.fromkeys(k[0] for k in keys)]
    if variants:
        fig, axes = plt.subplots(1, len(variants), figsize=(5 * len(variants), 4), squeeze=False)
        for ax, v in zip(axes[0], variants):
            for col in ours_cols + peer_cols:
                pts = sorted((k[1], rows[k][col]) for k in keys if k[0] == v and k[3] == 1 and col in rows[k])
                if pts:
                    style = "-o" if col in ours_cols else "--s"
                    ax.plot([p[0] for p in pts], [p[1] for p in pts], style, label=("ours " + col) if col in ours_cols else col)
            ax.set_title("C-RADIO %s, batch 1" % v)
            ax.set_xlabel("input size (square)")
            ax.set_ylabel("median latency (ms)")
            ax.set_yscale("log")
            ax.grid(True, alpha=0.3)
            ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(os.path.join(out_dir, "latency.png"), dpi=110)
        plt.close(fig)
        made.append("latency.png")
    if pct:
        fig, ax = plt.subplots(figsize=(9, 0.28 * len(pct) + 1.2))
        ax.barh([p[0] for p in pct], [p[1] for p in pct])
        ax.invert_yaxis()
        ax.set_xlabel("% of measured fp32 FMA peak")
        ax.tick_params(axis="y", labelsize=7)
        ax.grid(True, axis="x", alpha=0.3)
        fig.tight_layout()
        fig.savefig(os.path.join(out_dir, "pct_peak.png"), dpi=110)
        plt.close(fig)
        made.append("pct_peak.png")
    return made


if __name__ == "__main__":
    main()
