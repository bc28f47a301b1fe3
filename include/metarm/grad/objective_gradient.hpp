// SPDX-License-Identifier: Apache-2.0
/// \file
/// The value of an objective of a model's rewards, and its gradient with respect to the flat parameters:
/// one forward pass, the objective's reward derivative, one backward pass.
#pragma once

#include "metarm/backend/views.hpp"
#include "metarm/core/error.hpp"
#include "metarm/layer/layer.hpp"

namespace metarm {

/// The value at `params` of an objective of the model's rewards and, unless grad is empty, its parameter gradient.
///
/// `objective(rewards, d_rewards)` returns the value and, when d_rewards is not empty, writes the reward
/// derivative into it. `d_rewards_storage` holds at least x.cols values. When `grad` is empty only the
/// value is computed; otherwise grad is overwritten with the gradient. `rewards_out`, when given, receives
/// the rewards (a view into ws, valid until its next forward pass).
template <class Backend, class Model, class Input, class RewardObjective>
typename Model::scalar_type objective_and_gradient(typename Backend::context& ctx, const Model& model,
                                                   VectorView<const typename Model::scalar_type> params, const Input& x,
                                                   typename Model::template workspace<Backend>& ws,
                                                   RewardObjective&& objective,
                                                   VectorView<typename Model::scalar_type> d_rewards_storage,
                                                   VectorView<typename Model::scalar_type> grad,
                                                   VectorView<const typename Model::scalar_type>* rewards_out = nullptr) {
  using T = typename Model::scalar_type;
  const VectorView<const T> rewards = model.template forward<Backend>(ctx, params, x, ws);
  if (rewards_out != nullptr) {
    *rewards_out = rewards;
  }
  if (grad.empty()) {
    return objective(rewards, VectorView<T>{});
  }
  METARM_REQUIRE(d_rewards_storage.size >= rewards.size, "objective_and_gradient",
                 "argument 'd_rewards_storage' holds {} values, need {}", d_rewards_storage.size, rewards.size);
  const VectorView<T> d_rewards = d_rewards_storage.segment(0, rewards.size);
  const T value = objective(rewards, d_rewards);
  // A model that can write its gradient over the buffer saves clearing it first.
  if constexpr (requires {
                  model.template backward<Backend>(ctx, params, x, ws, as_const(d_rewards), grad, MatrixView<T>{},
                                                   GradientWrite::overwrite);
                }) {
    model.template backward<Backend>(ctx, params, x, ws, as_const(d_rewards), grad, MatrixView<T>{},
                                     GradientWrite::overwrite);
  } else {
    Backend::fill(ctx, grad, T(0));
    model.template backward<Backend>(ctx, params, x, ws, as_const(d_rewards), grad);
  }
  return value;
}

}  // namespace metarm
