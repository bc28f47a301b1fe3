#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The GPU machines run an image with nvcc, CMake and ninja but without Eigen and Catch2, and they cannot
# download anything. Run this where Debian's libeigen3-dev and catch2 (2.x, as in Debian 12) are installed
# (scripts/install-deps.sh installs them): it copies their headers and CMake files into .gpu-deps/ at the
# repository root (ignored by git, about 10 MB), which run.sh takes before anything installed on the machine
# it runs on, so a Catch2 3 there does not matter. Carry .gpu-deps along with the working tree (docs/cuda.md).
#   benchmarks/gpu/stage-deps.sh
# Where the system's Catch2 is 3.x, point CATCH2_DIR at a Catch2 2.x installation prefix (the folder that
# holds include/catch2/catch.hpp and lib/cmake/Catch2/Catch.cmake).
set -euo pipefail
cd "$(dirname "$0")/../.."
dest=.gpu-deps
catch2=${CATCH2_DIR:-/usr}
eigen=/usr/include/eigen3

header=$catch2/include/catch2/catch.hpp
if ! grep -qs '^#define CATCH_VERSION_MAJOR 2$' "$header"; then
  echo "stage-deps: no Catch2 2.x single header at $header (apt-get install catch2 on Debian 12, or set CATCH2_DIR)" >&2
  exit 1
fi
catch2_cmake=$catch2/lib/cmake/Catch2
[ -f "$catch2_cmake/Catch.cmake" ] || catch2_cmake=$catch2/share/Catch2/cmake
for file in Catch.cmake CatchAddTests.cmake Catch2ConfigVersion.cmake; do
  [ -f "$catch2_cmake/$file" ] || { echo "stage-deps: $catch2_cmake/$file is missing" >&2; exit 1; }
done
[ -f "$eigen/Eigen/Core" ] || { echo "stage-deps: no Eigen at $eigen (apt-get install libeigen3-dev)" >&2; exit 1; }
eigen_version=/usr/share/eigen3/cmake/Eigen3ConfigVersion.cmake
[ -f "$eigen_version" ] || { echo "stage-deps: $eigen_version is missing" >&2; exit 1; }

rm -rf "$dest"
mkdir -p "$dest/include/eigen3" "$dest/include/catch2" "$dest/share/eigen3/cmake" "$dest/lib/cmake/Catch2"
cp -r "$eigen/Eigen" "$eigen/signature_of_eigen3_matrix_library" "$dest/include/eigen3/"
cp "$header" "$dest/include/catch2/"
cp "$eigen_version" "$dest/share/eigen3/cmake/"
for file in Catch.cmake CatchAddTests.cmake Catch2ConfigVersion.cmake; do
  cp "$catch2_cmake/$file" "$dest/lib/cmake/Catch2/"
done
cat > "$dest/share/eigen3/cmake/Eigen3Config.cmake" <<'CMAKE'
get_filename_component(_staged_root "${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)
if(NOT TARGET Eigen3::Eigen)
  add_library(Eigen3::Eigen INTERFACE IMPORTED)
  set_target_properties(Eigen3::Eigen PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${_staged_root}/include/eigen3")
endif()
set(EIGEN3_INCLUDE_DIR "${_staged_root}/include/eigen3")
CMAKE
cat > "$dest/lib/cmake/Catch2/Catch2Config.cmake" <<'CMAKE'
get_filename_component(_staged_root "${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)
if(NOT TARGET Catch2::Catch2)
  add_library(Catch2::Catch2 INTERFACE IMPORTED)
  set_target_properties(Catch2::Catch2 PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${_staged_root}/include")
endif()
list(APPEND CMAKE_MODULE_PATH "${CMAKE_CURRENT_LIST_DIR}")
CMAKE
{
  echo "eigen $(sed -n 's/^set(PACKAGE_VERSION "\(.*\)")$/\1/p' "$eigen_version")"
  echo "catch2 $(sed -n 's/^#define CATCH_VERSION_\(MAJOR\|MINOR\|PATCH\) \([0-9]*\)$/\2/p' "$header" | paste -sd.)"
} > "$dest/VERSIONS"
cat "$dest/VERSIONS"
du -sh "$dest"
