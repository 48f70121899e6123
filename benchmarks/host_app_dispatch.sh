#!/usr/bin/env bash
# The fast path for programs built without -march: builds examples/host-app the way a downstream
# project does (add_subdirectory, no -march), then times C-RADIO-B/16 (random weights) with the
# attention kernels the cpu backend picks at run time against the portable build it ran before
# (VIT_CPU_KERNELS=portable), interleaved in the same run.
#   benchmarks/host_app_dispatch.sh [--threads N] [--runs N] [--sizes 224x224,512x512] [--build-dir DIR]
# OPENBLAS_CORETYPE is unset for the runs (as on a user's machine); the environment is printed.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
threads=2 runs=5 sizes=224x224,512x512 build=$repo/build-host-app
while (($#)); do
  case $1 in
    --threads) threads=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --sizes) sizes=$2; shift 2 ;;
    --build-dir) build=$2; shift 2 ;;
    *) echo "host_app_dispatch.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
cmake -S "$repo/examples/host-app" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DVIT_SOURCE_DIR="$repo" \
  -DVIT_CUDA=OFF -DVIT_VULKAN=OFF >/dev/null
cmake --build "$build" >/dev/null
model=$repo/models/radio/configs/c-radio-v3-b.json
source "$repo/benchmarks/machine.sh"
echo "cpu: $(cpu_description), $(nproc) cores; $(fma_peak "$repo/build" "$threads"); threads $threads; OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-<unset>} (unset for the runs);" \
     "OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-<unset>}; host_app built without -march ($(grep -c march "$build/build.ninja" || true) -march flags in its build)"
for size in ${sizes//,/ }; do
  for round in 1 2; do  # interleaved: dispatched, portable, dispatched, portable
    env -u OPENBLAS_CORETYPE "$build/host_app" "$model" "$threads" "$size" "$runs" | tail -1
    env -u OPENBLAS_CORETYPE VIT_CPU_KERNELS=portable "$build/host_app" "$model" "$threads" "$size" "$runs" | tail -1
  done
done
