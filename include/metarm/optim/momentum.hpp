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
#include "metarm/optim/elementwise_update.hpp"

namespace metarm {

template <class T>
struct MomentumRule {
  T learning_rate;
  T momentum;
  T weight_decay;
  bool nesterov;

  METARM_HOST_DEVICE void operator()(T& param, T grad, T& velocity) const {
    const T g = weight_decay == T(0) ? grad : grad + weight_decay * param;
    const T b = momentum * velocity + g;
    velocity = b;
    param -= learning_rate * (nesterov ? g + momentum * b : b);
  }
};

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

  template <class T>
  MomentumRule<T> rule(double lr) const {
    return {static_cast<T>(lr), static_cast<T>(momentum), static_cast<T>(weight_decay), nesterov};
  }

  template <class Backend, class T>
  void update(typename Backend::context& ctx, VectorView<T> params, VectorView<const T> grad,
              std::span<const VectorView<T>> state, double lr, std::int64_t) const {
    apply_elementwise<Backend>(ctx, rule<T>(lr), params, grad, state[0]);
  }
};

}  // namespace metarm
