# SPDX-License-Identifier: Apache-2.0
# pkg-config files for builds without CMake: metarm.pc gives the flags that linking metarm::metarm adds to a
# program, metarm-io.pc those of metarm::io. Included by CMakeLists.txt after the targets are defined.
#
# They go to share/pkgconfig, where pkg-config keeps the files that hold nothing specific to one architecture
# (Eigen's eigen3.pc is there too): the library is headers only, and the flags name libraries with -l, which
# the linker resolves for whatever architecture it builds for.
#
# The prefix is found from where the file lies (${pcfiledir}), so that an unpacked package or a moved prefix
# works without pkg-config's --define-prefix.

set(METARM_PKGCONFIG_DIR "${CMAKE_INSTALL_DATADIR}/pkgconfig")
if(IS_ABSOLUTE "${METARM_PKGCONFIG_DIR}")
  set(METARM_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
else()
  file(RELATIVE_PATH metarm_pc_up "/${METARM_PKGCONFIG_DIR}" "/")
  string(REGEX REPLACE "/$" "" metarm_pc_up "${metarm_pc_up}")
  set(METARM_PC_PREFIX "\${pcfiledir}/${metarm_pc_up}")
endif()
if(IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  set(METARM_PC_INCLUDEDIR "${CMAKE_INSTALL_INCLUDEDIR}")
else()
  set(METARM_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
endif()

# The same decisions as the metarm target's above (OpenMP, -fno-math-errno, BLAS), as flags.
set(metarm_pc_cflags "-std=c++20")
set(metarm_pc_libs "")
if(CMAKE_CXX_COMPILER_ID MATCHES "^(GNU|Clang)$")
  list(APPEND metarm_pc_cflags "-fno-math-errno")
endif()
if(METARM_WITH_OPENMP)
  list(APPEND metarm_pc_cflags ${OpenMP_CXX_FLAGS})
  list(APPEND metarm_pc_libs ${OpenMP_CXX_FLAGS})
elseif(CMAKE_CXX_COMPILER_ID MATCHES "^(GNU|Clang)$")
  list(APPEND metarm_pc_cflags "-fopenmp-simd" "-DMETARM_OPENMP_SIMD")
endif()
if(METARM_WITH_BLAS)
  list(APPEND metarm_pc_cflags "-DMETARM_BLAS")
  if(BLA_VENDOR STREQUAL "OpenBLAS")
    list(APPEND metarm_pc_cflags "-DMETARM_BLAS_OPENBLAS")
    # By name, not by the path CMake found: the path is the build machine's (its multiarch directory).
    list(APPEND metarm_pc_libs "-lopenblas")
  else()
    list(APPEND metarm_pc_libs ${BLAS_LINKER_FLAGS} ${BLAS_LIBRARIES})
  endif()
endif()
list(JOIN metarm_pc_cflags " " METARM_PC_CFLAGS)
list(JOIN metarm_pc_libs " " METARM_PC_LIBS)

configure_file(${PROJECT_SOURCE_DIR}/cmake/metarm.pc.in ${PROJECT_BINARY_DIR}/metarm.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/metarm.pc DESTINATION ${METARM_PKGCONFIG_DIR})
if(METARM_WITH_IO)
  configure_file(${PROJECT_SOURCE_DIR}/cmake/metarm-io.pc.in ${PROJECT_BINARY_DIR}/metarm-io.pc @ONLY)
  install(FILES ${PROJECT_BINARY_DIR}/metarm-io.pc DESTINATION ${METARM_PKGCONFIG_DIR})
endif()
