// SPDX-License-Identifier: Apache-2.0
/// \file
/// What the step context needs from a preference loss, checked with a message that says what is missing.
///
/// A preference loss maps the rewards of a batch of n pairs, laid out [chosen (n) | rejected (n)], and the
/// pairs' margins (empty, or one per pair) to a value; its reward gradient; and its reward-space Hessian
/// times a tangent, which exact Hessian-vector products need. PairwiseLoss (pairwise_loss.hpp) builds all
/// three from a scalar function of one pair's reward difference; a loss over the whole batch at once can
/// implement them directly.
#pragma once

#include <concepts>
#include <string_view>

#include "metarm/backend/views.hpp"

namespace metarm {

/// What a preference loss provides on Backend in scalar type T: its value with the reward gradient, and its
/// reward-space Hessian product.
template <class L, class Backend, class T>
concept PreferenceLossFor = requires(const L& loss, typename Backend::context& ctx, VectorView<const T> rewards,
                                     VectorView<const T> margins, VectorView<T> out) {
  { loss.template value_and_gradient<Backend, T>(ctx, rewards, margins, out) } -> std::convertible_to<T>;
  loss.template hessian_product<Backend, T>(ctx, rewards, margins, rewards, out);
};

/// Fails to compile, with a message naming the two members a loss needs, unless L satisfies PreferenceLossFor;
/// true otherwise.
template <class L, class Backend, class T>
constexpr bool check_preference_loss() {
  static_assert(PreferenceLossFor<L, Backend, T>,
                "metarm: the preference Loss type needs `value_and_gradient<Backend, T>(ctx, rewards, margins, "
                "d_rewards)` returning the loss and `hessian_product<Backend, T>(ctx, rewards, margins, tangent, out)` "
                "(see metarm/loss/pairwise_loss.hpp, which builds both from one function of a pair's reward "
                "difference, and docs/extending.md).");
  return true;
}

/// The loss's `name`, as checkpoints and messages give it, or "custom" when L declares none.
template <class L>
constexpr std::string_view loss_name() {
  if constexpr (requires { L::name; }) {
    return std::string_view(L::name);
  } else {
    return "custom";
  }
}

}  // namespace metarm
