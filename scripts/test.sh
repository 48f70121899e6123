#!/usr/bin/env bash
# The test command: installs what is missing, configures, builds everything and runs all tests.
#   scripts/test.sh [preset]     (preset: default | sanitize; see CMakePresets.json)
set -euo pipefail
cd "$(dirname "$0")/.."
preset=${1:-default}
scripts/install-deps.sh
cmake --preset "$preset"
cmake --build --preset "$preset"
ctest --preset "$preset"
