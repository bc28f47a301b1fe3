// SPDX-License-Identifier: Apache-2.0
/// \file
/// Compile-time configuration shared by every layer.
#pragma once

#include <cstddef>

/// Scalar helpers are written once and called from host code and, when a translation unit is compiled by
/// nvcc, from device kernels too.
/// Marks a function for host and device: `__host__ __device__` under nvcc, nothing elsewhere.
#if defined(__CUDACC__)
#define METARM_HOST_DEVICE __host__ __device__
#else
#define METARM_HOST_DEVICE
#endif

namespace metarm {

/// Signed, like Eigen::Index, so that shape arithmetic never wraps silently.
using index_t = std::ptrdiff_t;

}  // namespace metarm
