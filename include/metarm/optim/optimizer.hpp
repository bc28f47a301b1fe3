// SPDX-License-Identifier: Apache-2.0
/// \file
/// What the learner needs from an optimiser type, checked with a message that says what is missing.
#pragma once

#include <concepts>
#include <cstdint>
#include <span>
#include <string_view>

#include "metarm/backend/views.hpp"
#include "metarm/optim/elementwise_update.hpp"

namespace metarm {

/// What an optimiser type provides on Backend: learning_rate, the names of its state vectors, validate() and update().
template <class O, class Backend, class T>
concept OptimizerFor = requires(const O& o, typename Backend::context& ctx, VectorView<T> params,
                                VectorView<const T> grad, std::span<const VectorView<T>> state) {
  { o.learning_rate } -> std::convertible_to<double>;
  { O::state_names.size() } -> std::convertible_to<std::size_t>;
  o.validate();
  o.template update<Backend, T>(ctx, params, grad, state, 1.0, std::int64_t{1});
};

/// An optimiser whose update can also leave the gradient's squared norm in a GradientNormSlot, in the same
/// pass (the built-in ones do). The learner then records the norm without reading the gradient again; an
/// optimiser without it works the same, with one more pass.
template <class O, class Backend, class T>
concept OptimizerMeasuresGradient = requires(const O& o, typename Backend::context& ctx, VectorView<T> params,
                                             VectorView<const T> grad, std::span<const VectorView<T>> state) {
  o.template update<Backend, T>(ctx, params, grad, state, 1.0, std::int64_t{1}, GradientNormSlot{});
};

/// Fails to compile, with a message naming what an optimiser needs, unless O satisfies OptimizerFor; true otherwise.
template <class O, class Backend, class T>
constexpr bool check_optimizer() {
  static_assert(OptimizerFor<O, Backend, T>,
                "metarm: the Optimizer type needs a `learning_rate` member, a static `state_names` array (one name "
                "per parameter-sized state vector), `validate()`, and `update<Backend, T>(ctx, params, grad, state, "
                "lr, step)` (see metarm/optim/sgd.hpp for the smallest complete optimiser).");
  return true;
}

}  // namespace metarm
