// SPDX-License-Identifier: Apache-2.0
/// \file
/// Clipping by global norm: the whole flat gradient is rescaled when its Euclidean norm exceeds a bound.
#pragma once

#include <cmath>

#include "metarm/backend/views.hpp"
#include "metarm/core/config.hpp"

namespace metarm {

/// Rescales grad so that its Euclidean norm is at most max_norm, as PyTorch's clip_grad_norm_ does.
///
/// Returns the norm before clipping. max_norm <= 0 (or infinity) disables clipping. As in PyTorch, the
/// gradient is scaled by max_norm / (norm + 1e-6) when norm > max_norm.
template <class Backend, class T>
double clip_by_global_norm(typename Backend::context& ctx, VectorView<T> grad, double max_norm) {
  const double norm = std::sqrt(static_cast<double>(Backend::squared_norm(ctx, as_const(grad))));
  if (max_norm > 0.0 && std::isfinite(max_norm) && norm > max_norm) {
    Backend::scale(ctx, static_cast<T>(max_norm / (norm + 1e-6)), grad);
  }
  return norm;
}

namespace detail {

template <class T>
struct SquaredTerms {
  const T* x;
  METARM_HOST_DEVICE double operator()(index_t i) const {
    const double v = static_cast<double>(x[i]);
    return v * v;
  }
};

// Reads the squared norm where the reduction left it, so that no value crosses to the host.
template <class T>
struct ScaleAboveNorm {
  T* x;
  const double* squared_norm;
  double max_norm;
  METARM_HOST_DEVICE void operator()(index_t i) const {
    using std::sqrt;
    const double norm = sqrt(*squared_norm);
    if (norm > max_norm) {
      x[i] *= static_cast<T>(max_norm / (norm + 1e-6));
    }
  }
};

}  // namespace detail

/// The same decision taken in backend memory: the squared norm before clipping is left at `squared_norm` (one
/// double of backend memory) and the scale is applied by a pass that reads it there, so the host never waits
/// for the device. The norm is added in double, in a fixed order.
template <class Backend, class T>
void clip_by_global_norm_into(typename Backend::context& ctx, VectorView<T> grad, double max_norm,
                              double* squared_norm) {
  Backend::reduce_into(ctx, grad.size, detail::SquaredTerms<T>{grad.data}, squared_norm);
  if (max_norm > 0.0 && std::isfinite(max_norm)) {
    Backend::for_each(ctx, grad.size, detail::ScaleAboveNorm<T>{grad.data, squared_norm, max_norm});
  }
}

}  // namespace metarm
