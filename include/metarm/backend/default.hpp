// SPDX-License-Identifier: Apache-2.0
/// \file
/// The backend a template uses when the program does not name one: metarm::cuda in translation units
/// compiled by nvcc with CUDA enabled (METARM_ENABLE_CUDA, set by the metarm::cuda CMake target), metarm::cpu
/// everywhere else. Define METARM_DEFAULT_BACKEND before including metarm to choose another; code can always
/// name a backend type explicitly instead.
///
/// A CUDA translation unit does not include the CPU backend (Eigen and nvcc do not mix cleanly); one that
/// wants it anyway includes metarm/backend/cpu.hpp itself.
#pragma once

/// The backend type default_backend names; define it before including metarm to choose another.
#if defined(__CUDACC__) && defined(METARM_ENABLE_CUDA)
#include "metarm/backend/cuda.hpp"
#ifndef METARM_DEFAULT_BACKEND
#define METARM_DEFAULT_BACKEND ::metarm::cuda
#endif
#else
#include "metarm/backend/cpu.hpp"
#ifndef METARM_DEFAULT_BACKEND
#define METARM_DEFAULT_BACKEND ::metarm::cpu
#endif
#endif

namespace metarm {

/// The backend that templates use when the program names none: see METARM_DEFAULT_BACKEND.
using default_backend = METARM_DEFAULT_BACKEND;

}  // namespace metarm
