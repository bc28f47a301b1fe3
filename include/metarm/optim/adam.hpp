// Adam (Kingma and Ba) and AdamW (Loshchilov and Hutter), with PyTorch's arithmetic:
//   m = beta1 m + (1 - beta1) g,  v = beta2 v + (1 - beta2) g^2
//   p -= (lr / (1 - beta1^t)) * m / (sqrt(v) / sqrt(1 - beta2^t) + epsilon)
// Adam adds weight_decay * p to g (L2); AdamW first shrinks p by (1 - lr * weight_decay) (decoupled).
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

namespace detail {

template <bool Decoupled>
struct AdamFamily {
  static constexpr std::string_view name = Decoupled ? "adamw" : "adam";
  static constexpr std::array<std::string_view, 2> state_names{"exp_avg", "exp_avg_sq"};

  double learning_rate = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double epsilon = 1e-8;
  double weight_decay = Decoupled ? 1e-2 : 0.0;

  void validate() const {
    const char* who = Decoupled ? "AdamW" : "Adam";
    METARM_REQUIRE(std::isfinite(learning_rate) && learning_rate >= 0.0, who,
                   "argument 'learning_rate' must be finite and >= 0, got " + std::to_string(learning_rate));
    METARM_REQUIRE(beta1 >= 0.0 && beta1 < 1.0, who, "argument 'beta1' must be in [0, 1), got " + std::to_string(beta1));
    METARM_REQUIRE(beta2 >= 0.0 && beta2 < 1.0, who, "argument 'beta2' must be in [0, 1), got " + std::to_string(beta2));
    METARM_REQUIRE(epsilon > 0.0, who, "argument 'epsilon' must be > 0, got " + std::to_string(epsilon));
    METARM_REQUIRE(std::isfinite(weight_decay) && weight_decay >= 0.0, who,
                   "argument 'weight_decay' must be finite and >= 0, got " + std::to_string(weight_decay));
  }

  template <class Backend, class T>
  void update(typename Backend::context& ctx, VectorView<T> params, VectorView<const T> grad,
              std::span<const VectorView<T>> state, double lr, std::int64_t step) const {
    const double t = static_cast<double>(step);
    Backend::adam_update(ctx, params, grad, state[0], state[1], static_cast<T>(lr), static_cast<T>(beta1),
                         static_cast<T>(beta2), static_cast<T>(1.0 - beta1), static_cast<T>(1.0 - beta2),
                         static_cast<T>(epsilon), static_cast<T>(weight_decay), Decoupled,
                         static_cast<T>(1.0 - std::pow(beta1, t)), static_cast<T>(1.0 - std::pow(beta2, t)));
  }
};

}  // namespace detail

using Adam = detail::AdamFamily<false>;
using AdamW = detail::AdamFamily<true>;

}  // namespace metarm
