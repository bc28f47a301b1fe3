// SPDX-License-Identifier: Apache-2.0
/// \file
/// What the step context needs from a meta objective, checked with a message that says what is missing.
///
/// A meta objective maps the rewards of unlabelled responses grouped by prompt (m prompts; prompt p's
/// responses occupy rewards[offsets[p] .. offsets[p+1])) to a value that MetaRM-style strategies ascend; its
/// reward gradient; and its reward-space Hessian times a tangent. PromptObjective (prompt_objective.hpp)
/// builds all three from a function of one prompt's responses.
#pragma once

#include <concepts>
#include <string_view>

#include "metarm/backend/views.hpp"

namespace metarm {

/// What a meta objective provides on Backend in scalar type T: its value with the reward gradient, and its
/// reward-space Hessian product.
template <class J, class Backend, class T>
concept MetaObjectiveFor = requires(const J& objective, typename Backend::context& ctx, VectorView<const T> rewards,
                                    VectorView<const index_t> offsets, VectorView<T> out) {
  { objective.template value_and_gradient<Backend, T>(ctx, rewards, offsets, out) } -> std::convertible_to<T>;
  objective.template hessian_product<Backend, T>(ctx, rewards, offsets, rewards, out);
};

/// Fails to compile, with a message naming the two members an objective needs, unless J satisfies
/// MetaObjectiveFor; true otherwise.
template <class J, class Backend, class T>
constexpr bool check_meta_objective() {
  static_assert(MetaObjectiveFor<J, Backend, T>,
                "metarm: the MetaObjective type needs `value_and_gradient<Backend, T>(ctx, rewards, offsets, "
                "d_rewards)` returning the objective and `hessian_product<Backend, T>(ctx, rewards, offsets, tangent, "
                "out)` (see metarm/loss/prompt_objective.hpp, which builds both from a function of one prompt's "
                "responses, and docs/extending.md).");
  return true;
}

/// The objective's `name`, as checkpoints and messages give it, or "custom" when J declares none.
template <class J>
constexpr std::string_view objective_name() {
  if constexpr (requires { J::name; }) {
    return std::string_view(J::name);
  } else {
    return "custom";
  }
}

}  // namespace metarm
