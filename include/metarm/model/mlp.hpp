// SPDX-License-Identifier: Apache-2.0
/// \file
/// The multilayer perceptron reward model with runtime widths:
/// \code
///   Mlp<ReLU>(d, {h1, h2}) = Dense(d, h1) -> ReLU -> Dense(h1, h2) -> ReLU -> Dense(h2, 1)
/// \endcode
/// with any number of hidden layers (none gives a linear model). Its body is a Repeat of Dense -> Activation
/// stages and a ScalarHead, run by the same generic loops as any Sequential model.
///
/// Block names: "hidden.<l>.weight", "hidden.<l>.bias" for hidden layer l, then "head.weight", "head.bias".
#pragma once

#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "metarm/backend/views.hpp"
#include "metarm/core/error.hpp"
#include "metarm/core/rng.hpp"
#include "metarm/layer/activation.hpp"
#include "metarm/layer/chain.hpp"
#include "metarm/layer/dense.hpp"
#include "metarm/layer/layer.hpp"
#include "metarm/layer/repeat.hpp"
#include "metarm/layer/scalar_head.hpp"
#include "metarm/model/reward_network.hpp"
#include "metarm/params/layout.hpp"

namespace metarm {

/// The layers of an Mlp: a run of hidden stages, possibly empty, then the head. The one thing it adds to a
/// Chain is that the run may be empty, in which case the head reads the input itself (a sparse one too).
template <class Activation, class T>
class MlpBody {
 public:
  /// The scalar type of the parameters.
  using scalar_type = T;
  /// An identity activation needs no layer of its own: a hidden stage is then one Dense layer.
  using stage_type = std::conditional_t<Activation::is_identity, Dense<T>, Chain<Dense<T>, Activation>>;

  /// The hidden stages' workspaces and the tensors at the head's input.
  template <class Backend, class U>
  struct workspace {
    /// The backend buffer type that holds the tensors.
    using buffer = typename Backend::template buffer<T>;
    /// The hidden stages' own workspaces.
    layer_workspace_t<Repeat<stage_type>, Backend, T> hidden;
    /// The head keeps nothing.
    NoWorkspace head;
    buffer out;  ///< the last hidden stage's output, the head's input, and what goes with it
    /// The gradient with respect to the last hidden stage's output.
    buffer grad;
    /// The tangent of that output.
    buffer out_tangent;
    /// The tangent of that gradient.
    buffer grad_tangent;
  };

  /// No hidden stages: the head reads the input itself, as in a linear model.
  MlpBody() = default;
  /// One hidden stage of each width, in order; throws when a width is not positive.
  explicit MlpBody(const std::vector<index_t>& widths) {
    std::vector<stage_type> stages;
    for (std::size_t l = 0; l < widths.size(); ++l) {
      METARM_REQUIRE(widths[l] > 0, "Mlp",
                     "argument 'hidden[{}]' must be > 0, got {}", l, widths[l]);
      if constexpr (Activation::is_identity) {
        stages.emplace_back(widths[l]);
      } else {
        stages.emplace_back(Dense<T>(widths[l]), Activation{});
        stages.back().name_layers({"", "activation"});
      }
    }
    hidden_ = Repeat<stage_type>(std::move(stages));
  }

  /// Builds the hidden stages under "<name>.hidden" and the head under "<name>.head"; returns 1.
  index_t build(Layout& layout, const std::string& name, index_t input_width) {
    width_ = hidden_.empty() ? input_width : hidden_.build(layout, join_name(name, "hidden"), input_width);
    return head_.build(layout, join_name(name, "head"), width_);
  }

  /// 1: the head's single output.
  index_t output_width() const { return 1; }
  /// "mlp_body".
  std::string describe() const { return "mlp_body"; }
  /// The hidden stages.
  const Repeat<stage_type>& hidden() const { return hidden_; }
  /// The head.
  const ScalarHead<T>& head() const { return head_; }

  /// Initialises the hidden stages', then the head's blocks.
  void initialize(std::span<T> params, Rng& rng) const {
    if (!hidden_.empty()) hidden_.initialize(params, rng);
    head_.initialize(params, rng);
  }

  /// Grows the hidden stages' tensors and workspaces for `columns` columns (and tangents).
  template <class Backend, class U>
  void reserve(workspace<Backend, U>& ws, index_t columns, bool tangents) const {
    if (hidden_.empty()) return;
    const index_t size = width_ * columns;
    grow_to(ws.out, size);
    grow_to(ws.grad, size);
    if (tangents) {
      grow_to(ws.out_tangent, size);
      grow_to(ws.grad_tangent, size);
    }
    hidden_.template reserve<Backend, T>(ws.hidden, columns, tangents);
  }

  /// The hidden stages, then the head; the head reads the input itself when there are none.
  template <class Backend, class Input>
  void forward(typename Backend::context& ctx, VectorView<const T> params, const Input& x, MatrixView<T> y,
               workspace<Backend, T>& ws) const {
    if (hidden_.empty()) {
      head_.template forward<Backend>(ctx, params, x, y, ws.head);
      return;
    }
    const MatrixView<T> h = ws.out.matrix(width_, x.cols);
    hidden_.template forward<Backend>(ctx, params, x, h, ws.hidden);
    head_.template forward<Backend>(ctx, params, as_const(h), y, ws.head);
  }

  /// The head's backward pass, then the hidden stages'.
  template <class Backend, class Input>
  void backward(typename Backend::context& ctx, VectorView<const T> params, const Input& x, MatrixView<const T> y,
                MatrixView<const T> dy, VectorView<T> grad, MatrixView<T> dx, workspace<Backend, T>& ws,
                GradientWrite write) const {
    if (hidden_.empty()) {
      head_.template backward<Backend>(ctx, params, x, y, dy, grad, dx, ws.head, write);
      return;
    }
    const index_t n = x.cols;
    const MatrixView<T> h = ws.out.matrix(width_, n), dh = ws.grad.matrix(width_, n);
    head_.template backward<Backend>(ctx, params, as_const(h), y, dy, grad, dh, ws.head, write);
    hidden_.template backward<Backend>(ctx, params, x, as_const(h), as_const(dh), grad, dx, ws.hidden, write);
  }

  /// The hidden stages' forward tangent pass, then the head's.
  template <class Backend, class Input>
  void forward_tangent(typename Backend::context& ctx, VectorView<const T> params, VectorView<const T> v,
                       const Input& x, MatrixView<const T> x_t, MatrixView<const T> y, MatrixView<T> y_t,
                       workspace<Backend, T>& ws) const {
    if (hidden_.empty()) {
      head_.template forward_tangent<Backend>(ctx, params, v, x, x_t, y, y_t, ws.head);
      return;
    }
    const index_t n = x.cols;
    const MatrixView<T> h = ws.out.matrix(width_, n), h_t = ws.out_tangent.matrix(width_, n);
    hidden_.template forward_tangent<Backend>(ctx, params, v, x, x_t, as_const(h), h_t, ws.hidden);
    head_.template forward_tangent<Backend>(ctx, params, v, as_const(h), as_const(h_t), y, y_t, ws.head);
  }

  /// The head's backward tangent pass, then the hidden stages'.
  template <class Backend, class Input>
  void backward_tangent(typename Backend::context& ctx, VectorView<const T> params, VectorView<const T> v,
                        const Input& x, MatrixView<const T> x_t, MatrixView<const T> y, MatrixView<const T> y_t,
                        MatrixView<const T> dy, MatrixView<const T> dy_t, VectorView<T> hv, MatrixView<T> dx,
                        MatrixView<T> dx_t, workspace<Backend, T>& ws, bool recompute) const {
    if (hidden_.empty()) {
      head_.template backward_tangent<Backend>(ctx, params, v, x, x_t, y, y_t, dy, dy_t, hv, dx, dx_t, ws.head,
                                               recompute);
      return;
    }
    const index_t n = x.cols;
    const MatrixView<T> h = ws.out.matrix(width_, n), h_t = ws.out_tangent.matrix(width_, n);
    const MatrixView<T> dh = ws.grad.matrix(width_, n), dh_t = ws.grad_tangent.matrix(width_, n);
    head_.template backward_tangent<Backend>(ctx, params, v, as_const(h), as_const(h_t), y, y_t, dy, dy_t, hv,
                                             recompute ? dh : MatrixView<T>{}, dh_t, ws.head, recompute);
    hidden_.template backward_tangent<Backend>(ctx, params, v, x, x_t, as_const(h), as_const(h_t), as_const(dh),
                                               as_const(dh_t), hv, dx, dx_t, ws.hidden, recompute);
  }

 private:
  Repeat<stage_type> hidden_;
  ScalarHead<T> head_;
  index_t width_ = 0;  // the head's input width
};

/// The multilayer perceptron reward model: Activation between hidden Dense layers of runtime widths, then a ScalarHead.
template <class Activation, class T = float>
class Mlp : public RewardNetwork<MlpBody<Activation, T>> {
 public:
  /// The activation between hidden layers.
  using activation_type = Activation;

  /// An empty model, to be assigned a built one.
  Mlp() = default;
  /// A model of `input_dim` features with one hidden layer per entry of `hidden` (none: a linear model).
  Mlp(index_t input_dim, std::vector<index_t> hidden = {})
      : RewardNetwork<MlpBody<Activation, T>>(input_dim, MlpBody<Activation, T>(hidden), description_of(input_dim, hidden)),
        hidden_(std::move(hidden)) {}

  /// The hidden layers' widths, as given.
  const std::vector<index_t>& hidden_sizes() const { return hidden_; }
  /// "mlp<activation>(input_dim,hidden...,1)", which checkpoints compare to know the model.
  using RewardNetwork<MlpBody<Activation, T>>::describe;

 private:
  // A one-line description that, with the layout, lets a checkpoint reader rebuild the model.
  static std::string description_of(index_t input_dim, const std::vector<index_t>& hidden) {
    std::string text = fmt::format("mlp<{}>({}", Activation::name, input_dim);
    for (index_t h : hidden) {
      text += fmt::format(",{}", h);
    }
    return text + ",1)";
  }

  std::vector<index_t> hidden_;
};

/// A linear reward model r(x) = w . x + b.
template <class T = float>
using LinearModel = Mlp<Identity, T>;

}  // namespace metarm
