// SGD with (heavy-ball or Nesterov) momentum, as PyTorch's SGD with dampening 0:
//   b = momentum * b + g',  g' = g + weight_decay * p
//   p -= lr * b                       (heavy ball)
//   p -= lr * (g' + momentum * b)     (Nesterov)
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "metarm/backend/views.hpp"
#include "metarm/core/error.hpp"

namespace metarm {

struct Momentum {
  static constexpr std::string_view name = "momentum";
  static constexpr std::array<std::string_view, 1> state_names{"momentum_buffer"};

  double learning_rate = 1e-2;
  double momentum = 0.9;
  double weight_decay = 0.0;
  bool nesterov = false;

  void validate() const {
    METARM_REQUIRE(std::isfinite(learning_rate) && learning_rate >= 0.0, "Momentum",
                   "argument 'learning_rate' must be finite and >= 0, got " + std::to_string(learning_rate));
    METARM_REQUIRE(momentum >= 0.0 && momentum < 1.0, "Momentum",
                   "argument 'momentum' must be in [0, 1), got " + std::to_string(momentum));
    METARM_REQUIRE(std::isfinite(weight_decay) && weight_decay >= 0.0, "Momentum",
                   "argument 'weight_decay' must be finite and >= 0, got " + std::to_string(weight_decay));
  }

  template <class Backend, class T>
  void update(typename Backend::context& ctx, VectorView<T> params, VectorView<const T> grad,
              std::span<const VectorView<T>> state, double lr, std::int64_t) const {
    Backend::momentum_update(ctx, params, grad, state[0], static_cast<T>(lr), static_cast<T>(momentum),
                             static_cast<T>(weight_decay), nesterov);
  }
};

}  // namespace metarm
