// SPDX-License-Identifier: Apache-2.0
/// \file
/// The objectives of a training step on its batches: the preference loss on a batch of pairs (its structure
/// the pairs' margins) and the meta objective on a batch of prompts' responses (its structure their offsets),
/// each as a value with its gradient through a model (one forward, one backward pass) and as an exact
/// Hessian-vector product. Any loss and meta objective of loss/ work; the step context calls these, and
/// tests and custom loops may call them directly.
#pragma once

#include "metarm/backend/views.hpp"
#include "metarm/data/batch.hpp"
#include "metarm/grad/hessian_vector.hpp"
#include "metarm/grad/objective_gradient.hpp"
#include "metarm/model/reward_model.hpp"

namespace metarm {

/// What an objective reads of a batch besides its features.
template <class T, class Input>
VectorView<const T> structure_of(const PreferenceBatch<T, Input>& batch) {
  return batch.margins;
}
/// The offsets of a meta batch: what a meta objective reads of it besides its features.
template <class T, class Input>
VectorView<const index_t> structure_of(const MetaBatch<T, Input>& batch) {
  return batch.offsets;
}

/// `objective` on `batch` at `params`: its value, and its gradient written over grad unless grad is empty.
/// `d_rewards_storage` holds at least as many values as the batch has columns; `rewards_out`, when given,
/// receives the rewards (a view into ws).
template <class Backend, class Model, class Objective, class Batch>
typename Model::scalar_type batch_objective_and_gradient(
    typename Backend::context& ctx, const Model& model, const Objective& objective,
    VectorView<const typename Model::scalar_type> params, const Batch& batch,
    typename Model::template workspace<Backend>& ws, VectorView<typename Model::scalar_type> d_rewards_storage,
    VectorView<typename Model::scalar_type> grad, VectorView<const typename Model::scalar_type>* rewards_out = nullptr) {
  using T = typename Model::scalar_type;
  return objective_and_gradient<Backend>(
      ctx, model, params, batch.features, ws,
      [&](VectorView<const T> rewards, VectorView<T> d_rewards) {
        return objective.template value_and_gradient<Backend, T>(ctx, rewards, structure_of(batch), d_rewards);
      },
      d_rewards_storage, grad, rewards_out);
}

/// hv = H v, H the Hessian of `objective` on `batch` at `params`, exactly (forward-over-reverse).
template <class Backend, class Model, class Objective, class Batch>
void batch_objective_hvp(typename Backend::context& ctx, const Model& model, const Objective& objective,
                         VectorView<const typename Model::scalar_type> params, const Batch& batch,
                         typename Model::template workspace<Backend>& ws,
                         VectorView<typename Model::scalar_type> d_rewards_storage,
                         VectorView<const typename Model::scalar_type> v, VectorView<typename Model::scalar_type> hv) {
  using T = typename Model::scalar_type;
  exact_objective_hvp<Backend>(
      ctx, model, params, batch.features, ws,
      [&](VectorView<const T> rewards, VectorView<T> d_rewards) {
        return objective.template value_and_gradient<Backend, T>(ctx, rewards, structure_of(batch), d_rewards);
      },
      [&](VectorView<const T> rewards, VectorView<const T> tangent, VectorView<T> out) {
        objective.template hessian_product<Backend, T>(ctx, rewards, structure_of(batch), tangent, out);
      },
      d_rewards_storage, v, hv);
}

/// The preference loss on a preference batch at `params`: its value, and its gradient written over grad unless
/// grad is empty.
///
/// The two objectives by name, as the step context and the tests call them.
template <class Backend, class Model, class Input, class Loss>
typename Model::scalar_type preference_loss_and_gradient(
    typename Backend::context& ctx, const Model& model, const Loss& loss,
    VectorView<const typename Model::scalar_type> params, const PreferenceBatch<typename Model::scalar_type, Input>& batch,
    typename Model::template workspace<Backend>& ws, VectorView<typename Model::scalar_type> d_rewards_storage,
    VectorView<typename Model::scalar_type> grad, VectorView<const typename Model::scalar_type>* rewards_out = nullptr) {
  return batch_objective_and_gradient<Backend>(ctx, model, loss, params, batch, ws, d_rewards_storage, grad,
                                               rewards_out);
}

/// The meta objective on a meta batch at `params`: its value, and its gradient written over grad unless grad is
/// empty.
template <class Backend, class Model, class Input, class Objective>
typename Model::scalar_type difference_objective_and_gradient(
    typename Backend::context& ctx, const Model& model, const Objective& objective,
    VectorView<const typename Model::scalar_type> params, const MetaBatch<typename Model::scalar_type, Input>& batch,
    typename Model::template workspace<Backend>& ws, VectorView<typename Model::scalar_type> d_rewards_storage,
    VectorView<typename Model::scalar_type> grad, VectorView<const typename Model::scalar_type>* rewards_out = nullptr) {
  return batch_objective_and_gradient<Backend>(ctx, model, objective, params, batch, ws, d_rewards_storage, grad,
                                               rewards_out);
}

/// hv = H v, H the Hessian of the preference loss on the batch at `params`, exactly.
template <class Backend, class Model, class Input, class Loss>
  requires HasExactHvp<Model, Backend, Input>
void preference_loss_hvp(typename Backend::context& ctx, const Model& model, const Loss& loss,
                         VectorView<const typename Model::scalar_type> params,
                         const PreferenceBatch<typename Model::scalar_type, Input>& batch,
                         typename Model::template workspace<Backend>& ws,
                         VectorView<typename Model::scalar_type> d_rewards_storage,
                         VectorView<const typename Model::scalar_type> v, VectorView<typename Model::scalar_type> hv) {
  batch_objective_hvp<Backend>(ctx, model, loss, params, batch, ws, d_rewards_storage, v, hv);
}

/// hv = H v, H the Hessian of the meta objective on the batch at `params`, exactly.
template <class Backend, class Model, class Input, class Objective>
  requires HasExactHvp<Model, Backend, Input>
void difference_objective_hvp(typename Backend::context& ctx, const Model& model, const Objective& objective,
                              VectorView<const typename Model::scalar_type> params,
                              const MetaBatch<typename Model::scalar_type, Input>& batch,
                              typename Model::template workspace<Backend>& ws,
                              VectorView<typename Model::scalar_type> d_rewards_storage,
                              VectorView<const typename Model::scalar_type> v,
                              VectorView<typename Model::scalar_type> hv) {
  batch_objective_hvp<Backend>(ctx, model, objective, params, batch, ws, d_rewards_storage, v, hv);
}

}  // namespace metarm
