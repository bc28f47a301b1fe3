// SPDX-License-Identifier: Apache-2.0
/// \file
/// SGD with (heavy-ball or Nesterov) momentum, as PyTorch's SGD with dampening 0:
/// \verbatim
///   b = momentum * b + g',  g' = g + weight_decay * p
///   p -= lr * b                       (heavy ball)
///   p -= lr * (g' + momentum * b)     (Nesterov)
/// \endverbatim
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

/// One momentum update of one element; weight decay and Nesterov's form are compile-time choices (see
/// SgdRule).
template <class T, bool WeightDecay = true, bool Nesterov = false>
struct MomentumRule {
  /// This update's learning rate.
  T learning_rate;
  /// The momentum coefficient.
  T momentum;
  /// The L2 coefficient added to the gradient, when WeightDecay.
  T weight_decay;

  /// Updates one parameter and its momentum buffer in place.
  METARM_HOST_DEVICE void operator()(T& param, T grad, T& velocity) const {
    T g = grad;
    if constexpr (WeightDecay) g += weight_decay * param;
    const T b = momentum * velocity + g;
    velocity = b;
    if constexpr (Nesterov) {
      param -= learning_rate * (g + momentum * b);
    } else {
      param -= learning_rate * b;
    }
  }
};

/// SGD with heavy-ball or Nesterov momentum, as PyTorch's SGD with dampening 0.
struct Momentum {
  /// "momentum", as checkpoints record it.
  static constexpr std::string_view name = "momentum";
  /// The one state vector, named as PyTorch names it; checkpoints store it under this name.
  static constexpr std::array<std::string_view, 1> state_names{"momentum_buffer"};

  /// The base learning rate, which the schedule multiplies.
  double learning_rate = 1e-2;
  /// The momentum coefficient, in [0, 1).
  double momentum = 0.9;
  /// L2 weight decay, added to the gradient.
  double weight_decay = 0.0;
  /// Nesterov's form instead of the heavy ball.
  bool nesterov = false;

  /// Throws, naming the setting, when one is out of range.
  void validate() const {
    METARM_REQUIRE(std::isfinite(learning_rate) && learning_rate >= 0.0, "Momentum",
                   "argument 'learning_rate' must be finite and >= 0, got {:f}", learning_rate);
    METARM_REQUIRE(momentum >= 0.0 && momentum < 1.0, "Momentum",
                   "argument 'momentum' must be in [0, 1), got {:f}", momentum);
    METARM_REQUIRE(std::isfinite(weight_decay) && weight_decay >= 0.0, "Momentum",
                   "argument 'weight_decay' must be finite and >= 0, got {:f}", weight_decay);
  }

  /// One update of params from grad and the momentum buffer in `state`, at rate lr.
  template <class Backend, class T>
  void update(typename Backend::context& ctx, VectorView<T> params, VectorView<const T> grad,
              std::span<const VectorView<T>> state, double lr, std::int64_t, GradientNormSlot slot = {}) const {
    auto run = [&]<bool WeightDecay, bool Nesterov>() {
      const MomentumRule<T, WeightDecay, Nesterov> rule{static_cast<T>(lr), static_cast<T>(momentum),
                                                        static_cast<T>(weight_decay)};
      apply_elementwise<Backend>(ctx, slot, rule, params, grad, state[0]);
    };
    if (weight_decay == 0.0) {
      nesterov ? run.template operator()<false, true>() : run.template operator()<false, false>();
    } else {
      nesterov ? run.template operator()<true, true>() : run.template operator()<true, false>();
    }
  }
};

}  // namespace metarm
