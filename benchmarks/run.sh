#!/usr/bin/env bash
# One command for the benchmark suite: builds vit-bench (or uses a given build dir), runs it and the
# peers (PyTorch, ONNX Runtime) in the same run with the same threads, and writes JSON, a Markdown
# table of ratios and PNG plots into docs/benchmarks/<mode>/. See docs/benchmarks.md.
#
#   benchmarks/run.sh [--quick|--full] [--build-dir DIR] [--no-build] [--threads N] [--out DIR]
#                     [--no-peers] [--filter REGEX] [--repetitions N] [--peers-spec ENGINES:CASES]...
#
# --quick (default, < 5 min once built and the venv exists): cpu backend, C-RADIO-B/16 and L/16 at
#   224 and 512, batch 1, 2 threads, a few per-op cases and the model-load case; peers: PyTorch fp32
#   (SDPA and eager) and ONNX Runtime on the same shapes (eager/bf16 on B/16 only), and Debian's
#   python3-torch (engine torch-debian, run with /usr/bin/python3 or $VIT_DEBIAN_PYTHON) on B/16.
# --full: every case of every backend built (threads = all cores), all peers on B/L/H at 224..1024,
#   and the 2048x2048 memory check (memory_check.sh).
# --peers-spec replaces the mode's peer runs ("engines:variant:size:batch,...", repeatable).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
mode=quick build_dir="$repo/build-bench" build=1 threads="" out="" peers=1 filter="" reps="" peer_spec=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --quick) mode=quick ;;
    --full) mode=full ;;
    --build-dir) build_dir="$(realpath -m "$2")"; shift ;;
    --no-build) build=0 ;;
    --threads) threads="$2"; shift ;;
    --out) out="$(realpath -m "$2")"; shift ;;
    --no-peers) peers=0 ;;
    --filter) filter="$2"; shift ;;
    --repetitions) reps="$2"; shift ;;
    --peers-spec) peer_spec+=("$2"); shift ;;  # e.g. torch-sdpa,ort:B16:224:1,B16:512:1
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done
out="${out:-$repo/docs/benchmarks/$mode}"
cores="$(nproc)"

if [[ $mode == quick ]]; then
  threads="${threads:-2}"
  reps="${reps:-5}"
  min_time=0.3
  filter="${filter:-^radio/cpu/(B16|L16)/(224x224|512x512)/b1/|^op/cpu/(linear|linear_gelu)/B16\.[a-z0-9]+/M1032x|^op/cpu/attention/N(197|1025)x|^op/cpu/layer_norm/M1032x|^op/cpu/resample_pos_embed/R128toG32x|^load/cpu/}"
  peer_runs=("torch-sdpa,ort:B16:224:1,B16:512:1,L16:224:1,L16:512:1" "torch-eager,torch-bf16:B16:224:1,B16:512:1"
             "torch-debian:B16:224:1,B16:512:1")
else
  threads="${threads:-$cores}"
  reps="${reps:-5}"
  min_time=0.5
  filter="${filter:-.}"
  all="B16:224:1,B16:512:1,B16:1024:1,L16:224:1,L16:512:1,L16:1024:1,H16:224:1,H16:512:1,H16:1024:1,B16:224:8,B16:512:4"
  peer_runs=("torch-sdpa,torch-eager,torch-bf16,ort:$all" "torch-debian:$all")
fi

[[ ${#peer_spec[@]} -gt 0 ]] && peer_runs=("${peer_spec[@]}")

# The fair environment: OpenBLAS picks its own kernels, PyTorch's OpenMP threads sleep when idle.
unset OPENBLAS_CORETYPE OMP_NUM_THREADS
export OMP_WAIT_POLICY=PASSIVE

if [[ $build == 1 ]]; then
  echo "== building vit-bench in $build_dir" >&2
  if [[ ! -f "$build_dir/CMakeCache.txt" ]]; then
    cmake -S "$repo" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DVIT_BUILD_TESTS=OFF -DVIT_BUILD_EXAMPLES=OFF >&2
  fi
  cmake --build "$build_dir" --target vit-bench vit-forward -j"$cores" >&2
fi
bench="$build_dir/benchmarks/vit-bench"
[[ -x "$bench" ]] || { echo "run.sh: $bench not found (build it or pass --build-dir)" >&2; exit 1; }

mkdir -p "$out"
commit="$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)"
dirty=false
[[ -n "$(git -C "$repo" status --porcelain 2>/dev/null)" ]] && dirty=true
source "$repo/benchmarks/machine.sh"
cpu_model="$(cpu_description)"
load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
start=$(date +%s)

echo "== vit-bench ($mode, $threads threads, filter: $filter)" >&2
"$bench" --vit_threads="$threads" --benchmark_filter="$filter" --benchmark_repetitions="$reps" \
  --benchmark_min_time="$min_time" --benchmark_out="$out/vit-bench.json" --benchmark_out_format=json \
  --benchmark_display_aggregates_only=true >&2

venv=""
if [[ $peers == 1 ]]; then
  venv="$("$repo/benchmarks/peers/setup_venv.sh")"
  rm -f "$out/peers.json"
  parts=()
  for run in "${peer_runs[@]}"; do
    engines="${run%%:*}" cases="${run#*:}"
    part="$out/peers.part${#parts[@]}.json"
    py="$venv/bin/python"
    [[ $engines == torch-debian ]] && py="${VIT_DEBIAN_PYTHON:-/usr/bin/python3}"  # Debian's python3-torch
    echo "== peers: $engines on $cases ($py)" >&2
    "$py" "$repo/benchmarks/peers/bench_peers.py" --engines "$engines" --cases "$cases" \
      --threads "$threads" --out "$part" || echo "run.sh: peers $engines failed (see above)" >&2
    parts+=("$part")
  done
  "$venv/bin/python" - "$out/peers.json" "${parts[@]}" <<'EOF'
import json, sys
import os
merged = dict(environments=[], results=[])
for p in sys.argv[2:]:
    if not os.path.exists(p):
        continue
    d = json.load(open(p))
    engines = sorted({r["engine"] for r in d["results"]})
    merged["environments"].append(dict(engines=",".join(engines), **d["environment"]))
    merged["results"] += d["results"]
json.dump(merged, open(sys.argv[1], "w"), indent=1)
EOF
  rm -f "${parts[@]}"
fi

if [[ $mode == full && -z "${VIT_BENCH_SKIP_MEMORY:-}" ]]; then
  echo "== memory check: C-RADIO-B/16 at 2048x2048" >&2
  "$repo/benchmarks/memory_check.sh" --build-dir "$build_dir" --no-build --threads "$threads" > "$out/memory.txt" || true
fi

cat > "$out/meta.json" <<EOF
{"mode": "$mode", "date": "$(date -u +%Y-%m-%dT%H:%MZ)", "cpu_model": "$cpu_model", "cores": $cores,
 "host": "$(uname -sr)", "commit": "$commit", "dirty": $dirty, "threads": $threads, "repetitions": $reps,
 "load_before": "$load_before", "load_after": "$(cut -d' ' -f1-3 /proc/loadavg)", "seconds": $(( $(date +%s) - start ))}
EOF
python="${venv:+$venv/bin/python}"
python="${python:-python3}"
"$python" "$repo/benchmarks/peers/report.py" --vit "$out/vit-bench.json" --peers "$out/peers.json" --meta "$out/meta.json" --out-dir "$out"
echo "== done in $(( $(date +%s) - start )) s: $out/results.md" >&2
