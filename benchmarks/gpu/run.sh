#!/usr/bin/env bash
# On a machine with an NVIDIA GPU: builds metarm in Release with the CUDA backend, runs the CUDA tests
# (backend-generic cases and CPU-versus-CUDA equivalence) and the CUDA quickstart, then prints one table of
# Vanilla and MetaRM step times on the CPU and GPU backends.
#   benchmarks/gpu/run.sh [build-dir]   (default: build-gpu)
# Needs nvcc, CMake, ninja, g++, Eigen 3.4 and Catch2 2.x. Where Eigen and Catch2 cannot be installed (the GPU
# machines' image), run benchmarks/gpu/stage-deps.sh on a machine that has them and bring .gpu-deps along.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build-gpu}

command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
prefix=()
if [ -d .gpu-deps ]; then
  prefix=(-DCMAKE_PREFIX_PATH="$PWD/.gpu-deps")
elif command -v apt-get >/dev/null; then
  scripts/install-deps.sh
fi
arch=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -n1 | tr -d '.' || true)
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DMETARM_BUILD_EXAMPLES=ON "${prefix[@]}" \
  ${arch:+-DCMAKE_CUDA_ARCHITECTURES=$arch} >/dev/null
cmake --build "$build" -j "$(nproc)" --target metarm_cuda_tests metarm_gpu_step_timing cuda_quickstart

echo "== CUDA tests"
"$build"/tests/metarm_cuda_tests --durations yes
echo "== cuda_quickstart"
"$build"/examples/cuda_quickstart
echo "== step timing"
"$build"/benchmarks/metarm_gpu_step_timing
