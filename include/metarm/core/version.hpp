// SPDX-License-Identifier: Apache-2.0
// The library version: the numbers of project() in CMakeLists.txt, which a ctest case checks these against
// (cmake/check_version.cmake). Changing the version means changing both, and CHANGELOG.md.
#pragma once

#include <string_view>

#define METARM_VERSION_MAJOR 0
#define METARM_VERSION_MINOR 2
#define METARM_VERSION_PATCH 0

#define METARM_DETAIL_STRINGIFY_(x) #x
#define METARM_DETAIL_STRINGIFY(x) METARM_DETAIL_STRINGIFY_(x)
#define METARM_VERSION_STRING                                                                \
  METARM_DETAIL_STRINGIFY(METARM_VERSION_MAJOR)                                              \
  "." METARM_DETAIL_STRINGIFY(METARM_VERSION_MINOR) "." METARM_DETAIL_STRINGIFY(METARM_VERSION_PATCH)

namespace metarm {

inline constexpr int version_major = METARM_VERSION_MAJOR;
inline constexpr int version_minor = METARM_VERSION_MINOR;
inline constexpr int version_patch = METARM_VERSION_PATCH;
inline constexpr std::string_view version = METARM_VERSION_STRING;

}  // namespace metarm
