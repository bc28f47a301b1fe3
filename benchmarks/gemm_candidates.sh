#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The product libraries Debian offers, timed on a training step's own float32 products (gemm_candidates.cpp):
# Eigen's kernels built without -march (what a program gets that sets none) and with -march=native, OpenBLAS
# and BLIS (each with its run-time choice of kernels), on 1 and 2 threads (Eigen splits a product over OpenMP
# threads itself here; the library splits them instead, see cpu::gemm). Prints one markdown table of
# GFLOP/s, with the machine it ran on. Needs g++, libeigen3-dev, libopenblas-openmp-dev, libblis-openmp-dev.
#   benchmarks/gemm_candidates.sh [OUTPUT_DIR]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$(mktemp -d)}"
mkdir -p "$out"
source="$here/gemm_candidates.cpp"
lib=/usr/lib/x86_64-linux-gnu
flags=(-std=c++20 -O3 -DNDEBUG -I/usr/include/eigen3)

g++ "${flags[@]}" -fopenmp "$source" -o "$out/eigen"
g++ "${flags[@]}" -fopenmp -march=native "$source" -o "$out/eigen-native"
candidates=(eigen eigen-native)
for blas in openblas blis; do
  dir="$lib/$blas-openmp"
  if [ -e "$dir/lib$blas.so" ] || ls "$dir"/lib"$blas".so* >/dev/null 2>&1; then
    g++ "${flags[@]}" -DMETARM_GEMM_CANDIDATE_BLAS "$source" -o "$out/$blas" -L"$dir" -Wl,-rpath,"$dir" -l"$blas"
    candidates+=("$blas")
  else
    echo "gemm_candidates: $dir has no lib$blas (apt-get install lib$blas-openmp-dev); skipping it" >&2
  fi
done

: > "$out/results.tsv"
for threads in 1 2; do
  for candidate in "${candidates[@]}"; do
    OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads BLIS_NUM_THREADS=$threads \
      "$out/$candidate" "$candidate/$threads" >> "$out/results.tsv"
  done
done

model=$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
simd=$(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -xE 'avx|avx2|fma|avx512f|avx512bw|avx512vl|amx_tile' | tr '\n' ' ')
echo "machine: $model, $(nproc) cores; flags: $simd"
/usr/bin/python3 - "$out/results.tsv" "${candidates[@]}" <<'PY'
import collections, sys
rows = collections.OrderedDict()
for line in open(sys.argv[1]):
    label, what, m, n, k, rate = line.rstrip("\n").split("\t")
    candidate, threads = label.split("/")
    rows.setdefault((what, m, n, k), {})[(candidate, threads)] = float(rate)
columns = [(c, t) for t in ("1", "2") for c in sys.argv[2:]]
print("| product | m x n x k | " + " | ".join(f"{c}, {t} thr" for c, t in columns) + " |")
print("|---|---|" + "---|" * len(columns))
for (what, m, n, k), rates in rows.items():
    best = {t: max(rates[(c, t)] for c, tt in columns if tt == t) for t in ("1", "2")}
    cells = []
    for c, t in columns:
        rate = rates[(c, t)]
        cells.append(f"**{rate:.1f}**" if rate == best[t] else f"{rate:.1f}")
    print(f"| {what} | {m} x {n} x {k} | " + " | ".join(cells) + " |")
PY
