// SPDX-License-Identifier: Apache-2.0
/// \file
/// The library version: the numbers of project() in CMakeLists.txt, which a ctest case checks these against
/// (cmake/check_version.cmake). Changing the version means changing both, and CHANGELOG.md.
#pragma once

#include <string_view>

/// The major version; CMake reads it, with the two below, as the project's version.
#define METARM_VERSION_MAJOR 0
/// The minor version; CMake reads it as the project's.
#define METARM_VERSION_MINOR 2
/// The patch version; CMake reads it as the project's.
#define METARM_VERSION_PATCH 0

#define METARM_DETAIL_STRINGIFY_(x) #x
#define METARM_DETAIL_STRINGIFY(x) METARM_DETAIL_STRINGIFY_(x)
/// The version as a string literal, "major.minor.patch", for messages.
#define METARM_VERSION_STRING                                                                \
  METARM_DETAIL_STRINGIFY(METARM_VERSION_MAJOR)                                              \
  "." METARM_DETAIL_STRINGIFY(METARM_VERSION_MINOR) "." METARM_DETAIL_STRINGIFY(METARM_VERSION_PATCH)

namespace metarm {

/// METARM_VERSION_MAJOR, for C++ code.
inline constexpr int version_major = METARM_VERSION_MAJOR;
/// METARM_VERSION_MINOR, for C++ code.
inline constexpr int version_minor = METARM_VERSION_MINOR;
/// METARM_VERSION_PATCH, for C++ code.
inline constexpr int version_patch = METARM_VERSION_PATCH;
/// The version as "major.minor.patch", for messages and file metadata.
inline constexpr std::string_view version = METARM_VERSION_STRING;

}  // namespace metarm
