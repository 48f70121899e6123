#!/usr/bin/env bash
# The test command: installs what is missing, configures, builds everything and runs all tests —
# the C++ suites (ctest) and, for the default preset, the Python package's (scripts/test-python.sh:
# the module built into build/python-venv from PyPI's nanobind and scikit-build-core, pytest, Ray).
#   scripts/test.sh [preset]     (preset: default | sanitize; see CMakePresets.json)
set -euo pipefail
cd "$(dirname "$0")/.."
preset=${1:-default}
scripts/install-deps.sh
cmake --preset "$preset"
cmake --build --preset "$preset"
ctest --preset "$preset"
if [ "$preset" = default ]; then scripts/test-python.sh build; fi
