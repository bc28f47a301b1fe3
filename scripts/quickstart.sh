#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds and runs the quickstart: Vanilla and MetaRM trained on the same built-in synthetic data and seed,
# compared on the source distribution and on a shifted one.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$(nproc)" --target quickstart
build/examples/quickstart
