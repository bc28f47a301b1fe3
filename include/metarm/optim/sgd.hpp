// SPDX-License-Identifier: Apache-2.0
/// \file
/// Plain stochastic gradient descent: p -= lr * (g + weight_decay * p).
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "metarm/backend/views.hpp"
#include "metarm/core/error.hpp"
#include "metarm/optim/elementwise_update.hpp"

namespace metarm {

/// One SGD update of one element. Whether weight decay applies is a compile-time choice, so the loop has no
/// branch to keep it from vectorising; without it p is not read into the step, so a non-finite parameter
/// stays as it is instead of turning into NaN through 0 * p.
template <class T, bool WeightDecay = true>
struct SgdRule {
  /// This update's learning rate.
  T learning_rate;
  /// The L2 coefficient added to the gradient, when WeightDecay.
  T weight_decay;

  /// Updates one parameter in place.
  METARM_HOST_DEVICE void operator()(T& param, T grad) const {
    if constexpr (WeightDecay) {
      param -= learning_rate * (grad + weight_decay * param);
    } else {
      param -= learning_rate * grad;
    }
  }
};

/// Plain SGD with optional L2 weight decay: the smallest complete optimiser.
struct Sgd {
  /// "sgd", as checkpoints record it.
  static constexpr std::string_view name = "sgd";
  /// None: SGD keeps no state.
  static constexpr std::array<std::string_view, 0> state_names{};

  /// The base learning rate, which the schedule multiplies.
  double learning_rate = 1e-2;
  /// L2 weight decay, added to the gradient.
  double weight_decay = 0.0;

  /// Throws, naming the setting, when one is out of range.
  void validate() const {
    METARM_REQUIRE(std::isfinite(learning_rate) && learning_rate >= 0.0, "Sgd",
                   "argument 'learning_rate' must be finite and >= 0, got {:f}", learning_rate);
    METARM_REQUIRE(std::isfinite(weight_decay) && weight_decay >= 0.0, "Sgd",
                   "argument 'weight_decay' must be finite and >= 0, got {:f}", weight_decay);
  }

  /// One update of params from grad, at rate lr.
  ///
  /// `lr` is the scheduled rate for this update; `step` counts updates from 1. Given a slot, the same pass
  /// leaves the gradient's squared norm there.
  template <class Backend, class T>
  void update(typename Backend::context& ctx, VectorView<T> params, VectorView<const T> grad,
              std::span<const VectorView<T>>, double lr, std::int64_t, GradientNormSlot slot = {}) const {
    if (weight_decay == 0.0) {
      apply_elementwise<Backend>(ctx, slot, SgdRule<T, false>{static_cast<T>(lr), T(0)}, params, grad);
    } else {
      apply_elementwise<Backend>(ctx, slot, SgdRule<T, true>{static_cast<T>(lr), static_cast<T>(weight_decay)},
                                 params, grad);
    }
  }
};

}  // namespace metarm
