#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Data-parallel step and all-reduce times on 1 and 2 ranks of this machine (docs/distributed.md):
#   benchmarks/distributed.sh [BUILD_DIR]      (default build; builds metarm_distributed_benchmark there)
# Run it on an idle machine: each rank takes one core.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
cmake --build "$build" --target metarm_distributed_benchmark >/dev/null
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc --all) cores; $(lscpu | grep -o -w -E 'avx512f|avx2|fma' | sort -u | tr '\n' ' ')"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1
echo "$(mpirun --version | head -1)"
for ranks in 1 2; do
  mpirun --oversubscribe --bind-to core -np "$ranks" "$build/benchmarks/metarm_distributed_benchmark"
done
