#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The GPU run: builds metarm's CUDA programs with this machine's CUDA toolkit and runs, in this order and each
# whatever happened before it,
#   cases-separate   every CUDA test case in its own process (ctest -R '^cuda/'), with the data-parallel ones
#                    (NCCL, ranks sharing a GPU) where MPI and NCCL were found
#   cases-together   all of them in one process (the single binary metarm_cuda_tests)
#   quickstart       examples/cuda_quickstart
#   extensions       examples/custom_extensions_cuda (a layer and a loss of one header each, on the GPU)
#   step-timing      benchmarks/metarm_gpu_step_timing (CPU baseline built with -O3 -march=native)
# after the stages gpu (nvidia-smi, never fatal), configure and build. It never stops early. It writes one
# report under $OUT (or --out DIR): run.log, everything every stage printed, and summary.txt, one line per
# stage (PASS, FAIL or SKIP, its seconds, a note); it prints the summary last and exits 1 when any stage
# failed, else 0.
#
#   benchmarks/gpu/run.sh [--dry-run] [--build-dir DIR] [--out DIR] [--deps DIR]
#
# On the GPU machine (docs/cuda.md says how to start it there): the default build directory is build-gpu;
# the dependencies (Eigen, Catch2 2.x) come from .gpu-deps/, which benchmarks/gpu/stage-deps.sh makes on a
# machine that has them and the device tool carries along; without that folder, from the system's packages.
# A skipped CUDA case counts as a failure here: this mode expects a GPU.
#
# --dry-run, on a machine without a GPU: the same stages, built in the existing build directory (default
# build/, which scripts/test.sh makes, so nothing is rebuilt), and each GPU stage must report itself skipped
# for the right reason: exit status 77 and "skipped: no CUDA device". Without nvcc every stage is skipped.
set -uo pipefail
# shellcheck disable=SC2317  # the stage functions are called through `stage`
cd "$(dirname "$0")/../.." || exit 1
root=$PWD

dry=0
build=""
out=${OUT:-}
deps=""
while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) dry=1 ;;
    --build-dir) build=$2; shift ;;
    --out) out=$2; shift ;;
    --deps) deps=$2; shift ;;
    -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done
if [ -z "$build" ]; then
  if [ $dry -eq 1 ]; then build="build"; else build="build-gpu"; fi
fi
[ -n "$out" ] || out=$build/gpu-report
[ -n "$deps" ] || { [ -d .gpu-deps ] && deps=.gpu-deps; }
case "$build" in /*) ;; *) build=$root/$build ;; esac
case "$out" in /*) ;; *) out=$root/$out ;; esac
[ -z "$deps" ] || case "$deps" in /*) ;; *) deps=$root/$deps ;; esac
mkdir -p "$out"
log=$out/run.log
summary=$out/summary.txt
: >"$log"
: >"$summary"
failed=0
stages_run=0
skip_text="skipped: no CUDA device"

say() { echo "$*" | tee -a "$log"; }

# stage NAME COMMAND...: runs the command (a function below) in a subshell, so that nothing it does can end
# this script, its output going to the log, and records one summary line from its exit status (0 PASS, 77
# SKIP, anything else FAIL) and the note it left in $note.
stage() {
  local name=$1; shift
  say ""
  say "==== $name"
  local start end status result note_file
  note_file=$(mktemp -p "$state")
  start=$(date +%s.%N)
  (
    note=""
    trap 'printf "%s" "$note" >"$note_file"' EXIT
    "$@"
  ) >>"$log" 2>&1
  status=$?
  end=$(date +%s.%N)
  note=$(cat "$note_file")
  case $status in
    0) result=PASS ;;
    77) result=SKIP ;;
    *) result=FAIL; failed=1 ;;
  esac
  stages_run=$((stages_run + 1))
  local line
  line=$(printf '%-4s  %-15s %7.1fs  %s' "$result" "$name" "$(awk -v a="$start" -v b="$end" 'BEGIN { print b - a }')" "$note")
  echo "$line" >>"$summary"
  say "---- $line"
}

# run_logged SECONDS PROGRAM ARGS...: runs a program under a time limit, its output to the log and to $ran,
# its status in $rc.
run_logged() {
  local limit=$1; shift
  ran=$(mktemp -p "$state")
  timeout --kill-after=10 "$limit" "$@" >"$ran" 2>&1
  rc=$?
  cat "$ran"
  [ $rc -ne 124 ] && [ $rc -ne 137 ] || echo "run.sh: timed out after ${limit}s: $*"
}

nvcc=$(command -v nvcc || true)
[ -n "$nvcc" ] || { [ -x /usr/local/cuda/bin/nvcc ] && nvcc=/usr/local/cuda/bin/nvcc; }
state=$(mktemp -d)  # what one stage hands to a later one, and the stages' scratch files
trap 'rm -rf "$state"' EXIT
ran=/dev/null       # the output of the last program run_logged ran, and its status
rc=0

stage_gpu() {
  if ! command -v nvidia-smi >/dev/null; then
    note="no nvidia-smi"
    return 77
  fi
  timeout 60 nvidia-smi --query-gpu=name,memory.total,driver_version,compute_cap --format=csv,noheader
  local status=$?
  if [ $status -ne 0 ]; then
    note="nvidia-smi failed (status $status); the build keeps the default architectures"
    return 77
  fi
  local arch
  arch=$(timeout 60 nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -n1 | tr -d '. ')
  case "$arch" in ''|*[!0-9]*) arch="" ;; esac
  echo "$arch" >"$state/arch"
  note="$(timeout 60 nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -n1), sm_${arch:-?}"
  return 0
}

stage_configure() {
  if [ -z "$nvcc" ]; then
    note="no nvcc on this machine"
    return 77
  fi
  "$nvcc" --version | tail -n 2
  local options=() arch
  arch=$(cat "$state/arch" 2>/dev/null)
  if [ $dry -eq 0 ] || [ ! -f "$build/CMakeCache.txt" ]; then
    # A build directory of its own: this machine's toolkit, its GPU's architecture, the staged dependencies.
    command -v ninja >/dev/null && [ ! -f "$build/CMakeCache.txt" ] && options+=(-G Ninja)
    options+=(-DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_COMPILER="$nvcc" -DMETARM_BUILD_TESTS=ON
              -DMETARM_BUILD_EXAMPLES=ON -DMETARM_BUILD_BENCHMARKS=ON)
    [ -n "$arch" ] && options+=(-DCMAKE_CUDA_ARCHITECTURES="$arch")
    # Named directly and first on the search path, so the staged Catch2 2.x wins over a Catch2 3 that the
    # system may have.
    if [ -n "$deps" ]; then
      options+=(-DCMAKE_PREFIX_PATH="$deps" -DEigen3_DIR="$deps/share/eigen3/cmake" -DCatch2_DIR="$deps/lib/cmake/Catch2")
      cat "$deps/VERSIONS" 2>/dev/null
    fi
  fi
  # --dry-run with an existing build directory: configured as it is, so nothing is rebuilt.
  echo "cmake -S $root -B $build ${options[*]}"
  local configured
  configured=$(mktemp -p "$state")
  cmake -S "$root" -B "$build" "${options[@]}" 2>&1 | tee "$configured"
  if [ "${PIPESTATUS[0]}" -ne 0 ]; then
    note="cmake failed${deps:+ (dependencies from $deps)}"
    return 1
  fi
  if ! grep -q "metarm: CUDA backend enabled" "$configured"; then
    note="CMake did not enable the CUDA backend"
    return 1
  fi
  note=$(sed -n 's/^-- metarm: CUDA backend enabled (\(.*\))$/\1/p' "$configured" | head -n1)
  if [ ${#options[@]} -eq 0 ]; then
    note="$note; the build directory's own configuration"
  elif [ -n "$deps" ]; then
    note="$note; dependencies from ${deps#"$root"/}"
  else
    note="$note; the system's dependencies"
  fi
  return 0
}

targets=(metarm_cuda_tests cuda_quickstart custom_extensions_cuda metarm_gpu_step_timing)
stage_build() {
  if [ ! -f "$build/CMakeCache.txt" ] || [ -z "$nvcc" ]; then
    note="not configured"
    return 77
  fi
  local keep_going=(-k 0)
  grep -q "^CMAKE_GENERATOR:INTERNAL=Ninja" "$build/CMakeCache.txt" || keep_going=(-k)
  # The data-parallel GPU cases (NCCL, and ranks sharing a GPU), where CMake found MPI and NCCL.
  if cmake --build "$build" --target help 2>/dev/null | grep -q '^metarm_nccl_test:'; then
    targets+=(metarm_nccl_test)
  fi
  local jobs
  jobs=$(nproc)
  [ $dry -eq 1 ] && jobs=1  # CI's machine has 2 cores, and the build is normally up to date
  # Every target it can, even after one fails.
  timeout --kill-after=10 1200 cmake --build "$build" -j "$jobs" --target "${targets[@]}" -- "${keep_going[@]}"
  local status=$?
  local missing=()
  for target in "${targets[@]}"; do
    [ -n "$(program "$target")" ] || missing+=("$target")
  done
  if [ $status -ne 0 ] || [ ${#missing[@]} -gt 0 ]; then
    note="build failed (status $status)${missing[*]:+; not built: ${missing[*]}}"
    return 1
  fi
  note="${#targets[@]} targets"
  return 0
}

# Where a target's program is, or nothing.
program() {
  local path
  for path in "$build/tests/$1" "$build/examples/$1" "$build/benchmarks/$1"; do
    [ -x "$path" ] && { echo "$path"; return; }
  done
}

stage_cases_separate() {
  if [ -z "$(program metarm_cuda_tests)" ]; then
    note="metarm_cuda_tests was not built"
    [ -z "$nvcc" ] && return 77
    return 1
  fi
  local listing total passed skipped right_reason
  listing=$(mktemp -p "$state")
  # -V: each case's output goes to the log, the reason of a skip with it.
  timeout --kill-after=10 900 ctest --test-dir "$build" -R '^cuda/' -V --timeout 300 >"$listing" 2>&1
  local status=$?
  cat "$listing"
  total=$(grep -cE '^ *[0-9]+/[0-9]+ Test +#[0-9]+: cuda/' "$listing")
  passed=$(grep -E '^ *[0-9]+/[0-9]+ Test +#[0-9]+: cuda/' "$listing" | grep -cE ' Passed +[0-9.]+ sec')
  skipped=$(grep -E '^ *[0-9]+/[0-9]+ Test +#[0-9]+: cuda/' "$listing" | grep -cE 'Skipped +[0-9.]+ sec')
  right_reason=$(grep -cE "^[0-9]+: $skip_text" "$listing")
  note="$total cases: $passed passed, $skipped skipped, $((total - passed - skipped)) failed"
  if [ "$total" -eq 0 ]; then
    note="ctest found no CUDA case"
    return 1
  fi
  if [ $dry -eq 1 ]; then
    [ "$skipped" -eq "$total" ] && [ "$right_reason" -eq "$total" ] && return 0
    note="$note; expected all $total skipped with \"$skip_text\" ($right_reason said so)"
    return 1
  fi
  [ $status -eq 0 ] && [ "$passed" -eq "$total" ] && return 0
  return 1
}

# gpu_program NAME SECONDS ARGS...: runs a program that needs the GPU: status 0 passes; in a dry run, the
# skip (77, with its reason) passes.
gpu_program() {
  local name=$1 limit=$2; shift 2
  local path
  path=$(program "$name")
  if [ -z "$path" ]; then
    note="$name was not built"
    [ -z "$nvcc" ] && return 77
    return 1
  fi
  run_logged "$limit" "$path" "$@"
  if [ $dry -eq 1 ]; then
    if [ $rc -eq 77 ] && grep -q "^$skip_text" "$ran"; then
      note="status 77: $(grep -m1 "^$skip_text" "$ran" | cut -c1-100)..."
      return 0
    fi
    note="expected status 77 and \"$skip_text\", got status $rc"
    return 1
  fi
  case $rc in
    0) note="${note:-status 0}"; return 0 ;;
    77) note="status 77 where a GPU was expected: $(head -n1 "$ran" | cut -c1-80)"; return 1 ;;
    124|137) note="timed out after ${limit}s"; return 1 ;;
    *) note="status $rc: $(grep -m1 -iE 'error|fail' "$ran" | cut -c1-90)"; return 1 ;;
  esac
}

stage_cases_together() {
  gpu_program metarm_cuda_tests 600 --durations yes
  local status=$? totals
  if [ $dry -eq 0 ] && [ "$ran" != /dev/null ]; then
    totals=$(grep -E '^(All tests passed|test cases:)' "$ran" | tail -n1 | cut -c1-90)
    [ -n "$totals" ] && note="$totals"
  fi
  return $status
}
stage_quickstart() { gpu_program cuda_quickstart 300; }
stage_extensions() { gpu_program custom_extensions_cuda 300; }
stage_step_timing() { gpu_program metarm_gpu_step_timing 600; }

say "run.sh: $([ $dry -eq 1 ] && echo dry run || echo GPU run) in $root, build directory $build, report in $out"
say "run.sh: $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -n), $(nproc) cores, git $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
stage gpu stage_gpu
stage configure stage_configure
stage build stage_build
stage cases-separate stage_cases_separate
stage cases-together stage_cases_together
stage quickstart stage_quickstart
stage extensions stage_extensions
stage step-timing stage_step_timing

expected=8
if [ $stages_run -ne $expected ] || [ "$(wc -l <"$summary")" -ne $expected ]; then
  echo "FAIL  run.sh          every stage should have run: $stages_run of $expected did" >>"$summary"
  failed=1
fi
echo ""
echo "==== summary ($summary; full log $log)"
cat "$summary"
if [ $failed -ne 0 ]; then
  echo "run.sh: FAILED"
  exit 1
fi
echo "run.sh: passed"
exit 0
