// SPDX-License-Identifier: Apache-2.0
/// \file
/// The fully connected layer: y = W x + b, W outputs x inputs (column-major, as PyTorch's nn.Linear stores
/// it transposed), b outputs. It reaches its input only through input_product and accumulate_weight_gradient
/// (and write_weight_gradient), overloaded on the input type, so sparse inputs (sparse_input.hpp) add
/// overloads instead of a second layer.
#pragma once

#include <cmath>
#include <span>
#include <string>
#include <type_traits>

#include "metarm/backend/transpose.hpp"
#include "metarm/backend/views.hpp"
#include "metarm/core/error.hpp"
#include "metarm/core/rng.hpp"
#include "metarm/layer/layer.hpp"
#include "metarm/params/layout.hpp"

namespace metarm {

/// z = W x for a dense input x.
template <class Backend, class T>
void input_product(typename Backend::context& ctx, MatrixView<const T> weight, MatrixView<const T> x, MatrixView<T> z) {
  Backend::gemm(ctx, Trans::no, Trans::no, T(1), weight, x, T(0), z);
}

/// dW += dz x^T for a dense input x.
template <class Backend, class T>
void accumulate_weight_gradient(typename Backend::context& ctx, MatrixView<const T> dz, MatrixView<const T> x,
                                MatrixView<T> d_weight) {
  Backend::gemm(ctx, Trans::no, Trans::yes, T(1), dz, x, T(1), d_weight);
}

/// dW = dz x^T: a dense input's product writes over dW; another input type clears dW and accumulates into it.
template <class Backend, class T, class Input>
void write_weight_gradient(typename Backend::context& ctx, MatrixView<const T> dz, const Input& x,
                           MatrixView<T> d_weight) {
  if constexpr (std::is_same_v<Input, MatrixView<const T>> || std::is_same_v<Input, MatrixView<T>>) {
    Backend::gemm(ctx, Trans::no, Trans::yes, T(1), dz, MatrixView<const T>(x), T(0), d_weight);
  } else {
    Backend::fill(ctx, d_weight.flat(), T(0));
    accumulate_weight_gradient<Backend, T>(ctx, dz, x, d_weight);
  }
}

/// A fully connected layer, y = W x + b, on a dense or a sparse input.
template <class T>
class Dense {
 public:
  /// The scalar type of its parameters.
  using scalar_type = T;
  /// No workspace: the passes read only x, y and the upstream gradients.
  template <class Backend, class U>
  using workspace = NoWorkspace;

  /// A layer without a width, which cannot be built; construct it as Dense(outputs).
  Dense() = default;

  /// A layer of `outputs` units whose input width is set when it is built into a model.
  explicit Dense(index_t outputs) : outputs_(outputs) {
    METARM_REQUIRE(outputs > 0, "Dense", "argument 'outputs' must be > 0, got {}", outputs);
  }

  /// Builds at once: registers "<name>.weight" (outputs x inputs) and "<name>.bias" (outputs) in `layout`.
  Dense(Layout& layout, const std::string& name, index_t inputs, index_t outputs) : Dense(outputs) {
    build(layout, name, inputs);
  }

  /// Registers "<name>.weight" (outputs x inputs) and "<name>.bias" (outputs) and returns the output width.
  index_t build(Layout& layout, const std::string& name, index_t inputs) {
    METARM_REQUIRE(inputs > 0, "Dense " + name, "argument 'inputs' must be > 0, got {}", inputs);
    METARM_REQUIRE(outputs_ > 0, "Dense " + name, "the layer has no width; construct it as Dense(outputs)");
    inputs_ = inputs;
    weight_offset_ = layout.add(join_name(name, "weight"), outputs_, inputs);
    bias_offset_ = layout.add(join_name(name, "bias"), outputs_, 1);
    return outputs_;
  }

  /// The input width that build() was given.
  index_t inputs() const { return inputs_; }
  /// The number of units.
  index_t outputs() const { return outputs_; }
  /// The number of units, the width of y.
  index_t output_width() const { return outputs_; }
  /// outputs x (inputs + 1).
  index_t parameter_count() const { return outputs_ * (inputs_ + 1); }
  /// "dense(outputs)".
  std::string describe() const { return fmt::format("dense({})", outputs_); }

  /// W within a flat vector laid out as the model's parameters (parameters, a gradient or a direction).
  template <class P>
  MatrixView<P> weight(VectorView<P> params) const {
    return {params.data + weight_offset_, outputs_, inputs_, outputs_};
  }
  /// b within a flat vector laid out as the model's parameters (parameters, a gradient or a direction).
  template <class P>
  VectorView<P> bias(VectorView<P> params) const {
    return {params.data + bias_offset_, outputs_};
  }

  /// PyTorch's nn.Linear default: W and b uniform in +-1/sqrt(inputs). params is host memory.
  void initialize(std::span<T> params, Rng& rng) const {
    const double bound = 1.0 / std::sqrt(static_cast<double>(inputs_));
    for (index_t i = 0; i < outputs_ * inputs_; ++i) {
      params[static_cast<std::size_t>(weight_offset_ + i)] = static_cast<T>(rng.uniform(-bound, bound));
    }
    for (index_t i = 0; i < outputs_; ++i) {
      params[static_cast<std::size_t>(bias_offset_ + i)] = static_cast<T>(rng.uniform(-bound, bound));
    }
  }

  /// Nothing to reserve.
  template <class Backend, class U>
  void reserve(NoWorkspace&, index_t, bool) const {}

  /// y = W x + b
  template <class Backend, class Input>
  void forward(typename Backend::context& ctx, VectorView<const T> params, const Input& x, MatrixView<T> y,
               NoWorkspace&) const {
    input_product<Backend, T>(ctx, weight(params), x, y);
    Backend::add_to_columns(ctx, bias(params), y);
  }

  /// grad(W) += dy x^T, grad(b) += sum of dy's columns (= for both with GradientWrite::overwrite), and
  /// dx = W^T dy unless dx is empty.
  template <class Backend, class Input>
  void backward(typename Backend::context& ctx, VectorView<const T> params, const Input& x, MatrixView<const T>,
                MatrixView<const T> dy, VectorView<T> grad, MatrixView<T> dx, NoWorkspace&,
                GradientWrite write = GradientWrite::accumulate) const {
    if (write == GradientWrite::overwrite) {
      write_weight_gradient<Backend, T>(ctx, dy, x, weight(grad));
      Backend::fill(ctx, bias(grad), T(0));
    } else {
      accumulate_weight_gradient<Backend, T>(ctx, dy, x, weight(grad));
    }
    Backend::accumulate_column_sum(ctx, dy, bias(grad));
    if (!dx.empty()) {
      Backend::gemm(ctx, Trans::yes, Trans::no, T(1), weight(params), dy, T(0), dx);
    }
  }

  // ---- forward-over-reverse (R-op) passes for exact Hessian-vector products ----------------------------
  // A direction v in parameter space has the params' layout; V and v_b are its blocks for this layer.

  /// y_t = V x + v_b + W x_t
  template <class Backend, class Input>
  void forward_tangent(typename Backend::context& ctx, VectorView<const T> params, VectorView<const T> v,
                       const Input& x, MatrixView<const T> x_t, MatrixView<const T>, MatrixView<T> y_t,
                       NoWorkspace&) const {
    input_product<Backend, T>(ctx, weight(v), x, y_t);
    Backend::add_to_columns(ctx, bias(v), y_t);
    if (!x_t.empty()) {
      Backend::gemm(ctx, Trans::no, Trans::no, T(1), weight(params), x_t, T(1), y_t);
    }
  }

  /// The directional derivative of backward: with dy and its directional derivative dy_t,
  ///   hv(W) += dy_t x^T + dy x_t^T,   hv(b) += sum of dy_t's columns,
  ///   dx = W^T dy and dx_t = V^T dy + W^T dy_t, each unless empty. (A dense layer keeps no gradients
  ///   inside, so `recompute` asks nothing more of it.)
  template <class Backend, class Input>
  void backward_tangent(typename Backend::context& ctx, VectorView<const T> params, VectorView<const T> v,
                        const Input& x, MatrixView<const T> x_t, MatrixView<const T>, MatrixView<const T>,
                        MatrixView<const T> dy, MatrixView<const T> dy_t, VectorView<T> hv, MatrixView<T> dx,
                        MatrixView<T> dx_t, NoWorkspace&, bool = true) const {
    accumulate_weight_gradient<Backend, T>(ctx, dy_t, x, weight(hv));
    if (!x_t.empty()) {
      Backend::gemm(ctx, Trans::no, Trans::yes, T(1), dy, x_t, T(1), weight(hv));
    }
    Backend::accumulate_column_sum(ctx, dy_t, bias(hv));
    if (!dx.empty()) {
      Backend::gemm(ctx, Trans::yes, Trans::no, T(1), weight(params), dy, T(0), dx);
    }
    if (!dx_t.empty()) {
      Backend::gemm(ctx, Trans::yes, Trans::no, T(1), weight(v), dy, T(0), dx_t);
      Backend::gemm(ctx, Trans::yes, Trans::no, T(1), weight(params), dy_t, T(1), dx_t);
    }
  }

 private:
  index_t inputs_ = 0;
  index_t outputs_ = 0;
  index_t weight_offset_ = 0;
  index_t bias_offset_ = 0;
};

}  // namespace metarm
