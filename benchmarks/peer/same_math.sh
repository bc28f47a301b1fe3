#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Shows that metarm and PyTorch compute the same training step: metarm_same_math records three steps of
# {vanilla, metarm} x {sgd, adam} at two sizes, and torch_step.py check replays them in PyTorch and compares
# every loss and final parameter (PASS/FAIL per configuration, with the worst differences). Builds nothing.
#
# Usage: benchmarks/peer/same_math.sh [BUILD_DIR]     (default: build; needs the metarm_same_math target)
# PYTHON names an interpreter with torch (default /usr/bin/python3, Debian's python3-torch).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build=${1:-build}
python=${PYTHON:-/usr/bin/python3}
program="$build/benchmarks/metarm_same_math"

if [[ ! -x "$program" ]]; then
  echo "FAIL: $program not found; build it first: cmake --build $build --target metarm_same_math" >&2
  exit 2
fi
if ! "$python" -c "import torch" 2>/dev/null; then
  echo "FAIL: $python cannot import torch (set PYTHON to an interpreter that can)" >&2
  exit 2
fi

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"$program" "$dir" >/dev/null
"$python" "$here/torch_step.py" check "$dir"/*.safetensors
