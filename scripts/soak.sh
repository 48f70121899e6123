#!/usr/bin/env bash
# Soak test (not in the default suite): builds scripts/soak (vit-soak) in build-soak/ and runs
# many forwards at varying resolutions, printing VmRSS samples and a verdict per backend.
#
#   scripts/soak.sh [-n CPU_ITERS] [-m VULKAN_ITERS] [--model DIR] [--no-vulkan]
#
# Defaults: 1000 forwards on the cpu backend and 200 on Vulkan (lavapipe on a machine without a
# GPU; skipped with a message when the Vulkan backend or a device is missing), model
# tests/data/radio/A. Exit status: 0 when every run that ran passed.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
out=$repo/build-soak
cpu_iters=1000
vk_iters=200
model=$repo/tests/data/radio/A
vulkan=1
while (($#)); do
  case $1 in
    -n) cpu_iters=$2; shift 2 ;;
    -m) vk_iters=$2; shift 2 ;;
    --model) model=$2; shift 2 ;;
    --no-vulkan) vulkan=0; shift ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "soak.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
cmake -S "$repo/scripts/soak" -B "$out" -G Ninja -DCMAKE_BUILD_TYPE=Release >"$out.configure.log" 2>&1 ||
  { cat "$out.configure.log"; exit 2; }
nice -n 10 cmake --build "$out" -j2 --target vit-soak
status=0
echo "== cpu: $cpu_iters forwards (OMP_NUM_THREADS=${OMP_NUM_THREADS:-unset}, OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset})"
"$out/vit-soak" --backend cpu --model "$model" --iters "$cpu_iters" || status=1
if ((vulkan)); then
  echo "== vulkan: $vk_iters forwards"
  rc=0
  "$out/vit-soak" --backend vulkan --model "$model" --iters "$vk_iters" --samples 20 || rc=$?
  if ((rc == 2)); then echo "vulkan soak SKIPPED (no Vulkan backend in this build or no device; see the message above)"
  elif ((rc != 0)); then status=1; fi
fi
exit $status
