// SPDX-License-Identifier: Apache-2.0
/// \file
/// A reward model made of one layer (usually a Chain) whose output is one reward per column: the model
/// contract of reward_model.hpp on top of the layer contract of layer/layer.hpp. It owns the layout of the
/// flat parameter vector, checks shapes, keeps the rewards and their tangents, and decides when an exact
/// Hessian-vector product may reuse the gradients of the backward pass just run. Sequential and Mlp are
/// reward networks.
#pragma once

#include <algorithm>
#include <span>
#include <string>
#include <utility>

#include "metarm/backend/views.hpp"
#include "metarm/core/error.hpp"
#include "metarm/core/rng.hpp"
#include "metarm/layer/layer.hpp"
#include "metarm/params/layout.hpp"

namespace metarm {

/// A reward model made of one layer with one output (the body), usually a Chain: see the file's description.
template <class Body>
class RewardNetwork {
 public:
  /// The layer the model runs.
  using body_type = Body;
  /// The scalar type of the parameters.
  using scalar_type = typename Body::scalar_type;
  /// The scalar type of the parameters, for short.
  using T = scalar_type;
  static_assert(!std::is_void_v<scalar_type>,
                "metarm: a reward network needs a layer with parameters of a scalar type (Dense<float>, ...)");

  /// The body's workspace, the rewards of the last forward pass and what Hessian-vector products need, sized
  /// for up to `capacity` columns. Built once and reused, so no pass allocates after the first.
  template <class Backend, class U = T>
  class workspace {
   public:
    /// The most columns a pass may have without growing the workspace.
    index_t capacity() const { return capacity_; }
    /// The columns of the last forward pass.
    index_t columns() const { return columns_; }
    /// The body's own workspace.
    layer_workspace_t<Body, Backend, T>& body() { return body_; }

   private:
    friend class RewardNetwork;
    using buffer = typename Backend::template buffer<T>;

    layer_workspace_t<Body, Backend, T> body_{};
    buffer rewards_;
    // Sized on the first Hessian-vector product: models never asked for one pay nothing for them.
    buffer rewards_tangent_;
    buffer d_rewards_tangent_;
    buffer backward_d_rewards_;  // the reward derivative of the backward pass whose gradients are held
    index_t capacity_ = 0;
    index_t tangent_capacity_ = 0;
    index_t columns_ = 0;
    bool gradients_held_ = false;  // the body holds the gradients of this forward pass, for backward_d_rewards_
  };

  /// An empty model, to be assigned a built one.
  RewardNetwork() = default;

  /// Builds `body` on inputs of `input_dim` features, its blocks named from `prefix`; `description` is what
  /// describe() returns, which checkpoints compare to know the model.
  RewardNetwork(index_t input_dim, Body body, std::string description, const std::string& prefix = "")
      : input_dim_(input_dim), body_(std::move(body)), description_(std::move(description)) {
    METARM_REQUIRE(input_dim > 0, description_, "argument 'input_dim' must be > 0, got {}", input_dim);
    const index_t width = body_.build(layout_, prefix, input_dim);
    METARM_REQUIRE(width == 1, description_,
                   "the last layer has {} outputs; a reward model ends in one (ScalarHead)", width);
  }

  /// The number of features of each input column.
  index_t input_dim() const { return input_dim_; }
  /// The parameters' blocks, in the flat vector's order.
  const Layout& layout() const { return layout_; }
  /// The number of parameters.
  index_t parameter_count() const { return layout_.size(); }
  /// The layer the model runs.
  const Body& body() const { return body_; }
  /// The description given at construction, which checkpoints compare to know the model.
  std::string describe() const { return description_; }

  /// Initialises every block with the body's rule (Dense: uniform in +-1/sqrt(inputs), as PyTorch).
  ///
  /// params is host memory of parameter_count() values.
  void initialize(std::span<T> params, Rng& rng) const {
    METARM_REQUIRE(static_cast<index_t>(params.size()) == parameter_count(), description_ + " initialize",
                   "argument 'params' has {} values, the model has {}", params.size(), parameter_count());
    body_.initialize(params, rng);
  }

  /// A workspace sized for `capacity` columns.
  template <class Backend>
  workspace<Backend> make_workspace(index_t capacity) const {
    workspace<Backend> ws;
    reserve(ws, capacity);
    return ws;
  }

  /// Grows the workspace to hold `capacity` columns; does nothing when it already does.
  template <class Backend>
  void reserve(workspace<Backend>& ws, index_t capacity) const {
    if (capacity <= ws.capacity_) {
      return;
    }
    body_.template reserve<Backend, T>(ws.body_, capacity, ws.tangent_capacity_ > 0);
    ws.rewards_.resize(capacity);
    ws.capacity_ = capacity;
    if (ws.tangent_capacity_ > 0) {
      reserve_tangents(ws);
    }
  }

  /// Rewards of the x.cols columns of x; the returned view lives in the workspace until the next forward.
  template <class Backend, class Input>
  VectorView<const T> forward(typename Backend::context& ctx, VectorView<const T> params, const Input& x,
                              workspace<Backend>& ws) const {
    METARM_REQUIRE(x.rows == input_dim_, description_ + " forward",
                   "input has {} features per column, the model expects {}", x.rows, input_dim_);
    METARM_REQUIRE(params.size == parameter_count(), description_ + " forward",
                   "argument 'params' has {} values, the model has {}", params.size, parameter_count());
    reserve(ws, x.cols);
    ws.columns_ = x.cols;
    ws.gradients_held_ = false;
    const MatrixView<T> rewards = ws.rewards_.matrix(1, x.cols);
    body_.template forward<Backend>(ctx, params, x, rewards, ws.body_);
    return as_const(rewards.flat());
  }

  /// Accumulates d(sum_j d_rewards[j] * reward_j)/d(params) into grad (or writes it over grad, with
  /// GradientWrite::overwrite), for the x and params of the forward pass just run on ws. When input_grad is
  /// not empty it receives the gradient with respect to x (dense).
  template <class Backend, class Input>
  void backward(typename Backend::context& ctx, VectorView<const T> params, const Input& x, workspace<Backend>& ws,
                VectorView<const T> d_rewards, VectorView<T> grad, MatrixView<T> input_grad = {},
                GradientWrite write = GradientWrite::accumulate) const {
    const index_t n = ws.columns_;
    METARM_REQUIRE(x.cols == n && d_rewards.size == n, description_ + " backward",
                   "argument 'd_rewards' has {} values and the input {} columns, the last forward pass had {}",
                   d_rewards.size, x.cols, n);
    METARM_REQUIRE(grad.size == parameter_count(), description_ + " backward",
                   "argument 'grad' has {} values, the model has {}", grad.size, parameter_count());
    METARM_REQUIRE(input_grad.empty() || (input_grad.rows == input_dim_ && input_grad.cols == n),
                   description_ + " backward",
                   "argument 'input_grad' must be {} x {}", input_dim_, n);
    body_.template backward<Backend>(ctx, params, x, as_const(ws.rewards_.matrix(1, n)),
                                     MatrixView<const T>{d_rewards.data, 1, n, 1}, grad, input_grad, ws.body_, write);
    remember_backward(ctx, ws, d_rewards);
  }

  /// Exact Hessian-vector product by forward-over-reverse (Pearlmutter's R-op), for the x and params of the
  /// forward pass just run on ws. For an objective f of the rewards with reward derivative d_rewards at
  /// that pass, adds H v to hv, where H is the Hessian of params -> f(rewards(params)):
  ///   H v = J^T (d^2 f / d r^2) J v + sum_j d_rewards[j] (d^2 r_j / d params^2) v.
  /// `reward_hessian_product(tangent, out)` must overwrite out with (d^2 f / d r^2) tangent. One pass
  /// forward carries the tangents of every layer's output (J v at the top), and one pass backward carries the
  /// gradient and its tangent together. When the backward pass of this forward pass with this d_rewards ran
  /// last, its gradients are reused instead of recomputed.
  template <class Backend, class Input, class RewardHessianProduct>
  void hvp(typename Backend::context& ctx, VectorView<const T> params, const Input& x, workspace<Backend>& ws,
           VectorView<const T> v, VectorView<const T> d_rewards, RewardHessianProduct&& reward_hessian_product,
           VectorView<T> hv) const {
    const index_t n = ws.columns_;
    METARM_REQUIRE(x.cols == n && d_rewards.size == n, description_ + " hvp",
                   "argument 'd_rewards' has {} values and the input {} columns, the last forward pass had {}",
                   d_rewards.size, x.cols, n);
    METARM_REQUIRE(v.size == parameter_count() && hv.size == parameter_count(), description_ + " hvp",
                   "arguments 'v' and 'hv' must have {} values, got {} and {}", parameter_count(), v.size, hv.size);
    if (ws.tangent_capacity_ < ws.capacity_) {
      reserve_tangents(ws);
    }
    const MatrixView<const T> rewards = as_const(ws.rewards_.matrix(1, n));
    const MatrixView<T> rewards_tangent = ws.rewards_tangent_.matrix(1, n);
    const MatrixView<T> d_rewards_tangent = ws.d_rewards_tangent_.matrix(1, n);
    body_.template forward_tangent<Backend>(ctx, params, v, x, MatrixView<const T>{}, rewards, rewards_tangent,
                                            ws.body_);
    reward_hessian_product(as_const(rewards_tangent.flat()), d_rewards_tangent.flat());
    const bool recompute = !(ws.gradients_held_ && Backend::identical(ctx, d_rewards,
                                                                      as_const(ws.backward_d_rewards_.view().segment(0, n))));
    body_.template backward_tangent<Backend>(ctx, params, v, x, MatrixView<const T>{}, rewards,
                                             as_const(rewards_tangent), MatrixView<const T>{d_rewards.data, 1, n, 1},
                                             as_const(d_rewards_tangent), hv, MatrixView<T>{}, MatrixView<T>{},
                                             ws.body_, recompute);
    if (recompute) {  // the body's gradients now belong to this d_rewards
      remember_backward(ctx, ws, d_rewards);
    }
  }

 protected:
  /// Replaces what describe() returns (a derived model's own description).
  void set_description(std::string description) { description_ = std::move(description); }

 private:
  template <class Backend>
  static void remember_backward(typename Backend::context& ctx, workspace<Backend>& ws, VectorView<const T> d_rewards) {
    ws.backward_d_rewards_.resize(std::max(ws.backward_d_rewards_.size(), ws.capacity_));
    Backend::copy(ctx, d_rewards, ws.backward_d_rewards_.view().segment(0, d_rewards.size));
    ws.gradients_held_ = true;
  }

  template <class Backend>
  void reserve_tangents(workspace<Backend>& ws) const {
    const index_t capacity = std::max<index_t>(ws.capacity_, 1);
    body_.template reserve<Backend, T>(ws.body_, capacity, true);
    ws.rewards_tangent_.resize(capacity);
    ws.d_rewards_tangent_.resize(capacity);
    ws.tangent_capacity_ = capacity;
  }

  index_t input_dim_ = 0;
  Layout layout_;
  Body body_{};
  std::string description_;
};

}  // namespace metarm
