#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The main job: installs dependencies, builds metarm-simulate and runs the simulated iterative RLHF loop with
# its defaults (a vanilla reward model and MetaRM at two step sizes, each driving its own policy for 4 rounds,
# over 10 seeds). Prints the per-round table; writes CSV files and figures to build/simulation/.
# Arguments go to the program and override the defaults, e.g. scripts/simulate.sh --seeds 20 --policy shared
# (build/examples/metarm-simulate --help lists them all).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$(nproc)" --target metarm-simulate
build/examples/metarm-simulate --out build/simulation "$@"
