#!/usr/bin/env bash
# gpu-check.sh — build and check the CUDA backend on a machine with an NVIDIA GPU, in one go
# (< 8 minutes on an H100 box with 16 cores), and write report.md + report.json.
#
# Usage:   scripts/gpu-check.sh [OUT_DIR]        (default: $OUT, else ./gpu-check-out)
# Env:     CUDA_ARCH=90                            architectures to build (default 90)
#          VIT_CATCH2_INCLUDE_DIR=DIR              folder holding catch2/catch.hpp (default: Catch2
#                                                  package if installed, else ./build-gpu-deps if present)
#          BUILD_DIR=DIR                           build folder (default ./build-gpu-check)
#          GPU_CHECK_BUDGET_S=450                  wall-clock budget; later steps shrink to fit
# Needs:   bash, CMake >= 3.25, nvcc (PATH or /usr/local/cuda/bin), a C++20 host compiler,
#          cuBLAS/cuBLASLt (CUDA toolkit); ninja if present (else make); python3 with torch for the
#          peer and the report. NOT needed: oneDNN, OpenMP, Google Benchmark (the build is the
#          stand-alone project in backends/cuda). Catch2 is needed for the tests only; a GPU box
#          without it gets the header carried in:
#              mkdir -p build-gpu-deps/catch2 && cp /usr/include/catch2/catch.hpp build-gpu-deps/catch2/
#          and carry "build-gpu-deps" (ignored by git, so it is never committed).
# Steps:   nvidia-smi; configure; build; ctest (GPU tests skip with exit 77 when no device);
#          compute-sanitizer memcheck on the fp32+bf16 op tests; vit-cuda-bench; the PyTorch peer.
# Exit:    0 all steps passed; 1 a step failed; 77 no GPU here (configure + build were still run).
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT_DIR="${1:-${OUT:-$ROOT/gpu-check-out}}"
BUILD="${BUILD_DIR:-$ROOT/build-gpu-check}"
ARCH="${CUDA_ARCH:-90}"
BUDGET="${GPU_CHECK_BUDGET_S:-450}"
mkdir -p "$OUT_DIR"
OUT_DIR="$(cd "$OUT_DIR" && pwd)"
STEPS="$OUT_DIR/steps.tsv"
: > "$STEPS"
START=$(date +%s)
exec > >(tee "$OUT_DIR/gpu-check.log") 2>&1

if ! command -v nvcc >/dev/null 2>&1 && [ -x /usr/local/cuda/bin/nvcc ]; then export PATH="/usr/local/cuda/bin:$PATH"; fi
if [ -z "${VIT_CATCH2_INCLUDE_DIR:-}" ] && [ -f "$ROOT/build-gpu-deps/catch2/catch.hpp" ]; then
  VIT_CATCH2_INCLUDE_DIR="$ROOT/build-gpu-deps"
fi

remaining() { echo $(( BUDGET - ($(date +%s) - START) )); }

# step NAME TIMEOUT_S CMD...: runs CMD with a timeout (shrunk to the budget left), logs to
# $OUT_DIR/NAME.log, records name/status/rc/seconds in steps.tsv.
step() {
  local name="$1" limit="$2"; shift 2
  local left; left=$(remaining)
  if [ "$left" -lt 20 ]; then
    echo "== $name: SKIPPED (time budget spent)"
    printf '%s\tskipped\t-\t0\tbudget spent\n' "$name" >> "$STEPS"
    return 0
  fi
  [ "$limit" -gt "$left" ] && limit="$left"
  echo "== $name (timeout ${limit}s): $*"
  local t0 rc; t0=$(date +%s)
  timeout --kill-after=10 "$limit" "$@" > "$OUT_DIR/$name.log" 2>&1
  rc=$?
  local dt=$(( $(date +%s) - t0 )) status=passed
  if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then status=timeout; elif [ $rc -eq 77 ]; then status=skipped; elif [ $rc -ne 0 ]; then status=failed; fi
  tail -n 25 "$OUT_DIR/$name.log"
  echo "== $name: $status (rc $rc, ${dt}s)"
  printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$status" "$rc" "$dt" "$*" >> "$STEPS"
  return $rc
}

echo "gpu-check: root $ROOT, out $OUT_DIR, build $BUILD, arch $ARCH, budget ${BUDGET}s, $(date -u +%FT%TZ)"
echo "host: $(uname -srm), $(nproc) cores; cmake: $(cmake --version | head -1); nvcc: $(nvcc --version 2>/dev/null | tail -1)"
echo "python: $(command -v python3 || echo none); catch2 dir: ${VIT_CATCH2_INCLUDE_DIR:-<package>}"

HAVE_GPU=0
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi > "$OUT_DIR/nvidia-smi.txt" 2>&1; then
  HAVE_GPU=1
  cat "$OUT_DIR/nvidia-smi.txt"
else
  echo "no NVIDIA GPU visible (nvidia-smi missing or failing)"
fi

GEN=()
if command -v ninja >/dev/null 2>&1; then GEN=(-G Ninja); fi
CFG=(cmake -S "$ROOT/backends/cuda" -B "$BUILD" "${GEN[@]}" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES="$ARCH")
[ -n "${VIT_CATCH2_INCLUDE_DIR:-}" ] && CFG+=(-DVIT_CATCH2_INCLUDE_DIR="$VIT_CATCH2_INCLUDE_DIR")

FAILED=0
step configure 120 "${CFG[@]}" || FAILED=1
if [ $FAILED -eq 0 ]; then
  step build 330 cmake --build "$BUILD" -j "$(nproc)" || FAILED=1
fi

if [ $FAILED -eq 0 ] && [ $HAVE_GPU -eq 1 ]; then
  if [ -x "$BUILD/tests/test_cuda_ops" ]; then
    step tests 240 ctest --test-dir "$BUILD" --output-on-failure --timeout 230 --output-junit "$OUT_DIR/ctest-junit.xml" || FAILED=1
    if command -v compute-sanitizer >/dev/null 2>&1; then
      step memcheck 150 compute-sanitizer --tool memcheck --error-exitcode 99 "$BUILD/tests/test_cuda_ops" "[fp32],[bf16]" || FAILED=1
    else
      echo "compute-sanitizer not found: memcheck skipped"
      printf 'memcheck\tskipped\t-\t0\tcompute-sanitizer not found\n' >> "$STEPS"
    fi
  else
    echo "tests not built (Catch2 missing? see the configure log)"
    printf 'tests\tskipped\t-\t0\tnot built: Catch2 missing\n' >> "$STEPS"
  fi
  step bench 200 "$BUILD/benchmarks/vit-cuda-bench" --json "$OUT_DIR/bench.json" || FAILED=1
  cp "$OUT_DIR/bench.log" "$OUT_DIR/bench.md" 2>/dev/null
  if command -v python3 >/dev/null 2>&1 && python3 -c "import torch; assert torch.cuda.is_available()" >/dev/null 2>&1; then
    step peer 150 python3 "$ROOT/benchmarks/cuda/peer_pytorch.py" --json "$OUT_DIR/peer.json" || FAILED=1
  else
    echo "python3 with CUDA torch not found: peer skipped"
    printf 'peer\tskipped\t-\t0\tno python3 with CUDA torch\n' >> "$STEPS"
  fi
elif [ $FAILED -eq 0 ]; then
  # No GPU: the device-free test still runs (it checks the clean no-device error).
  if [ -x "$BUILD/tests/test_cuda_no_device" ]; then
    step tests-no-gpu 60 ctest --test-dir "$BUILD" --output-on-failure || FAILED=1
  fi
fi

# ---- report ------------------------------------------------------------------------------------
python3 - "$OUT_DIR" "$HAVE_GPU" "$FAILED" <<'PY' || echo "report: python3 failed; see steps.tsv and the logs"
import json, os, sys
out, have_gpu, failed = sys.argv[1], sys.argv[2] == "1", sys.argv[3] == "1"
def load(name):
    try:
        with open(os.path.join(out, name)) as f:
            return json.load(f)
    except Exception:
        return None
steps = []
for line in open(os.path.join(out, "steps.tsv")):
    name, status, rc, secs, cmd = (line.rstrip("\n").split("\t") + [""] * 5)[:5]
    steps.append({"step": name, "status": status, "rc": rc, "seconds": int(secs or 0), "command": cmd})
bench, peer = load("bench.json"), load("peer.json")
comparisons = []
def find(res, **kw):
    for r in (res or {}).get("results", []):
        if all(r.get(k) == v for k, v in kw.items()):
            return r
    return None
if bench and peer:
    for label, ours, theirs in [
        ("B/16 224 b1 fp32: ours (graph) vs PyTorch eager fp32", dict(case="C-RADIOv3-B 224x224", precision="fp32", graphs=True),
         dict(case="C-RADIOv3-B 224x224", precision="fp32", attention="sdpa")),
        ("B/16 224 b1 bf16: ours (graph) vs PyTorch eager bf16 (eager attention)", dict(case="C-RADIOv3-B 224x224", precision="bf16", graphs=True),
         dict(case="C-RADIOv3-B 224x224", precision="bf16", attention="eager")),
        ("B/16 224 b1 bf16: ours (graph) vs PyTorch eager bf16 (SDPA)", dict(case="C-RADIOv3-B 224x224", precision="bf16", graphs=True),
         dict(case="C-RADIOv3-B 224x224", precision="bf16", attention="sdpa")),
        ("B/16 224 b1 bf16: ours (no graph) vs PyTorch eager bf16 (SDPA)", dict(case="C-RADIOv3-B 224x224", precision="bf16", graphs=False),
         dict(case="C-RADIOv3-B 224x224", precision="bf16", attention="sdpa")),
        ("H/16 512 b32 bf16: ours (graph) vs PyTorch eager bf16 (SDPA)", dict(case="C-RADIOv3-H 512x512", precision="bf16", graphs=True),
         dict(case="C-RADIOv3-H 512x512", precision="bf16", attention="sdpa")),
    ]:
        a, b = find(bench, **ours), find(peer, **theirs)
        if a and b:
            comparisons.append({"comparison": label, "ours_ms": a["median_ms"], "peer_ms": b["median_ms"], "speedup": b["median_ms"] / a["median_ms"]})
report = {"have_gpu": have_gpu, "ok": not failed, "steps": steps, "bench": bench, "peer": peer, "comparisons": comparisons}
with open(os.path.join(out, "report.json"), "w") as f:
    json.dump(report, f, indent=2)
md = ["# vit CUDA backend: gpu-check report", ""]
smi = os.path.join(out, "nvidia-smi.txt")
md.append(f"GPU: {'yes' if have_gpu else 'NONE (configure and build only)'}; overall: {'PASSED' if not failed else 'FAILED'}")
md += ["", "| step | status | rc | seconds |", "|---|---|---|---|"]
md += [f"| {s['step']} | {s['status']} | {s['rc']} | {s['seconds']} |" for s in steps]
if comparisons:
    md += ["", "## Ours vs PyTorch (median ms, same run)", "", "| comparison | ours ms | PyTorch ms | speed-up |", "|---|---|---|---|"]
    md += [f"| {c['comparison']} | {c['ours_ms']:.3f} | {c['peer_ms']:.3f} | {c['speedup']:.2f}x |" for c in comparisons]
for title, name in [("vit-cuda-bench", "bench.log"), ("PyTorch peer", "peer.log"), ("ctest (tail)", "tests.log"), ("memcheck (tail)", "memcheck.log")]:
    p = os.path.join(out, name)
    if os.path.exists(p):
        text = open(p, errors="replace").read().splitlines()
        if "tail" in title:
            text = text[-40:]
        md += ["", f"## {title}", "", "```", *text, "```"] if "tail" in title else ["", f"## {title}", "", *text]
if os.path.exists(smi):
    md += ["", "## nvidia-smi", "", "```", *open(smi, errors="replace").read().splitlines(), "```"]
with open(os.path.join(out, "report.md"), "w") as f:
    f.write("\n".join(md) + "\n")
print(f"report: {os.path.join(out, 'report.md')} and report.json")
PY

echo "gpu-check: done in $(( $(date +%s) - START ))s"
if [ $FAILED -ne 0 ]; then exit 1; fi
if [ $HAVE_GPU -eq 0 ]; then echo "gpu-check: no GPU here: configure + build checked, GPU steps not run"; exit 77; fi
exit 0
