// SPDX-License-Identifier: Apache-2.0
/// \file
/// One objective of a training step (the preference loss, or the meta objective) with its caches: the model
/// workspace its passes run in, its reward derivative, and what it last computed. Once an exact
/// Hessian-vector product of the objective has been asked for, every gradient pass keeps a copy of its
/// point, so that a product at the same point (same bits) and on the same batch reuses the pass instead of
/// repeating its forward half; before that nothing is copied, and first-order strategies pay nothing.
///
/// Structure is what the objective reads besides the rewards: the pairs' margins for a preference loss, the
/// prompts' offsets for a meta objective.
#pragma once

#include <cmath>
#include <string>
#include <utility>

#include "metarm/backend/views.hpp"
#include "metarm/core/error.hpp"
#include "metarm/grad/hessian_vector.hpp"
#include "metarm/grad/objective_gradient.hpp"
#include "metarm/model/reward_model.hpp"

namespace metarm {

/// Which batch a pass ran on: the address of its features and its structure, and its width.
struct BatchKey {
  /// The address of the batch's features.
  const void* features = nullptr;
  /// The batch's number of columns.
  index_t columns = 0;
  /// The address of its structure: margins or offsets.
  const void* structure = nullptr;
  /// Keys are equal when every field is.
  friend bool operator==(const BatchKey&, const BatchKey&) = default;
};

/// One objective of a training step with its workspace and the pass it may reuse; see the file's description.
template <class Model, class Objective, class Backend, class Input>
class ObjectiveEvaluator {
 public:
  /// The scalar type of the parameters.
  using T = typename Model::scalar_type;
  /// Whether the model has an exact Hessian-vector product on this backend and input.
  static constexpr bool has_exact_hvp = HasExactHvp<Model, Backend, Input>;

  /// The objective, with a workspace of `model` that grows with the first batch.
  ObjectiveEvaluator(const Model& model, Objective objective)
      : objective_(std::move(objective)), ws_(model.template make_workspace<Backend>(0)) {}

  /// The objective.
  const Objective& objective() const { return objective_; }
  /// The objective, for changes to its settings.
  Objective& objective() { return objective_; }
  /// The model workspace the passes run in.
  typename Model::template workspace<Backend>& workspace() { return ws_; }
  /// The rewards of the last pass, a view into the workspace.
  VectorView<const T> rewards() const { return rewards_; }

  /// New batches may reuse the memory of old ones, so no pass held is reusable afterwards.
  void forget() { holds_pass_ = false; }

  /// Grows the workspace and the reward derivative for `columns` columns.
  void reserve(const Model& model, index_t columns) {
    if constexpr (requires { model.reserve(ws_, columns); }) {
      model.reserve(ws_, columns);
    }
    reserve_rewards(columns);
  }

  /// The objective at `at` on the batch (x, structure), and its gradient written over grad unless empty.
  template <class Structure>
  T value_and_gradient(typename Backend::context& ctx, const Model& model, VectorView<const T> at, const Input& x,
                       Structure structure, const BatchKey& batch, VectorView<T> grad) {
    reserve_rewards(x.cols);
    VectorView<const T> rewards;
    const T value = objective_and_gradient<Backend>(
        ctx, model, at, x, ws_,
        [&](VectorView<const T> r, VectorView<T> d_rewards) {
          return objective_.template value_and_gradient<Backend, T>(ctx, r, structure, d_rewards);
        },
        d_rewards_.view(), grad, &rewards);
    record_pass(ctx, at, batch, rewards, !grad.empty());
    return value;
  }

  /// The same with the value left in backend memory at `value` (one double) instead of returned. Objectives
  /// without a value_and_gradient_into member have their value read on the host and written there.
  template <class Structure>
  void record_value_and_gradient(typename Backend::context& ctx, const Model& model, VectorView<const T> at,
                                 const Input& x, Structure structure, const BatchKey& batch, VectorView<T> grad,
                                 double* value) {
    reserve_rewards(x.cols);
    VectorView<const T> rewards;
    objective_and_gradient<Backend>(
        ctx, model, at, x, ws_,
        [&](VectorView<const T> r, VectorView<T> d_rewards) {
          if constexpr (requires {
                          objective_.template value_and_gradient_into<Backend, T>(ctx, r, structure, d_rewards, value);
                        }) {
            objective_.template value_and_gradient_into<Backend, T>(ctx, r, structure, d_rewards, value);
          } else {
            const double host_value =
                static_cast<double>(objective_.template value_and_gradient<Backend, T>(ctx, r, structure, d_rewards));
            Backend::copy_from_host(ctx, &host_value, VectorView<double>{value, 1});
          }
          return T(0);
        },
        d_rewards_.view(), grad, &rewards);
    record_pass(ctx, at, batch, rewards, !grad.empty());
  }

  /// Overwrites out with H v, H the objective's Hessian at `at` on the batch, exactly or by central
  /// differences as options.method says. `gradient(point, grad)` takes the objective's gradient at another
  /// point for the latter, with fd_point and fd_grad as parameter-sized scratch.
  template <class Structure, class Gradient>
  void hvp(typename Backend::context& ctx, const Model& model, VectorView<const T> at, const Input& x,
           Structure structure, const BatchKey& batch, VectorView<const T> v, VectorView<T> out,
           const HvpOptions& options, Gradient&& gradient, VectorView<T> fd_point, VectorView<T> fd_grad,
           const char* what) {
    bool use_exact = has_exact_hvp;
    if (options.method == HvpMethod::exact) {
      METARM_REQUIRE(has_exact_hvp, std::string("StepContext::") + what,
                     "HvpMethod::exact needs a model with an `hvp` member (see RewardNetwork::hvp); the model '{}' "
                     "has none: use HvpMethod::finite_difference, or automatic to fall back to it", model.describe());
    } else if (options.method == HvpMethod::finite_difference) {
      use_exact = false;
    }
    if (!use_exact) {
      finite_difference_hvp<Backend, T>(ctx, gradient, at, v, fd_point, fd_grad, out, options.finite_difference_step);
      return;
    }
    if constexpr (has_exact_hvp) {
      reserve_rewards(x.cols);
      VectorView<const T> rewards = rewards_;
      if (!holds_pass_at(ctx, at, batch)) {
        exact_products_in_use_ = true;
        rewards = model.template forward<Backend>(ctx, at, x, ws_);
        objective_.template value_and_gradient<Backend, T>(ctx, rewards, structure,
                                                           d_rewards_.view().segment(0, rewards.size));
        record_pass(ctx, at, batch, rewards, true);
      }
      exact_hvp_of_pass<Backend>(
          ctx, model, at, x, ws_, rewards, as_const(d_rewards_.view().segment(0, rewards.size)),
          [&](VectorView<const T> r, VectorView<const T> tangent, VectorView<T> product) {
            objective_.template hessian_product<Backend, T>(ctx, r, structure, tangent, product);
          },
          v, out);
    }
  }

 private:
  void reserve_rewards(index_t columns) {
    if (d_rewards_.size() < columns) {
      d_rewards_.resize(columns);
    }
  }

  void record_pass(typename Backend::context& ctx, VectorView<const T> at, const BatchKey& batch,
                   VectorView<const T> rewards, bool with_derivative) {
    rewards_ = rewards;
    holds_pass_ = exact_products_in_use_ && with_derivative;
    if (holds_pass_) {
      if (point_.size() != at.size) {
        point_.resize(at.size);
      }
      Backend::copy(ctx, at, point_.view());
      batch_ = batch;
    }
  }

  bool holds_pass_at(typename Backend::context& ctx, VectorView<const T> at, const BatchKey& batch) {
    return holds_pass_ && batch_ == batch && Backend::identical(ctx, at, as_const(point_.view()));
  }

  Objective objective_;
  typename Model::template workspace<Backend> ws_;
  typename Backend::template buffer<T> d_rewards_;
  typename Backend::template buffer<T> point_;  // the point of the pass held, once exact products are in use
  VectorView<const T> rewards_{};
  BatchKey batch_{};
  bool holds_pass_ = false;
  bool exact_products_in_use_ = false;
};

}  // namespace metarm
