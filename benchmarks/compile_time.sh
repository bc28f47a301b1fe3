#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# How long the examples take to compile at -O2, in user CPU seconds (the median of REPEAT compiles), in three
# ways: from the headers alone; linking metarm::precompiled (-DMETARM_PRECOMPILED); and with a precompiled
# metarm/metarm.hpp as well (built once first, its own time reported apart). The flags are those of the default
# build with OpenBLAS (METARM_BLAS), without -march.
#   benchmarks/compile_time.sh [REPEAT]        (default 3; CXX names the compiler, default g++)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
repeat=${1:-3}
cxx=${CXX:-g++}
case "$repeat" in '' | *[!0-9]* | 0) echo "compile_time: REPEAT must be a positive whole number, got '$repeat'" >&2; exit 2 ;; esac
command -v "$cxx" >/dev/null || { echo "compile_time: no compiler '$cxx'" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "compile_time: /usr/bin/time is missing (apt-get install time)" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
flags=(-std=c++20 -O2 -fopenmp -fno-math-errno -DMETARM_BLAS -DMETARM_BLAS_OPENBLAS -I "$root/include"
       -isystem /usr/include/eigen3)

# User CPU seconds of one compile: output $1, source $2, the rest extra flags.
seconds() {
  local output=$1 source=$2
  shift 2
  /usr/bin/time -f %U -o "$work/time" "$cxx" "${flags[@]}" "$@" -c "$source" -o "$output"
  cat "$work/time"
}

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

mkdir -p "$work/pch"
printf '#include <metarm/metarm.hpp>\n' >"$work/pch/metarm_pch.hpp"
pch_seconds=$(seconds "$work/pch/metarm_pch.hpp.gch" "$work/pch/metarm_pch.hpp" -DMETARM_PRECOMPILED -x c++-header)

printf '#include <metarm/metarm.hpp>\nint main() { return 0; }\n' >"$work/include_only.cpp"
declare -a include_only=()
for ((i = 0; i < repeat; ++i)); do include_only+=("$(seconds "$work/out.o" "$work/include_only.cpp")"); done

echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; $("$cxx" --version | head -1); load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "precompiled metarm/metarm.hpp: built once in ${pch_seconds} s"
echo "a file that includes metarm/metarm.hpp and does nothing: $(printf '%s\n' "${include_only[@]}" | median) s"
echo
echo "| example | headers only | with metarm::precompiled | with it and the precompiled header |"
echo "|---|---|---|---|"
for example in quickstart custom_strategy; do
  source="$root/examples/$example.cpp"
  declare -a headers=() library=() pch=()
  for ((i = 0; i < repeat; ++i)); do
    # Interleaved, so that a change in the machine's load touches the three alike.
    headers+=("$(seconds "$work/out.o" "$source")")
    library+=("$(seconds "$work/out.o" "$source" -DMETARM_PRECOMPILED)")
    pch+=("$(seconds "$work/out.o" "$source" -DMETARM_PRECOMPILED -include "$work/pch/metarm_pch.hpp" -Winvalid-pch \
      -Werror=invalid-pch)")
  done
  printf '| `%s.cpp` | %s s | %s s | %s s |\n' "$example" \
    "$(printf '%s\n' "${headers[@]}" | median)" "$(printf '%s\n' "${library[@]}" | median)" \
    "$(printf '%s\n' "${pch[@]}" | median)"
done
