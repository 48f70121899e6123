#!/usr/bin/env bash
# Creates (once) the Python venv the peer benchmarks and plots run in: PyTorch (CPU), ONNX Runtime,
# onnx, numpy, matplotlib, all from PyPI. Never run at build time; run.sh calls it on demand.
# Usage: benchmarks/peers/setup_venv.sh [VENV_DIR]   (default: <repo>/.venv-bench, gitignored)
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
venv="${1:-${VIT_BENCH_VENV:-$repo/.venv-bench}}"
stamp="$venv/.vit-bench-ready"
if [[ -f "$stamp" ]]; then echo "$venv"; exit 0; fi
python3 -m venv "$venv" >&2
"$venv/bin/python" -m pip install --quiet --upgrade pip >&2
"$venv/bin/python" -m pip install --quiet -r "$repo/benchmarks/peers/requirements.txt" >&2
"$venv/bin/python" -c "import torch, onnxruntime, onnx, numpy, matplotlib" >&2
touch "$stamp"
echo "$venv"
