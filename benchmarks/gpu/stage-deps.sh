#!/usr/bin/env bash
# The GPU machines run an image with nvcc, CMake and ninja but without Debian's Eigen and Catch2 packages,
# and they cannot download anything. Run this where those packages are installed: it copies their headers
# and CMake package files into .gpu-deps/ at the repository root (ignored by git), which run.sh picks up.
# Carry .gpu-deps along with the working tree to the GPU machine.
set -euo pipefail
cd "$(dirname "$0")/../.."
dest=.gpu-deps
rm -rf "$dest"
mkdir -p "$dest/include" "$dest/share/eigen3/cmake" "$dest/lib/cmake/Catch2"
cp -r /usr/include/eigen3 "$dest/include/"
cp -r /usr/include/catch2 "$dest/include/"
cp /usr/share/eigen3/cmake/Eigen3ConfigVersion.cmake "$dest/share/eigen3/cmake/"
cp /usr/lib/cmake/Catch2/Catch.cmake /usr/lib/cmake/Catch2/CatchAddTests.cmake \
   /usr/lib/cmake/Catch2/Catch2ConfigVersion.cmake "$dest/lib/cmake/Catch2/"
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
du -sh "$dest"
