#!/usr/bin/env bash
# The Python package's tests: builds the module into a venv (`pip install .`) and runs pytest on
# tests/python (bindings vs the fixtures and the CLI, the Ray pipeline on a local cluster).
#   scripts/test-python.sh [BUILD_DIR]      (default: build, the CMake preset's folder)
# Reused between runs, so a warm run only rebuilds what changed: the venv (BUILD_DIR/python-venv,
# its packages installed once) and the module's CMake folder (BUILD_DIR/python-test/<wheel tag>). The
# CLI the tests compare with is BUILD_DIR/examples/radio-embed, built here if missing.
# Needs python3 with venv and headers (Debian: python3-venv python3-dev; scripts/install-deps.sh)
# and PyPI for the first run. Exits non-zero if anything fails. Measured on the 2-core machine
# (shared, load 3-8): cold (no venv, no module build) 5.1 min, warm 1.3-1.4 min (pytest ~70 s).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
venv=$build/python-venv
export CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-2}
export RAY_USAGE_STATS_ENABLED=0
start=$(date +%s)
step() { echo "test-python: $* ($(( $(date +%s) - start )) s)"; }

if [ ! -x "$venv/bin/python" ]; then
  step "creating $venv"
  python3 -m venv "$venv" || { echo "test-python: error: python3 -m venv failed (apt-get install python3-venv)" >&2; exit 1; }
fi
# The build and test requirements, installed once (a stamp holds the list they were installed for).
# Ray is needed only by the pipeline tests: where pip has no ray for this Python, they are skipped
# (pytest says so) and the rest runs.
requirements=(pip "scikit-build-core>=0.10" "nanobind>=2.0" "numpy>=1.22" pytest)
optional=("ray[data]>=2.9" "pyarrow>=12")
stamp=$venv/.vit-requirements
if [ "$(cat "$stamp" 2>/dev/null)" != "${requirements[*]} ${optional[*]}" ]; then
  step "installing ${requirements[*]}"
  "$venv/bin/python" -m pip install -q --upgrade "${requirements[@]}"
  step "installing ${optional[*]}"
  if "$venv/bin/python" -m pip install -q --upgrade "${optional[@]}"; then
    echo "${requirements[*]} ${optional[*]}" > "$stamp"
  else
    echo "test-python: warning: pip could not install ${optional[*]} for $("$venv/bin/python" --version); the Ray pipeline tests will be skipped" >&2
  fi
fi

if [ ! -x "$build/examples/radio-embed" ]; then
  step "building radio-embed in $build"
  if [ ! -f "$build/CMakeCache.txt" ]; then
    if [ "$build" = build ]; then cmake --preset default; else cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release; fi
  fi
  cmake --build "$build" --target radio-embed
fi

step "pip install . (module build folder $build/python-test)"
"$venv/bin/python" -m pip install -q --no-build-isolation --no-deps \
  --config-settings=build-dir="$build/python-test/{wheel_tag}" .

step "pytest tests/python"
status=0
VIT_BUILD_DIR=$build "$venv/bin/python" -m pytest tests/python -q -rs -p no:cacheprovider || status=$?
step "done (pytest exit status $status)"
exit "$status"
