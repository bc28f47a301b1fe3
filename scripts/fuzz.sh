#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds the libFuzzer targets of the parsers with clang-14 (AddressSanitizer and UndefinedBehaviorSanitizer)
# in build-fuzz/ and runs each, one after another, for SECONDS seconds from its checked-in seed corpus
# (fuzz/corpus/<target>/). Fails on the first crash, sanitizer report, uncaught exception, time-out (10 s on one
# input) or input that needs over 2 GiB; the input that did it is left in build-fuzz/artifacts/<target>/.
#   scripts/fuzz.sh [SECONDS] [TARGET...]   default: 30 seconds, every target; JOBS=N builds on N cores
#                                           (default: all)
# Inputs the fuzzer finds go to build-fuzz/corpus/<target>/, not into the checked-in corpus; copy one there
# (named for what it shows) to keep it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh

seconds=${1:-30}
shift || true
case $seconds in
  ''|*[!0-9]*) echo "fuzz: SECONDS must be a whole number, got '$seconds'" >&2; exit 2 ;;
esac

build_start=$(date +%s)
# -O1 and no OpenMP, BLAS, tests, examples or benchmarks: only the headers the targets include are compiled,
# with the sanitizers seeing every access (a BLAS would hide its own).
cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=clang++-14 \
  -DCMAKE_CXX_FLAGS_RELEASE="-O1 -g" -DMETARM_BUILD_FUZZERS=ON -DMETARM_BUILD_TESTS=OFF \
  -DMETARM_BUILD_EXAMPLES=OFF -DMETARM_BUILD_BENCHMARKS=OFF -DMETARM_INSTALL=OFF -DMETARM_ENABLE_CUDA=OFF \
  -DMETARM_USE_OPENMP=OFF -DMETARM_USE_BLAS=OFF -DMETARM_BUILD_PRECOMPILED=OFF >/dev/null
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for source in fuzz/*_fuzz.cpp; do
    name=$(basename "$source" _fuzz.cpp)
    # A target CMake did not define (the command-line ones without CLI11) would fail the build below.
    grep -q "fuzz_$name:" <(ninja -C build-fuzz -t targets all) && targets+=("$name")
  done
fi
[ ${#targets[@]} -gt 0 ] || { echo "fuzz: no fuzz targets to build" >&2; exit 1; }
cmake --build build-fuzz -j "${JOBS:-$(nproc)}" --target "${targets[@]/#/fuzz_}"
echo "fuzz: building ${#targets[@]} targets took $(( $(date +%s) - build_start ))s"

for name in "${targets[@]}"; do
  [ -d "fuzz/corpus/$name" ] || { echo "fuzz: no seed corpus fuzz/corpus/$name" >&2; exit 1; }
  mkdir -p "build-fuzz/corpus/$name" "build-fuzz/artifacts/$name"
  echo "fuzz: $name for ${seconds}s"
  log="build-fuzz/fuzz-$name.log"
  if ! "build-fuzz/fuzz/fuzz_$name" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
      -artifact_prefix="build-fuzz/artifacts/$name/" "build-fuzz/corpus/$name" "fuzz/corpus/$name" >"$log" 2>&1; then
    tail -n 60 "$log" >&2
    echo "fuzz: $name failed; the input is in build-fuzz/artifacts/$name/ and the log in $log" >&2
    exit 1
  fi
  # The last status line carries the coverage (cov: edges, ft: features) and the corpus size.
  grep -E '^#[0-9]+' "$log" | tail -n 1 | sed "s/^/fuzz: $name: /"
  grep -E '^stat::number_of_executed_units' "$log" | sed "s/^stat::number_of_executed_units: */fuzz: $name: executions: /"
done
echo "fuzz: ${#targets[@]} targets ran ${seconds}s each without a failure"
