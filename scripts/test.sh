#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds metarm and runs every test registered with ctest.
#   scripts/test.sh              Release build in build/; also builds the CUDA backend's tests when nvcc is
#                                found (they run on a GPU and are reported as skipped without one)
#   scripts/test.sh --sanitize   tests only, with AddressSanitizer and UndefinedBehaviorSanitizer, in build-asan/
#                                (CPU backend only: the sanitizers do not cover device code)
#   scripts/test.sh --tsan       the concurrency tests only, with ThreadSanitizer, in build-tsan/ (OpenMP and
#                                the BLAS off: neither libgomp nor OpenBLAS is built with ThreadSanitizer, so
#                                it would report their own synchronisation as races)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh

jobs=$(nproc)
if [ "${1:-}" = "--sanitize" ]; then
  flags="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
  # Eigen's own product kernels here: they are compiled with the sanitizers, so every access of a product to
  # the library's buffers is checked, where a BLAS's would not be.
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS="-O1 $flags" \
    -DMETARM_BUILD_EXAMPLES=OFF -DMETARM_BUILD_BENCHMARKS=OFF -DMETARM_ENABLE_CUDA=OFF -DMETARM_USE_BLAS=OFF \
    -DMETARM_BUILD_PRECOMPILED=OFF
  cmake --build build-asan -j "$jobs"
  # Packaging and compile-only checks say nothing more under a sanitizer.
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --no-tests=error --test-dir build-asan -j "$jobs" --output-on-failure -E '^(package|compile):'
elif [ "${1:-}" = "--tsan" ]; then
  cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=Debug \
    -DCMAKE_CXX_FLAGS="-O1 -fsanitize=thread -fno-omit-frame-pointer" \
    -DMETARM_BUILD_EXAMPLES=OFF -DMETARM_BUILD_BENCHMARKS=OFF -DMETARM_ENABLE_CUDA=OFF \
    -DMETARM_USE_OPENMP=OFF -DMETARM_USE_BLAS=OFF -DMETARM_BUILD_PRECOMPILED=OFF
  cmake --build build-tsan -j "$jobs" --target metarm_concurrency_test
  TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
    ctest --no-tests=error --test-dir build-tsan -j "$jobs" --output-on-failure -R '^concurrency/'
else
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
  cmake --build build -j "$jobs"
  ctest --no-tests=error --test-dir build -j "$jobs" --output-on-failure
fi
