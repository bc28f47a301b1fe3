#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds the Debian package metarm-dev and prints its path:
#   scripts/package.sh [build dir]        (default: build-package)
# Install it with `apt install ./metarm-dev_<version>_<architecture>.deb`, which also installs what it depends on.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
build=${1:-build-package}

# Only the two packaged programs and metarm::precompiled are built, not the other examples: with Ninja, cpack
# installs what is built and compiles nothing itself.
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DMETARM_INSTALL=ON -DMETARM_BUILD_EXAMPLES=ON \
  -DMETARM_BUILD_TESTS=OFF -DMETARM_BUILD_BENCHMARKS=OFF >/dev/null
cmake --build "$build" -j "$(nproc)" --target metarm_cli metarm-simulate metarm_precompiled
rm -rf "$build/package"
cpack -G DEB --config "$build/CPackConfig.cmake" -B "$build/package" >"$build/cpack.log" 2>&1 || {
  cat "$build/cpack.log" >&2
  exit 1
}
deb=$(find "$build/package" -maxdepth 1 -name 'metarm-dev_*.deb')
[ -n "$deb" ] || { echo "package: cpack made no metarm-dev_*.deb (see $build/cpack.log)" >&2; exit 1; }
realpath "$deb"
