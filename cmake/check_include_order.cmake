# SPDX-License-Identifier: Apache-2.0
# Checks that every header under include/metarm/<folder>/ includes only its own folder and the folders above
# it in the table under "## Layers" in docs/architecture.md.
#
#   cmake -DSOURCE_DIR=<root> -P cmake/check_include_order.cmake
#
# Optional: -DARCHITECTURE=<md file> (default <root>/docs/architecture.md) and -DINCLUDE_DIR=<dir> (default
# <root>/include/metarm), so that a test can point it at a fixture. The folder order is the order of the table
# rows "| `core/` | ... |". A header's folder is the first folder below INCLUDE_DIR on its path, so
# backend/cuda/ belongs to backend/. The headers directly in INCLUDE_DIR (the umbrella headers metarm.hpp,
# io.hpp, sim.hpp) are exempt; a header in a folder that includes one of them includes the folders it brings
# in. Includes are those of the form #include "metarm/..." or <metarm/...>, and quoted relative paths that
# lead to a header under INCLUDE_DIR. Every violation is listed, then the script fails; on success it prints
# one line.

cmake_minimum_required(VERSION 3.21)

if(NOT DEFINED SOURCE_DIR AND (NOT DEFINED ARCHITECTURE OR NOT DEFINED INCLUDE_DIR))
  message(FATAL_ERROR "usage: cmake -DSOURCE_DIR=<root> [-DARCHITECTURE=<md file>] [-DINCLUDE_DIR=<dir>] "
                      "-P check_include_order.cmake")
endif()
if(NOT DEFINED ARCHITECTURE)
  set(ARCHITECTURE "${SOURCE_DIR}/docs/architecture.md")
endif()
if(NOT DEFINED INCLUDE_DIR)
  set(INCLUDE_DIR "${SOURCE_DIR}/include/metarm")
endif()
get_filename_component(ARCHITECTURE "${ARCHITECTURE}" ABSOLUTE)
get_filename_component(INCLUDE_DIR "${INCLUDE_DIR}" ABSOLUTE)
if(DEFINED SOURCE_DIR)
  get_filename_component(SOURCE_DIR "${SOURCE_DIR}" ABSOLUTE)
endif()

# A path as the messages show it: relative to SOURCE_DIR when it lies inside it.
function(shown_path path out)
  set(shown "${path}")
  if(DEFINED SOURCE_DIR)
    cmake_path(IS_PREFIX SOURCE_DIR "${path}" NORMALIZE inside)
    if(inside)
      file(RELATIVE_PATH shown "${SOURCE_DIR}" "${path}")
    endif()
  endif()
  set(${out} "${shown}" PARENT_SCOPE)
endfunction()

# The folders whose headers an umbrella header (one directly in INCLUDE_DIR) includes, following the umbrella
# headers it includes in turn.
function(umbrella_folders umbrella out)
  set(pending "${umbrella}")
  set(seen "")
  set(folders "")
  while(pending)
    list(POP_FRONT pending current)
    if(current IN_LIST seen OR NOT EXISTS "${INCLUDE_DIR}/${current}")
      continue()
    endif()
    list(APPEND seen "${current}")
    file(STRINGS "${INCLUDE_DIR}/${current}" lines REGEX "^[ \t]*#[ \t]*include[ \t]*[\"<]metarm/")
    foreach(line IN LISTS lines)
      if(line MATCHES "[\"<]metarm/([^/\">]+)/")
        list(APPEND folders "${CMAKE_MATCH_1}")
      elseif(line MATCHES "[\"<]metarm/([^/\">]+)[\">]")
        list(APPEND pending "${CMAKE_MATCH_1}")
      endif()
    endforeach()
  endwhile()
  list(REMOVE_DUPLICATES folders)
  set(${out} "${folders}" PARENT_SCOPE)
endfunction()

if(NOT EXISTS "${ARCHITECTURE}")
  message(FATAL_ERROR "include order: ${ARCHITECTURE} does not exist")
endif()
if(NOT IS_DIRECTORY "${INCLUDE_DIR}")
  message(FATAL_ERROR "include order: ${INCLUDE_DIR} is not a directory")
endif()
shown_path("${ARCHITECTURE}" architecture_shown)

# The folder order: the rows of the table under "## Layers", up to the next heading of that level or above.
# (file(STRINGS) escapes the semicolons in a line, so a row stays one element.)
file(STRINGS "${ARCHITECTURE}" architecture_lines)
set(order "")
set(in_layers FALSE)
set(found_heading FALSE)
set(in_code FALSE)  # inside a fenced code block, where "## " is not a heading
foreach(line IN LISTS architecture_lines)
  if(line MATCHES "^[ \t]*```")
    if(in_code)
      set(in_code FALSE)
    else()
      set(in_code TRUE)
    endif()
  elseif(in_code)
    continue()
  elseif(line MATCHES "^##?[ \t]")
    string(STRIP "${line}" heading)
    if(heading STREQUAL "## Layers")
      set(in_layers TRUE)
      set(found_heading TRUE)
    else()
      set(in_layers FALSE)
    endif()
  elseif(in_layers AND line MATCHES "^[ \t]*\\|[ \t]*`([A-Za-z0-9_.-]+)/`[ \t]*\\|")
    set(folder "${CMAKE_MATCH_1}")
    if(folder IN_LIST order)
      message(FATAL_ERROR "include order: ${architecture_shown} lists ${folder}/ twice under \"## Layers\"")
    endif()
    list(APPEND order "${folder}")
  endif()
endforeach()
if(NOT found_heading)
  message(FATAL_ERROR "include order: ${architecture_shown} has no heading \"## Layers\"")
endif()
list(LENGTH order folder_count)
if(folder_count EQUAL 0)
  message(FATAL_ERROR "include order: the table under \"## Layers\" in ${architecture_shown} has no rows "
                      "of the form | `folder/` | ... |")
endif()

set(violations "")

# Every folder of headers must have its place in the table.
file(GLOB entries LIST_DIRECTORIES true RELATIVE "${INCLUDE_DIR}" "${INCLUDE_DIR}/*")
list(SORT entries)
foreach(entry IN LISTS entries)
  if(IS_DIRECTORY "${INCLUDE_DIR}/${entry}" AND NOT entry IN_LIST order)
    shown_path("${INCLUDE_DIR}/${entry}" entry_shown)
    list(APPEND violations "${entry_shown}/: folder is not in the table under \"## Layers\" in ${architecture_shown}")
  endif()
endforeach()

# The includes of every header in a folder.
file(GLOB_RECURSE headers RELATIVE "${INCLUDE_DIR}" "${INCLUDE_DIR}/*.hpp")
list(SORT headers)
set(header_count 0)
set(include_count 0)
foreach(header IN LISTS headers)
  if(NOT header MATCHES "^([^/]+)/")
    continue()  # an umbrella header directly in INCLUDE_DIR
  endif()
  set(folder "${CMAKE_MATCH_1}")
  list(FIND order "${folder}" folder_rank)
  if(folder_rank EQUAL -1)
    continue()  # reported above as a folder missing from the table
  endif()
  math(EXPR header_count "${header_count} + 1")
  shown_path("${INCLUDE_DIR}/${header}" header_shown)
  get_filename_component(header_dir "${INCLUDE_DIR}/${header}" DIRECTORY)

  file(STRINGS "${INCLUDE_DIR}/${header}" include_lines REGEX "^[ \t]*#[ \t]*include[ \t]*[\"<]")
  foreach(line IN LISTS include_lines)
    if(NOT line MATCHES "^[ \t]*#[ \t]*include[ \t]*([\"<])([^\">]+)[\">]")
      continue()
    endif()
    set(delimiter "${CMAKE_MATCH_1}")
    set(written "${CMAKE_MATCH_2}")
    # The included header relative to INCLUDE_DIR: "metarm/..." as written, or a quoted relative path that
    # resolves inside INCLUDE_DIR. Anything else (the standard library, Eigen, ...) is not ours.
    set(target "")
    if(written MATCHES "^metarm/(.+)$")
      set(target "${CMAKE_MATCH_1}")
    elseif(delimiter STREQUAL "\"")
      get_filename_component(resolved "${header_dir}/${written}" ABSOLUTE)
      cmake_path(IS_PREFIX INCLUDE_DIR "${resolved}" NORMALIZE inside)
      if(inside AND EXISTS "${resolved}")
        file(RELATIVE_PATH target "${INCLUDE_DIR}" "${resolved}")
      endif()
    endif()
    if(target STREQUAL "")
      continue()
    endif()
    math(EXPR include_count "${include_count} + 1")
    if(written MATCHES "^metarm/")
      set(included "${written}")
    else()
      set(included "${written} (metarm/${target})")
    endif()

    if(NOT target MATCHES "^([^/]+)/")
      # An umbrella header: its folders count as included.
      umbrella_folders("${target}" brought)
      set(below "")
      foreach(other IN LISTS brought)
        list(FIND order "${other}" other_rank)
        if(other_rank EQUAL -1 OR other_rank GREATER folder_rank)
          list(APPEND below "${other}/")
        endif()
      endforeach()
      if(below)
        list(JOIN below ", " below_text)
        list(APPEND violations "${header_shown}: includes ${included}, an umbrella header, which brings in ${below_text} below ${folder}/ in ${architecture_shown}")
      endif()
      continue()
    endif()
    set(other "${CMAKE_MATCH_1}")
    list(FIND order "${other}" other_rank)
    if(other_rank EQUAL -1)
      list(APPEND violations "${header_shown}: includes ${included}, and ${other}/ is not in the table in ${architecture_shown}")
    elseif(other_rank GREATER folder_rank)
      list(APPEND violations "${header_shown}: includes ${included} which is below ${folder}/ in ${architecture_shown}")
    endif()
  endforeach()
endforeach()

list(LENGTH violations violation_count)
if(violation_count GREATER 0)
  list(JOIN violations "\n  " listed)
  message(FATAL_ERROR "include order: ${violation_count} violation(s) of the folder order in ${architecture_shown} "
                      "(a header may include only its own folder and the folders above it):\n  ${listed}\n")
endif()

string(REPLACE ";" " " order_text "${order}")
message(STATUS "include order OK: ${header_count} headers, ${include_count} includes of metarm headers checked "
               "against the ${folder_count} folders of ${architecture_shown} (${order_text})")
