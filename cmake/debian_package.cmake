# SPDX-License-Identifier: Apache-2.0
# The Debian package metarm-dev, built by `cpack -G DEB` in a build tree (scripts/package.sh does it all). It
# holds what the install rules put under the prefix: the headers, the CMake package, the pkg-config files,
# the metarm and metarm-simulate programs, and the documentation.

set(METARM_HOMEPAGE_URL "" CACHE STRING "The Homepage field of the Debian package (left out when empty)")

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME metarm-dev)
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_VENDOR "metarm authors")
set(CPACK_PACKAGE_CONTACT "metarm authors")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "C++20 header-only library for MetaRM reward-model training")
set(CPACK_PACKAGE_DESCRIPTION
  "metarm trains reward models that stay accurate when the policy's output distribution shifts during RLHF,
with MetaRM (a gradient-ascent step on a difference objective over unlabelled shifted responses before each
preference step), Bradley-Terry training and the MAML family, on Eigen (CPU) or CUDA.

This package holds the headers, the CMake package (find_package(metarm)), the pkg-config files metarm and
metarm-io, the programs metarm (train, evaluate and score on text preference data) and metarm-simulate
(iterative RLHF in simulation), and the documentation.")
set(CPACK_RESOURCE_FILE_LICENSE "${PROJECT_SOURCE_DIR}/LICENSE")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)  # the programs: Debian ships binaries stripped
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # metarm-dev_<version>_<architecture>.deb
set(CPACK_DEBIAN_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "metarm authors")
if(METARM_HOMEPAGE_URL)
  set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "${METARM_HOMEPAGE_URL}")
endif()

# What a program built against the headers needs besides a compiler: the packages behind the CMake
# package's find_dependency calls and the pkg-config files' Requires and Libs. The programs' own shared
# libraries (libgomp1, zlib1g, OpenBLAS's runtime, libstdc++6, libc6) come from dpkg-shlibdeps.
set(metarm_deb_depends "libeigen3-dev (>= 3.4)" "libfmt-dev (>= 9)")
if(METARM_WITH_BLAS AND BLA_VENDOR STREQUAL "OpenBLAS")
  # The OpenMP flavour first, the one whose threads are the rest of the library's.
  list(APPEND metarm_deb_depends "libopenblas-openmp-dev | libopenblas-dev")
endif()
if(METARM_WITH_IO)
  list(APPEND metarm_deb_depends "zlib1g-dev" "nlohmann-json3-dev (>= 3)")
endif()
list(JOIN metarm_deb_depends ", " CPACK_DEBIAN_PACKAGE_DEPENDS)
# The figures of metarm-simulate, which it skips, saying so, without gnuplot, and of metarm eval --plot and
# metarm plot, which say it is missing. Suggested, not recommended:
# apt installs what is recommended, and gnuplot-nox's own recommendations come to about 200 packages.
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "gnuplot-nox")

find_program(METARM_DPKG_SHLIBDEPS dpkg-shlibdeps)
mark_as_advanced(METARM_DPKG_SHLIBDEPS)
if(METARM_DPKG_SHLIBDEPS)
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
else()
  message(STATUS "metarm: dpkg-shlibdeps not found (Debian: dpkg-dev); a Debian package built here would not "
                 "name the programs' shared libraries")
endif()

include(CPack)
