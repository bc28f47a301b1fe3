// SPDX-License-Identifier: Apache-2.0
/// \file
/// Numerically stable scalar functions used by layers, losses and optimisers on every backend.
#pragma once

#include <cmath>
#include <limits>

#include "metarm/core/config.hpp"

namespace metarm {

/// log(1 + e^z) without overflow for large |z| and without cancellation for very negative z.
template <class T>
METARM_HOST_DEVICE inline T softplus(T z) {
  using std::exp;
  using std::fabs;
  using std::log1p;
  return (z > T(0) ? z : T(0)) + log1p(exp(-fabs(z)));
}

/// 1 / (1 + e^-z), evaluated on the side where the exponential cannot overflow.
template <class T>
METARM_HOST_DEVICE inline T sigmoid(T z) {
  using std::exp;
  if (z >= T(0)) {
    return T(1) / (T(1) + exp(-z));
  }
  const T e = exp(z);
  return e / (T(1) + e);
}

/// A quiet NaN, in host and device code.
METARM_HOST_DEVICE inline double quiet_nan() {
#if defined(__CUDA_ARCH__)
  return __longlong_as_double(0x7ff8000000000000LL);
#else
  return std::numeric_limits<double>::quiet_NaN();
#endif
}

/// +infinity, in host and device code.
METARM_HOST_DEVICE inline double positive_infinity() {
#if defined(__CUDA_ARCH__)
  return __longlong_as_double(0x7ff0000000000000LL);
#else
  return std::numeric_limits<double>::infinity();
#endif
}

/// std::isfinite on the host, CUDA's isfinite in device code.
template <class T>
METARM_HOST_DEVICE inline bool is_finite(T x) {
#if defined(__CUDA_ARCH__)
  return isfinite(x);
#else
  return std::isfinite(x);
#endif
}

/// -1, 0 or +1 as x is negative, zero or positive (0 for NaN).
template <class T>
METARM_HOST_DEVICE inline T sign_of(T x) {
  return static_cast<T>((x > T(0)) - (x < T(0)));
}

}  // namespace metarm
