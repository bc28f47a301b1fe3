// SPDX-License-Identifier: Apache-2.0
/// \file
/// metarm::cuda, the CUDA backend. It exists in translation units compiled by nvcc; anywhere else the name
/// is declared so that using it fails with a static_assert that says how to enable it.
#pragma once

#if defined(__CUDACC__)

#include "metarm/backend/cuda/backend.hpp"
#include "metarm/backend/cuda/probe_devices.hpp"

#else

#include <type_traits>

namespace metarm {

namespace detail {
template <class Tag>
inline constexpr bool cuda_compiled = false;

template <class Tag = void>
struct cuda_unavailable {
  static_assert(cuda_compiled<Tag>,
                "metarm::cuda is only available in translation units compiled by nvcc: compile this file as CUDA "
                "(a .cu file), link the CMake target metarm::cuda, and configure with METARM_ENABLE_CUDA=ON (the "
                "default when nvcc is found).");
  using context = int;
  template <class T>
  using buffer = T*;
};
}  // namespace detail

// Naming metarm::cuda compiles; using any of its members instantiates the static_assert above.
using cuda = detail::cuda_unavailable<>;

}  // namespace metarm

#endif
