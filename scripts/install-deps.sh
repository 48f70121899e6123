#!/usr/bin/env bash
# Installs the Debian packages vit needs to build and test (run as root, or with sudo).
# Core + cpu: oneDNN, OpenMP (gcc); tests: Catch2; benchmarks: Google Benchmark;
# CLI: stb; Vulkan: loader, headers, glslc, lavapipe (Mesa's CPU Vulkan device), validation layers;
# Python package (scripts/test-python.sh): python3-dev (headers) and python3-venv.
#   scripts/install-deps.sh [--peers]
# --peers adds what the peer benchmarks need from Debian (benchmarks/run.sh, cpu_vs_pytorch.sh):
# python3-venv (for .venv-bench), Debian's python3-torch (engine torch-debian) and the OpenMP
# OpenBLAS it should run on (without it Debian's torch falls back to the ~50x slower netlib BLAS).
set -euo pipefail
packages=(build-essential cmake ninja-build pkg-config libdnnl-dev ocl-icd-opencl-dev catch2 libbenchmark-dev libstb-dev
          libvulkan-dev glslc mesa-vulkan-drivers vulkan-validationlayers vulkan-tools python3
          python3-dev python3-venv)
case "${1:-}" in
  --peers) packages+=(python3-venv python3-torch libopenblas0-openmp) ;;
  "") ;;
  *) echo "install-deps: unknown argument '$1' (expected --peers or nothing)" >&2; exit 2 ;;
esac
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO=sudo
  echo "install-deps: installing ${missing[*]}"
  $SUDO apt-get update -qq
  # env, not a plain assignment: sudo resets the environment and would drop DEBIAN_FRONTEND.
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "install-deps: all packages present"
