# SPDX-License-Identifier: Apache-2.0
# Checks that the version macros of include/metarm/core/version.hpp name the version of CMakeLists.txt's
# project() call, and that CHANGELOG.md has a section for it.
#
#   cmake -DVERSION=<x.y.z> -DHEADER=<version.hpp> [-DCHANGELOG=<CHANGELOG.md>] -P cmake/check_version.cmake
#
# Every disagreement is listed, then the script fails; on success it prints one line.

cmake_minimum_required(VERSION 3.21)

if(NOT DEFINED VERSION OR NOT DEFINED HEADER)
  message(FATAL_ERROR "usage: cmake -DVERSION=<x.y.z> -DHEADER=<version.hpp> [-DCHANGELOG=<md file>] "
                      "-P check_version.cmake")
endif()
if(NOT VERSION MATCHES "^([0-9]+)\\.([0-9]+)\\.([0-9]+)$")
  message(FATAL_ERROR "version: '${VERSION}' is not a version of three numbers (x.y.z)")
endif()
set(expected_MAJOR "${CMAKE_MATCH_1}")
set(expected_MINOR "${CMAKE_MATCH_2}")
set(expected_PATCH "${CMAKE_MATCH_3}")

set(problems "")
file(STRINGS "${HEADER}" header_lines REGEX "^#define METARM_VERSION_(MAJOR|MINOR|PATCH) ")
set(header_version "")
foreach(part MAJOR MINOR PATCH)
  set(value "")
  foreach(line IN LISTS header_lines)
    if(line MATCHES "^#define METARM_VERSION_${part} +([0-9]+) *$")
      if(NOT value STREQUAL "")
        list(APPEND problems "${HEADER} defines METARM_VERSION_${part} more than once")
      endif()
      set(value "${CMAKE_MATCH_1}")
    endif()
  endforeach()
  if(value STREQUAL "")
    list(APPEND problems "${HEADER} has no '#define METARM_VERSION_${part} <number>'")
    set(value "?")
  endif()
  list(APPEND header_version "${value}")
endforeach()
list(JOIN header_version "." header_version)
if(NOT header_version STREQUAL VERSION)
  list(APPEND problems "${HEADER} says ${header_version}, the CMake project version is ${VERSION}")
endif()

# Keep a Changelog's heading for a release: "## [x.y.z] - YYYY-MM-DD".
if(DEFINED CHANGELOG)
  file(STRINGS "${CHANGELOG}" changelog_headings REGEX "^## \\[")
  string(REPLACE "." "\\." version_pattern "${VERSION}")
  list(FILTER changelog_headings INCLUDE REGEX "^## \\[${version_pattern}\\] - [0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]$")
  if(NOT changelog_headings)
    list(APPEND problems "${CHANGELOG} has no section '## [${VERSION}] - YYYY-MM-DD'")
  endif()
endif()

if(problems)
  list(LENGTH problems count)
  list(JOIN problems "\n  " listed)
  message(FATAL_ERROR "version: ${count} problem(s):\n  ${listed}")
endif()
if(DEFINED CHANGELOG)
  message(STATUS "version: ${VERSION} in the CMake project, ${HEADER} and ${CHANGELOG}")
else()
  message(STATUS "version: ${VERSION} in the CMake project and ${HEADER}")
endif()
