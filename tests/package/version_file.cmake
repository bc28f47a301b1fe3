# SPDX-License-Identifier: Apache-2.0
# Asks the CMake package's version file the questions find_package would, and fails unless it answers as
# CHANGELOG.md's "Versions" says: an installed version with the requested major version and not older than
# the request (SameMajorVersion), which under 1.0 means every 0.x; a range pins the minor version.
#
#   cmake -DVERSION_FILE=<metarmConfigVersion.cmake> -DVERSION=<x.y.z> -P version_file.cmake

cmake_minimum_required(VERSION 3.21)

if(NOT VERSION MATCHES "^([0-9]+)\\.([0-9]+)\\.([0-9]+)$")
  message(FATAL_ERROR "usage: cmake -DVERSION_FILE=<file> -DVERSION=<x.y.z> -P version_file.cmake")
endif()
set(major "${CMAKE_MATCH_1}")
set(minor "${CMAKE_MATCH_2}")
math(EXPR next_minor "${minor} + 1")
math(EXPR after_next_minor "${minor} + 2")
math(EXPR next_major "${major} + 1")

# Sets what find_package sets for a request ("x.y" or "x.y...<x.z") and reads the answer of the version file.
function(ask request out)
  foreach(var PACKAGE_VERSION_COMPATIBLE PACKAGE_VERSION_EXACT PACKAGE_VERSION_UNSUITABLE)
    unset(${var})
  endforeach()
  if(request MATCHES "^([0-9]+)\\.([0-9]+)\\.\\.\\.<([0-9]+)\\.([0-9]+)$")
    set(PACKAGE_FIND_VERSION_RANGE "${request}")
    set(PACKAGE_FIND_VERSION_RANGE_MIN INCLUDE)
    set(PACKAGE_FIND_VERSION_RANGE_MAX EXCLUDE)
    set(PACKAGE_FIND_VERSION_MIN "${CMAKE_MATCH_1}.${CMAKE_MATCH_2}")
    set(PACKAGE_FIND_VERSION_MIN_MAJOR "${CMAKE_MATCH_1}")
    set(PACKAGE_FIND_VERSION_MIN_MINOR "${CMAKE_MATCH_2}")
    set(PACKAGE_FIND_VERSION_MAX "${CMAKE_MATCH_3}.${CMAKE_MATCH_4}")
    set(PACKAGE_FIND_VERSION_MAX_MAJOR "${CMAKE_MATCH_3}")
    set(PACKAGE_FIND_VERSION_MAX_MINOR "${CMAKE_MATCH_4}")
    set(PACKAGE_FIND_VERSION "${PACKAGE_FIND_VERSION_MIN}")
  elseif(request MATCHES "^([0-9]+)\\.([0-9]+)$")
    set(PACKAGE_FIND_VERSION "${request}")
    set(PACKAGE_FIND_VERSION_MAJOR "${CMAKE_MATCH_1}")
    set(PACKAGE_FIND_VERSION_MINOR "${CMAKE_MATCH_2}")
    set(PACKAGE_FIND_VERSION_COUNT 2)
  else()
    message(FATAL_ERROR "ask: cannot read the request '${request}'")
  endif()
  include("${VERSION_FILE}")
  if(PACKAGE_VERSION_COMPATIBLE AND NOT PACKAGE_VERSION_UNSUITABLE)
    set(${out} yes PARENT_SCOPE)
  else()
    set(${out} no PARENT_SCOPE)
  endif()
endfunction()

set(cases
  "${major}.${minor}|yes"
  "${major}.${next_minor}|no"
  "${next_major}.0|no"
  "${major}.${minor}...<${major}.${next_minor}|yes"
  "${major}.${next_minor}...<${major}.${after_next_minor}|no")
if(minor GREATER 0)
  list(APPEND cases "${major}.0|yes")  # an older minor version of the same major: under 1.0 too
endif()

set(wrong "")
foreach(case IN LISTS cases)
  string(REPLACE "|" ";" parts "${case}")
  list(GET parts 0 request)
  list(GET parts 1 expected)
  ask("${request}" answer)
  if(NOT answer STREQUAL expected)
    list(APPEND wrong "find_package(metarm ${request}) with ${VERSION} installed: ${answer}, expected ${expected}")
  endif()
endforeach()
if(wrong)
  list(JOIN wrong "\n  " listed)
  message(FATAL_ERROR "version file ${VERSION_FILE}:\n  ${listed}")
endif()
list(LENGTH cases count)
message(STATUS "version file: ${count} requests answered as SameMajorVersion answers them for ${VERSION}")
