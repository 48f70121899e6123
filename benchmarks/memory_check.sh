#!/usr/bin/env bash
# Memory check: one C-RADIO-B/16 forward (random weights) at 2048x2048 (16,392 tokens) on the cpu
# backend under /usr/bin/time -v; reports the maximum RSS against the target (< 2 GiB) and exits 1
# when it is over.
#   benchmarks/memory_check.sh [--build-dir DIR] [--no-build] [--threads N] [--size N] [--model B16]
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="$repo/build-bench" build=1 threads=2 size=2048 model=B16 limit_mib=2048
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build-dir) build_dir="$(realpath -m "$2")"; shift ;;
    --no-build) build=0 ;;
    --threads) threads="$2"; shift ;;
    --size) size="$2"; shift ;;
    --model) model="$2"; shift ;;
    *) echo "memory_check.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
  shift
done
unset OPENBLAS_CORETYPE
if [[ $build == 1 ]]; then
  [[ -f "$build_dir/CMakeCache.txt" ]] || cmake -S "$repo" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DVIT_BUILD_TESTS=OFF -DVIT_BUILD_EXAMPLES=OFF >&2
  cmake --build "$build_dir" --target vit-forward >&2
fi
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
/usr/bin/time -v "$build_dir/benchmarks/vit-forward" --model "$model" --size "$size" --threads "$threads" 2> "$log"
cat "$log" >&2
rss_kib="$(sed -n 's/^[[:space:]]*Maximum resident set size (kbytes): //p' "$log")"
wall="$(sed -n 's/^[[:space:]]*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$log")"
rss_mib=$(( rss_kib / 1024 ))
verdict=met
(( rss_mib < limit_mib )) || verdict="NOT met"
echo "memory check: C-RADIO-$model ${size}x${size} batch 1, cpu backend, $threads threads: max RSS $rss_mib MiB (target < $limit_mib MiB: $verdict), wall $wall"
[[ $verdict == met ]]
