// Clipping by global norm: the whole flat gradient is rescaled when its Euclidean norm exceeds a bound.
#pragma once

#include <cmath>

#include "metarm/backend/views.hpp"

namespace metarm {

// Returns the norm before clipping. max_norm <= 0 (or infinity) disables clipping. As in PyTorch, the
// gradient is scaled by max_norm / (norm + 1e-6) when norm > max_norm.
template <class Backend, class T>
double clip_by_global_norm(typename Backend::context& ctx, VectorView<T> grad, double max_norm) {
  const double norm = std::sqrt(static_cast<double>(Backend::squared_norm(ctx, as_const(grad))));
  if (max_norm > 0.0 && std::isfinite(max_norm) && norm > max_norm) {
    Backend::scale(ctx, static_cast<T>(max_norm / (norm + 1e-6)), grad);
  }
  return norm;
}

}  // namespace metarm
