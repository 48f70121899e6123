#!/usr/bin/env bash
# Issue 2 acceptance benchmark: the cpu backend on C-RADIO-B/16 (random weights) at 224x224 and
# 512x512, batch 1, 2 threads, median forward latency side by side in the same run with PyTorch fp32
# — Debian's python3-torch as the issue names it (eager attention, system OpenBLAS; engine
# torch-debian) and PyPI's current PyTorch (SDPA as timm runs it, and eager) — and ONNX Runtime
# (OMP_WAIT_POLICY=PASSIVE, OPENBLAS_CORETYPE unset). Targets: >= 1.5x faster than PyTorch fp32 at
# 224, >= 2x at 512.
#   benchmarks/cpu_vs_pytorch.sh [--build-dir DIR] [--no-build] [--threads N] [--out DIR]
# Results: docs/benchmarks/cpu-vs-pytorch/results.md (the "Issue 2 acceptance" table).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$repo/docs/benchmarks/cpu-vs-pytorch"
args=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --out) out="$2"; shift ;;
    *) args+=("$1") ;;
  esac
  shift
done
"$repo/benchmarks/run.sh" --quick --threads 2 --out "$out" --filter '^radio/cpu/B16/(224x224|512x512)/b1/' \
  --peers-spec 'torch-sdpa,torch-eager,ort:B16:224:1,B16:512:1' --peers-spec 'torch-debian:B16:224:1,B16:512:1' "${args[@]}"
sed -n '/^## Issue 2 acceptance/,/^## Per op/p' "$out/results.md" | sed '$d'
