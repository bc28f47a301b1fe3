#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs what metarm needs to build, test and run its examples on Debian 12. Does nothing when every
# package is already present, so the other scripts can call it on each run.
set -euo pipefail

packages=(cmake ninja-build g++ make libeigen3-dev catch2 libbenchmark-dev zlib1g-dev nlohmann-json3-dev)

packages+=(libcli11-dev)  # the command lines of metarm and metarm-simulate
packages+=(libfmt-dev)    # the text output of metarm-simulate
packages+=(gnuplot-nox)   # the figures of metarm-simulate
packages+=(doxygen)       # the API reference (scripts/docs.sh), built by a ctest case
# The CPU's matrix products (METARM_USE_BLAS=AUTO finds it): kernels chosen at run time for the CPU, OpenMP
# threads as the rest of the library.
packages+=(libopenblas-openmp-dev)
# The Debian package (scripts/package.sh): dpkg-shlibdeps names the programs' shared libraries, and the
# package's tests build a consumer through pkg-config.
packages+=(dpkg-dev pkgconf)
# ThreadSanitizer's run-time library for g++ (scripts/test.sh --tsan).
packages+=(libtsan2)
# Data-parallel training (metarm::mpi, metarm/distributed/mpi.hpp) and its tests, which run under mpirun.
packages+=(libopenmpi-dev openmpi-bin)
# libFuzzer and the sanitizers under clang (scripts/fuzz.sh).
packages+=(clang-14 libclang-rt-14-dev)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
