// The reward model: Dense -> Activation -> ... -> Dense -> Activation -> Dense(h, 1), with any number of
// hidden layers (none gives a linear model). Sizes are runtime values; which activation is the template.
//
// Block names: "hidden.<l>.weight", "hidden.<l>.bias" for hidden layer l, then "head.weight", "head.bias".
#pragma once

#include <algorithm>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "metarm/backend/views.hpp"
#include "metarm/core/error.hpp"
#include "metarm/core/rng.hpp"
#include "metarm/model/activation.hpp"
#include "metarm/model/dense.hpp"
#include "metarm/params/layout.hpp"

namespace metarm {

template <class Activation, class T = float>
class Mlp {
 public:
  using scalar_type = T;
  using activation_type = Activation;

  // Forward results kept for the backward pass, and backward scratch, sized for up to `capacity` columns.
  // Built once per model and reused, so forward and backward do not allocate.
  template <class Backend>
  class workspace {
   public:
    workspace() = default;

    index_t capacity() const { return capacity_; }
    index_t columns() const { return columns_; }

   private:
    friend class Mlp;
    using buffer = typename Backend::template buffer<T>;

    std::vector<buffer> pre_;       // z of each hidden layer
    std::vector<buffer> post_;      // f(z) of each hidden layer (unused for the identity)
    std::vector<buffer> upstream_;  // backward: the gradient with respect to each hidden layer's f(z)
    buffer rewards_;
    buffer delta_;  // backward: the gradient with respect to the current layer's z
    // Directional derivatives for hvp, sized on its first call: they cost nothing to models never asked
    // for a Hessian-vector product.
    std::vector<buffer> pre_tangent_;
    std::vector<buffer> post_tangent_;
    buffer rewards_tangent_;
    buffer d_rewards_tangent_;
    buffer delta_tangent_[2];
    buffer backward_d_rewards_;  // the reward derivative of the backward pass whose upstream_ is kept
    std::vector<index_t> widths_;
    index_t max_width_ = 0;
    index_t capacity_ = 0;
    index_t tangent_capacity_ = 0;
    index_t columns_ = 0;
    bool upstream_current_ = false;  // upstream_ belongs to the forward pass held, for backward_d_rewards_
  };

  Mlp() = default;

  Mlp(index_t input_dim, std::vector<index_t> hidden = {}) : input_dim_(input_dim), hidden_(std::move(hidden)) {
    METARM_REQUIRE(input_dim > 0, "Mlp", "argument 'input_dim' must be > 0, got " + std::to_string(input_dim));
    index_t fan_in = input_dim;
    for (std::size_t l = 0; l < hidden_.size(); ++l) {
      METARM_REQUIRE(hidden_[l] > 0, "Mlp",
                     "argument 'hidden[" + std::to_string(l) + "]' must be > 0, got " + std::to_string(hidden_[l]));
      layers_.emplace_back(layout_, "hidden." + std::to_string(l), fan_in, hidden_[l]);
      fan_in = hidden_[l];
    }
    layers_.emplace_back(layout_, "head", fan_in, 1);
  }

  index_t input_dim() const { return input_dim_; }
  const std::vector<index_t>& hidden_sizes() const { return hidden_; }
  const Layout& layout() const { return layout_; }
  index_t parameter_count() const { return layout_.size(); }
  const std::vector<Dense<T>>& layers() const { return layers_; }

  // A one-line description that, with the layout, lets a checkpoint reader rebuild the model.
  std::string describe() const {
    std::string text = "mlp<" + std::string(Activation::name) + ">(" + std::to_string(input_dim_);
    for (index_t h : hidden_) {
      text += "," + std::to_string(h);
    }
    return text + ",1)";
  }

  // params is host memory of parameter_count() values.
  void initialize(std::span<T> params, Rng& rng) const {
    METARM_REQUIRE(static_cast<index_t>(params.size()) == parameter_count(), "Mlp::initialize",
                   "argument 'params' has " + std::to_string(params.size()) + " values, the model has " +
                       std::to_string(parameter_count()));
    for (const auto& layer : layers_) {
      layer.initialize(params, rng);
    }
  }

  template <class Backend>
  workspace<Backend> make_workspace(index_t capacity) const {
    workspace<Backend> ws;
    ws.pre_.resize(hidden_.size());
    ws.post_.resize(hidden_.size());
    ws.upstream_.resize(hidden_.size());
    ws.pre_tangent_.resize(hidden_.size());
    ws.post_tangent_.resize(hidden_.size());
    ws.widths_ = hidden_;
    // The backward pass keeps deltas of hidden layers only (the input gradient goes to the caller's buffer),
    // so the input width must not size them: for 2^18 sparse features it would be a dense batch.
    ws.max_width_ = hidden_.empty() ? 1 : *std::max_element(hidden_.begin(), hidden_.end());
    reserve(ws, capacity);
    return ws;
  }

  // Grows the workspace to hold `capacity` columns; does nothing when it already does.
  template <class Backend>
  void reserve(workspace<Backend>& ws, index_t capacity) const {
    if (capacity <= ws.capacity_) {
      return;
    }
    for (std::size_t l = 0; l < hidden_.size(); ++l) {
      ws.pre_[l].resize(hidden_[l] * capacity);
      ws.upstream_[l].resize(hidden_[l] * capacity);
      if constexpr (!Activation::is_identity) {
        ws.post_[l].resize(hidden_[l] * capacity);
      }
    }
    ws.rewards_.resize(capacity);
    ws.delta_.resize(ws.max_width_ * capacity);
    ws.capacity_ = capacity;
    if (ws.tangent_capacity_ > 0) {
      reserve_tangents(ws);
    }
  }

  // Rewards of the x.cols columns of x; the returned view lives in the workspace until the next forward.
  template <class Backend, class Input>
  VectorView<const T> forward(typename Backend::context& ctx, VectorView<const T> params, const Input& x,
                              workspace<Backend>& ws) const {
    METARM_REQUIRE(x.rows == input_dim_, "Mlp::forward",
                   "input has " + std::to_string(x.rows) + " features per column, the model expects " +
                       std::to_string(input_dim_));
    METARM_REQUIRE(params.size == parameter_count(), "Mlp::forward",
                   "argument 'params' has " + std::to_string(params.size) + " values, the model has " +
                       std::to_string(parameter_count()));
    reserve(ws, x.cols);
    ws.columns_ = x.cols;
    ws.upstream_current_ = false;
    const index_t n = x.cols;
    const std::size_t hidden_count = hidden_.size();
    if (hidden_count == 0) {
      MatrixView<T> out = ws.rewards_.matrix(1, n);
      layers_[0].template forward<Backend>(ctx, params, x, out);
      return out.flat();
    }
    layers_[0].template forward<Backend>(ctx, params, x, hidden_pre(ws, 0, n));
    activate(ctx, ws, 0, n);
    for (std::size_t l = 1; l < hidden_count; ++l) {
      layers_[l].template forward<Backend>(ctx, params, as_const(hidden_post(ws, l - 1, n)), hidden_pre(ws, l, n));
      activate(ctx, ws, l, n);
    }
    MatrixView<T> out = ws.rewards_.matrix(1, n);
    layers_.back().template forward<Backend>(ctx, params, as_const(hidden_post(ws, hidden_count - 1, n)), out);
    return out.flat();
  }

  // Accumulates d(sum_j d_rewards[j] * reward_j)/d(params) into grad (or writes it over grad, with
  // GradientWrite::overwrite), for the x and params of the forward pass just run on ws. When input_grad is
  // not empty it receives the gradient with respect to x (dense).
  template <class Backend, class Input>
  void backward(typename Backend::context& ctx, VectorView<const T> params, const Input& x, workspace<Backend>& ws,
                VectorView<const T> d_rewards, VectorView<T> grad, MatrixView<T> input_grad = {},
                GradientWrite write = GradientWrite::accumulate) const {
    const index_t n = ws.columns_;
    METARM_REQUIRE(x.cols == n && d_rewards.size == n, "Mlp::backward",
                   "argument 'd_rewards' has " + std::to_string(d_rewards.size) + " values and the input " +
                       std::to_string(x.cols) + " columns, the last forward pass had " + std::to_string(n));
    METARM_REQUIRE(grad.size == parameter_count(), "Mlp::backward",
                   "argument 'grad' has " + std::to_string(grad.size) + " values, the model has " +
                       std::to_string(parameter_count()));
    METARM_REQUIRE(input_grad.empty() || (input_grad.rows == input_dim_ && input_grad.cols == n), "Mlp::backward",
                   "argument 'input_grad' must be " + std::to_string(input_dim_) + " x " + std::to_string(n));
    const MatrixView<const T> d_out{d_rewards.data, 1, n, 1};
    const std::size_t hidden_count = hidden_.size();
    if (hidden_count == 0) {
      layers_[0].template backward<Backend>(ctx, params, x, d_out, grad, input_grad, write);
      return;
    }
    // Head: its input is the last hidden activation. Each hidden layer's upstream gradient is kept, so that
    // an hvp of the same pass need not recompute it.
    const std::size_t top = hidden_count - 1;
    layers_.back().template backward<Backend>(ctx, params, as_const(hidden_post(ws, top, n)), d_out, grad,
                                              upstream(ws, top, n), write);
    for (std::size_t l = hidden_count; l-- > 0;) {
      // upstream_l holds dL/d(post_l); delta becomes dL/d(pre_l).
      const MatrixView<T> delta = pre_gradient(ws, l, n);
      if constexpr (!Activation::is_identity) {
        Backend::template activation_backward<Activation, T>(ctx, as_const(hidden_pre(ws, l, n)),
                                                             as_const(hidden_post(ws, l, n)),
                                                             as_const(upstream(ws, l, n)), delta);
      }
      if (l == 0) {
        layers_[0].template backward<Backend>(ctx, params, x, as_const(delta), grad, input_grad, write);
      } else {
        layers_[l].template backward<Backend>(ctx, params, as_const(hidden_post(ws, l - 1, n)), as_const(delta), grad,
                                              upstream(ws, l - 1, n), write);
      }
    }
    remember_backward(ctx, ws, d_rewards);
  }

  // Exact Hessian-vector product by forward-over-reverse (Pearlmutter's R-op), for the x and params of the
  // forward pass just run on ws. For an objective f of the rewards with reward derivative d_rewards at
  // that pass, adds H v to hv, where H is the Hessian of params -> f(rewards(params)):
  //   H v = J^T (d^2 f / d r^2) J v + sum_j d_rewards[j] (d^2 r_j / d params^2) v.
  // `reward_hessian_product(tangent, out)` must overwrite out with (d^2 f / d r^2) tangent. One pass
  // forward carries the tangents of every layer's output (J v at the top), and one pass backward carries the
  // gradient and its tangent together; nothing but per-layer activations is stored. When the backward pass
  // of this forward pass with this d_rewards ran last, its per-layer gradients are reused.
  template <class Backend, class Input, class RewardHessianProduct>
  void hvp(typename Backend::context& ctx, VectorView<const T> params, const Input& x, workspace<Backend>& ws,
           VectorView<const T> v, VectorView<const T> d_rewards, RewardHessianProduct&& reward_hessian_product,
           VectorView<T> hv) const {
    const index_t n = ws.columns_;
    METARM_REQUIRE(x.cols == n && d_rewards.size == n, "Mlp::hvp",
                   "argument 'd_rewards' has " + std::to_string(d_rewards.size) + " values and the input " +
                       std::to_string(x.cols) + " columns, the last forward pass had " + std::to_string(n));
    METARM_REQUIRE(v.size == parameter_count() && hv.size == parameter_count(), "Mlp::hvp",
                   "arguments 'v' and 'hv' must have " + std::to_string(parameter_count()) + " values, got " +
                       std::to_string(v.size) + " and " + std::to_string(hv.size));
    if (ws.tangent_capacity_ < ws.capacity_) {
      reserve_tangents(ws);
    }
    const MatrixView<const T> d_out{d_rewards.data, 1, n, 1};
    const MatrixView<T> rewards_tangent = ws.rewards_tangent_.matrix(1, n);
    const MatrixView<T> d_out_tangent = ws.d_rewards_tangent_.matrix(1, n);
    const std::size_t hidden_count = hidden_.size();
    if (hidden_count == 0) {
      layers_[0].template forward_tangent<Backend>(ctx, params, v, x, MatrixView<const T>{}, rewards_tangent);
      reward_hessian_product(as_const(rewards_tangent.flat()), d_out_tangent.flat());
      layers_[0].template backward_tangent<Backend>(ctx, params, v, x, MatrixView<const T>{}, d_out,
                                                    as_const(d_out_tangent), hv, MatrixView<T>{}, MatrixView<T>{});
      return;
    }

    // Forward: the tangent of every pre-activation and activation.
    layers_[0].template forward_tangent<Backend>(ctx, params, v, x, MatrixView<const T>{}, pre_tangent(ws, 0, n));
    activate_tangent(ctx, ws, 0, n);
    for (std::size_t l = 1; l < hidden_count; ++l) {
      layers_[l].template forward_tangent<Backend>(ctx, params, v, as_const(hidden_post(ws, l - 1, n)),
                                                   as_const(post_tangent(ws, l - 1, n)), pre_tangent(ws, l, n));
      activate_tangent(ctx, ws, l, n);
    }
    const std::size_t top = hidden_count - 1;
    layers_.back().template forward_tangent<Backend>(ctx, params, v, as_const(hidden_post(ws, top, n)),
                                                     as_const(post_tangent(ws, top, n)), rewards_tangent);
    reward_hessian_product(as_const(rewards_tangent.flat()), d_out_tangent.flat());

    // Backward: the gradient with respect to each layer's output and its tangent, side by side. When the
    // backward pass of this forward pass and this d_rewards just ran, its upstream gradients are reused.
    const bool recompute = !(ws.upstream_current_ &&
                             Backend::identical(ctx, d_rewards, as_const(ws.backward_d_rewards_.view().segment(0, n))));
    int current = 0;
    MatrixView<T> delta_tangent = ws.delta_tangent_[current].matrix(hidden_[top], n);
    layers_.back().template backward_tangent<Backend>(ctx, params, v, as_const(hidden_post(ws, top, n)),
                                                      as_const(post_tangent(ws, top, n)), d_out,
                                                      as_const(d_out_tangent), hv,
                                                      recompute ? upstream(ws, top, n) : MatrixView<T>{}, delta_tangent);
    for (std::size_t l = hidden_count; l-- > 0;) {
      // upstream_l and delta_tangent hold d/d(post_l) and its tangent; turn them into d/d(pre_l).
      const MatrixView<T> delta = pre_gradient(ws, l, n);
      if constexpr (!Activation::is_identity) {
        Backend::template activation_backward_tangent<Activation, T>(
            ctx, as_const(hidden_pre(ws, l, n)), as_const(hidden_post(ws, l, n)), as_const(pre_tangent(ws, l, n)),
            as_const(upstream(ws, l, n)), as_const(delta_tangent), delta, delta_tangent);
      }
      if (l == 0) {
        layers_[0].template backward_tangent<Backend>(ctx, params, v, x, MatrixView<const T>{}, as_const(delta),
                                                      as_const(delta_tangent), hv, MatrixView<T>{}, MatrixView<T>{});
      } else {
        MatrixView<T> below_tangent = ws.delta_tangent_[1 - current].matrix(hidden_[l - 1], n);
        layers_[l].template backward_tangent<Backend>(ctx, params, v, as_const(hidden_post(ws, l - 1, n)),
                                                      as_const(post_tangent(ws, l - 1, n)), as_const(delta),
                                                      as_const(delta_tangent), hv,
                                                      recompute ? upstream(ws, l - 1, n) : MatrixView<T>{},
                                                      below_tangent);
        current = 1 - current;
        delta_tangent = below_tangent;
      }
    }
    if (recompute) {  // the upstream gradients now belong to this d_rewards
      remember_backward(ctx, ws, d_rewards);
    }
  }

 private:
  template <class Backend>
  static void remember_backward(typename Backend::context& ctx, workspace<Backend>& ws, VectorView<const T> d_rewards) {
    ws.backward_d_rewards_.resize(std::max(ws.backward_d_rewards_.size(), ws.capacity_));
    Backend::copy(ctx, d_rewards, ws.backward_d_rewards_.view().segment(0, d_rewards.size));
    ws.upstream_current_ = true;
  }

  template <class Backend>
  static MatrixView<T> hidden_pre(workspace<Backend>& ws, std::size_t l, index_t n) {
    return ws.pre_[l].matrix(ws.widths_[l], n);
  }
  template <class Backend>
  static MatrixView<T> hidden_post(workspace<Backend>& ws, std::size_t l, index_t n) {
    if constexpr (Activation::is_identity) {
      return ws.pre_[l].matrix(ws.widths_[l], n);
    } else {
      return ws.post_[l].matrix(ws.widths_[l], n);
    }
  }
  template <class Backend>
  static MatrixView<T> upstream(workspace<Backend>& ws, std::size_t l, index_t n) {
    return ws.upstream_[l].matrix(ws.widths_[l], n);
  }
  // dL/d(pre_l): for the identity it is the upstream gradient itself.
  template <class Backend>
  static MatrixView<T> pre_gradient(workspace<Backend>& ws, std::size_t l, index_t n) {
    if constexpr (Activation::is_identity) {
      return upstream(ws, l, n);
    } else {
      return ws.delta_.matrix(ws.widths_[l], n);
    }
  }
  template <class Backend>
  static MatrixView<T> pre_tangent(workspace<Backend>& ws, std::size_t l, index_t n) {
    return ws.pre_tangent_[l].matrix(ws.widths_[l], n);
  }
  template <class Backend>
  static MatrixView<T> post_tangent(workspace<Backend>& ws, std::size_t l, index_t n) {
    if constexpr (Activation::is_identity) {
      return ws.pre_tangent_[l].matrix(ws.widths_[l], n);
    } else {
      return ws.post_tangent_[l].matrix(ws.widths_[l], n);
    }
  }
  // The tangent of a = f(z) is f'(z) z_tangent: activation_backward applied to the tangent.
  template <class Backend>
  static void activate_tangent(typename Backend::context& ctx, workspace<Backend>& ws, std::size_t l, index_t n) {
    if constexpr (!Activation::is_identity) {
      Backend::template activation_backward<Activation, T>(ctx, as_const(hidden_pre(ws, l, n)),
                                                           as_const(hidden_post(ws, l, n)),
                                                           as_const(pre_tangent(ws, l, n)), post_tangent(ws, l, n));
    }
  }
  template <class Backend>
  void reserve_tangents(workspace<Backend>& ws) const {
    const index_t capacity = std::max<index_t>(ws.capacity_, 1);
    for (std::size_t l = 0; l < hidden_.size(); ++l) {
      ws.pre_tangent_[l].resize(hidden_[l] * capacity);
      if constexpr (!Activation::is_identity) {
        ws.post_tangent_[l].resize(hidden_[l] * capacity);
      }
    }
    ws.rewards_tangent_.resize(capacity);
    ws.d_rewards_tangent_.resize(capacity);
    ws.delta_tangent_[0].resize(ws.max_width_ * capacity);
    ws.delta_tangent_[1].resize(ws.max_width_ * capacity);
    ws.tangent_capacity_ = capacity;
  }
  template <class Backend>
  static void activate(typename Backend::context& ctx, workspace<Backend>& ws, std::size_t l, index_t n) {
    if constexpr (!Activation::is_identity) {
      Backend::template activation_forward<Activation, T>(ctx, as_const(hidden_pre(ws, l, n)), hidden_post(ws, l, n));
    }
  }

  index_t input_dim_ = 0;
  std::vector<index_t> hidden_;
  Layout layout_;
  std::vector<Dense<T>> layers_;
};

// A linear reward model r(x) = w . x + b.
template <class T = float>
using LinearModel = Mlp<Identity, T>;

}  // namespace metarm
