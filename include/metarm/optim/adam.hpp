// SPDX-License-Identifier: Apache-2.0
/// \file
/// Adam (Kingma and Ba) and AdamW (Loshchilov and Hutter), with PyTorch's arithmetic:
/// \verbatim
///   m = beta1 m + (1 - beta1) g,  v = beta2 v + (1 - beta2) g^2
///   p -= (lr / (1 - beta1^t)) * m / (sqrt(v) / sqrt(1 - beta2^t) + epsilon)
/// \endverbatim
/// Adam adds weight_decay * p to g (L2); AdamW first shrinks p by (1 - lr * weight_decay) (decoupled).
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

/// How weight decay enters an Adam step: not at all, added to the gradient (Adam's L2), or as a shrink of the
/// parameters before the step (AdamW's decoupled decay).
enum class AdamDecay { none, l2, decoupled };

/// One Adam update of one element, with this step's coefficients. 1 - beta1 and 1 - beta2 are worked out in
/// double before rounding to T, as PyTorch does (1 - 0.999f in float is 1.3e-5 off in relative terms). The
/// kind of weight decay is a compile-time choice, so the loop has no branch to keep it from vectorising.
template <class T, AdamDecay Decay = AdamDecay::none>
struct AdamRule {
  T step_size;              ///< lr / (1 - beta1^t)
  T bias_correction2_sqrt;  ///< sqrt(1 - beta2^t)
  /// Decay of the first moment.
  T beta1;
  /// Decay of the second moment.
  T beta2;
  /// 1 - beta1, worked out in double.
  T one_minus_beta1;
  /// 1 - beta2, worked out in double.
  T one_minus_beta2;
  /// Added to the second moment's square root, as in PyTorch.
  T epsilon;
  T shrink;  ///< 1 - lr * weight_decay, for AdamDecay::decoupled
  T l2;      ///< weight_decay, for AdamDecay::l2

  /// Updates one parameter and its two moments in place.
  METARM_HOST_DEVICE void operator()(T& param, T grad, T& exp_avg, T& exp_avg_sq) const {
    T g = grad;
    if constexpr (Decay == AdamDecay::l2) g += l2 * param;
    const T m = beta1 * exp_avg + one_minus_beta1 * g;
    const T v = beta2 * exp_avg_sq + one_minus_beta2 * (g * g);
    exp_avg = m;
    exp_avg_sq = v;
    T p = param;
    if constexpr (Decay == AdamDecay::decoupled) p *= shrink;
    param = p - step_size * m / (sqrt_of(v) / bias_correction2_sqrt + epsilon);
  }

 private:
  METARM_HOST_DEVICE static T sqrt_of(T x) {
    using std::sqrt;
    return sqrt(x);
  }
};

namespace detail {

template <bool Decoupled>
/// The settings and the update of Adam and AdamW; see those two names.
struct AdamFamily {
  /// "adam" or "adamw", as checkpoints record it.
  static constexpr std::string_view name = Decoupled ? "adamw" : "adam";
  /// The two moment vectors, named as PyTorch names them; checkpoints store them under these names.
  static constexpr std::array<std::string_view, 2> state_names{"exp_avg", "exp_avg_sq"};

  /// The base learning rate, which the schedule multiplies.
  double learning_rate = 1e-3;
  /// Decay of the first moment, in [0, 1).
  double beta1 = 0.9;
  /// Decay of the second moment, in [0, 1).
  double beta2 = 0.999;
  /// Added to the second moment's square root; > 0.
  double epsilon = 1e-8;
  /// Weight decay: added to the gradient (Adam) or shrinking the parameters (AdamW, default 1e-2 as PyTorch's).
  double weight_decay = Decoupled ? 1e-2 : 0.0;

  /// Throws, naming the setting, when one is out of range.
  void validate() const {
    const char* who = Decoupled ? "AdamW" : "Adam";
    METARM_REQUIRE(std::isfinite(learning_rate) && learning_rate >= 0.0, who,
                   "argument 'learning_rate' must be finite and >= 0, got {:f}", learning_rate);
    METARM_REQUIRE(beta1 >= 0.0 && beta1 < 1.0, who, "argument 'beta1' must be in [0, 1), got {:f}", beta1);
    METARM_REQUIRE(beta2 >= 0.0 && beta2 < 1.0, who, "argument 'beta2' must be in [0, 1), got {:f}", beta2);
    METARM_REQUIRE(epsilon > 0.0, who, "argument 'epsilon' must be > 0, got {:f}", epsilon);
    METARM_REQUIRE(std::isfinite(weight_decay) && weight_decay >= 0.0, who,
                   "argument 'weight_decay' must be finite and >= 0, got {:f}", weight_decay);
  }

  /// The coefficients of update number `step` (from 1) at learning rate `lr`.
  template <class T, AdamDecay Decay>
  AdamRule<T, Decay> rule(double lr, std::int64_t step) const {
    const double t = static_cast<double>(step);
    const T lr_t = static_cast<T>(lr);
    const T bias_correction1 = static_cast<T>(1.0 - std::pow(beta1, t));
    const T bias_correction2 = static_cast<T>(1.0 - std::pow(beta2, t));
    const T weight_decay_t = static_cast<T>(weight_decay);
    using std::sqrt;
    return {lr_t / bias_correction1,
            sqrt(bias_correction2),
            static_cast<T>(beta1),
            static_cast<T>(beta2),
            static_cast<T>(1.0 - beta1),
            static_cast<T>(1.0 - beta2),
            static_cast<T>(epsilon),
            Decoupled ? T(1) - lr_t * weight_decay_t : T(1),
            Decoupled ? T(0) : weight_decay_t};
  }

  /// One update of params from grad and the two moments in `state`, at rate lr, for update number `step`.
  template <class Backend, class T>
  void update(typename Backend::context& ctx, VectorView<T> params, VectorView<const T> grad,
              std::span<const VectorView<T>> state, double lr, std::int64_t step, GradientNormSlot slot = {}) const {
    constexpr AdamDecay decay = Decoupled ? AdamDecay::decoupled : AdamDecay::l2;
    if (weight_decay == 0.0) {
      apply_elementwise<Backend>(ctx, slot, rule<T, AdamDecay::none>(lr, step), params, grad, state[0], state[1]);
    } else {
      apply_elementwise<Backend>(ctx, slot, rule<T, decay>(lr, step), params, grad, state[0], state[1]);
    }
  }
};

}  // namespace detail

/// Adam with PyTorch's arithmetic and defaults: learning_rate 1e-3, beta1 0.9, beta2 0.999, epsilon 1e-8, and
/// weight_decay 0 (when set, added to the gradient as an L2 term).
using Adam = detail::AdamFamily<false>;
/// AdamW: Adam's settings with decoupled weight decay (default 1e-2), which shrinks the parameters before each step.
using AdamW = detail::AdamFamily<true>;

}  // namespace metarm
